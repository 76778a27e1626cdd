package engine

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/internal/pgtest"
)

// Tests for survivors of the mutation run (scripts/mutate) that need the
// engine's internals against a real server: the WAL sizes the replica
// checker learns on its first check, and commit resolution's lookups of a
// transaction id not yet issued, still in progress, or asked of a server
// in recovery.

// openInternal opens a DB on rawURL (a database of the test server) with
// edit applied to its configuration.
func openInternal(t *testing.T, rawURL string, edit func(*config.Config)) *DB {
	t.Helper()
	cfg, err := config.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Retry = config.Retry{InitialDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	f, err := NewFactory(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	db, err := f.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestCheckOnceLearnsWalSizes: the checker's first check reads the
// primary's WAL page and segment sizes and data alignment (as the server
// reports them) and takes a sample of its WAL position; a later check
// keeps them.
func TestCheckOnceLearnsWalSizes(t *testing.T) {
	t.Parallel()
	d := pgtest.NewDatabase(t)
	db := openInternal(t, d.URL, nil)
	rs := &replicaSet{primary: db, cfg: config.Replicas{MaxLag: time.Hour, CheckPeriod: time.Second}, stop: make(chan struct{})}
	var block, segment, align uint64
	if err := db.pool.QueryRow(context.Background(), walSizesSQL).Scan(&block, &segment, &align); err != nil {
		t.Fatal(err)
	}
	if block == 0 || segment == 0 || align == 0 {
		t.Fatalf("the server reports sizes %d, %d, %d", block, segment, align)
	}
	for i := range 2 {
		rs.checkOnce()
		if rs.walBlock.Load() != block || rs.walSegment.Load() != segment || rs.maxAlign.Load() != align || len(rs.samples) != i+1 {
			t.Fatalf("after check %d: sizes %d, %d, %d (want %d, %d, %d), %d samples", i+1,
				rs.walBlock.Load(), rs.walSegment.Load(), rs.maxAlign.Load(), block, segment, align, len(rs.samples))
		}
	}
}

// committedXid commits a transaction that wrote a row on db and returns
// its id and the history captured just before its COMMIT, as commit does.
func committedXid(t *testing.T, db *DB) (uint64, history) {
	t.Helper()
	var xid *string
	var then history
	err := db.WithTx(context.Background(), TxOptions{}, func(ctx context.Context, tx *Tx) error {
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS t (id int)"); err != nil {
			return err
		}
		return tx.conn.QueryRow(ctx, captureSQL).Scan(&xid, &then.sysID, &then.timeline, &then.started, &then.statsReset, &then.at)
	})
	if err != nil || xid == nil {
		t.Fatalf("capture: %v, %v", xid, err)
	}
	n, err := strconv.ParseUint(*xid, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n, then
}

// TestLookupFutureXid: a transaction id the server has not issued yet
// (pg_xact_status refuses it with 22023) is not yet issued on the same
// history: unknown, never an error; after a crash (another statistics
// epoch) it proves the transaction was lost, so it is reported aborted
// and the call may be retried.
func TestLookupFutureXid(t *testing.T) {
	t.Parallel()
	d := pgtest.NewDatabase(t)
	db := openInternal(t, d.URL, func(c *config.Config) { c.Retry.ResolveBudget = 5 * time.Second })
	ctx := context.Background()
	xid, then := committedXid(t, db)
	if v, why, err := db.lookup(ctx, xid, then); v != outcomeCommitted || err != nil {
		t.Fatalf("committed id: %v %q %v", v, why, err)
	}
	future := xid + 1_000_000
	v, why, err := db.lookup(ctx, future, then)
	if v != outcomeUnknown || err != nil || !strings.Contains(why, "not yet issued on the same history") {
		t.Fatalf("future id, same history: %v %q %v", v, why, err)
	}
	cause := errors.New("connection lost")
	retryable, err := db.resolve(ctx, strconv.FormatUint(future, 10), then, cause)
	if retryable || !errors.Is(err, dberr.ErrCommitUnknown) || !errors.Is(err, cause) || !strings.Contains(err.Error(), "not yet issued") {
		t.Fatalf("resolve, same history: %v, %v", retryable, err)
	}
	crashed := then
	other := then.at.Add(-time.Hour)
	crashed.statsReset = &other
	if v, why, err := db.lookup(ctx, future, crashed); v != outcomeAborted || err != nil || !strings.Contains(why, "lost in a crash") {
		t.Fatalf("future id after a crash: %v %q %v", v, why, err)
	}
	retryable, err = db.resolve(ctx, strconv.FormatUint(future, 10), crashed, cause)
	if !retryable || !errors.Is(err, errTxAborted) || !errors.Is(err, dberr.ErrConnection) || errors.Is(err, dberr.ErrCommitUnknown) {
		t.Fatalf("resolve after a crash: %v, %v", retryable, err)
	}
	// With the caller's context ended the verdict stands, but the call is
	// not to be retried.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if retryable, err := db.resolve(cctx, strconv.FormatUint(future, 10), crashed, cause); retryable || !errors.Is(err, errTxAborted) {
		t.Fatalf("resolve after a crash, context ended: %v, %v", retryable, err)
	}
}

// gaveUp reports whether err is resolution giving up when
// Retry.ResolveBudget (300ms) ran out: while it waited to ask again after
// the answer why, or while it was asking (the budget's deadline then ends
// the lookup). An answer it gives up on at once says neither.
func gaveUp(err error, why string) bool {
	msg := err.Error()
	return strings.Contains(msg, why+"; gave up after 300ms") || strings.Contains(msg, "deadline exceeded")
}

// TestResolveInProgressGivesUp: a transaction that stays in progress
// (held open on another connection) is asked about again until
// Retry.ResolveBudget runs out; the outcome is then unknown, and says so.
func TestResolveInProgressGivesUp(t *testing.T) {
	t.Parallel()
	d := pgtest.NewDatabase(t)
	db := openInternal(t, d.URL, func(c *config.Config) { c.Retry.ResolveBudget = 300 * time.Millisecond })
	ctx := context.Background()
	_, then := committedXid(t, db)
	conn, err := pgx.Connect(ctx, d.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var open string
	if err := tx.QueryRow(ctx, "SELECT pg_current_xact_id()::text").Scan(&open); err != nil {
		t.Fatal(err)
	}
	retryable, err := db.resolve(ctx, open, then, errors.New("connection lost"))
	if retryable || !errors.Is(err, dberr.ErrCommitUnknown) || !gaveUp(err, "still in progress") {
		t.Fatalf("resolve of a transaction in progress: %v, %v", retryable, err)
	}
}

// TestResolveOnServerInRecovery: asked of a server in recovery (the test
// package's standby), a lookup answers errRecovering, which resolution
// waits out until Retry.ResolveBudget; the outcome is then unknown, and
// says why.
func TestResolveOnServerInRecovery(t *testing.T) {
	t.Parallel()
	_, standby, err := pgtest.Replicated()
	if err != nil {
		t.Fatal(err)
	}
	db := openInternal(t, standby.URL("postgres"), func(c *config.Config) { c.Retry.ResolveBudget = 300 * time.Millisecond })
	ctx := context.Background()
	var then history
	if err := db.pool.QueryRow(ctx, "SELECT "+historySQL).Scan(&then.sysID, &then.timeline, &then.started, &then.statsReset); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.lookup(ctx, 1000, then); !errors.Is(err, errRecovering) {
		t.Fatalf("lookup on a standby: %v", err)
	}
	retryable, err := db.resolve(ctx, "1000", then, errors.New("connection lost"))
	if retryable || !errors.Is(err, dberr.ErrCommitUnknown) || !gaveUp(err, "in recovery") {
		t.Fatalf("resolve on a standby: %v, %v", retryable, err)
	}
}

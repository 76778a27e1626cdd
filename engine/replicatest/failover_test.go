package replicatest_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgcluster"
	"github.com/uno-db/uno/internal/pgproxy"
)

// TestFailover is a failover to a promoted standby that the configuration
// lists as a second primary candidate (two hosts, target_session_attrs =
// read-write), on a primary and standby of its own (the primary is
// crashed):
//
//  1. a transaction's COMMIT is held in a proxy in front of the old
//     primary; the standby, whose WAL receiver was cut first, never saw the
//     transaction; the standby is promoted and hands the same transaction
//     id to another transaction, which commits on the new timeline; the
//     old primary crashes, the held connection drops, and the old
//     primary's address (the proxy's) moves to the new primary, as a
//     virtual IP or DNS name that follows the primary would. Resolution,
//     which asks the address the connection reached, now reaches the new
//     primary there and must answer ErrCommitUnknown, never "committed"
//     (which is what pg_xact_status says there).
//  2. the address goes dead; writes through the same DB then reach the
//     new primary as the second host of the configuration.
func TestFailover(t *testing.T) {
	ctx := context.Background()
	old, err := pgcluster.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(old.Destroy)
	next, err := pgcluster.NewStandby(old)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(next.Destroy)
	proxy, err := pgproxy.New("127.0.0.1:" + strconv.Itoa(old.Port()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)

	exec := func(c *pgcluster.Cluster, sql string, args ...any) {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	scalar := func(c *pgcluster.Cluster, sql string, args ...any) string {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var s *string
		if err := conn.QueryRow(ctx, sql, args...).Scan(&s); err != nil {
			t.Fatal(err)
		}
		if s == nil {
			return ""
		}
		return *s
	}
	exec(old, `CREATE TABLE "fail""over" (id int PRIMARY KEY, who text NOT NULL)`)

	// The standby is both a replica and the second primary candidate.
	dsn := fmt.Sprintf("postgres://postgres@%s:%d,127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write"+
		"&replicas=127.0.0.1:%d&replica_max_lag=1s&replica_check_period=100ms&replica_wait_budget=200ms",
		proxy.Host(), proxy.Port(), next.Port(), next.Port())
	cfg, err := config.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams = map[string]string{"synchronous_commit": "on"}
	cfg.Retry = config.Retry{InitialDelay: 5 * time.Millisecond, MaxDelay: 100 * time.Millisecond,
		MaxElapsed: 20 * time.Second, ResolveBudget: 10 * time.Second}
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	db, err := f.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	insert := func(id int, who string) func(context.Context, *engine.Tx) error {
		return func(ctx context.Context, tx *engine.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO "fail""over" (id, who) VALUES ($1, $2)`, id, who)
			return err
		}
	}
	tctx := engine.TrackWrites(ctx)
	if err := db.WithTx(tctx, engine.TxOptions{}, insert(1, "before")); err != nil {
		t.Fatal(err)
	}
	// read reports whether a read-your-writes read sees row id, and
	// whether it ran on a server in recovery.
	read := func(ctx context.Context, id int) (found, standby bool) {
		t.Helper()
		err := db.WithTx(ctx, engine.TxOptions{ReadOnly: true, Consistency: engine.ReadYourWrites},
			func(ctx context.Context, tx *engine.Tx) error {
				return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM "fail""over" WHERE id = $1), pg_is_in_recovery()`, id).
					Scan(&found, &standby)
			})
		if err != nil {
			t.Fatal(err)
		}
		return found, standby
	}
	if found, standby := read(tctx, 1); !found || !standby {
		t.Fatalf("replica read before the failover: found %v, on the standby %v; %+v", found, standby, db.ReplicaStats())
	}
	stat := func() engine.ReplicaStat { return db.ReplicaStats().Replicas[0] }
	tlBefore := stat().Timeline

	// The standby has everything so far, then hears no more.
	waitFor(t, "the standby to replay the primary's WAL", func() bool {
		lsn := scalar(old, "SELECT pg_current_wal_insert_lsn()::text")
		return scalar(next, "SELECT (pg_last_wal_replay_lsn() >= $1::pg_lsn)::text", lsn) == "true"
	})
	if err := next.CutReceiver(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the standby's WAL receiver to stop", func() bool {
		return scalar(next, "SELECT count(*)::text FROM pg_stat_wal_receiver") == "0"
	})

	proxy.SetRule(pgproxy.Once(pgproxy.Message.IsCommit, pgproxy.Hold))
	done := make(chan error, 1)
	go func() { done <- db.WithTx(ctx, engine.TxOptions{}, insert(2, "lost")) }()
	var held pgproxy.Held
	select {
	case held = <-proxy.Held():
	case err := <-done:
		t.Fatalf("the transaction ended before its COMMIT was held: %v", err)
	}
	xid, err := strconv.ParseUint(scalar(old, "SELECT backend_xid::text FROM pg_stat_activity WHERE backend_xid IS NOT NULL"), 10, 64)
	if err != nil {
		held.CutBefore()
		t.Fatal(err)
	}

	// Promote, and commit transactions on the new timeline until one has
	// the held transaction's id.
	if err := next.Promote(); err != nil {
		held.CutBefore()
		t.Fatal(err)
	}
	var reused uint64
	for id := 1000; reused < xid; id++ {
		v := scalar(next, `INSERT INTO "fail""over" (id, who) VALUES ($1, 'new timeline') RETURNING pg_current_xact_id()::text`, id)
		if reused, err = strconv.ParseUint(v, 10, 64); err != nil {
			held.CutBefore()
			t.Fatal(err)
		}
		if id > 1000+10000 {
			held.CutBefore()
			t.Fatalf("the new primary did not reach transaction id %d", xid)
		}
	}
	if st := scalar(next, "SELECT pg_xact_status($1::xid8)", strconv.FormatUint(xid, 10)); st != "committed" {
		held.CutBefore()
		t.Fatalf("transaction id %d on the new timeline is %q, want committed (ids reused up to %d)", xid, st, reused)
	}

	// The old primary crashes with the COMMIT unsent; the client's
	// connection drops, and the old primary's address (the proxy's) now
	// leads to the new primary. Resolution retries while the address
	// refuses.
	if err := old.StopMode(pgcluster.Immediate); err != nil {
		held.CutBefore()
		t.Fatal(err)
	}
	addr := proxy.Addr()
	held.CutBefore()
	proxy.Close()
	moved := newTripCounterAt(t, addr, "127.0.0.1:"+strconv.Itoa(next.Port()))
	err = <-done
	t.Logf("transaction %d, id reused and committed on the new timeline: %v", xid, err)
	if err == nil {
		t.Fatal("the lost transaction was reported committed")
	}
	if !errors.Is(err, dberr.ErrCommitUnknown) {
		t.Errorf("want ErrCommitUnknown, got %v", err)
	}
	if moved.accepted.Load() == 0 {
		t.Error("resolution never reached the new primary at the old primary's address")
	}
	moved.close()

	// The checker saw the promotion and the new timeline: the server is
	// no longer used as a replica.
	waitFor(t, "the checker to see the promotion", func() bool { return stat().Promoted })
	if st := stat(); st.Healthy || st.Timeline <= tlBefore {
		t.Errorf("replica after promotion: %+v (timeline before %d)", st, tlBefore)
	}

	// New writes through the same DB reach the new primary, and
	// read-your-writes reads, with no replica left, run there and see them.
	for i := range 5 {
		if err := db.WithTx(tctx, engine.TxOptions{Retry: true}, insert(10+i, "after")); err != nil {
			t.Fatalf("write %d after the failover: %v", i, err)
		}
		reads := stat().Reads
		if found, standby := read(tctx, 10+i); !found || standby || stat().Reads != reads {
			t.Errorf("read %d after the failover: found %v, on a standby %v, replica reads %d → %d", i, found, standby, reads, stat().Reads)
		}
	}
	if n := scalar(next, `SELECT count(*)::text FROM "fail""over" WHERE who = 'after'`); n != "5" {
		t.Errorf("%s of 5 writes after the failover on the new primary", n)
	}
	if n := scalar(next, `SELECT count(*)::text FROM "fail""over" WHERE id = 2`); n != "0" {
		t.Errorf("the lost transaction's row is on the new primary")
	}
}

package engine_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

// Tests for branches of conn.go and factory.go the mutation run
// (scripts/mutate) found unchecked. Each decides its fault itself; none
// depends on timing.

// TestEndedConnRefusesEverything: every method of a Conn kept past its
// WithConn refuses with ErrEnded, without touching the connection (which
// may serve someone else by then).
func TestEndedConnRefusesEverything(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	ctx := context.Background()
	var kept *engine.Conn
	if err := db.WithConn(ctx, func(_ context.Context, c *engine.Conn) error { kept = c; return nil }); err != nil {
		t.Fatal(err)
	}
	_, err := kept.Exec(ctx, "SELECT 1")
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, engine.ErrEnded) || !errors.Is(err, pgx.ErrTxClosed) {
			t.Errorf("%s after the scope: %v", what, err)
		}
	}
	check("Exec", err)
	_, err = kept.Query(ctx, "SELECT 1")
	check("Query", err)
	var n int
	check("QueryRow", kept.QueryRow(ctx, "SELECT 1").Scan(&n))
	b := &pgx.Batch{}
	b.Queue("SELECT 1")
	br := kept.SendBatch(ctx, b)
	_, err = br.Exec()
	check("SendBatch", err)
	check("SendBatch Close", br.Close())
	_, err = kept.CopyFrom(ctx, pgx.Identifier{"item"}, []string{"id", "name"}, pgx.CopyFromRows([][]any{{1, "x"}}))
	check("CopyFrom", err)
	if got := countItems(t, e); got != 0 {
		t.Fatalf("%d rows reached the table", got)
	}
}

// TestQuerierOfAnotherDB: a context that carries one DB's connection or
// transaction gives another DB its own pool, never the first DB's
// connection; IsPool tells each DB's pool apart.
func TestQuerierOfAnotherDB(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db1 := e.open(nil)
	db2 := openOwn(t, e.cfg, engine.Options{})
	ctx := context.Background()
	if !db1.IsPool(db1.Querier(ctx)) || db2.IsPool(db1.Querier(ctx)) || db1.IsPool(db2.Querier(ctx)) {
		t.Fatal("IsPool does not tell the two pools apart")
	}
	err := db1.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		if q := db1.Querier(ctx); q != engine.Querier(c) || db1.IsPool(q) {
			t.Errorf("db1 inside its own WithConn: %T", q)
		}
		if q := db2.Querier(ctx); !db2.IsPool(q) {
			t.Errorf("db2 inside db1's WithConn: %T, want db2's pool", q)
		}
		if _, ok := db2.TxFromContext(ctx); ok {
			t.Error("db2 found a transaction in db1's WithConn")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db1.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		if q := db2.Querier(ctx); !db2.IsPool(q) {
			t.Errorf("db2 inside db1's WithTx: %T, want db2's pool", q)
		}
		if _, ok := db2.TxFromContext(ctx); ok {
			t.Error("db2 found db1's transaction")
		}
		if got, ok := db1.TxFromContext(ctx); !ok || got != tx {
			t.Error("db1 lost its own transaction")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// openOwn opens cfg through a factory of its own (a factory hands out one
// DB per server, database and user), closed with the test.
func openOwn(t *testing.T, cfg config.Config, opts engine.Options) *engine.DB {
	t.Helper()
	f, err := engine.NewFactory(opts)
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

// onMessage is a slog handler that runs fn on every record with message
// msg, before the logging call returns.
type onMessage struct {
	msg string
	fn  func()
}

func (h onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.fn()
	}
	return nil
}
func (h onMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h onMessage) WithGroup(string) slog.Handler      { return h }

// TestBorrowRidesRefusedConnect: the server refuses the login role
// (CONNECTION LIMIT 0, SQLSTATE 53300, a transient refusal) until the
// borrow has failed once and logged its retry; the borrow retries and
// succeeds within Retry.MaxElapsed. With the limit never lifted and a short
// MaxElapsed, it gives up with a connection error naming its attempts.
func TestBorrowRidesRefusedConnect(t *testing.T) {
	t.Parallel()
	var lift func()
	var retries atomic.Int32
	logger := slog.New(onMessage{msg: "uno: connect failed, retrying", fn: func() {
		if retries.Add(1) == 1 && lift != nil {
			lift()
		}
	}})
	e := newEnv(t, engine.Options{Logger: logger})
	login := quote.Ident(e.cfg.Roles.Login)
	lift = func() { pgtest.Exec(t, e.db.URL, "ALTER ROLE "+login+" CONNECTION LIMIT -1") }
	db := e.open(nil)
	db.Pool().Reset() // no idle connection: the borrow must connect
	pgtest.Exec(t, e.db.URL, "ALTER ROLE "+login+" CONNECTION LIMIT 0")
	ctx := context.Background()
	var user string
	err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		return c.QueryRow(ctx, "SELECT current_user").Scan(&user)
	})
	if err != nil || user != e.cfg.Roles.Login || retries.Load() < 1 {
		t.Fatalf("borrow: err %v, user %q, %d retries", err, user, retries.Load())
	}

	// Refused for good: a short MaxElapsed ends the retries.
	pgtest.Exec(t, e.db.URL, "ALTER ROLE "+login+" CONNECTION LIMIT 0")
	t.Cleanup(func() { pgtest.Exec(t, e.db.URL, "ALTER ROLE "+login+" CONNECTION LIMIT -1") })
	cfg := e.cfg
	cfg.Retry.MaxElapsed = 1
	short := openOwn(t, cfg, engine.Options{})
	short.Pool().Reset()
	err = short.WithConn(ctx, func(context.Context, *engine.Conn) error { return nil })
	if err == nil || !errors.Is(err, dberr.ErrConnection) || dberr.Code(err) != dberr.CodeTooManyConnections ||
		!strings.Contains(err.Error(), "attempts") || errors.Is(err, dberr.ErrPoolTimeout) {
		t.Fatalf("refused for good: %v", err)
	}

	// Refused while the caller's own deadline runs out: the error is the
	// caller's (with the server's refusal too when the deadline struck
	// during a backoff), said once.
	patient := openOwn(t, e.cfg, engine.Options{}) // Retry.MaxElapsed 10s
	patient.Pool().Reset()
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = patient.WithConn(cctx, func(context.Context, *engine.Conn) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, dberr.ErrPoolTimeout) ||
		!strings.Contains(err.Error(), "caller's context") || strings.Count(err.Error(), context.DeadlineExceeded.Error()) != 1 {
		t.Fatalf("refused until the caller's deadline: %v", err)
	}
}

// TestDeadConnectionsArePingedAfterOneIsFound: two idle connections whose
// backends were terminated; once a borrow has met a dead one, the pool
// pings before handing out the next, so the next borrow gets a live
// connection.
func TestDeadConnectionsArePingedAfterOneIsFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 2; c.ApplicationName = "pinged" })
	ctx := context.Background()
	// Two connections at once, so both go back to the pool idle.
	var wg sync.WaitGroup
	both := newBarrier(2)
	for range 2 {
		wg.Go(func() {
			if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
				both.wait(ctx)
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if db.Stat().IdleConns() != 2 {
		t.Fatalf("%d idle connections, want 2", db.Stat().IdleConns())
	}
	pgtest.Exec(t, e.db.URL,
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pinged'",
		// Wait for the backends to be gone.
		"DO $$ BEGIN WHILE EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pinged') LOOP PERFORM pg_sleep(0.01); PERFORM pg_stat_clear_snapshot(); END LOOP; END $$")
	// The first borrow may meet a dead connection (the pool pings only
	// connections idle for more than a second, or after one was found dead).
	first := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		_, err := c.Exec(ctx, "SELECT 1")
		return err
	})
	if first != nil && !errors.Is(first, dberr.ErrConnection) {
		t.Fatalf("first borrow: %v", first)
	}
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		_, err := c.Exec(ctx, "SELECT 1")
		return err
	}); err != nil {
		t.Fatalf("borrow after a dead connection was found (first: %v): %v", first, err)
	}
}

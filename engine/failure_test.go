package engine_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgproxy"
	"github.com/uno-db/uno/internal/pgtest"
)

// TestConnectionCutAroundCommit cuts the connection just before COMMIT is
// sent (the function reruns on a new connection) and just after (no blind
// retry: the outcome is resolved). Exactly one row exists each time.
func TestConnectionCutAroundCommit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		act      pgproxy.Action
		wantRuns int32
		maxConns int
	}{
		{"before", pgproxy.CutBefore, 2, 4},
		{"after", pgproxy.CutAfter, 1, 4},
		// With one connection, the lookup of the outcome needs the dead
		// connection to be given back first.
		{"after, pool of one", pgproxy.CutAfter, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine.Options{})
			proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
			db := e.open(func(c *config.Config) { c.Port = proxy.Port(); c.Pool.MaxConns = tc.maxConns })
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			proxy.SetRule(pgproxy.Once(pgproxy.Message.IsCommit, tc.act))
			var runs atomic.Int32
			err := db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Retry: true},
				func(ctx context.Context, tx *engine.Tx) error {
					runs.Add(1)
					_, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'once')")
					return err
				})
			if err != nil {
				t.Fatalf("WithTx: %v", err)
			}
			if proxy.Cuts() != 1 {
				t.Fatalf("proxy cut %d connections", proxy.Cuts())
			}
			if runs.Load() != tc.wantRuns {
				t.Fatalf("function ran %d times, want %d", runs.Load(), tc.wantRuns)
			}
			if n := countItems(t, e); n != 1 {
				t.Fatalf("%d rows, want exactly 1", n)
			}
		})
	}
}

// TestCommitLostWithoutRetry: without Retry, a connection lost before
// COMMIT is reported, and nothing was written.
func TestCommitLostWithoutRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port() })
	proxy.SetRule(pgproxy.Once(pgproxy.Message.IsCommit, pgproxy.CutBefore))
	var runs int
	err := db.WithTx(context.Background(), engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		runs++
		_, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'x')")
		return err
	})
	if !errors.Is(err, dberr.ErrConnection) || runs != 1 {
		t.Fatalf("got %v after %d runs", err, runs)
	}
	if n := countItems(t, e); n != 0 {
		t.Fatalf("%d rows", n)
	}
}

// TestTerminatedBackends: after pg_terminate_backend on every pooled
// connection, the next calls succeed.
func TestTerminatedBackends(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 3; c.Pool.MinConns = 3 })
	ctx := context.Background()
	// Fill the pool.
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error { return nil }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.Stat().TotalConns() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	killed := pgtest.Scalar[int](t, e.db.URL,
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND usename = $2",
		e.db.Name, e.cfg.User)
	if killed < 1 {
		t.Fatalf("terminated %d backends", killed)
	}
	waitGone(t, e)
	for i := 0; i < 3; i++ {
		if err := db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
			_, err := tx.Exec(ctx, "SELECT 1")
			return err
		}); err != nil {
			t.Fatalf("WithTx after terminate: %v", err)
		}
	}
	pgtest.Scalar[int](t, e.db.URL,
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND usename = $2",
		e.db.Name, e.cfg.User)
	waitGone(t, e)
	// The dead connections found above made the pool ping what it hands
	// out for a few seconds, so a plain WithConn gets a live connection.
	var one int
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		return c.QueryRow(ctx, "SELECT 1").Scan(&one)
	}); err != nil {
		t.Fatalf("WithConn after terminate: %v", err)
	}
}

// TestClusterStopAndRestart: with the server stopped, calls fail with a
// connection error within the acquire timeout; after a restart the same
// factory and DB serve calls again.
func TestClusterStopAndRestart(t *testing.T) {
	t.Parallel()
	c := pgtest.StartCluster(t)
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	cfg := config.Config{Host: "127.0.0.1", Port: c.Port(), Database: "postgres", User: "postgres", SSLMode: "disable",
		ConnectTimeout: time.Second,
		Pool:           config.Pool{AcquireTimeout: 3 * time.Second},
		Retry:          config.Retry{MaxAttempts: 3, InitialDelay: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond}}
	ctx := context.Background()
	db, err := f.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ping := func() error {
		return db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
			_, err := tx.Exec(ctx, "SELECT 1")
			return err
		})
	}
	if err := ping(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = ping()
	if !errors.Is(err, dberr.ErrConnection) {
		t.Fatalf("with the server down: %v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("failing took %v", el)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	again, err := f.Open(ctx, cfg)
	if err != nil || again != db {
		t.Fatalf("factory gave %p (%v), want the same DB %p", again, err, db)
	}
	if err := ping(); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

// TestCallbacks: each callback runs once per physical connection; a failing
// callback surfaces its name.
func TestCallbacks(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	e := newEnv(t, engine.Options{Callbacks: []engine.Callback{{
		Name: "set-timezone",
		Run: func(ctx context.Context, conn *pgx.Conn) error {
			runs.Add(1)
			_, err := conn.Exec(ctx, "SET timezone = 'Asia/Tokyo'")
			return err
		},
	}}})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 2 })
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		var tz string
		if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
			return c.QueryRow(ctx, "SHOW timezone").Scan(&tz)
		}); err != nil || tz != "Asia/Tokyo" {
			t.Fatalf("timezone %q: %v", tz, err)
		}
	}
	if int64(runs.Load()) != db.Connects() || runs.Load() < 1 || runs.Load() > 2 {
		t.Fatalf("callback ran %d times for %d connections", runs.Load(), db.Connects())
	}

	bad := newEnv(t, engine.Options{Callbacks: []engine.Callback{{
		Name: "register-types",
		Run:  func(ctx context.Context, conn *pgx.Conn) error { return errors.New("type missing") },
	}}})
	bdb := bad.open(nil)
	err := bdb.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error { return nil })
	var ce *engine.CallbackError
	if !errors.As(err, &ce) || ce.Name != "register-types" {
		t.Fatalf("got %v, want a CallbackError naming the callback", err)
	}
	for _, opts := range []engine.Options{
		{Callbacks: []engine.Callback{{Run: func(context.Context, *pgx.Conn) error { return nil }}}},
		{Callbacks: []engine.Callback{{Name: "x"}}},
	} {
		if _, err := engine.NewFactory(opts); err == nil {
			t.Fatalf("bad callbacks accepted: %+v", opts)
		}
	}
}

// TestFactoryClose: after Close, every call reports ErrClosed.
func TestFactoryClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	ctx := context.Background()
	if err := e.factory.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.factory.Open(ctx, e.cfg); !errors.Is(err, dberr.ErrClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
	if err := db.WithConn(ctx, func(context.Context, *engine.Conn) error { return nil }); !errors.Is(err, dberr.ErrClosed) {
		t.Fatalf("WithConn after Close: %v", err)
	}
	if err := db.WithTx(ctx, engine.TxOptions{}, func(context.Context, *engine.Tx) error { return nil }); !errors.Is(err, dberr.ErrClosed) {
		t.Fatalf("WithTx after Close: %v", err)
	}
}

// TestOpenMismatch: a second Open with the same key but other settings is
// refused rather than silently ignored.
func TestOpenMismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	e.open(nil)
	cfg := e.cfg
	cfg.Pool.MaxConns = 99
	if _, err := e.factory.Open(context.Background(), cfg); !errors.Is(err, engine.ErrConfigMismatch) {
		t.Fatalf("got %v", err)
	}
	cfg = e.cfg
	cfg.Port = 0 // defaults to 5432: another key, but Open does not connect
	cfg.Pool.MaxConns = -1
	if _, err := e.factory.Open(context.Background(), cfg); !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("invalid config: %v", err)
	}
}

// waitGone waits until the server lists no backend of e's login role in
// e's database: the terminated backends have exited, so their FATAL and
// end of stream have been sent.
func waitGone(t *testing.T, e *env) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); pgtest.Scalar[int](t, e.db.URL,
		"SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = $2", e.db.Name, e.cfg.User) != 0; {
		if time.Now().After(deadline) {
			t.Fatal("terminated backends still listed after 30 s")
		}
		time.Sleep(time.Millisecond)
	}
}

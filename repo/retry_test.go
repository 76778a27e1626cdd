package repo_test

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uno-db/uno/internal/pgproxy"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/repo"
)

// TestSingleCallRetriesAfterTermination: a role-switching repository's
// Create is one statement (engine.DB.Single with Retry). Its backend is
// terminated while the statement runs (a trigger sleeps on the first
// attempt only); the server's FATAL proves that nothing committed, so the
// call runs again and succeeds: one row, two attempts, no error.
func TestSingleCallRetriesAfterTermination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pgtest.Exec(t, e.url,
		"CREATE SEQUENCE attempts",
		"GRANT USAGE ON SEQUENCE attempts TO "+e.cfg.Roles.Writer,
		`CREATE FUNCTION slow_first() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN IF nextval('attempts') = 1 THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END $$`,
		"CREATE TRIGGER slow_first BEFORE INSERT ON item FOR EACH ROW EXECUTE FUNCTION slow_first()")
	items := repoOf[Item](e, repo.Options{SwitchRoles: true})
	done := make(chan error, 1)
	go func() { done <- items.Create(ctx, &Item{ID: 7, Name: "seven"}) }()
	for pgtest.Scalar[int](t, e.url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()") != 1 {
		if ctx.Err() != nil {
			t.Fatal("the insert never reached its trigger")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := pgtest.Scalar[int](t, e.url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()"); n != 1 {
		t.Fatalf("terminated %d backends", n)
	}
	if err := <-done; err != nil {
		t.Fatalf("Create: %v", err)
	}
	if n := e.count("item"); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	if n := pgtest.Scalar[int](t, e.url, "SELECT last_value FROM attempts"); n != 2 {
		t.Fatalf("%d attempts, want 2", n)
	}
}

// TestSingleCallRetriesAbortedCommit: the connection of a role-switching
// repository's Create is cut just before the Sync that would commit it,
// after the server ran the statement and sent the transaction id. The
// engine resolves the outcome (aborted: the server never committed) and,
// the call being one statement, runs it again: one row, no error.
func TestSingleCallRetriesAbortedCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	proxy, err := pgproxy.New(net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	cfg := e.cfg
	cfg.Port = proxy.Port()
	cfg.ApplicationName = "uno-retry-cut"
	e2 := e.reopen(cfg)
	items := repoOf[Item](e2, repo.Options{SwitchRoles: true})
	var commits pgproxy.CommitPoints
	var fired atomic.Bool
	proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
		if commits.Is(m) && !fired.Swap(true) {
			return pgproxy.Hold
		}
		return pgproxy.Forward
	})
	done := make(chan error, 1)
	go func() { done <- items.Create(ctx, &Item{ID: 8, Name: "eight"}) }()
	h := <-proxy.Held()
	for pgtest.Scalar[int](t, e.url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"+
		" AND backend_xid IS NOT NULL AND wait_event = 'ClientRead'", cfg.ApplicationName) != 1 {
		if ctx.Err() != nil {
			t.Fatal("the server never waited for the commit")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.CutBefore()
	if err := <-done; err != nil {
		t.Fatalf("Create: %v", err)
	}
	if n := e.count("item"); n != 1 || proxy.Cuts() != 1 {
		t.Fatalf("%d rows after %d cuts, want 1 and 1", n, proxy.Cuts())
	}
}

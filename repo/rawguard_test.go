package repo_test

import (
	"context"
	"testing"

	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/repo"
)

// TestRawSQLKeepsTheGuard: generated statements skip the release guard
// (engine.TxOptions.NoSessionState), raw SQL does not. Raw SQL through a
// role-switching repository plants session state on the pool's only
// connection (a session search_path, a temporary table, an advisory
// lock); generated calls on that connection still find the real table,
// and the next borrower finds the connection as it was opened.
func TestRawSQLKeepsTheGuard(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	cfg := e.cfg
	cfg.Pool.MaxConns = 1
	cfg.ApplicationName = "uno-rawguard"
	e2 := e.reopen(cfg)
	db := e2.db
	items := repoOf[Item](e2, repo.Options{SwitchRoles: true})
	if err := items.Create(ctx, &Item{ID: 1, Name: "real"}); err != nil {
		t.Fatal(err)
	}
	if _, err := items.QueryMaps(ctx, "SELECT set_config('search_path', 'pg_temp, public', false) AS s, pg_advisory_lock(42) AS l"); err != nil {
		t.Fatal(err)
	}
	if _, err := items.Exec(ctx, "CREATE TEMP TABLE item (id bigint, name text, qty bigint, tags text[], touched timestamptz)"); err != nil {
		t.Fatal(err)
	}
	// Generated calls: the real table, the row written and read there.
	if err := items.Create(ctx, &Item{ID: 2, Name: "also real"}); err != nil {
		t.Fatal(err)
	}
	got, err := items.Get(ctx, int64(2))
	if err != nil || got.Name != "also real" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if n := e.count("item"); n != 2 {
		t.Fatalf("%d rows in the real table, want 2", n)
	}
	var path string
	var temps, locks int
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		return c.QueryRow(ctx, "SELECT current_setting('search_path'),"+
			" (SELECT count(*) FROM pg_class WHERE relpersistence = 't'),"+
			" (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())").Scan(&path, &temps, &locks)
	}); err != nil {
		t.Fatal(err)
	}
	if path != `"$user", public` || temps != 0 || locks != 0 {
		t.Fatalf("next borrower: search_path %q, %d temporary relations, %d advisory locks", path, temps, locks)
	}
	if db.Pool().Stat().TotalConns() != 1 || db.Discards() != 0 {
		t.Fatalf("%d connections, %d discards: the guard should reset, not destroy", db.Pool().Stat().TotalConns(), db.Discards())
	}
}

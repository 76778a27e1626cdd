package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

// TestGuardRawReleases plants session state through the doors that bypass
// uno's scoped helpers, db.Pool() and db.SQL(), and checks that the next
// borrower of the same one-connection pool still gets a clean connection:
// the pool's PrepareConn hook guards a connection given back without the
// guard.
func TestGuardRawReleases(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "INSERT INTO item (id, name) VALUES (1, 'real')")
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	plant := []struct {
		name    string
		sql     string
		discard bool
	}{
		{"temporary table shadowing item", "CREATE TEMP TABLE item (id int, name text, n int)", false},
		{"claim", "SELECT set_config('rls_var.tenant_id', 't1', false)", false},
		{"search_path", "SET search_path = pg_catalog", false},
		{"advisory lock", "SELECT pg_advisory_lock(42)", false},
		{"listen", "LISTEN uno_channel", false},
		{"prepared statement", "PREPARE hand AS SELECT 1", true},
		{"role", "SET ROLE " + quote.Ident(e.cfg.Roles.Reader), true},
	}
	var discards int64
	for _, p := range plant {
		for _, door := range []string{"Pool", "SQL"} {
			switch door {
			case "Pool":
				pc, err := db.Pool().Acquire(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := pc.Exec(ctx, p.sql); err != nil {
					t.Fatalf("%s via %s: %v", p.name, door, err)
				}
				pc.Release()
			case "SQL":
				if _, err := db.SQL().ExecContext(ctx, p.sql); err != nil {
					t.Fatalf("%s via %s: %v", p.name, door, err)
				}
			}
			if p.discard {
				discards++
			}
			var n, listening, prepared int
			var tenant, path, user string
			err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
				return c.QueryRow(ctx, "SELECT (SELECT count(*) FROM item),"+
					" coalesce(current_setting('rls_var.tenant_id', true), ''), current_setting('search_path'),"+
					" (SELECT count(*) FROM pg_listening_channels()), (SELECT count(*) FROM pg_prepared_statements WHERE from_sql),"+
					" current_user::text").Scan(&n, &tenant, &path, &listening, &prepared, &user)
			})
			got := fmt.Sprint(err, n, tenant, path, listening, prepared, user)
			want := fmt.Sprint(nil, 1, "", `"$user", public`, 0, 0, e.cfg.Roles.Login)
			if got != want {
				t.Fatalf("%s via %s: next borrower saw %s, want %s", p.name, door, got, want)
			}
			if locks := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"); locks != 0 {
				t.Fatalf("%s via %s: %d advisory locks held", p.name, door, locks)
			}
			if db.Discards() != discards {
				t.Fatalf("%s via %s: %d discards, want %d", p.name, door, db.Discards(), discards)
			}
		}
	}
}

package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgproxy"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

// TestReleaseGuardLeavesNothing plants each kind of session state on a
// pooled connection, through WithConn, through a committed WithTx and
// through a rolled-back WithTx, and checks what the next borrower of the
// same pool (one connection) sees: the real table and not a temporary one
// shadowing it, no rls_var claim, the configured search_path, no advisory
// lock held, no LISTEN, no hand-made prepared statement, the login role.
func TestReleaseGuardLeavesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "INSERT INTO item (id, name) VALUES (1, 'real')")
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	plant := []struct {
		name    string
		sql     string
		discard bool // cannot be reset: the connection must be destroyed
	}{
		{"temporary table shadowing item", "CREATE TEMP TABLE item (id int, name text, n int)", false},
		{"custom claim", "SELECT set_config('rls_var.org', 'acme', false)", false},
		{"standard claim", "SELECT set_config('rls_var.tenant_id', 't1', false)", false},
		{"search_path", "SET search_path = pg_catalog", false},
		{"advisory lock", "SELECT pg_advisory_lock(42)", false},
		{"listen", "LISTEN uno_channel", false},
		{"statement_timeout", "SET statement_timeout = '5min'", false},
		{"prepared statement", "PREPARE hand AS SELECT 1", true},
		{"role", "SET ROLE " + quote.Ident(e.cfg.Roles.Reader), true},
	}
	var discards int64
	for _, p := range plant {
		for _, how := range []string{"WithConn", "WithTx commit", "WithTx rollback"} {
			var err error
			switch how {
			case "WithConn":
				err = db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
					_, err := c.Exec(ctx, p.sql)
					return err
				})
			case "WithTx commit":
				err = db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
					_, err := tx.Exec(ctx, p.sql)
					return err
				})
			case "WithTx rollback":
				err = db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
					if _, err := tx.Exec(ctx, p.sql); err != nil {
						return err
					}
					return errors.New("roll back")
				})
				if err != nil && err.Error() == "roll back" {
					err = nil
				}
			}
			if err != nil {
				t.Fatalf("%s via %s: %v", p.name, how, err)
			}
			// Session-level state survives ROLLBACK only for advisory locks
			// and prepared statements; the rest is undone by the server.
			survives := how != "WithTx rollback" || p.name == "advisory lock" || p.name == "prepared statement"
			if p.discard && survives {
				discards++
			}
			var n, listening, prepared int
			var org, tenant, path, user, sessionUser, timeout string
			err = db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
				return c.QueryRow(ctx, "SELECT (SELECT count(*) FROM item), coalesce(current_setting('rls_var.org', true), ''),"+
					" coalesce(current_setting('rls_var.tenant_id', true), ''), current_setting('search_path'),"+
					" (SELECT count(*) FROM pg_listening_channels()), (SELECT count(*) FROM pg_prepared_statements WHERE from_sql),"+
					" current_user::text, session_user::text, current_setting('statement_timeout')").
					Scan(&n, &org, &tenant, &path, &listening, &prepared, &user, &sessionUser, &timeout)
			})
			got := fmt.Sprint(err, n, org, tenant, path, listening, prepared, user, sessionUser, timeout)
			want := fmt.Sprint(nil, 1, "", "", `"$user", public`, 0, 0, e.cfg.Roles.Login, e.cfg.Roles.Login, "0")
			if got != want {
				t.Fatalf("%s via %s: next borrower saw %s, want %s", p.name, how, got, want)
			}
			if locks := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"); locks != 0 {
				t.Fatalf("%s via %s: %d advisory locks held", p.name, how, locks)
			}
			if db.Discards() != discards {
				t.Fatalf("%s via %s: %d discards, want %d", p.name, how, db.Discards(), discards)
			}
		}
	}
}

// TestReleaseGuardSessionAuthorization: a superuser login that switches
// its session user with SET SESSION AUTHORIZATION gets its connection
// destroyed.
func TestReleaseGuardSessionAuthorization(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.User = "postgres"; c.Pool.MaxConns = 1 })
	ctx := context.Background()
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		_, err := c.Exec(ctx, "SET SESSION AUTHORIZATION "+quote.Ident(e.cfg.Roles.Login))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var user string
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		return c.QueryRow(ctx, "SELECT session_user::text").Scan(&user)
	}); err != nil || user != "postgres" || db.Discards() != 1 {
		t.Fatalf("next borrower's session user %q (%v), %d discards", user, err, db.Discards())
	}
}

// TestReleaseGuardKeepsCallbackSettings: settings a connection callback
// made are part of the connection as it came, and survive the guard's
// RESET ALL; a change made by a borrower does not.
func TestReleaseGuardKeepsCallbackSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{Callbacks: []engine.Callback{{Name: "tz", Run: func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "SET timezone = 'Asia/Tokyo'")
		return err
	}}}})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		var tz string
		if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
			if err := c.QueryRow(ctx, "SHOW timezone").Scan(&tz); err != nil {
				return err
			}
			_, err := c.Exec(ctx, "SET timezone = 'UTC'")
			return err
		}); err != nil || tz != "Asia/Tokyo" {
			t.Fatalf("round %d: timezone %q (%v)", i, tz, err)
		}
	}
	if db.Connects() != 1 || db.Discards() != 0 {
		t.Fatalf("%d connects, %d discards", db.Connects(), db.Discards())
	}
}

// TestGuardDeadConnectionIsNotADiscard: the connection dies while the
// guard runs; it is counted as lost, not as a guard failure, and the next
// call works.
func TestGuardDeadConnectionIsNotADiscard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port() })
	proxy.SetRule(pgproxy.Once(func(m pgproxy.Message) bool {
		return m.Type == 'Q' && bytes.HasPrefix(m.Body, []byte("RESET ALL"))
	}, pgproxy.CutBefore))
	ctx := context.Background()
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		_, err := c.Exec(ctx, "SELECT 1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if proxy.Cuts() != 1 || db.Discards() != 0 {
		t.Fatalf("%d cuts, %d discards", proxy.Cuts(), db.Discards())
	}
	if err := db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		return insertItem(ctx, tx, 1)
	}); err != nil {
		t.Fatal(err)
	}
}

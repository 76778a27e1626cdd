package emit_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/identity"
	"github.com/uno-db/uno/internal/pgtest"
)

// TestSignedIdentityOnStandby: a streaming hot standby of a signed-mode
// database verifies signed identities (nothing is written to sign in) and
// ignores forged settings.
func TestSignedIdentityOnStandby(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primary, standby := pgtest.StartReplicated(t)
	pgtest.Exec(t, primary.URL("postgres"), "CREATE DATABASE app")
	u := setUpOn(t, primary.URL("postgres"), pgtest.Database{Name: "app", URL: primary.URL("app")}, true, Note{})
	c := newSignedConn(t, u)
	alice := identity.Claims{TenantID: "tenant-a", UserID: "alice"}
	bob := identity.Claims{TenantID: "tenant-b", UserID: "bob"}
	for _, who := range []identity.Claims{alice, bob, bob, alice} {
		if err := c.tx(c.roles.Writer, who, func(conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, `INSERT INTO shop.note (tenant_id, title) VALUES ($1, generate_ulid())`, who.TenantID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Wait for the standby to replay the four notes.
	var replica *pgx.Conn
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if replica == nil {
			replica, _ = pgx.Connect(ctx, standby.URL("app"))
		}
		var n int
		if replica != nil && replica.QueryRow(ctx, "SELECT count(*) FROM shop.note").Scan(&n) == nil && n == 4 {
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatal("the standby did not replay the primary's notes")
		}
	}
	defer replica.Close(ctx)
	if !scalarOn[bool](t, replica, "SELECT pg_is_in_recovery()") {
		t.Fatal("not a standby")
	}

	s := signedConnTo(t, u, standby.URL("app"))
	err := s.tx(s.roles.Reader, alice, func(conn *pgx.Conn) error {
		var n int
		var tenant string
		if err := conn.QueryRow(ctx, `SELECT uno_tenant_id(), (SELECT count(*) FROM shop.note)`).Scan(&tenant, &n); err != nil {
			return err
		}
		if tenant != "tenant-a" || n != 2 {
			t.Errorf("on the standby as A: tenant %q, %d notes, want tenant-a and 2", tenant, n)
		}
		if _, err := conn.Exec(ctx, `SELECT set_config('rls_var.tenant_id', 'tenant-b', true), set_config('rls_var.is_superuser', 'true', true)`); err != nil {
			return err
		}
		if _, err := exec(conn, `SELECT set_config('`+emit.SignedParameter+`', 'uno_1_7b7d', true)`); sqlState(err) != "42501" {
			t.Errorf("setting %s on the standby: %v, want 42501", emit.SignedParameter, err)
		}
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM shop.note WHERE tenant_id = 'tenant-b'`).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("forged settings on the standby show %d of B's notes", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

package emit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/identity"
	"github.com/uno-db/uno/internal/pgtest"
)

// TestSignedClaims: named claims are signed with the rest; uno_claim(name)
// returns the signed value whatever SQL sets rls_var.<name> to, hostile
// values arrive byte for byte, and claims the signature does not cover
// are refused.
func TestSignedClaims(t *testing.T) {
	t.Parallel()
	u := setUpMode(t, true, Note{})
	ctx := context.Background()
	hostile := `it's "quoted"_é; $$ \ <tag> 名前`
	id := engine.Identity{TenantID: "tenant_a'", UserID: "alice", Claims: map[string]string{"org": "acme", "note": hostile, "empty": ""}}
	err := u.db.WithTx(ctx, engine.TxOptions{Role: engine.RoleReader, Identity: id}, func(ctx context.Context, tx *engine.Tx) error {
		// rls_var.org holds the plain setting, which SQL may change.
		if _, err := tx.Exec(ctx, `SELECT set_config('rls_var.org', 'evil', true), set_config('rls_var.tenant_id', 'tenant-b', true)`); err != nil {
			return err
		}
		var org, note, empty, missing, setting, tenant *string
		if err := tx.QueryRow(ctx, `SELECT uno_claim('org'), uno_claim('note'), uno_claim('empty'), uno_claim('missing'),
			current_setting('rls_var.org'), uno_tenant_id()`).Scan(&org, &note, &empty, &missing, &setting, &tenant); err != nil {
			return err
		}
		if deref(org) != "acme" || deref(note) != hostile || empty == nil || *empty != "" || missing != nil || deref(tenant) != "tenant_a'" {
			t.Errorf("verified claims: org %q, note %q, empty %v, missing %v, tenant %q", deref(org), deref(note), empty, missing, deref(tenant))
		}
		if deref(setting) != "evil" {
			t.Errorf("rls_var.org = %q, want the forged evil (the test forges nothing otherwise)", deref(setting))
		}
		var doc string
		if err := tx.QueryRow(ctx, `SELECT uno_claims()::text`).Scan(&doc); err != nil {
			return err
		}
		if !strings.Contains(doc, `"org": "acme"`) || !strings.Contains(doc, `"user_id": "alice"`) || !strings.Contains(doc, `"is_superuser": false`) {
			t.Errorf("uno_claims() = %s", doc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A signature over other claims than the ones sent is refused: add a
	// claim, change one, or drop one.
	c := newSignedConn(t, u)
	signed := identity.Claims{TenantID: "tenant-a", UserID: "alice", Extra: map[string]string{"org": "acme"}}
	args, err := c.signer.Args(signed, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []identity.Claims{
		{TenantID: "tenant-a", UserID: "alice", Extra: map[string]string{"org": "acme", "role": "admin"}},
		{TenantID: "tenant-a", UserID: "alice", Extra: map[string]string{"org": "evil"}},
		{TenantID: "tenant-a", UserID: "alice"},
	} {
		enc, err := identity.Encode(other)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.conn.Exec(ctx, "SELECT "+identity.SignInCall("public", 1), args[0], enc, args[2]); sqlState(err) != "28000" {
			t.Errorf("claims %v with the signature of %v: %v, want 28000", other.Extra, signed.Extra, err)
		}
	}
	// The signed ones go through (the same call, so the refusals above
	// are about the claims).
	if err := c.tx(c.roles.Reader, signed, func(conn *pgx.Conn) error {
		var org string
		return conn.QueryRow(ctx, `SELECT uno_claim('org')`).Scan(&org)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSignedParallelQuery: the verified functions are PARALLEL SAFE, and
// a parallel plan shows tenant A exactly its rows: workers see the
// leader's claims and transaction start.
func TestSignedParallelQuery(t *testing.T) {
	t.Parallel()
	u := setUpMode(t, true, Note{})
	ctx := context.Background()
	for _, tenant := range []string{"tenant-a", "tenant-b"} {
		err := u.db.WithTx(ctx, asWriter("alice", tenant), func(ctx context.Context, tx *engine.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO shop.note (tenant_id, title) SELECT $1::text, $1::text || i FROM generate_series(1, 3000) i`, tenant)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	pgtest.Exec(t, u.pg.URL, "ANALYZE shop.note")
	var plan []string
	var n int
	var claim string
	err := u.db.WithTx(ctx, engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{TenantID: "tenant-a", Claims: map[string]string{"org": "acme"}}},
		func(ctx context.Context, tx *engine.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('parallel_setup_cost', '0', true), set_config('parallel_tuple_cost', '0', true),
				set_config('min_parallel_table_scan_size', '0', true), set_config('max_parallel_workers_per_gather', '2', true)`); err != nil {
				return err
			}
			q := `SELECT count(*), min(uno_claim('org')) FROM shop.note WHERE title LIKE '%1%'`
			rows, err := tx.Query(ctx, "EXPLAIN (COSTS OFF) "+q)
			if err != nil {
				return err
			}
			if plan, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
			return tx.QueryRow(ctx, q).Scan(&n, &claim)
		})
	if err != nil {
		t.Fatal(err)
	}
	want := scalarOn[int](t, u.super, `SELECT count(*) FROM shop.note WHERE tenant_id = 'tenant-a' AND title LIKE '%1%'`)
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "Gather") {
		t.Errorf("no parallel plan:\n%s", text)
	}
	if n != want || claim != "acme" {
		t.Errorf("parallel count %d, claim %q; want %d and acme", n, claim, want)
	}
}

// TestSignedDropDatabase: the signed mode grants the admin role (and no
// application role) SET on the parameter, setting up twice works, and
// DropDatabase still drops every role.
func TestSignedDropDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := pgtest.NewDatabase(t)
	d := emit.Database{Name: pg.Name + "_drop", SignedIdentity: true}
	roles := config.DefaultRoles(d.Name)
	admin := superConn(t, pgtest.AdminURL(t))
	var r emit.Runner
	t.Cleanup(func() { _, _ = r.Run(context.Background(), admin, emit.DropDatabase(d)) })
	if _, err := r.Run(ctx, admin, d.ClusterEmitters()...); err != nil {
		t.Fatal(err)
	}
	conn := superConn(t, pgtest.WithPath(pg.URL, d.Name))
	for range 2 { // a second run changes nothing and fails on nothing
		if _, err := r.Run(ctx, conn, d.SetupEmitters()...); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)
	if !scalarOn[bool](t, admin, "SELECT has_parameter_privilege($1, $2, 'SET')", roles.Admin, emit.SignedParameter) {
		t.Fatalf("the admin role may not set %s", emit.SignedParameter)
	}
	for _, role := range []string{roles.Login, roles.Reader, roles.Writer, roles.Base, d.Name + emit.AdminLoginSuffix} {
		if scalarOn[bool](t, admin, "SELECT has_parameter_privilege($1, $2, 'SET')", role, emit.SignedParameter) {
			t.Errorf("%s may set %s", role, emit.SignedParameter)
		}
	}
	if _, err := r.Run(ctx, admin, emit.DropDatabase(d)); err != nil {
		t.Fatal(err)
	}
	if n := scalarOn[int](t, admin, "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1)", d.Name); n != 0 {
		t.Errorf("%d roles left", n)
	}
}

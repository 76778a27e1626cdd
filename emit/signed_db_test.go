package emit_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/identity"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

// signedConn is a connection as the login role that starts transactions
// the way the engine does in the signed mode: one batch of BEGIN and a
// SELECT switching role and calling uno_sign_in with the signed claims.
type signedConn struct {
	t      testing.TB
	conn   *pgx.Conn
	roles  config.Roles
	signer *identity.Signer
}

func newSignedConn(t testing.TB, u *unoDB) *signedConn {
	t.Helper()
	return signedConnTo(t, u, pgtest.WithPath(u.pg.URL, u.pg.Name))
}

// signedConnTo is newSignedConn on the server of rawURL.
func signedConnTo(t testing.TB, u *unoDB, rawURL string) *signedConn {
	t.Helper()
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = config.DefaultRoles(u.pg.Name).Login
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	signer, err := identity.NewSigner(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return &signedConn{t: t, conn: conn, roles: config.DefaultRoles(u.pg.Name), signer: signer}
}

// begin starts a transaction as role with the signed claims.
func (c *signedConn) begin(role string, claims identity.Claims) error {
	args, err := c.signer.Args(claims, time.Now())
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SELECT set_config('role', $1, true), "+identity.SignInCall("public", 2), append([]any{role}, args...)...)
	return c.conn.SendBatch(context.Background(), b).Close()
}

// tx runs fn in a signed transaction and commits it; fn's error rolls back.
func (c *signedConn) tx(role string, claims identity.Claims, fn func(conn *pgx.Conn) error) error {
	c.t.Helper()
	ctx := context.Background()
	if err := c.begin(role, claims); err != nil {
		_, _ = c.conn.Exec(ctx, "ROLLBACK")
		return err
	}
	if err := fn(c.conn); err != nil {
		_, _ = c.conn.Exec(ctx, "ROLLBACK")
		return err
	}
	_, err := c.conn.Exec(ctx, "COMMIT")
	return err
}

// exec runs one statement inside a savepoint, so a refusal leaves the
// transaction usable; it returns the rows affected and the error.
func exec(conn *pgx.Conn, sql string, args ...any) (int64, error) {
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "SAVEPOINT probe"); err != nil {
		return 0, err
	}
	tag, err := conn.Exec(ctx, sql, args...)
	if err != nil {
		_, _ = conn.Exec(ctx, "ROLLBACK TO SAVEPOINT probe")
		return 0, err
	}
	_, _ = conn.Exec(ctx, "RELEASE SAVEPOINT probe")
	return tag.RowsAffected(), nil
}

func count(t *testing.T, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// TestSignedIdentityResistsSQL: inside a transaction signed for tenant A,
// raw SQL that sets rls_var.* (set_config, SET LOCAL, SET) or identity
// v1's uno.* settings, writes or resets the parameter that holds the
// verified claims (refused, 42501), replays tenant B's claims captured
// from another transaction, runs RESET ALL, calls uno_sign_in with
// made-up claims, or tries SET ROLE admin, sees and changes nothing of
// tenant B's: rows, history and audit columns are as B left them.
func TestSignedIdentityResistsSQL(t *testing.T) {
	t.Parallel()
	u := setUpMode(t, true, Note{})
	ctx := context.Background()
	c := newSignedConn(t, u)
	w := c.roles.Writer
	alice := identity.Claims{TenantID: "tenant-a", UserID: "alice"}
	bob := identity.Claims{TenantID: "tenant-b", UserID: "bob"}

	// B writes its notes; A writes one.
	var bNote, aNote string
	if err := c.tx(w, bob, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, `INSERT INTO shop.note (tenant_id, title) VALUES ('tenant-b', 'b1'), ('tenant-b', 'b2')`); err != nil {
			return err
		}
		return conn.QueryRow(ctx, `SELECT id FROM shop.note WHERE title = 'b1'`).Scan(&bNote)
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.tx(w, alice, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `INSERT INTO shop.note (tenant_id, title) VALUES ('tenant-a', 'a1') RETURNING id`).Scan(&aNote)
	}); err != nil {
		t.Fatal(err)
	}
	// B's verified claims, captured from one of B's transactions.
	var captured string
	if err := c.tx(c.roles.Reader, bob, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT current_setting('`+emit.SignedParameter+`')`).Scan(&captured)
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(captured, "uno_") || len(captured) < 40 {
		t.Fatalf("captured %q", captured)
	}
	const state = `SELECT string_agg(format('%s %s %s by=%s/%s deleted=%s', tenant_id, title, is_deleted, created_by_id, modified_by_id, deleted_by_id), E'\n' ORDER BY title)
  || E'\n' || (SELECT string_agg(format('%s %s %s %s', history_op, title, tenant_id, history_user_id), E'\n' ORDER BY history_id) FROM shop.note_history)
  FROM shop.note`
	before := scalarOn[string](t, u.super, state)

	// Each forgery runs its statements in order; the ones that write where
	// the verified claims live must be refused by PostgreSQL (42501).
	p := emit.SignedParameter
	type forgery struct {
		stmts   []string
		refused bool
	}
	forgeries := map[string]forgery{
		"set_config rls_var": {stmts: []string{`SELECT set_config('rls_var.tenant_id', 'tenant-b', true), set_config('rls_var.is_superuser', 'true', true),
			set_config('rls_var.user_id', 'mallory', true)`}},
		"SET LOCAL rls_var": {stmts: []string{`SET LOCAL rls_var.tenant_id = 'tenant-b'`, `SET LOCAL rls_var.is_superuser = 'true'`}},
		"SET rls_var":       {stmts: []string{`SET rls_var.tenant_id = 'tenant-b'`, `SET rls_var.is_superuser = 'true'`, `SET rls_var.user_id = 'mallory'`}},
		"set_config uno (v1 settings)": {stmts: []string{`SELECT set_config('uno.tenant_id', 'tenant-b', true), set_config('uno.is_superuser', 'true', true),
			set_config('uno.user_id', 'mallory', true)`}},
		"RESET ALL":                {stmts: []string{`RESET ALL`, `SET LOCAL ROLE ` + quote.Ident(w), `SET LOCAL rls_var.tenant_id = 'tenant-b'`}},
		"replay B with set_config": {stmts: []string{`SELECT set_config('` + p + `', $1, true)`}, refused: true},
		"replay B rebound to this transaction": {stmts: []string{`SELECT set_config('` + p + `',
			'uno_' || (extract(epoch FROM transaction_timestamp()) * 1000000)::bigint || '_' || split_part($1, '_', 3), true)`}, refused: true},
		"SET LOCAL parameter":      {stmts: []string{`SET LOCAL ` + p + ` = 'uno_1_7b7d'`}, refused: true},
		"SET parameter":            {stmts: []string{`SET ` + p + ` = 'uno_1_7b7d'`}, refused: true},
		"RESET parameter":          {stmts: []string{`RESET ` + p}, refused: true},
		"set_config session-level": {stmts: []string{`SELECT set_config('` + p + `', $1, false)`}, refused: true},
		"set_role helper to admin": {stmts: []string{`SELECT public.set_role('admin')`}, refused: true},
	}
	mac := make([]byte, 32)
	_, _ = rand.Read(mac)
	for name, f := range forgeries {
		err := c.tx(w, alice, func(conn *pgx.Conn) error {
			for _, s := range f.stmts {
				var args []any
				if strings.Contains(s, "$1") {
					args = []any{captured}
				}
				_, err := exec(conn, s, args...)
				if f.refused && sqlState(err) != "42501" {
					t.Errorf("%s: %s: %v, want 42501", name, s, err)
				} else if !f.refused && err != nil {
					t.Fatalf("%s: %s: %v", name, s, err)
				}
			}
			// Made-up claims straight to the sign-in function are refused.
			forged, _ := identity.Encode(identity.Claims{TenantID: "tenant-b", UserID: "mallory", Superuser: true})
			if _, err := exec(conn, "SELECT "+identity.SignInCall("public", 1), time.Now().UnixMilli(), forged, mac); sqlState(err) != "28000" {
				t.Errorf("%s: uno_sign_in with a made-up signature: %v, want 28000", name, err)
			}
			if n := count(t, conn, `SELECT count(*) FROM shop.note WHERE tenant_id = 'tenant-b'`); n != 0 {
				t.Errorf("%s: tenant A sees %d of B's notes", name, n)
			}
			if n := count(t, conn, `SELECT count(*) FROM shop.note_history WHERE tenant_id = 'tenant-b'`); n != 0 {
				t.Errorf("%s: tenant A sees %d of B's history rows", name, n)
			}
			for _, s := range []string{
				`UPDATE shop.note SET title = 'pwned' WHERE tenant_id = 'tenant-b'`,
				`DELETE FROM shop.note WHERE tenant_id = 'tenant-b'`,
				`UPDATE shop.note SET modified_by_id = 'mallory', created_by_id = 'mallory' WHERE tenant_id = 'tenant-b'`,
			} {
				if n, err := exec(conn, s); n != 0 {
					t.Errorf("%s: %s reached %d rows (%v)", name, s, n, err)
				}
			}
			for _, s := range []string{
				`INSERT INTO shop.note (tenant_id, title) VALUES ('tenant-b', 'planted')`,
				`INSERT INTO shop.note_history SELECT *, 'UPDATE', now(), 'mallory' FROM shop.note WHERE id = '` + aNote + `'`,
			} {
				if _, err := exec(conn, s); err == nil {
					t.Errorf("%s: %s succeeded", name, s)
				}
			}
			// Moving A's own row to B is refused, or reaches nothing
			// when the forgery hid A's rows too (fail closed).
			n, err := exec(conn, `UPDATE shop.note SET tenant_id = 'tenant-b' WHERE id = $1`, aNote)
			if n != 0 || strings.Contains(name, "rls_var") && sqlState(err) != "42501" {
				t.Errorf("%s: moving A's row to B: %d rows, %v", name, n, err)
			}
			if _, err := exec(conn, "SET ROLE "+quote.Ident(c.roles.Admin)); sqlState(err) != "42501" {
				t.Errorf("%s: SET ROLE admin: %v, want 42501", name, err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if after := scalarOn[string](t, u.super, state); after != before {
		t.Errorf("forgeries changed the data:\n%s\n---\n%s", before, after)
	}

	// What the forgeries do to A's own view: rls_var.* and the settings
	// of identity v1 are ignored, A stays A; RESET ALL drops the claims
	// (fail closed).
	err := c.tx(w, alice, func(conn *pgx.Conn) error {
		if n := count(t, conn, `SELECT count(*) FROM shop.note`); n != 1 {
			t.Errorf("A sees %d notes, want its 1", n)
		}
		if _, err := conn.Exec(ctx, `SELECT set_config('rls_var.user_id', 'mallory', true), set_config('rls_var.tenant_id', 'tenant-b', true),
			set_config('uno.user_id', 'mallory', true), set_config('uno.is_superuser', 'true', true)`); err != nil {
			return err
		}
		var by string
		if err := conn.QueryRow(ctx, `INSERT INTO shop.note (tenant_id, title) VALUES ('tenant-a', 'a2') RETURNING created_by_id`).Scan(&by); err != nil {
			return err
		}
		if by != "alice" {
			t.Errorf("created_by_id = %q with a forged rls_var.user_id, want alice", by)
		}
		var tenant, user *string
		var super *bool
		if err := conn.QueryRow(ctx, `SELECT uno_tenant_id(), uno_user_id(), uno_is_superuser()`).Scan(&tenant, &user, &super); err != nil {
			return err
		}
		if deref(tenant) != "tenant-a" || deref(user) != "alice" || super == nil || *super {
			t.Errorf("claims after forged settings: %v %v %v", deref(tenant), deref(user), super)
		}
		if _, err := conn.Exec(ctx, "RESET ALL"); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "SET LOCAL ROLE "+quote.Ident(w)); err != nil {
			return err
		}
		if n := count(t, conn, `SELECT count(*) FROM shop.note`); n != 0 {
			t.Errorf("A sees %d notes after RESET ALL, want 0", n)
		}
		if err := conn.QueryRow(ctx, `SELECT uno_tenant_id(), uno_user_id(), uno_is_superuser()`).Scan(&tenant, &user, &super); err != nil {
			return err
		}
		if tenant != nil || user != nil || super != nil {
			t.Errorf("claims verify after RESET ALL: %v %v %v", tenant, user, super)
		}
		// A required user that does not verify stops the write.
		if _, err := exec(conn, `INSERT INTO shop.note (tenant_id, title) VALUES ('tenant-a', 'a3')`); sqlState(err) != "42501" {
			t.Errorf("insert after RESET ALL: %v, want 42501", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if by := scalarOn[string](t, u.super, `SELECT history_user_id FROM shop.note_history WHERE title = 'a2'`); by != "alice" {
		t.Errorf("history user %q, want alice", by)
	}

	// Outside a transaction, and in a transaction that did not sign in,
	// nothing verifies; the parameter cannot be set for the session or
	// persisted for the role.
	var tenant *string
	if err := c.conn.QueryRow(ctx, `SELECT uno_tenant_id()`).Scan(&tenant); err != nil || tenant != nil {
		t.Errorf("claims outside a signed transaction: %v, %v", tenant, err)
	}
	if _, err := c.conn.Exec(ctx, `SELECT set_config('`+p+`', $1, false)`, captured); sqlState(err) != "42501" {
		t.Errorf("session-level set_config of %s: %v, want 42501", p, err)
	}
	for _, alter := range []string{"ALTER ROLE CURRENT_USER SET " + p + " = 'uno_1_7b7d'",
		"ALTER ROLE " + quote.Ident(w) + " SET " + p + " = 'uno_1_7b7d'"} {
		if _, err := c.conn.Exec(ctx, alter); sqlState(err) != "42501" {
			t.Errorf("%s: %v, want 42501", alter, err)
		}
	}
	// A signature made with another secret, or too old, is refused.
	other, _ := identity.NewSigner(identity.NewSecret())
	c2 := *c
	c2.signer = other
	if err := c2.tx(w, bob, func(*pgx.Conn) error { return nil }); sqlState(err) != "28000" {
		t.Errorf("another secret: %v, want 28000", err)
	}
	args, _ := c.signer.Args(bob, time.Now().Add(-10*time.Minute))
	_, err = c.conn.Exec(ctx, "SELECT "+identity.SignInCall("public", 1), args...)
	if sqlState(err) != "28000" {
		t.Errorf("a signature 10 minutes old: %v, want 28000", err)
	}
}

// TestSignedPoliciesPlanOnce: the policies evaluate the verified functions
// as InitPlans (once per statement), and the RLS audit accepts the signed
// set-up but flags a policy reading a setting and a readable secret.
func TestSignedPoliciesPlanOnce(t *testing.T) {
	t.Parallel()
	u := setUpMode(t, true, Note{})
	ctx := context.Background()
	c := newSignedConn(t, u)
	alice := identity.Claims{TenantID: "tenant-a", UserID: "alice"}
	var plan []string
	err := c.tx(c.roles.Writer, alice, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, `INSERT INTO shop.note (tenant_id, title) SELECT 'tenant-a', 't' || i FROM generate_series(1, 50) i`); err != nil {
			return err
		}
		rows, err := conn.Query(ctx, `EXPLAIN (COSTS OFF, VERBOSE) SELECT * FROM shop.note WHERE title LIKE 't%'`)
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	// The verified functions are inlined: their InitPlans read the
	// parameter, once per statement; no per-row SubPlan, no function call.
	if strings.Count(text, "InitPlan") < 2 || strings.Contains(text, "SubPlan") ||
		!strings.Contains(text, "current_setting('"+emit.SignedParameter+"'") || strings.Contains(text, "uno_tenant_id()") {
		t.Errorf("plan does not evaluate the identity once per statement:\n%s", text)
	}

	o := u.d.Options()
	if findings, err := emit.AuditRLS(ctx, u.db.Pool(), o); err != nil || len(findings) != 0 {
		t.Fatalf("audit of the signed set-up: %v %v", findings, err)
	}
	// A policy reading a setting, and a secret readable by the reader.
	pgtest.Exec(t, u.pg.URL,
		`CREATE POLICY leak ON shop.note FOR SELECT TO PUBLIC USING (current_setting('rls_var.is_superuser', true) = 'true')`,
		"GRANT SELECT ON public.uno_identity_secret TO "+quote.Ident(c.roles.Reader),
		"GRANT SET ON PARAMETER "+emit.SignedParameter+" TO "+quote.Ident(c.roles.Writer))
	t.Cleanup(func() {
		pgtest.Exec(t, u.pg.URL, "REVOKE SET ON PARAMETER "+emit.SignedParameter+" FROM "+quote.Ident(c.roles.Writer))
	})
	findings, err := emit.AuditRLS(ctx, u.db.Pool(), o)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range findings {
		got = append(got, f.String())
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{
		"shop.note: tenant table with a permissive policy not using the verified uno_tenant_id(): leak",
		"shop.note: tenant table with a policy reading a setting (current_setting), which SQL can forge: leak",
		`"public"."uno_identity_secret": identity secret readable by ` + c.roles.Reader,
		"shop.note: tenant table shows 50 rows to forged identity settings",
		emit.SignedParameter + ": role that may set " + emit.SignedParameter + ", where the verified claims live: " + c.roles.Writer,
		"shop.note: the writer role may set " + emit.SignedParameter + ": signed identities can be forged",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("findings lack %q:\n%s", want, joined)
		}
	}
}

// TestSignedIdentityReadOnly: signing in writes nothing, so it works in a
// READ ONLY transaction (as on a hot standby), and the claims verify there.
func TestSignedIdentityReadOnly(t *testing.T) {
	t.Parallel()
	u := setUpMode(t, true, Note{})
	ctx := context.Background()
	c := newSignedConn(t, u)
	alice := identity.Claims{TenantID: "tenant-a", UserID: "alice"}
	if err := c.tx(c.roles.Writer, alice, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `INSERT INTO shop.note (tenant_id, title) VALUES ('tenant-a', 'a1')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	args, err := c.signer.Args(alice, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
	b.Queue("SELECT set_config('role', $1, true), "+identity.SignInCall("public", 2), append([]any{c.roles.Reader}, args...)...)
	if err := c.conn.SendBatch(ctx, b).Close(); err != nil {
		t.Fatalf("signed BEGIN READ ONLY: %v", err)
	}
	defer c.conn.Exec(ctx, "ROLLBACK")
	var ro, tenant, user string
	var n int
	if err := c.conn.QueryRow(ctx, `SELECT current_setting('transaction_read_only'), uno_tenant_id(), uno_user_id(), (SELECT count(*) FROM shop.note)`).
		Scan(&ro, &tenant, &user, &n); err != nil {
		t.Fatal(err)
	}
	if ro != "on" || tenant != "tenant-a" || user != "alice" || n != 1 {
		t.Errorf("read only %s: tenant %q user %q, %d notes", ro, tenant, user, n)
	}
}

// TestEngineSignsIdentity: with engine.DB.SignIdentities the engine's
// BEGIN batch signs the identity in: the verified functions return it,
// a transaction without an identity verifies nothing, and a signer with
// another secret fails the BEGIN with 28000 and leaves the pool usable.
func TestEngineSignsIdentity(t *testing.T) {
	t.Parallel()
	u := setUpMode(t, true, Note{})
	ctx := context.Background()
	type seen struct {
		tenant, user *string
		super        *bool
	}
	look := func(opts engine.TxOptions) (seen, error) {
		var s seen
		err := u.db.WithTx(ctx, opts, func(ctx context.Context, tx *engine.Tx) error {
			return tx.QueryRow(ctx, "SELECT uno_tenant_id(), uno_user_id(), uno_is_superuser()").Scan(&s.tenant, &s.user, &s.super)
		})
		return s, err
	}
	s, err := look(engine.TxOptions{Role: engine.RoleReader, ReadOnly: true, Identity: engine.Identity{TenantID: "tenant-a", UserID: "alice"}})
	if err != nil || deref(s.tenant) != "tenant-a" || deref(s.user) != "alice" || s.super == nil || *s.super {
		t.Fatalf("signed by the engine: %s %s %v (%v)", deref(s.tenant), deref(s.user), s.super, err)
	}
	s, err = look(engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{Superuser: true}})
	if err != nil || s.tenant != nil || s.super == nil || !*s.super {
		t.Fatalf("superuser: %s %v (%v)", deref(s.tenant), s.super, err)
	}
	if s, err = look(engine.TxOptions{Role: engine.RoleReader}); err != nil || s.tenant != nil || s.user != nil || s.super != nil {
		t.Fatalf("no identity: %+v (%v)", s, err)
	}
	other, _ := identity.NewSigner(identity.NewSecret())
	u.db.SignIdentities(other, "public")
	_, err = look(engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{TenantID: "tenant-a"}})
	if sqlState(err) != "28000" {
		t.Errorf("another secret: %v, want 28000", err)
	}
	signer, _ := identity.NewSigner(testSecret)
	u.db.SignIdentities(signer, "")
	if s, err := look(engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{TenantID: "tenant-b"}}); err != nil || deref(s.tenant) != "tenant-b" {
		t.Errorf("after a refused BEGIN: %s (%v)", deref(s.tenant), err)
	}
}

// TestSignedHostileSchema: the signed mode with uno's functions in a
// schema whose name holds quotes, a semicolon and a dollar-quote tag:
// signing in, the policies, the audit trigger and the RLS audit work.
func TestSignedHostileSchema(t *testing.T) {
	t.Parallel()
	pg := pgtest.NewDatabase(t)
	fs := `fn "x"; $uno$ é`
	u := setUpDB(t, pgtest.AdminURL(t), pg, emit.Database{Name: pg.Name, Schemas: []string{"shop"}, FunctionSchema: fs, SignedIdentity: true}, Note{})
	ctx := context.Background()
	var by string
	err := u.db.WithTx(ctx, asWriter("alice", "tenant-a"), func(ctx context.Context, tx *engine.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO shop.note (tenant_id, title) VALUES ('tenant-a', 'a') RETURNING created_by_id`).Scan(&by)
	})
	if err != nil || by != "alice" {
		t.Fatalf("insert: created_by_id %q (%v)", by, err)
	}
	for tenant, want := range map[string]int{"tenant-a": 1, "tenant-b": 0} {
		var n int
		err := u.db.WithTx(ctx, asWriter("bob", tenant), func(ctx context.Context, tx *engine.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('rls_var.is_superuser', 'true', true)`); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT count(*) FROM shop.note`).Scan(&n)
		})
		if err != nil || n != want {
			t.Errorf("%s sees %d notes (%v), want %d", tenant, n, err, want)
		}
	}
	if findings, err := emit.AuditRLS(ctx, u.db.Pool(), u.d.Options()); err != nil || len(findings) != 0 {
		t.Errorf("audit: %v %v", findings, err)
	}
}

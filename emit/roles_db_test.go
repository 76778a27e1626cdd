package emit_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

// TestReservedRoleNames: public, none, current_user, session_user,
// current_role (any case) and pg_* are refused by every emitter that
// names roles, with ErrReservedRole and ErrInvalid.
func TestReservedRoleNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"public", "PUBLIC", "none", "current_user", "Session_User", "current_role", "pg_monitor", "PG_x"} {
		for _, d := range []emit.Database{
			{Name: "app", Roles: config.Roles{Admin: name}},
			{Name: "app", Roles: config.Roles{Login: name}},
			{Name: "app", AdminLogin: name},
		} {
			for _, e := range append(d.ClusterEmitters(), append(d.SetupEmitters(), emit.DropDatabase(d), emit.AdoptRoles(d))...) {
				_, err := e.Emit()
				if !errors.Is(err, emit.ErrReservedRole) || !errors.Is(err, emit.ErrInvalid) || !strings.Contains(err.Error(), name) {
					t.Errorf("%s with role %q: %v, want ErrReservedRole naming it", e.Name(), name, err)
				}
			}
		}
		o := emit.Options{Roles: config.DefaultRoles("app")}
		o.Roles.Reader = name
		if _, err := emit.Grants(nil, o).Emit(); err == nil {
			t.Errorf("Grants with reader %q: no error", name)
		}
	}
	if !emit.ReservedRole("pg_read_all_data") || emit.ReservedRole("app_pg") || emit.ReservedRole("publicity") {
		t.Error("ReservedRole misjudges")
	}
	// Two roles with one name are refused too.
	d := emit.Database{Name: "app", Roles: config.Roles{Reader: "app_writer"}}
	if _, err := emit.CreateRoles(d).Emit(); !errors.Is(err, emit.ErrInvalid) {
		t.Errorf("reader = writer: %v", err)
	}
	d = emit.Database{Name: "app", AdminLogin: "app_login"}
	if _, err := emit.CreateRoles(d).Emit(); !errors.Is(err, emit.ErrInvalid) {
		t.Errorf("admin login = login: %v", err)
	}
}

// TestForeignRolesLeftAlone names an existing superuser, and an ordinary
// role uno did not create, as uno roles: db create and db drop fail with
// 42710 and change nothing about them; the database is not dropped either.
func TestForeignRolesLeftAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := pgtest.NewDatabase(t)
	admin := superConn(t, pgtest.AdminURL(t))
	boss, plain := pg.Name+"_boss", pg.Name+"_plain"
	pgtest.Exec(t, pgtest.AdminURL(t),
		"CREATE ROLE "+quote.Ident(boss)+" SUPERUSER CREATEROLE LOGIN",
		"CREATE ROLE "+quote.Ident(plain)+" NOLOGIN",
		"COMMENT ON ROLE "+quote.Ident(plain)+" IS 'somebody else''s'")
	const state = `SELECT string_agg(format('%s super=%s login=%s createrole=%s members=%s comment=%s', rolname, rolsuper, rolcanlogin, rolcreaterole,
    (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid OR m.roleid = r.oid), shobj_description(oid, 'pg_authid')), E'\n' ORDER BY rolname)
  FROM pg_roles r WHERE rolname = ANY($1)`
	names := []string{boss, plain}
	before := scalarOn[string](t, admin, state, names)
	for _, d := range []emit.Database{
		{Name: pg.Name, Roles: config.Roles{Admin: boss}},
		{Name: pg.Name, Roles: config.Roles{Login: boss}},
		{Name: pg.Name, AdminLogin: boss},
		{Name: pg.Name, Roles: config.Roles{Base: plain}},
	} {
		var r emit.Runner
		for _, e := range []emit.Emitter{emit.CreateRoles(d), emit.DropDatabase(d)} {
			_, err := r.Run(ctx, admin, e)
			if sqlState(err) != "42710" {
				t.Errorf("%s with a foreign role: %v, want 42710", e.Name(), err)
			}
		}
		// Privileges in the database refuse too (ALTER ROLE … SET search_path).
		conn := superConn(t, pg.URL)
		if _, err := r.Run(ctx, conn, emit.Privileges(d)); sqlState(err) != "42710" {
			t.Errorf("privileges with a foreign role: %v, want 42710", err)
		}
		conn.Close(ctx)
		// AdoptRoles refuses the superuser; the plain role it would mark,
		// so it is not run for it here.
		if d.Roles.Base == "" && d.AdminLogin == "" {
			if _, err := r.Run(ctx, admin, emit.AdoptRoles(d)); sqlState(err) != "42710" {
				t.Errorf("adopt a superuser: %v, want 42710", err)
			}
		}
	}
	if after := scalarOn[string](t, admin, state, names); after != before {
		t.Errorf("foreign roles changed:\n%s\n---\n%s", before, after)
	}
	if n := scalarOn[int](t, admin, "SELECT count(*) FROM pg_database WHERE datname = $1", pg.Name); n != 1 {
		t.Error("the database was dropped")
	}
	// Nothing of uno's was created either: the guard runs first.
	if n := scalarOn[int](t, admin, "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1) AND NOT rolname = ANY($2)", pg.Name+"_", names); n != 0 {
		t.Errorf("%d uno roles created beside a foreign one", n)
	}
}

// TestAdoptRoles marks the roles of a database set up before the marker
// (made here by stripping the comments): CreateRoles refuses them until
// AdoptRoles marks them, then moves the database to the admin login.
func TestAdoptRoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := pgtest.NewDatabase(t)
	admin := superConn(t, pgtest.AdminURL(t))
	d := emit.Database{Name: pg.Name}
	roles := config.DefaultRoles(d.Name)
	adminLogin := d.Name + emit.AdminLoginSuffix
	var r emit.Runner
	if _, err := r.Run(ctx, admin, emit.CreateRoles(d)); err != nil {
		t.Fatal(err)
	}
	// The old layout: no admin login, no comments, login a member of admin.
	var old []string
	for _, n := range []string{roles.Login, roles.Reader, roles.Writer, roles.Admin, roles.Base} {
		old = append(old, "COMMENT ON ROLE "+quote.Ident(n)+" IS NULL")
	}
	old = append(old, "DROP ROLE "+quote.Ident(adminLogin), "GRANT "+quote.Ident(roles.Admin)+" TO "+quote.Ident(roles.Login))
	pgtest.Exec(t, pgtest.AdminURL(t), old...)
	if _, err := r.Run(ctx, admin, emit.CreateRoles(d)); sqlState(err) != "42710" {
		t.Fatalf("CreateRoles on unmarked roles: %v, want 42710", err)
	}
	if _, err := r.Run(ctx, admin, emit.AdoptRoles(d), emit.CreateRoles(d)); err != nil {
		t.Fatal(err)
	}
	const q = "SELECT pg_has_role($1, $2, 'MEMBER')"
	if scalarOn[bool](t, admin, q, roles.Login, roles.Admin) {
		t.Error("the login role is still a member of admin")
	}
	if !scalarOn[bool](t, admin, q, adminLogin, roles.Admin) || !scalarOn[bool](t, admin, q, roles.Login, roles.Writer) {
		t.Error("memberships missing after the move")
	}
	if n := scalarOn[int](t, admin, "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1) AND starts_with(shobj_description(oid, 'pg_authid'), $2)",
		d.Name+"_", emit.RoleMarker); n != 6 {
		t.Errorf("%d marked roles, want 6", n)
	}
}

// TestLoginCannotBecomeAdmin: the application's login role switches to
// reader and writer but not to admin, neither through the engine, nor with
// SET ROLE, set_config or set_role() in its SQL (42501); the admin login
// can.
func TestLoginCannotBecomeAdmin(t *testing.T) {
	t.Parallel()
	u := setUp(t)
	ctx := context.Background()
	roles := config.DefaultRoles(u.pg.Name)
	for _, role := range []engine.Role{engine.RoleReader, engine.RoleWriter} {
		if err := u.db.WithTx(ctx, engine.TxOptions{Role: role}, func(context.Context, *engine.Tx) error { return nil }); err != nil {
			t.Errorf("login as %s: %v", role, err)
		}
	}
	err := u.db.WithTx(ctx, engine.TxOptions{Role: engine.RoleAdmin}, func(context.Context, *engine.Tx) error { return nil })
	if sqlState(err) != "42501" {
		t.Errorf("login as admin through the engine: %v, want 42501", err)
	}
	for _, sql := range []string{
		"SET ROLE " + quote.Ident(roles.Admin),
		"SET LOCAL ROLE " + quote.Ident(roles.Admin),
		"SELECT set_config('role', " + quote.Literal(roles.Admin) + ", true)",
		"SELECT set_role('admin')",
	} {
		err := u.db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, tx *engine.Tx) error {
			_, err := tx.Exec(ctx, sql)
			return err
		})
		if sqlState(err) != "42501" {
			t.Errorf("%s from application SQL: %v, want 42501", sql, err)
		}
	}
	var cur string
	err = u.admin.WithTx(ctx, engine.TxOptions{Role: engine.RoleAdmin}, func(ctx context.Context, tx *engine.Tx) error {
		return tx.QueryRow(ctx, "SELECT current_user").Scan(&cur)
	})
	if err != nil || cur != roles.Admin {
		t.Errorf("admin login as admin: %q, %v", cur, err)
	}
}

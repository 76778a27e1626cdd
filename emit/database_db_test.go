package emit_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

// recorder is an Observer keeping what it is told.
type recorder struct {
	mu        sync.Mutex
	generated map[string]int
	executed  []emit.Statement
	durations []time.Duration
	failed    []emit.Statement
	errs      []error
	shown     []string // every Display text seen
}

func (r *recorder) Generated(emitter string, stmts []emit.Statement) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.generated == nil {
		r.generated = map[string]int{}
	}
	r.generated[emitter] += len(stmts)
	for _, s := range stmts {
		r.shown = append(r.shown, s.Display())
	}
}

func (r *recorder) Executed(s emit.Statement, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.executed = append(r.executed, s)
	r.durations = append(r.durations, took)
	r.shown = append(r.shown, s.Display())
}

func (r *recorder) Failed(s emit.Statement, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, s)
	r.errs = append(r.errs, err)
}

// clusterState describes the roles and the database as the catalog has
// them; databaseState describes what the set-up made inside the database.
const clusterState = `SELECT
 (SELECT string_agg(format('%s login=%s inherit=%s super=%s bypassrls=%s createrole=%s createdb=%s',
     rolname, rolcanlogin, rolinherit, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb), E'\n' ORDER BY rolname)
  FROM pg_roles WHERE starts_with(rolname, $1)) || E'\n' ||
 (SELECT string_agg(r.rolname || ' > ' || m.rolname, E'\n' ORDER BY r.rolname, m.rolname)
  FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
  WHERE starts_with(m.rolname, $1)) || E'\n' ||
 coalesce((SELECT datname || ' owner=' || pg_get_userbyid(datdba) || ' acl=' || coalesce(datacl::text, '')
  FROM pg_database WHERE datname = $2), 'no database') || E'\n' ||
 coalesce((SELECT string_agg(r.rolname || ' ' || array_to_string(s.setconfig, ','), E'\n' ORDER BY r.rolname)
  FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole JOIN pg_database d ON d.oid = s.setdatabase
  WHERE d.datname = $2), 'no settings')`

const databaseState = `SELECT
 (SELECT string_agg(nspname || ' owner=' || pg_get_userbyid(nspowner) || ' acl=' || coalesce(nspacl::text, ''), E'\n' ORDER BY nspname)
  FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema') || E'\n' ||
 (SELECT string_agg(extname || ' in ' || extnamespace::regnamespace::text, E'\n' ORDER BY extname) FROM pg_extension) || E'\n' ||
 (SELECT string_agg(x, E'\n' ORDER BY x) FROM (SELECT p.oid::regprocedure::text || ' owner=' || pg_get_userbyid(p.proowner) || ' acl=' ||
     coalesce(p.proacl::text, '') || ' config=' || coalesce(array_to_string(p.proconfig, ','), '') || ' definer=' || p.prosecdef ||
     ' src=' || md5(p.prosrc) AS x
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = 'public' AND (p.proname LIKE 'uno\_%' OR p.proname IN ('generate_ulid', 'set_role'))) s) || E'\n' ||
 (SELECT string_agg(x, E'\n' ORDER BY x) FROM (SELECT pg_get_userbyid(defaclrole) || ' ' || coalesce(defaclnamespace::regnamespace::text, '-') ||
     ' ' || defaclobjtype::text || ' ' || defaclacl::text AS x FROM pg_default_acl) s)`

// TestDatabaseSetUpTwice creates a database and its roles with the
// database-level emitters, checks the catalog, runs everything again
// (nothing changes), then drops it all.
func TestDatabaseSetUpTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := pgtest.NewDatabase(t) // gives a unique prefix; its roles are dropped after
	const password = `pa'ss\word`
	d := emit.Database{Name: pg.Name + "_app", Password: password, Schemas: []string{"shop", `odd "schema"`},
		Extensions: []string{"citext"}}
	roles := config.DefaultRoles(d.Name)
	admin := superConn(t, pgtest.AdminURL(t))
	t.Cleanup(func() {
		var r emit.Runner
		_, _ = r.Run(context.Background(), admin, emit.DropDatabase(d))
	})
	obs := &recorder{}
	r := emit.Runner{Observers: []emit.Observer{obs}}
	run := func() (cluster, inside string) {
		if _, err := r.Run(ctx, admin, d.ClusterEmitters()...); err != nil {
			t.Fatal(err)
		}
		conn := superConn(t, pgtest.WithPath(pg.URL, d.Name))
		defer conn.Close(ctx)
		if _, err := r.Run(ctx, conn, d.SetupEmitters()...); err != nil {
			t.Fatal(err)
		}
		return scalarOn[string](t, admin, clusterState, d.Name+"_", d.Name), scalarOn[string](t, conn, databaseState)
	}
	cluster1, inside1 := run()
	cluster2, inside2 := run()
	if cluster1 != cluster2 {
		t.Errorf("the second run changed the roles or database:\n%s\n---\n%s", cluster1, cluster2)
	}
	if inside1 != inside2 {
		t.Errorf("the second run changed the database:\n%s\n---\n%s", inside1, inside2)
	}
	t.Logf("cluster:\n%s\ndatabase:\n%s", cluster1, inside1)

	// pg_roles: five roles, only the login role logs in, NOINHERIT.
	for _, want := range []string{
		roles.Login + " login=t inherit=f super=f bypassrls=f createrole=f createdb=f",
		roles.Admin + " login=f inherit=t super=f bypassrls=f createrole=f createdb=f",
		roles.Reader + " login=f inherit=t super=f bypassrls=f createrole=f createdb=f",
		roles.Writer + " login=f inherit=t super=f bypassrls=f createrole=f createdb=f",
		roles.Base + " login=f inherit=t super=f bypassrls=f createrole=f createdb=f",
		roles.Base + " > " + roles.Admin, roles.Base + " > " + roles.Reader, roles.Base + " > " + roles.Writer,
		roles.Reader + " > " + roles.Login, roles.Writer + " > " + roles.Login,
		// The admin login may become admin, reader or writer; the login role cannot become admin.
		d.Name + "_admin_login login=t inherit=f super=f bypassrls=f createrole=f createdb=f",
		roles.Admin + " > " + d.Name + "_admin_login", roles.Reader + " > " + d.Name + "_admin_login",
		roles.Writer + " > " + d.Name + "_admin_login",
		// pg_database: owned by the admin role; PUBLIC has no rights, the login role may connect,
		// the writer may create temporary tables.
		d.Name + " owner=" + roles.Admin + " acl={" + roles.Admin + "=CTc/" + roles.Admin + "," + roles.Login + "=c/" + roles.Admin +
			"," + d.Name + "_admin_login=c/" + roles.Admin + "," + roles.Writer + "=T/" + roles.Admin + "}",
		roles.Login + ` search_path=public, shop, "odd ""schema"""`,
	} {
		if !strings.Contains(cluster1, want) {
			t.Errorf("cluster state lacks %q", want)
		}
	}
	if n := strings.Count(cluster1, " login="); n != 6 {
		t.Errorf("%d roles, want 6", n)
	}
	if strings.Contains(cluster1, roles.Admin+" > "+roles.Login+"\n") {
		t.Error("the login role is a member of the admin role")
	}
	for _, want := range []string{
		// pg_namespace: schemas owned by the admin role, nothing for PUBLIC.
		"shop owner=" + roles.Admin + " acl={" + roles.Admin + "=UC/" + roles.Admin + "," + roles.Base + "=U/" + roles.Admin + "}",
		`odd "schema" owner=` + roles.Admin,
		// pg_extension
		"pgcrypto in public", "citext in public",
		// pg_proc: owned by the admin role, search_path pinned.
		"generate_ulid() owner=" + roles.Admin + " acl={" + roles.Admin + "=X/" + roles.Admin + "," + roles.Base + "=X/" + roles.Admin + "} config=search_path=pg_catalog, public definer=false",
		"uno_history() owner=" + roles.Admin,
		"config=search_path=pg_catalog, pg_temp definer=true",
		"set_role(text) owner=" + roles.Admin + " acl={" + roles.Admin + "=X/" + roles.Admin + "," + roles.Login + "=X/" + roles.Admin + "}",
		"uno_rls_audit() owner=" + roles.Admin + " acl={=X/" + roles.Admin,
		// Default privileges: PUBLIC loses EXECUTE on the admin's functions.
		roles.Admin + " - f {" + roles.Admin + "=X/" + roles.Admin + "}",
		roles.Admin + " shop r {" + roles.Reader + "=r/" + roles.Admin + "," + roles.Writer + "=arwd/" + roles.Admin + "}",
	} {
		if !strings.Contains(inside1, want) {
			t.Errorf("database state lacks %q", want)
		}
	}
	for _, line := range strings.Split(inside1, "\n") {
		if strings.Contains(line, " acl={=") && !strings.HasPrefix(line, "uno_rls_audit()") || strings.Contains(line, ",=") {
			t.Errorf("PUBLIC has rights: %s", line)
		}
	}

	// Observers: every statement generated and executed with a duration;
	// the password shows nowhere.
	if obs.generated[emit.EmitterRoles] == 0 || obs.generated[emit.EmitterFunctions] == 0 || len(obs.failed) != 0 {
		t.Errorf("observed generated=%v failed=%v", obs.generated, obs.failed)
	}
	if len(obs.executed) < 40 || slices.Contains(obs.durations, 0) && slices.Max(obs.durations) == 0 {
		t.Errorf("observed %d executions, durations %v", len(obs.executed), obs.durations)
	}
	redacted := false
	for _, s := range obs.shown {
		if strings.Contains(s, "pa''ss") || strings.Contains(s, "word") {
			t.Fatalf("the password shows in %q", s)
		}
		redacted = redacted || strings.Contains(s, "PASSWORD '***'")
	}
	if !redacted {
		t.Error("no redacted password statement observed")
	}
	if got := scalarOn[string](t, admin, "SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = $1", roles.Login); got != "SCRAM-SHA-256$" {
		t.Errorf("login password = %q…", got)
	}

	// Dropping removes the database and the roles, and is idempotent.
	for range 2 {
		if _, err := r.Run(ctx, admin, emit.DropDatabase(d)); err != nil {
			t.Fatal(err)
		}
	}
	if n := scalarOn[int](t, admin, "SELECT (SELECT count(*) FROM pg_database WHERE datname = $1) + (SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $2))",
		d.Name, d.Name+"_"); n != 0 {
		t.Errorf("%d objects left after the drop", n)
	}
}

var ulidRE = regexp.MustCompile(`^[0-7][0-9A-HJKMNP-TV-Z]{25}$`)

// TestGenerateULID checks generate_ulid(): 26 Crockford characters, the
// time of the call in the first 10, unique, ordered by time.
func TestGenerateULID(t *testing.T) {
	t.Parallel()
	u := setUp(t)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	rows, err := u.super.Query(ctx, "SELECT generate_ulid() FROM generate_series(1, 2000)")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !ulidRE.MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated ULID %q", id)
		}
		seen[id] = true
	}
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var ms int64
	for _, c := range ids[0][:10] {
		ms = ms*32 + int64(strings.IndexRune(alphabet, c))
	}
	if at := time.UnixMilli(ms); at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("ULID time %v is not now", at)
	}
	var a, b string
	if err := u.super.QueryRow(ctx, "SELECT generate_ulid()").Scan(&a); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Millisecond)
	if err := u.super.QueryRow(ctx, "SELECT generate_ulid()").Scan(&b); err != nil {
		t.Fatal(err)
	}
	if a >= b {
		t.Errorf("ULIDs not time-ordered: %s then %s", a, b)
	}
}

// TestSetRoleHelper switches roles with set_role() as the login role.
func TestSetRoleHelper(t *testing.T) {
	t.Parallel()
	u := setUp(t)
	ctx := context.Background()
	roles := config.DefaultRoles(u.pg.Name)
	err := u.db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		tx, err := c.Raw().Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		_, err = sp.Exec(ctx, "SELECT set_role('root')")
		if sqlState(err) != "22023" {
			t.Errorf("set_role('root'): %v, want 22023", err)
		}
		_ = sp.Rollback(ctx)
		var got, cur string
		if err := tx.QueryRow(ctx, "SELECT set_role('writer'), current_user").Scan(&got, &cur); err != nil {
			return err
		}
		if got != roles.Writer || cur != roles.Writer {
			t.Errorf("set_role('writer') = %s, current_user %s", got, cur)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Other roles may not call it.
	if scalarOn[bool](t, u.super, "SELECT has_function_privilege($1, 'set_role(text)', 'EXECUTE')", roles.Writer) {
		t.Error("the writer may call set_role")
	}
}

func TestDatabaseBadInput(t *testing.T) {
	t.Parallel()
	for _, d := range []emit.Database{
		{Name: ""},
		{Name: strings.Repeat("d", 64)},
		{Name: "app", Password: "a\x00b"},
		{Name: "app", Schemas: []string{"a\x00"}},
		{Name: "app", Extensions: []string{""}},
		{Name: "app", Roles: config.Roles{Login: strings.Repeat("r", 70)}},
		{Name: strings.Repeat("d", 60)}, // role names get too long
	} {
		for _, e := range append(d.ClusterEmitters(), append(d.SetupEmitters(), emit.DropDatabase(d))...) {
			if _, err := e.Emit(); !errors.Is(err, emit.ErrInvalid) {
				t.Errorf("%s for %q: error = %v, want ErrInvalid", e.Name(), d.Name, err)
			}
		}
	}
}

// TestHostileDatabaseNames sets up (twice) and drops a database whose
// name, roles and schemas hold quotes, a semicolon, dollar signs and
// Unicode.
func TestHostileDatabaseNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := pgtest.NewDatabase(t)
	d := emit.Database{Name: pg.Name + `_'x"; $$ é`, Password: `$$'"\`, Schemas: []string{`s'"; $uno$`, "名前"}, FunctionSchema: `fn "x"`}
	roles := config.DefaultRoles(d.Name)
	admin := superConn(t, pgtest.AdminURL(t))
	t.Cleanup(func() {
		var r emit.Runner
		_, _ = r.Run(context.Background(), admin, emit.DropDatabase(d))
	})
	var r emit.Runner
	for range 2 {
		if _, err := r.Run(ctx, admin, d.ClusterEmitters()...); err != nil {
			t.Fatal(err)
		}
		conn := superConn(t, pgtest.WithPath(pg.URL, d.Name))
		if _, err := r.Run(ctx, conn, d.SetupEmitters()...); err != nil {
			t.Fatal(err)
		}
		if n := scalarOn[int](t, conn, "SELECT count(*) FROM pg_namespace WHERE nspname = ANY($1)", []string{`s'"; $uno$`, "名前", `fn "x"`}); n != 3 {
			t.Errorf("%d schemas", n)
		}
		if got := scalarOn[string](t, conn, "SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'generate_ulid' AND pronamespace = $1::regnamespace",
			quote.Ident(`fn "x"`)); got != roles.Admin {
			t.Errorf("generate_ulid owner %q", got)
		}
		if id := scalarOn[string](t, conn, "SELECT "+quote.Qualified(`fn "x"`, "generate_ulid")+"()"); !ulidRE.MatchString(id) {
			t.Errorf("ULID %q", id)
		}
		conn.Close(ctx)
	}
	if n := scalarOn[int](t, admin, "SELECT (SELECT count(*) FROM pg_database WHERE datname = $1) + (SELECT count(*) FROM pg_roles WHERE rolname = ANY($2))",
		d.Name, []string{roles.Login, roles.Reader, roles.Writer, roles.Admin, roles.Base}); n != 6 {
		t.Errorf("%d of the database and five roles exist", n)
	}
	if _, err := r.Run(ctx, admin, emit.DropDatabase(d)); err != nil {
		t.Fatal(err)
	}
	if n := scalarOn[int](t, admin, "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1)", d.Name); n != 0 {
		t.Errorf("%d roles left", n)
	}
}

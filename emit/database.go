package emit

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/sqlbuild"
)

// Database describes an uno database for the database-level emitters: its
// name, its five roles, the login password, its schemas and extensions,
// and the schema for uno's functions.
type Database struct {
	// Name is the database name.
	Name string
	// Roles are the uno roles; empty fields take config.DefaultRoles(Name).
	Roles config.Roles
	// Password is the login role's password; empty sets none (for trust,
	// peer or certificate authentication). It is escaped with
	// quote.Literal and shown as *** by Statement.Display.
	Password config.Secret
	// Schemas are the application's schemas; "public" is always one.
	Schemas []string
	// Extensions are created in FunctionSchema; "pgcrypto" (used by
	// generate_ulid) is always one.
	Extensions []string
	// FunctionSchema holds uno's functions (generate_ulid, set_role, the
	// trigger functions, uno_rls_audit); default "public".
	FunctionSchema string
	// AdminLogin is the login role for admin work (emitters, migrations):
	// the only role that may switch to the admin role. The application's
	// login role cannot. Default <Name>_admin_login.
	AdminLogin string
	// AdminPassword is AdminLogin's password; empty sets none. Like
	// Password, it is redacted wherever a statement is shown.
	AdminPassword config.Secret
	// SignedIdentity makes policies, the audit and history triggers and
	// the RLS audit use the verified identity functions (uno_tenant_id(),
	// uno_user_id(), uno_is_superuser()) instead of the rls_var.*
	// settings, which any SQL in the transaction can change, and makes
	// [Functions] grant the admin role SET on [SignedParameter] (run it
	// as a superuser then). See docs/SECURITY.md.
	SignedIdentity bool
	// KeepRights leaves alone the rights others hold on a database that
	// exists already: [CreateDatabase] neither changes its owner nor
	// revokes PUBLIC's rights on it (it grants the admin role CREATE,
	// CONNECT and TEMPORARY on it instead), [CreateSchemas] changes no
	// existing schema's owner and [Privileges] revokes nothing from PUBLIC
	// on the schemas. `uno db create` sets it for an existing database
	// unless it is told to take those rights (--take-rights).
	KeepRights bool
}

// Options returns the options the model-level emitters need to work with
// this database.
func (d Database) Options() Options {
	d = d.withDefaults()
	return Options{Roles: d.Roles, FunctionSchema: d.FunctionSchema, SignedIdentity: d.SignedIdentity}
}

func (d Database) withDefaults() Database {
	def := config.DefaultRoles(d.Name)
	r := &d.Roles
	for _, p := range []struct {
		f *string
		v string
	}{
		{&r.Login, def.Login}, {&r.Reader, def.Reader}, {&r.Writer, def.Writer}, {&r.Admin, def.Admin}, {&r.Base, def.Base},
	} {
		if *p.f == "" {
			*p.f = p.v
		}
	}
	if d.FunctionSchema == "" {
		d.FunctionSchema = "public"
	}
	if d.AdminLogin == "" {
		d.AdminLogin = d.Name + AdminLoginSuffix
	}
	schemas := []string{"public"}
	for _, s := range append(slices.Clone(d.Schemas), d.FunctionSchema) {
		if !slices.Contains(schemas, s) {
			schemas = append(schemas, s)
		}
	}
	d.Schemas = schemas
	exts := []string{"pgcrypto"}
	for _, e := range d.Extensions {
		if !slices.Contains(exts, e) {
			exts = append(exts, e)
		}
	}
	d.Extensions = exts
	return d
}

// ErrInvalid is wrapped by the errors of emitters given bad input: a bad
// name, a password with a NUL byte, a model without the columns an emitter
// needs.
var ErrInvalid = errors.New("emit: invalid input")

func (d Database) check() error {
	if err := sqlbuild.CheckName("database Name", d.Name); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := checkRoles(d.Roles); err != nil {
		return err
	}
	if err := checkRoleName("AdminLogin", d.AdminLogin); err != nil {
		return err
	}
	for _, r := range []string{d.Roles.Login, d.Roles.Reader, d.Roles.Writer, d.Roles.Admin, d.Roles.Base} {
		if r == d.AdminLogin {
			return fmt.Errorf("%w: AdminLogin %q is also one of Roles", ErrInvalid, r)
		}
	}
	if strings.IndexByte(d.Password.Reveal(), 0) >= 0 {
		return fmt.Errorf("%w: the password holds a NUL byte", ErrInvalid)
	}
	if strings.IndexByte(d.AdminPassword.Reveal(), 0) >= 0 {
		return fmt.Errorf("%w: the admin password holds a NUL byte", ErrInvalid)
	}
	for _, s := range d.Schemas {
		if err := sqlbuild.CheckName("schema", s); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	for _, e := range d.Extensions {
		if err := sqlbuild.CheckName("extension", e); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	return nil
}

// ErrReservedRole is wrapped (with [ErrInvalid]) by the error for a role
// name PostgreSQL gives a special meaning: public, none, current_user,
// session_user, current_role (in any case) and names starting with pg_.
// Granting to such a name grants to everyone, or to whoever runs the
// statement.
var ErrReservedRole = errors.New("emit: reserved role name")

// ReservedRole reports whether name is a role name uno refuses: public,
// none, current_user, session_user, current_role (in any case) or a name
// starting with pg_ (PostgreSQL's own roles).
func ReservedRole(name string) bool {
	l := lower(name)
	switch l {
	case "public", "none", "current_user", "session_user", "current_role":
		return true
	}
	return strings.HasPrefix(l, "pg_")
}

func checkRoleName(field, name string) error {
	if err := sqlbuild.CheckName(field, name); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if ReservedRole(name) {
		return fmt.Errorf("%w: %w: %s %q", ErrInvalid, ErrReservedRole, field, name)
	}
	return nil
}

func checkRoles(r config.Roles) error {
	fields := []struct{ f, v string }{
		{"Roles.Login", r.Login}, {"Roles.Reader", r.Reader}, {"Roles.Writer", r.Writer}, {"Roles.Admin", r.Admin}, {"Roles.Base", r.Base},
	}
	for i, p := range fields {
		if err := checkRoleName(p.f, p.v); err != nil {
			return err
		}
		for _, q := range fields[:i] {
			if q.v == p.v {
				return fmt.Errorf("%w: %s and %s are both %q", ErrInvalid, q.f, p.f, p.v)
			}
		}
	}
	return nil
}

// RoleMarker starts the comment uno puts on every role it creates (COMMENT
// ON ROLE). The role emitters never alter, grant to or drop a role that
// exists without it: a superuser or any other role named in Roles by
// mistake is left alone and the statement fails (SQLSTATE 42710).
// [AdoptRoles] marks the roles of a database set up before the marker
// existed.
const RoleMarker = "managed by uno"

// AdminLoginSuffix names the default admin login role: <database>_admin_login.
const AdminLoginSuffix = "_admin_login"

// roleMarked is a condition true when role name exists and carries the
// marker.
func roleMarked(name string) string {
	return "EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = " + literal(name) +
		" AND starts_with(coalesce(pg_catalog.shobj_description(oid, 'pg_authid'), ''), " + literal(RoleMarker) + "))"
}

// roleExists is a condition true when role name exists.
func roleExists(name string) string {
	return "EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = " + literal(name) + ")"
}

// refuseForeign is PL/pgSQL raising 42710 when role name exists without
// uno's marker.
func refuseForeign(name string) string {
	return "    IF " + roleExists(name) + " AND NOT " + roleMarked(name) + " THEN\n" +
		"        RAISE EXCEPTION 'uno: role % exists but was not created by uno (no \"" + RoleMarker + "\" comment); refusing to change it', " +
		literal(name) + "\n            USING ERRCODE = '42710';\n    END IF;\n"
}

// guardRoles returns a statement that fails (42710) when any of the roles
// exists without uno's marker, so nothing after it runs.
func guardRoles(names ...string) Statement {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(refuseForeign(n))
	}
	return Statement{Name: strings.Join(names, ", "), Kind: KindRole, SQL: doBlock(b.String())}
}

// allRoles returns the database's six roles, the login roles first.
func (d Database) allRoles() []string {
	r := d.Roles
	return []string{r.Login, d.AdminLogin, r.Admin, r.Writer, r.Reader, r.Base}
}

// funcEmitter is an Emitter made of a name and a function.
type funcEmitter struct {
	name string
	fn   func() ([]Statement, error)
}

// Name returns the emitter's registry name.
func (e funcEmitter) Name() string { return e.name }

// Emit runs the emitter's function.
func (e funcEmitter) Emit() ([]Statement, error) { return e.fn() }

// dbEmitter returns an emitter running fn on d with defaults filled in
// and checked.
func dbEmitter(name string, d Database, fn func(d Database) []Statement) Emitter {
	return dbEmitterErr(name, d, func(d Database) ([]Statement, error) { return fn(d), nil })
}

func dbEmitterErr(name string, d Database, fn func(d Database) ([]Statement, error)) Emitter {
	return funcEmitter{name: name, fn: func() ([]Statement, error) {
		d := d.withDefaults()
		if err := d.check(); err != nil {
			return nil, err
		}
		return fn(d)
	}}
}

// Names of the database-level emitters.
const (
	EmitterRoles        = "roles"
	EmitterDatabase     = "database"
	EmitterSchemas      = "schemas"
	EmitterExtensions   = "extensions"
	EmitterPrivileges   = "privileges"
	EmitterFunctions    = "functions"
	EmitterDropDatabase = "drop_database"
	EmitterAdoptRoles   = "adopt_roles"
)

// ClusterEmitters returns the emitters to run on the server's maintenance
// database as a superuser: [CreateRoles] and [CreateDatabase].
func (d Database) ClusterEmitters() []Emitter {
	return []Emitter{CreateRoles(d), CreateDatabase(d)}
}

// SetupEmitters returns the emitters to run in the new database as a
// superuser, after [Database.ClusterEmitters]: [CreateSchemas],
// [CreateExtensions], [Functions] and [Privileges].
func (d Database) SetupEmitters() []Emitter {
	return []Emitter{CreateSchemas(d), CreateExtensions(d), Functions(d), Privileges(d)}
}

// CreateRoles emits uno's six roles: the base role; the reader, writer
// and admin roles, members of the base role; the login role, the
// application's, NOINHERIT and a member of the reader and writer roles
// only, so it has no rights until a transaction switches role and can
// never become admin (SET ROLE to admin fails with 42501); and the admin
// login role (Database.AdminLogin), NOINHERIT and a member of the reader,
// writer and admin roles, for emitters and migrations. None is superuser
// or BYPASSRLS.
//
// Every role uno creates gets a comment starting with [RoleMarker]. A role
// that already exists without it is never altered: the first statement
// fails with SQLSTATE 42710 and nothing runs. A marked role's attributes
// are set either way, and the login role loses admin membership (for a
// database set up before the admin login existed), so a second run changes
// nothing (but the passwords, set again when given).
func CreateRoles(d Database) Emitter {
	return dbEmitter(EmitterRoles, d, func(d Database) []Statement {
		r := d.Roles
		const attrs = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
		out := []Statement{guardRoles(d.allRoles()...)}
		role := func(name, what, extra string) {
			body := refuseForeign(name) +
				"    IF NOT " + roleExists(name) + " THEN\n" +
				"        CREATE ROLE " + quote.Ident(name) + ";\n" +
				"        COMMENT ON ROLE " + quote.Ident(name) + " IS " + literal(RoleMarker+": "+what+" of database "+d.Name) + ";\n" +
				"    END IF;\n" +
				"    ALTER ROLE " + quote.Ident(name) + " WITH " + extra + " " + attrs + ";\n"
			out = append(out, Statement{Name: name, Kind: KindRole, SQL: doBlock(body)})
		}
		role(r.Base, "base role", "NOLOGIN INHERIT")
		role(r.Reader, "reader role", "NOLOGIN INHERIT")
		role(r.Writer, "writer role", "NOLOGIN INHERIT")
		role(r.Admin, "admin role", "NOLOGIN INHERIT")
		role(r.Login, "login role", "LOGIN NOINHERIT")
		role(d.AdminLogin, "admin login role", "LOGIN NOINHERIT")
		for _, m := range []string{r.Reader, r.Writer, r.Admin} {
			out = append(out, Statement{Name: m, Kind: KindGrant, SQL: "GRANT " + quote.Ident(r.Base) + " TO " + quote.Ident(m)})
		}
		// The application's login may become reader or writer, never admin.
		out = append(out, Statement{Name: r.Login, Kind: KindGrant,
			SQL: "GRANT " + quote.Ident(r.Reader) + ", " + quote.Ident(r.Writer) + " TO " + quote.Ident(r.Login)},
			Statement{Name: r.Login, Kind: KindGrant, SQL: doBlock(
				"    IF EXISTS (SELECT FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid\n" +
					"               JOIN pg_catalog.pg_roles l ON l.oid = m.member WHERE g.rolname = " + literal(r.Admin) +
					" AND l.rolname = " + literal(r.Login) + ") THEN\n" +
					"        REVOKE " + quote.Ident(r.Admin) + " FROM " + quote.Ident(r.Login) + ";\n    END IF;\n")},
			Statement{Name: d.AdminLogin, Kind: KindGrant,
				SQL: "GRANT " + quote.Ident(r.Reader) + ", " + quote.Ident(r.Writer) + ", " + quote.Ident(r.Admin) + " TO " + quote.Ident(d.AdminLogin)})
		for _, p := range []struct {
			role string
			pw   config.Secret
		}{{r.Login, d.Password}, {d.AdminLogin, d.AdminPassword}} {
			if pw := p.pw.Reveal(); pw != "" {
				prefix := "ALTER ROLE " + quote.Ident(p.role) + " WITH PASSWORD "
				out = append(out, Statement{Name: p.role, Kind: KindRole, SQL: prefix + passwordSQL(pw), Redacted: prefix + "'***'"})
			}
		}
		return out
	})
}

// AdoptRoles marks the roles of an uno database set up before uno marked
// its roles (see [RoleMarker]), so [CreateRoles] and [DropDatabase] will
// manage them: each of the five roles that exists without the marker gets
// it, unless it is a superuser or has CREATEROLE, CREATEDB, REPLICATION or
// BYPASSRLS, which no uno role has; then the statement fails (SQLSTATE
// 42710) and marks nothing. Run it once, as a superuser, after checking
// that the names in Roles are really the application's roles; then run
// [CreateRoles], which adds the admin login and takes admin membership
// from the application's login.
func AdoptRoles(d Database) Emitter {
	return dbEmitter(EmitterAdoptRoles, d, func(d Database) []Statement {
		r := d.Roles
		var b strings.Builder
		for _, n := range []string{r.Login, r.Reader, r.Writer, r.Admin, r.Base} {
			b.WriteString("    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = " + literal(n) +
				" AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls)) THEN\n" +
				"        RAISE EXCEPTION 'uno: role % has rights no uno role has; refusing to adopt it', " + literal(n) +
				"\n            USING ERRCODE = '42710';\n    END IF;\n")
		}
		for _, n := range []string{r.Login, r.Reader, r.Writer, r.Admin, r.Base} {
			b.WriteString("    IF " + roleExists(n) + " AND NOT " + roleMarked(n) + " THEN\n" +
				"        COMMENT ON ROLE " + quote.Ident(n) + " IS " + literal(RoleMarker+": adopted role of database "+d.Name) + ";\n    END IF;\n")
		}
		return []Statement{{Name: strings.Join([]string{r.Login, r.Reader, r.Writer, r.Admin, r.Base}, ", "), Kind: KindRole, SQL: doBlock(b.String())}}
	})
}

// CreateDatabase emits CREATE DATABASE … OWNER <admin> (skipped when the
// database exists, and run outside a transaction), makes the admin role
// its owner, revokes every right of PUBLIC on it, lets the login role
// and the admin login connect and the writer role create temporary tables (the staging tables
// of bulk merges). With [Database.KeepRights] an existing database keeps
// its owner and PUBLIC's rights, and the admin role is granted CREATE,
// CONNECT and TEMPORARY on it.
func CreateDatabase(d Database) Emitter {
	return dbEmitter(EmitterDatabase, d, func(d Database) []Statement {
		db, admin := quote.Ident(d.Name), quote.Ident(d.Roles.Admin)
		out := []Statement{
			{Name: d.Name, Kind: KindDatabase, SQL: "CREATE DATABASE " + db + " OWNER " + admin, NoTx: true,
				SkipIf: "SELECT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = " + literal(d.Name) + ")"},
		}
		if d.KeepRights {
			out = append(out, Statement{Name: d.Name, Kind: KindGrant, SQL: "GRANT CREATE, CONNECT, TEMPORARY ON DATABASE " + db + " TO " + admin})
		} else {
			out = append(out, Statement{Name: d.Name, Kind: KindDatabase, SQL: "ALTER DATABASE " + db + " OWNER TO " + admin},
				Statement{Name: d.Name, Kind: KindGrant, SQL: "REVOKE ALL ON DATABASE " + db + " FROM PUBLIC"})
		}
		return append(out,
			Statement{Name: d.Name, Kind: KindGrant, SQL: "GRANT CONNECT ON DATABASE " + db + " TO " + quote.Ident(d.Roles.Login) + ", " + quote.Ident(d.AdminLogin)},
			Statement{Name: d.Name, Kind: KindGrant, SQL: "GRANT TEMPORARY ON DATABASE " + db + " TO " + quote.Ident(d.Roles.Writer)})
	})
}

// CreateSchemas emits CREATE SCHEMA IF NOT EXISTS … AUTHORIZATION <admin>
// for the application's schemas, and makes the admin role the owner of
// each but public (owned by the database owner, the admin role); with
// [Database.KeepRights] an existing schema keeps its owner.
func CreateSchemas(d Database) Emitter {
	return dbEmitter(EmitterSchemas, d, func(d Database) []Statement {
		var out []Statement
		admin := quote.Ident(d.Roles.Admin)
		for _, s := range d.Schemas {
			out = append(out, Statement{Name: s, Kind: KindSchema, SQL: "CREATE SCHEMA IF NOT EXISTS " + quote.Ident(s) + " AUTHORIZATION " + admin})
			if s != "public" && !d.KeepRights {
				out = append(out, Statement{Name: s, Kind: KindSchema, SQL: "ALTER SCHEMA " + quote.Ident(s) + " OWNER TO " + admin})
			}
		}
		return out
	})
}

// CreateExtensions emits CREATE EXTENSION IF NOT EXISTS … WITH SCHEMA
// <FunctionSchema> for pgcrypto and the other extensions.
func CreateExtensions(d Database) Emitter {
	return dbEmitter(EmitterExtensions, d, func(d Database) []Statement {
		var out []Statement
		for _, e := range d.Extensions {
			out = append(out, Statement{Name: e, Kind: KindExtension,
				SQL: "CREATE EXTENSION IF NOT EXISTS " + quote.Ident(e) + " WITH SCHEMA " + quote.Ident(d.FunctionSchema)})
		}
		return out
	})
}

// Privileges emits uno's privilege set-up: PUBLIC loses every right on
// the schemas and, by default, EXECUTE on the admin role's new functions;
// the base role may use the schemas and the admin role create in them;
// the login role may use FunctionSchema (to call set_role);
// tables the admin role creates later are readable by the reader and
// writable by the writer (default privileges); and each role's
// search_path in the database is public followed by the application's
// other schemas. With [Database.KeepRights] PUBLIC keeps its rights on
// the schemas.
func Privileges(d Database) Emitter {
	return dbEmitter(EmitterPrivileges, d, func(d Database) []Statement {
		r := d.Roles
		admin, base := quote.Ident(r.Admin), quote.Ident(r.Base)
		out := []Statement{guardRoles(d.allRoles()...)}
		grant := func(name, sql string) { out = append(out, Statement{Name: name, Kind: KindGrant, SQL: sql}) }
		for _, s := range d.Schemas {
			qs := quote.Ident(s)
			if !d.KeepRights {
				grant(s, "REVOKE ALL ON SCHEMA "+qs+" FROM PUBLIC")
			}
			grant(s, "GRANT USAGE ON SCHEMA "+qs+" TO "+base)
			grant(s, "GRANT USAGE, CREATE ON SCHEMA "+qs+" TO "+admin)
			grant(s, "ALTER DEFAULT PRIVILEGES FOR ROLE "+admin+" IN SCHEMA "+qs+" GRANT SELECT ON TABLES TO "+quote.Ident(r.Reader))
			grant(s, "ALTER DEFAULT PRIVILEGES FOR ROLE "+admin+" IN SCHEMA "+qs+" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "+quote.Ident(r.Writer))
			grant(s, "ALTER DEFAULT PRIVILEGES FOR ROLE "+admin+" IN SCHEMA "+qs+" GRANT USAGE, SELECT ON SEQUENCES TO "+quote.Ident(r.Writer))
		}
		// The login role inherits nothing, but must reach set_role.
		grant(d.FunctionSchema, "GRANT USAGE ON SCHEMA "+quote.Ident(d.FunctionSchema)+" TO "+quote.Ident(r.Login))
		grant(r.Admin, "ALTER DEFAULT PRIVILEGES FOR ROLE "+admin+" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC")
		// public first: unqualified model tables live there (the model
		// registry resolves an empty schema to public).
		var path strings.Builder
		for i, s := range d.Schemas {
			if i > 0 {
				path.WriteString(", ")
			}
			path.WriteString(quote.Ident(s))
		}
		for _, role := range []string{r.Login, d.AdminLogin, r.Reader, r.Writer, r.Admin, r.Base} {
			out = append(out, Statement{Name: role, Kind: KindRole,
				SQL: "ALTER ROLE " + quote.Ident(role) + " IN DATABASE " + quote.Ident(d.Name) + " SET search_path = " + path.String()})
		}
		return out
	})
}

// DropDatabase emits DROP DATABASE IF EXISTS … WITH (FORCE) (outside a
// transaction) and drops the six roles (revoking the admin role's SET on
// SignedParameter first). Run it on the maintenance database
// as a superuser. It first checks the roles: when one of them exists
// without uno's [RoleMarker] (a role uno did not create), it fails with
// SQLSTATE 42710 before dropping anything. A role that is missing is
// skipped.
func DropDatabase(d Database) Emitter {
	return dbEmitter(EmitterDropDatabase, d, func(d Database) []Statement {
		out := []Statement{guardRoles(d.allRoles()...),
			{Name: d.Name, Kind: KindDatabase, SQL: "DROP DATABASE IF EXISTS " + quote.Ident(d.Name) + " WITH (FORCE)", NoTx: true}}
		for _, role := range d.allRoles() {
			revoke := ""
			if role == d.Roles.Admin {
				// The signed mode's grant (signed.go) would keep the role.
				revoke = grantLock + "\n        REVOKE ALL ON PARAMETER " + SignedParameter + " FROM " + quote.Ident(role) + ";\n        "
			}
			out = append(out, Statement{Name: role, Kind: KindRole, SQL: doBlock(refuseForeign(role) +
				"    IF " + roleExists(role) + " THEN\n        " + revoke + "DROP ROLE " + quote.Ident(role) + ";\n    END IF;\n")})
		}
		return out
	})
}

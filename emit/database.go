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
}

// Options returns the options the model-level emitters need to work with
// this database.
func (d Database) Options() Options {
	d = d.withDefaults()
	return Options{Roles: d.Roles, FunctionSchema: d.FunctionSchema}
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
	if strings.IndexByte(d.Password.Reveal(), 0) >= 0 {
		return fmt.Errorf("%w: the password holds a NUL byte", ErrInvalid)
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

func checkRoles(r config.Roles) error {
	for _, p := range []struct{ f, v string }{
		{"Roles.Login", r.Login}, {"Roles.Reader", r.Reader}, {"Roles.Writer", r.Writer}, {"Roles.Admin", r.Admin}, {"Roles.Base", r.Base},
	} {
		if err := sqlbuild.CheckName(p.f, p.v); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	return nil
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

// CreateRoles emits uno's five roles: the base role; the reader, writer
// and admin roles, members of the base role; and the login role, the only
// one that can log in, NOINHERIT and a member of the other three, so it has
// no rights until a transaction switches role. None is superuser or
// BYPASSRLS. Each role is created when missing and its attributes are set
// either way, so a second run changes nothing (but the password, set again
// when given).
func CreateRoles(d Database) Emitter {
	return dbEmitter(EmitterRoles, d, func(d Database) []Statement {
		r := d.Roles
		const attrs = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
		var out []Statement
		role := func(name, extra string) {
			body := "    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = " + literal(name) + ") THEN\n" +
				"        CREATE ROLE " + quote.Ident(name) + ";\n    END IF;\n" +
				"    ALTER ROLE " + quote.Ident(name) + " WITH " + extra + " " + attrs + ";\n"
			out = append(out, Statement{Name: name, Kind: KindRole, SQL: doBlock(body)})
		}
		role(r.Base, "NOLOGIN INHERIT")
		role(r.Reader, "NOLOGIN INHERIT")
		role(r.Writer, "NOLOGIN INHERIT")
		role(r.Admin, "NOLOGIN INHERIT")
		role(r.Login, "LOGIN NOINHERIT")
		for _, m := range []string{r.Reader, r.Writer, r.Admin} {
			out = append(out, Statement{Name: m, Kind: KindGrant, SQL: "GRANT " + quote.Ident(r.Base) + " TO " + quote.Ident(m)})
		}
		out = append(out, Statement{Name: r.Login, Kind: KindGrant,
			SQL: "GRANT " + quote.Ident(r.Reader) + ", " + quote.Ident(r.Writer) + ", " + quote.Ident(r.Admin) + " TO " + quote.Ident(r.Login)})
		if pw := d.Password.Reveal(); pw != "" {
			prefix := "ALTER ROLE " + quote.Ident(r.Login) + " WITH PASSWORD "
			out = append(out, Statement{Name: r.Login, Kind: KindRole, SQL: prefix + passwordSQL(pw), Redacted: prefix + "'***'"})
		}
		return out
	})
}

// CreateDatabase emits CREATE DATABASE … OWNER <admin> (skipped when the
// database exists, and run outside a transaction), makes the admin role
// its owner, revokes every right of PUBLIC on it, lets the login role
// connect and the writer role create temporary tables (the staging tables
// of bulk merges).
func CreateDatabase(d Database) Emitter {
	return dbEmitter(EmitterDatabase, d, func(d Database) []Statement {
		db, admin := quote.Ident(d.Name), quote.Ident(d.Roles.Admin)
		return []Statement{
			{Name: d.Name, Kind: KindDatabase, SQL: "CREATE DATABASE " + db + " OWNER " + admin, NoTx: true,
				SkipIf: "SELECT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = " + literal(d.Name) + ")"},
			{Name: d.Name, Kind: KindDatabase, SQL: "ALTER DATABASE " + db + " OWNER TO " + admin},
			{Name: d.Name, Kind: KindGrant, SQL: "REVOKE ALL ON DATABASE " + db + " FROM PUBLIC"},
			{Name: d.Name, Kind: KindGrant, SQL: "GRANT CONNECT ON DATABASE " + db + " TO " + quote.Ident(d.Roles.Login)},
			{Name: d.Name, Kind: KindGrant, SQL: "GRANT TEMPORARY ON DATABASE " + db + " TO " + quote.Ident(d.Roles.Writer)},
		}
	})
}

// CreateSchemas emits CREATE SCHEMA IF NOT EXISTS … AUTHORIZATION <admin>
// for the application's schemas, and makes the admin role the owner of
// each but public (owned by the database owner, the admin role).
func CreateSchemas(d Database) Emitter {
	return dbEmitter(EmitterSchemas, d, func(d Database) []Statement {
		var out []Statement
		admin := quote.Ident(d.Roles.Admin)
		for _, s := range d.Schemas {
			out = append(out, Statement{Name: s, Kind: KindSchema, SQL: "CREATE SCHEMA IF NOT EXISTS " + quote.Ident(s) + " AUTHORIZATION " + admin})
			if s != "public" {
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
// other schemas.
func Privileges(d Database) Emitter {
	return dbEmitter(EmitterPrivileges, d, func(d Database) []Statement {
		r := d.Roles
		admin, base := quote.Ident(r.Admin), quote.Ident(r.Base)
		var out []Statement
		grant := func(name, sql string) { out = append(out, Statement{Name: name, Kind: KindGrant, SQL: sql}) }
		for _, s := range d.Schemas {
			qs := quote.Ident(s)
			grant(s, "REVOKE ALL ON SCHEMA "+qs+" FROM PUBLIC")
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
		for _, role := range []string{r.Login, r.Reader, r.Writer, r.Admin, r.Base} {
			out = append(out, Statement{Name: role, Kind: KindRole,
				SQL: "ALTER ROLE " + quote.Ident(role) + " IN DATABASE " + quote.Ident(d.Name) + " SET search_path = " + path.String()})
		}
		return out
	})
}

// DropDatabase emits DROP DATABASE IF EXISTS … WITH (FORCE) (outside a
// transaction) and DROP ROLE IF EXISTS for the five roles. Run it on the
// maintenance database as a superuser.
func DropDatabase(d Database) Emitter {
	return dbEmitter(EmitterDropDatabase, d, func(d Database) []Statement {
		r := d.Roles
		out := []Statement{{Name: d.Name, Kind: KindDatabase, SQL: "DROP DATABASE IF EXISTS " + quote.Ident(d.Name) + " WITH (FORCE)", NoTx: true}}
		for _, role := range []string{r.Login, r.Admin, r.Writer, r.Reader, r.Base} {
			out = append(out, Statement{Name: role, Kind: KindRole, SQL: "DROP ROLE IF EXISTS " + quote.Ident(role)})
		}
		return out
	})
}

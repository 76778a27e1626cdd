package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/sqlbuild"
)

// Target describes a live database and the statements of its desired
// state, for [PlanLive].
type Target struct {
	// Config is the live database. The scratch database for the desired
	// state is made on the same server with the same user, who needs
	// CREATEDB.
	Config config.Config
	// Setup runs first in the scratch database as Config's user: schemas,
	// extensions, uno's functions, privileges (emit.Database's
	// SetupEmitters). Statements that change the whole cluster rather
	// than the scratch database (roles, databases, a role's settings in a
	// database) are skipped: see [ScratchSafe].
	Setup []emit.Statement
	// Models runs next, switched to Role when it is set (uno runs DDL as
	// <db>_admin, so the scratch objects have the same owners as the live
	// ones). Role is given CREATE on the scratch database, so models with
	// their own schema plan as they apply.
	Models []emit.Statement
	Role   string
	// Schemas limits the inspection of both sides; none: every schema.
	Schemas []string
	// HistoryTable is left out of the live side; default [DefaultTable].
	HistoryTable string
	// NoLiveTypes skips copying the live database's domains, composite
	// types and sequences into the scratch database (see [LiveTypes]).
	NoLiveTypes bool
}

// PlanLive returns the plan from the live database to the desired state
// of t, and the reverse plan (for a down file), see [Reverse]. It changes
// nothing on the live database: the live side is read in a read-only
// transaction, with search_path pinned so names print qualified
// ([catalog.Inspect]), and the desired state is built in a scratch
// database that is dropped afterwards, without the setup statements that
// would write to the cluster's shared catalogs.
func PlanLive(ctx context.Context, t Target, opts Options) (up, down Plan, err error) {
	var types []emit.Statement
	if !t.NoLiveTypes {
		var err error
		if types, err = liveTypes(ctx, t.Config); err != nil {
			return up, down, err
		}
	}
	want, err := DesiredWith(ctx, t.Config, func(ctx context.Context, conn *pgx.Conn) error {
		if err := emit.Exec(ctx, conn, types); err != nil {
			return fmt.Errorf("live types: %w", err)
		}
		if err := emit.Exec(ctx, conn, ScratchSafe(t.Setup)); err != nil {
			return err
		}
		if t.Role == "" {
			return emit.Exec(ctx, conn, t.Models)
		}
		if _, err := conn.Exec(ctx, "DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO %I', current_database(), "+
			quote.Literal(t.Role)+"); END $$"); err != nil {
			return fmt.Errorf("grant CREATE on the scratch database to %s: %w", t.Role, dberr.Classify(err))
		}
		r := emit.Runner{Role: t.Role}
		return r.Exec(ctx, conn, t.Models)
	}, t.Schemas...)
	if err != nil {
		return up, down, err
	}
	live, err := InspectLive(ctx, t.Config, t.Schemas...)
	if err != nil {
		return up, down, err
	}
	history := t.HistoryTable
	if history == "" {
		history = DefaultTable
	}
	live.Tables = slices.DeleteFunc(live.Tables, func(tb *catalog.Table) bool { return tb.Name == history })
	return Diff(live, want, opts), Reverse(live, want, opts), nil
}

// InspectLive connects to the database of cfg and inspects it in a
// read-only transaction ([catalog.Inspect]).
func InspectLive(ctx context.Context, cfg config.Config, schemas ...string) (*catalog.Database, error) {
	conn, err := connectLive(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return catalog.Inspect(ctx, conn, schemas...)
}

// connectLive validates cfg and connects to its database.
func connectLive(ctx context.Context, cfg config.Config) (*pgx.Conn, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conn, err := cfg.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: connect to %s: %w", cfg.Key(), dberr.Classify(err))
	}
	return conn, nil
}

// ScratchSafe returns stmts without those that would write to the
// cluster's shared catalogs when run in a scratch database: roles (and
// their settings in a database, such as ALTER ROLE … IN DATABASE … SET
// search_path) and databases. Roles belong to the whole server, so the
// scratch database sees them anyway.
func ScratchSafe(stmts []emit.Statement) []emit.Statement {
	return slices.DeleteFunc(slices.Clone(stmts), func(s emit.Statement) bool {
		head := strings.ToUpper(strings.TrimSpace(s.SQL))
		return s.Kind == emit.KindRole || s.Kind == emit.KindDatabase ||
			strings.HasPrefix(head, "ALTER ROLE") || strings.HasPrefix(head, "ALTER DATABASE") ||
			strings.HasPrefix(head, "CREATE ROLE") || strings.HasPrefix(head, "DROP ROLE")
	})
}

// Reverse returns the plan that undoes Diff(live, desired, opts): from
// the state that plan leads to (desired with live's unmanaged objects
// kept) back to live, for the objects desired has (tables, enums and
// functions only live has were left alone by the up plan). What it would
// lose (columns and tables the up plan adds, a type narrowed back) is
// destructive: check it with [Plan.Check] before writing a down file.
func Reverse(live, desired *catalog.Database, opts Options) Plan {
	up := &planner{opts: opts}
	after := up.effective(live, desired)
	touched := *live
	touched.Tables = slices.DeleteFunc(slices.Clone(live.Tables), func(t *catalog.Table) bool { return desired.Table(t.Schema, t.Name) == nil })
	touched.Enums = slices.DeleteFunc(slices.Clone(live.Enums), func(e catalog.Enum) bool { return findEnum(desired, e.Schema, e.Name) == nil })
	touched.Domains = slices.DeleteFunc(slices.Clone(live.Domains), func(d catalog.Domain) bool { return findDomain(desired, d.Schema, d.Name) == nil })
	touched.Functions = slices.DeleteFunc(slices.Clone(live.Functions), func(f catalog.Function) bool { return !hasFunction(desired, f) })
	return diff(after, &touched, Options{DropUnknown: true, DropUnmanaged: true, Concurrent: opts.Concurrent}, true)
}

// liveTypes connects to cfg's database and returns [LiveTypes].
func liveTypes(ctx context.Context, cfg config.Config) ([]emit.Statement, error) {
	conn, err := connectLive(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return LiveTypes(ctx, conn)
}

// LiveTypes returns statements that create, in an empty database, the
// schemas (with their owners, grants and default privileges, see
// liveSchemas), sequences, domains and composite types of the database q
// reads (outside system schemas and extensions), in creation order. Models may
// name them (a type: tag, a nextval default), so the scratch database
// where the desired state is built needs them; the catalog does not
// compare them, so they never show in a plan. Sequences an identity
// column owns, and those a serial column owns under the name PostgreSQL
// gives it (<table>_<column>_seq), are left out: the models' serial and
// identity columns make them again under the same names. Enums are not copied: the
// models create theirs, and a copy would hide labels they add. It reads
// in a read-only transaction.
func LiveTypes(ctx context.Context, q catalog.Beginner) ([]emit.Statement, error) {
	tx, err := q.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: live types: %w", dberr.Classify(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	if _, err := tx.Exec(ctx, `SELECT set_config('transaction_read_only', 'on', true), set_config('search_path', 'pg_catalog', true)`); err != nil {
		return nil, fmt.Errorf("migrate: live types: %w", dberr.Classify(err))
	}
	rows, err := tx.Query(ctx, `WITH objs AS (
		SELECT c.oid, c.relnamespace AS nsp, 'CREATE SEQUENCE IF NOT EXISTS ' || c.oid::regclass::text ||
				' AS ' || format_type(s.seqtypid, NULL) AS ddl
			FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid
			WHERE c.relkind = 'S' AND NOT EXISTS (SELECT 1 FROM pg_depend d
				JOIN pg_class r ON r.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = d.refobjsubid
				WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
				  AND (d.deptype = 'i' OR d.deptype = 'a' AND c.relnamespace = r.relnamespace AND c.relname = r.relname || '_' || a.attname || '_seq'))
		UNION ALL
		SELECT t.oid, t.typnamespace, 'CREATE DOMAIN ' || t.oid::regtype::text || ' AS ' || format_type(t.typbasetype, t.typtypmod) ||
				coalesce(' COLLATE ' || (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co
					JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation AND t.typcollation <> bt.typcollation), '') ||
				coalesce(' DEFAULT ' || t.typdefault, '') || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END ||
				coalesce((SELECT string_agg(' CONSTRAINT ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid), '' ORDER BY k.conname)
					FROM pg_constraint k WHERE k.contypid = t.oid), '')
			FROM pg_type t JOIN pg_type bt ON bt.oid = t.typbasetype WHERE t.typtype = 'd'
		UNION ALL
		SELECT t.oid, t.typnamespace, 'CREATE TYPE ' || t.oid::regtype::text || ' AS (' ||
				coalesce((SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
					FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
			FROM pg_type t JOIN pg_class r ON r.oid = t.typrelid WHERE t.typtype = 'c' AND r.relkind = 'c'
	)
	SELECT n.nspname, o.ddl FROM objs o JOIN pg_namespace n ON n.oid = o.nsp
	WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
	  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = o.oid AND d.deptype = 'e')
	ORDER BY o.oid`)
	if err != nil {
		return nil, fmt.Errorf("migrate: live types: %w", dberr.Classify(err))
	}
	type row struct{ Schema, DDL string }
	objs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, fmt.Errorf("migrate: live types: %w", dberr.Classify(err))
	}
	out, err := liveSchemas(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		out = append(out, emit.Statement{Name: o.Schema, Kind: emit.KindType, SQL: o.DDL})
	}
	return out, nil
}

// liveSchemas returns statements that create the live database's schemas
// (but public) as they are: with their owner, their grants and their
// default privileges, so the models' DDL, run as the role that runs it
// live, may create in them what it may live, and new tables get the
// grants they get live. What the user building the scratch database may
// not do (make another role the owner, set another role's default
// privileges without being a member) is skipped: the schema is then
// the user's.
func liveSchemas(ctx context.Context, tx pgx.Tx) ([]emit.Statement, error) {
	rows, err := tx.Query(ctx, `SELECT n.nspname, pg_get_userbyid(n.nspowner)::text,
			ARRAY(SELECT format('GRANT %s ON SCHEMA %I TO %s%s', a.privilege_type, n.nspname,
					CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
					CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
				FROM aclexplode(n.nspacl) a WHERE a.grantee <> n.nspowner ORDER BY a.grantee, a.privilege_type),
			ARRAY(SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT %s ON %s TO %s%s',
					pg_get_userbyid(d.defaclrole), n.nspname, a.privilege_type,
					CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' ELSE 'TYPES' END,
					CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
					CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
				FROM pg_default_acl d, aclexplode(d.defaclacl) a
				WHERE d.defaclnamespace = n.oid AND d.defaclobjtype IN ('r', 'S', 'f', 'T')
				ORDER BY d.defaclrole, d.defaclobjtype, a.grantee, a.privilege_type)
		FROM pg_namespace n
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND n.nspname NOT LIKE 'pg\_%'
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = n.oid AND d.deptype = 'e')
		ORDER BY n.nspname`)
	if err != nil {
		return nil, fmt.Errorf("migrate: live schemas: %w", dberr.Classify(err))
	}
	type row struct {
		Schema, Owner    string
		Grants, Defaults []string
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, fmt.Errorf("migrate: live schemas: %w", dberr.Classify(err))
	}
	var out []emit.Statement
	for _, s := range schemas {
		qs := quote.Ident(s.Schema)
		out = append(out, emit.Statement{Name: s.Schema, Kind: emit.KindSchema, SQL: sqlbuild.DoBlock(
			"    CREATE SCHEMA IF NOT EXISTS " + qs + " AUTHORIZATION " + quote.Ident(s.Owner) + ";\n" +
				"EXCEPTION WHEN insufficient_privilege THEN\n    CREATE SCHEMA IF NOT EXISTS " + qs + ";\n")})
		for _, g := range append(s.Grants, s.Defaults...) {
			out = append(out, emit.Statement{Name: s.Schema, Kind: emit.KindGrant, SQL: sqlbuild.DoBlock(
				"    " + g + ";\nEXCEPTION WHEN insufficient_privilege THEN NULL;\n")})
		}
	}
	return out, nil
}

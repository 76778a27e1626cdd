// Package catalog reads a live PostgreSQL schema from pg_catalog: schemas,
// tables, columns (type, default, nullability, identity, generated
// expression, collation, comment), constraints, indexes, enums, domains,
// functions, triggers, row-level security policies and table grants.
//
// Definitions are kept in the server's own canonical text (format_type,
// pg_get_expr, pg_get_constraintdef, pg_get_indexdef, pg_get_triggerdef,
// pg_get_functiondef), so two databases built from the same DDL inspect
// equal, and the text can be replayed as SQL by the migration planner.
// [Inspect] reads in a read-only transaction with search_path pinned to
// pg_catalog, so every name is printed qualified and the result does not
// depend on any search_path setting.
package catalog

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/dberr"
)

// Querier runs queries: *pgx.Conn, *pgxpool.Pool, pgx.Tx and the engine's
// helpers all satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Database is the inspected state of the chosen schemas.
type Database struct {
	Schemas   []string // schema names, sorted
	Tables    []*Table // sorted by schema and name
	Enums     []Enum
	Domains   []Domain
	Functions []Function
}

// Table is one ordinary or partitioned table.
type Table struct {
	Schema, Name string
	Comment      string
	Owner        string
	RowSecurity  bool // ENABLE ROW LEVEL SECURITY
	ForceRLS     bool // FORCE ROW LEVEL SECURITY
	Columns      []Column
	Constraints  []Constraint // sorted by name
	Indexes      []Index      // indexes that back no constraint, sorted by name
	Triggers     []Trigger    // sorted by name
	Policies     []Policy     // sorted by name
	Grants       []Grant      // sorted
}

// Column is one column, in table order.
type Column struct {
	Name      string
	Type      string // format_type, e.g. "character varying(26)"
	NotNull   bool
	Default   string // pg_get_expr of the default, "" when none
	Identity  string // "", "always" or "by default"
	Generated string // expression of a STORED generated column, else ""
	// Collation is the column's collation as a qualified, quoted name
	// when it is not its type's default, else "".
	Collation string
	Comment   string
	// UsedBy names the views and materialized views (schema.name) whose
	// definitions use the column.
	UsedBy []string
}

// Constraint is a table constraint.
type Constraint struct {
	Name string
	Type string // "p" primary key, "u" unique, "f" foreign key, "c" check, "x" exclusion
	Def  string // pg_get_constraintdef
	// RefSchema and RefTable name the table a foreign key references.
	RefSchema, RefTable string
}

// Index is an index that backs no constraint.
type Index struct {
	Name string
	Def  string // pg_get_indexdef: a complete CREATE INDEX statement
	// Invalid marks an index a failed CREATE INDEX CONCURRENTLY left
	// behind: it is not used and not maintained as a key.
	Invalid bool
}

// Trigger is a user trigger.
type Trigger struct {
	Name string
	Def  string // pg_get_triggerdef: a complete CREATE TRIGGER statement
}

// Policy is a row-level security policy.
type Policy struct {
	Name       string
	Permissive bool
	Command    string   // ALL, SELECT, INSERT, UPDATE or DELETE
	Roles      []string // role names; "public" for PUBLIC
	Using      string
	WithCheck  string
}

// Grant is one privilege on a table held by a role.
type Grant struct {
	Grantee   string // role name; "PUBLIC" for PUBLIC
	Privilege string // SELECT, INSERT, …
}

// Enum is an enum type with its labels in order.
type Enum struct {
	Schema, Name string
	Values       []string
}

// Domain is a domain type.
type Domain struct {
	Schema, Name string
	// Def is the statement that creates it, with everything the catalog
	// holds of it (base type, collation, default, NOT NULL, named checks);
	// two domains with equal Def are the same.
	Def string
}

// Function is a function with its full definition.
type Function struct {
	Schema, Name string
	Args         string // pg_get_function_identity_arguments
	Def          string // pg_get_functiondef: a complete CREATE OR REPLACE FUNCTION
}

// Table returns the table schema.name, or nil.
func (d *Database) Table(schema, name string) *Table {
	for _, t := range d.Tables {
		if t.Schema == schema && t.Name == name {
			return t
		}
	}
	return nil
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// systemSchema matches schemas that are never inspected.
const systemSchema = `(n.nspname IN ('pg_catalog', 'information_schema') OR n.nspname LIKE 'pg\_toast%' OR n.nspname LIKE 'pg\_temp\_%')`

// notExtension excludes objects that belong to an extension.
const notExtension = `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = %s AND d.deptype = 'e')`

// Beginner is a [Querier] that can start a transaction (or, inside one, a
// savepoint): *pgx.Conn, *pgxpool.Pool and pgx.Tx.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Inspect reads the given schemas, or every non-system schema when none
// is given.
//
// When q can begin a transaction ([Beginner]), the reading runs in a
// read-only transaction (a savepoint inside one) that is rolled back, with
// search_path set to pg_catalog for its duration: inspecting changes
// nothing, and every name in a definition is printed qualified, so the
// result does not depend on the connection's or the database's
// search_path.
func Inspect(ctx context.Context, q Querier, schemas ...string) (*Database, error) {
	b, ok := q.(Beginner)
	if !ok {
		return inspect(ctx, q, schemas)
	}
	tx, err := b.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalog: begin: %w", dberr.Classify(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only: nothing to lose
	if _, err := tx.Exec(ctx, `SELECT set_config('transaction_read_only', 'on', true), set_config('search_path', 'pg_catalog', true)`); err != nil {
		return nil, fmt.Errorf("catalog: read-only inspection: %w", dberr.Classify(err))
	}
	return inspect(ctx, tx, schemas)
}

func inspect(ctx context.Context, q Querier, schemas []string) (*Database, error) {
	db := &Database{}
	var err error
	if len(schemas) == 0 {
		db.Schemas, err = collect(ctx, q, `SELECT n.nspname FROM pg_namespace n WHERE NOT `+systemSchema+
			` AND `+fmt.Sprintf(notExtension, "n.oid")+` ORDER BY 1`, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("catalog: schemas: %w", err)
		}
	} else {
		db.Schemas, err = collect(ctx, q, `SELECT n.nspname FROM pg_namespace n WHERE n.nspname = ANY($1) ORDER BY 1`,
			pgx.RowTo[string], schemas)
		if err != nil {
			return nil, fmt.Errorf("catalog: schemas: %w", err)
		}
	}
	if err := inspectTables(ctx, q, db); err != nil {
		return nil, err
	}
	if err := inspectEnums(ctx, q, db); err != nil {
		return nil, err
	}
	if err := inspectDomains(ctx, q, db); err != nil {
		return nil, err
	}
	if err := inspectFunctions(ctx, q, db); err != nil {
		return nil, err
	}
	return db, nil
}

func collect[T any](ctx context.Context, q Querier, sql string, fn pgx.RowToFunc[T], args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, dberr.Classify(err)
	}
	out, err := pgx.CollectRows(rows, fn)
	return out, dberr.Classify(err)
}

func inspectTables(ctx context.Context, q Querier, db *Database) error {
	type tableRow struct {
		OID                   uint32
		Schema, Name, Comment string
		Owner                 string
		RLS, Force            bool
	}
	rows, err := collect(ctx, q, `SELECT c.oid, n.nspname, c.relname, coalesce(obj_description(c.oid, 'pg_class'), ''),
			pg_get_userbyid(c.relowner)::text, c.relrowsecurity, c.relforcerowsecurity
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1) AND NOT c.relispartition
		  AND `+fmt.Sprintf(notExtension, "c.oid")+`
		ORDER BY n.nspname, c.relname`, pgx.RowToStructByPos[tableRow], db.Schemas)
	if err != nil {
		return fmt.Errorf("catalog: tables: %w", err)
	}
	byOID := map[uint32]*Table{}
	oids := make([]uint32, 0, len(rows))
	for _, r := range rows {
		t := &Table{Schema: r.Schema, Name: r.Name, Comment: r.Comment, Owner: r.Owner, RowSecurity: r.RLS, ForceRLS: r.Force}
		db.Tables = append(db.Tables, t)
		byOID[r.OID] = t
		oids = append(oids, r.OID)
	}
	if len(oids) == 0 {
		return nil
	}

	type colRow struct {
		Rel                                              uint32
		Name, Type                                       string
		NotNull                                          bool
		Default, Identity, Generated, Collation, Comment string
	}
	cols, err := collect(ctx, q, `SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
			CASE WHEN a.attgenerated = '' THEN coalesce(pg_get_expr(d.adbin, d.adrelid), '') ELSE '' END,
			CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' ELSE '' END,
			CASE WHEN a.attgenerated <> '' THEN coalesce(pg_get_expr(d.adbin, d.adrelid), '') ELSE '' END,
			coalesce((SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
				FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
				WHERE co.oid = a.attcollation AND a.attcollation <> ty.typcollation), ''),
			coalesce(col_description(a.attrelid, a.attnum), '')
		FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		JOIN pg_type ty ON ty.oid = a.atttypid
		WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attrelid, a.attnum`, pgx.RowToStructByPos[colRow], oids)
	if err != nil {
		return fmt.Errorf("catalog: columns: %w", err)
	}
	for _, c := range cols {
		t := byOID[c.Rel]
		t.Columns = append(t.Columns, Column{Name: c.Name, Type: c.Type, NotNull: c.NotNull, Default: c.Default,
			Identity: c.Identity, Generated: c.Generated, Collation: c.Collation, Comment: c.Comment})
	}

	type useRow struct {
		Rel    uint32
		Column string
		Views  []string
	}
	uses, err := collect(ctx, q, `SELECT d.refobjid, a.attname,
			array_agg(DISTINCT vn.nspname || '.' || v.relname ORDER BY vn.nspname || '.' || v.relname)
		FROM pg_depend d
		JOIN pg_rewrite r ON r.oid = d.objid
		JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
		JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
		  AND d.refobjid = ANY($1) AND d.refobjsubid > 0 AND v.oid <> d.refobjid
		GROUP BY 1, 2`, pgx.RowToStructByPos[useRow], oids)
	if err != nil {
		return fmt.Errorf("catalog: views: %w", err)
	}
	for _, u := range uses {
		if c := byOID[u.Rel].Column(u.Column); c != nil {
			c.UsedBy = u.Views
		}
	}

	type conRow struct {
		Rel                 uint32
		Name, Type, Def     string
		RefSchema, RefTable string
	}
	cons, err := collect(ctx, q, `SELECT c.conrelid, c.conname, c.contype::text, pg_get_constraintdef(c.oid, true),
			coalesce(rn.nspname, ''), coalesce(r.relname, '')
		FROM pg_constraint c
		LEFT JOIN pg_class r ON r.oid = c.confrelid LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
		WHERE c.conrelid = ANY($1) AND c.contype IN ('p', 'u', 'f', 'c', 'x')
		ORDER BY c.conrelid, c.conname`, pgx.RowToStructByPos[conRow], oids)
	if err != nil {
		return fmt.Errorf("catalog: constraints: %w", err)
	}
	for _, c := range cons {
		t := byOID[c.Rel]
		t.Constraints = append(t.Constraints, Constraint{Name: c.Name, Type: c.Type, Def: c.Def,
			RefSchema: c.RefSchema, RefTable: c.RefTable})
	}

	type idxRow struct {
		Rel       uint32
		Name, Def string
	}
	type ixRow struct {
		Rel       uint32
		Name, Def string
		Invalid   bool
	}
	idxs, err := collect(ctx, q, `SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid), NOT i.indisvalid
		FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
		WHERE i.indrelid = ANY($1)
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
		ORDER BY i.indrelid, ic.relname`, pgx.RowToStructByPos[ixRow], oids)
	if err != nil {
		return fmt.Errorf("catalog: indexes: %w", err)
	}
	for _, r := range idxs {
		t := byOID[r.Rel]
		t.Indexes = append(t.Indexes, Index{Name: r.Name, Def: r.Def, Invalid: r.Invalid})
	}

	trgs, err := collect(ctx, q, `SELECT tgrelid, tgname, pg_get_triggerdef(oid)
		FROM pg_trigger WHERE tgrelid = ANY($1) AND NOT tgisinternal
		ORDER BY tgrelid, tgname`, pgx.RowToStructByPos[idxRow], oids)
	if err != nil {
		return fmt.Errorf("catalog: triggers: %w", err)
	}
	for _, r := range trgs {
		t := byOID[r.Rel]
		t.Triggers = append(t.Triggers, Trigger{Name: r.Name, Def: r.Def})
	}

	type polRow struct {
		Rel              uint32
		Name             string
		Permissive       bool
		Command          string
		Roles            []string
		Using, WithCheck string
	}
	pols, err := collect(ctx, q, `SELECT p.polrelid, p.polname, p.polpermissive,
			CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
			ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END FROM unnest(p.polroles) r ORDER BY 1),
			coalesce(pg_get_expr(p.polqual, p.polrelid), ''), coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
		FROM pg_policy p WHERE p.polrelid = ANY($1)
		ORDER BY p.polrelid, p.polname`, pgx.RowToStructByPos[polRow], oids)
	if err != nil {
		return fmt.Errorf("catalog: policies: %w", err)
	}
	for _, r := range pols {
		t := byOID[r.Rel]
		t.Policies = append(t.Policies, Policy{Name: r.Name, Permissive: r.Permissive, Command: r.Command,
			Roles: r.Roles, Using: r.Using, WithCheck: r.WithCheck})
	}

	type grantRow struct {
		Rel                uint32
		Grantee, Privilege string
	}
	grants, err := collect(ctx, q, `SELECT c.oid, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END,
			a.privilege_type
		FROM pg_class c, aclexplode(c.relacl) a
		WHERE c.oid = ANY($1) AND a.grantee <> c.relowner
		ORDER BY 1, 2, 3`, pgx.RowToStructByPos[grantRow], oids)
	if err != nil {
		return fmt.Errorf("catalog: grants: %w", err)
	}
	for _, g := range grants {
		t := byOID[g.Rel]
		t.Grants = append(t.Grants, Grant{Grantee: g.Grantee, Privilege: g.Privilege})
	}
	return nil
}

func inspectEnums(ctx context.Context, q Querier, db *Database) error {
	type enumRow struct {
		Schema, Name string
		Values       []string
	}
	rows, err := collect(ctx, q, `SELECT n.nspname, t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
		WHERE n.nspname = ANY($1) AND `+fmt.Sprintf(notExtension, "t.oid")+`
		GROUP BY 1, 2 ORDER BY 1, 2`, pgx.RowToStructByPos[enumRow], db.Schemas)
	if err != nil {
		return fmt.Errorf("catalog: enums: %w", err)
	}
	for _, r := range rows {
		db.Enums = append(db.Enums, Enum(r))
	}
	return nil
}

func inspectDomains(ctx context.Context, q Querier, db *Database) error {
	rows, err := collect(ctx, q, `SELECT n.nspname, t.typname, 'CREATE DOMAIN ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) ||
			' AS ' || format_type(t.typbasetype, t.typtypmod) ||
			coalesce(' COLLATE ' || (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co
				JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation AND t.typcollation <> bt.typcollation), '') ||
			coalesce(' DEFAULT ' || t.typdefault, '') || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END ||
			coalesce((SELECT string_agg(' CONSTRAINT ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid), '' ORDER BY k.conname)
				FROM pg_constraint k WHERE k.contypid = t.oid), '')
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_type bt ON bt.oid = t.typbasetype
		WHERE t.typtype = 'd' AND n.nspname = ANY($1) AND `+fmt.Sprintf(notExtension, "t.oid")+`
		ORDER BY 1, 2`, pgx.RowToStructByPos[Domain], db.Schemas)
	if err != nil {
		return fmt.Errorf("catalog: domains: %w", err)
	}
	db.Domains = rows
	return nil
}

func inspectFunctions(ctx context.Context, q Querier, db *Database) error {
	type fnRow struct {
		Schema, Name, Args, Def string
	}
	rows, err := collect(ctx, q, `SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = ANY($1) AND p.prokind = 'f' AND `+fmt.Sprintf(notExtension, "p.oid")+`
		ORDER BY 1, 2, 3`, pgx.RowToStructByPos[fnRow], db.Schemas)
	if err != nil {
		return fmt.Errorf("catalog: functions: %w", err)
	}
	for _, r := range rows {
		db.Functions = append(db.Functions, Function(r))
	}
	return nil
}

// Equal reports whether two policies have the same definition.
func (p Policy) Equal(o Policy) bool {
	return p.Name == o.Name && p.Permissive == o.Permissive && p.Command == o.Command &&
		slices.Equal(p.Roles, o.Roles) && p.Using == o.Using && p.WithCheck == o.WithCheck
}

// String renders the database compactly, one object a line; two databases
// with equal strings have equal inspected state. Useful in test failures.
func (d *Database) String() string {
	var b strings.Builder
	for _, s := range d.Schemas {
		fmt.Fprintf(&b, "schema %s\n", s)
	}
	for _, e := range d.Enums {
		fmt.Fprintf(&b, "enum %s.%s %q\n", e.Schema, e.Name, e.Values)
	}
	for _, dm := range d.Domains {
		fmt.Fprintf(&b, "domain %s.%s %s\n", dm.Schema, dm.Name, dm.Def)
	}
	for _, f := range d.Functions {
		fmt.Fprintf(&b, "function %s.%s(%s)\n", f.Schema, f.Name, f.Args)
	}
	for _, t := range d.Tables {
		fmt.Fprintf(&b, "table %s.%s rls=%v force=%v comment=%q\n", t.Schema, t.Name, t.RowSecurity, t.ForceRLS, t.Comment)
		for _, c := range t.Columns {
			fmt.Fprintf(&b, "  column %s %s notnull=%v default=%q identity=%q generated=%q collation=%q comment=%q\n",
				c.Name, c.Type, c.NotNull, c.Default, c.Identity, c.Generated, c.Collation, c.Comment)
		}
		for _, c := range t.Constraints {
			fmt.Fprintf(&b, "  constraint %s %s %s\n", c.Name, c.Type, c.Def)
		}
		for _, i := range t.Indexes {
			invalid := ""
			if i.Invalid {
				invalid = " (invalid)"
			}
			fmt.Fprintf(&b, "  index %s %s%s\n", i.Name, i.Def, invalid)
		}
		for _, tr := range t.Triggers {
			fmt.Fprintf(&b, "  trigger %s %s\n", tr.Name, tr.Def)
		}
		for _, p := range t.Policies {
			fmt.Fprintf(&b, "  policy %s %v %s %q using=%q check=%q\n", p.Name, p.Permissive, p.Command, p.Roles, p.Using, p.WithCheck)
		}
		for _, g := range t.Grants {
			fmt.Fprintf(&b, "  grant %s %s\n", g.Grantee, g.Privilege)
		}
	}
	return b.String()
}

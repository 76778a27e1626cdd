package migrate

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/sqlbuild"
)

// Change is one step of a plan: a statement with what the planner knows
// about its risk.
type Change struct {
	emit.Statement
	// Destructive marks a change that can lose data: dropping a table or
	// column, or a type change that is not a known widening.
	Destructive bool
	// NoTx marks a statement that cannot run in a transaction block
	// (CREATE INDEX CONCURRENTLY).
	NoTx bool
	// Lint lists the hazards of running the change on a live table.
	Lint []string
}

// Plan is the ordered list of changes that takes a database from one state
// to another.
type Plan struct {
	Changes []Change
	// Warnings are differences the plan cannot remove, such as an enum
	// label that is no longer declared.
	Warnings []string
}

// ErrDestructive is returned by [Plan.Check] when the plan holds
// destructive changes that were not allowed.
var ErrDestructive = errors.New("migrate: plan has destructive changes")

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool { return len(p.Changes) == 0 }

// Check returns an error naming every destructive change unless allow is
// set.
func (p Plan) Check(allow bool) error {
	if allow {
		return nil
	}
	var names []string
	for _, c := range p.Changes {
		if c.Destructive {
			names = append(names, c.Name+" ("+firstLine(c.SQL)+")")
		}
	}
	if len(names) == 0 {
		return nil
	}
	return fmt.Errorf("%w (allow them explicitly): %s", ErrDestructive, strings.Join(names, "; "))
}

// Lints returns every lint message of the plan, each prefixed by its
// change's name.
func (p Plan) Lints() []string {
	var out []string
	for _, c := range p.Changes {
		for _, l := range c.Lint {
			out = append(out, c.Name+": "+l)
		}
	}
	return out
}

// SQL renders the plan as a script; statements that must run outside a
// transaction are marked with a comment.
func (p Plan) SQL() string {
	var b strings.Builder
	for i, c := range p.Changes {
		if i > 0 {
			b.WriteString("\n")
		}
		for _, l := range c.Lint {
			b.WriteString("-- lint: " + l + "\n")
		}
		if c.Destructive {
			b.WriteString("-- destructive\n")
		}
		if c.NoTx {
			b.WriteString("-- uno:no-transaction\n")
		}
		b.WriteString(c.SQL + ";\n")
	}
	return b.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// Options tune the planner.
type Options struct {
	// DropUnknown drops tables, enums and functions of the live database that
	// the desired state lacks (destructive). Without it they are left alone.
	DropUnknown bool
	// Concurrent builds new indexes on existing tables with CREATE INDEX
	// CONCURRENTLY, outside the transaction, so writes are not blocked.
	Concurrent bool
}

// Diff returns the plan that takes live to desired. Both come from
// [catalog.Inspect]; desired is usually inspected from a scratch database
// where the emitted DDL of the models was run, so both are in the server's
// canonical form.
func Diff(live, desired *catalog.Database, opts Options) Plan {
	p := &planner{opts: opts}
	p.schemas(live, desired)
	p.enums(live, desired)
	p.functions(live, desired)
	var newTables []*catalog.Table
	for _, dt := range desired.Tables {
		if lt := live.Table(dt.Schema, dt.Name); lt == nil {
			newTables = append(newTables, dt)
			p.createTable(dt)
		}
	}
	// Foreign keys that change or go are dropped first, across every
	// table, and so are those that reference a table whose primary or
	// unique keys change (they depend on its key index); the latter are
	// added back with the new keys.
	p.rekeyed = map[string]bool{}
	for _, dt := range desired.Tables {
		lt := live.Table(dt.Schema, dt.Name)
		if lt == nil {
			continue
		}
		for _, lc := range lt.Constraints {
			if lc.Type != "p" && lc.Type != "u" {
				continue
			}
			if dc := findConstraint(dt, lc.Name); dc == nil || dc.Def != lc.Def || dc.Type != lc.Type {
				p.rekeyed[dt.Schema+"."+dt.Name] = true
			}
		}
	}
	for _, dt := range desired.Tables {
		if lt := live.Table(dt.Schema, dt.Name); lt != nil {
			p.dropConstraints(lt, dt, true)
		}
	}
	for _, dt := range desired.Tables {
		if lt := live.Table(dt.Schema, dt.Name); lt != nil {
			p.alterTable(lt, dt)
		}
	}
	// Foreign keys and indexes of new tables come after every table exists.
	for _, dt := range newTables {
		p.tableExtras(nil, dt)
	}
	for _, dt := range desired.Tables {
		if lt := live.Table(dt.Schema, dt.Name); lt != nil {
			p.tableExtras(lt, dt)
		}
	}
	if opts.DropUnknown {
		for _, lt := range live.Tables {
			if desired.Table(lt.Schema, lt.Name) == nil {
				p.add(Change{Statement: stmt(lt.Schema+"."+lt.Name, emit.KindTable,
					"DROP TABLE "+qt(lt)+" CASCADE"), Destructive: true})
			}
		}
		p.dropEnums(live, desired)
		p.dropFunctions(live, desired)
	}
	return Plan{Changes: p.out, Warnings: p.warnings}
}

type planner struct {
	opts     Options
	out      []Change
	warnings []string
	// dropped names the live policies and foreign keys the plan dropped
	// only to make a change possible; tableExtras creates them again.
	dropped map[string]bool
	// rekeyed names the tables whose primary or unique keys change.
	rekeyed map[string]bool
}

func (p *planner) markDropped(name string) {
	if p.dropped == nil {
		p.dropped = map[string]bool{}
	}
	p.dropped[name] = true
}

func (p *planner) add(c Change) { p.out = append(p.out, c) }

func stmt(name string, kind emit.Kind, sql string) emit.Statement {
	return emit.Statement{Name: name, Kind: kind, SQL: sql}
}

func qt(t *catalog.Table) string { return quote.Qualified(t.Schema, t.Name) }

func (p *planner) schemas(live, desired *catalog.Database) {
	for _, s := range desired.Schemas {
		if !slices.Contains(live.Schemas, s) {
			p.add(Change{Statement: stmt(s, emit.KindSchema, "CREATE SCHEMA IF NOT EXISTS "+quote.Ident(s))})
		}
	}
}

func findEnum(d *catalog.Database, schema, name string) *catalog.Enum {
	for i := range d.Enums {
		if d.Enums[i].Schema == schema && d.Enums[i].Name == name {
			return &d.Enums[i]
		}
	}
	return nil
}

func (p *planner) enums(live, desired *catalog.Database) {
	for _, de := range desired.Enums {
		name := de.Schema + "." + de.Name
		le := findEnum(live, de.Schema, de.Name)
		if le == nil {
			vals := make([]string, len(de.Values))
			for i, v := range de.Values {
				vals[i] = quote.Literal(v)
			}
			p.add(Change{Statement: stmt(name, emit.KindType,
				"CREATE TYPE "+quote.Qualified(de.Schema, de.Name)+" AS ENUM ("+strings.Join(vals, ", ")+")")})
			continue
		}
		// Add the labels live lacks, each after its desired predecessor.
		have := slices.Clone(le.Values)
		for i, v := range de.Values {
			if slices.Contains(have, v) {
				continue
			}
			pos := ""
			if i > 0 {
				pos = " AFTER " + quote.Literal(de.Values[i-1])
			} else if len(have) > 0 {
				pos = " BEFORE " + quote.Literal(have[0])
			}
			// Outside a transaction: a label added in a transaction cannot be
			// used (say, by a default) until it commits.
			p.add(Change{Statement: stmt(name, emit.KindType,
				"ALTER TYPE "+quote.Qualified(de.Schema, de.Name)+" ADD VALUE IF NOT EXISTS "+quote.Literal(v)+pos), NoTx: true})
			have = slices.Insert(have, min(i, len(have)), v)
		}
		for _, v := range le.Values {
			if !slices.Contains(de.Values, v) {
				p.warnings = append(p.warnings, "enum "+name+": label "+quote.Literal(v)+
					" is no longer declared, but PostgreSQL cannot drop an enum label; it stays")
			}
		}
	}
}

func (p *planner) dropEnums(live, desired *catalog.Database) {
	for _, le := range live.Enums {
		if findEnum(desired, le.Schema, le.Name) == nil {
			p.add(Change{Statement: stmt(le.Schema+"."+le.Name, emit.KindType,
				"DROP TYPE "+quote.Qualified(le.Schema, le.Name)), Destructive: true})
		}
	}
}

func (p *planner) functions(live, desired *catalog.Database) {
	for _, df := range desired.Functions {
		var lf *catalog.Function
		for i := range live.Functions {
			f := &live.Functions[i]
			if f.Schema == df.Schema && f.Name == df.Name && f.Args == df.Args {
				lf = f
			}
		}
		if lf == nil || lf.Def != df.Def {
			p.add(Change{Statement: stmt(df.Schema+"."+df.Name, emit.KindFunction, strings.TrimRight(df.Def, "\n; "))})
		}
	}
}

func hasFunction(d *catalog.Database, f catalog.Function) bool {
	for _, g := range d.Functions {
		if g.Schema == f.Schema && g.Name == f.Name && g.Args == f.Args {
			return true
		}
	}
	return false
}

func (p *planner) dropFunctions(live, desired *catalog.Database) {
	for _, lf := range live.Functions {
		if !hasFunction(desired, lf) {
			p.add(Change{Statement: stmt(lf.Schema+"."+lf.Name, emit.KindFunction,
				"DROP FUNCTION "+quote.Qualified(lf.Schema, lf.Name)+"("+lf.Args+")"), Destructive: true})
		}
	}
}

// columnSQL renders a column definition from its inspected state.
func columnSQL(c catalog.Column) string {
	s := quote.Ident(c.Name) + " " + c.Type
	switch {
	case c.Generated != "":
		s += " GENERATED ALWAYS AS (" + c.Generated + ") STORED"
	case c.Identity == "always":
		s += " GENERATED ALWAYS AS IDENTITY"
	case c.Identity == "by default":
		s += " GENERATED BY DEFAULT AS IDENTITY"
	case c.Default != "":
		s += " DEFAULT " + c.Default
	}
	if c.NotNull {
		s += " NOT NULL"
	}
	return s
}

func (p *planner) createTable(t *catalog.Table) {
	var parts []string
	for _, c := range t.Columns {
		parts = append(parts, "    "+columnSQL(c))
	}
	for _, c := range t.Constraints {
		if c.Type != "f" {
			parts = append(parts, "    CONSTRAINT "+quote.Ident(c.Name)+" "+c.Def)
		}
	}
	p.add(Change{Statement: stmt(t.Schema+"."+t.Name, emit.KindTable,
		"CREATE TABLE "+qt(t)+" (\n"+strings.Join(parts, ",\n")+"\n)")})
	p.tableProps(nil, t)
}

// tableProps sets comments, row-level security and grants.
func (p *planner) tableProps(lt, dt *catalog.Table) {
	name := dt.Schema + "." + dt.Name
	if lt == nil && dt.Comment != "" || lt != nil && lt.Comment != dt.Comment {
		p.add(Change{Statement: stmt(name, emit.KindComment, "COMMENT ON TABLE "+qt(dt)+" IS "+nullableLiteral(dt.Comment))})
	}
	for _, c := range dt.Columns {
		var lc *catalog.Column
		if lt != nil {
			lc = lt.Column(c.Name)
		}
		if lc == nil && c.Comment != "" || lc != nil && lc.Comment != c.Comment {
			p.add(Change{Statement: stmt(name+"."+c.Name, emit.KindComment,
				"COMMENT ON COLUMN "+qt(dt)+"."+quote.Ident(c.Name)+" IS "+nullableLiteral(c.Comment))})
		}
	}
	liveRLS, liveForce := false, false
	if lt != nil {
		liveRLS, liveForce = lt.RowSecurity, lt.ForceRLS
	}
	if dt.RowSecurity != liveRLS {
		p.add(Change{Statement: stmt(name, emit.KindPolicy, "ALTER TABLE "+qt(dt)+" "+
			map[bool]string{true: "ENABLE", false: "DISABLE"}[dt.RowSecurity]+" ROW LEVEL SECURITY")})
	}
	if dt.ForceRLS != liveForce {
		p.add(Change{Statement: stmt(name, emit.KindPolicy, "ALTER TABLE "+qt(dt)+" "+
			map[bool]string{true: "FORCE", false: "NO FORCE"}[dt.ForceRLS]+" ROW LEVEL SECURITY")})
	}
	var liveGrants []catalog.Grant
	if lt != nil {
		liveGrants = lt.Grants
	}
	for _, g := range dt.Grants {
		if !slices.Contains(liveGrants, g) {
			p.add(Change{Statement: stmt(name, emit.KindGrant, "GRANT "+g.Privilege+" ON "+qt(dt)+" TO "+grantee(g.Grantee))})
		}
	}
	for _, g := range liveGrants {
		if !slices.Contains(dt.Grants, g) {
			p.add(Change{Statement: stmt(name, emit.KindGrant, "REVOKE "+g.Privilege+" ON "+qt(dt)+" FROM "+grantee(g.Grantee))})
		}
	}
}

func grantee(g string) string {
	if g == "PUBLIC" {
		return g
	}
	return quote.Ident(g)
}

func nullableLiteral(s string) string {
	if s == "" {
		return "NULL"
	}
	return quote.Literal(s)
}

func findConstraint(t *catalog.Table, name string) *catalog.Constraint {
	for i := range t.Constraints {
		if t.Constraints[i].Name == name {
			return &t.Constraints[i]
		}
	}
	return nil
}

// dropConstraints drops lt's foreign keys (fks) or its other constraints
// that changed or are gone in dt.
func (p *planner) dropConstraints(lt, dt *catalog.Table, fks bool) {
	name := dt.Schema + "." + dt.Name
	for _, lc := range lt.Constraints {
		if (lc.Type == "f") != fks {
			continue
		}
		dc := findConstraint(dt, lc.Name)
		changed := dc == nil || dc.Def != lc.Def || dc.Type != lc.Type
		if !changed && fks && p.rekeyed[lc.RefSchema+"."+lc.RefTable] {
			changed = true
			p.markDropped(name + "." + lc.Name)
		}
		if changed {
			p.add(Change{Statement: stmt(name+"."+lc.Name, emit.KindConstraint,
				"ALTER TABLE "+qt(dt)+" DROP CONSTRAINT "+quote.Ident(lc.Name))})
		}
	}
}

// alterTable changes columns and drops what changed; tableExtras later adds
// constraints, indexes, triggers and policies.
func (p *planner) alterTable(lt, dt *catalog.Table) {
	name := dt.Schema + "." + dt.Name
	alter := "ALTER TABLE " + qt(dt) + " "
	// Drop the constraints, indexes, triggers and policies that changed or
	// are gone (foreign keys went in Diff's first pass).
	p.dropConstraints(lt, dt, false)
	for _, li := range lt.Indexes {
		if !slices.Contains(dt.Indexes, li) {
			p.add(Change{Statement: stmt(name+"."+li.Name, emit.KindIndex, "DROP INDEX "+quote.Qualified(dt.Schema, li.Name))})
		}
	}
	for _, ltr := range lt.Triggers {
		if !slices.Contains(dt.Triggers, ltr) {
			p.add(Change{Statement: stmt(name+"."+ltr.Name, emit.KindTrigger, "DROP TRIGGER "+quote.Ident(ltr.Name)+" ON "+qt(dt))})
		}
	}
	// PostgreSQL refuses to change the type of a column a policy uses: when
	// any column changes type, every policy goes and comes back after.
	retyped := false
	for _, dc := range dt.Columns {
		if lc := lt.Column(dc.Name); lc != nil && lc.Type != dc.Type {
			retyped = true
		}
	}
	for _, lp := range lt.Policies {
		if retyped || !slices.ContainsFunc(dt.Policies, lp.Equal) {
			p.add(Change{Statement: stmt(name+"."+lp.Name, emit.KindPolicy, "DROP POLICY "+quote.Ident(lp.Name)+" ON "+qt(dt))})
			if retyped {
				p.markDropped(name + "." + lp.Name)
			}
		}
	}
	for _, dc := range dt.Columns {
		lc := lt.Column(dc.Name)
		col := quote.Ident(dc.Name)
		cname := name + "." + dc.Name
		if lc == nil {
			c := Change{Statement: stmt(cname, emit.KindTable, alter+"ADD COLUMN "+columnSQL(dc))}
			if dc.NotNull && dc.Default == "" && dc.Identity == "" && dc.Generated == "" {
				c.Lint = append(c.Lint, "ADD COLUMN … NOT NULL without a default fails on a table that has rows")
			}
			if dc.Generated != "" || volatileDefault(dc.Default) {
				c.Lint = append(c.Lint, "the column's default or expression rewrites the whole table under an exclusive lock")
			}
			p.add(c)
			continue
		}
		if lc.Generated != dc.Generated {
			if lc.Generated != "" && dc.Generated == "" {
				p.add(Change{Statement: stmt(cname, emit.KindTable, alter+"ALTER COLUMN "+col+" DROP EXPRESSION"),
					Lint: []string{"DROP EXPRESSION rewrites the table under an exclusive lock"}})
			} else {
				// A new or changed expression: the column is made again.
				p.add(Change{Statement: stmt(cname, emit.KindTable, alter+"DROP COLUMN "+col), Destructive: true})
				p.add(Change{Statement: stmt(cname, emit.KindTable, alter+"ADD COLUMN "+columnSQL(dc)),
					Lint: []string{"a generated column is computed for every row under an exclusive lock"}})
				continue
			}
		}
		if lc.Type != dc.Type {
			if lc.Default != "" {
				// The old default may not cast to the new type; the new
				// default is set below.
				p.add(Change{Statement: stmt(cname, emit.KindTable, alter+"ALTER COLUMN "+col+" DROP DEFAULT")})
				lc = &catalog.Column{Name: lc.Name, Type: lc.Type, NotNull: lc.NotNull, Identity: lc.Identity,
					Generated: lc.Generated, Comment: lc.Comment}
			}
			sql := alter + "ALTER COLUMN " + col + " TYPE " + dc.Type
			if dc.Generated == "" {
				sql += " USING " + col + "::" + dc.Type
			}
			c := Change{Statement: stmt(cname, emit.KindTable, sql)}
			c.Lint = append(c.Lint, "column type change from "+lc.Type+" to "+dc.Type+
				": may rewrite the table and blocks reads and writes while it runs")
			if !widening(lc.Type, dc.Type) {
				c.Destructive = true
			}
			p.add(c)
		}
		if lc.Identity != dc.Identity {
			switch {
			case lc.Identity != "" && dc.Identity != "":
				// Keep the sequence: only the kind changes.
				p.add(Change{Statement: stmt(cname, emit.KindTable, alter+"ALTER COLUMN "+col+" SET GENERATED "+
					strings.ToUpper(dc.Identity))})
			case lc.Identity != "":
				p.add(Change{Statement: stmt(cname, emit.KindTable, alter+"ALTER COLUMN "+col+" DROP IDENTITY")})
			default:
				if lc.Default != "" {
					// A serial column: its nextval default goes first.
					p.add(Change{Statement: stmt(cname, emit.KindTable, alter+"ALTER COLUMN "+col+" DROP DEFAULT")})
					lc = &catalog.Column{Name: lc.Name, Type: lc.Type, NotNull: lc.NotNull, Comment: lc.Comment}
				}
				p.add(Change{Statement: stmt(cname, emit.KindTable, alter+"ALTER COLUMN "+col+" ADD GENERATED "+
					strings.ToUpper(dc.Identity)+" AS IDENTITY")})
				// Start the new sequence past the rows already there.
				p.add(Change{Statement: stmt(cname, emit.KindTable, sqlbuild.DoBlock("EXECUTE format('ALTER TABLE %s ALTER COLUMN %I RESTART WITH %s', "+
					quote.Literal(qt(dt))+", "+quote.Literal(dc.Name)+", (SELECT coalesce(max("+col+"), 0) + 1 FROM "+qt(dt)+"));"))})
			}
		}
		if lc.Default != dc.Default && dc.Identity == "" && dc.Generated == "" {
			if dc.Default == "" {
				p.add(Change{Statement: stmt(cname, emit.KindTable, alter+"ALTER COLUMN "+col+" DROP DEFAULT")})
			} else {
				p.add(Change{Statement: stmt(cname, emit.KindTable, alter+"ALTER COLUMN "+col+" SET DEFAULT "+dc.Default)})
			}
		}
		if lc.NotNull != dc.NotNull {
			c := Change{Statement: stmt(cname, emit.KindTable, alter+"ALTER COLUMN "+col+
				map[bool]string{true: " SET NOT NULL", false: " DROP NOT NULL"}[dc.NotNull])}
			if dc.NotNull {
				c.Lint = append(c.Lint, "SET NOT NULL scans the whole table under an exclusive lock, and fails if a row holds NULL")
			}
			p.add(c)
		}
	}
	// Generated columns go before the columns they are computed from.
	for _, generated := range []bool{true, false} {
		for _, lc := range lt.Columns {
			if dt.Column(lc.Name) == nil && (lc.Generated != "") == generated {
				p.add(Change{Statement: stmt(name+"."+lc.Name, emit.KindTable, alter+"DROP COLUMN "+quote.Ident(lc.Name)),
					Destructive: true})
			}
		}
	}
	p.tableProps(lt, dt)
}

// tableExtras adds the constraints, indexes, triggers and policies that
// live (nil for a new table) lacks.
func (p *planner) tableExtras(lt, dt *catalog.Table) {
	name := dt.Schema + "." + dt.Name
	alter := "ALTER TABLE " + qt(dt) + " "
	for _, pass := range []bool{false, true} { // foreign keys last
		for _, dc := range dt.Constraints {
			if (dc.Type == "f") != pass || (lt == nil && dc.Type != "f") {
				continue
			}
			if lt != nil && !p.dropped[name+"."+dc.Name] {
				if lc := findConstraint(lt, dc.Name); lc != nil && lc.Def == dc.Def && lc.Type == dc.Type {
					continue
				}
			}
			c := Change{Statement: stmt(name+"."+dc.Name, emit.KindConstraint, alter+"ADD CONSTRAINT "+quote.Ident(dc.Name)+" "+dc.Def)}
			if lt != nil {
				switch dc.Type {
				case "f", "c":
					c.Lint = append(c.Lint, "ADD CONSTRAINT validates every row while holding a lock that blocks writes (consider NOT VALID, then VALIDATE)")
				case "p", "u":
					c.Lint = append(c.Lint, "ADD CONSTRAINT builds a unique index while blocking writes (consider CREATE UNIQUE INDEX CONCURRENTLY, then USING INDEX)")
				}
			}
			p.add(c)
		}
	}
	for _, di := range dt.Indexes {
		if lt != nil && slices.Contains(lt.Indexes, di) {
			continue
		}
		c := Change{Statement: stmt(name+"."+di.Name, emit.KindIndex, di.Def)}
		if lt != nil {
			if p.opts.Concurrent {
				c.SQL = concurrently(di.Def)
				c.NoTx = true
			} else {
				c.Lint = append(c.Lint, "CREATE INDEX without CONCURRENTLY on an existing table blocks writes while it builds")
			}
		}
		p.add(c)
	}
	for _, dtr := range dt.Triggers {
		if lt == nil || !slices.Contains(lt.Triggers, dtr) {
			p.add(Change{Statement: stmt(name+"."+dtr.Name, emit.KindTrigger, dtr.Def)})
		}
	}
	for _, dp := range dt.Policies {
		if lt == nil || p.dropped[name+"."+dp.Name] || !slices.ContainsFunc(lt.Policies, dp.Equal) {
			p.add(Change{Statement: stmt(name+"."+dp.Name, emit.KindPolicy, policySQL(dt, dp))})
		}
	}
}

var createIndexRE = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX `)

// concurrently rewrites a pg_get_indexdef statement to build concurrently.
func concurrently(def string) string {
	return createIndexRE.ReplaceAllString(def, "CREATE ${1}INDEX CONCURRENTLY ")
}

func policySQL(t *catalog.Table, pol catalog.Policy) string {
	s := "CREATE POLICY " + quote.Ident(pol.Name) + " ON " + qt(t)
	if !pol.Permissive {
		s += " AS RESTRICTIVE"
	}
	s += " FOR " + pol.Command
	roles := make([]string, len(pol.Roles))
	for i, r := range pol.Roles {
		if r == "public" {
			roles[i] = "PUBLIC"
		} else {
			roles[i] = quote.Ident(r)
		}
	}
	s += " TO " + strings.Join(roles, ", ")
	if pol.Using != "" {
		s += " USING (" + pol.Using + ")"
	}
	if pol.WithCheck != "" {
		s += " WITH CHECK (" + pol.WithCheck + ")"
	}
	return s
}

func volatileDefault(def string) bool {
	d := strings.ToLower(def)
	return strings.Contains(d, "random()") || strings.Contains(d, "generate_ulid()") ||
		strings.Contains(d, "gen_random_uuid()") || strings.Contains(d, "clock_timestamp()")
}

var varcharRE = regexp.MustCompile(`^character varying\((\d+)\)(\[\])?$`)
var numericRE = regexp.MustCompile(`^numeric\((\d+),(\d+)\)$`)

// widening reports whether changing a column from type a to b keeps every
// value: longer varchar, varchar to text, smaller to larger integers,
// larger numeric precision with the same scale, numeric(p,s) to numeric.
func widening(a, b string) bool {
	if ma, mb := varcharRE.FindStringSubmatch(a), varcharRE.FindStringSubmatch(b); ma != nil {
		if mb != nil && ma[2] == mb[2] {
			return atoi(mb[1]) >= atoi(ma[1])
		}
		return (b == "text" && ma[2] == "") || (b == "text[]" && ma[2] == "[]")
	}
	if a == "character varying" && b == "text" {
		return true
	}
	ints := []string{"smallint", "integer", "bigint"}
	ia, ib := slices.Index(ints, a), slices.Index(ints, b)
	if ia >= 0 && ib >= 0 {
		return ib >= ia
	}
	if ia >= 0 && b == "numeric" {
		return true
	}
	if ma := numericRE.FindStringSubmatch(a); ma != nil {
		if b == "numeric" {
			return true
		}
		if mb := numericRE.FindStringSubmatch(b); mb != nil {
			return ma[2] == mb[2] && atoi(mb[1]) >= atoi(ma[1])
		}
	}
	return a == "timestamp without time zone" && b == "timestamp with time zone"
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

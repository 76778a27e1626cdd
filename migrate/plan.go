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
	// DropUnknown drops tables, enums, domains and functions of the live database that
	// the desired state lacks (destructive). Without it they are left alone.
	// It implies DropUnmanaged: a plan that drops what it does not know
	// claims the tables it keeps whole, as a down plan does.
	DropUnknown bool
	// DropUnmanaged lets the plan remove, on the tables the desired state
	// has, what the desired state does not declare: other constraints and
	// indexes, triggers, policies, row-level security, grants, defaults,
	// generated expressions, collations, deferrability. Every such change is
	// destructive and linted. Without it (the default) they are left as
	// they are; see docs/MIGRATIONS.md.
	DropUnmanaged bool
	// Managed, when set, decides which live constraints and indexes of a
	// desired table the models own (and the plan may drop when the desired
	// state lacks them), in place of uno's naming convention (pk_, uq_,
	// fk_, ck_, ix_ followed by the table name).
	Managed func(schema, table, name string) bool
	// Concurrent builds new indexes on existing tables with CREATE INDEX
	// CONCURRENTLY, outside the transaction, so writes are not blocked.
	Concurrent bool
}

// Diff returns the plan that takes live to desired. Both come from
// [catalog.Inspect]; desired is usually inspected from a scratch database
// where the emitted DDL of the models was run, so both are in the server's
// canonical form.
//
// On the tables desired has, only what desired declares is managed: the
// objects of live that desired does not claim are kept (see
// [Options.DropUnmanaged]).
func Diff(live, desired *catalog.Database, opts Options) Plan {
	return diff(live, desired, opts, false)
}

// diff is [Diff]; reverse marks a plan that undoes another (see
// [Reverse]), whose removals take away only what the other added.
func diff(live, desired *catalog.Database, opts Options, reverse bool) Plan {
	opts.DropUnmanaged = opts.DropUnmanaged || opts.DropUnknown
	p := &planner{opts: opts, live: live, reverse: reverse, rekeyed: map[string]bool{}, dropped: map[string]bool{}}
	want := p.effective(live, desired)
	p.schemas(live, want)
	p.enums(live, want)
	p.domains(live, want)
	p.functions(live, want)
	var newTables, oldTables [][2]*catalog.Table
	for _, dt := range want.Tables {
		if lt := live.Table(dt.Schema, dt.Name); lt == nil {
			newTables = append(newTables, [2]*catalog.Table{nil, dt})
			p.createTable(dt)
		} else {
			oldTables = append(oldTables, [2]*catalog.Table{lt, dt})
		}
	}
	// Foreign keys that change or go are dropped first, across every
	// table, and so are those that reference a table whose primary or
	// unique keys change (they depend on its key index); the latter are
	// added back after the new keys.
	for _, pair := range oldTables {
		p.findRekeyed(pair[0], pair[1])
	}
	for _, pair := range oldTables {
		p.dropConstraints(pair[0], pair[1], true)
	}
	p.dropForeignFKs(live, want)
	for _, pair := range oldTables {
		p.alterTable(pair[0], pair[1])
	}
	// Keys first on every table, then the foreign keys that reference
	// them, then indexes, triggers and policies.
	all := append(oldTables, newTables...)
	for _, pair := range all {
		p.addConstraints(pair[0], pair[1], false)
	}
	for _, pair := range all {
		p.addConstraints(pair[0], pair[1], true)
	}
	p.restoreForeignFKs()
	for _, pair := range all {
		p.tableExtras(pair[0], pair[1])
	}
	if opts.DropUnknown {
		for _, lt := range live.Tables {
			if desired.Table(lt.Schema, lt.Name) == nil {
				p.add(Change{Statement: stmt(lt.Schema+"."+lt.Name, emit.KindTable,
					"DROP TABLE "+qt(lt)+" CASCADE"), Destructive: true})
			}
		}
		p.dropDomains(live, want)
		p.dropEnums(live, want)
		p.dropFunctions(live, want)
	}
	return Plan{Changes: p.out, Warnings: p.warnings}
}

type planner struct {
	opts     Options
	live     *catalog.Database
	reverse  bool
	out      []Change
	warnings []string
	// dropped names the live policies and foreign keys the plan dropped
	// only to make a change possible; later steps create them again.
	dropped map[string]bool
	// rekeyed names the tables whose primary or unique keys change.
	rekeyed map[string]bool
	// foreign are the foreign keys of tables outside the desired state
	// dropped because a key they reference changes; they come back after.
	foreign []foreignFK
}

type foreignFK struct {
	table *catalog.Table
	fk    catalog.Constraint
}

func (p *planner) add(c Change) { p.out = append(p.out, c) }

func stmt(name string, kind emit.Kind, sql string) emit.Statement {
	return emit.Statement{Name: name, Kind: kind, SQL: sql}
}

func qt(t *catalog.Table) string { return quote.Qualified(t.Schema, t.Name) }

func alter(t *catalog.Table, action string) string {
	return sqlbuild.AlterTable(t.Schema, t.Name, action)
}

func tableName(t *catalog.Table) string { return t.Schema + "." + t.Name }

// removal returns a change that removes or weakens what of live the
// desired state does not declare: with [Options.DropUnmanaged] on an
// object the models do not own, it is destructive and linted.
func (p *planner) removal(lt *catalog.Table, name string, kind emit.Kind, sql, what string, owned bool) Change {
	c := Change{Statement: stmt(name, kind, sql)}
	if !owned && !p.reverse {
		c.Destructive = true
		c.Lint = append(c.Lint, what+" of "+tableName(lt)+" is not declared by the models: the plan removes it")
	}
	return c
}

// owned reports whether the models own the live constraint or index name
// of lt (by the naming convention or [Options.Managed]).
func (p *planner) owned(lt *catalog.Table, name string) bool {
	if p.opts.Managed != nil {
		return p.opts.Managed(lt.Schema, lt.Name, name)
	}
	return conventionName(lt.Name, name)
}

func findConstraint(t *catalog.Table, name string) *catalog.Constraint {
	for i := range t.Constraints {
		if t.Constraints[i].Name == name {
			return &t.Constraints[i]
		}
	}
	return nil
}

func sameConstraint(a, b *catalog.Constraint) bool {
	return a != nil && b != nil && a.Def == b.Def && a.Type == b.Type
}

// findRekeyed notes dt when one of its primary or unique keys changes.
func (p *planner) findRekeyed(lt, dt *catalog.Table) {
	for _, lc := range lt.Constraints {
		if (lc.Type == "p" || lc.Type == "u") && !sameConstraint(&lc, findConstraint(dt, lc.Name)) {
			p.rekeyed[tableName(dt)] = true
		}
	}
}

// dropConstraints drops lt's foreign keys (fks) or its other constraints
// that changed or are gone in dt.
func (p *planner) dropConstraints(lt, dt *catalog.Table, fks bool) {
	for _, lc := range lt.Constraints {
		if (lc.Type == "f") != fks {
			continue
		}
		dc := findConstraint(dt, lc.Name)
		name := tableName(dt) + "." + lc.Name
		sql := alter(dt, "DROP CONSTRAINT "+quote.Ident(lc.Name))
		switch {
		case dc == nil:
			p.add(p.removal(lt, name, emit.KindConstraint, sql, "constraint "+lc.Name, p.owned(lt, lc.Name)))
		case !sameConstraint(&lc, dc):
			c := Change{Statement: stmt(name, emit.KindConstraint, sql)}
			if withoutDeferrable(lc.Def) == dc.Def && lc.Def != dc.Def {
				c.Destructive = true
				c.Lint = append(c.Lint, "constraint "+lc.Name+" of "+tableName(lt)+" loses its deferrability")
			}
			p.add(c)
		case fks && p.rekeyed[lc.RefSchema+"."+lc.RefTable]:
			p.dropped[name] = true
			p.add(Change{Statement: stmt(name, emit.KindConstraint, sql)})
		}
	}
}

// dropForeignFKs drops the foreign keys of tables the desired state does
// not have that reference a table whose keys change: PostgreSQL refuses
// to drop a key index they depend on (2BP01). They are added back, as
// they were, once the new keys exist.
func (p *planner) dropForeignFKs(live, want *catalog.Database) {
	for _, lt := range live.Tables {
		if want.Table(lt.Schema, lt.Name) != nil {
			continue
		}
		for _, lc := range lt.Constraints {
			if lc.Type != "f" || !p.rekeyed[lc.RefSchema+"."+lc.RefTable] {
				continue
			}
			p.foreign = append(p.foreign, foreignFK{lt, lc})
			p.add(Change{Statement: stmt(tableName(lt)+"."+lc.Name, emit.KindConstraint, alter(lt, "DROP CONSTRAINT "+quote.Ident(lc.Name))),
				Lint: []string{"foreign key " + lc.Name + " of " + tableName(lt) + " (not in the models) references a key that changes: " +
					"it is dropped and added back after, and the plan fails if the new keys no longer fit it"}})
		}
	}
}

func (p *planner) restoreForeignFKs() {
	for _, f := range p.foreign {
		p.add(Change{Statement: stmt(tableName(f.table)+"."+f.fk.Name, emit.KindConstraint,
			alter(f.table, "ADD "+sqlbuild.TableConstraint{Name: f.fk.Name, Def: f.fk.Def}.SQL()))})
	}
}

// alterTable drops what changed or went on an existing table, changes its
// columns and sets its properties; addConstraints and tableExtras later
// add what is new.
func (p *planner) alterTable(lt, dt *catalog.Table) {
	p.dropConstraints(lt, dt, false)
	p.dropIndexesAndTriggers(lt, dt)
	p.dropPolicies(lt, dt)
	p.alterColumns(lt, dt)
	p.dropColumns(lt, dt)
	p.tableProps(lt, dt)
}

func (p *planner) dropIndexesAndTriggers(lt, dt *catalog.Table) {
	name := tableName(dt)
	for _, li := range lt.Indexes {
		if !slices.Contains(dt.Indexes, li) {
			gone := !slices.ContainsFunc(dt.Indexes, func(x catalog.Index) bool { return x.Name == li.Name })
			p.add(p.removal(lt, name+"."+li.Name, emit.KindIndex, "DROP INDEX "+quote.Qualified(dt.Schema, li.Name),
				"index "+li.Name, !gone || p.owned(lt, li.Name)))
		}
	}
	for _, ltr := range lt.Triggers {
		if !slices.Contains(dt.Triggers, ltr) {
			gone := !slices.ContainsFunc(dt.Triggers, func(x catalog.Trigger) bool { return x.Name == ltr.Name })
			p.add(p.removal(lt, name+"."+ltr.Name, emit.KindTrigger, "DROP TRIGGER "+quote.Ident(ltr.Name)+" ON "+qt(dt),
				"trigger "+ltr.Name, !gone))
		}
	}
}

// dropPolicies drops the policies that changed or went. PostgreSQL
// refuses to change the type of a column a policy uses: when any column
// changes type, every policy goes and comes back after.
func (p *planner) dropPolicies(lt, dt *catalog.Table) {
	retyped := false
	for _, dc := range dt.Columns {
		if lc := lt.Column(dc.Name); lc != nil && lc.Type != dc.Type {
			retyped = true
		}
	}
	for _, lp := range lt.Policies {
		if !retyped && slices.ContainsFunc(dt.Policies, lp.Equal) {
			continue
		}
		name := tableName(dt) + "." + lp.Name
		gone := !slices.ContainsFunc(dt.Policies, func(x catalog.Policy) bool { return x.Name == lp.Name })
		p.add(p.removal(lt, name, emit.KindPolicy, "DROP POLICY "+quote.Ident(lp.Name)+" ON "+qt(dt), "policy "+lp.Name, !gone))
		if retyped && !gone {
			p.dropped[name] = true
		}
	}
}

// addConstraints adds the foreign keys (fks) or the other constraints
// that live (nil for a new table) lacks; a new table has its other
// constraints in its CREATE TABLE.
func (p *planner) addConstraints(lt, dt *catalog.Table, fks bool) {
	name := tableName(dt)
	for _, dc := range dt.Constraints {
		if (dc.Type == "f") != fks || (lt == nil && dc.Type != "f") {
			continue
		}
		if lt != nil && !p.dropped[name+"."+dc.Name] && sameConstraint(findConstraint(lt, dc.Name), &dc) {
			continue
		}
		c := Change{Statement: stmt(name+"."+dc.Name, emit.KindConstraint,
			alter(dt, "ADD "+sqlbuild.TableConstraint{Name: dc.Name, Def: dc.Def}.SQL()))}
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

// tableExtras adds the indexes, triggers and policies that live (nil for
// a new table) lacks.
func (p *planner) tableExtras(lt, dt *catalog.Table) {
	name := tableName(dt)
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
			sql, err := policySQL(dt, dp)
			if err != nil {
				p.warnings = append(p.warnings, "policy "+dp.Name+" of "+name+" cannot be rendered: "+err.Error())
				continue
			}
			p.add(Change{Statement: stmt(name+"."+dp.Name, emit.KindPolicy, sql)})
		}
	}
}

var createIndexRE = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX `)

// concurrently rewrites a pg_get_indexdef statement to build concurrently.
func concurrently(def string) string {
	return createIndexRE.ReplaceAllString(def, "CREATE ${1}INDEX CONCURRENTLY ")
}

func volatileDefault(def string) bool {
	d := strings.ToLower(def)
	return strings.Contains(d, "random()") || strings.Contains(d, "generate_ulid()") ||
		strings.Contains(d, "gen_random_uuid()") || strings.Contains(d, "clock_timestamp()")
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

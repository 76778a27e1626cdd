package migrate

import (
	"regexp"
	"slices"
	"strings"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/sqlbuild"
)

// Tables and columns: CREATE TABLE, column changes, table properties.

func (p *planner) createTable(t *catalog.Table) {
	for _, c := range t.Columns {
		if seq := sequenceOf(c.Default); seq != "" {
			p.createSequence(c, seq)
		}
	}
	p.add(Change{Statement: stmt(tableName(t), emit.KindTable, tableDef(t).SQL())})
	for _, c := range t.Columns {
		if seq := sequenceOf(c.Default); seq != "" {
			p.ownSequence(t, c, seq)
		}
	}
	p.tableProps(nil, t)
}

// alterColumns adds the columns live lacks and changes those that differ.
func (p *planner) alterColumns(lt, dt *catalog.Table) {
	for _, dc := range dt.Columns {
		if lc := lt.Column(dc.Name); lc == nil {
			p.addColumn(dt, dc)
		} else {
			p.alterColumn(lt, dt, *lc, dc)
		}
	}
}

func (p *planner) addColumn(dt *catalog.Table, dc catalog.Column) {
	c := Change{Statement: stmt(tableName(dt)+"."+dc.Name, emit.KindTable, alter(dt, "ADD COLUMN "+columnDef(dc).SQL()))}
	if dc.NotNull && dc.Default == "" && dc.Identity == "" && dc.Generated == "" {
		c.Lint = append(c.Lint, "ADD COLUMN … NOT NULL without a default fails on a table that has rows")
	}
	if dc.Generated != "" || volatileDefault(dc.Default) {
		c.Lint = append(c.Lint, "the column's default or expression rewrites the whole table under an exclusive lock")
	}
	seq := sequenceOf(dc.Default)
	if seq != "" {
		p.createSequence(dc, seq)
	}
	p.add(c)
	if seq != "" {
		p.ownSequence(dt, dc, seq)
	}
}

// alterColumn changes one existing column: generated expression, type and
// collation, identity, default, nullability, in that order.
func (p *planner) alterColumn(lt, dt *catalog.Table, lc, dc catalog.Column) {
	if p.changeGenerated(lt, dt, lc, dc) {
		return
	}
	lc = p.changeType(lt, dt, lc, dc)
	lc = p.changeIdentity(dt, lc, dc)
	p.changeDefault(lt, dt, lc, dc)
	if lc.NotNull != dc.NotNull {
		c := Change{Statement: stmt(tableName(dt)+"."+dc.Name, emit.KindTable, alter(dt, "ALTER COLUMN "+quote.Ident(dc.Name)+
			map[bool]string{true: " SET NOT NULL", false: " DROP NOT NULL"}[dc.NotNull]))}
		if dc.NotNull {
			c.Lint = append(c.Lint, "SET NOT NULL scans the whole table under an exclusive lock, and fails if a row holds NULL")
		}
		p.add(c)
	}
}

// changeGenerated handles a changed generated expression; it reports
// whether the column was made again (nothing else is left to change).
func (p *planner) changeGenerated(lt, dt *catalog.Table, lc, dc catalog.Column) bool {
	if lc.Generated == dc.Generated {
		return false
	}
	cname := tableName(dt) + "." + dc.Name
	col := quote.Ident(dc.Name)
	if dc.Generated == "" {
		c := Change{Statement: stmt(cname, emit.KindTable, alter(dt, "ALTER COLUMN "+col+" DROP EXPRESSION")), Destructive: true,
			Lint: []string{"DROP EXPRESSION on " + cname + ": its values are no longer computed and go stale; it rewrites the table under an exclusive lock"}}
		p.add(c)
		return false
	}
	// A new or changed expression: the column is made again.
	p.add(Change{Statement: stmt(cname, emit.KindTable, alter(dt, "DROP COLUMN "+col)), Destructive: true,
		Lint: p.viewLint(lt, lc)})
	p.add(Change{Statement: stmt(cname, emit.KindTable, alter(dt, "ADD COLUMN "+columnDef(dc).SQL())),
		Lint: []string{"a generated column is computed for every row under an exclusive lock"}})
	return true
}

// changeType changes the type or collation of a column and returns live's
// column as it is afterwards.
func (p *planner) changeType(lt, dt *catalog.Table, lc, dc catalog.Column) catalog.Column {
	if lc.Type == dc.Type && lc.Collation == dc.Collation {
		return lc
	}
	cname := tableName(dt) + "." + dc.Name
	col := quote.Ident(dc.Name)
	if lc.Default != "" && lc.Type != dc.Type {
		// The old default may not cast to the new type; the default is
		// set again afterwards.
		p.add(Change{Statement: stmt(cname, emit.KindTable, alter(dt, "ALTER COLUMN "+col+" DROP DEFAULT"))})
		lc.Default = ""
	}
	action := "ALTER COLUMN " + col + " TYPE " + dc.Type
	if dc.Collation != "" {
		action += " COLLATE " + dc.Collation
	}
	if dc.Generated == "" && needsUsing(lc.Type, dc.Type) {
		// Only where no assignment cast exists: an explicit cast would
		// truncate (varchar(n)) where a plain ALTER fails.
		action += " USING " + col + "::" + dc.Type
	}
	c := Change{Statement: stmt(cname, emit.KindTable, alter(dt, action)), Lint: p.viewLint(lt, lc)}
	if lc.Type != dc.Type {
		c.Lint = append(c.Lint, "column type change from "+lc.Type+" to "+dc.Type+
			": may rewrite the table and blocks reads and writes while it runs")
		c.Destructive = !widening(lc.Type, dc.Type)
	}
	if lc.Collation != dc.Collation {
		c.Lint = append(c.Lint, "collation of "+cname+" changes from "+orDefault(lc.Collation)+" to "+orDefault(dc.Collation)+
			": indexes on it are rebuilt and sort order changes")
		if lc.Collation != "" && dc.Collation == "" {
			c.Destructive = true
		}
	}
	p.add(c)
	lc.Type, lc.Collation = dc.Type, dc.Collation
	return lc
}

func orDefault(collation string) string {
	if collation == "" {
		return "the default"
	}
	return collation
}

// viewLint warns that a view uses the column: PostgreSQL refuses to alter
// or drop it until the view is dropped.
func (p *planner) viewLint(lt *catalog.Table, lc catalog.Column) []string {
	if len(lc.UsedBy) == 0 {
		return nil
	}
	return []string{"column " + tableName(lt) + "." + lc.Name + " is used by " + strings.Join(lc.UsedBy, ", ") +
		": PostgreSQL refuses to change or drop it while the view exists; drop and re-create the view around this migration"}
}

// changeIdentity changes the identity of a column and returns live's
// column as it is afterwards.
func (p *planner) changeIdentity(dt *catalog.Table, lc, dc catalog.Column) catalog.Column {
	if lc.Identity == dc.Identity {
		return lc
	}
	cname := tableName(dt) + "." + dc.Name
	col := quote.Ident(dc.Name)
	switch {
	case lc.Identity != "" && dc.Identity != "":
		// Keep the sequence: only the kind changes.
		p.add(Change{Statement: stmt(cname, emit.KindTable, alter(dt, "ALTER COLUMN "+col+" SET GENERATED "+strings.ToUpper(dc.Identity)))})
	case lc.Identity != "":
		p.add(Change{Statement: stmt(cname, emit.KindTable, alter(dt, "ALTER COLUMN "+col+" DROP IDENTITY"))})
	default:
		oldSeq := sequenceOf(lc.Default)
		if lc.Default != "" {
			// A serial column: its nextval default goes first.
			p.add(Change{Statement: stmt(cname, emit.KindTable, alter(dt, "ALTER COLUMN "+col+" DROP DEFAULT"))})
			lc.Default = ""
		}
		p.add(Change{Statement: stmt(cname, emit.KindTable, alter(dt, "ALTER COLUMN "+col+" ADD GENERATED "+
			strings.ToUpper(dc.Identity)+" AS IDENTITY"))})
		// The new sequence starts past the rows there and past every value
		// the old sequence handed out; the old sequence, owned by the
		// column, goes.
		next := "(SELECT coalesce(max(" + col + "), 0) + 1 FROM " + qt(dt) + ")"
		drop := ""
		if oldSeq != "" {
			seq := quote.Literal(oldSeq)
			next = "greatest(" + next + ", (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM " +
				oldSeq + "))"
			drop = "    IF EXISTS (SELECT FROM pg_catalog.pg_depend WHERE classid = 'pg_catalog.pg_class'::regclass AND objid = " +
				seq + "::regclass AND refobjid = " + quote.Literal(qt(dt)) + "::regclass AND deptype = 'a') THEN\n" +
				"        EXECUTE 'DROP SEQUENCE ' || " + seq + "::regclass;\n    END IF;\n"
		}
		p.add(Change{Statement: stmt(cname, emit.KindTable, sqlbuild.DoBlock(
			"    EXECUTE format('ALTER TABLE %s ALTER COLUMN %I RESTART WITH %s', "+quote.Literal(qt(dt))+", "+
				quote.Literal(dc.Name)+", "+next+");\n"+drop))})
	}
	lc.Identity = dc.Identity
	return lc
}

// changeDefault sets or drops the default of a column.
func (p *planner) changeDefault(lt, dt *catalog.Table, lc, dc catalog.Column) {
	if lc.Default == dc.Default || dc.Identity != "" || dc.Generated != "" {
		return
	}
	cname := tableName(dt) + "." + dc.Name
	col := quote.Ident(dc.Name)
	if dc.Default == "" {
		p.add(p.removal(lt, cname, emit.KindTable, alter(dt, "ALTER COLUMN "+col+" DROP DEFAULT"), "the default of column "+dc.Name, false))
		return
	}
	seq := sequenceOf(dc.Default)
	if seq != "" {
		p.ensureSequence(dt, dc, seq)
	}
	p.add(Change{Statement: stmt(cname, emit.KindTable, alter(dt, "ALTER COLUMN "+col+" SET DEFAULT "+dc.Default))})
	if seq != "" {
		// Past the rows already there (identity back to serial).
		p.add(Change{Statement: stmt(cname, emit.KindTable, "SELECT pg_catalog.setval("+quote.Literal(seq)+
			", (SELECT coalesce(max("+col+"), 0) + 1 FROM "+qt(dt)+"), false)")})
	}
}

// ensureSequence creates the sequence a nextval default needs when it is
// missing (a serial column's, dropped when it became an identity).
func (p *planner) ensureSequence(dt *catalog.Table, dc catalog.Column, seq string) {
	p.createSequence(dc, seq)
	p.ownSequence(dt, dc, seq)
}

// createSequence creates seq for column dc unless it exists.
func (p *planner) createSequence(dc catalog.Column, seq string) {
	as := ""
	if slices.Contains([]string{"smallint", "integer", "bigint"}, dc.Type) {
		as = " AS " + dc.Type
	}
	p.add(Change{Statement: stmt(seq, emit.KindTable, sqlbuild.DoBlock(
		"    IF to_regclass("+quote.Literal(seq)+") IS NULL THEN\n        CREATE SEQUENCE "+seq+as+
			";\n    END IF;\n"))})
}

// ownSequence makes seq belong to column dc, so it goes with the column,
// when this plan's transaction created it: a sequence that existed
// before (shared, hand-made) is left as it is.
func (p *planner) ownSequence(dt *catalog.Table, dc catalog.Column, seq string) {
	lit := quote.Literal(seq)
	p.add(Change{Statement: stmt(seq, emit.KindTable, sqlbuild.DoBlock(
		"    IF (SELECT xmin::text FROM pg_catalog.pg_class WHERE oid = "+lit+"::regclass) = pg_current_xact_id()::xid::text THEN\n"+
			"        ALTER SEQUENCE "+seq+" OWNED BY "+qt(dt)+"."+quote.Ident(dc.Name)+";\n    END IF;\n"))})
}

// nextvalRE matches a serial column's default as pg_get_expr prints it.
var nextvalRE = regexp.MustCompile(`^nextval\('((?:[^']|'')+)'::regclass\)$`)

// sequenceOf returns the sequence (as SQL text, qualified and quoted as
// the server printed it) of a nextval default, else "".
func sequenceOf(def string) string {
	m := nextvalRE.FindStringSubmatch(def)
	if m == nil {
		return ""
	}
	return strings.ReplaceAll(m[1], "''", "'")
}

// dropColumns drops the columns desired lacks; generated columns go
// before the columns they are computed from.
func (p *planner) dropColumns(lt, dt *catalog.Table) {
	for _, generated := range []bool{true, false} {
		for _, lc := range lt.Columns {
			if dt.Column(lc.Name) == nil && (lc.Generated != "") == generated {
				p.add(Change{Statement: stmt(tableName(dt)+"."+lc.Name, emit.KindTable, alter(dt, "DROP COLUMN "+quote.Ident(lc.Name))),
					Destructive: true, Lint: p.viewLint(lt, lc)})
			}
		}
	}
}

// tableProps sets comments, row-level security and grants; lt is nil for a
// new table.
func (p *planner) tableProps(lt, dt *catalog.Table) {
	name := tableName(dt)
	if lt == nil && dt.Comment != "" || lt != nil && lt.Comment != dt.Comment {
		p.add(Change{Statement: stmt(name, emit.KindComment, sqlbuild.CommentOnTable(dt.Schema, dt.Name, dt.Comment))})
	}
	for _, c := range dt.Columns {
		var lc *catalog.Column
		if lt != nil {
			lc = lt.Column(c.Name)
		}
		if lc == nil && c.Comment != "" || lc != nil && lc.Comment != c.Comment {
			p.add(Change{Statement: stmt(name+"."+c.Name, emit.KindComment, sqlbuild.CommentOnColumn(dt.Schema, dt.Name, c.Name, c.Comment))})
		}
	}
	var live catalog.Table
	if lt != nil {
		live = *lt
	}
	if dt.RowSecurity != live.RowSecurity {
		sql := alter(dt, map[bool]string{true: "ENABLE", false: "DISABLE"}[dt.RowSecurity]+" ROW LEVEL SECURITY")
		if dt.RowSecurity {
			p.add(Change{Statement: stmt(name, emit.KindPolicy, sql)})
		} else {
			p.add(p.removal(lt, name, emit.KindPolicy, sql, "row-level security", false))
		}
	}
	if dt.ForceRLS != live.ForceRLS {
		sql := alter(dt, map[bool]string{true: "FORCE", false: "NO FORCE"}[dt.ForceRLS]+" ROW LEVEL SECURITY")
		if dt.ForceRLS {
			p.add(Change{Statement: stmt(name, emit.KindPolicy, sql)})
		} else {
			p.add(p.removal(lt, name, emit.KindPolicy, sql, "forced row-level security", false))
		}
	}
	for _, g := range dt.Grants {
		if !slices.Contains(live.Grants, g) {
			p.add(Change{Statement: stmt(name, emit.KindGrant, "GRANT "+g.Privilege+" ON "+qt(dt)+" TO "+grantee(g.Grantee))})
		}
	}
	for _, g := range live.Grants {
		if !slices.Contains(dt.Grants, g) {
			p.add(p.removal(lt, name, emit.KindGrant, "REVOKE "+g.Privilege+" ON "+qt(dt)+" FROM "+grantee(g.Grantee),
				g.Privilege+" granted to "+g.Grantee, false))
		}
	}
}

func grantee(g string) string {
	if g == "PUBLIC" {
		return g
	}
	return quote.Ident(g)
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

// typeFamily names the types between which PostgreSQL has assignment
// casts, so ALTER … TYPE needs no USING (and fails, rather than cuts, on
// a value that does not fit).
func typeFamily(typ string) string {
	base, array := strings.CutSuffix(typ, "[]")
	if i := strings.IndexByte(base, '('); i >= 0 {
		base = base[:i]
	}
	fam := base
	switch base {
	case "text", "character varying", "character", "bpchar":
		fam = "string"
	case "smallint", "integer", "bigint", "numeric", "real", "double precision":
		fam = "number"
	case "timestamp without time zone", "timestamp with time zone", "date":
		fam = "time"
	case "bit", "bit varying":
		fam = "bit"
	}
	if array {
		fam += "[]"
	}
	return fam
}

// needsUsing reports whether a type change from a to b needs USING
// col::b: only where the two types share no assignment cast.
func needsUsing(a, b string) bool { return typeFamily(a) != typeFamily(b) }

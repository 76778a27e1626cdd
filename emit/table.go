package emit

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/sqlbuild"
)

// TableEmitter emits the DDL of a set of models.
type TableEmitter struct {
	// Tables are the models to emit, in any order: the output is sorted.
	// Foreign keys may point to tables outside the set, which must then
	// exist when the statements run.
	Tables []*model.Table
}

// NewTableEmitter returns an emitter for the given tables.
func NewTableEmitter(tables ...*model.Table) *TableEmitter {
	return &TableEmitter{Tables: tables}
}

// ErrNilTable is returned by [TableEmitter.Emit] for a nil table.
var ErrNilTable = errors.New("emit: nil table")

// Emit returns the statements creating the tables: schemas, enum types,
// tables in dependency order, cyclic foreign keys, indexes and comments.
func (e *TableEmitter) Emit() ([]Statement, error) {
	tables := make([]*model.Table, 0, len(e.Tables))
	seen := map[*model.Table]bool{}
	for _, t := range e.Tables {
		if t == nil {
			return nil, ErrNilTable
		}
		if !seen[t] {
			seen[t] = true
			tables = append(tables, t)
		}
	}
	slices.SortFunc(tables, func(a, b *model.Table) int {
		return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Name, b.Name))
	})
	order := dependencyOrder(tables)

	var out []Statement
	var schemas []string
	for _, t := range order {
		if t.Schema != "" && !slices.Contains(schemas, t.Schema) {
			schemas = append(schemas, t.Schema)
		}
		for _, et := range t.Enums {
			if et.Schema != "" && !slices.Contains(schemas, et.Schema) {
				schemas = append(schemas, et.Schema)
			}
		}
		for _, dt := range t.Domains {
			if dt.Schema != "" && !slices.Contains(schemas, dt.Schema) {
				schemas = append(schemas, dt.Schema)
			}
		}
	}
	slices.Sort(schemas)
	for _, s := range schemas {
		out = append(out, Statement{Name: s, Kind: KindSchema, SQL: "CREATE SCHEMA IF NOT EXISTS " + quote.Ident(s)})
	}
	enums := map[string]bool{}
	for _, t := range order {
		for _, et := range t.Enums {
			if enums[et.QuotedName] {
				continue
			}
			enums[et.QuotedName] = true
			out = append(out, enumStatement(et))
		}
	}
	for _, t := range order {
		for _, dt := range t.Domains {
			if enums[dt.QuotedName] {
				continue
			}
			enums[dt.QuotedName] = true
			out = append(out, domainStatement(dt))
		}
	}
	emitted := map[*model.Table]bool{}
	var deferred []*model.Constraint
	for _, t := range order {
		var inline []*model.Constraint
		for _, fk := range t.ForeignKeys {
			if fk.RefTable == t || emitted[fk.RefTable] || !seen[fk.RefTable] {
				inline = append(inline, fk)
			} else {
				deferred = append(deferred, fk)
			}
		}
		out = append(out, Statement{Name: objectName(t.Schema, t.Name), Kind: KindTable, SQL: createTable(t, inline)})
		emitted[t] = true
	}
	for _, fk := range deferred {
		out = append(out, addForeignKey(fk))
	}
	for _, t := range order {
		for _, u := range t.Uniques {
			if u.AsIndex {
				out = append(out, createIndex(t, u.Name, u.QuotedName, true, u.Columns, u.Using, u.Where))
			}
		}
		for _, ix := range t.Indexes {
			s := createIndex(t, ix.Name, ix.QuotedName, false, ix.Columns, ix.Using, ix.Where)
			if len(ix.Expressions) > 0 {
				s = expressionIndex(t, ix)
			}
			out = append(out, s)
		}
	}
	for _, t := range order {
		if t.Comment != "" {
			out = append(out, Statement{Name: objectName(t.Schema, t.Name), Kind: KindComment,
				SQL: sqlbuild.CommentOnTable(t.Schema, t.Name, t.Comment)})
		}
		for _, c := range t.Columns {
			if c.Comment != "" {
				out = append(out, Statement{Name: objectName(t.Schema, t.Name) + "." + c.Name, Kind: KindComment,
					SQL: sqlbuild.CommentOnColumn(t.Schema, t.Name, c.Name, c.Comment)})
			}
		}
	}
	return out, nil
}

func objectName(schema, name string) string {
	if schema == "" {
		return name
	}
	return schema + "." + name
}

// dependencyOrder sorts tables so each comes after the tables its foreign
// keys point to; sorted input keeps ties (and cycle breaking) deterministic.
func dependencyOrder(tables []*model.Table) []*model.Table {
	inSet := map[*model.Table]bool{}
	for _, t := range tables {
		inSet[t] = true
	}
	done := map[*model.Table]bool{}
	order := make([]*model.Table, 0, len(tables))
	ready := func(t *model.Table) bool {
		for _, fk := range t.ForeignKeys {
			if r := fk.RefTable; r != t && inSet[r] && !done[r] {
				return false
			}
		}
		return true
	}
	for len(order) < len(tables) {
		var next *model.Table
		for _, t := range tables {
			if !done[t] && ready(t) {
				next = t
				break
			}
		}
		if next == nil { // a cycle: take the first remaining table
			for _, t := range tables {
				if !done[t] {
					next = t
					break
				}
			}
		}
		done[next] = true
		order = append(order, next)
	}
	return order
}

func enumStatement(et *model.EnumType) Statement {
	body := "    IF to_regtype(" + literal(et.QuotedName) + ") IS NULL THEN\n        " +
		sqlbuild.CreateEnum(et.Schema, et.Name, et.Values) + ";\n    END IF;\n"
	return Statement{Name: objectName(et.Schema, et.Name), Kind: KindType, SQL: doBlock(body)}
}

// domainStatement creates a domain unless a type of its name exists.
func domainStatement(dt *model.DomainType) Statement {
	body := "    IF to_regtype(" + literal(dt.QuotedName) + ") IS NULL THEN\n        " +
		createDomain(dt) + ";\n    END IF;\n"
	return Statement{Name: objectName(dt.Schema, dt.Name), Kind: KindType, SQL: doBlock(body)}
}

// createDomain returns CREATE DOMAIN for a model's domain: name AS type
// [DEFAULT …] [NOT NULL] [CHECK (…)].
func createDomain(dt *model.DomainType) string {
	d := dt.Def
	sql := "CREATE DOMAIN " + dt.QuotedName + " AS " + d.Type
	if d.Default != "" {
		sql += " DEFAULT " + d.Default
	}
	if d.NotNull {
		sql += " NOT NULL"
	}
	if d.Check != "" {
		sql += " CHECK (" + d.Check + ")"
	}
	return sql
}

func columnList(b *strings.Builder, cols []*model.Column) {
	b.WriteByte('(')
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.QuotedName)
	}
	b.WriteByte(')')
}

// createTable renders a model's table through the one table renderer
// shared with the migration planner ([sqlbuild.Table]).
func createTable(t *model.Table, fks []*model.Constraint) string {
	st := sqlbuild.Table{Schema: t.Schema, Name: t.Name, IfNotExists: true,
		Columns: make([]sqlbuild.Column, len(t.Columns))}
	for i, c := range t.Columns {
		typ := c.SQLType
		if c.Serial {
			typ = c.SerialType()
		}
		st.Columns[i] = sqlbuild.Column{Name: c.Name, Type: typ, Collation: c.Collation, Identity: c.Identity,
			Generated: c.Expression, Default: c.Default, NotNull: !c.Nullable}
	}
	constraint := func(c *model.Constraint, def func(b *strings.Builder)) {
		var b strings.Builder
		def(&b)
		st.Constraints = append(st.Constraints, sqlbuild.TableConstraint{Name: c.Name, Def: b.String()})
	}
	constraint(t.PrimaryKey, func(b *strings.Builder) {
		b.WriteString("PRIMARY KEY ")
		columnList(b, t.PrimaryKey.Columns)
	})
	for _, u := range t.Uniques {
		if !u.AsIndex {
			constraint(u, func(b *strings.Builder) {
				b.WriteString("UNIQUE ")
				columnList(b, u.Columns)
				deferrable(b, u)
			})
		}
	}
	for _, c := range t.Checks {
		constraint(c, func(b *strings.Builder) { b.WriteString("CHECK (" + c.Check + ")") })
	}
	for _, x := range t.Exclusions {
		constraint(x, func(b *strings.Builder) { exclusionDef(b, x) })
	}
	for _, fk := range fks {
		constraint(fk, func(b *strings.Builder) { foreignKeyDef(b, fk) })
	}
	return st.SQL()
}

// deferrable writes the deferrability clause of a unique or foreign key.
func deferrable(b *strings.Builder, c *model.Constraint) {
	if c.Deferrable || c.InitiallyDeferred {
		b.WriteString(" DEFERRABLE")
	}
	if c.InitiallyDeferred {
		b.WriteString(" INITIALLY DEFERRED")
	}
}

// exclusionDef writes EXCLUDE USING method (elements) [WHERE (predicate)].
func exclusionDef(b *strings.Builder, x *model.Constraint) {
	b.WriteString("EXCLUDE USING ")
	b.WriteString(quote.Ident(x.Using))
	b.WriteString(" (")
	b.WriteString(strings.Join(x.Elements, ", "))
	b.WriteByte(')')
	if x.Where != "" {
		b.WriteString(" WHERE (")
		b.WriteString(x.Where)
		b.WriteByte(')')
	}
}

// foreignKeyDef writes FOREIGN KEY (…) REFERENCES … without the name.
func foreignKeyDef(b *strings.Builder, fk *model.Constraint) {
	b.WriteString("FOREIGN KEY ")
	columnList(b, fk.Columns)
	b.WriteString(" REFERENCES ")
	b.WriteString(fk.RefTable.QuotedName)
	b.WriteByte(' ')
	columnList(b, fk.RefColumns)
	if fk.OnDelete != "" {
		b.WriteString(" ON DELETE ")
		b.WriteString(string(fk.OnDelete))
	}
	if fk.OnUpdate != "" {
		b.WriteString(" ON UPDATE ")
		b.WriteString(string(fk.OnUpdate))
	}
	deferrable(b, fk)
}

func addForeignKey(fk *model.Constraint) Statement {
	t := fk.Table
	var b strings.Builder
	b.WriteString("    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = ")
	b.WriteString(literal(t.QuotedName))
	b.WriteString("::regclass AND conname = ")
	b.WriteString(literal(fk.Name))
	b.WriteString(") THEN\n        ALTER TABLE ")
	b.WriteString(t.QuotedName)
	b.WriteString(" ADD CONSTRAINT ")
	b.WriteString(fk.QuotedName)
	b.WriteByte(' ')
	foreignKeyDef(&b, fk)
	b.WriteString(";\n    END IF;\n")
	return Statement{Name: objectName(t.Schema, fk.Name), Kind: KindConstraint, SQL: doBlock(b.String())}
}

func createIndex(t *model.Table, name, quoted string, unique bool, cols []*model.Column, using, where string) Statement {
	var b strings.Builder
	b.WriteString("CREATE ")
	if unique {
		b.WriteString("UNIQUE ")
	}
	b.WriteString("INDEX IF NOT EXISTS ")
	b.WriteString(quoted)
	b.WriteString(" ON ")
	b.WriteString(t.QuotedName)
	if using != "" {
		b.WriteString(" USING ")
		b.WriteString(quote.Ident(using))
	}
	b.WriteByte(' ')
	columnList(&b, cols)
	if where != "" {
		b.WriteString(" WHERE ")
		b.WriteString(where)
	}
	return Statement{Name: objectName(t.Schema, name), Kind: KindIndex, SQL: b.String()}
}

// expressionIndex renders an index with expressions: its columns, then
// each expression in parentheses.
func expressionIndex(t *model.Table, ix *model.Index) Statement {
	var b strings.Builder
	b.WriteString("CREATE INDEX IF NOT EXISTS ")
	b.WriteString(ix.QuotedName)
	b.WriteString(" ON ")
	b.WriteString(t.QuotedName)
	if ix.Using != "" {
		b.WriteString(" USING ")
		b.WriteString(quote.Ident(ix.Using))
	}
	b.WriteString(" (")
	for i, c := range ix.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.QuotedName)
	}
	for i, e := range ix.Expressions {
		if i > 0 || len(ix.Columns) > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + e + ")")
	}
	b.WriteByte(')')
	if ix.Where != "" {
		b.WriteString(" WHERE ")
		b.WriteString(ix.Where)
	}
	return Statement{Name: objectName(t.Schema, ix.Name), Kind: KindIndex, SQL: b.String()}
}

// literal quotes s with quote.Literal, without the space quote.Literal
// puts before an E-prefixed literal (every use here follows a keyword, a comma or
// a parenthesis).
func literal(s string) string { return sqlbuild.Literal(s) }

// Name returns "table", the emitter's registry name.
func (e *TableEmitter) Name() string { return EmitterTable }

package sqlbuild

import (
	"strings"

	"github.com/uno-db/uno/quote"
)

// Column is a column definition: the one renderer of column SQL that the
// table emitter (from models) and the migration planner (from an
// inspected database) share, so a table created either way is the same.
// Type, Default, Generated and Collation are trusted SQL.
type Column struct {
	Name string
	Type string // e.g. "character varying(26)", "public.mood"
	// Collation is a qualified, quoted collation name; "" for the type's
	// default.
	Collation string
	// Identity is "ALWAYS" or "BY DEFAULT" for an identity column.
	Identity string
	// Generated is the expression of a STORED generated column.
	Generated string
	Default   string
	NotNull   bool
}

// Check reports why the column cannot be rendered: a bad name or an empty
// type.
func (c Column) Check() error {
	if err := CheckName("Name", c.Name); err != nil {
		return invalid("column", c.Name, "%v", err)
	}
	if err := checkType("Type", c.Type); err != nil {
		return invalid("column", c.Name, "%v", err)
	}
	for _, f := range []struct{ field, sql string }{{"Default", c.Default}, {"Generated", c.Generated}, {"Collation", c.Collation}} {
		if err := checkSQL(f.field, f.sql); err != nil {
			return invalid("column", c.Name, "%v", err)
		}
	}
	return nil
}

// SQL renders the definition: "name" type [COLLATE c] [GENERATED …]
// [DEFAULT …] [NOT NULL]. An identity or generated column has no default.
func (c Column) SQL() string {
	var b strings.Builder
	c.write(&b)
	return b.String()
}

func (c Column) write(b *strings.Builder) {
	b.WriteString(quote.Ident(c.Name))
	b.WriteByte(' ')
	b.WriteString(c.Type)
	if c.Collation != "" {
		b.WriteString(" COLLATE ")
		b.WriteString(c.Collation)
	}
	switch {
	case c.Generated != "":
		b.WriteString(" GENERATED ALWAYS AS (")
		b.WriteString(c.Generated)
		b.WriteString(") STORED")
	case c.Identity != "":
		b.WriteString(" GENERATED ")
		b.WriteString(c.Identity)
		b.WriteString(" AS IDENTITY")
	case c.Default != "":
		b.WriteString(" DEFAULT ")
		b.WriteString(c.Default)
	}
	if c.NotNull {
		b.WriteString(" NOT NULL")
	}
}

// TableConstraint is a named constraint inside CREATE TABLE or after
// ALTER TABLE … ADD; Def is its trusted definition, such as
// "PRIMARY KEY (id)" or what pg_get_constraintdef returns.
type TableConstraint struct {
	Name string
	Def  string
}

// SQL renders CONSTRAINT "name" def.
func (c TableConstraint) SQL() string { return "CONSTRAINT " + quote.Ident(c.Name) + " " + c.Def }

// Table is a CREATE TABLE statement.
type Table struct {
	Schema, Name string
	// IfNotExists renders CREATE TABLE IF NOT EXISTS.
	IfNotExists bool
	Columns     []Column
	Constraints []TableConstraint
}

// Check reports the first problem of the table's names and columns.
func (t Table) Check() error {
	if t.Schema != "" {
		if err := CheckName("Schema", t.Schema); err != nil {
			return invalid("table", t.Name, "%v", err)
		}
	}
	if err := CheckName("Name", t.Name); err != nil {
		return invalid("table", t.Name, "%v", err)
	}
	for _, c := range t.Columns {
		if err := c.Check(); err != nil {
			return err
		}
	}
	for _, c := range t.Constraints {
		if err := CheckName("Constraint", c.Name); err != nil {
			return invalid("table", t.Name, "%v", err)
		}
	}
	return nil
}

// SQL renders the CREATE TABLE statement, one column or constraint a line.
func (t Table) SQL() string {
	var b strings.Builder
	b.Grow(64 * (len(t.Columns) + len(t.Constraints) + 1))
	b.WriteString("CREATE TABLE ")
	if t.IfNotExists {
		b.WriteString("IF NOT EXISTS ")
	}
	b.WriteString(Qualified(t.Schema, t.Name))
	b.WriteString(" (")
	first := true
	sep := func() {
		if first {
			b.WriteString("\n    ")
			first = false
		} else {
			b.WriteString(",\n    ")
		}
	}
	for _, c := range t.Columns {
		sep()
		c.write(&b)
	}
	for _, c := range t.Constraints {
		sep()
		b.WriteString(c.SQL())
	}
	b.WriteString("\n)")
	return b.String()
}

// AlterTable returns "ALTER TABLE schema.name " followed by action.
func AlterTable(schema, name, action string) string {
	return "ALTER TABLE " + Qualified(schema, name) + " " + action
}

// CreateEnum returns CREATE TYPE schema.name AS ENUM (labels…), labels as
// escaped literals.
func CreateEnum(schema, name string, labels []string) string {
	var b strings.Builder
	b.WriteString("CREATE TYPE ")
	b.WriteString(Qualified(schema, name))
	b.WriteString(" AS ENUM (")
	for i, v := range labels {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Literal(v))
	}
	b.WriteByte(')')
	return b.String()
}

// CommentOnTable returns COMMENT ON TABLE; an empty text removes the
// comment (IS NULL).
func CommentOnTable(schema, table, text string) string {
	return "COMMENT ON TABLE " + Qualified(schema, table) + " IS " + commentText(text)
}

// CommentOnColumn returns COMMENT ON COLUMN; an empty text removes the
// comment (IS NULL).
func CommentOnColumn(schema, table, column, text string) string {
	return "COMMENT ON COLUMN " + Qualified(schema, table) + "." + quote.Ident(column) + " IS " + commentText(text)
}

func commentText(s string) string {
	if s == "" {
		return "NULL"
	}
	return Literal(s)
}

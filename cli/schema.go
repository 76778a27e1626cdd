package cli

import (
	"cmp"
	"slices"
	"strings"

	"github.com/uno-db/uno/model"
)

// Mermaid returns the tables as a Mermaid entity-relationship diagram
// (https://mermaid.js.org/syntax/entityRelationshipDiagram.html): one
// entity per table with its columns, their SQL types and keys (PK, FK, UK
// for a member of a unique constraint, other than the tenant column; a
// multi-column one is named in the comment), and one relationship per foreign
// key, from the referenced table to the referencing one. A relationship is
// identifying (solid) when the foreign key is part of the referencing
// table's primary key; the referenced side is "exactly one" when the
// foreign key columns are NOT NULL ("zero or one" otherwise); the
// referencing side is "zero or one" when the foreign key columns are
// unique, "zero or more" otherwise.
//
// Names Mermaid cannot take as they are (spaces, quotes, punctuation) are
// quoted for entities, and for columns and types spelled with _ in place
// of the characters Mermaid does not allow, with the exact name in the
// column's comment. Tables are sorted by schema and name, so the output is
// stable.
func Mermaid(tables []*model.Table) string {
	tables = slices.Clone(tables)
	slices.SortFunc(tables, func(a, b *model.Table) int {
		return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Name, b.Name))
	})
	var b strings.Builder
	b.WriteString("erDiagram\n")
	for _, t := range tables {
		writeEntity(&b, t)
	}
	for _, t := range tables {
		for _, fk := range t.ForeignKeys {
			writeRelationship(&b, fk)
		}
	}
	return b.String()
}

// writeEntity writes a table and its columns.
func writeEntity(b *strings.Builder, t *model.Table) {
	b.WriteString("    " + entityName(t) + " {\n")
	for _, c := range t.Columns {
		name := attributeWord(c.Name)
		b.WriteString("        " + attributeWord(mermaidType(c.SQLType)) + " " + name)
		if keys := columnKeys(t, c); len(keys) > 0 {
			b.WriteString(" " + strings.Join(keys, ", "))
		}
		var notes []string
		if name != c.Name {
			notes = append(notes, "column "+c.Name)
		}
		notes = append(notes, uniqueWith(t, c)...)
		if c.Comment != "" {
			notes = append(notes, c.Comment)
		}
		if len(notes) > 0 {
			b.WriteString(` "` + commentText(strings.Join(notes, "; ")) + `"`)
		}
		b.WriteString("\n")
	}
	b.WriteString("    }\n")
}

// writeRelationship writes the relationship a foreign key makes.
func writeRelationship(b *strings.Builder, fk *model.Constraint) {
	child, parent := fk.Table, fk.RefTable
	parentSide := "||" // every child row has exactly one parent
	for _, c := range fk.Columns {
		if c.Nullable {
			parentSide = "|o"
		}
	}
	childSide := "o{"
	if uniqueOn(child, fk.Columns) {
		childSide = "o|"
	}
	line := ".." // non-identifying
	if child.PrimaryKey != nil && !slices.ContainsFunc(fk.Columns, func(c *model.Column) bool { return !c.PrimaryKey }) {
		line = "--"
	}
	names := make([]string, len(fk.Columns))
	for i, c := range fk.Columns {
		names[i] = c.Name
	}
	b.WriteString("    " + entityName(parent) + " " + parentSide + line + childSide + " " + entityName(child) +
		` : "` + commentText(strings.Join(names, ", ")) + `"` + "\n")
}

// columnKeys are the Mermaid key marks of a column.
func columnKeys(t *model.Table, c *model.Column) []string {
	var keys []string
	if c.PrimaryKey {
		keys = append(keys, "PK")
	}
	if slices.ContainsFunc(t.ForeignKeys, func(fk *model.Constraint) bool { return slices.Contains(fk.Columns, c) }) {
		keys = append(keys, "FK")
	}
	if !c.PrimaryKey && c != t.TenantColumn && slices.ContainsFunc(t.Uniques, func(u *model.Constraint) bool { return slices.Contains(u.Columns, c) }) {
		keys = append(keys, "UK")
	}
	return keys
}

// uniqueWith names the other columns of c's multi-column unique
// constraints: "unique with tenant_id".
func uniqueWith(t *model.Table, c *model.Column) []string {
	if c == t.TenantColumn {
		return nil
	}
	var notes []string
	for _, u := range t.Uniques {
		if len(u.Columns) < 2 || !slices.Contains(u.Columns, c) {
			continue
		}
		var others []string
		for _, o := range u.Columns {
			if o != c {
				others = append(others, o.Name)
			}
		}
		notes = append(notes, "unique with "+strings.Join(others, ", "))
	}
	return notes
}

// uniqueOn reports whether the table's primary key or one of its unique
// constraints (without a predicate) is exactly cols.
func uniqueOn(t *model.Table, cols []*model.Column) bool {
	same := func(k *model.Constraint) bool {
		if k == nil || k.Where != "" || len(k.Columns) != len(cols) {
			return false
		}
		for _, c := range cols {
			if !slices.Contains(k.Columns, c) {
				return false
			}
		}
		return true
	}
	return same(t.PrimaryKey) || slices.ContainsFunc(t.Uniques, same)
}

// entityName is the table's name as a Mermaid entity: as it is when it is a
// plain word, else in double quotes without the characters a quoted
// entity name may not hold.
func entityName(t *model.Table) string {
	name := t.Name
	if t.Schema != "" {
		name = t.Schema + "." + name
	}
	if plainWord(name) {
		return name
	}
	return `"` + strings.Map(func(r rune) rune {
		if strings.ContainsRune("\"%\\\r\n\v\b", r) {
			return '_'
		}
		return r
	}, name) + `"`
}

func plainWord(s string) bool {
	if s == "" || !(isLetter(rune(s[0])) || s[0] == '_') {
		return false
	}
	for _, r := range s {
		if !isLetter(r) && !isDigit(r) && r != '_' {
			return false
		}
	}
	return true
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
func isDigit(r rune) bool  { return r >= '0' && r <= '9' }

// typeAliases are PostgreSQL's one-word names for types spelled with
// several words.
var typeAliases = strings.NewReplacer(
	"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ",
	"TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP",
	"TIME WITH TIME ZONE", "TIMETZ",
	"TIME WITHOUT TIME ZONE", "TIME",
	"DOUBLE PRECISION", "FLOAT8",
	"CHARACTER VARYING", "VARCHAR",
	"BIT VARYING", "VARBIT",
)

// mermaidType shortens a SQL type to one word where PostgreSQL has one,
// and drops the quotes of an enum type's name.
func mermaidType(sqlType string) string {
	s := typeAliases.Replace(sqlType)
	s = strings.ReplaceAll(s, `"`, "")
	return strings.ReplaceAll(s, ", ", ",")
}

// attributeWord is s as a Mermaid attribute word: letters, digits, _, -,
// brackets and parentheses, starting with a letter or _. A comma (between
// a type's numbers) becomes -, every other character _.
func attributeWord(s string) string {
	w := strings.Map(func(r rune) rune {
		switch {
		case isLetter(r), isDigit(r), strings.ContainsRune("_-[]()", r):
			return r
		case r == ',':
			return '-'
		}
		return '_'
	}, s)
	if w == "" || !isLetter(rune(w[0])) && w[0] != '_' {
		w = "_" + w
	}
	return w
}

// commentText is s for a double-quoted Mermaid comment or label: no double
// quote, no line break, no %% (which starts a Mermaid comment).
func commentText(s string) string {
	for strings.Contains(s, "%%") {
		s = strings.ReplaceAll(s, "%%", "%")
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '"':
			return '\''
		case '\n', '\r', '\v', '\b':
			return ' '
		}
		return r
	}, s)
}

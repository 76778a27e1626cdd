package sqlbuild

import (
	"strings"

	"github.com/uno-db/uno/quote"
)

// Index builds CREATE [UNIQUE] INDEX [CONCURRENTLY] IF NOT EXISTS.
type Index struct {
	Name   string // the index name; it lives in the table's schema
	Schema string // the table's schema; empty: resolved by search_path
	Table  string
	Unique bool
	// Method is the access method (btree, hash, gin, gist, brin, …);
	// empty for btree.
	Method string
	// Columns are indexed columns, quoted; Expressions are indexed
	// expressions (trusted SQL), each put in parentheses, after Columns.
	Columns     []string
	Expressions []string
	// Where makes a partial index (trusted SQL); empty for none.
	Where string
	// Concurrently builds the index without blocking writes. PostgreSQL
	// refuses it in a transaction block, so the statement has NoTx set.
	Concurrently bool
}

func (ix Index) check() error {
	fail := func(format string, args ...any) error { return invalid("index", ix.Name, format, args...) }
	if err := CheckName("Name", ix.Name); err != nil {
		return fail("%v", err)
	}
	if ix.Schema != "" {
		if err := CheckName("Schema", ix.Schema); err != nil {
			return fail("%v", err)
		}
	}
	if err := CheckName("Table", ix.Table); err != nil {
		return fail("%v", err)
	}
	if ix.Method != "" {
		if err := CheckName("Method", ix.Method); err != nil {
			return fail("%v", err)
		}
	}
	if len(ix.Columns)+len(ix.Expressions) == 0 {
		return fail("no Columns or Expressions")
	}
	if err := checkNames("Columns", ix.Columns); err != nil {
		return fail("%v", err)
	}
	for _, e := range ix.Expressions {
		if strings.TrimSpace(e) == "" {
			return fail("an empty expression")
		}
		if err := checkSQL("Expressions", e); err != nil {
			return fail("%v", err)
		}
	}
	if err := checkSQL("Where", ix.Where); err != nil {
		return fail("%v", err)
	}
	return nil
}

// Statement returns the CREATE INDEX statement.
func (ix Index) Statement() (Statement, error) {
	if err := ix.check(); err != nil {
		return Statement{}, err
	}
	var b strings.Builder
	b.WriteString("CREATE ")
	if ix.Unique {
		b.WriteString("UNIQUE ")
	}
	b.WriteString("INDEX ")
	if ix.Concurrently {
		b.WriteString("CONCURRENTLY ")
	}
	b.WriteString("IF NOT EXISTS ")
	b.WriteString(quote.Ident(ix.Name))
	b.WriteString(" ON ")
	b.WriteString(Qualified(ix.Schema, ix.Table))
	if ix.Method != "" {
		b.WriteString(" USING ")
		b.WriteString(quote.Ident(ix.Method))
	}
	b.WriteString(" (")
	identList(&b, ix.Columns)
	for i, e := range ix.Expressions {
		if i > 0 || len(ix.Columns) > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		b.WriteString(e)
		b.WriteByte(')')
	}
	b.WriteByte(')')
	if ix.Where != "" {
		b.WriteString(" WHERE ")
		b.WriteString(ix.Where)
	}
	return Statement{Name: ObjectName(ix.Schema, ix.Name), Kind: KindIndex, SQL: b.String(), NoTx: ix.Concurrently}, nil
}

package sqlbuild

import (
	"errors"
	"fmt"
	"strings"

	"github.com/uno-db/uno/quote"
)

// Kind says what a [Statement] creates or changes.
type Kind uint8

// Statement kinds.
const (
	KindDatabase Kind = iota + 1
	KindRole
	KindSchema
	KindExtension
	KindType
	KindTable
	KindConstraint
	KindIndex
	KindFunction
	KindTrigger
	KindPolicy
	KindGrant
	KindComment
	KindInsert
)

var kindNames = [...]string{
	KindDatabase:   "database",
	KindRole:       "role",
	KindSchema:     "schema",
	KindExtension:  "extension",
	KindType:       "type",
	KindTable:      "table",
	KindConstraint: "constraint",
	KindIndex:      "index",
	KindFunction:   "function",
	KindTrigger:    "trigger",
	KindPolicy:     "policy",
	KindGrant:      "grant",
	KindComment:    "comment",
	KindInsert:     "insert",
}

// String returns the lower-case name of the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Statement is one SQL statement with what it is about. SQL has no
// trailing semicolon.
type Statement struct {
	Name string // the object, e.g. sales.customer or sales.customer.email
	Kind Kind   // what the statement creates or changes
	SQL  string // the statement text

	// Redacted, when set, is SQL with its secrets (a password) replaced
	// by ***; it is what [Statement.Display], observers and printed plans
	// show. Executors always run SQL.
	Redacted string
	// NoTx marks a statement PostgreSQL refuses inside a transaction
	// block (CREATE DATABASE, CREATE INDEX CONCURRENTLY): executors run it
	// on its own.
	NoTx bool
	// SkipIf, when set, is a query returning one boolean; executors skip
	// the statement when it returns true. It makes statements without an
	// IF NOT EXISTS form (CREATE DATABASE) safe to run twice.
	SkipIf string
}

// Display returns the text to show for the statement: Redacted when set,
// else SQL. Use it for logs and dry-run output.
func (s Statement) Display() string {
	if s.Redacted != "" {
		return s.Redacted
	}
	return s.SQL
}

// ErrInvalid is wrapped by every error a builder returns.
var ErrInvalid = errors.New("sqlbuild: invalid definition")

func invalid(builder, name, format string, args ...any) error {
	return fmt.Errorf("%w: %s %q: %s", ErrInvalid, builder, name, fmt.Sprintf(format, args...))
}

// MaxNameLen is PostgreSQL's identifier limit in bytes (NAMEDATALEN-1).
const MaxNameLen = 63

// CheckName reports why name cannot be a PostgreSQL identifier as given:
// it is empty, holds a NUL byte, or is longer than [MaxNameLen] bytes
// (PostgreSQL would truncate it silently). field names it in the error.
func CheckName(field, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty", field)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%s holds a NUL byte", field)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%s is %d bytes, over PostgreSQL's limit of %d", field, len(name), MaxNameLen)
	}
	return nil
}

// checkSQL refuses a NUL byte in trusted SQL: the wire protocol ends a
// string at NUL, so the statement would be cut short.
func checkSQL(field, sql string) error {
	if strings.IndexByte(sql, 0) >= 0 {
		return fmt.Errorf("%s holds a NUL byte", field)
	}
	return nil
}

// checkType refuses an empty type, a NUL byte or a semicolon in a type.
func checkType(field, typ string) error {
	switch {
	case strings.TrimSpace(typ) == "":
		return fmt.Errorf("%s is empty", field)
	case strings.ContainsAny(typ, "\x00;"):
		return fmt.Errorf("%s %q holds a NUL byte or a semicolon", field, typ)
	}
	return nil
}

// Literal returns s as an escaped string literal (quote.Literal without the
// leading space it puts before the E” form).
func Literal(s string) string { return strings.TrimPrefix(quote.Literal(s), " ") }

// Qualified returns the quoted schema.name (the name alone when schema is
// empty).
func Qualified(schema, name string) string { return quote.Qualified(schema, name) }

// ObjectName returns schema.name unquoted, for [Statement.Name].
func ObjectName(schema, name string) string {
	if schema == "" {
		return name
	}
	return schema + "." + name
}

// DollarQuote returns a dollar-quoting tag ($uno$, $uno1$, …) that does
// not occur in body, so body can be quoted with it as is.
func DollarQuote(body string) string {
	tag := "$uno$"
	for i := 1; strings.Contains(body, tag); i++ {
		tag = fmt.Sprintf("$uno%d$", i)
	}
	return tag
}

// DoBlock wraps PL/pgSQL statements in an anonymous code block:
// DO $tag$ BEGIN body END $tag$, with a tag that does not occur in body.
func DoBlock(body string) string {
	tag := DollarQuote(body)
	return "DO " + tag + "\nBEGIN\n" + body + "END\n" + tag
}

// identList writes quoted names separated by ", ".
func identList(b *strings.Builder, names []string) {
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote.Ident(n))
	}
}

// checkNames checks every name of a list.
func checkNames(field string, names []string) error {
	for i, n := range names {
		if err := CheckName(fmt.Sprintf("%s[%d]", field, i), n); err != nil {
			return err
		}
	}
	return nil
}

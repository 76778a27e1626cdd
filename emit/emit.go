package emit

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
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
}

// Script joins statements into one SQL script, each ended by a semicolon
// and separated by a blank line.
func Script(stmts []Statement) string {
	var b strings.Builder
	for i, s := range stmts {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(s.SQL)
		b.WriteString(";\n")
	}
	return b.String()
}

// Execer runs one SQL statement: *pgx.Conn, *pgxpool.Pool and pgx.Tx all
// are Execers.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Exec runs the statements in order and stops at the first error, which it
// returns naming the statement. Run it inside a transaction to have all or
// nothing.
func Exec(ctx context.Context, db Execer, stmts []Statement) error {
	for _, s := range stmts {
		if _, err := db.Exec(ctx, s.SQL); err != nil {
			return fmt.Errorf("emit: %s %s: %w", s.Kind, s.Name, err)
		}
	}
	return nil
}

// dollarQuote returns a dollar-quoting tag that does not occur in body.
func dollarQuote(body string) string {
	tag := "$uno$"
	for i := 1; strings.Contains(body, tag); i++ {
		tag = fmt.Sprintf("$uno%d$", i)
	}
	return tag
}

// doBlock wraps PL/pgSQL statements in an anonymous code block.
func doBlock(body string) string {
	tag := dollarQuote(body)
	return "DO " + tag + "\nBEGIN\n" + body + "END\n" + tag
}

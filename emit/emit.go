package emit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/sqlbuild"
)

// Kind says what a [Statement] creates or changes (an alias of
// sqlbuild.Kind).
type Kind = sqlbuild.Kind

// Statement kinds.
const (
	KindDatabase   = sqlbuild.KindDatabase
	KindRole       = sqlbuild.KindRole
	KindSchema     = sqlbuild.KindSchema
	KindExtension  = sqlbuild.KindExtension
	KindType       = sqlbuild.KindType
	KindTable      = sqlbuild.KindTable
	KindConstraint = sqlbuild.KindConstraint
	KindIndex      = sqlbuild.KindIndex
	KindFunction   = sqlbuild.KindFunction
	KindTrigger    = sqlbuild.KindTrigger
	KindPolicy     = sqlbuild.KindPolicy
	KindGrant      = sqlbuild.KindGrant
	KindComment    = sqlbuild.KindComment
	KindInsert     = sqlbuild.KindInsert
)

// Statement is one SQL statement with what it is about (an alias of
// sqlbuild.Statement): Name, Kind, SQL, and optionally Redacted (the text
// to show when SQL holds a secret), NoTx (must run outside a transaction
// block) and SkipIf (a query; the statement is skipped when it returns
// true).
type Statement = sqlbuild.Statement

// Script joins statements into one SQL script, each ended by a semicolon
// and separated by a blank line. It shows each statement's Display text,
// so secrets stay redacted; a statement with SkipIf or NoTx is preceded by
// a comment saying so.
func Script(stmts []Statement) string {
	var b strings.Builder
	for i, s := range stmts {
		if i > 0 {
			b.WriteString("\n")
		}
		if s.SkipIf != "" {
			b.WriteString("-- skipped when: ")
			b.WriteString(strings.ReplaceAll(s.SkipIf, "\n", " "))
			b.WriteString("\n")
		}
		if s.NoTx {
			b.WriteString("-- runs outside a transaction block\n")
		}
		b.WriteString(s.Display())
		b.WriteString(";\n")
	}
	return b.String()
}

// Execer runs one SQL statement: *pgx.Conn, *pgxpool.Pool, pgx.Tx,
// *engine.Conn and *engine.Tx all are Execers.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Querier is an [Execer] that also runs a one-row query, which statements
// with SkipIf need. Every Execer listed above is one.
type Querier interface {
	Execer
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Error is a failed statement: the statement and the server's error. Its
// message names the statement (kind and name), never its SQL, which may
// hold a secret.
type Error struct {
	Statement Statement
	Err       error
}

// Error returns "emit: <kind> <name>: <error>".
func (e *Error) Error() string {
	return fmt.Sprintf("emit: %s %s: %v", e.Statement.Kind, e.Statement.Name, e.Err)
}

// Unwrap returns the server's error (a *pgconn.PgError when PostgreSQL
// refused the statement).
func (e *Error) Unwrap() error { return e.Err }

// Exec runs the statements in order on db and stops at the first error,
// returned as an *[Error] naming the statement. A statement with SkipIf is
// skipped when its query returns true (db must then be a [Querier]). Exec
// opens no transaction: run it inside one (pgx.Tx, engine.Tx) to have all
// or nothing, or use [Runner.Exec], which groups statements into
// transactions.
func Exec(ctx context.Context, db Execer, stmts []Statement) error {
	if db == nil && len(stmts) > 0 {
		return errNilDB
	}
	for _, s := range stmts {
		if err := execOne(ctx, db, s); err != nil {
			return &Error{Statement: s, Err: err}
		}
	}
	return nil
}

// ErrNoQuerier is returned for a statement with SkipIf run on an Execer
// that cannot query.
var ErrNoQuerier = errors.New("emit: SkipIf needs an Execer with QueryRow")

// execOne runs s unless its SkipIf query says to skip it. It reports
// whether it ran through the error only.
func execOne(ctx context.Context, db Execer, s Statement) error {
	if s.SkipIf != "" {
		q, ok := db.(Querier)
		if !ok {
			return ErrNoQuerier
		}
		var skip bool
		if err := q.QueryRow(ctx, s.SkipIf).Scan(&skip); err != nil {
			return fmt.Errorf("SkipIf: %w", err)
		}
		if skip {
			return nil
		}
	}
	_, err := db.Exec(ctx, s.SQL)
	return err
}

// doBlock wraps PL/pgSQL statements in an anonymous code block.
func doBlock(body string) string { return sqlbuild.DoBlock(body) }

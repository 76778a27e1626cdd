package emit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Emitter produces statements for a model or for the database. Emit is
// pure: it reads metadata and returns SQL as data, touching no database,
// so a plan can be printed (dry run), saved or executed.
type Emitter interface {
	// Name is the emitter's registry name, e.g. "table" or "tenant_rls".
	Name() string
	// Emit returns the statements, in the order they must run.
	Emit() ([]Statement, error)
}

// Observer is told what a [Runner] does: which statements an emitter
// generated, and each statement executed (with its duration) or failed.
// Observers get whole statements; they must show Statement.Display (the
// Redacted text when set), never SQL. A statement skipped by its SkipIf
// query counts as executed. Observers are called synchronously.
type Observer interface {
	Generated(emitter string, stmts []Statement)
	Executed(s Statement, took time.Duration)
	Failed(s Statement, took time.Duration, err error)
}

// LogObserver returns an [Observer] writing to l: generated statements and
// executed ones at debug level (with their Display text and duration),
// failures at error level.
func LogObserver(l *slog.Logger) Observer { return logObserver{l} }

type logObserver struct{ l *slog.Logger }

// Generated logs the number of statements at debug level.
func (o logObserver) Generated(emitter string, stmts []Statement) {
	o.l.Debug("emit: generated", "emitter", emitter, "statements", len(stmts))
}

// Executed logs the statement's Display text and duration at debug level.
func (o logObserver) Executed(s Statement, took time.Duration) {
	o.l.Debug("emit: executed", "kind", s.Kind.String(), "name", s.Name, "duration", took, "sql", s.Display())
}

// Failed logs the statement's name and the error at error level.
func (o logObserver) Failed(s Statement, took time.Duration, err error) {
	o.l.Error("emit: failed", "kind", s.Kind.String(), "name", s.Name, "duration", took, "error", err)
}

// Beginner is a connection or pool that runs statements and starts
// transactions: *pgx.Conn and *pgxpool.Pool.
type Beginner interface {
	Querier
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Runner generates statements from emitters and executes them, telling its
// observers. The zero value is ready to use.
type Runner struct {
	// Observers are told of every generation, execution and failure.
	Observers []Observer
	// Role, when set, is the role each transaction opened by [Runner.Exec]
	// switches to first (set_config('role', Role, true), which is SET
	// LOCAL ROLE): the uno admin role for DDL.
	Role string
	// DryRun makes [Runner.Run] generate and return the statements without
	// executing them.
	DryRun bool
}

// Generate runs the emitters in order and returns their statements,
// concatenated. An emitter's error is returned naming the emitter.
func (r *Runner) Generate(emitters ...Emitter) ([]Statement, error) {
	var out []Statement
	for _, e := range emitters {
		if e == nil {
			return nil, errors.New("emit: nil emitter")
		}
		stmts, err := e.Emit()
		if err != nil {
			return nil, fmt.Errorf("emit: emitter %s: %w", e.Name(), err)
		}
		for _, o := range r.Observers {
			o.Generated(e.Name(), stmts)
		}
		out = append(out, stmts...)
	}
	return out, nil
}

// Run generates the emitters' statements and, unless DryRun is set,
// executes them with [Runner.Exec]. It returns the statements either way.
func (r *Runner) Run(ctx context.Context, db Beginner, emitters ...Emitter) ([]Statement, error) {
	stmts, err := r.Generate(emitters...)
	if err != nil || r.DryRun {
		return stmts, err
	}
	return stmts, r.Exec(ctx, db, stmts)
}

// Exec runs the statements in order on db. Consecutive statements run in
// one transaction (switched to Role when set), committed before the next
// NoTx statement, which runs on its own: CREATE DATABASE and CREATE INDEX
// CONCURRENTLY cannot run in a transaction block. The first failure rolls
// back its transaction and is returned as an *[Error] naming the
// statement; transactions committed before it stay.
func (r *Runner) Exec(ctx context.Context, db Beginner, stmts []Statement) error {
	if db == nil && len(stmts) > 0 {
		return errNilDB
	}
	for i := 0; i < len(stmts); {
		if stmts[i].NoTx {
			if err := r.execOne(ctx, db, stmts[i]); err != nil {
				return err
			}
			i++
			continue
		}
		j := i
		for j < len(stmts) && !stmts[j].NoTx {
			j++
		}
		if err := r.execGroup(ctx, db, stmts[i:j]); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func (r *Runner) execGroup(ctx context.Context, db Beginner, stmts []Statement) (err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return &Error{Statement: stmts[0], Err: fmt.Errorf("begin: %w", err)}
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if r.Role != "" {
		if _, err := tx.Exec(ctx, "SELECT set_config('role', $1, true)", r.Role); err != nil {
			return &Error{Statement: stmts[0], Err: fmt.Errorf("switch to role %s: %w", r.Role, err)}
		}
	}
	if err := r.ExecTx(ctx, tx, stmts); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return &Error{Statement: stmts[len(stmts)-1], Err: fmt.Errorf("commit: %w", err)}
	}
	return nil
}

var errNilDB = errors.New("emit: nil connection")

// ErrNoTxStatement is returned by [Runner.ExecTx] for a statement that
// cannot run in a transaction block.
var ErrNoTxStatement = errors.New("emit: statement cannot run inside a transaction")

// ExecTx runs the statements in order in the caller's transaction (a
// pgx.Tx, or an engine.Tx from engine.DB.WithTx with engine.RoleAdmin),
// telling the observers. It stops at the first error, returned as an
// *[Error]; the caller rolls back. A NoTx statement is an error.
func (r *Runner) ExecTx(ctx context.Context, tx Execer, stmts []Statement) error {
	if tx == nil && len(stmts) > 0 {
		return errNilDB
	}
	for _, s := range stmts {
		if s.NoTx {
			return &Error{Statement: s, Err: ErrNoTxStatement}
		}
		if err := r.execOne(ctx, tx, s); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) execOne(ctx context.Context, db Execer, s Statement) error {
	start := time.Now()
	err := execOne(ctx, db, s)
	took := time.Since(start)
	if err != nil {
		for _, o := range r.Observers {
			o.Failed(s, took, err)
		}
		return &Error{Statement: s, Err: err}
	}
	for _, o := range r.Observers {
		o.Executed(s, took)
	}
	return nil
}

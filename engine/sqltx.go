package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/uno-db/uno/dberr"
)

// The database/sql door. [DB.SQL] hands out a *sql.DB over the pool for
// tools that speak database/sql, but a query on it runs as the login role,
// which on a database set up by `uno db create` has no rights of its own.
// [DB.SQLTx] is the database/sql form of [DB.WithTx]: the same
// transaction-local role and identity, the release guard, retry and commit
// resolution, around a *sql.Tx.
//
// How it works: a *sql.Conn is borrowed from db.SQL() (a connection of the
// same pgx pool), the transaction begins with database/sql's BeginTx (so
// the *sql.Tx is database/sql's own), and the role, identity, signed
// sign-in and per-transaction settings are applied in one more round trip
// on the same connection, reached through (*sql.Conn).Raw. Before COMMIT
// the transaction id and history are captured as WithTx does; after the
// transaction the guard runs on the connection before database/sql hands
// it back to the pool.

// ErrSQLTxEnded is returned by [DB.SQLTx] when the function committed or
// rolled back the *sql.Tx itself: SQLTx owns the end of the transaction,
// so whether the work was kept is the function's business. It matches
// sql.ErrTxDone.
var ErrSQLTxEnded = fmt.Errorf("uno: SQLTx: the function ended the transaction itself: %w", sql.ErrTxDone)

// ErrSQLTxRowsOpen is returned by [DB.SQLTx] when the function returned nil
// with a *sql.Rows of the transaction still open: the connection is still
// reading them, so the transaction id cannot be captured before COMMIT.
// SQLTx rolls back; the call is not run again. Close the rows (or read
// them to the end) before returning.
var ErrSQLTxRowsOpen = errors.New("uno: SQLTx: the function returned with rows still open; close them before returning (rolled back)")

// SQLTx runs fn in a database/sql transaction of db, with the role,
// identity, isolation level and read-only mode of opts, as [DB.WithTx] does
// for a [*Tx]: the role and identity are set with set_config(…, true) for
// the transaction only (with db's signed sign-in when [DB.SignIdentities]
// is on, and the per-transaction settings of config.Config.TxSettings
// behind PgBouncer); it commits when fn returns nil and rolls back when fn
// returns an error or panics (the panic goes on after the rollback). Before
// the connection goes back to the pool the release guard resets what fn
// left on the session (SET, temporary tables, …) and destroys a connection
// with a session-level role. A connection lost with COMMIT in flight is
// resolved from the transaction id; [dberr.ErrCommitUnknown] is returned
// only when the server cannot tell. opts.Retry runs fn again under the
// rules of [TxOptions.Retry].
//
// fn must not call Commit or Rollback on tx (SQLTx returns
// [ErrSQLTxEnded] when it did), and must close the *sql.Rows it opened
// before returning nil (SQLTx rolls back and returns [ErrSQLTxRowsOpen]
// when it did not: database/sql would close them, but the transaction id
// cannot be read before COMMIT while they are open). The context given to fn is ctx: it does not
// carry a uno transaction, so repository calls made with it do not join tx
// (use WithTx for those). SQLTx never joins a transaction ctx carries and
// always runs on the primary (opts.Consistency is ignored). Statements fn
// runs with ctx are cancelled when it ends, and SQLTx then rolls back (the
// *sql.Tx itself is not bound to ctx, so that database/sql does not hand
// the connection back before the guard ran). It costs one round trip
// more than WithTx at each end: database/sql sends BEGIN and COMMIT
// itself. The returned error is classified by [dberr.Classify].
//
// It is the Go form of the seed's sync_connection(db_role="writer"):
//
//	err := db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, tx *sql.Tx) error {
//		_, err := tx.ExecContext(ctx, "UPDATE account SET balance = balance - $1 WHERE id = $2", 10, id)
//		return err
//	})
func (db *DB) SQLTx(ctx context.Context, opts TxOptions, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := db.errIfClosed(); err != nil {
		return err
	}
	sopts, err := sqlTxOptions(opts)
	if err != nil {
		return err
	}
	// The BEGIN batch's SELECT (role, TxSettings, identity, signed
	// sign-in), as WithTx sends it; database/sql sends BEGIN itself.
	_, prelude, args, _, err := db.beginStatements(opts)
	if err != nil {
		return err
	}
	start := time.Now()
	runs := 0
	for attempt := 1; ; attempt++ {
		ran, retryable, err := db.runSQLTx(ctx, opts, sopts, prelude, args, fn)
		if ran {
			runs++
		}
		// A transaction that never began (its connection was found dead,
		// or none could be had) ran nothing: it is tried again, as begin
		// does, whatever opts.Retry says.
		again := retryable && (opts.Retry || !ran) && ctx.Err() == nil &&
			runs < db.cfg.Retry.MaxAttempts && time.Since(start) < db.cfg.Retry.MaxElapsed
		if err == nil || !again {
			return err
		}
		db.log.Info("uno: database/sql transaction failed, retrying", "pool", db.cfg.Key().String(),
			"attempt", attempt, "sqlstate", dberr.Code(err), "err", err)
		if serr := db.sleep(ctx, attempt+1); serr != nil {
			return fmt.Errorf("%w (%w)", serr, err)
		}
	}
}

// sqlTxOptions turns opts into database/sql's transaction options.
func sqlTxOptions(opts TxOptions) (*sql.TxOptions, error) {
	so := &sql.TxOptions{ReadOnly: opts.ReadOnly}
	switch opts.Isolation {
	case "":
	case pgx.Serializable:
		so.Isolation = sql.LevelSerializable
	case pgx.RepeatableRead:
		so.Isolation = sql.LevelRepeatableRead
	case pgx.ReadCommitted:
		so.Isolation = sql.LevelReadCommitted
	case pgx.ReadUncommitted:
		so.Isolation = sql.LevelReadUncommitted
	default:
		return nil, fmt.Errorf("uno: SQLTx: unknown isolation level %q", string(opts.Isolation))
	}
	switch opts.Role {
	case RoleLogin, RoleReader, RoleWriter, RoleAdmin:
	default:
		return nil, fmt.Errorf("uno: unknown role %v", opts.Role)
	}
	return so, nil
}

// sqlConnRaw runs f on the pgx connection under c.
func sqlConnRaw(c *sql.Conn, f func(conn *pgx.Conn) error) error {
	return c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("uno: database/sql driver connection is %T, not pgx's", dc)
		}
		return f(sc.Conn())
	})
}

// sqlConnLost reports whether the connection under c is gone: closed by
// database/sql after a bad-connection error, or closed by pgx.
func sqlConnLost(c *sql.Conn) bool {
	lost := true
	_ = sqlConnRaw(c, func(conn *pgx.Conn) error {
		lost = conn.IsClosed()
		return nil
	})
	return lost
}

// runSQLTx makes one attempt of SQLTx; ran tells whether fn ran,
// retryable whether running it again is safe by the rules of
// [TxOptions.Retry] (a transaction that did not begin is always safe).
func (db *DB) runSQLTx(ctx context.Context, opts TxOptions, sopts *sql.TxOptions, prelude string, args []any,
	fn func(context.Context, *sql.Tx) error) (ran, retryable bool, err error) {
	actx := ctx
	if t := db.cfg.Pool.AcquireTimeout; t > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	c, err := db.SQL().Conn(actx) // actx bounds the borrow only
	if err != nil {
		if cerr := db.errIfClosed(); cerr != nil {
			return false, false, cerr
		}
		if actx.Err() != nil {
			return false, false, db.acquireEnded(ctx, actx, err)
		}
		err = db.wrapErr(ctx, err, false)
		return false, ctx.Err() == nil && (dberr.IsTransientConnect(err) || errors.Is(err, dberr.ErrConnection)), err
	}
	var tx *sql.Tx
	defer func() {
		// Whatever happened, the transaction ends before the connection is
		// given back (database/sql would wait for it), and the guard runs
		// on a connection that is idle and alive.
		if tx != nil {
			_ = tx.Rollback()
		}
		db.sqlRelease(ctx, c)
	}()
	// The transaction is not bound to ctx: database/sql would roll back
	// and hand the connection back on its own when ctx ends, before the
	// guard ran. Statements fn runs with ctx are still cancelled by it,
	// and so are the capture before COMMIT and the settings batch.
	tx, err = c.BeginTx(context.WithoutCancel(ctx), sopts)
	if err == nil && (prelude != "" || opts.Deferrable) {
		err = sqlConnRaw(c, func(conn *pgx.Conn) error {
			b := &pgx.Batch{}
			if opts.Deferrable {
				b.Queue("SET TRANSACTION DEFERRABLE")
			}
			if prelude != "" {
				b.Queue(prelude, args...)
			}
			return conn.SendBatch(ctx, b).Close()
		})
	}
	if err != nil {
		lost := sqlConnLost(c)
		err = db.wrapErr(ctx, err, lost)
		if ctx.Err() != nil {
			return false, false, fmt.Errorf("uno: SQLTx: begin: the context ended before the transaction started: %w", err)
		}
		if opts.Role != RoleLogin {
			err = fmt.Errorf("uno: SQLTx: begin as %s role: %w", opts.Role, err)
		} else {
			err = fmt.Errorf("uno: SQLTx: begin: %w", err)
		}
		// Found dead at BEGIN: nothing ran, take another connection.
		return false, lost, err
	}
	fnErr := fn(ctx, tx)
	if fnErr != nil {
		_ = tx.Rollback()
		tx = nil
		lost := sqlConnLost(c)
		err := db.wrapErr(ctx, fnErr, lost)
		if ctx.Err() != nil || dberr.Code(err) == dberr.CodeQueryCanceled {
			return true, false, err
		}
		return true, lost || dberr.IsRetryableTx(err), err
	}
	retryable, err = db.sqlCommit(ctx, opts, c, tx)
	tx = nil
	return true, retryable, err
}

// sqlCommit commits tx, which runs on c, as Tx.commit does: the
// transaction id and history are captured first, so a COMMIT lost with
// its connection is resolved on the server that ran it.
func (db *DB) sqlCommit(ctx context.Context, opts TxOptions, c *sql.Conn, tx *sql.Tx) (retryable bool, err error) {
	if cerr := ctx.Err(); cerr != nil {
		// As WithTx: a context that ended before COMMIT rolls back.
		_ = tx.Rollback()
		return false, fmt.Errorf("uno: commit: %w", cerr)
	}
	var xid *string
	var then history
	var state byte
	err = sqlConnRaw(c, func(conn *pgx.Conn) error {
		if conn.PgConn().IsBusy() {
			return ErrSQLTxRowsOpen
		}
		state = conn.PgConn().TxStatus()
		if state != 'T' || opts.ReadOnly {
			// 'I': fn ended the transaction itself; 'E': a failed
			// transaction, whose COMMIT answers ROLLBACK.
			return nil
		}
		then.addr = serverAddr(conn)
		return conn.QueryRow(ctx, captureSQL).Scan(&xid, &then.sysID, &then.timeline, &then.started,
			&then.statsReset, &then.at)
	})
	if err != nil {
		_ = tx.Rollback()
		if errors.Is(err, ErrSQLTxRowsOpen) {
			// Rolling back a busy connection closes it: nothing committed.
			return false, err
		}
		lost := sqlConnLost(c)
		err = db.wrapErr(ctx, err, lost)
		if lost {
			return ctx.Err() == nil, &dberr.Error{Kind: dberr.ErrConnection, Err: fmt.Errorf("%w: %w", errTxLost, err)}
		}
		return ctx.Err() == nil && dberr.IsRetryableTx(err), err
	}
	if state == 'I' {
		_ = tx.Rollback() // tells database/sql the transaction is over
		return false, ErrSQLTxEnded
	}
	err = tx.Commit()
	if err == nil {
		return false, nil
	}
	if errors.Is(err, pgx.ErrTxCommitRollback) {
		return false, fmt.Errorf("uno: commit: %w", pgx.ErrTxCommitRollback)
	}
	if errors.Is(err, sql.ErrTxDone) {
		// The *sql.Tx ended behind SQLTx's back (it is not bound to ctx,
		// so database/sql does not end it on its own): report it.
		return false, db.wrapErr(ctx, fmt.Errorf("uno: commit: %w", err), false)
	}
	if !sqlConnLost(c) {
		// The server answered COMMIT with an error: it rolled back.
		err = db.wrapErr(ctx, err, false)
		return ctx.Err() == nil && dberr.IsRetryableTx(err), err
	}
	db.markSuspect()
	if xid == nil {
		// Nothing was written: whatever happened to COMMIT, no effect is
		// lost (see Tx.commit).
		return false, nil
	}
	// Give the dead connection back before asking a fresh one.
	_ = c.Close()
	return db.resolve(ctx, *xid, then, err)
}

// sqlRelease runs the release guard on c's connection and gives c back to
// database/sql, which returns the connection to the pool (db.SQL keeps no
// idle connections of its own). A connection still in a transaction, or
// that the guard finds dirty, is closed so the pool destroys it.
func (db *DB) sqlRelease(ctx context.Context, c *sql.Conn) {
	_ = sqlConnRaw(c, func(conn *pgx.Conn) error {
		switch {
		case conn.IsClosed():
			db.markSuspect()
		case conn.PgConn().IsBusy() || conn.PgConn().TxStatus() != 'I':
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			_ = conn.Close(cctx)
		default:
			if !db.runGuard(ctx, conn) {
				db.markSuspect()
			}
		}
		return nil
	})
	_ = c.Close()
}

// serverAddr returns the remote address of the connection the transaction
// ran on, for the commit-outcome lookup; nil when unknown.
func serverAddr(conn *pgx.Conn) net.Addr {
	if conn == nil || conn.PgConn() == nil || conn.PgConn().Conn() == nil {
		return nil
	}
	return conn.PgConn().Conn().RemoteAddr()
}

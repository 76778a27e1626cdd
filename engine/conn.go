package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uno-db/uno/dberr"
)

// Querier is anything that runs queries: the pool, a borrowed connection or
// a transaction. Repositories take a Querier so they work the same inside
// and outside a transaction. *pgxpool.Pool, *pgx.Conn, pgx.Tx, [*Conn] and
// [*Tx] all satisfy it.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

var (
	_ Querier = (*pgxpool.Pool)(nil)
	_ Querier = (*Conn)(nil)
	_ Querier = (*Tx)(nil)
)

// SettingPrefix is the prefix of uno's transaction-local identity settings,
// as in uno's row-level security policies: rls_var.user_id,
// rls_var.tenant_id, rls_var.is_superuser and rls_var.<claim>.
const SettingPrefix = "rls_var."

// ErrEnded is returned by the methods of a Conn or Tx used after the
// helper or session that owned it has ended: its connection may already
// serve someone else. It matches pgx.ErrTxClosed.
var ErrEnded = fmt.Errorf("uno: connection or transaction used after its scope ended: %w", pgx.ErrTxClosed)

// queries runs statements on one pgx connection and classifies their
// errors; Conn and Tx embed it. Once ended is set, every method refuses.
type queries struct {
	conn  *pgx.Conn
	ended *atomic.Bool
}

func (q queries) over() bool { return q.ended != nil && q.ended.Load() }

// Exec runs sql and returns its command tag; errors are classified by
// [dberr.Classify].
func (q queries) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if q.over() {
		return pgconn.CommandTag{}, ErrEnded
	}
	tag, err := q.conn.Exec(ctx, sql, args...)
	return tag, dberr.Classify(err)
}

// Query runs sql and returns its rows.
func (q queries) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if q.over() {
		return nil, ErrEnded
	}
	rows, err := q.conn.Query(ctx, sql, args...)
	return rows, dberr.Classify(err)
}

// QueryRow runs sql and returns its single row; Scan errors are classified.
func (q queries) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if q.over() {
		return errRow{ErrEnded}
	}
	return classifiedRow{q.conn.QueryRow(ctx, sql, args...)}
}

// SendBatch sends a batch in one round trip.
func (q queries) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if q.over() {
		return errBatch{ErrEnded}
	}
	return q.conn.SendBatch(ctx, b)
}

// CopyFrom loads rows with COPY.
func (q queries) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if q.over() {
		return 0, ErrEnded
	}
	n, err := q.conn.CopyFrom(ctx, table, columns, src)
	return n, dberr.Classify(err)
}

// Raw returns the underlying pgx connection, for what uno does not offer.
// Inside a transaction, do not commit or roll back on it: the helper that
// owns the transaction does. Like the other methods, it is valid only
// while the helper or session runs.
func (q queries) Raw() *pgx.Conn { return q.conn }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// errBatch is the result of a batch that could not be sent.
type errBatch struct{ err error }

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow(b) }
func (b errBatch) Close() error                     { return b.err }
func (b errBatch) Tx() pgx.Tx                       { return nil }

// Conn is a connection borrowed by [DB.WithConn]. It is valid only inside
// the function it was given to. Its methods run on the connection and
// classify errors with [dberr.Classify].
type Conn struct {
	queries
}

type classifiedRow struct{ row pgx.Row }

func (r classifiedRow) Scan(dest ...any) error { return dberr.Classify(r.row.Scan(dest...)) }

// ctxKey is the context key under which a scoped helper stores the
// connection or transaction it runs on.
type ctxKey struct{}

type scope struct {
	db   *DB
	conn *Conn
	tx   *Tx
}

// Querier returns what a query made with ctx should run on: the transaction
// ctx carries for this DB, else the connection it carries, else the pool.
func (db *DB) Querier(ctx context.Context) Querier {
	if s, ok := ctx.Value(ctxKey{}).(*scope); ok && s.db == db {
		if s.tx != nil {
			return s.tx
		}
		return s.conn
	}
	return db.pool
}

// TxFromContext returns the transaction of db that ctx carries, if any.
func (db *DB) TxFromContext(ctx context.Context) (*Tx, bool) {
	if s, ok := ctx.Value(ctxKey{}).(*scope); ok && s.db == db && s.tx != nil {
		return s.tx, true
	}
	return nil, false
}

// WithConn borrows a connection, runs fn with it and always releases it,
// also when fn panics (the panic goes on after the release). The context
// given to fn carries the connection, so [DB.Querier] and repositories use
// it. The returned error is classified by [dberr.Classify]. A connection
// that fn left in a transaction, with another role or with an identity
// setting is destroyed rather than reused.
func (db *DB) WithConn(ctx context.Context, fn func(ctx context.Context, c *Conn) error) (err error) {
	pc, err := db.acquire(ctx)
	if err != nil {
		return err
	}
	ended := new(atomic.Bool)
	c := &Conn{queries{conn: pc.Conn(), ended: ended}}
	defer func() {
		ended.Store(true)
		if p := recover(); p != nil {
			db.release(pc, true)
			panic(p)
		}
		db.release(pc, true)
	}()
	err = fn(context.WithValue(ctx, ctxKey{}, &scope{db: db, conn: c}), c)
	return db.wrapErr(ctx, err, pc.Conn().IsClosed())
}

// wrapErr classifies err and makes sure a context that ended shows in it.
// lost tells that the connection died, so the pool pings connections for a
// while.
func (db *DB) wrapErr(ctx context.Context, err error, lost bool) error {
	if err == nil {
		return nil
	}
	err = dberr.Classify(err)
	if lost {
		db.markSuspect()
		var de *dberr.Error
		if !errors.As(err, &de) {
			err = &dberr.Error{Kind: dberr.ErrConnection, Err: err}
		}
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}

// acquire borrows a connection, retrying transient failures with backoff
// until config.Retry.MaxElapsed has passed, within Pool.AcquireTimeout and
// ctx. A borrow that ends because no connection came free within
// Pool.AcquireTimeout is an [dberr.ErrPoolTimeout] (which still matches
// context.DeadlineExceeded); one that ends because ctx ended matches ctx's
// error and is no ErrPoolTimeout.
func (db *DB) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	if err := db.errIfClosed(); err != nil {
		return nil, err
	}
	start := time.Now()
	actx := ctx
	if t := db.cfg.Pool.AcquireTimeout; t > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	for attempt := 1; ; attempt++ {
		pc, err := db.pool.Acquire(actx)
		if err == nil {
			return pc, nil
		}
		if cerr := db.errIfClosed(); cerr != nil {
			return nil, cerr
		}
		if actx.Err() != nil {
			return nil, db.acquireEnded(ctx, actx, err)
		}
		if !dberr.IsTransientConnect(err) || time.Since(start) >= db.cfg.Retry.MaxElapsed {
			return nil, fmt.Errorf("uno: acquire connection to %s after %d attempts in %v: %w",
				db.cfg.Key(), attempt, time.Since(start).Round(time.Millisecond), dberr.Classify(err))
		}
		db.markSuspect()
		db.log.Warn("uno: connect failed, retrying", "pool", db.cfg.Key().String(), "attempt", attempt, "err", err)
		if serr := db.sleep(actx, attempt+1); serr != nil {
			return nil, db.acquireEnded(ctx, actx, err)
		}
	}
}

// acquireEnded describes a borrow whose context (the caller's, or the one
// bounded by Pool.AcquireTimeout) ended. last is the last error seen. When
// the caller's own context ended, the error matches its error
// (context.Canceled or context.DeadlineExceeded) and not
// [dberr.ErrPoolTimeout]: the caller gave up, uno's wait limit did not
// strike. Only Pool.AcquireTimeout makes an ErrPoolTimeout.
func (db *DB) acquireEnded(ctx, actx context.Context, last error) error {
	st := db.pool.Stat()
	inUse := fmt.Sprintf("%d of %d connections in use", st.AcquiredConns(), st.MaxConns())
	cause := dberr.Classify(last)
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(cause, cerr) {
			return fmt.Errorf("uno: acquire connection from pool %s: the caller's context ended while waiting (%s): %w",
				db.cfg.Key(), inUse, cerr)
		}
		return fmt.Errorf("uno: acquire connection from pool %s: the caller's context ended while waiting (%s): %w (%w)",
			db.cfg.Key(), inUse, cerr, cause)
	}
	whose := "within Pool.AcquireTimeout " + db.cfg.Pool.AcquireTimeout.String()
	if st.AcquiredConns() >= st.MaxConns() {
		return &dberr.Error{Kind: dberr.ErrPoolTimeout, Err: fmt.Errorf("pool %s: all %d connections stayed in use; none came free %s: %w",
			db.cfg.Key(), st.MaxConns(), whose, actx.Err())}
	}
	if errors.Is(cause, actx.Err()) {
		return &dberr.Error{Kind: dberr.ErrPoolTimeout, Err: fmt.Errorf("pool %s: no connection %s: %w",
			db.cfg.Key(), whose, actx.Err())}
	}
	return fmt.Errorf("uno: acquire connection to %s: no connection %s: %w (%w)", db.cfg.Key(), whose, actx.Err(), cause)
}

// sleep waits the backoff before attempt n, with full jitter, or until ctx
// ends.
func (db *DB) sleep(ctx context.Context, n int) error {
	d := db.cfg.Retry.Delay(n)
	if d > 0 {
		d = time.Duration(rand.Int64N(int64(d)) + 1)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release returns pc to the pool. With check set it first runs the release
// guard (see guard.go); a connection the guard finds dirty, or that dies
// meanwhile, is closed so the pool destroys it.
func (db *DB) release(pc *pgxpool.Conn, check bool) {
	conn := pc.Conn()
	if conn.IsClosed() {
		db.markSuspect()
		pc.Release()
		return
	}
	if !check || conn.PgConn().IsBusy() || conn.PgConn().TxStatus() != 'I' {
		pc.Release() // pgxpool destroys busy connections and ones inside a transaction
		return
	}
	if !db.runGuard(context.Background(), conn) {
		db.markSuspect()
	}
	pc.Release()
}

// Discards reports how many connections the release guard destroyed because
// it found session state it cannot reset (a role, another session user, a
// hand-made prepared statement). Connections that died are not counted.
func (db *DB) Discards() int64 { return db.discards.Load() }

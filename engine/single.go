package engine

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uno-db/uno/dberr"
)

// One statement in one round trip.
//
// [DB.Single] runs a function that issues exactly one statement in a
// transaction of its own, with the role, identity and per-transaction
// settings of its options, and sends everything that transaction needs
// in one write, as one pipeline of extended-protocol messages:
//
//	<prelude>; <statement>; [Flush, for a write]; Sync
//	[SELECT pg_current_wal_insert_lsn(); Sync]      with replicas, writes
//	[<release guard, statement by statement>; Sync] unless NoSessionState
//
// The transaction is the pipeline's implicit one: the server runs every
// message up to a Sync in one transaction and commits it at the Sync, so
// neither BEGIN nor COMMIT is sent. (An isolation level or DEFERRABLE
// cannot be set once the prelude ran: such calls send BEGIN first and
// COMMIT after the first Sync, as before.) The prelude is one prepared
// SELECT: for a write, the transaction id (assigned there), the server's
// history when the connection has not recorded it yet (resolve.go; it
// cannot change while the connection lives, unless the connection was
// opened on a standby), and the server clock; then set_config(…, true)
// of the settings, role and identity, and the signed sign-in; for a read,
// transaction_read_only. A call with nothing to set and nothing to capture
// has no prelude.
//
// The server answers it all in one go: one round trip instead of four for
// the same transaction written by hand with pgx (BEGIN, set_config, the
// statement, COMMIT). For a write, the Flush request makes the prelude's
// and the statement's answers leave the server before it commits (a read
// has nothing to resolve: its answers leave with the Sync's). A failing
// prelude or statement makes the server roll back and skip to the Sync;
// the statements after it still run. A FATAL error read before the
// statement's completion proves that nothing committed; a connection lost
// later is resolved through the captured transaction id.
//
// COMMIT is sent with the statement: the function cannot decide to roll
// back after seeing the statement's result. An error it returns after a
// statement that succeeded is returned, but the statement is committed.
//
// The statement and the prelude run as named prepared statements of the
// connection's own small cache (statement descriptions: pgx keeps its
// cache private); statements new to the connection are prepared in one
// extra round trip first, as pgx itself does.

// ErrSingleStatement is returned when the function given to [DB.Single]
// issues a second statement, or a batch or COPY.
var ErrSingleStatement = errors.New("uno: Single runs exactly one statement (Exec, Query or QueryRow); use WithTx for more")

// errLostBefore marks a connection lost in a single call before COMMIT
// could run: the server reported the loss before the capture that comes
// just ahead of COMMIT, or the call was read-only.
var errLostBefore = errors.New("uno: connection lost before COMMIT ran; the transaction was rolled back by the server")

// Single runs fn, which must issue exactly one statement on q (Exec, Query
// or QueryRow; a second statement, SendBatch and CopyFrom return
// [ErrSingleStatement]), in a transaction of its own with opts' role,
// identity, isolation and mode, in one round trip (see the comment at the
// top of single.go). Rows returned by Query must be closed (reading them to
// the end closes them) before fn returns; closing them reads the commit's
// outcome, which rows.Err reports. The connection is borrowed at the
// statement, and fn gets no connection if it issues none.
//
// COMMIT is sent with the statement: an error fn returns after the
// statement succeeded does not undo it. A statement that fails rolls the
// transaction back (typed error, as with WithTx). If the connection is lost
// after the statement was sent, the outcome is resolved as by WithTx when
// the transaction id reached the client; when it did not, a read-only call
// fails with a connection error (nothing was written) and a read-write one
// with [dberr.ErrCommitUnknown] unless the server reported the loss before
// COMMIT could run. See [TxOptions.Retry] for when fn runs again.
//
// When ctx carries a transaction or connection of db, when opts may route
// to a replica, or when the pool's query mode is not cache_statement
// (PgBouncer), Single runs fn through [DB.WithTx] instead: same results, in
// more round trips.
func (db *DB) Single(ctx context.Context, opts TxOptions, fn func(ctx context.Context, q Querier) error) error {
	if !db.singleWorks(ctx, opts) {
		return db.WithTx(ctx, opts, func(ctx context.Context, tx *Tx) error { return fn(ctx, tx) })
	}
	beginSQL, setSQL, args, role, err := db.beginStatements(opts)
	if err != nil {
		return err
	}
	textArgs, err := textParams(args)
	if err != nil {
		return err
	}
	call := singleCall{db: db, opts: opts, beginSQL: beginSQL, setSQL: setSQL, setArgs: textArgs, role: role,
		implicit: opts.Isolation == "" && !opts.Deferrable}
	call.preludeSQL = call.prelude()
	start := time.Now()
	runs := 0
	for attempt := 1; ; attempt++ {
		s := &single{singleCall: call}
		retryable, err := s.run(ctx, fn)
		if s.sent {
			runs++
		}
		if err == nil || !opts.Retry || !retryable || ctx.Err() != nil ||
			runs >= db.cfg.Retry.MaxAttempts || time.Since(start) >= db.cfg.Retry.MaxElapsed {
			return err
		}
		db.log.Info("uno: single call failed, retrying", "pool", db.cfg.Key().String(),
			"attempt", attempt, "sqlstate", dberr.Code(err), "err", err)
		if serr := db.sleep(ctx, attempt+1); serr != nil {
			return fmt.Errorf("%w (%w)", serr, err)
		}
	}
}

// singleConf is what Single needs of a pool's settings, read once per DB
// (pgxpool's Config copies every setting on each call).
type singleConf struct {
	works    bool // cache_statement mode with a statement cache
	capacity int
	tracer   pgx.QueryTracer
}

// singleConfs maps weak.Pointer[DB] to singleConf: weak, so a DB its
// factory closed can still be collected (its small entry stays).
var singleConfs sync.Map

func (db *DB) singleConf() singleConf {
	key := weak.Make(db)
	if c, ok := singleConfs.Load(key); ok {
		return c.(singleConf)
	}
	cc := db.pool.Config().ConnConfig
	c := singleConf{works: cc.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement && cc.StatementCacheCapacity > 0,
		capacity: cc.StatementCacheCapacity, tracer: cc.Tracer}
	singleConfs.Store(key, c)
	return c
}

// singleWorks reports whether a Single call can take the pipelined path.
func (db *DB) singleWorks(ctx context.Context, opts TxOptions) bool {
	if s, ok := ctx.Value(ctxKey{}).(*scope); ok && s.db == db {
		return false
	}
	return opts.Consistency == Strong && db.singleConf().works
}

// singleCall is what every attempt of a Single call shares, made once.
type singleCall struct {
	db       *DB
	opts     TxOptions
	beginSQL string
	setSQL   string
	setArgs  [][]byte
	role     string
	// implicit: the pipeline's implicit transaction, without BEGIN and
	// COMMIT (see the comment at the top).
	implicit bool
	// preludeSQL is prelude's text.
	preludeSQL string
}

// single is one attempt of a Single call. It is the Querier fn gets.
type single struct {
	singleCall

	used bool // fn issued its statement
	sent bool // the pipeline went out: the statement may have run

	pc   *pgxpool.Conn
	p    *pgconn.Pipeline
	rr   *pgconn.ResultReader // the statement's result, while fn reads it
	done bool                 // the pipeline was read to its end (or abandoned)

	setupErr error // BEGIN or the prelude failed
	stmtErr  error // the statement failed on the server
	lostErr  error // the connection was lost
	// captured tells that the prelude's capture arrived: the write's
	// transaction id and its history.
	captured bool
	xid      string
	then     history
	// hist is the connection's history, recorded or just read (for a
	// write).
	hist history
	// stmtDone: the statement's completion arrived; synced: the Sync
	// after it was answered.
	stmtDone bool
	synced   bool
	// commitTag is "COMMIT" once the commit is known to have happened
	// (the implicit transaction's Sync answered after a statement that
	// succeeded, or COMMIT's own answer), or COMMIT's answer "ROLLBACK";
	// commitErr the error the server answered the commit with.
	commitTag string
	commitErr error
	// fatalBeforeCommit: the server itself reported the connection's end
	// (a FATAL error) before it could commit: before the statement's
	// completion, or with BEGIN before the first Sync's answer.
	fatalBeforeCommit bool
	// tracer is the connection's query tracer, told of the statement
	// (only: the rest of the pipeline is uno's own); tctx its context and
	// tag the statement's command tag.
	tracer pgx.QueryTracer
	tctx   context.Context
	tag    pgconn.CommandTag
	// lost's verdict, made once.
	lostJudged bool
	lostRetry  bool
	lostRes    error
}

// run makes one attempt: fn, then the rest of the pipeline.
func (s *single) run(ctx context.Context, fn func(context.Context, Querier) error) (retryable bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.end(ctx)
			panic(p)
		}
	}()
	fnErr := fn(ctx, s)
	s.end(ctx)
	return s.outcome(ctx, fnErr)
}

// outcome turns what the attempt saw into the error returned, and whether
// running it again is safe.
func (s *single) outcome(ctx context.Context, fnErr error) (bool, error) {
	db := s.db
	switch {
	case !s.sent:
		// Nothing reached the server: fn issued no statement, or the
		// borrow or the statement's preparation failed.
		err := db.wrapErr(ctx, fnErr, false)
		return err != nil && ctx.Err() == nil && (dberr.IsTransientConnect(err) || errors.Is(err, dberr.ErrConnection)), err
	case s.lostErr != nil:
		if !s.lostJudged {
			// Once: lost may ask the server (resolve).
			s.lostJudged = true
			s.lostRetry, s.lostRes = s.lost(ctx)
		}
		if s.lostRes != nil {
			return s.lostRetry, s.lostRes
		}
	case s.setupErr != nil:
		err := db.wrapErr(ctx, s.setupErr, false)
		if s.role != "" {
			err = fmt.Errorf("uno: begin as %s role %q: %w", s.opts.Role, s.role, err)
		} else {
			err = fmt.Errorf("uno: begin: %w", err)
		}
		return false, err
	case s.stmtErr != nil:
		err := fnErr
		if err == nil {
			err = s.stmtErr
		}
		err = db.wrapErr(ctx, err, false)
		if ctx.Err() != nil || dberr.Code(err) == dberr.CodeQueryCanceled {
			return false, err
		}
		return dberr.IsRetryableTx(err), err
	case s.commitErr != nil:
		err := db.wrapErr(ctx, s.commitErr, false)
		return ctx.Err() == nil && dberr.IsRetryableTx(err), err
	case s.commitTag == "ROLLBACK":
		return false, fmt.Errorf("uno: commit: %w", pgx.ErrTxCommitRollback)
	}
	return false, db.wrapErr(ctx, fnErr, false)
}

// lost decides the outcome of a call whose connection died after the
// pipeline was sent.
func (s *single) lost(ctx context.Context) (bool, error) {
	db := s.db
	db.markSuspect()
	cause := db.wrapErr(ctx, s.lostErr, true)
	switch {
	case s.commitTag == "COMMIT":
		// COMMIT answered; the connection died in the guard.
		return false, nil
	case s.stmtErr != nil || s.setupErr != nil || s.commitTag == "ROLLBACK" || s.commitErr != nil:
		// The statement or COMMIT failed on the server: nothing committed.
		err := s.stmtErr
		if err == nil {
			err = s.setupErr
		}
		if err == nil {
			err = s.commitErr
		}
		if err == nil {
			err = pgx.ErrTxCommitRollback
		}
		return false, db.wrapErr(ctx, err, false)
	case s.opts.ReadOnly, s.fatalBeforeCommit:
		// Nothing to lose (a read-only transaction wrote nothing), or
		// the commit provably never ran.
		return ctx.Err() == nil, &dberr.Error{Kind: dberr.ErrConnection, Err: fmt.Errorf("%w: %w", errLostBefore, cause)}
	case s.captured:
		return db.resolve(ctx, s.xid, s.then, s.lostErr)
	}
	return false, &dberr.Error{Kind: dberr.ErrCommitUnknown, Err: fmt.Errorf(
		"uno: connection lost after the statement and its commit were sent, before the transaction id arrived: "+
			"the outcome cannot be resolved: %w", cause)}
}

// Exec runs the call's statement and returns its command tag once the
// commit's outcome is known.
func (s *single) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	rr, err := s.start(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := rr.Close()
	s.rr, s.tag = nil, tag
	if err != nil {
		s.noteErr(err, false)
	} else {
		s.stmtDone = true
	}
	s.end(ctx)
	if _, err := s.outcome(ctx, nil); err != nil {
		return pgconn.CommandTag{}, err
	}
	return tag, nil
}

// Query runs the call's statement and returns its rows; closing them
// reads the commit's outcome, which Err reports.
func (s *single) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rr, err := s.start(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	return &singleRows{Rows: pgx.RowsFromResultReader(s.pc.Conn().TypeMap(), rr), s: s, ctx: ctx}, nil
}

// QueryRow runs the call's statement and returns its first row.
func (s *single) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := s.Query(ctx, sql, args...)
	if err != nil {
		return errRow{err}
	}
	return singleRow{rows}
}

// SendBatch is refused: a batch is more than one statement.
func (s *single) SendBatch(context.Context, *pgx.Batch) pgx.BatchResults {
	return errBatch{ErrSingleStatement}
}

// CopyFrom is refused: COPY cannot run in the pipeline.
func (s *single) CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error) {
	return 0, ErrSingleStatement
}

// singleRow is QueryRow's row: the first row of the rows, then the commit's
// outcome.
type singleRow struct{ rows pgx.Rows }

func (r singleRow) Scan(dest ...any) error {
	rows := r.rows
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		rows.Close()
		if cerr := rows.Err(); cerr != nil && !errors.Is(cerr, err) {
			return errors.Join(err, cerr)
		}
		return err
	}
	rows.Close()
	return rows.Err()
}

// singleRows are the statement's rows; closing them finishes the call.
type singleRows struct {
	pgx.Rows
	s      *single
	ctx    context.Context
	closed bool
	err    error
	// decodeErr is the error of a Scan or Values that failed on the
	// client (a value its destination cannot take): pgx ends the rows with
	// it, but it says nothing of the server or the connection.
	decodeErr error
}

// Scan is pgx's, remembering a failure as the client's own.
func (r *singleRows) Scan(dest ...any) error {
	err := r.Rows.Scan(dest...)
	if err != nil && r.decodeErr == nil {
		r.decodeErr = err
	}
	return err
}

// Values is pgx's, remembering a failure as the client's own.
func (r *singleRows) Values() ([]any, error) {
	v, err := r.Rows.Values()
	if err != nil && r.decodeErr == nil {
		r.decodeErr = err
	}
	return v, err
}

func (r *singleRows) Next() bool {
	if r.closed {
		return false
	}
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *singleRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	s := r.s
	s.rr, s.tag = nil, r.Rows.CommandTag()
	switch err := r.Rows.Err(); {
	case err == nil:
		s.stmtDone = true
	case err == r.decodeErr && !s.pc.Conn().PgConn().IsClosed():
		// The client could not decode a row; pgx then read the statement
		// to its end, and its completion tells whether it ran (a server
		// error after the failed row leaves the tag empty). The call
		// returns the decode error as fn's own; the commit goes on as
		// for any error fn returns after its statement.
		s.stmtDone = s.tag.String() != ""
	default:
		s.noteErr(err, false)
	}
	s.end(r.ctx)
	_, r.err = s.outcome(r.ctx, nil)
}

func (r *singleRows) Err() error {
	if r.err != nil {
		return r.err
	}
	return dberr.Classify(r.Rows.Err())
}

// noteErr records an error met while reading the pipeline. A server error
// that is not FATAL fails the statement (or, with setup, BEGIN or the
// prelude); any other is the connection's loss.
func (s *single) noteErr(err error, setup bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Severity != "FATAL" && pgErr.Severity != "PANIC" {
		if setup {
			if s.setupErr == nil {
				s.setupErr = err
			}
		} else if s.stmtErr == nil {
			s.stmtErr = err
		}
		return
	}
	if s.lostErr == nil {
		s.lostErr = err
		if pgErr != nil && (s.implicit && !s.stmtDone || !s.implicit && !s.synced) {
			s.fatalBeforeCommit = true
		}
	}
}

// start borrows a connection, sends the pipeline and reads up to the
// statement's result. A connection found dead before anything was sent, or
// one whose first answer proves that nothing ran, is replaced; a statement
// description the server no longer accepts is prepared again, once.
func (s *single) start(ctx context.Context, sql string, args []any) (*pgconn.ResultReader, error) {
	if s.used {
		return nil, ErrSingleStatement
	}
	s.used = true
	db := s.db
	begun := time.Now()
	reprepared := false
	for attempt := 1; ; attempt++ {
		pc, err := db.acquire(ctx)
		if err != nil {
			return nil, err
		}
		if !alive(pc.Conn().PgConn()) {
			// The server closed the connection while it sat in the pool
			// (a restart or failover): nothing was sent on it.
			_ = pc.Conn().Close(ctx)
			db.markSuspect()
			db.release(pc, false)
			if time.Since(begun) < db.cfg.Retry.MaxElapsed && ctx.Err() == nil {
				continue
			}
			return nil, &dberr.Error{Kind: dberr.ErrConnection, Err: errors.New("uno: every connection borrowed was closed by the server")}
		}
		s.pc = pc
		rr, retry, err := s.send(ctx, sql, args)
		if err == nil {
			return rr, nil
		}
		if retry == retryPrepare && !reprepared {
			reprepared = true
			attempt--
			s.reset()
			continue
		}
		if retry == retryConn && ctx.Err() == nil && time.Since(begun) < db.cfg.Retry.MaxElapsed {
			s.reset()
			if attempt > 1 {
				if serr := db.sleep(ctx, attempt); serr != nil {
					return nil, fmt.Errorf("uno: single: the context ended before the statement ran: %w (%w)", serr, err)
				}
			}
			continue
		}
		return nil, err
	}
}

// reset forgets a failed attempt whose pipeline ran nothing, before the
// next one.
func (s *single) reset() {
	*s = single{singleCall: s.singleCall, used: true}
}

type retryKind int

const (
	retryNone    retryKind = iota
	retryConn              // nothing ran: try a fresh connection
	retryPrepare           // the prepared statement is stale: prepare it again
)

// send sends the pipeline on s.pc and reads up to the statement's result.
// On error the pipeline has been read to its end and the connection given
// back; retry tells whether the attempt may be made again.
func (s *single) send(ctx context.Context, sql string, args []any) (*pgconn.ResultReader, retryKind, error) {
	db := s.db
	conn := s.pc.Conn()
	pg := conn.PgConn()
	sc := db.singleConf()
	cache := stmtCacheOf(pg, sc.capacity)
	if len(args) > 0 {
		if rw, ok := args[0].(pgx.QueryRewriter); ok {
			var err error
			sql, args, err = rw.RewriteQuery(ctx, conn, sql, args[1:])
			if err != nil {
				db.release(s.pc, true)
				s.done = true
				return nil, retryNone, fmt.Errorf("uno: rewrite query: %w", err)
			}
		}
	}
	sd, psd, err := s.prepare(ctx, conn, cache, sql)
	if err != nil {
		lost := pg.IsClosed()
		db.release(s.pc, !lost)
		s.done = true
		if lost && pgconn.SafeToRetry(err) {
			return nil, retryConn, db.wrapErr(ctx, err, true)
		}
		return nil, retryNone, db.wrapErr(ctx, err, lost)
	}
	var eqb pgx.ExtendedQueryBuilder
	if err := eqb.Build(conn.TypeMap(), sd, args); err != nil {
		db.release(s.pc, true)
		s.done = true
		return nil, retryNone, fmt.Errorf("uno: encode arguments: %w", err)
	}
	if t := sc.tracer; t != nil {
		s.tracer = t
		s.tctx = t.TraceQueryStart(ctx, conn, pgx.TraceQueryStartData{SQL: sql, Args: args})
	}
	p := pg.StartPipeline(ctx)
	s.p = p
	for _, name := range cache.takeEvicted() {
		p.SendDeallocate(name)
	}
	closes := len(cache.sentEvicted)
	if !s.implicit {
		p.SendQueryParams(s.beginSQL, nil, nil, nil, nil)
	}
	if psd != nil {
		p.SendQueryStatement(psd, s.setArgs, nil, nil)
	}
	p.SendQueryStatement(sd, eqb.ParamValues, eqb.ParamFormats, eqb.ResultFormats)
	if !s.opts.ReadOnly {
		// A read has nothing to resolve: its answers may come with the Sync's.
		p.SendFlushRequest()
	}
	p.SendPipelineSync()
	if !s.implicit {
		p.SendQueryParams("COMMIT", nil, nil, nil, nil)
		p.SendPipelineSync()
	}
	if s.wantsPosition() {
		p.SendQueryParams("SELECT pg_current_wal_insert_lsn()::text", nil, nil, nil, nil)
		p.SendPipelineSync()
	}
	if !s.opts.NoSessionState {
		for _, g := range db.guardList(conn) {
			p.SendQueryParams(g, nil, nil, nil, nil)
		}
		p.SendPipelineSync()
	}
	if err := p.Flush(); err != nil {
		s.done = true
		cache.sentEvicted = nil
		db.release(s.pc, false)
		if pgconn.SafeToRetry(err) {
			db.markSuspect()
			return nil, retryConn, db.wrapErr(ctx, err, true)
		}
		s.sent = true
		s.noteErr(err, false)
		_, err := s.outcome(ctx, nil)
		return nil, retryNone, err
	}
	s.sent = true
	for range closes {
		if _, err := p.GetResults(); err != nil {
			s.noteErr(err, true)
		}
	}
	cache.sentEvicted = nil
	if s.lostErr == nil && s.setupErr == nil {
		s.readSetup(p, psd != nil)
	}
	if s.lostErr == nil && s.setupErr == nil {
		res, err := p.GetResults()
		if err == nil {
			if rr, ok := res.(*pgconn.ResultReader); ok {
				s.rr = rr
				return rr, retryNone, nil
			}
			err = fmt.Errorf("uno: single: unexpected pipeline result %T", res)
			s.lostErr = err
			_ = pg.Close(ctx)
		} else {
			s.noteErr(err, false)
		}
	}
	// Nothing reached fn: finish, and see whether the attempt may be made
	// again.
	firstLost := s.lostErr != nil && s.stmtErr == nil && s.setupErr == nil
	s.end(ctx)
	for _, f := range []struct {
		err error
		sql string
	}{{s.stmtErr, sql}, {s.setupErr, s.preludeSQL}} {
		if c := dberr.Code(f.err); c == "0A000" || c == "26000" {
			// "cached plan must not change result type", or the
			// statement is gone (DEALLOCATE ALL or DISCARD ALL: so are
			// the others): the transaction rolled back; prepare again.
			if c == "26000" {
				cache.invalidateAll()
			} else {
				cache.invalidate(f.sql)
			}
			if s.lostErr == nil {
				return nil, retryPrepare, db.wrapErr(ctx, f.err, false)
			}
		}
	}
	if firstLost && (s.fatalBeforeCommit || s.opts.ReadOnly) {
		return nil, retryConn, db.wrapErr(ctx, s.lostErr, true)
	}
	_, err = s.outcome(ctx, nil)
	return nil, retryNone, err
}

// historyKey is the key under which a connection's server history
// (resolve.go) is kept in pgconn's CustomData once read. It cannot change
// while the connection lives, unless the server is in recovery (a standby
// can be promoted): such a history is not kept.
const historyKey = "uno.single.history"

// prepare returns the descriptions of sql and of the call's prelude (nil
// when it has none), preparing what the connection lacks; for a write on
// a connection whose history is not recorded yet, it reads the history in
// the same round trip.
func (s *single) prepare(ctx context.Context, conn *pgx.Conn, cache *stmtCache, sql string) (sd, psd *pgconn.StatementDescription, err error) {
	pg := conn.PgConn()
	hist, known := pg.CustomData()[historyKey].(history)
	var want *history
	if !s.opts.ReadOnly && !known {
		want = &hist
	}
	sd, psd, err = cache.prepare(ctx, conn, sql, s.preludeSQL, want)
	if err != nil {
		return nil, nil, err
	}
	if want != nil && hist.timeline != nil {
		pg.CustomData()[historyKey] = hist
	}
	s.hist = hist
	return sd, psd, nil
}

// prelude returns the SELECT that opens the call's transaction (see the
// comment at the top), or "" when there is nothing to set or capture.
func (s *singleCall) prelude() string {
	var cols []string
	if !s.opts.ReadOnly {
		cols = append(cols, "pg_current_xact_id()::text", "clock_timestamp()")
	}
	if s.setSQL != "" {
		cols = append(cols, strings.TrimPrefix(s.setSQL, "SELECT "))
	}
	if s.implicit && s.opts.ReadOnly {
		cols = append(cols, "set_config('transaction_read_only', 'on', true)")
	}
	if len(cols) == 0 {
		return ""
	}
	return "SELECT " + strings.Join(cols, ", ")
}

// readSetup reads BEGIN's answer and the prelude's, whose capture it
// keeps.
func (s *single) readSetup(p *pgconn.Pipeline, prelude bool) {
	if !s.implicit {
		res, err := p.GetResults()
		if err == nil {
			if rr, ok := res.(*pgconn.ResultReader); ok {
				_, err = rr.Close()
			}
		}
		if err != nil {
			s.noteErr(err, true)
			return
		}
	}
	if !prelude {
		return
	}
	res, err := p.GetResults()
	if err != nil {
		s.noteErr(err, true)
		return
	}
	rr, ok := res.(*pgconn.ResultReader)
	if !ok {
		return
	}
	if s.opts.ReadOnly {
		if _, err := rr.Close(); err != nil {
			s.noteErr(err, true)
		}
		return
	}
	s.readCapture(rr)
}

// readCapture reads the prelude of a write: the transaction id and the
// clock.
func (s *single) readCapture(rr *pgconn.ResultReader) {
	conn := s.pc.Conn()
	rows := pgx.RowsFromResultReader(conn.TypeMap(), rr)
	then := s.hist
	got := false
	if rows.Next() {
		dest := make([]any, len(rows.FieldDescriptions()))
		dest[0], dest[1] = &s.xid, &then.at
		got = rows.Scan(dest...) == nil
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		s.noteErr(err, true)
		return
	}
	if got {
		then.addr = serverAddr(conn) // the lookup goes to this server, never another host of the list
		s.captured, s.then = true, then
	}
}

func (s *single) wantsPosition() bool { return s.db.replicas != nil && !s.opts.ReadOnly }

// end reads the rest of the pipeline (the commit, the WAL position, the
// guard) and gives the connection back; when the connection was lost, it
// resolves nothing yet (outcome does). It runs once.
func (s *single) end(ctx context.Context) {
	if s.done || s.p == nil {
		return
	}
	s.done = true
	db := s.db
	p := s.p
	conn := s.pc.Conn()
	if s.rr != nil {
		tag, err := s.rr.Close()
		if err != nil {
			s.noteErr(err, false)
		} else {
			s.stmtDone = true
		}
		s.tag = tag
		s.rr = nil
	}
	// Segment 1 ends with the Sync that commits the implicit transaction.
	if s.lostErr == nil {
		s.toSync(p, s.implicit && s.stmtDone && s.setupErr == nil && s.stmtErr == nil)
	}
	if s.lostErr == nil {
		s.synced = true
		if s.implicit && s.stmtDone && s.setupErr == nil && s.stmtErr == nil && s.commitErr == nil {
			s.commitTag = "COMMIT"
		}
	}
	// COMMIT, Sync (with BEGIN).
	if s.lostErr == nil && !s.implicit {
		res, err := p.GetResults()
		if err != nil {
			s.noteCommitErr(err)
		} else if rr, ok := res.(*pgconn.ResultReader); ok {
			tag, err := rr.Close()
			if err != nil {
				s.noteCommitErr(err)
			} else {
				s.commitTag = tag.String()
			}
		}
		if s.lostErr == nil {
			s.toSync(p, false)
		}
	}
	// The WAL position, Sync.
	if s.lostErr == nil && s.wantsPosition() {
		if res, err := p.GetResults(); err != nil {
			s.noteErr(err, false)
		} else if rr, ok := res.(*pgconn.ResultReader); ok {
			got := rr.Read()
			if s.commitTag == "COMMIT" && got.Err == nil && len(got.Rows) == 1 && len(got.Rows[0]) == 1 {
				if tok, err := ParseToken(string(got.Rows[0][0])); err == nil {
					noteCommit(ctx, tok)
				}
			}
		}
		if s.lostErr == nil {
			s.toSync(p, false)
		}
	}
	// The guard, Sync.
	g := guardClean
	var gerr error
	if s.lostErr == nil && !s.opts.NoSessionState {
		var results []*pgconn.Result
		for s.lostErr == nil {
			res, err := p.GetResults()
			if err != nil {
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) || pgErr.Severity == "FATAL" {
					s.lostErr = err
					break
				}
				gerr = err
				continue
			}
			if _, ok := res.(*pgconn.PipelineSync); ok {
				break
			}
			if res == nil {
				s.lostErr = errors.New("uno: single: the pipeline ended before the guard's answer")
				_ = conn.Close(ctx)
				break
			}
			if rr, ok := res.(*pgconn.ResultReader); ok {
				results = append(results, rr.Read())
			}
		}
		if s.lostErr == nil {
			g = judgeGuard(conn, results, gerr)
			if gerr == nil && len(results) < guardStatements {
				g = guardDirty
			}
		}
	}
	if err := p.Close(); err != nil && s.lostErr == nil && g == guardClean {
		g = guardDirty
		gerr = err
	}
	if s.lostErr != nil {
		g = guardDead
		gerr = s.lostErr
	}
	if s.tracer != nil {
		err := s.stmtErr
		for _, e := range []error{s.setupErr, s.lostErr, s.commitErr} {
			if err == nil {
				err = e
			}
		}
		s.tracer.TraceQueryEnd(s.tctx, conn, pgx.TraceQueryEndData{CommandTag: s.tag, Err: err})
	}
	db.afterGuard(ctx, conn, g, gerr)
	db.release(s.pc, false)
}

// noteCommitErr records the commit's failure: a server error that is not
// FATAL means the server rolled back.
func (s *single) noteCommitErr(err error) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Severity != "FATAL" && pgErr.Severity != "PANIC" {
		s.commitErr = err
		return
	}
	s.noteErr(err, false)
}

// toSync reads results up to the next Sync. With commit, the Sync is the
// implicit transaction's commit, and a server error before it is the
// commit's failure.
func (s *single) toSync(p *pgconn.Pipeline, commit bool) {
	for {
		res, err := p.GetResults()
		if err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Severity != "FATAL" && pgErr.Severity != "PANIC" {
				if commit && s.commitErr == nil {
					s.commitErr = err
				}
				continue
			}
			s.noteErr(err, false)
			return
		}
		switch r := res.(type) {
		case *pgconn.PipelineSync:
			return
		case *pgconn.ResultReader:
			if _, err := r.Close(); err != nil {
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) || pgErr.Severity == "FATAL" {
					s.noteErr(err, false)
					return
				}
			}
		case nil:
			s.noteErr(errors.New("uno: single: the pipeline ended early"), false)
			return
		}
	}
}

// stmtCache is a connection's cache of the statements Single prepared, by
// SQL text, least recently used first out. It lives in the connection's
// pgconn CustomData; a connection is used by one goroutine at a time.
type stmtCache struct {
	capacity int
	bySQL    map[string]*list.Element // of *pgconn.StatementDescription
	lru      list.List
	// evicted are names to deallocate in the next pipeline; sentEvicted
	// those the current pipeline deallocates.
	evicted     []string
	sentEvicted []string
}

const stmtCacheKey = "uno.single.stmts"

func stmtCacheOf(pg *pgconn.PgConn, capacity int) *stmtCache {
	if c, ok := pg.CustomData()[stmtCacheKey].(*stmtCache); ok {
		return c
	}
	c := &stmtCache{capacity: capacity, bySQL: map[string]*list.Element{}}
	pg.CustomData()[stmtCacheKey] = c
	return c
}

// stmtName is the prepared statement's name for sql: uno_ and a hash.
func stmtName(sql string) string {
	h := sha256.Sum256([]byte(sql))
	return "uno_" + hex.EncodeToString(h[:12])
}

// prepare returns the descriptions of sql and of prelude (nil when
// prelude is ""), preparing those the connection lacks in one round trip,
// which also deallocates the evicted statements and, when hist is not
// nil, reads the server's history into it.
func (c *stmtCache) prepare(ctx context.Context, conn *pgx.Conn, sql, prelude string, hist *history) (sd, psd *pgconn.StatementDescription, err error) {
	want := []string{sql}
	if prelude != "" {
		want = append(want, prelude)
	}
	var missing []string
	for _, q := range want {
		if e, ok := c.bySQL[q]; ok {
			c.lru.MoveToFront(e)
		} else {
			missing = append(missing, q)
		}
	}
	if len(missing) > 0 || hist != nil {
		if err := c.prepareNew(ctx, conn, missing, hist); err != nil {
			return nil, nil, err
		}
	}
	sd = c.bySQL[sql].Value.(*pgconn.StatementDescription)
	if prelude != "" {
		psd = c.bySQL[prelude].Value.(*pgconn.StatementDescription)
	}
	return sd, psd, nil
}

// prepareNew prepares sqls, new to the connection, in one round trip and
// adds them to the cache, evicting the least recently used beyond its
// capacity (never one of sqls); with hist, it reads the server's history
// in the same round trip.
func (c *stmtCache) prepareNew(ctx context.Context, conn *pgx.Conn, sqls []string, hist *history) error {
	names := make([]string, len(sqls))
	p := conn.PgConn().StartPipeline(ctx)
	closes := c.takeEvicted()
	for i, q := range sqls {
		names[i] = stmtName(q)
		closes = append(closes, names[i]) // a stale statement of the same name may be left
	}
	for _, n := range closes {
		p.SendDeallocate(n)
	}
	for i, q := range sqls {
		p.SendPrepare(names[i], q, nil)
	}
	if hist != nil {
		p.SendQueryParams("SELECT "+historySQL, nil, nil, nil, nil)
	}
	p.SendPipelineSync()
	var sds []*pgconn.StatementDescription
	histRead := false
	firstErr := drainPipeline(p, func(res any) error {
		switch r := res.(type) {
		case *pgconn.StatementDescription: // one per Prepare sent, in order
			r.Name, r.SQL = names[len(sds)], sqls[len(sds)] // pgconn's pipeline leaves them empty
			sds = append(sds, r)
		case *pgconn.ResultReader:
			rows := pgx.RowsFromResultReader(conn.TypeMap(), r)
			for rows.Next() {
				if err := rows.Scan(&hist.sysID, &hist.timeline, &hist.started, &hist.statsReset); err != nil {
					rows.Close()
					return err
				}
				histRead = true
			}
			rows.Close()
			return rows.Err()
		}
		return nil
	})
	c.sentEvicted = nil
	if firstErr != nil {
		return firstErr
	}
	if len(sds) != len(sqls) || hist != nil && !histRead {
		return errors.New("uno: prepare: no statement description or history")
	}
	for _, d := range sds {
		c.bySQL[d.SQL] = c.lru.PushFront(d)
	}
	for c.lru.Len() > max(c.capacity, len(sqls)) {
		old := c.lru.Back()
		c.lru.Remove(old)
		osd := old.Value.(*pgconn.StatementDescription)
		delete(c.bySQL, osd.SQL)
		c.evicted = append(c.evicted, osd.Name)
	}
	return nil
}

// takeEvicted returns the names to deallocate now and remembers them as
// sent, so a pipeline that fails to go out can put them back (it does not:
// a connection whose pipeline failed is closed).
func (c *stmtCache) takeEvicted() []string {
	names := c.evicted
	c.evicted = nil
	c.sentEvicted = names
	return names
}

// invalidate drops sql's statement; it is deallocated with the next
// pipeline.
func (c *stmtCache) invalidate(sql string) {
	if e, ok := c.bySQL[sql]; ok {
		c.lru.Remove(e)
		delete(c.bySQL, sql)
		c.evicted = append(c.evicted, e.Value.(*pgconn.StatementDescription).Name)
	}
}

// invalidateAll drops every statement; they are deallocated with the next
// pipeline (closing a statement that no longer exists is no error).
func (c *stmtCache) invalidateAll() {
	for e := c.lru.Front(); e != nil; e = e.Next() {
		c.evicted = append(c.evicted, e.Value.(*pgconn.StatementDescription).Name)
	}
	c.lru.Init()
	clear(c.bySQL)
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/quote"
)

// Role selects which uno role a transaction runs as.
type Role int

// The uno roles. RoleLogin, the zero value, keeps the login role.
const (
	RoleLogin Role = iota
	RoleReader
	RoleWriter
	RoleAdmin
)

// String names the role kind.
func (r Role) String() string {
	switch r {
	case RoleLogin:
		return "login"
	case RoleReader:
		return "reader"
	case RoleWriter:
		return "writer"
	case RoleAdmin:
		return "admin"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// Identity is who a transaction acts for. Each non-empty part is set with
// set_config(name, value, true) for the transaction only: UserID as
// rls_var.user_id, TenantID as rls_var.tenant_id, Superuser as
// rls_var.is_superuser = 'true', and each claim as rls_var.<name>.
type Identity struct {
	UserID    string
	TenantID  string
	Superuser bool
	Claims    map[string]string // names: lower-case letters, digits and _
}

func (id Identity) isZero() bool {
	return id.UserID == "" && id.TenantID == "" && !id.Superuser && len(id.Claims) == 0
}

func (id Identity) equal(o Identity) bool {
	return id.UserID == o.UserID && id.TenantID == o.TenantID && id.Superuser == o.Superuser &&
		maps.Equal(id.Claims, o.Claims)
}

// settings returns the (name, value) pairs to set, in a stable order.
func (id Identity) settings() ([]string, error) {
	var kv []string
	if id.UserID != "" {
		kv = append(kv, SettingPrefix+"user_id", id.UserID)
	}
	if id.TenantID != "" {
		kv = append(kv, SettingPrefix+"tenant_id", id.TenantID)
	}
	if id.Superuser {
		kv = append(kv, SettingPrefix+"is_superuser", "true")
	}
	for _, name := range sortedKeys(id.Claims) {
		if !validClaim(name) {
			return nil, fmt.Errorf("uno: identity claim %q: names are lower-case letters, digits and _", name)
		}
		if name == "user_id" || name == "tenant_id" || name == "is_superuser" {
			return nil, fmt.Errorf("uno: identity claim %q: use the Identity field instead", name)
		}
		kv = append(kv, SettingPrefix+name, id.Claims[name])
	}
	for i := 1; i < len(kv); i += 2 {
		if strings.IndexByte(kv[i], 0) >= 0 {
			return nil, fmt.Errorf("uno: identity setting %s holds a NUL byte", kv[i-1])
		}
	}
	return kv, nil
}

func validClaim(s string) bool {
	if s == "" || len(s) > 63 || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// TxOptions shape a transaction.
type TxOptions struct {
	Isolation  pgx.TxIsoLevel // "" keeps the server default
	ReadOnly   bool
	Deferrable bool // with Serializable and ReadOnly: wait for a safe snapshot
	Role       Role // the uno role to run as; RoleLogin keeps the login role
	Identity   Identity
	// Retry runs the whole function again, on a fresh connection and
	// snapshot, after a serialization failure, a deadlock, a connection
	// lost before COMMIT was sent or a COMMIT proved aborted, up to
	// config.Retry.MaxAttempts runs in all and while less than
	// config.Retry.MaxElapsed has passed since the first; a borrow that
	// fails before the function ran is retried within the same time. Set
	// it only when the function has no effects outside the database.
	Retry bool
	// Consistency lets a ReadOnly transaction run on a replica; the zero
	// value, Strong, keeps it on the primary. See replica.go.
	Consistency Consistency
	// NoSessionState declares that the statement of a [DB.Single] call
	// changes no session state: no SET or set_config(…, false), no
	// temporary object, LISTEN, PREPARE, cursor WITH HOLD or
	// session-level advisory lock, also in the triggers and functions it
	// runs. The repository's generated statements are such. Single then
	// leaves out the release guard, which is most of the server's work
	// for a small call: the role, identity and settings it sets end with
	// the transaction in any case. Statements whose SQL text comes from
	// a caller must not set it. Other calls ignore it.
	NoSessionState bool
}

// ErrNestedOptions is returned when a WithTx nested in another asks for a
// role, identity, isolation level or read-only mode the outer transaction
// does not have.
var ErrNestedOptions = errors.New("uno: nested transaction options differ from the outer transaction")

// errTxLost marks a transaction whose connection died before COMMIT was
// sent: the transaction died with its backend.
var errTxLost = errors.New("uno: connection lost before COMMIT; the transaction was rolled back by the server")

// errTxAborted marks a transaction whose COMMIT was in flight when the
// connection was lost and that the server reports as aborted.
var errTxAborted = errors.New("uno: connection lost during COMMIT; the server reports the transaction aborted")

// Tx is a transaction run by [DB.WithTx] or owned by a [Session]. Queries on
// it run inside the transaction; their errors are classified by
// [dberr.Classify].
type Tx struct {
	queries
	db         *DB
	pc         *pgxpool.Conn
	opts       TxOptions
	savepoints int
	released   bool        // pc went back to the pool
	ended      atomic.Bool // the transaction is over: its methods refuse to run
}

// finish ends tx after a failure or panic and returns its connection: a
// transaction still open is rolled back (which undoes every SET made in
// it); one the function ended itself (a raw COMMIT) cannot be undone, so
// the release guard checks the connection before the pool gets it back.
func (tx *Tx) finish(ctx context.Context) {
	check := !tx.conn.IsClosed() && tx.conn.PgConn().TxStatus() == 'I'
	if !check {
		tx.rollback(ctx)
	}
	tx.release(check)
}

// release returns tx's connection to the pool once.
func (tx *Tx) release(check bool) {
	tx.ended.Store(true)
	if tx.released {
		return
	}
	tx.released = true
	tx.db.release(tx.pc, check)
}

// Options returns the options the transaction was started with.
func (tx *Tx) Options() TxOptions { return tx.opts }

// WithTx runs fn in a transaction: it commits when fn returns nil and rolls
// back when fn returns an error or panics (the panic goes on after the
// rollback). The context given to fn carries the transaction, so repository
// calls made with it join the transaction. When ctx already carries a
// transaction of db, fn runs inside a savepoint of it instead (see the
// package documentation). The returned error is classified by
// [dberr.Classify]; see [TxOptions.Retry] for when fn runs again.
func (db *DB) WithTx(ctx context.Context, opts TxOptions, fn func(ctx context.Context, tx *Tx) error) error {
	if outer, ok := db.TxFromContext(ctx); ok {
		return outer.nested(ctx, opts, fn)
	}
	start := time.Now()
	runs := 0
	for attempt := 1; ; attempt++ {
		ran, retryable, err := db.runTx(ctx, opts, fn)
		if ran {
			runs++
		}
		if err == nil || !opts.Retry || !retryable || ctx.Err() != nil ||
			runs >= db.cfg.Retry.MaxAttempts || time.Since(start) >= db.cfg.Retry.MaxElapsed {
			return err
		}
		db.log.Info("uno: transaction failed, retrying", "pool", db.cfg.Key().String(),
			"attempt", attempt, "sqlstate", dberr.Code(err), "err", err)
		if serr := db.sleep(ctx, attempt+1); serr != nil {
			return fmt.Errorf("%w (%w)", serr, err)
		}
	}
}

// runTx makes one attempt; ran tells whether fn ran, retryable whether
// running fn again is safe by the rules of [TxOptions.Retry].
func (db *DB) runTx(ctx context.Context, opts TxOptions, fn func(context.Context, *Tx) error) (ran, retryable bool, err error) {
	tx, err := db.begin(ctx, opts)
	if err != nil {
		// Nothing ran: a borrow that failed on a transient connection
		// failure may be tried again.
		return false, ctx.Err() == nil && (dberr.IsTransientConnect(err) || errors.Is(err, dberr.ErrConnection)), err
	}
	panicked := true
	defer func() {
		if panicked {
			tx.finish(ctx)
		}
	}()
	fnErr := fn(context.WithValue(ctx, ctxKey{}, &scope{db: db, tx: tx}), tx)
	panicked = false
	if fnErr != nil {
		lost := tx.conn.IsClosed()
		tx.finish(ctx)
		err := db.wrapErr(ctx, fnErr, lost)
		if ctx.Err() != nil || dberr.Code(err) == dberr.CodeQueryCanceled {
			return true, false, err
		}
		return true, lost || dberr.IsRetryableTx(err), err
	}
	retryable, err = tx.commit(ctx)
	tx.release(false)
	return true, retryable, err
}

// begin borrows a connection and starts a transaction on it with the role
// and identity of opts, in one round trip. A connection found dead at BEGIN
// is replaced: nothing has run yet, so that is always safe.
func (db *DB) begin(ctx context.Context, opts TxOptions) (*Tx, error) {
	beginSQL, setSQL, args, role, err := db.beginStatements(opts)
	if err != nil {
		return nil, err
	}
	if tx, routed, err := db.beginReplica(ctx, opts, beginSQL, setSQL, args); routed {
		return tx, err
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		pc, err := db.acquire(ctx)
		if err != nil {
			return nil, err
		}
		tx := &Tx{db: db, pc: pc, opts: opts}
		tx.queries = queries{conn: pc.Conn(), ended: &tx.ended}
		if setSQL == "" {
			_, err = tx.conn.Exec(ctx, beginSQL)
		} else {
			b := &pgx.Batch{}
			b.Queue(beginSQL)
			b.Queue(setSQL, args...)
			err = tx.conn.SendBatch(ctx, b).Close()
		}
		if err == nil {
			return tx, nil
		}
		lost := tx.conn.IsClosed()
		if lost && ctx.Err() == nil && time.Since(start) < db.cfg.Retry.MaxElapsed {
			// Found dead at BEGIN (a restart or failover kills every pooled
			// connection): nothing ran, take another.
			db.markSuspect()
			db.release(pc, false)
			if attempt > 1 {
				if serr := db.sleep(ctx, attempt); serr != nil {
					return nil, fmt.Errorf("uno: begin: the context ended before the transaction started: %w (%w)",
						serr, db.wrapErr(ctx, err, true))
				}
			}
			continue
		}
		tx.rollback(ctx)
		db.release(pc, false)
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("uno: begin: the context ended before the transaction started: %w", cerr)
		}
		if lost {
			return nil, fmt.Errorf("uno: begin: connection lost at BEGIN %d times in %v: %w", attempt,
				time.Since(start).Round(time.Millisecond), db.wrapErr(ctx, err, true))
		}
		if role != "" {
			return nil, fmt.Errorf("uno: begin as %s role %q: %w", opts.Role, role, db.wrapErr(ctx, err, false))
		}
		return nil, fmt.Errorf("uno: begin: %w", db.wrapErr(ctx, err, false))
	}
}

// beginStatements returns what starts a transaction for opts: BEGIN with
// its isolation and mode, and the SELECT (empty when nothing is to be set)
// that sets, with set_config(…, true) for the transaction only, the
// configuration's per-transaction settings (config.Config.TxSettings:
// search_path, statement_timeout, … behind PgBouncer), the role and the
// identity, and signs the identity in (signed.go), with its arguments.
// role is the role name, empty for RoleLogin.
func (db *DB) beginStatements(opts TxOptions) (beginSQL, setSQL string, args []any, role string, err error) {
	settings, err := opts.Identity.settings()
	if err != nil {
		return "", "", nil, "", err
	}
	switch opts.Role {
	case RoleLogin:
	case RoleReader:
		role = db.cfg.Roles.Reader
	case RoleWriter:
		role = db.cfg.Roles.Writer
	case RoleAdmin:
		role = db.cfg.Roles.Admin
	default:
		return "", "", nil, "", fmt.Errorf("uno: unknown role %v", opts.Role)
	}
	beginSQL = beginStatement(opts)
	txSettings := db.cfg.TxSettings()
	if role == "" && len(settings) == 0 && len(txSettings) == 0 {
		return beginSQL, "", nil, "", nil
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	n := 0
	add := func(name, value string) {
		if n > 0 {
			b.WriteString(", ")
		}
		args = append(args, name, value)
		b.WriteString("set_config($" + strconv.Itoa(2*n+1) + ", $" + strconv.Itoa(2*n+2) + ", true)")
		n++
	}
	// The configured settings come first: the role and identity are set
	// under the configured search_path and statement_timeout.
	for _, s := range txSettings {
		add(s.Name, s.Value)
	}
	if role != "" {
		add("role", role)
	}
	for i := 0; i < len(settings); i += 2 {
		add(settings[i], settings[i+1])
	}
	if err := db.addSignIn(&b, &args, opts.Identity); err != nil { // signed.go
		return "", "", nil, "", err
	}
	return beginSQL, b.String(), args, role, nil
}

func beginStatement(opts TxOptions) string {
	s := "BEGIN"
	switch opts.Isolation {
	case pgx.Serializable:
		s += " ISOLATION LEVEL SERIALIZABLE"
	case pgx.RepeatableRead:
		s += " ISOLATION LEVEL REPEATABLE READ"
	case pgx.ReadCommitted:
		s += " ISOLATION LEVEL READ COMMITTED"
	case pgx.ReadUncommitted:
		s += " ISOLATION LEVEL READ UNCOMMITTED"
	}
	if opts.ReadOnly {
		s += " READ ONLY"
	}
	if opts.Deferrable {
		s += " DEFERRABLE"
	}
	return s
}

// rollback ends the transaction, also when ctx has ended, and runs the
// release guard in the same round trip: ROLLBACK undoes every SET made in
// the transaction, but not session-level advisory locks or hand-made
// prepared statements. A connection that cannot roll back, or that the
// guard finds dirty, is closed.
func (tx *Tx) rollback(ctx context.Context) {
	if tx.conn.IsClosed() {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	results, err := tx.conn.PgConn().Exec(rctx, "ROLLBACK; "+tx.db.guardSQL(tx.conn)).ReadAll()
	if len(results) == 0 || results[0].Err != nil {
		_ = tx.conn.Close(rctx)
		return
	}
	tx.db.afterGuard(ctx, tx.conn, judgeGuard(tx.conn, results, err), err)
}

// commit commits the transaction. When the connection is lost with COMMIT
// in flight it resolves the outcome from the transaction id.
func (tx *Tx) commit(ctx context.Context) (retryable bool, err error) {
	db := tx.db
	var xid *string
	var then history
	if tx.conn.IsClosed() {
		// The connection died before COMMIT (a failed ROLLBACK TO closed
		// it): the transaction died with its backend.
		return ctx.Err() == nil, &dberr.Error{Kind: dberr.ErrConnection, Err: errTxLost}
	}
	if tx.conn.PgConn().TxStatus() == 'E' {
		// A failed transaction (the function swallowed an error): COMMIT
		// would answer ROLLBACK, and if it were lost in flight nothing
		// would tell that; roll back and say so.
		tx.rollback(ctx)
		return false, fmt.Errorf("uno: commit: %w", pgx.ErrTxCommitRollback)
	}
	if !tx.opts.ReadOnly {
		if err := tx.conn.QueryRow(ctx, captureSQL).Scan(&xid, &then.sysID, &then.timeline, &then.started,
			&then.statsReset, &then.at); err != nil {
			lost := tx.conn.IsClosed()
			tx.rollback(ctx)
			err = db.wrapErr(ctx, err, lost)
			if lost {
				return ctx.Err() == nil, &dberr.Error{Kind: dberr.ErrConnection, Err: fmt.Errorf("%w: %w", errTxLost, err)}
			}
			return ctx.Err() == nil && dberr.IsRetryableTx(err), err
		}
	}
	results, err := tx.conn.PgConn().Exec(ctx, tx.commitStatement(db.guardSQL(tx.conn))).ReadAll()
	results = tx.noteCommitPosition(ctx, results)
	committed := len(results) > 0 && results[0].Err == nil && results[0].CommandTag.String() == "COMMIT"
	if len(results) > 0 && results[0].Err == nil && results[0].CommandTag.String() == "ROLLBACK" {
		db.afterGuard(ctx, tx.conn, judgeGuard(tx.conn, results, err), err)
		return false, fmt.Errorf("uno: commit: %w", pgx.ErrTxCommitRollback)
	}
	if err == nil || committed {
		db.afterGuard(ctx, tx.conn, judgeGuard(tx.conn, results, err), err)
		return false, nil
	}
	if !tx.conn.IsClosed() {
		// The server answered COMMIT with an error: it rolled back, and
		// the guard after it did not run.
		db.runGuard(ctx, tx.conn)
		err = db.wrapErr(ctx, err, false)
		return ctx.Err() == nil && dberr.IsRetryableTx(err), err
	}
	db.markSuspect()
	// COMMIT may have reached the server. (pgconn's SafeToRetry cannot be
	// trusted here: a read failure after the write can surface as a
	// "conn closed" lock error that claims nothing was sent.)
	if xid == nil {
		// Nothing was written (read-only, or no transaction id assigned,
		// which also means no row changed, so no deferred trigger or
		// constraint had anything to do): whatever happened to COMMIT, no
		// effect is lost.
		return false, nil
	}
	// Give the dead connection back before asking a fresh one: with a
	// full pool the lookup would otherwise wait for it.
	then.addr = serverAddr(tx.conn) // the lookup asks this server only (resolve.go)
	tx.release(false)
	return db.resolve(ctx, *xid, then, err)
}

// nested runs fn inside a savepoint of tx.
func (tx *Tx) nested(ctx context.Context, opts TxOptions, fn func(context.Context, *Tx) error) (err error) {
	if tx.ended.Load() {
		return ErrEnded
	}
	o := tx.opts
	switch {
	case opts.Role != RoleLogin && opts.Role != o.Role:
		return fmt.Errorf("%w: role %s inside %s", ErrNestedOptions, opts.Role, o.Role)
	case !opts.Identity.isZero() && !opts.Identity.equal(o.Identity):
		return fmt.Errorf("%w: identity", ErrNestedOptions)
	case opts.Isolation != "" && opts.Isolation != o.Isolation:
		return fmt.Errorf("%w: isolation %s", ErrNestedOptions, opts.Isolation)
	case opts.ReadOnly && !o.ReadOnly:
		return fmt.Errorf("%w: read-only inside read-write", ErrNestedOptions)
	}
	tx.savepoints++
	sp := quote.Ident("uno_sp_" + strconv.Itoa(tx.savepoints))
	if _, err := tx.conn.Exec(ctx, "SAVEPOINT "+sp); err != nil {
		return tx.db.wrapErr(ctx, err, tx.conn.IsClosed())
	}
	panicked := true
	defer func() {
		if panicked {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if _, err := tx.conn.Exec(rctx, "ROLLBACK TO SAVEPOINT "+sp); err != nil {
				_ = tx.conn.Close(rctx)
			}
		}
	}()
	err = fn(ctx, tx)
	panicked = false
	if err != nil {
		// Detached from ctx: the inner work must go even when ctx has ended.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, rerr := tx.conn.Exec(rctx, "ROLLBACK TO SAVEPOINT "+sp); rerr != nil {
			// The inner work could not be undone: close the connection so
			// the outer transaction cannot commit it.
			_ = tx.conn.Close(rctx)
			err = errors.Join(err, fmt.Errorf("uno: rollback to savepoint failed, transaction abandoned: %w", rerr))
		}
		return tx.db.wrapErr(ctx, err, tx.conn.IsClosed())
	}
	if _, err := tx.conn.Exec(ctx, "RELEASE SAVEPOINT "+sp); err != nil {
		return tx.db.wrapErr(ctx, err, tx.conn.IsClosed())
	}
	return nil
}

// Session is a unit of work bound to one transaction, for code that cannot
// put its work in one function: the session factory of uno. Commit or roll
// it back; Rollback after Commit does nothing, so it is safe to defer.
type Session struct {
	tx   *Tx
	done bool
}

// Begin starts a session. It never joins a transaction ctx carries.
// Sessions are not retried: the caller owns the work.
func (db *DB) Begin(ctx context.Context, opts TxOptions) (*Session, error) {
	tx, err := db.begin(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Session{tx: tx}, nil
}

// Tx returns the session's transaction.
func (s *Session) Tx() *Tx { return s.tx }

// Context returns ctx carrying the session's transaction, so repository
// calls made with it join the session.
func (s *Session) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, ctxKey{}, &scope{db: s.tx.db, tx: s.tx})
}

// Commit commits the session. If the connection is lost with COMMIT in
// flight the outcome is resolved; [dberr.ErrCommitUnknown] is returned only
// when the server cannot tell.
func (s *Session) Commit(ctx context.Context) error {
	if s.done {
		return errors.New("uno: session already ended")
	}
	s.done = true
	_, err := s.tx.commit(ctx)
	s.tx.release(false)
	return err
}

// Rollback rolls the session back and releases its connection. It does
// nothing if the session has ended.
func (s *Session) Rollback(ctx context.Context) {
	if s.done {
		return
	}
	s.done = true
	s.tx.finish(ctx)
}

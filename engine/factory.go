package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
)

// Callback runs once on every new physical connection, before the pool hands
// it out: to set session settings, register types, and the like. A failing
// callback fails that connection with a [*CallbackError] naming it.
type Callback struct {
	Name string
	Run  func(ctx context.Context, conn *pgx.Conn) error
}

// CallbackError reports a connection callback that failed.
type CallbackError struct {
	Name string
	Err  error
}

func (e *CallbackError) Error() string {
	return fmt.Sprintf("uno: connection callback %q failed: %v", e.Name, e.Err)
}

// Unwrap returns the callback's error.
func (e *CallbackError) Unwrap() error { return e.Err }

// ErrConfigMismatch is returned by [Factory.Open] when a pool for the same
// server, database and login role is already open with other settings.
var ErrConfigMismatch = errors.New("uno: a pool with this key is open with other settings")

// Options are the factory-wide settings. The zero value is usable: quiet
// logging, no tracer, no callbacks.
type Options struct {
	// Logger receives retries, discarded connections and, at debug level,
	// every query with its duration. Nil discards everything.
	Logger *slog.Logger
	// Tracer is called for every query, batch, COPY and connect; an
	// OpenTelemetry adapter for pgx plugs in here. It may also implement
	// pgxpool's AcquireTracer and ReleaseTracer.
	Tracer pgx.QueryTracer
	// Callbacks run, in order, on every new physical connection of every
	// pool the factory opens.
	Callbacks []Callback
}

// Factory is uno's DatabaseFactory: it opens and caches one pool per
// (server, database, login role). Create one per process with [NewFactory]
// and close it with [Factory.Close]. It is safe for concurrent use.
type Factory struct {
	opts   Options
	log    *slog.Logger
	mu     sync.Mutex
	dbs    map[config.Key]*DB
	closed bool
}

// NewFactory returns a factory with the given options. It validates the
// callbacks: each needs a name and a function.
func NewFactory(opts Options) (*Factory, error) {
	seen := map[string]bool{}
	for i, cb := range opts.Callbacks {
		if cb.Name == "" {
			return nil, fmt.Errorf("uno: callback %d has no name", i)
		}
		if cb.Run == nil {
			return nil, fmt.Errorf("uno: callback %q has no function", cb.Name)
		}
		if seen[cb.Name] {
			return nil, fmt.Errorf("uno: callback %q is given twice", cb.Name)
		}
		seen[cb.Name] = true
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.Callbacks = append([]Callback(nil), opts.Callbacks...)
	return &Factory{opts: opts, log: log, dbs: map[config.Key]*DB{}}, nil
}

// Open returns the DB for cfg's (server, database, login role), creating its
// pool on first use; later calls with the same key return the same *DB.
// Unset fields of cfg take their defaults and the result is validated. A
// second Open with the same key but other settings returns
// [ErrConfigMismatch]. Open does not connect: the first borrow does, with
// retry.
func (f *Factory) Open(ctx context.Context, cfg config.Config) (*DB, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key := cfg.Key()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, fmt.Errorf("%w: factory", dberr.ErrClosed)
	}
	if db, ok := f.dbs[key]; ok {
		if !db.cfg.Equal(cfg) {
			return nil, fmt.Errorf("%w: %s", ErrConfigMismatch, key)
		}
		return db, nil
	}
	db, err := f.newDB(cfg)
	if err != nil {
		return nil, err
	}
	if err := f.openReplicas(db); err != nil {
		db.close()
		return nil, err
	}
	f.dbs[key] = db
	f.log.Info("uno: pool opened", "pool", key.String(), "max_conns", cfg.Pool.MaxConns)
	return db, nil
}

// Close closes every pool the factory opened. Calls on those DBs and on the
// factory afterwards return an error matching [dberr.ErrClosed].
func (f *Factory) Close(ctx context.Context) error {
	f.mu.Lock()
	dbs := f.dbs
	f.dbs = map[config.Key]*DB{}
	f.closed = true
	f.mu.Unlock()
	done := make(chan struct{})
	go func() {
		for _, db := range dbs {
			db.close()
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newDB builds the pgx pool for cfg: the parsed connection settings and
// pool sizes from cfg.PoolConfig (no string round trip), then uno's hooks.
// Behind PgBouncer (cfg.Pooler), the startup message carries only the
// settings PgBouncer accepts; cfg.TxSettings lists the rest, which the
// transaction code applies per transaction.
func (f *Factory) newDB(cfg config.Config) (*DB, error) {
	pc, err := cfg.PoolConfig()
	if err != nil {
		return nil, fmt.Errorf("uno: pool settings for %s: %w", cfg.Key(), err)
	}
	db := &DB{cfg: cfg, log: f.log, factory: f}
	cc := pc.ConnConfig
	// Cancel a query on the server when its context ends, so the backend
	// stops working and the connection stays usable.
	cc.BuildContextWatcherHandler = func(pg *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pg, DeadlineDelay: 2 * time.Second}
	}
	var tracers []pgx.QueryTracer
	if f.log.Enabled(context.Background(), slog.LevelDebug) {
		tracers = append(tracers, &logTracer{log: f.log})
	}
	if f.opts.Tracer != nil {
		tracers = append(tracers, f.opts.Tracer)
	}
	switch len(tracers) {
	case 0:
	case 1:
		cc.Tracer = tracers[0]
	default:
		cc.Tracer = multitracer.New(tracers...)
	}
	callbacks := f.opts.Callbacks
	pc.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		db.connects.Add(1)
		for _, cb := range callbacks {
			if err := cb.Run(ctx, conn); err != nil {
				return &CallbackError{Name: cb.Name, Err: err}
			}
		}
		if len(callbacks) > 0 {
			return db.recordSession(ctx, conn)
		}
		return nil
	}
	// After a connection was found dead, ping every connection handed out
	// for a while: a server restart or failover kills them all at once.
	pc.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool {
		return p.IdleDuration > time.Second || time.Now().UnixNano() < db.suspectUntil.Load()
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("uno: open pool for %s: %w", cfg.Key(), err)
	}
	db.pool = pool
	return db, nil
}

// DB is one cached pool with uno's scoped helpers. Get it from
// [Factory.Open]; it is safe for concurrent use.
type DB struct {
	cfg     config.Config
	pool    *pgxpool.Pool
	log     *slog.Logger
	factory *Factory

	sqlOnce sync.Once
	sqlDB   *sql.DB

	replicas     *replicaSet // read replicas and their health checker; nil without
	closed       atomic.Bool
	suspectUntil atomic.Int64 // unix nanos until which acquired connections are pinged
	connects     atomic.Int64 // physical connections opened
	discards     atomic.Int64 // connections destroyed by the release guard

	signed atomic.Pointer[signedIdentity] // set by SignIdentities (signed.go)
}

// Config returns the validated settings the DB was opened with.
func (db *DB) Config() config.Config { return db.cfg }

// Pool returns the native pgx pool: batches, pipelining and COPY. Work done
// directly on it bypasses uno's role switching and release guard.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// SQL returns a *sql.DB over the same pool, through pgx's stdlib adapter,
// for database/sql tools. It is created on first use and closed with the
// factory.
func (db *DB) SQL() *sql.DB {
	db.sqlOnce.Do(func() { db.sqlDB = stdlib.OpenDBFromPool(db.pool) })
	return db.sqlDB
}

// Stat reports the pool's statistics.
func (db *DB) Stat() *pgxpool.Stat { return db.pool.Stat() }

// Connects reports how many physical connections the pool has opened.
func (db *DB) Connects() int64 { return db.connects.Load() }

func (db *DB) close() {
	db.closed.Store(true)
	db.closeReplicas()
	_ = db.SQL().Close()
	db.pool.Close()
}

func (db *DB) errIfClosed() error {
	if db.closed.Load() {
		return fmt.Errorf("%w: pool %s", dberr.ErrClosed, db.cfg.Key())
	}
	return nil
}

// markSuspect asks the pool to ping connections before handing them out for
// the next few seconds.
func (db *DB) markSuspect() {
	db.suspectUntil.Store(time.Now().Add(5 * time.Second).UnixNano())
}

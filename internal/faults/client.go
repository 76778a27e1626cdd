package faults

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
)

// Querier is what a drill's transaction body runs statements on: an
// *engine.Tx or a pgx.Tx.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Client runs transactions the way one kind of application code does. Every
// transaction runs as uno's writer role with the same identity
// (rls_var.user_id, rls_var.tenant_id and a claim rls_var.org), set for the
// transaction only.
type Client interface {
	// Tx runs fn in a transaction with the isolation level iso ("" for the
	// server default) and returns what the application would see.
	Tx(ctx context.Context, iso pgx.TxIsoLevel, fn func(ctx context.Context, q Querier) error) error
	// Pool is the client's pgx pool, for the leak check.
	Pool() *pgxpool.Pool
	// Discards is how many connections the client's release guard destroyed
	// (uno only; -1 when the client has no guard).
	Discards() int64
	// Close closes the pool.
	Close()
}

// Target says where a client connects and how its pool is sized.
type Target struct {
	Host  string
	Port  int
	Roles config.Roles
	// MaxConns is the pool size; 0 keeps the client's default (uno's
	// default and pgxpool's are both max(4, number of CPUs)).
	MaxConns int
	// AcquireTimeout bounds the wait for a pooled connection; 0 means none.
	// uno has a setting for it (config.Pool.AcquireTimeout); pgxpool has
	// none, so the pgx clients put it on the whole call's context, as a
	// pgx user would.
	AcquireTimeout time.Duration
}

// Kind is one kind of client the drills run with.
type Kind struct {
	// Name is shown in the table: "uno", "pgx" or "pgx+retry".
	Name string
	// Held tells that the suite's requirements (nothing lost, nothing
	// duplicated, …) apply to this client. Baselines are measured, not held.
	Held bool
	// Open opens a client on t.
	Open func(ctx context.Context, t Target) (Client, error)
	// OneStatement tells that the client runs one statement a call, so
	// only the drills marked [Drill.OneStatement] run with it.
	OneStatement bool
}

// The identity every drill transaction carries.
const (
	drillUser   = "drill-user"
	drillTenant = "drill-tenant"
	drillOrg    = "drill-org"
)

// Uno is uno's engine with its defaults: db.WithTx with the writer role, an
// identity and Retry: true.
var Uno = Kind{Name: "uno", Held: true,
	Open: func(ctx context.Context, t Target) (Client, error) { return openUnoKind(ctx, t, false) }}

// UnoSingle is uno's one-round-trip call, the repository's path for a
// call of one statement: db.Single with the writer role, an identity,
// Retry: true and NoSessionState, as the repository's generated
// statements run.
var UnoSingle = Kind{Name: "uno single", Held: true, OneStatement: true,
	Open: func(ctx context.Context, t Target) (Client, error) { return openUnoKind(ctx, t, true) }}

// Pgx is the baseline: plain pgxpool with pgx.BeginTxFunc, switching to
// the writer role and setting the identity with set_config in the
// transaction, no retry.
var Pgx = Kind{Name: "pgx", Open: func(ctx context.Context, t Target) (Client, error) { return openPgx(ctx, t, 1) }}

// PgxRetry is the baseline with the retry loop a pgx user adds when
// restarts hurt: up to 4 attempts on any error, with backoff.
var PgxRetry = Kind{Name: "pgx+retry", Open: func(ctx context.Context, t Target) (Client, error) { return openPgx(ctx, t, 4) }}

// Kinds are every client kind, uno first.
var Kinds = []Kind{Uno, UnoSingle, Pgx, PgxRetry}

type unoClient struct {
	f      *engine.Factory
	db     *engine.DB
	single bool
}

func openUnoKind(ctx context.Context, t Target, single bool) (Client, error) {
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		return nil, err
	}
	cfg := config.Config{Host: t.Host, Port: t.Port, Database: Database, SSLMode: "disable", Roles: t.Roles,
		Pool: config.Pool{MaxConns: t.MaxConns, AcquireTimeout: t.AcquireTimeout}}
	db, err := f.Open(ctx, cfg)
	if err != nil {
		_ = f.Close(ctx)
		return nil, err
	}
	return &unoClient{f: f, db: db, single: single}, nil
}

func (c *unoClient) Tx(ctx context.Context, iso pgx.TxIsoLevel, fn func(context.Context, Querier) error) error {
	opts := engine.TxOptions{Role: engine.RoleWriter, Isolation: iso, Retry: true,
		Identity: engine.Identity{UserID: drillUser, TenantID: drillTenant, Claims: map[string]string{"org": drillOrg}}}
	if c.single {
		opts.NoSessionState = true
		return c.db.Single(ctx, opts, func(ctx context.Context, q engine.Querier) error { return fn(ctx, q) })
	}
	return c.db.WithTx(ctx, opts, func(ctx context.Context, tx *engine.Tx) error { return fn(ctx, tx) })
}

func (c *unoClient) Pool() *pgxpool.Pool { return c.db.Pool() }
func (c *unoClient) Discards() int64     { return c.db.Discards() }
func (c *unoClient) Close()              { _ = c.f.Close(context.Background()) }

type pgxClient struct {
	pool     *pgxpool.Pool
	writer   string
	attempts int
	timeout  time.Duration
}

func openPgx(ctx context.Context, t Target, attempts int) (Client, error) {
	pc, err := pgxpool.ParseConfig(loginURL(t.Host, t.Port, t.Roles))
	if err != nil {
		return nil, err
	}
	if t.MaxConns > 0 {
		pc.MaxConns = int32(t.MaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	return &pgxClient{pool: pool, writer: t.Roles.Writer, attempts: attempts, timeout: t.AcquireTimeout}, nil
}

// setSQL is what a pgx user sends first in each transaction: SET LOCAL ROLE
// and the identity, in one statement.
const setSQL = "SELECT set_config('role', $1, true), set_config('rls_var.user_id', $2, true), " +
	"set_config('rls_var.tenant_id', $3, true), set_config('rls_var.org', $4, true)"

func (c *pgxClient) Tx(ctx context.Context, iso pgx.TxIsoLevel, fn func(context.Context, Querier) error) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	delay := 25 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := pgx.BeginTxFunc(ctx, c.pool, pgx.TxOptions{IsoLevel: iso}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, setSQL, c.writer, drillUser, drillTenant, drillOrg); err != nil {
				return err
			}
			return fn(ctx, tx)
		})
		if err == nil || attempt >= c.attempts || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func (c *pgxClient) Pool() *pgxpool.Pool { return c.pool }
func (c *pgxClient) Discards() int64     { return -1 }
func (c *pgxClient) Close()              { c.pool.Close() }

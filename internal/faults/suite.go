package faults

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/internal/pgcluster"
)

// Database is the name of the database the suite sets up with uno's roles
// (Database_login, _reader, _writer, _admin, _base_role).
const Database = "uno_faults"

// Suite is a private PostgreSQL cluster, started with synchronous_commit=on
// (an acknowledged commit must survive a crash), holding [Database] set up
// the way uno sets up an application database, with two tables owned by
// the admin role:
//
//	attempt (run text, id bigint, at timestamptz)  one row per committed attempt, no unique key
//	counter (run text primary key, n bigint)       the serializable drill's counter
//
// The attempt table deliberately has no unique key on (run, id): a
// transaction that commits twice leaves two rows, which is how a duplicate
// is seen.
type Suite struct {
	// Short makes every drill run for a few seconds only (the form run by
	// the package's test); otherwise drills run for tens of seconds.
	Short bool
	// Log receives one line per drill and client as they start; nil
	// discards them.
	Log io.Writer

	cluster *pgcluster.Cluster
	roles   config.Roles
	mu      sync.Mutex // serializes restarts
	runs    atomic.Int64
}

// Start creates and starts the cluster and sets up the database. Close the
// suite to destroy the cluster.
func Start(ctx context.Context, short bool) (*Suite, error) {
	c, err := pgcluster.NewWith(pgcluster.Options{Settings: []string{"synchronous_commit=on"}})
	if err != nil {
		return nil, err
	}
	s := &Suite{Short: short, cluster: c, roles: config.DefaultRoles(Database)}
	if err := s.setUp(ctx); err != nil {
		c.Destroy()
		return nil, err
	}
	return s, nil
}

// Close stops the cluster and removes its files.
func (s *Suite) Close() { s.cluster.Destroy() }

// Roles returns uno's role names for [Database].
func (s *Suite) Roles() config.Roles { return s.roles }

// Port is the server's port on 127.0.0.1.
func (s *Suite) Port() int { return s.cluster.Port() }

// setUp runs uno's database emitters (roles, database, schemas, extensions,
// functions, privileges) as the superuser, then creates the drill tables as
// the admin role, so the writer gets its rights from the default
// privileges, as an application's tables do.
func (s *Suite) setUp(ctx context.Context) error {
	d := emit.Database{Name: Database}
	maint, err := pgx.Connect(ctx, s.cluster.URL("postgres"))
	if err != nil {
		return fmt.Errorf("faults: connect: %w", err)
	}
	defer maint.Close(ctx)
	var r emit.Runner
	if _, err := r.Run(ctx, maint, d.ClusterEmitters()...); err != nil {
		return fmt.Errorf("faults: set up: %w", err)
	}
	conn, err := s.admin(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := r.Run(ctx, conn, d.SetupEmitters()...); err != nil {
		return fmt.Errorf("faults: set up: %w", err)
	}
	tables := emit.Runner{Role: s.roles.Admin}
	return tables.Exec(ctx, conn, []emit.Statement{
		{Name: "attempt", Kind: emit.KindTable, SQL: "CREATE TABLE public.attempt (run text NOT NULL, id bigint NOT NULL, " +
			"at timestamptz NOT NULL DEFAULT clock_timestamp())"},
		{Name: "ix_attempt_run_id", Kind: emit.KindIndex, SQL: "CREATE INDEX ix_attempt_run_id ON public.attempt (run, id)"},
		{Name: "counter", Kind: emit.KindTable, SQL: "CREATE TABLE public.counter (run text PRIMARY KEY, n bigint NOT NULL)"},
	})
}

// admin connects to [Database] as the superuser, waiting (up to a minute)
// while the server restarts.
func (s *Suite) admin(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.cluster.URL(Database))
		if err == nil {
			return conn, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("faults: connect as superuser: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Restart stops the server with mode (pgcluster.Fast or Immediate) and
// starts it again on the same port. It returns how long the server was
// unavailable as seen by pg_ctl: from the stop to the end of start-up.
func (s *Suite) Restart(mode string) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	port := s.cluster.Port()
	start := time.Now()
	err := s.cluster.Restart(mode)
	took := time.Since(start)
	if err == nil && s.cluster.Port() != port {
		err = fmt.Errorf("faults: the server came back on port %d instead of %d", s.cluster.Port(), port)
	}
	return took, err
}

// terminate ends every backend of the login role, as an administrator or
// a failover would, and returns how many it ended.
func (s *Suite) terminate(ctx context.Context, conn *pgx.Conn) (int, error) {
	var n int
	err := conn.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND usename = $2",
		Database, s.roles.Login).Scan(&n)
	return n, err
}

// backends counts the server's client backends of the login role.
func (s *Suite) backends(ctx context.Context, conn *pgx.Conn) (int, error) {
	var n int
	err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = $2 AND backend_type = 'client backend'",
		Database, s.roles.Login).Scan(&n)
	return n, err
}

// rows returns, for run, how many attempt rows each attempt id has.
func (s *Suite) rows(ctx context.Context, run string) (map[int64]int, error) {
	conn, err := s.admin(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT id, count(*) FROM public.attempt WHERE run = $1 GROUP BY id", run)
	if err != nil {
		return nil, fmt.Errorf("faults: count rows: %w", err)
	}
	out := map[int64]int{}
	var id int64
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error { out[id] = n; return nil })
	if err != nil {
		return nil, fmt.Errorf("faults: count rows: %w", err)
	}
	return out, nil
}

// superExec runs one statement as the superuser.
func (s *Suite) superExec(ctx context.Context, sql string, args ...any) error {
	conn, err := s.admin(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// superScalar runs one query returning one value as the superuser.
func superScalar[T any](ctx context.Context, s *Suite, sql string, args ...any) (T, error) {
	var v T
	conn, err := s.admin(ctx)
	if err != nil {
		return v, err
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, sql, args...).Scan(&v)
	return v, err
}

// loginURL is the URL a plain pgx client uses: the login role, no TLS
// (the proxy does not speak it).
func loginURL(host string, port int, roles config.Roles) string {
	u := url.URL{Scheme: "postgres", User: url.User(roles.Login), Host: net.JoinHostPort(host, strconv.Itoa(port)),
		Path: "/" + Database, RawQuery: "sslmode=disable"}
	return u.String()
}

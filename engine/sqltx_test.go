package engine_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/identity"
	"github.com/uno-db/uno/internal/pgproxy"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

// sqlNote is the hostile name of the table the database/sql door tests use.
const sqlNote = `note "x"; -- é`

var sqlTestSecret = []byte("0123456789abcdef0123456789abcdef-sqltx")

// sqlEnv is a database set up the way `uno db create` sets one up (the
// database-level emitters), with a table under row-level security on
// rls_var.tenant_id that the reader may read and the writer may write, and
// a cfg that logs in as the login role, which has no rights of its own.
type sqlEnv struct {
	pg    pgtest.Database
	roles config.Roles
	cfg   config.Config
	f     *engine.Factory
}

func newSQLEnv(t testing.TB, signed bool) *sqlEnv {
	t.Helper()
	ctx := context.Background()
	pg := pgtest.NewDatabase(t)
	d := emit.Database{Name: pg.Name, SignedIdentity: signed}
	var run emit.Runner
	for _, step := range []struct {
		url      string
		emitters []emit.Emitter
	}{{pgtest.AdminURL(t), d.ClusterEmitters()}, {pg.URL, d.SetupEmitters()}} {
		conn, err := pgx.Connect(ctx, step.url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = run.Run(ctx, conn, step.emitters...)
		if err == nil && signed && step.url == pg.URL {
			_, err = run.Run(ctx, conn, emit.IdentitySecret(d, sqlTestSecret))
		}
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
	}
	r := config.DefaultRoles(pg.Name)
	tbl := quote.Ident(sqlNote)
	pgtest.Exec(t, pg.URL,
		"CREATE TABLE "+tbl+" (id int PRIMARY KEY, tenant text NOT NULL DEFAULT current_setting('rls_var.tenant_id'),"+
			" body text NOT NULL)",
		"ALTER TABLE "+tbl+" ENABLE ROW LEVEL SECURITY",
		"CREATE POLICY tenant ON "+tbl+" USING (tenant = current_setting('rls_var.tenant_id', true))",
		"GRANT SELECT ON "+tbl+" TO "+quote.Ident(r.Reader),
		"GRANT SELECT, INSERT, UPDATE, DELETE ON "+tbl+" TO "+quote.Ident(r.Writer),
	)
	u, _ := url.Parse(pg.URL)
	port, _ := strconv.Atoi(u.Port())
	cfg := config.Config{Host: u.Hostname(), Port: port, Database: pg.Name, SSLMode: "disable",
		Retry: config.Retry{InitialDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}}.WithDefaults()
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	return &sqlEnv{pg: pg, roles: r, cfg: cfg, f: f}
}

func (e *sqlEnv) open(t testing.TB, edit func(*config.Config)) *engine.DB {
	t.Helper()
	cfg := e.cfg
	if edit != nil {
		edit(&cfg)
	}
	db, err := e.f.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// rows counts the table's rows as the superuser (no row-level security).
func (e *sqlEnv) rows(t *testing.T) int64 {
	t.Helper()
	return pgtest.Scalar[int64](t, e.pg.URL, "SELECT count(*) FROM "+quote.Ident(sqlNote))
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return dberr.Code(err)
}

func insertNote(ctx context.Context, tx *sql.Tx, id int, body string) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO "+quote.Ident(sqlNote)+" (id, body) VALUES ($1, $2)", id, body)
	return err
}

// TestSQLTxRolesAndIdentity: on a database set up by the emitters, SQLTx
// runs as the writer and the reader with the identity visible and
// row-level security enforced, while a plain *sql.DB query runs as the
// login role and is refused with 42501.
func TestSQLTxRolesAndIdentity(t *testing.T) {
	t.Parallel()
	e := newSQLEnv(t, false)
	db := e.open(t, nil)
	ctx := context.Background()
	hostile := `o'brien"; DROP TABLE x; --`

	var who, tenant, user, claim string
	err := db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter,
		Identity: engine.Identity{TenantID: "t1", UserID: hostile, Claims: map[string]string{"plan": "gold"}}},
		func(ctx context.Context, tx *sql.Tx) error {
			if err := tx.QueryRowContext(ctx, "SELECT current_user, current_setting('rls_var.tenant_id'),"+
				" current_setting('rls_var.user_id'), current_setting('rls_var.plan')").Scan(&who, &tenant, &user, &claim); err != nil {
				return err
			}
			if err := insertNote(ctx, tx, 1, "a"); err != nil {
				return err
			}
			return insertNote(ctx, tx, 2, "b")
		})
	if err != nil {
		t.Fatalf("SQLTx as writer: %v", err)
	}
	if who != e.roles.Writer || tenant != "t1" || user != hostile || claim != "gold" {
		t.Fatalf("inside the writer transaction: current_user %q tenant %q user %q plan %q", who, tenant, user, claim)
	}
	if n := e.rows(t); n != 2 {
		t.Fatalf("%d rows committed, want 2", n)
	}

	count := func(opts engine.TxOptions) (string, int64, error) {
		var who string
		var n int64
		err := db.SQLTx(ctx, opts, func(ctx context.Context, tx *sql.Tx) error {
			return tx.QueryRowContext(ctx, "SELECT current_user, count(*) FROM "+quote.Ident(sqlNote)).Scan(&who, &n)
		})
		return who, n, err
	}
	reader := engine.TxOptions{Role: engine.RoleReader, ReadOnly: true, Identity: engine.Identity{TenantID: "t1"}}
	if who, n, err := count(reader); err != nil || who != e.roles.Reader || n != 2 {
		t.Fatalf("reader of t1: %q sees %d rows (%v), want %q and 2", who, n, err, e.roles.Reader)
	}
	reader.Identity.TenantID = "t2"
	if _, n, err := count(reader); err != nil || n != 0 {
		t.Fatalf("reader of t2 sees %d rows of t1 (%v): row-level security not enforced", n, err)
	}
	// The reader may not write.
	err = db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{TenantID: "t1"}},
		func(ctx context.Context, tx *sql.Tx) error { return insertNote(ctx, tx, 3, "c") })
	if pgCode(err) != "42501" || !errors.Is(err, dberr.ErrPermissionDenied) {
		t.Fatalf("insert as reader: %v, want 42501 classified as ErrPermissionDenied", err)
	}

	// The plain *sql.DB runs as the login role, which has no rights: the
	// documented 42501. The transaction-local identity did not stay.
	var login string
	var after sql.NullString
	if err := db.SQL().QueryRowContext(ctx, "SELECT current_user, current_setting('rls_var.tenant_id', true)").
		Scan(&login, &after); err != nil {
		t.Fatal(err)
	}
	if login != e.roles.Login || after.String != "" {
		t.Fatalf("plain *sql.DB: current_user %q, tenant %q; want %q and no tenant", login, after.String, e.roles.Login)
	}
	_, err = db.SQL().ExecContext(ctx, "SELECT count(*) FROM "+quote.Ident(sqlNote))
	if pgCode(err) != "42501" {
		t.Fatalf("plain *sql.DB query as the login role: %v, want 42501", err)
	}
}

// TestSQLTxRollsBack: an error or a panic from the function rolls the
// transaction back: no row is left, the error is the function's.
func TestSQLTxRollsBack(t *testing.T) {
	t.Parallel()
	e := newSQLEnv(t, false)
	db := e.open(t, func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	opts := engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{TenantID: "t1"}}
	boom := errors.New("boom")
	err := db.SQLTx(ctx, opts, func(ctx context.Context, tx *sql.Tx) error {
		if err := insertNote(ctx, tx, 1, "a"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("SQLTx: %v, want the function's error", err)
	}
	if n := e.rows(t); n != 0 {
		t.Fatalf("%d rows after a failing function, want 0", n)
	}
	func() {
		defer func() {
			if p := recover(); p != "panic in fn" {
				t.Fatalf("recovered %v, want the function's panic", p)
			}
		}()
		_ = db.SQLTx(ctx, opts, func(ctx context.Context, tx *sql.Tx) error {
			if err := insertNote(ctx, tx, 1, "a"); err != nil {
				return err
			}
			panic("panic in fn")
		})
	}()
	if n := e.rows(t); n != 0 {
		t.Fatalf("%d rows after a panicking function, want 0", n)
	}
	// The pool of one is usable afterwards: the connection came back.
	if err := db.SQLTx(ctx, opts, func(ctx context.Context, tx *sql.Tx) error { return insertNote(ctx, tx, 1, "a") }); err != nil {
		t.Fatalf("after the rollbacks: %v", err)
	}
	// A function that ends the transaction itself is told so.
	err = db.SQLTx(ctx, opts, func(ctx context.Context, tx *sql.Tx) error {
		if err := insertNote(ctx, tx, 2, "b"); err != nil {
			return err
		}
		return tx.Rollback()
	})
	if !errors.Is(err, engine.ErrSQLTxEnded) || !errors.Is(err, sql.ErrTxDone) {
		t.Fatalf("function rolled back itself: %v, want ErrSQLTxEnded", err)
	}
	if n := e.rows(t); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// TestSQLTxSessionStateDoesNotLeak: what the function leaves on the
// session (a session SET, a temporary table, a session SET ROLE) does not
// reach the next user of the connection: the guard resets it, or destroys
// the connection.
func TestSQLTxSessionStateDoesNotLeak(t *testing.T) {
	t.Parallel()
	e := newSQLEnv(t, false)
	db := e.open(t, func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	var pid1 uint32
	err := db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{TenantID: "t1"}},
		func(ctx context.Context, tx *sql.Tx) error {
			for _, s := range []string{"SET statement_timeout = '1234ms'", "SET application_name = 'leak'",
				"CREATE TEMP TABLE leak_tmp (i int)"} {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return err
				}
			}
			return tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid1)
		})
	if err != nil {
		t.Fatalf("SQLTx: %v", err)
	}
	type state struct {
		pid                uint32
		user, timeout, app string
		tenant             sql.NullString
		tmp                sql.NullString
	}
	look := func() state {
		t.Helper()
		var s state
		if err := db.SQL().QueryRowContext(ctx, "SELECT pg_backend_pid(), current_user, current_setting('statement_timeout'),"+
			" current_setting('application_name'), current_setting('rls_var.tenant_id', true), to_regclass('pg_temp.leak_tmp')::text").
			Scan(&s.pid, &s.user, &s.timeout, &s.app, &s.tenant, &s.tmp); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := look()
	if s.pid != pid1 {
		t.Fatalf("the pool of one gave backend %d, not the same connection %d", s.pid, pid1)
	}
	if s.user != e.roles.Login || s.timeout != "0" || s.app != "uno" || s.tenant.String != "" || s.tmp.Valid {
		t.Fatalf("session state leaked to the next user: %+v", s)
	}
	if db.Discards() != 0 {
		t.Fatalf("%d connections discarded; the guard resets these settings", db.Discards())
	}
	// A session-level SET ROLE cannot be reset safely: the connection is
	// destroyed, and the next user runs as the login role.
	err = db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "SET ROLE "+quote.Ident(e.roles.Reader))
		return err
	})
	if err != nil {
		t.Fatalf("SQLTx with SET ROLE: %v", err)
	}
	s = look()
	if s.user != e.roles.Login {
		t.Fatalf("next user runs as %q, want the login role %q", s.user, e.roles.Login)
	}
	if s.pid == pid1 && db.Discards() == 0 {
		t.Fatalf("after a session SET ROLE the connection (backend %d) was reused without a discard", s.pid)
	}
}

// TestSQLTxRetry: with Retry, a serialization failure runs the function
// again; without, it is returned classified.
func TestSQLTxRetry(t *testing.T) {
	t.Parallel()
	e := newSQLEnv(t, false)
	db := e.open(t, nil)
	ctx := context.Background()
	for _, retry := range []bool{true, false} {
		pgtest.Exec(t, e.pg.URL, "DELETE FROM "+quote.Ident(sqlNote))
		var runs int
		err := db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{TenantID: "t1"}, Retry: retry},
			func(ctx context.Context, tx *sql.Tx) error {
				runs++
				if err := insertNote(ctx, tx, 1, "a"); err != nil {
					return err
				}
				if runs == 1 {
					_, err := tx.ExecContext(ctx, "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")
					return err
				}
				return nil
			})
		want, wantRows := 2, int64(1)
		if !retry {
			want, wantRows = 1, 0
			if !errors.Is(err, dberr.ErrSerializationFailure) {
				t.Fatalf("without Retry: %v, want ErrSerializationFailure", err)
			}
		} else if err != nil {
			t.Fatalf("with Retry: %v", err)
		}
		if runs != want || e.rows(t) != wantRows {
			t.Fatalf("retry %v: %d runs, %d rows; want %d and %d", retry, runs, e.rows(t), want, wantRows)
		}
	}
}

// TestSQLTxCommitCut cuts the connection just before COMMIT is sent (the
// function runs again, with Retry) and just after (the outcome is resolved
// from the transaction id, no blind retry). Exactly one row exists each
// time.
func TestSQLTxCommitCut(t *testing.T) {
	t.Parallel()
	e := newSQLEnv(t, false)
	for _, tc := range []struct {
		name     string
		act      pgproxy.Action
		wantRuns int32
	}{{"before", pgproxy.CutBefore, 2}, {"after", pgproxy.CutAfter, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			pgtest.Exec(t, e.pg.URL, "DELETE FROM "+quote.Ident(sqlNote))
			proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
			db := e.open(t, func(c *config.Config) { c.Port = proxy.Port(); c.Pool.MaxConns = 1 })
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			proxy.SetRule(pgproxy.Once(pgproxy.Message.IsCommit, tc.act))
			var runs atomic.Int32
			err := db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{TenantID: "t1"}, Retry: true},
				func(ctx context.Context, tx *sql.Tx) error {
					runs.Add(1)
					return insertNote(ctx, tx, 1, "once")
				})
			if err != nil {
				t.Fatalf("SQLTx: %v", err)
			}
			if proxy.Cuts() != 1 || runs.Load() != tc.wantRuns {
				t.Fatalf("%d cuts, %d runs; want 1 and %d", proxy.Cuts(), runs.Load(), tc.wantRuns)
			}
			if n := e.rows(t); n != 1 {
				t.Fatalf("%d rows, want exactly 1", n)
			}
		})
	}
	// Without Retry, a COMMIT cut before it was sent is reported as a lost
	// connection and nothing was written.
	pgtest.Exec(t, e.pg.URL, "DELETE FROM "+quote.Ident(sqlNote))
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(t, func(c *config.Config) { c.Port = proxy.Port() })
	proxy.SetRule(pgproxy.Once(pgproxy.Message.IsCommit, pgproxy.CutBefore))
	err := db.SQLTx(context.Background(), engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{TenantID: "t1"}},
		func(ctx context.Context, tx *sql.Tx) error { return insertNote(ctx, tx, 1, "x") })
	if !errors.Is(err, dberr.ErrConnection) || errors.Is(err, dberr.ErrCommitUnknown) {
		t.Fatalf("cut before COMMIT without Retry: %v, want ErrConnection", err)
	}
	if n := e.rows(t); n != 0 {
		t.Fatalf("%d rows, want 0", n)
	}
}

// TestSQLTxSigned: with SignIdentities the database/sql door signs the
// identity in: uno's verified functions return it, and a signer with
// another secret is refused with 28000.
func TestSQLTxSigned(t *testing.T) {
	t.Parallel()
	e := newSQLEnv(t, true)
	db := e.open(t, nil)
	signer, err := identity.NewSigner(sqlTestSecret)
	if err != nil {
		t.Fatal(err)
	}
	db.SignIdentities(signer, "")
	ctx := context.Background()
	look := func() (sql.NullString, sql.NullString, error) {
		var tenant, user sql.NullString
		err := db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{TenantID: "t1", UserID: "alice"}},
			func(ctx context.Context, tx *sql.Tx) error {
				return tx.QueryRowContext(ctx, "SELECT uno_tenant_id(), uno_user_id()").Scan(&tenant, &user)
			})
		return tenant, user, err
	}
	if tenant, user, err := look(); err != nil || tenant.String != "t1" || user.String != "alice" {
		t.Fatalf("signed: tenant %v user %v (%v)", tenant, user, err)
	}
	other, _ := identity.NewSigner(identity.NewSecret())
	db.SignIdentities(other, "")
	if _, _, err := look(); pgCode(err) != "28000" {
		t.Fatalf("another secret: %v, want 28000", err)
	}
}

// TestSQLTxThroughPgBouncer: behind PgBouncer in transaction mode (Pooler
// "pgbouncer"), SQLTx applies search_path and statement_timeout in each
// transaction (they cannot be startup parameters there), with the role and
// identity; 8 workers × 25 transactions interleave on PgBouncer's server
// connections and each sees only its own identity, and nothing stays on
// the server connections afterwards.
func TestSQLTxThroughPgBouncer(t *testing.T) {
	t.Parallel()
	bouncer := pgtest.PgBouncer(t)
	e := newSQLEnv(t, false)
	host, port, err := net.SplitHostPort(bouncer.Addr())
	if err != nil {
		t.Fatal(err)
	}
	schema := `sch "x"`
	db := e.open(t, func(c *config.Config) {
		c.Host = host
		c.Port, _ = strconv.Atoi(port)
		c.Pooler = config.PoolerPgBouncer
		c.QueryExecMode = ""
		c.Schema = schema
		c.StatementTimeout = 1234 * time.Millisecond
		c.Pool.MaxConns = 8
	})
	ctx := context.Background()
	errs := make(chan error, 8)
	done := make(chan struct{})
	for w := 0; w < 8; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 25; i++ {
				tenant := fmt.Sprintf("w%d-%d", w, i)
				var who, seen, sp, timeout string
				err := db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{TenantID: tenant}},
					func(ctx context.Context, tx *sql.Tx) error {
						return tx.QueryRowContext(ctx, "SELECT current_user, current_setting('rls_var.tenant_id'),"+
							" current_setting('search_path'), current_setting('statement_timeout')").Scan(&who, &seen, &sp, &timeout)
					})
				switch {
				case err != nil:
					errs <- fmt.Errorf("worker %d: %w", w, err)
					return
				case who != e.roles.Writer || seen != tenant || sp != quote.Ident(schema)+", public" || timeout != "1234ms":
					errs <- fmt.Errorf("worker %d: user %q tenant %q (want %q) search_path %q statement_timeout %q",
						w, who, seen, tenant, sp, timeout)
					return
				}
			}
		}()
	}
	for w := 0; w < 8; w++ {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Straight through PgBouncer, without uno: no tenant, role or setting
	// stayed on its server connections.
	for i := 0; i < 8; i++ {
		var who string
		var tenant sql.NullString
		var timeout string
		if err := db.SQL().QueryRowContext(ctx, "SELECT current_user, current_setting('rls_var.tenant_id', true),"+
			" current_setting('statement_timeout')").Scan(&who, &tenant, &timeout); err != nil {
			t.Fatal(err)
		}
		if who != e.roles.Login || tenant.String != "" || timeout == "1234ms" {
			t.Fatalf("after the transactions: user %q tenant %q statement_timeout %q", who, tenant.String, timeout)
		}
	}
}

// TestSQLTxCancelledKeepsGuard: when ctx ends inside the function,
// database/sql does not roll back and hand the connection back on its own:
// SQLTx rolls back and the guard runs, so a session advisory lock (which
// ROLLBACK keeps) does not stay on the pooled connection, and the
// connection is kept.
func TestSQLTxCancelledKeepsGuard(t *testing.T) {
	t.Parallel()
	e := newSQLEnv(t, false)
	db := e.open(t, func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	var pid, next uint32
	err := db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{TenantID: "t1"}},
		func(ctx context.Context, tx *sql.Tx) error {
			if err := tx.QueryRowContext(ctx, "SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock(424242)) l").Scan(&pid); err != nil {
				return err
			}
			cancel()
			return ctx.Err()
		})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("SQLTx: %v, want context.Canceled", err)
	}
	if n := pgtest.Scalar[int64](t, e.pg.URL, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 424242"); n != 0 {
		t.Fatalf("the session advisory lock stayed on the pooled connection (%d locks)", n)
	}
	// The guard cleaned the connection, so the pool of one kept it (a
	// rollback on the ended context would have killed it).
	if err := db.SQLTx(context.Background(), engine.TxOptions{}, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&next)
	}); err != nil {
		t.Fatal(err)
	}
	if next != pid {
		t.Fatalf("backend %d after the cancelled transaction on %d: the connection was not kept", next, pid)
	}
}

// BenchmarkSQLTx compares a one-statement transaction with a role and an
// identity through SQLTx and through WithTx on the same pool.
func BenchmarkSQLTx(b *testing.B) {
	e := newSQLEnv(b, false)
	db := e.open(b, func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	opts := engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{TenantID: "t1", UserID: "u1"}}
	q := "SELECT count(*) FROM " + quote.Ident(sqlNote)
	b.Run("WithTx", func(b *testing.B) {
		for b.Loop() {
			var n int64
			if err := db.WithTx(ctx, opts, func(ctx context.Context, tx *engine.Tx) error {
				return tx.QueryRow(ctx, q).Scan(&n)
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SQLTx", func(b *testing.B) {
		for b.Loop() {
			var n int64
			if err := db.SQLTx(ctx, opts, func(ctx context.Context, tx *sql.Tx) error {
				return tx.QueryRowContext(ctx, q).Scan(&n)
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
)

// TestPoolReuse makes 1,000 scoped calls from 16 goroutines with one
// config: the factory hands back the identical pool, and the server never
// sees more than MaxConns connections from it.
func TestPoolReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	const maxConns = 4
	edit := func(c *config.Config) { c.Pool.MaxConns = maxConns }
	first := e.open(edit)
	ctx := context.Background()

	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // watch pg_stat_activity from the superuser side
		defer close(sampled)
		conn, err := pgx.Connect(ctx, e.db.URL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		for {
			var n int64
			_ = conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = $2",
				e.db.Name, e.cfg.User).Scan(&n)
			if n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	var wg sync.WaitGroup
	var calls atomic.Int64
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000/16+1 && calls.Add(1) <= 1000; i++ {
				db := e.open(edit)
				if db != first || db.Pool() != first.Pool() {
					errs <- errors.New("factory returned a different pool")
					return
				}
				err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
					var one int
					return c.QueryRow(ctx, "SELECT 1").Scan(&one)
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if p := peak.Load(); p < 1 || p > maxConns {
		t.Fatalf("server saw %d connections at peak, want 1..%d", p, maxConns)
	}
	if c := first.Connects(); c > maxConns {
		t.Fatalf("pool opened %d physical connections, want at most %d", c, maxConns)
	}
	if got := first.Stat().TotalConns(); got > maxConns {
		t.Fatalf("pool holds %d connections", got)
	}
}

// TestRoleAndIdentityAreTransactionLocal runs a transaction as the reader
// with an identity, then checks that the next transaction on the same
// pooled connection sees the login role and no settings.
func TestRoleAndIdentityAreTransactionLocal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	type seen struct {
		pid                      uint32
		user, uid, tenant, super string
		claim                    string
	}
	look := func(opts engine.TxOptions) seen {
		var s seen
		err := db.WithTx(ctx, opts, func(ctx context.Context, tx *engine.Tx) error {
			s.pid = tx.Raw().PgConn().PID()
			return tx.QueryRow(ctx, `SELECT current_user::text,
				coalesce(current_setting('rls_var.user_id', true), ''),
				coalesce(current_setting('rls_var.tenant_id', true), ''),
				coalesce(current_setting('rls_var.is_superuser', true), ''),
				coalesce(current_setting('rls_var.team', true), '')`).Scan(&s.user, &s.uid, &s.tenant, &s.super, &s.claim)
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	got := look(engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{
		UserID: "u1", TenantID: "t1", Superuser: true, Claims: map[string]string{"team": "blue"}}})
	want := seen{pid: got.pid, user: e.cfg.Roles.Reader, uid: "u1", tenant: "t1", super: "true", claim: "blue"}
	if got != want {
		t.Fatalf("inside: got %+v, want %+v", got, want)
	}
	next := look(engine.TxOptions{})
	if next != (seen{pid: got.pid, user: e.cfg.Roles.Login}) {
		t.Fatalf("next transaction on connection %d: got %+v", got.pid, next)
	}
	for _, r := range []struct {
		role engine.Role
		name string
	}{{engine.RoleWriter, e.cfg.Roles.Writer}, {engine.RoleAdmin, e.cfg.Roles.Admin}} {
		if s := look(engine.TxOptions{Role: r.role}); s.user != r.name {
			t.Fatalf("role %s: current_user %q", r.role, s.user)
		}
	}
	if db.Discards() != 0 {
		t.Fatalf("clean connections were discarded: %d", db.Discards())
	}
}

// TestSessionLevelRoleIsDiscarded leaves a session-level SET ROLE (and a
// session-level identity) on a connection through raw SQL: the connection
// is destroyed on release, and the next caller gets a clean one.
func TestSessionLevelRoleIsDiscarded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	state := func() (uint32, string, string) {
		var pid uint32
		var user, uid string
		err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
			pid = c.Raw().PgConn().PID()
			return c.QueryRow(ctx, "SELECT current_user::text, coalesce(current_setting('rls_var.user_id', true), '')").Scan(&user, &uid)
		})
		if err != nil {
			t.Fatal(err)
		}
		return pid, user, uid
	}
	discards := int64(0)
	for i, tc := range []struct {
		dirty   func() error
		discard bool // a role cannot be reset: the connection is destroyed; settings are reset
	}{
		{func() error {
			return db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
				_, err := c.Exec(ctx, "SET ROLE "+pgx.Identifier{e.cfg.Roles.Writer}.Sanitize())
				return err
			})
		}, true},
		{func() error {
			return db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
				_, err := c.Exec(ctx, "SELECT set_config('rls_var.user_id', 'intruder', false)")
				return err
			})
		}, false},
		{func() error { // a session-level SET inside a transaction survives COMMIT
			return db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
				_, err := tx.Exec(ctx, "SET ROLE "+pgx.Identifier{e.cfg.Roles.Reader}.Sanitize())
				return err
			})
		}, true},
	} {
		before, _, _ := state()
		if err := tc.dirty(); err != nil {
			t.Fatal(err)
		}
		after, user, uid := state()
		if tc.discard && after == before {
			t.Fatalf("case %d: dirty connection %d was reused", i, before)
		}
		if user != e.cfg.Roles.Login || uid != "" {
			t.Fatalf("case %d: next caller saw role %q, user id %q", i, user, uid)
		}
		if tc.discard {
			discards++
		}
		if got := db.Discards(); got != discards {
			t.Fatalf("case %d: %d discards, want %d", i, got, discards)
		}
	}
}

func countItems(t *testing.T, e *env) int {
	return pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM item")
}

// TestRollbackOnErrorAndPanic leaves no rows behind.
func TestRollbackOnErrorAndPanic(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	ctx := context.Background()
	boom := errors.New("boom")
	err := db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'a')"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	func() {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Fatalf("panic not passed on: %v", p)
			}
		}()
		_ = db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
			if _, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (2, 'b')"); err != nil {
				return err
			}
			panic("kaboom")
		})
	}()
	if n := countItems(t, e); n != 0 {
		t.Fatalf("%d rows left behind", n)
	}
	// The pool still works and commits.
	if err := db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (3, 'c')")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := countItems(t, e); n != 1 {
		t.Fatalf("%d rows after commit", n)
	}
}

// TestSwallowedErrorDoesNotCommit: a function that ignores a failed
// statement and returns nil must not report success.
func TestSwallowedErrorDoesNotCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	ctx := context.Background()
	err := db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		_, _ = tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'a')")
		_, _ = tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'dup')")
		return nil
	})
	if !errors.Is(err, pgx.ErrTxCommitRollback) {
		t.Fatalf("got %v", err)
	}
	if n := countItems(t, e); n != 0 {
		t.Fatalf("%d rows", n)
	}
}

// TestCancelDuringQuery cancels pg_sleep(10): the call returns promptly
// with context.Canceled and the pool serves the next call.
func TestCancelDuringQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	for _, inTx := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		sleep := func(ctx context.Context, q engine.Querier) error {
			_, err := q.Exec(ctx, "SELECT pg_sleep(10)")
			return err
		}
		var err error
		if inTx {
			err = db.WithTx(ctx, engine.TxOptions{Retry: true}, func(ctx context.Context, tx *engine.Tx) error { return sleep(ctx, tx) })
		} else {
			err = db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error { return sleep(ctx, c) })
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("inTx=%v: got %v, want context.Canceled", inTx, err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("inTx=%v: cancel took %v", inTx, el)
		}
		var one int
		if err := db.WithConn(context.Background(), func(ctx context.Context, c *engine.Conn) error {
			return c.QueryRow(ctx, "SELECT 1").Scan(&one)
		}); err != nil || one != 1 {
			t.Fatalf("pool unusable after cancel: %v", err)
		}
	}
	// The backend stopped sleeping: no query of ours is still running.
	if n := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(10)%' AND state = 'active' AND pid <> pg_backend_pid()"); n != 0 {
		t.Fatalf("%d sleeping backends left", n)
	}
}

// TestNonRetryableErrors: the function runs once, the SQLSTATE survives,
// nothing is left behind and the pool stays usable.
func TestNonRetryableErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		role   engine.Role
		sql    string
		code   string
		target error
	}{
		{"foreign key", engine.RoleWriter, "INSERT INTO child VALUES (1, 999)", "23503", dberr.ErrForeignKeyViolation},
		{"bad text", engine.RoleWriter, "INSERT INTO child VALUES ('x'::int, 1)", "22P02", nil},
		{"permission", engine.RoleReader, "INSERT INTO child VALUES (2, 1)", "42501", dberr.ErrPermissionDenied},
		{"not null", engine.RoleWriter, "INSERT INTO item (id, name) VALUES (5, NULL)", "23502", dberr.ErrNotNullViolation},
	} {
		var runs int
		err := db.WithTx(ctx, engine.TxOptions{Role: tc.role, Retry: true}, func(ctx context.Context, tx *engine.Tx) error {
			runs++
			if _, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES ($1, 'partial')", 100+runs); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, tc.sql)
			return err
		})
		var de *dberr.Error
		if !errors.As(err, &de) || de.Code != tc.code || dberr.Code(err) != tc.code {
			t.Fatalf("%s: got %v, want SQLSTATE %s", tc.name, err, tc.code)
		}
		var pg *pgconn.PgError
		if !errors.As(err, &pg) {
			t.Fatalf("%s: *pgconn.PgError not reachable", tc.name)
		}
		if tc.target != nil && !errors.Is(err, tc.target) {
			t.Fatalf("%s: %v does not match %v", tc.name, err, tc.target)
		}
		if runs != 1 {
			t.Fatalf("%s: function ran %d times", tc.name, runs)
		}
	}
	var runs int
	func() {
		defer func() { _ = recover() }()
		_ = db.WithTx(ctx, engine.TxOptions{Retry: true}, func(ctx context.Context, tx *engine.Tx) error {
			runs++
			_, _ = tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (200, 'partial')")
			panic("no")
		})
	}()
	if runs != 1 {
		t.Fatalf("panicking function ran %d times", runs)
	}
	if n := countItems(t, e); n != 0 {
		t.Fatalf("%d partial rows", n)
	}
	if err := db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, tx *engine.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'ok')")
		return err
	}); err != nil {
		t.Fatalf("pool unusable: %v", err)
	}
	// A unique violation names its constraint and table.
	err := db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, tx *engine.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'dup')")
		return err
	})
	var de *dberr.Error
	if !errors.Is(err, dberr.ErrUniqueViolation) || !errors.As(err, &de) || de.Constraint != "item_pkey" || de.Table != "item" {
		t.Fatalf("unique violation: %v (%+v)", err, de)
	}
	if !strings.Contains(err.Error(), "23505") || !strings.Contains(err.Error(), "item_pkey") {
		t.Fatalf("message lacks SQLSTATE or constraint: %v", err)
	}
}

// barrier lets n goroutines wait for each other once.
type barrier struct {
	wg sync.WaitGroup
}

func newBarrier(n int) *barrier { b := &barrier{}; b.wg.Add(n); return b }

func (b *barrier) wait(ctx context.Context) {
	b.wg.Done()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
}

// TestWriteSkewRetry: two SERIALIZABLE transactions that each take one of
// two doctors off call if both are on. With retry both finish and the
// invariant holds; without it one gets the serialization failure.
func TestWriteSkewRetry(t *testing.T) {
	t.Parallel()
	for _, retry := range []bool{true, false} {
		t.Run(fmt.Sprintf("retry=%v", retry), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine.Options{})
			pgtest.Exec(t, e.db.URL,
				"CREATE TABLE oncall (name text PRIMARY KEY, on_call bool NOT NULL)",
				"INSERT INTO oncall VALUES ('alice', true), ('bob', true)",
				"CREATE TABLE effect (who text NOT NULL)",
				"GRANT ALL ON oncall, effect TO "+e.cfg.User)
			db := e.open(nil)
			ctx := context.Background()
			b := newBarrier(2)
			var runs atomic.Int32
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, who := range []string{"alice", "bob"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					first := true
					errs[i] = db.WithTx(ctx, engine.TxOptions{Isolation: pgx.Serializable, Retry: retry},
						func(ctx context.Context, tx *engine.Tx) error {
							runs.Add(1)
							var on int
							if err := tx.QueryRow(ctx, "SELECT count(*) FROM oncall WHERE on_call").Scan(&on); err != nil {
								return err
							}
							if first {
								first = false
								b.wait(ctx)
							}
							if on < 2 {
								return nil
							}
							if _, err := tx.Exec(ctx, "UPDATE oncall SET on_call = false WHERE name = $1", who); err != nil {
								return err
							}
							_, err := tx.Exec(ctx, "INSERT INTO effect VALUES ($1)", who)
							return err
						})
				}()
			}
			wg.Wait()
			onCall := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM oncall WHERE on_call")
			effects := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM effect")
			if onCall != 1 || effects != 1 {
				t.Fatalf("invariant broken: %d on call, %d effects", onCall, effects)
			}
			failed := 0
			for _, err := range errs {
				if err != nil {
					failed++
					if !errors.Is(err, dberr.ErrSerializationFailure) {
						t.Fatalf("unexpected error %v", err)
					}
				}
			}
			if retry && (failed != 0 || runs.Load() != 3) {
				t.Fatalf("with retry: %d failed, %d runs (want 0 and 3)", failed, runs.Load())
			}
			if !retry && (failed != 1 || runs.Load() != 2) {
				t.Fatalf("without retry: %d failed, %d runs (want 1 and 2)", failed, runs.Load())
			}
		})
	}
}

// TestDeadlockRetry: two transactions lock two rows in opposite orders.
// With retry both finish and each increment lands once; without, one gets
// the deadlock error.
func TestDeadlockRetry(t *testing.T) {
	t.Parallel()
	for _, retry := range []bool{true, false} {
		t.Run(fmt.Sprintf("retry=%v", retry), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine.Options{})
			pgtest.Exec(t, e.db.URL, "INSERT INTO item (id, name) VALUES (1, 'a'), (2, 'b')")
			db := e.open(nil)
			ctx := context.Background()
			b := newBarrier(2)
			errs := make([]error, 2)
			var runs atomic.Int32
			var wg sync.WaitGroup
			for i, order := range [][2]int{{1, 2}, {2, 1}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					first := true
					errs[i] = db.WithTx(ctx, engine.TxOptions{Retry: retry}, func(ctx context.Context, tx *engine.Tx) error {
						runs.Add(1)
						if _, err := tx.Exec(ctx, "UPDATE item SET n = n + 1 WHERE id = $1", order[0]); err != nil {
							return err
						}
						if first {
							first = false
							b.wait(ctx)
						}
						_, err := tx.Exec(ctx, "UPDATE item SET n = n + 1 WHERE id = $1", order[1])
						return err
					})
				}()
			}
			wg.Wait()
			total := pgtest.Scalar[int](t, e.db.URL, "SELECT sum(n)::int FROM item")
			failed := 0
			for _, err := range errs {
				if err != nil {
					failed++
					if !errors.Is(err, dberr.ErrDeadlock) || dberr.Code(err) != "40P01" {
						t.Fatalf("unexpected error %v", err)
					}
				}
			}
			// Under load both backends' deadlock checks can fire before
			// either victim's locks are gone: both are then aborted and
			// both run again (4 runs).
			if retry && (failed != 0 || total != 4 || runs.Load() < 3 || runs.Load() > 4) {
				t.Fatalf("with retry: %d failed, sum %d, %d runs", failed, total, runs.Load())
			}
			if !retry && (failed != 1 || total != 2) {
				t.Fatalf("without retry: %d failed, sum %d", failed, total)
			}
		})
	}
}

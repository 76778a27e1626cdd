package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgproxy"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

// turnCounter is a TCP relay that counts round trips: each time the client
// sends bytes after the server has answered (or for the first time) is one
// turn. A pipelined call is one turn however many messages it holds.
type turnCounter struct {
	ln    net.Listener
	mu    sync.Mutex
	last  byte // 'c' client spoke last, 's' server
	turns int
}

func newTurnCounter(t *testing.T, target string) *turnCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tc := &turnCounter{ln: ln, last: 's'}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			go tc.pipe(c, s, 'c')
			go tc.pipe(s, c, 's')
		}
	}()
	return tc
}

func (tc *turnCounter) pipe(from, to net.Conn, side byte) {
	defer from.Close()
	defer to.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			tc.mu.Lock()
			if side == 'c' && tc.last == 's' {
				tc.turns++
			}
			tc.last = side
			tc.mu.Unlock()
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (tc *turnCounter) count() int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.turns
}

func (tc *turnCounter) port() int { return tc.ln.Addr().(*net.TCPAddr).Port }

var hostileIdentity = engine.Identity{UserID: `u'1"; DROP TABLE item; --`, TenantID: "t\\1 $1"}

// TestSingleOneRoundTrip: a warmed-up Single call as the writer role with
// an identity, read or write, is one round trip; WithTx takes more.
func TestSingleOneRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	tc := newTurnCounter(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Host = "127.0.0.1"; c.Port = tc.port(); c.Pool.MaxConns = 1 })
	ctx := context.Background()
	read := func(opts engine.TxOptions) (string, string) {
		var user, id string
		if err := db.Single(ctx, opts, func(ctx context.Context, q engine.Querier) error {
			return q.QueryRow(ctx, "SELECT current_user::text, current_setting('rls_var.user_id') FROM item WHERE id = $1 OR $1 = 0 LIMIT 1", 0).Scan(&user, &id)
		}); err != nil {
			t.Fatalf("Single read: %v", err)
		}
		return user, id
	}
	write := func(id int) {
		if err := db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: hostileIdentity}, func(ctx context.Context, q engine.Querier) error {
			tag, err := q.Exec(ctx, "INSERT INTO item (id, name) VALUES ($1, current_setting('rls_var.user_id'))", id)
			if err == nil && tag.RowsAffected() != 1 {
				err = fmt.Errorf("tag %s", tag)
			}
			return err
		}); err != nil {
			t.Fatalf("Single write: %v", err)
		}
	}
	ro := engine.TxOptions{Role: engine.RoleReader, Identity: hostileIdentity, ReadOnly: true}
	write(1) // prepares the statements on the one connection
	read(ro)
	before := tc.count()
	for i := 2; i < 7; i++ {
		write(i)
	}
	if got := tc.count() - before; got != 5 {
		t.Fatalf("5 writes took %d round trips, want 5", got)
	}
	before = tc.count()
	user, id := read(ro)
	if got := tc.count() - before; got != 1 {
		t.Fatalf("a read took %d round trips, want 1", got)
	}
	if user != e.cfg.Roles.Reader || id != hostileIdentity.UserID {
		t.Fatalf("inside the statement: current_user %q, user_id %q", user, id)
	}
	if n := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM item WHERE name = $1", hostileIdentity.UserID); n != 6 {
		t.Fatalf("%d rows written with the identity, want 6", n)
	}
	// The same work through WithTx: BEGIN batch, statement, capture, COMMIT.
	before = tc.count()
	if err := db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: hostileIdentity}, func(ctx context.Context, tx *engine.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES ($1, current_setting('rls_var.user_id'))", 100)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := tc.count() - before; got < 3 {
		t.Fatalf("WithTx took %d round trips; the counter cannot tell", got)
	}
	// The next borrower sees the login role and no identity.
	var user2 string
	var id2 *string
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		return c.QueryRow(ctx, "SELECT current_user::text, current_setting('rls_var.user_id', true)").Scan(&user2, &id2)
	}); err != nil {
		t.Fatal(err)
	}
	if user2 != e.cfg.User || (id2 != nil && *id2 != "") {
		t.Fatalf("next borrower: current_user %q, user_id %v", user2, id2)
	}
	if db.Discards() != 0 {
		t.Fatalf("%d discards", db.Discards())
	}
}

// TestSingleFailingStatement: a unique violation is a typed error in one
// round trip; nothing is written and the connection goes back clean.
func TestSingleFailingStatement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "INSERT INTO item (id, name) VALUES (1, 'first')")
	tc := newTurnCounter(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Host = "127.0.0.1"; c.Port = tc.port(); c.Pool.MaxConns = 1 })
	ctx := context.Background()
	ins := func(id int, name string) error {
		return db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: hostileIdentity}, func(ctx context.Context, q engine.Querier) error {
			var got int
			return q.QueryRow(ctx, "INSERT INTO item (id, name) VALUES ($1, $2) RETURNING id", id, name).Scan(&got)
		})
	}
	if err := ins(2, "second"); err != nil {
		t.Fatal(err)
	}
	before := tc.count()
	err := ins(1, "dup")
	if !errors.Is(err, dberr.ErrUniqueViolation) || dberr.Code(err) != "23505" {
		t.Fatalf("duplicate: %v, want a unique violation", err)
	}
	if got := tc.count() - before; got != 1 {
		t.Fatalf("the failing call took %d round trips, want 1", got)
	}
	if n := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM item WHERE name = 'dup'"); n != 0 {
		t.Fatalf("%d rows of the failed call", n)
	}
	// A statement that fails at Bind (a value the column cannot take).
	err = db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, q engine.Querier) error {
		_, err := q.Exec(ctx, "INSERT INTO item (id, name) VALUES ($1, $2)", "not a number", "x")
		return err
	})
	if err == nil {
		t.Fatal("a bad argument was accepted")
	}
	var user string
	var id, timeout *string
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		return c.QueryRow(ctx, "SELECT current_user::text, current_setting('rls_var.user_id', true), current_setting('statement_timeout')").Scan(&user, &id, &timeout)
	}); err != nil {
		t.Fatal(err)
	}
	if user != e.cfg.User || (id != nil && *id != "") {
		t.Fatalf("next borrower: current_user %q, user_id %v", user, id)
	}
	if db.Discards() != 0 {
		t.Fatalf("%d discards", db.Discards())
	}
	// The permission check holds: the reader may not write.
	err = db.Single(ctx, engine.TxOptions{Role: engine.RoleReader}, func(ctx context.Context, q engine.Querier) error {
		_, err := q.Exec(ctx, "DELETE FROM item")
		return err
	})
	if !errors.Is(err, dberr.ErrPermissionDenied) {
		t.Fatalf("reader delete: %v", err)
	}
	if n := countItems(t, e); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
}

// TestSingleCommitFails: a deferred unique constraint fails at commit,
// after the statement succeeded: in the implicit transaction the error
// comes at the Sync, with BEGIN as COMMIT's answer. Either way the call
// returns the typed violation in one round trip, once (not retried),
// nothing is written and the connection goes back clean.
func TestSingleCommitFails(t *testing.T) {
	t.Parallel()
	for _, iso := range []pgx.TxIsoLevel{"", pgx.RepeatableRead} {
		t.Run("iso="+string(iso), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine.Options{})
			pgtest.Exec(t, e.db.URL, "ALTER TABLE item ADD CONSTRAINT item_name_once UNIQUE (name) DEFERRABLE INITIALLY DEFERRED")
			pgtest.Exec(t, e.db.URL, "INSERT INTO item (id, name) VALUES (1, 'taken')")
			tc := newTurnCounter(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
			db := e.open(func(c *config.Config) { c.Host = "127.0.0.1"; c.Port = tc.port(); c.Pool.MaxConns = 1 })
			ctx := context.Background()
			opts := engine.TxOptions{Role: engine.RoleWriter, Identity: hostileIdentity, Isolation: iso, Retry: true, NoSessionState: true}
			runs := 0
			ins := func(id int, name string) (int64, error) {
				runs = 0
				var n int64
				err := db.Single(ctx, opts, func(ctx context.Context, q engine.Querier) error {
					runs++
					tag, err := q.Exec(ctx, "INSERT INTO item (id, name) VALUES ($1, $2)", id, name)
					n = tag.RowsAffected()
					return err
				})
				return n, err
			}
			if n, err := ins(2, "free"); err != nil || n != 1 {
				t.Fatalf("first insert: %d rows, %v", n, err)
			}
			backend := func() (pid int) {
				if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
					return c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid)
				}); err != nil {
					t.Fatal(err)
				}
				return pid
			}
			pid := backend()
			before := tc.count()
			_, err := ins(3, "taken")
			if !errors.Is(err, dberr.ErrUniqueViolation) || dberr.Code(err) != "23505" {
				t.Fatalf("deferred duplicate: %v, want a unique violation at commit", err)
			}
			if got := tc.count() - before; got != 1 || runs != 1 {
				t.Fatalf("the failing call took %d round trips and %d runs, want 1 and 1", got, runs)
			}
			if n := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM item WHERE id = 3"); n != 0 {
				t.Fatalf("%d rows of the failed call", n)
			}
			// Through Query: the rows read fine, and rows.Err reports the
			// commit's failure.
			var rowsErr error
			err = db.Single(ctx, opts, func(ctx context.Context, q engine.Querier) error {
				rows, err := q.Query(ctx, "INSERT INTO item (id, name) VALUES (5, 'taken') RETURNING id")
				if err != nil {
					return err
				}
				for rows.Next() {
				}
				rowsErr = rows.Err()
				return nil
			})
			if !errors.Is(err, dberr.ErrUniqueViolation) || !errors.Is(rowsErr, dberr.ErrUniqueViolation) {
				t.Fatalf("deferred duplicate through Query: %v (rows.Err: %v)", err, rowsErr)
			}
			// The connection is clean and usable: no transaction left, the
			// login role.
			var user string
			if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
				return c.QueryRow(ctx, "SELECT current_user::text").Scan(&user)
			}); err != nil || user != e.cfg.User {
				t.Fatalf("next borrower: %q, %v", user, err)
			}
			if n, err := ins(4, "other"); err != nil || n != 1 || db.Discards() != 0 {
				t.Fatalf("after the failure: %d rows, %v, %d discards", n, err, db.Discards())
			}
			if after := backend(); after != pid {
				t.Fatalf("the failed commits cost the connection: backend %d, then %d", pid, after)
			}
		})
	}
}

// TestSinglePipelineShape counts the statements a warm connection's
// Single call sends (Bind messages): the prelude and the statement with
// NoSessionState, plus the release guard's five without it; with an
// isolation level BEGIN and COMMIT come too. No call sends BEGIN or COMMIT
// otherwise. A write sends one Flush (its answers leave before the
// commit); a read, which has nothing to resolve, none.
func TestSinglePipelineShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port(); c.Pool.MaxConns = 1 })
	ctx := context.Background()
	var binds, txControl, flushes atomic.Int32
	proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
		switch {
		case m.Type == 'B':
			binds.Add(1)
		case m.Type == 'H':
			flushes.Add(1)
		case m.IsCommit(), strings.HasPrefix(parseText(m), "BEGIN"):
			txControl.Add(1)
		}
		return pgproxy.Forward
	})
	id := 0
	call := func(opts engine.TxOptions) (int32, int32, int32) {
		id++
		write := func() error {
			return db.Single(ctx, opts, func(ctx context.Context, q engine.Querier) error {
				if opts.ReadOnly {
					var n int
					return q.QueryRow(ctx, "SELECT count(*) FROM item").Scan(&n)
				}
				return insertItem(ctx, q, id)
			})
		}
		if err := write(); err != nil { // warms the connection's statements
			t.Fatal(err)
		}
		id++
		binds.Store(0)
		txControl.Store(0)
		flushes.Store(0)
		if err := write(); err != nil {
			t.Fatal(err)
		}
		if opts.ReadOnly {
			id -= 2 // wrote nothing
		}
		return binds.Load(), txControl.Load(), flushes.Load()
	}
	w := engine.TxOptions{Role: engine.RoleWriter, Identity: hostileIdentity}
	for _, tc := range []struct {
		name             string
		opts             engine.TxOptions
		binds, tx, flush int32
	}{
		{"guarded", w, 7, 0, 1},
		{"no-session-state", engine.TxOptions{Role: w.Role, Identity: w.Identity, NoSessionState: true}, 2, 0, 1},
		{"begin", engine.TxOptions{Role: w.Role, Identity: w.Identity, NoSessionState: true, Isolation: pgx.RepeatableRead}, 4, 2, 1},
		{"read", engine.TxOptions{Role: engine.RoleReader, Identity: w.Identity, NoSessionState: true, ReadOnly: true}, 2, 0, 0},
	} {
		if b, tx, f := call(tc.opts); b != tc.binds || tx != tc.tx || f != tc.flush {
			t.Errorf("%s: %d statements, %d of them BEGIN or COMMIT, %d Flush; want %d, %d and %d", tc.name, b, tx, f, tc.binds, tc.tx, tc.flush)
		}
	}
	if n := countItems(t, e); n != id {
		t.Fatalf("%d rows, want %d", n, id)
	}
}

// TestSingleResendsAfterFatal: the backend of a Single call without Retry
// is terminated while its statement runs. The server's FATAL comes before
// the statement's completion, which proves nothing committed, and fn has
// seen nothing yet: the call is sent again on a fresh connection and
// succeeds, for a write and for a read.
func TestSingleResendsAfterFatal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "CREATE TABLE knob (slow bool NOT NULL)", "INSERT INTO knob VALUES (true)",
		"GRANT SELECT ON knob TO "+quote.Ident(e.cfg.Roles.Reader)+", "+quote.Ident(e.cfg.Roles.Writer))
	db := e.open(nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const sleep = "(SELECT pg_sleep(CASE WHEN slow THEN 30 ELSE 0 END) FROM knob)"
	for _, tc := range []struct {
		name string
		opts engine.TxOptions
		sql  string
	}{
		{"write", engine.TxOptions{Role: engine.RoleWriter, NoSessionState: true},
			"INSERT INTO item (id, name) SELECT 1, 'x' FROM " + sleep + " s"},
		{"read", engine.TxOptions{Role: engine.RoleReader, ReadOnly: true, NoSessionState: true},
			"SELECT count(*) FROM item, " + sleep + " s"},
	} {
		pgtest.Exec(t, e.db.URL, "UPDATE knob SET slow = true")
		done := make(chan error, 1)
		go func() {
			done <- db.Single(ctx, tc.opts, func(ctx context.Context, q engine.Querier) error {
				_, err := q.Exec(ctx, tc.sql)
				return err
			})
		}()
		for pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()") != 1 {
			if ctx.Err() != nil {
				t.Fatalf("%s: the statement never slept", tc.name)
			}
			time.Sleep(5 * time.Millisecond)
		}
		pgtest.Exec(t, e.db.URL, "UPDATE knob SET slow = false")
		if n := pgtest.Scalar[int](t, e.db.URL, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()"); n != 1 {
			t.Fatalf("%s: terminated %d backends", tc.name, n)
		}
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
	}
	if n := countItems(t, e); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// TestSinglePreludeFails: the prelude fails (the configured reader or
// writer role does not exist): the call returns the server's typed error,
// named as the role's, and the connection goes back usable.
func TestSinglePreludeFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) {
		c.Roles.Reader = "uno no such reader"
		c.Roles.Writer = "uno no such writer"
		c.Pool.MaxConns = 1
	})
	ctx := context.Background()
	for _, opts := range []engine.TxOptions{
		{Role: engine.RoleReader, ReadOnly: true, NoSessionState: true},
		{Role: engine.RoleWriter, NoSessionState: true},
		{Role: engine.RoleWriter},
	} {
		ran := false
		err := db.Single(ctx, opts, func(ctx context.Context, q engine.Querier) error {
			ran = true
			_, err := q.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'x')")
			return err
		})
		if dberr.Code(err) != "22023" || !strings.Contains(err.Error(), "begin as "+opts.Role.String()+" role") || !ran {
			t.Fatalf("%+v: %v, want 22023 naming the role", opts, err)
		}
	}
	var user string
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		return c.QueryRow(ctx, "SELECT current_user::text").Scan(&user)
	}); err != nil || user != e.cfg.User {
		t.Fatalf("next borrower: %q, %v", user, err)
	}
	if db.Discards() != 0 || countItems(t, e) != 0 {
		t.Fatalf("%d discards, %d rows", db.Discards(), countItems(t, e))
	}
}

// TestSingleRules: one statement only; rows, no statement at all, the
// function's own error, and a call inside a transaction.
func TestSingleRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "INSERT INTO item (id, name) SELECT g, 'n' || g FROM generate_series(1, 50) g")
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 2 })
	ctx := context.Background()
	w := engine.TxOptions{Role: engine.RoleWriter}
	err := db.Single(ctx, w, func(ctx context.Context, q engine.Querier) error {
		if _, err := q.Exec(ctx, "UPDATE item SET n = 1 WHERE id = 1"); err != nil {
			return err
		}
		_, err := q.Exec(ctx, "UPDATE item SET n = 2 WHERE id = 2")
		return err
	})
	if !errors.Is(err, engine.ErrSingleStatement) {
		t.Fatalf("second statement: %v", err)
	}
	if n := pgtest.Scalar[int](t, e.db.URL, "SELECT n FROM item WHERE id = 2"); n != 0 {
		t.Fatal("the second statement ran")
	}
	if n := pgtest.Scalar[int](t, e.db.URL, "SELECT n FROM item WHERE id = 1"); n != 1 {
		t.Fatal("the first statement, committed with it, is missing")
	}
	if err := db.Single(ctx, w, func(ctx context.Context, q engine.Querier) error {
		return q.SendBatch(ctx, &pgx.Batch{}).Close()
	}); !errors.Is(err, engine.ErrSingleStatement) {
		t.Fatalf("batch: %v", err)
	}
	// Many rows, read with pgx's helpers.
	var names []string
	if err := db.Single(ctx, engine.TxOptions{Role: engine.RoleReader, ReadOnly: true}, func(ctx context.Context, q engine.Querier) error {
		rows, err := q.Query(ctx, "SELECT name FROM item ORDER BY id")
		if err != nil {
			return err
		}
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	}); err != nil || len(names) != 50 || names[49] != "n50" {
		t.Fatalf("rows: %d names, %v", len(names), err)
	}
	// Rows left open by fn are closed and the call still commits.
	if err := db.Single(ctx, w, func(ctx context.Context, q engine.Querier) error {
		_, err := q.Query(ctx, "UPDATE item SET n = 7 WHERE id <= 3 RETURNING id")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM item WHERE n = 7"); n != 3 {
		t.Fatalf("%d rows updated, want 3", n)
	}
	// No statement: nothing borrowed, fn's error returned.
	boom := errors.New("boom")
	if err := db.Single(ctx, w, func(context.Context, engine.Querier) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("fn error: %v", err)
	}
	var none int
	if err := db.Single(ctx, engine.TxOptions{ReadOnly: true}, func(ctx context.Context, q engine.Querier) error {
		return q.QueryRow(ctx, "SELECT id FROM item WHERE id = -1").Scan(&none)
	}); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("no rows: %v", err)
	}
	// Inside a transaction it joins it (and may run more statements).
	err = db.WithTx(ctx, w, func(ctx context.Context, tx *engine.Tx) error {
		for range 2 {
			if err := db.Single(ctx, w, func(ctx context.Context, q engine.Querier) error {
				_, err := q.Exec(ctx, "UPDATE item SET n = n + 1 WHERE id = 50")
				return err
			}); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if n := pgtest.Scalar[int](t, e.db.URL, "SELECT n FROM item WHERE id = 50"); n != 0 {
		t.Fatalf("the rolled back transaction's work is visible: n = %d", n)
	}
}

// TestSingleReprepares: a table change that alters a prepared statement's
// result type is handled by preparing it again.
func TestSingleReprepares(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "INSERT INTO item (id, name) VALUES (1, 'a')")
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	get := func() (map[string]any, error) {
		var m map[string]any
		err := db.Single(ctx, engine.TxOptions{Role: engine.RoleReader, ReadOnly: true}, func(ctx context.Context, q engine.Querier) error {
			rows, err := q.Query(ctx, "SELECT * FROM item WHERE id = $1", 1)
			if err != nil {
				return err
			}
			m, err = pgx.CollectOneRow(rows, pgx.RowToMap)
			return err
		})
		return m, err
	}
	if _, err := get(); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, e.db.URL, "ALTER TABLE item ADD COLUMN extra text NOT NULL DEFAULT 'new'",
		"GRANT SELECT ON item TO "+`"`+e.cfg.Roles.Reader+`"`)
	m, err := get()
	if err != nil {
		t.Fatalf("after ALTER TABLE: %v", err)
	}
	if m["extra"] != "new" {
		t.Fatalf("row %v", m)
	}
	// A hand-made DEALLOCATE ALL through a held connection drops them too.
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		_, err := c.Exec(ctx, "DEALLOCATE ALL")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := get(); err != nil {
		t.Fatalf("after DEALLOCATE ALL: %v", err)
	}
	// One statement deallocated by hand (26000 for it): the connection's
	// whole cache is dropped and closed on the server, so no statement of
	// uno's is left there that the cache no longer knows.
	for _, sql := range []string{"SELECT count(*) FROM item", "SELECT max(id) FROM item"} {
		if err := db.Single(ctx, engine.TxOptions{Role: engine.RoleReader, ReadOnly: true}, func(ctx context.Context, q engine.Querier) error {
			_, err := q.Exec(ctx, sql)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	uno := func() (n int) {
		if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
			return c.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'uno\_%'`).Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := uno(); n != 4 { // the prelude and three statements
		t.Fatalf("%d statements of uno's on the connection, want 4", n)
	}
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		var name string
		if err := c.QueryRow(ctx, "SELECT name FROM pg_prepared_statements WHERE statement = $1",
			"SELECT * FROM item WHERE id = $1").Scan(&name); err != nil {
			return err
		}
		_, err := c.Exec(ctx, "DEALLOCATE "+quote.Ident(name))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := get(); err != nil {
		t.Fatalf("after DEALLOCATE of its statement: %v", err)
	}
	if n := uno(); n != 2 { // the prelude and get's statement, prepared again
		t.Fatalf("%d statements of uno's on the connection, want 2", n)
	}
}

// TestSingleReleaseGuard: session state a statement leaves is reset, or
// the connection destroyed, before the next borrower gets it.
func TestSingleReleaseGuard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	for _, p := range []struct {
		sql     string
		discard bool
	}{
		{"SELECT set_config('search_path', 'pg_catalog', false)", false},
		{"SELECT set_config('rls_var.user_id', 'leak', false)", false},
		{"SELECT pg_advisory_lock(42)", false},
		{"LISTEN uno_channel", false},
		{"CREATE TEMP TABLE item (id int, name text, n int)", false},
		{"DECLARE c CURSOR WITH HOLD FOR SELECT 1", false},
		{"PREPARE hand AS SELECT 1", true},
		{"SET ROLE " + `"` + e.cfg.Roles.Reader + `"`, true},
	} {
		discards := db.Discards()
		if err := db.Single(ctx, engine.TxOptions{}, func(ctx context.Context, q engine.Querier) error {
			_, err := q.Exec(ctx, p.sql)
			return err
		}); err != nil {
			t.Fatalf("%s: %v", p.sql, err)
		}
		var path, user string
		var uid *string
		var locks, channels, cursors, temps int
		if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
			return c.QueryRow(ctx, "SELECT current_setting('search_path'), current_setting('rls_var.user_id', true),"+
				" current_user::text, (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),"+
				" (SELECT count(*) FROM pg_listening_channels()), (SELECT count(*) FROM pg_cursors WHERE name <> ''),"+
				" (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema())").
				Scan(&path, &uid, &user, &locks, &channels, &cursors, &temps)
		}); err != nil {
			t.Fatal(err)
		}
		if path == "pg_catalog" || (uid != nil && *uid == "leak") || user != e.cfg.User || locks+channels+cursors+temps != 0 {
			t.Fatalf("after %s: search_path %q, user_id %v, user %q, %d locks, %d channels, %d cursors, %d temp",
				p.sql, path, uid, user, locks, channels, cursors, temps)
		}
		want := discards
		if p.discard {
			want++
		}
		if db.Discards() != want {
			t.Fatalf("after %s: %d discards, want %d", p.sql, db.Discards(), want)
		}
	}
}

// TestSingleTerminated: pg_terminate_backend while the statement waits.
// The server reports the end before COMMIT could run, so the call is made
// again on a fresh connection; the row exists exactly when the call
// succeeded.
func TestSingleTerminated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	blocker, err := pgx.Connect(ctx, e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close(ctx)
	if _, err := blocker.Exec(ctx, "SELECT pg_advisory_lock(7)"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, q engine.Querier) error {
			_, err := q.Exec(ctx, "INSERT INTO item (id, name) SELECT 1, 'x' FROM (SELECT pg_advisory_xact_lock(7)) l")
			return err
		})
	}()
	var pid int
	for pid == 0 {
		_ = blocker.QueryRow(ctx, "SELECT coalesce((SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"+
			" AND query LIKE 'INSERT INTO item%' LIMIT 1), 0)").Scan(&pid)
		if ctx.Err() != nil {
			t.Fatal("the statement never waited")
		}
	}
	if _, err := blocker.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	if _, err := blocker.Exec(ctx, "SELECT pg_advisory_unlock(7)"); err != nil {
		t.Fatal(err)
	}
	err = <-done
	n := countItems(t, e)
	switch {
	case err == nil && n != 1:
		t.Fatalf("success but %d rows", n)
	case err != nil && n != 0:
		t.Fatalf("failure (%v) but %d rows", err, n)
	case err != nil && !errors.Is(err, dberr.ErrConnection):
		t.Fatalf("failure is not a connection error: %v", err)
	}
	t.Logf("after pg_terminate_backend: err %v, %d rows", err, n)
}

// commitRule answers act for the message that is the k-th of a Single
// pipeline's messages (counted from its BEGIN Parse), once.
type cutRule struct {
	k     int
	act   pgproxy.Action
	count int
	fired bool
	mu    sync.Mutex
}

func parseText(m pgproxy.Message) string {
	if m.Type != 'P' {
		return ""
	}
	_, rest, ok := bytes.Cut(m.Body, []byte{0})
	if !ok {
		return ""
	}
	q, _, _ := bytes.Cut(rest, []byte{0})
	return string(q)
}

func (r *cutRule) rule(m pgproxy.Message) pgproxy.Action {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fired {
		return pgproxy.Forward
	}
	if r.count == 0 && m.Type != 'B' && !bytes.HasPrefix([]byte(parseText(m)), []byte("BEGIN")) {
		return pgproxy.Forward // the call's pipeline starts with BEGIN or the prelude's Bind
	}
	r.count++
	if r.count == r.k {
		r.fired = true
		return r.act
	}
	return pgproxy.Forward
}

// TestSingleCutEverywhere cuts the connection before and after each
// message of the pipeline, once per call, with and without the release
// guard and with BEGIN (an isolation level), and counts: no call that
// succeeded lacks its row, no call that failed plainly left one.
// ErrCommitUnknown is allowed (the transaction id did not arrive).
func TestSingleCutEverywhere(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		opts    engine.TxOptions
		minMsgs int
	}{
		{"guarded", engine.TxOptions{Role: engine.RoleWriter, Identity: hostileIdentity}, 20},
		{"no-session-state", engine.TxOptions{Role: engine.RoleWriter, Identity: hostileIdentity, NoSessionState: true}, 6},
		{"begin", engine.TxOptions{Role: engine.RoleWriter, Identity: hostileIdentity, NoSessionState: true,
			Isolation: pgx.RepeatableRead}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cutEverywhere(t, tc.opts, tc.minMsgs)
		})
	}
}

func cutEverywhere(t *testing.T, opts engine.TxOptions, minMsgs int) {
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port(); c.Pool.MaxConns = 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var ok, failed, unknown, id int
	var msgs int
	for _, act := range []pgproxy.Action{pgproxy.CutBefore, pgproxy.CutAfter} {
		for k := 1; ; k++ {
			id++
			r := &cutRule{k: k, act: act}
			proxy.SetRule(r.rule)
			err := db.Single(ctx, opts, func(ctx context.Context, q engine.Querier) error { return insertItem(ctx, q, id) })
			present := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM item WHERE id = $1", id) == 1
			r.mu.Lock()
			fired, count := r.fired, r.count
			r.mu.Unlock()
			switch {
			case errors.Is(err, dberr.ErrCommitUnknown):
				unknown++
			case err == nil && !present:
				t.Fatalf("%v at message %d: success, row absent", act, k)
			case err != nil && present:
				t.Fatalf("%v at message %d: failure (%v), row present", act, k, err)
			case err == nil:
				ok++
			default:
				failed++
			}
			if !fired {
				msgs = count
				break
			}
		}
	}
	proxy.SetRule(nil)
	t.Logf("%d messages a pipeline; %d succeeded, %d failed, %d unknown", msgs, ok, failed, unknown)
	if msgs < minMsgs || ok == 0 || failed+unknown == 0 {
		t.Fatalf("the cuts did not cover the pipeline: %d messages", msgs)
	}
}

// TestSingleHeldCommit holds the Sync that commits the call's implicit
// transaction: the write is not visible until it is forwarded, then the
// call succeeds.
func TestSingleHeldCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var commits pgproxy.CommitPoints
	isCommit := commits.Is
	proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
		if isCommit(m) {
			return pgproxy.Hold
		}
		return pgproxy.Forward
	})
	done := make(chan error, 1)
	go func() {
		done <- db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, q engine.Querier) error {
			_, err := q.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'held')")
			return err
		})
	}()
	h := <-proxy.Held()
	if n := countItems(t, e); n != 0 {
		t.Fatalf("%d rows visible before COMMIT", n)
	}
	h.Forward()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := countItems(t, e); n != 1 {
		t.Fatalf("%d rows after COMMIT", n)
	}
}

// TestSingleCutAroundCommit holds the message that commits the call (the
// Sync of its implicit transaction, or with an isolation level the Parse
// of COMMIT) until the server has run the statement and waits for it,
// then cuts before it (the outcome is resolved as aborted and, with
// Retry, the call runs again) or after it (resolved as committed: no
// blind retry). Exactly one row exists each time.
func TestSingleCutAroundCommit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		iso      pgx.TxIsoLevel
		after    bool
		wantRuns int32
	}{
		{"before", "", false, 2},
		{"after", "", true, 1},
		{"begin-before", pgx.Serializable, false, 2},
		{"begin-after", pgx.Serializable, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine.Options{})
			proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
			app := "uno-cut-" + tc.name
			db := e.open(func(c *config.Config) { c.Port = proxy.Port(); c.ApplicationName = app })
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var commits pgproxy.CommitPoints
			isCommit := commits.Is
			if tc.iso != "" {
				// COMMIT's Execute, after its Parse.
				var parsed atomic.Bool
				isCommit = func(m pgproxy.Message) bool {
					if m.IsCommit() {
						parsed.Store(true)
					}
					return m.Type == 'E' && parsed.Load()
				}
			}
			var fired atomic.Bool
			proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
				if !fired.Load() && isCommit(m) {
					fired.Store(true)
					return pgproxy.Hold
				}
				return pgproxy.Forward
			})
			var runs atomic.Int32
			done := make(chan error, 1)
			go func() {
				opts := engine.TxOptions{Role: engine.RoleWriter, Isolation: tc.iso, Retry: true}
				done <- db.Single(ctx, opts, func(ctx context.Context, q engine.Querier) error {
					runs.Add(1)
					_, err := q.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'once')")
					return err
				})
			}()
			h := <-proxy.Held()
			// The server has run the statement, flushed its answer and
			// waits for the next message, in the transaction.
			for pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"+
				" AND backend_xid IS NOT NULL AND wait_event = 'ClientRead'", app) != 1 {
				if ctx.Err() != nil {
					t.Fatal("the server never waited for the commit")
				}
			}
			if tc.after {
				h.CutAfter()
			} else {
				h.CutBefore()
			}
			if err := <-done; err != nil {
				t.Fatalf("Single: %v", err)
			}
			if proxy.Cuts() != 1 || runs.Load() != tc.wantRuns {
				t.Fatalf("%d cuts, function ran %d times, want %d", proxy.Cuts(), runs.Load(), tc.wantRuns)
			}
			if n := countItems(t, e); n != 1 {
				t.Fatalf("%d rows, want exactly 1", n)
			}
		})
	}
}

// TestSingleStaleConnection: a connection the server closed while it sat
// in the pool is replaced before anything is sent on it, within
// Retry.MaxElapsed: with a budget already spent the call fails, typed, and
// writes nothing.
func TestSingleStaleConnection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		budget time.Duration // Retry.MaxElapsed
	}{{"replaced", 0}, {"no budget", time.Nanosecond}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine.Options{})
			db := e.open(func(c *config.Config) {
				c.Pool.MaxConns = 1
				c.ApplicationName = "uno-stale"
				if tc.budget != 0 {
					c.Retry.MaxElapsed = tc.budget
				}
			})
			ctx := context.Background()
			ins := func(id int) error {
				return db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, q engine.Querier) error { return insertItem(ctx, q, id) })
			}
			if err := ins(1); err != nil {
				t.Fatal(err)
			}
			stale := "SELECT count(%s) FROM pg_stat_activity WHERE application_name = 'uno-stale' AND datname = current_database()"
			if n := pgtest.Scalar[int](t, e.db.URL, fmt.Sprintf(stale, "pg_terminate_backend(pid)")); n != 1 {
				t.Fatalf("terminated %d backends", n)
			}
			// The terminated backend's FATAL and end of stream reach the
			// socket shortly; wait until the server no longer lists it.
			for pgtest.Scalar[int](t, e.db.URL, fmt.Sprintf(stale, "*")) != 0 {
				time.Sleep(time.Millisecond)
			}
			err := ins(2)
			want := 2
			if tc.budget == 0 {
				if err != nil {
					t.Fatalf("write on a stale connection: %v", err)
				}
			} else {
				want = 1
				if !errors.Is(err, dberr.ErrConnection) || !strings.Contains(err.Error(), "closed by the server") {
					t.Fatalf("write on a stale connection with no budget: %v, want ErrConnection", err)
				}
			}
			if n := countItems(t, e); n != want {
				t.Fatalf("%d rows, want %d", n, want)
			}
		})
	}
}

// TestSingleConnectionClosedInPool: a connection closed while it sat in
// the pool (here by a proxy, with no message from the server, as a
// load balancer or a crashed server does) is found dead by a peek before
// anything is sent on it, and replaced: the write succeeds instead of
// ending as ErrCommitUnknown.
func TestSingleConnectionClosedInPool(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port(); c.Pool.MaxConns = 1; c.ApplicationName = "uno-closed" })
	ctx := context.Background()
	ins := func(id int) error {
		return db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, q engine.Querier) error { return insertItem(ctx, q, id) })
	}
	if err := ins(1); err != nil {
		t.Fatal(err)
	}
	proxy.CutAll()
	// The proxy closed both sides; once the server has seen its side go,
	// the client's end of stream has long arrived.
	for pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'uno-closed'") != 0 {
		time.Sleep(time.Millisecond)
	}
	if err := ins(2); err != nil {
		t.Fatalf("write after the pooled connection was closed: %v", err)
	}
	if n := countItems(t, e); n != 2 {
		t.Fatalf("%d rows", n)
	}
}

// TestTxSettingsBehindPgBouncer: behind PgBouncer the schema and statement
// timeout cannot go in the startup message; every transaction, Single's
// included, sets them for itself.
func TestTxSettingsBehindPgBouncer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, `CREATE SCHEMA "app "" x"`, `GRANT USAGE ON SCHEMA "app "" x" TO "`+e.cfg.Roles.Base+`"`)
	b := pgtest.PgBouncer(t)
	host, port, err := net.SplitHostPort(b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	db := e.open(func(c *config.Config) {
		c.Host = host
		c.Port, _ = strconv.Atoi(port)
		c.Pooler = config.PoolerPgBouncer
		c.Schema = `app " x`
		c.StatementTimeout = 4321 * time.Millisecond
	})
	ctx := context.Background()
	for _, how := range []string{"WithTx", "Single"} {
		var path, timeout string
		scan := func(ctx context.Context, q engine.Querier) error {
			return q.QueryRow(ctx, "SELECT current_setting('search_path'), current_setting('statement_timeout')").Scan(&path, &timeout)
		}
		opts := engine.TxOptions{Role: engine.RoleReader, ReadOnly: true}
		if how == "WithTx" {
			err = db.WithTx(ctx, opts, func(ctx context.Context, tx *engine.Tx) error { return scan(ctx, tx) })
		} else {
			err = db.Single(ctx, opts, scan)
		}
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		if path != `"app "" x", public` || timeout != "4321ms" {
			t.Fatalf("%s: search_path %q, statement_timeout %q", how, path, timeout)
		}
	}
}

// BenchmarkGuardVariants measures, pgbench-like on one connection, what
// the release guard adds to a pipelined one-statement transaction: no
// guard (the floor), the guard as uno sends it (each reset its own
// statement), and a check-first variant (RESET ALL, then one SELECT that
// unlocks advisory locks and checks for temporary objects, channels and
// held cursors, the reset statements running only when it finds any). The
// iterations interleave the variants so load falls on all alike.
func BenchmarkGuardVariants(b *testing.B) {
	db := pgtest.NewDatabase(b)
	pgtest.Exec(b, db.URL, "CREATE TABLE item (id int PRIMARY KEY)")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	check := "SELECT session_user = current_user AND NOT EXISTS (SELECT FROM pg_prepared_statements WHERE from_sql)" +
		" FROM (SELECT pg_advisory_unlock_all()) AS unlocked"
	variants := []struct {
		name  string
		guard []string
	}{
		{"none", nil},
		{"uno", []string{"RESET ALL", "DISCARD TEMP", "UNLISTEN *", "CLOSE ALL", check}},
		{"check-first", []string{"RESET ALL", "SELECT session_user = current_user" +
			" AND NOT EXISTS (SELECT FROM pg_prepared_statements WHERE from_sql)" +
			" AND NOT EXISTS (SELECT FROM pg_class WHERE relnamespace = pg_my_temp_schema())" +
			" AND NOT EXISTS (SELECT FROM pg_listening_channels())" +
			" AND NOT EXISTS (SELECT FROM pg_cursors WHERE is_holdable)" +
			" FROM (SELECT pg_advisory_unlock_all()) AS unlocked"}},
	}
	total := make([]time.Duration, len(variants))
	n := 0
	for b.Loop() {
		n++
		for i, v := range variants {
			t0 := time.Now()
			p := conn.PgConn().StartPipeline(ctx)
			p.SendQueryParams("BEGIN READ ONLY", nil, nil, nil, nil)
			p.SendQueryParams("SELECT set_config('rls_var.user_id', $1, true)", [][]byte{[]byte("u")}, nil, nil, nil)
			p.SendQueryParams("SELECT count(*) FROM item WHERE id = $1", [][]byte{[]byte("1")}, nil, nil, nil)
			p.SendPipelineSync()
			p.SendQueryParams("COMMIT", nil, nil, nil, nil)
			p.SendPipelineSync()
			for _, g := range v.guard {
				p.SendQueryParams(g, nil, nil, nil, nil)
			}
			if len(v.guard) > 0 {
				p.SendPipelineSync()
			}
			if err := p.Flush(); err != nil {
				b.Fatal(err)
			}
			if err := p.Close(); err != nil {
				b.Fatal(err)
			}
			total[i] += time.Since(t0)
		}
	}
	for i, v := range variants {
		b.ReportMetric(float64(total[i].Nanoseconds())/float64(n), v.name+"-ns")
	}
}

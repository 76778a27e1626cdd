package engine_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"strconv"
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

// Tests for the branches of DB.SQLTx (engine/sqltx.go) its mutation run
// found untested: a BEGIN that loses its connection, a capture before
// COMMIT that fails (connection lost, or refused on a live connection), a
// COMMIT the server answers with an error, and the release guard's verdict.

// sqlQuery reports whether m is a simple query or a Parse whose text
// contains s (case-insensitively): pgx sends BEGIN as "begin …".
func sqlQuery(m pgproxy.Message, s string) bool {
	return (m.Type == 'Q' || m.Type == 'P') && bytes.Contains(bytes.ToUpper(m.Body), bytes.ToUpper([]byte(s)))
}

func sqlIsBegin(m pgproxy.Message) bool { return m.Type == 'Q' && sqlQuery(m, "begin") }

func sqlIsCapture(m pgproxy.Message) bool { return sqlQuery(m, "pg_current_xact_id_if_assigned") }

// sqlInsertItem inserts item id with name in tx.
func sqlInsertItem(ctx context.Context, tx *sql.Tx, id int, name string) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO item (id, name) VALUES ($1, $2)", id, name)
	return err
}

// TestSQLTxBeginLostRetried: the connection dies with BEGIN in flight.
// Nothing ran, so SQLTx takes another connection even without Retry, and
// the lost attempt does not count against Retry.MaxAttempts (here 1): the
// function runs once, its row is committed, and no error is returned.
func TestSQLTxBeginLostRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port(); c.Retry.MaxAttempts = 1 })
	proxy.SetRule(pgproxy.Once(sqlIsBegin, pgproxy.CutBefore))
	runs := 0
	err := db.SQLTx(context.Background(), engine.TxOptions{Role: engine.RoleWriter},
		func(ctx context.Context, tx *sql.Tx) error {
			runs++
			return sqlInsertItem(ctx, tx, 1, "once")
		})
	if err != nil {
		t.Fatalf("SQLTx after a BEGIN cut: %v, want a second connection and success", err)
	}
	if proxy.Cuts() != 1 || runs != 1 || countItems(t, e) != 1 {
		t.Fatalf("%d cuts, %d runs, %d rows; want 1, 1, 1", proxy.Cuts(), runs, countItems(t, e))
	}
}

// TestSQLTxCaptureLost: the connection dies just before the transaction id
// is captured, so COMMIT was never sent. With Retry the function runs
// again on another connection and its row is committed once; without,
// the call fails with a connection error (not an unknown outcome) and
// nothing is written.
func TestSQLTxCaptureLost(t *testing.T) {
	t.Parallel()
	for _, retry := range []bool{true, false} {
		e := newEnv(t, engine.Options{})
		proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
		db := e.open(func(c *config.Config) { c.Port = proxy.Port() })
		proxy.SetRule(pgproxy.Once(sqlIsCapture, pgproxy.CutBefore))
		runs := 0
		err := db.SQLTx(context.Background(), engine.TxOptions{Role: engine.RoleWriter, Retry: retry},
			func(ctx context.Context, tx *sql.Tx) error {
				runs++
				return sqlInsertItem(ctx, tx, 1, "once")
			})
		if proxy.Cuts() != 1 {
			t.Fatalf("retry %v: %d cuts, want 1", retry, proxy.Cuts())
		}
		if retry {
			if err != nil || runs != 2 || countItems(t, e) != 1 {
				t.Fatalf("with Retry: %v after %d runs, %d rows; want success after 2 runs, 1 row", err, runs, countItems(t, e))
			}
			continue
		}
		if !errors.Is(err, dberr.ErrConnection) || errors.Is(err, dberr.ErrCommitUnknown) || runs != 1 {
			t.Fatalf("without Retry: %v after %d runs, want ErrConnection after 1", err, runs)
		}
		if n := countItems(t, e); n != 0 {
			t.Fatalf("without Retry: %d rows, want 0", n)
		}
	}
}

// TestSQLTxCaptureRefusedLive: the capture before COMMIT is refused on a
// live connection with an error that is not a conflict (the database
// revoked pg_control_system from PUBLIC). The transaction is rolled back
// and the permission error returned after one run even with Retry; the
// connection is kept (same backend, no discard).
func TestSQLTxCaptureRefusedLive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC")
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	runs := 0
	var pid, next uint32
	err := db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Retry: true},
		func(ctx context.Context, tx *sql.Tx) error {
			runs++
			if err := tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				return err
			}
			return sqlInsertItem(ctx, tx, 1, "x")
		})
	if !errors.Is(err, dberr.ErrPermissionDenied) || pgCode(err) != "42501" || runs != 1 {
		t.Fatalf("capture refused: %v after %d runs, want 42501 (ErrPermissionDenied) after 1", err, runs)
	}
	if n := countItems(t, e); n != 0 {
		t.Fatalf("%d rows after the refused capture, want 0", n)
	}
	var user string
	if err := db.SQL().QueryRowContext(ctx, "SELECT pg_backend_pid(), current_user").Scan(&next, &user); err != nil {
		t.Fatal(err)
	}
	if next != pid || user != e.cfg.User || db.Discards() != 0 {
		t.Fatalf("next borrower: backend %d as %q (was %d), %d discards; want the same clean connection",
			next, user, pid, db.Discards())
	}
	// A read-only transaction writes nothing, so it captures nothing before
	// COMMIT: the revoke does not touch it.
	var n int
	if err := db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleReader, ReadOnly: true},
		func(ctx context.Context, tx *sql.Tx) error {
			return tx.QueryRowContext(ctx, "SELECT count(*) FROM item").Scan(&n)
		}); err != nil {
		t.Fatalf("read-only transaction on the revoked database: %v", err)
	}
}

// TestSQLTxSwallowedError: the function runs a statement that fails,
// ignores its error and returns nil. The transaction is aborted, so COMMIT
// answers ROLLBACK: SQLTx returns pgx.ErrTxCommitRollback, does not retry
// it even with Retry, and the row written before the failure is gone.
func TestSQLTxSwallowedError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	runs := 0
	err := db.SQLTx(context.Background(), engine.TxOptions{Role: engine.RoleWriter, Retry: true},
		func(ctx context.Context, tx *sql.Tx) error {
			runs++
			if err := sqlInsertItem(ctx, tx, 1, "x"); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "SELECT 1/0")
			if pgCode(err) != "22012" {
				t.Errorf("division by zero: %v, want 22012", err)
			}
			return nil
		})
	if !errors.Is(err, pgx.ErrTxCommitRollback) || runs != 1 {
		t.Fatalf("swallowed error: %v after %d runs, want pgx.ErrTxCommitRollback after 1", err, runs)
	}
	if n := countItems(t, e); n != 0 {
		t.Fatalf("%d rows, want 0", n)
	}
}

// TestSQLTxCommitAnsweredWithError: the server answers COMMIT itself with
// an error, from a deferred check. A serialization failure (40001) is
// retried with Retry, and the row of the second run is committed; a
// unique violation (23505) is returned after one run even with Retry.
func TestSQLTxCommitAnsweredWithError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	// Checked at COMMIT: a name 'conflict' fails with a serialization
	// failure, and ids are unique.
	pgtest.Exec(t, e.db.URL,
		"CREATE TABLE dfr (id int NOT NULL, name text NOT NULL,"+
			" CONSTRAINT dfr_id UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)",
		"GRANT SELECT, INSERT ON dfr TO "+quote.Ident(config.DefaultRoles(e.db.Name).Writer),
		`CREATE FUNCTION dfr_check() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.name = 'conflict' THEN
				RAISE EXCEPTION 'conflict at commit' USING ERRCODE = '40001';
			END IF;
			RETURN NULL;
		END $$`,
		"CREATE CONSTRAINT TRIGGER dfr_check AFTER INSERT ON dfr DEFERRABLE INITIALLY DEFERRED"+
			" FOR EACH ROW EXECUTE FUNCTION dfr_check()",
		"INSERT INTO dfr VALUES (1, 'taken')",
	)
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	count := func() int { return pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM dfr") }

	runs := 0
	err := db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Retry: true},
		func(ctx context.Context, tx *sql.Tx) error {
			runs++
			name := "ok"
			if runs == 1 {
				name = "conflict"
			}
			// The statement itself succeeds: the check waits for COMMIT.
			_, err := tx.ExecContext(ctx, "INSERT INTO dfr VALUES (2, $1)", name)
			return err
		})
	if err != nil || runs != 2 || count() != 2 {
		t.Fatalf("40001 at COMMIT with Retry: %v after %d runs, %d rows; want success after 2 runs, 2 rows", err, runs, count())
	}

	runs = 0
	err = db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Retry: true},
		func(ctx context.Context, tx *sql.Tx) error {
			runs++
			_, err := tx.ExecContext(ctx, "INSERT INTO dfr VALUES (1, 'again')")
			return err
		})
	if !errors.Is(err, dberr.ErrUniqueViolation) || pgCode(err) != "23505" || runs != 1 {
		t.Fatalf("23505 at COMMIT with Retry: %v after %d runs, want ErrUniqueViolation after 1", err, runs)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d rows after the refused COMMIT, want 2", n)
	}
	if db.Discards() != 0 {
		t.Fatalf("%d discards: a COMMIT refused by the server leaves the connection usable", db.Discards())
	}
}

// TestSQLTxCleanReleaseNoPing: a transaction whose connection the guard
// finds clean does not make the pool suspicious: the next borrower, right
// after, gets the connection without a ping ("-- ping" never reaches the
// server). A guard that marked the pool suspect after a clean release
// would cost every borrower a round trip for the next 5 s.
func TestSQLTxCleanReleaseNoPing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	var pings atomic.Int32
	proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
		if m.Type == 'Q' && bytes.HasPrefix(m.Body, []byte("-- ping")) {
			pings.Add(1)
		}
		return pgproxy.Forward
	})
	db := e.open(func(c *config.Config) { c.Port = proxy.Port(); c.Pool.MaxConns = 1 })
	ctx := context.Background()
	var pids [2]uint32
	run := func(i int) {
		t.Helper()
		if err := db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, tx *sql.Tx) error {
			return tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pids[i])
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The pool pings a connection idle for more than a second anyway: a
	// round slower than that proves nothing and is run again.
	for round := 0; ; round++ {
		pings.Store(0)
		start := time.Now()
		run(0)
		run(1)
		if time.Since(start) >= 900*time.Millisecond {
			if round == 20 {
				t.Fatal("every one of 21 rounds took more than 0.9 s: too slow to tell a ping the guard caused from the pool's own")
			}
			continue
		}
		if pids[0] != pids[1] {
			t.Fatalf("backends %d then %d: the pool of one did not keep the connection", pids[0], pids[1])
		}
		if n := pings.Load(); n != 0 {
			t.Fatalf("%d pings after a clean release, want 0", n)
		}
		return
	}
}

// TestSQLTxRetryBound: with Retry, a function that fails with a
// serialization failure every time runs exactly Retry.MaxAttempts times
// (here 3, with a time budget far larger than needed), and the last
// failure is returned classified; nothing is written.
func TestSQLTxRetryBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Retry.MaxAttempts = 3; c.Retry.MaxElapsed = 5 * time.Second })
	runs := 0
	err := db.SQLTx(context.Background(), engine.TxOptions{Role: engine.RoleWriter, Retry: true},
		func(ctx context.Context, tx *sql.Tx) error {
			runs++
			if err := sqlInsertItem(ctx, tx, 1, "x"); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")
			return err
		})
	if !errors.Is(err, dberr.ErrSerializationFailure) || runs != 3 {
		t.Fatalf("always 40001: %v after %d runs, want ErrSerializationFailure after 3", err, runs)
	}
	if n := countItems(t, e); n != 0 {
		t.Fatalf("%d rows, want 0", n)
	}
}

// TestSQLTxPoolTimeout: every connection of the pool is in use for longer
// than Pool.AcquireTimeout. SQLTx fails with ErrPoolTimeout (which matches
// context.DeadlineExceeded) without running the function, and works again
// once the connection comes back.
func TestSQLTxPoolTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1; c.Pool.AcquireTimeout = 100 * time.Millisecond })
	ctx := context.Background()
	hold, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Given back before the factory closes, which waits for it, should the
	// test fail while holding it.
	t.Cleanup(func() { _ = hold.Close() })
	runs := 0
	fn := func(ctx context.Context, tx *sql.Tx) error {
		runs++
		return sqlInsertItem(ctx, tx, runs, "x")
	}
	err = db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Retry: true}, fn)
	if !errors.Is(err, dberr.ErrPoolTimeout) || !errors.Is(err, context.DeadlineExceeded) || runs != 0 {
		t.Fatalf("pool exhausted: %v after %d runs, want ErrPoolTimeout and no run", err, runs)
	}
	if err := hold.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.SQLTx(ctx, engine.TxOptions{Role: engine.RoleWriter}, fn); err != nil || runs != 1 || countItems(t, e) != 1 {
		t.Fatalf("after the connection came back: %v, %d runs, %d rows", err, runs, countItems(t, e))
	}
}

// TestSQLTxConnectRefusedRetried: the server refuses the login role
// (CONNECTION LIMIT 0, SQLSTATE 53300, a transient refusal) until SQLTx
// has logged its first retry. The transaction never began, so SQLTx tries
// again even without Retry; the function runs once and its row is
// committed.
func TestSQLTxConnectRefusedRetried(t *testing.T) {
	t.Parallel()
	var lift func()
	var retries atomic.Int32
	logger := slog.New(onMessage{msg: "uno: database/sql transaction failed, retrying", fn: func() {
		if retries.Add(1) == 1 {
			lift()
		}
	}})
	e := newEnv(t, engine.Options{Logger: logger})
	login := quote.Ident(e.cfg.Roles.Login)
	lift = func() { pgtest.Exec(t, e.db.URL, "ALTER ROLE "+login+" CONNECTION LIMIT -1") }
	db := e.open(nil)
	db.Pool().Reset() // no idle connection: the borrow must connect
	pgtest.Exec(t, e.db.URL, "ALTER ROLE "+login+" CONNECTION LIMIT 0")
	runs := 0
	err := db.SQLTx(context.Background(), engine.TxOptions{Role: engine.RoleWriter},
		func(ctx context.Context, tx *sql.Tx) error {
			runs++
			return sqlInsertItem(ctx, tx, 1, "x")
		})
	if err != nil || runs != 1 || retries.Load() != 1 || countItems(t, e) != 1 {
		t.Fatalf("refused once: %v, %d runs, %d retries, %d rows; want success, 1, 1, 1",
			err, runs, retries.Load(), countItems(t, e))
	}
}

// TestSQLTxRowsOpen: the function returns nil with a *sql.Rows still open.
// The connection is busy reading them, so the transaction id cannot be
// captured before COMMIT: SQLTx rolls back and returns ErrSQLTxRowsOpen,
// once even with Retry (it is the function's mistake, not a lost
// connection), and the row the function wrote is not in the table.
func TestSQLTxRowsOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	runs := 0
	err := db.SQLTx(context.Background(), engine.TxOptions{Role: engine.RoleWriter, Retry: true},
		func(ctx context.Context, tx *sql.Tx) error {
			runs++
			if err := sqlInsertItem(ctx, tx, 1, "x"); err != nil {
				return err
			}
			rows, err := tx.QueryContext(ctx, "SELECT generate_series(1, 100000)")
			if err != nil {
				return err
			}
			if !rows.Next() {
				return rows.Err()
			}
			return nil // rows left open
		})
	if !errors.Is(err, engine.ErrSQLTxRowsOpen) || errors.Is(err, dberr.ErrConnection) || runs != 1 {
		t.Fatalf("rows left open: %v after %d runs, want ErrSQLTxRowsOpen after 1", err, runs)
	}
	if n := countItems(t, e); n != 0 {
		t.Fatalf("%d rows, want 0", n)
	}
}

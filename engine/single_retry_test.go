package engine_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

// flakySQL creates flaky(n): it raises a serialization failure (40001)
// the first n times it is called in the database (counted by the
// sequence tries, which a rollback does not undo), then returns 1.
const flakySQL = `CREATE FUNCTION flaky(n int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	IF nextval('tries') <= n THEN
		RAISE EXCEPTION 'flaky conflict' USING ERRCODE = '40001';
	END IF;
	RETURN 1;
END $$`

// TestSingleStatementRetry: a statement that fails with a serialization
// failure is run again when Retry is set (the whole call, fn included), at
// most Retry.MaxAttempts times in all, and not at all without Retry. The
// sequence counts the statement's real runs on the server.
func TestSingleStatementRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "CREATE SEQUENCE tries", flakySQL,
		"GRANT USAGE ON SEQUENCE tries TO "+quote.Ident(e.cfg.Roles.Writer))
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	restart := func() { pgtest.Exec(t, e.db.URL, "ALTER SEQUENCE tries RESTART WITH 1") }
	tries := func() int { return pgtest.Scalar[int](t, e.db.URL, "SELECT last_value FROM tries") }
	insert := func(opts engine.TxOptions, id, failures int) (calls int, err error) {
		err = db.Single(ctx, opts, func(ctx context.Context, q engine.Querier) error {
			calls++
			_, err := q.Exec(ctx, "INSERT INTO item (id, name) SELECT $1, 'x' WHERE flaky($2) = 1", id, failures)
			return err
		})
		return calls, err
	}
	for _, form := range []struct {
		name string
		opts engine.TxOptions
	}{
		{"implicit", engine.TxOptions{Role: engine.RoleWriter, NoSessionState: true}},
		{"begin", engine.TxOptions{Role: engine.RoleWriter, Isolation: pgx.ReadCommitted}},
	} {
		id := 10
		if form.opts.Isolation != "" {
			id = 20
		}
		// Two failures, then success: three runs, one row.
		restart()
		opts := form.opts
		opts.Retry = true
		calls, err := insert(opts, id, 2)
		if err != nil {
			t.Fatalf("%s: with Retry: %v", form.name, err)
		}
		if calls != 3 || tries() != 3 {
			t.Fatalf("%s: fn ran %d times, the statement %d, want 3 and 3", form.name, calls, tries())
		}
		if n := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM item WHERE id = $1", id); n != 1 {
			t.Fatalf("%s: %d rows, want 1", form.name, n)
		}
		// Always failing: MaxAttempts (4) runs, then the typed error.
		restart()
		calls, err = insert(opts, id+1, 100)
		if dberr.Code(err) != "40001" || !dberr.IsRetryableTx(err) {
			t.Fatalf("%s: always failing: %v, want the serialization failure", form.name, err)
		}
		if calls != 4 || tries() != 4 {
			t.Fatalf("%s: always failing: fn ran %d times, the statement %d, want 4 (MaxAttempts)", form.name, calls, tries())
		}
		// Without Retry: once.
		restart()
		calls, err = insert(form.opts, id+2, 1)
		if dberr.Code(err) != "40001" {
			t.Fatalf("%s: without Retry: %v, want 40001", form.name, err)
		}
		if calls != 1 || tries() != 1 {
			t.Fatalf("%s: without Retry: fn ran %d times, the statement %d, want 1", form.name, calls, tries())
		}
	}
	if n := countItems(t, e); n != 2 {
		t.Fatalf("%d rows in all, want 2", n)
	}
	// A statement the caller's deadline cancels is not run again.
	restart()
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	calls := 0
	err := db.Single(cctx, engine.TxOptions{Role: engine.RoleWriter, Retry: true}, func(ctx context.Context, q engine.Querier) error {
		calls++
		_, err := q.Exec(ctx, "INSERT INTO item (id, name) SELECT 99, 'x' FROM pg_sleep(5)")
		return err
	})
	if err == nil || calls != 1 {
		t.Fatalf("cancelled statement: %v after %d runs, want an error after 1", err, calls)
	}
	if n := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM item WHERE id = 99"); n != 0 {
		t.Fatalf("the cancelled insert left %d rows", n)
	}
}

// TestSingleFallsBackWithoutStatementCache: in the "exec" and
// "cache_describe" query modes (chosen for poolers that cannot keep
// prepared statements) Single prepares nothing on the server: it runs
// through WithTx, in more than one round trip, with the same result.
func TestSingleFallsBackWithoutStatementCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	tc := newTurnCounter(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	next := 0
	for _, mode := range []string{"exec", "cache_describe", "cache_statement"} {
		// A factory each: one factory keeps one pool per server, user and
		// database.
		f, err := engine.NewFactory(engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close(context.Background())
		cfg := e.cfg
		cfg.Host, cfg.Port, cfg.Pool.MaxConns, cfg.QueryExecMode = "127.0.0.1", tc.port(), 1, mode
		db, err := f.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		call := func() (prepared int, user string) {
			next++
			if err := db.Single(context.Background(), engine.TxOptions{Role: engine.RoleWriter, Identity: hostileIdentity},
				func(ctx context.Context, q engine.Querier) error {
					return q.QueryRow(ctx, "INSERT INTO item (id, name) VALUES ($1, 'x') RETURNING "+
						"(SELECT count(*) FROM pg_prepared_statements)::int, current_user::text", next).Scan(&prepared, &user)
				}); err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
			return prepared, user
		}
		call() // warms the connection up
		before := tc.count()
		prepared, user := call()
		turns := tc.count() - before
		if user != e.cfg.Roles.Writer {
			t.Fatalf("%s: current_user %q, want the writer", mode, user)
		}
		if mode == "cache_statement" {
			if prepared == 0 || turns != 1 {
				t.Fatalf("%s: %d statements prepared, %d round trips; want some and 1", mode, prepared, turns)
			}
		} else if prepared != 0 || turns < 2 {
			t.Fatalf("%s: %d statements prepared, %d round trips; want none and the WithTx path", mode, prepared, turns)
		}
	}
	if n := countItems(t, e); n != 6 {
		t.Fatalf("%d rows, want 6", n)
	}
}

// TestSingleFatalAtCommit: the server ends the connection after the
// statement completed, while it commits (a deferred trigger terminates
// its own backend, once). That is not proof that nothing committed: the
// call asks the server (resolve.go), which reports the transaction
// aborted, and with Retry the call runs again and succeeds.
func TestSingleFatalAtCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "CREATE SEQUENCE kills",
		"GRANT USAGE ON SEQUENCE kills TO "+quote.Ident(e.cfg.Roles.Writer),
		`CREATE FUNCTION kill_once() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
	IF nextval('kills') = 1 THEN
		PERFORM pg_terminate_backend(pg_backend_pid());
		PERFORM pg_sleep(5);
	END IF;
	RETURN NULL;
END $$`,
		"CREATE CONSTRAINT TRIGGER kill_at_commit AFTER INSERT ON item DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION kill_once()")
	db := e.open(nil)
	ctx := context.Background()
	for i, form := range []struct {
		name string
		opts engine.TxOptions
	}{
		{"implicit", engine.TxOptions{Role: engine.RoleWriter, NoSessionState: true}},
		{"begin", engine.TxOptions{Role: engine.RoleWriter, Isolation: pgx.ReadCommitted}},
	} {
		id := i + 1
		insert := func(opts engine.TxOptions) error {
			return db.Single(ctx, opts, func(ctx context.Context, q engine.Querier) error { return insertItem(ctx, q, id) })
		}
		pgtest.Exec(t, e.db.URL, "ALTER SEQUENCE kills RESTART WITH 1")
		err := insert(form.opts)
		if !errors.Is(err, dberr.ErrConnection) || !strings.Contains(err.Error(), "reports the transaction aborted") {
			t.Fatalf("%s: %v, want the connection's loss with the outcome resolved as aborted", form.name, err)
		}
		if n := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM item WHERE id = $1", id); n != 0 {
			t.Fatalf("%s: %d rows after the aborted commit", form.name, n)
		}
		pgtest.Exec(t, e.db.URL, "ALTER SEQUENCE kills RESTART WITH 1")
		opts := form.opts
		opts.Retry = true
		if err := insert(opts); err != nil {
			t.Fatalf("%s: with Retry: %v", form.name, err)
		}
		if n := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM item WHERE id = $1", id); n != 1 {
			t.Fatalf("%s: %d rows, want 1", form.name, n)
		}
	}
}

// TestCaptureFailsLive: the transaction-id capture before COMMIT fails on
// a live connection with an error that is not a conflict (here the
// database revoked pg_control_system from PUBLIC, so the login may not
// read the server's history). The transaction is rolled back, the call
// returns the typed error once even with Retry, and the connection stays
// usable.
func TestCaptureFailsLive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC")
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	calls := 0
	err := db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Retry: true}, func(ctx context.Context, tx *engine.Tx) error {
		calls++
		_, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'x')")
		return err
	})
	if !errors.Is(err, dberr.ErrPermissionDenied) || calls != 1 {
		t.Fatalf("capture refused: %v after %d runs, want the permission error after 1", err, calls)
	}
	if n := countItems(t, e); n != 0 {
		t.Fatalf("%d rows after the failed capture", n)
	}
	var user string
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		return c.QueryRow(ctx, "SELECT current_user::text").Scan(&user)
	}); err != nil || user != e.cfg.User {
		t.Fatalf("next borrower: %q, %v", user, err)
	}
	if db.Discards() != 0 {
		t.Fatalf("%d discards", db.Discards())
	}
}

// TestSingleDecodeError: a row the client cannot decode (a text scanned
// into an int) is the caller's error, not the connection's: the call runs
// once even with Retry, returns the scan error, keeps the connection, and
// a write whose statement ran is committed (COMMIT went with it, as the
// Single documentation says).
func TestSingleDecodeError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "INSERT INTO item (id, name) VALUES (1, 'one')")
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	pid := func() (p int) {
		if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
			return c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&p)
		}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	before := pid()
	for _, tc := range []struct {
		name string
		opts engine.TxOptions
		sql  string
	}{
		{"read", engine.TxOptions{Role: engine.RoleReader, ReadOnly: true, Retry: true}, "SELECT name FROM item WHERE id = 1"},
		{"write", engine.TxOptions{Role: engine.RoleWriter, Retry: true}, "INSERT INTO item (id, name) VALUES (2, 'two') RETURNING name"},
		{"write, rows", engine.TxOptions{Role: engine.RoleWriter, Retry: true, Isolation: pgx.RepeatableRead}, "INSERT INTO item (id, name) VALUES (3, 'three') RETURNING name"},
	} {
		runs := 0
		err := db.Single(ctx, tc.opts, func(ctx context.Context, q engine.Querier) error {
			runs++
			var n int
			if tc.name != "write, rows" {
				return q.QueryRow(ctx, tc.sql).Scan(&n)
			}
			rows, err := q.Query(ctx, tc.sql)
			if err != nil {
				return err
			}
			for rows.Next() {
				if err := rows.Scan(&n); err != nil {
					rows.Close()
					return err
				}
			}
			return rows.Err()
		})
		var sa pgx.ScanArgError
		if !errors.As(err, &sa) || errors.Is(err, dberr.ErrConnection) || runs != 1 {
			t.Fatalf("%s: %v after %d runs, want the scan error after 1", tc.name, err, runs)
		}
	}
	if n := countItems(t, e); n != 3 {
		t.Fatalf("%d rows, want 3 (the writes ran)", n)
	}
	if after := pid(); after != before || db.Discards() != 0 {
		t.Fatalf("backend %d then %d, %d discards: the connection was not kept", before, after, db.Discards())
	}
}

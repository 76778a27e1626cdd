package engine_test

import (
	"context"
	"errors"
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
)

// TestSingleLostAfterServerError: the server reports the call's failure
// (the statement's unique violation, the prelude's unknown role, or a
// deferred unique violation at the Sync that commits) and only then, in
// the release guard, is the connection cut. The failure decides the
// outcome: the typed server error is returned, not a connection error
// (nothing committed, there is nothing to resolve), and nothing is
// written.
func TestSingleLostAfterServerError(t *testing.T) {
	t.Parallel()
	const stmt = "INSERT INTO item (id, name) VALUES ($1, $2)"
	for _, tc := range []struct {
		name  string
		code  string
		edit  func(*config.Config)
		setup []string // run before the calls
		id    int      // the failing call's id (the warm-up uses 100)
	}{
		{"statement", "23505", nil, []string{"INSERT INTO item (id, name) VALUES (1, 'first')"}, 1},
		{"prelude", "22023", func(c *config.Config) { c.Roles.Writer = "uno no such writer" }, nil, 2},
		{"commit", "23505", nil, []string{"ALTER TABLE item ADD CONSTRAINT item_name_once UNIQUE (name) DEFERRABLE INITIALLY DEFERRED",
			"INSERT INTO item (id, name) VALUES (1, 'taken')"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine.Options{})
			if len(tc.setup) > 0 {
				pgtest.Exec(t, e.db.URL, tc.setup...)
			}
			proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
			app := "uno-lost-after-" + tc.name
			db := e.open(func(c *config.Config) {
				c.Port = proxy.Port()
				c.Pool.MaxConns = 1
				c.ApplicationName = app
				if tc.edit != nil {
					tc.edit(c)
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var runs atomic.Int32
			call := func(id int) error {
				return db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, q engine.Querier) error {
					runs.Add(1)
					_, err := q.Exec(ctx, stmt, id, "taken")
					return err
				})
			}
			// Warm-up: the connection's statements are prepared and its
			// last query is the guard's.
			if err := call(100); (err == nil) != (tc.name == "statement") {
				t.Fatalf("warm-up: %v", err)
			}
			before := countItems(t, e)
			// Hold the first message after the Sync that commits: the
			// guard's first.
			var commits pgproxy.CommitPoints
			var armed, fired atomic.Bool
			proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
				switch {
				case fired.Load():
				case armed.Load():
					fired.Store(true)
					return pgproxy.Hold
				case commits.Is(m) && m.Type == 'S':
					armed.Store(true)
				}
				return pgproxy.Forward
			})
			runs.Store(0)
			done := make(chan error, 1)
			go func() { done <- call(tc.id) }()
			h := <-proxy.Held()
			// The server answered the Sync (it is idle after the call's
			// statement or prelude) before the cut.
			for pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"+
				" AND state = 'idle' AND (query = $2 OR query LIKE 'SELECT pg_current_xact_id()%')", app, stmt) != 1 {
				if ctx.Err() != nil {
					t.Fatal("the server never answered the Sync")
				}
				time.Sleep(time.Millisecond)
			}
			h.CutBefore()
			err := <-done
			if dberr.Code(err) != tc.code || errors.Is(err, dberr.ErrConnection) || errors.Is(err, dberr.ErrCommitUnknown) {
				t.Fatalf("failure then cut: %v, want SQLSTATE %s and no connection error", err, tc.code)
			}
			if proxy.Cuts() != 1 || runs.Load() != 1 {
				t.Fatalf("%d cuts, %d runs, want 1 and 1", proxy.Cuts(), runs.Load())
			}
			if n := countItems(t, e); n != before {
				t.Fatalf("%d rows, want %d", n, before)
			}
		})
	}
}

// TestSingleReadOnlyBindError: a read-only call whose statement the server
// refuses at Bind (an argument the parameter's type cannot take) fails
// with the server's typed error at once: the error comes before the
// statement's result, with the connection alive, so it is the statement's
// failure, not a lost connection to resend on.
func TestSingleReadOnlyBindError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	for _, opts := range []engine.TxOptions{
		{Role: engine.RoleReader, ReadOnly: true},
		{Role: engine.RoleReader, ReadOnly: true, NoSessionState: true, Retry: true},
	} {
		runs := 0
		err := db.Single(ctx, opts, func(ctx context.Context, q engine.Querier) error {
			runs++
			var n int
			return q.QueryRow(ctx, "SELECT count(*) FROM item WHERE id = $1", "not a number").Scan(&n)
		})
		if dberr.Code(err) != "22P02" || errors.Is(err, dberr.ErrConnection) || runs != 1 {
			t.Fatalf("%+v: %v after %d runs, want 22P02 after 1", opts, err, runs)
		}
	}
	var n int
	if err := db.Single(ctx, engine.TxOptions{Role: engine.RoleReader, ReadOnly: true}, func(ctx context.Context, q engine.Querier) error {
		return q.QueryRow(ctx, "SELECT count(*) FROM item WHERE id = $1", 1).Scan(&n)
	}); err != nil || n != 0 {
		t.Fatalf("after the failures: %d, %v", n, err)
	}
	if db.Discards() != 0 {
		t.Fatalf("%d discards", db.Discards())
	}
}

// TestSingleRetriesLossBeforeSending: the connection is cut while the
// statement is being prepared, before the call's pipeline went out. With
// Retry the call runs again on a fresh connection and writes its row once;
// without it the call fails with a connection error and writes nothing.
func TestSingleRetriesLossBeforeSending(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port() })
	ctx := context.Background()
	for i, retry := range []bool{false, true} {
		id := i + 1
		sql := "INSERT INTO item (id, name) VALUES ($1, 'cut at prepare " + strconv.Itoa(id) + "')"
		proxy.SetRule(pgproxy.Once(func(m pgproxy.Message) bool { return parseText(m) == sql }, pgproxy.CutBefore))
		runs := 0
		err := db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter, Retry: retry}, func(ctx context.Context, q engine.Querier) error {
			runs++
			_, err := q.Exec(ctx, sql, id)
			return err
		})
		present := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM item WHERE id = $1", id)
		switch {
		case proxy.Cuts() != id:
			t.Fatalf("retry %v: %d cuts, want %d", retry, proxy.Cuts(), id)
		case retry && (err != nil || runs != 2 || present != 1):
			t.Fatalf("retry: %v after %d runs, %d rows; want success after 2 runs, 1 row", err, runs, present)
		case !retry && (!errors.Is(err, dberr.ErrConnection) || runs != 1 || present != 0):
			t.Fatalf("no retry: %v after %d runs, %d rows; want a connection error after 1 run, no row", err, runs, present)
		}
	}
}

// TestSingleTokenOnlyAfterCommit: with replicas configured, a Single write
// reads the WAL position after its commit; the read-your-writes token is
// raised by a write that committed, never by one that failed (at the
// statement or at the commit) nor by a read, in the implicit transaction
// and with BEGIN; the connection goes back clean each time.
func TestSingleTokenOnlyAfterCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "ALTER TABLE item ADD CONSTRAINT item_name_once UNIQUE (name) DEFERRABLE INITIALLY DEFERRED",
		"INSERT INTO item (id, name) VALUES (1, 'taken')")
	// The "replica" is the primary under another name: only its presence
	// matters here (Strong calls never go to a replica).
	db := e.open(func(c *config.Config) { c.Replicas.Servers = []config.Replica{{Host: "localhost"}} })
	for i, iso := range []pgx.TxIsoLevel{"", pgx.RepeatableRead} {
		ctx := engine.TrackWrites(context.Background())
		ins := func(id int, name string) error {
			return db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter, Isolation: iso}, func(ctx context.Context, q engine.Querier) error {
				_, err := q.Exec(ctx, "INSERT INTO item (id, name) VALUES ($1, $2)", id, name)
				return err
			})
		}
		if err := ins(1, "dup id"); !errors.Is(err, dberr.ErrUniqueViolation) {
			t.Fatalf("iso %q: duplicate id: %v", iso, err)
		}
		if err := ins(10+i, "taken"); !errors.Is(err, dberr.ErrUniqueViolation) {
			t.Fatalf("iso %q: duplicate name at commit: %v", iso, err)
		}
		var n int
		if err := db.Single(ctx, engine.TxOptions{Role: engine.RoleReader, ReadOnly: true, Isolation: iso}, func(ctx context.Context, q engine.Querier) error {
			return q.QueryRow(ctx, "SELECT count(*) FROM item").Scan(&n)
		}); err != nil {
			t.Fatalf("iso %q: read: %v", iso, err)
		}
		if tok := engine.TokenFromContext(ctx); !tok.IsZero() {
			t.Fatalf("iso %q: failed writes and a read raised the token to %v", iso, tok)
		}
		if err := ins(20+i, "free "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		if engine.TokenFromContext(ctx).IsZero() {
			t.Fatalf("iso %q: a committed write left the token zero", iso)
		}
	}
	if n := countItems(t, e); n != 3 || db.Discards() != 0 {
		t.Fatalf("%d rows, %d discards; want 3 and 0", n, db.Discards())
	}
}

// TestSingleScanErrorIsNotConnectionLoss: a Scan that fails on the client
// says nothing about the connection: a write whose commit the server
// refused (a deferred unique violation) returns that typed error, once,
// and is not run again as if the connection had been lost (it was, before
// singleRows kept a decode failure apart from the connection's).
func TestSingleScanErrorIsNotConnectionLoss(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "ALTER TABLE item ADD CONSTRAINT item_name_once UNIQUE (name) DEFERRABLE INITIALLY DEFERRED",
		"INSERT INTO item (id, name) VALUES (1, 'taken')")
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	runs := 0
	var scanErr error
	err := db.Single(context.Background(), engine.TxOptions{Role: engine.RoleWriter, Retry: true}, func(ctx context.Context, q engine.Querier) error {
		runs++
		var n int
		scanErr = q.QueryRow(ctx, "INSERT INTO item (id, name) VALUES (2, 'taken') RETURNING name").Scan(&n)
		return scanErr
	})
	if dberr.Code(err) != "23505" || errors.Is(err, dberr.ErrConnection) || runs != 1 {
		t.Fatalf("%v after %d runs, want the deferred unique violation (23505) after 1 run", err, runs)
	}
	// Scan's error carries both failures (singleRow.Scan joins them).
	var sa pgx.ScanArgError
	if !errors.As(scanErr, &sa) || dberr.Code(scanErr) != "23505" {
		t.Fatalf("Scan: %v, want the scan's failure and the commit's", scanErr)
	}
	if n := countItems(t, e); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// TestSingleCommitRetry: the commit itself fails with a serialization
// failure (a deferred constraint trigger raises 40001 at commit, the first
// time of each pair): with Retry the call runs again and commits, without
// it the typed error is returned after one run; in the implicit
// transaction (the error answers the Sync) and with BEGIN (it answers
// COMMIT). A call whose context has ended is not run again.
func TestSingleCommitRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "CREATE SEQUENCE commits",
		`CREATE FUNCTION flaky_commit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
	IF nextval('commits') % 2 = 1 THEN
		RAISE EXCEPTION 'flaky commit' USING ERRCODE = '40001';
	END IF;
	RETURN NULL;
END $$`,
		"CREATE CONSTRAINT TRIGGER flaky AFTER INSERT ON item DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION flaky_commit()")
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	id := 0
	for _, iso := range []pgx.TxIsoLevel{"", pgx.RepeatableRead} {
		for _, retry := range []bool{true, false} {
			id++
			runs := 0
			err := db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter, Isolation: iso, Retry: retry}, func(ctx context.Context, q engine.Querier) error {
				runs++
				return insertItem(ctx, q, id)
			})
			present := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM item WHERE id = $1", id)
			if retry && (err != nil || runs != 2 || present != 1) {
				t.Fatalf("iso %q, Retry: %v after %d runs, %d rows; want success after 2 runs", iso, err, runs, present)
			}
			if !retry {
				if dberr.Code(err) != "40001" || runs != 1 || present != 0 {
					t.Fatalf("iso %q, no Retry: %v after %d runs, %d rows; want 40001 after 1 run", iso, err, runs, present)
				}
				pgtest.Exec(t, e.db.URL, "SELECT nextval('commits')") // even again
			}
		}
	}
	// The context ends during fn (before the statement): not run again.
	id++
	cctx, cancel := context.WithCancel(ctx)
	runs := 0
	err := db.Single(cctx, engine.TxOptions{Role: engine.RoleWriter, Retry: true}, func(ctx context.Context, q engine.Querier) error {
		runs++
		err := insertItem(ctx, q, id)
		cancel()
		return err
	})
	if err == nil || runs != 1 {
		t.Fatalf("ended context: %v after %d runs, want an error after 1", err, runs)
	}
}

// TestSingleGuardFails: a statement of the release guard is refused by
// the server at Parse (the connection's callback set a search_path that
// puts a table named pg_prepared_statements, without the column the
// guard's check reads, before pg_catalog; the guard restores that
// search_path before its check). The call's write committed and it
// succeeds; the connection, whose state the guard could not check, is
// discarded as dirty, not taken for lost.
func TestSingleGuardFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{Callbacks: []engine.Callback{{Name: "search_path", Run: func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "SET search_path = uno_shadow, pg_catalog, public")
		return err
	}}}})
	pgtest.Exec(t, e.db.URL, "CREATE SCHEMA uno_shadow", "CREATE TABLE uno_shadow.pg_prepared_statements (x int)",
		"GRANT USAGE ON SCHEMA uno_shadow TO PUBLIC", "GRANT SELECT ON uno_shadow.pg_prepared_statements TO PUBLIC")
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	if n := db.Discards(); n != 0 {
		t.Fatalf("%d discards before the call", n)
	}
	if err := db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, q engine.Querier) error {
		return insertItem(ctx, q, 1)
	}); err != nil {
		t.Fatalf("write whose guard fails: %v", err)
	}
	if n := countItems(t, e); n != 1 || db.Discards() != 1 {
		t.Fatalf("%d rows, %d discards; want 1 and 1", n, db.Discards())
	}
}

// failingRewriter is a pgx.QueryRewriter that refuses to rewrite.
type failingRewriter struct{}

var errRewrite = errors.New("rewrite refused")

func (failingRewriter) RewriteQuery(context.Context, *pgx.Conn, string, []any) (string, []any, error) {
	return "", nil, errRewrite
}

// TestSingleQueryRewriter: a statement's first argument may be a
// pgx.QueryRewriter, as with WithTx: pgx.NamedArgs are rewritten and the
// row is written; a rewriter's error is returned (wrapped), nothing is
// sent, and the connection goes back to the pool usable.
func TestSingleQueryRewriter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	w := engine.TxOptions{Role: engine.RoleWriter}
	if err := db.Single(ctx, w, func(ctx context.Context, q engine.Querier) error {
		_, err := q.Exec(ctx, "INSERT INTO item (id, name) VALUES (@id, @name)", pgx.NamedArgs{"id": 1, "name": "named"})
		return err
	}); err != nil {
		t.Fatalf("named arguments: %v", err)
	}
	if n := pgtest.Scalar[int](t, e.db.URL, "SELECT count(*) FROM item WHERE id = 1 AND name = 'named'"); n != 1 {
		t.Fatalf("%d rows of the named insert", n)
	}
	err := db.Single(ctx, w, func(ctx context.Context, q engine.Querier) error {
		_, err := q.Exec(ctx, "INSERT INTO item (id, name) VALUES (2, 'x')", failingRewriter{})
		return err
	})
	if !errors.Is(err, errRewrite) {
		t.Fatalf("failing rewriter: %v", err)
	}
	if err := db.Single(ctx, w, func(ctx context.Context, q engine.Querier) error { return insertItem(ctx, q, 3) }); err != nil {
		t.Fatalf("after the rewriter's failure: %v", err)
	}
	if n := countItems(t, e); n != 2 || db.Discards() != 0 {
		t.Fatalf("%d rows, %d discards; want 2 and 0", n, db.Discards())
	}
}

// TestSingleReadOnlyLoss: a read-only call whose connection is lost.
// Cut before its statement reached the server (fn has seen nothing), it
// is sent again on a fresh connection, also without Retry, and fn runs
// once. Cut after fn read the statement's first rows but before the Sync
// was answered (a read sends no Flush, so only a result larger than the
// server's output buffer reaches fn before the Sync), it fails with a
// connection error (a read-only transaction wrote nothing, so nothing is
// unknown), which Retry runs again.
func TestSingleReadOnlyLoss(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "INSERT INTO item (id, name) VALUES (1, 'one')")
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port(); c.Pool.MaxConns = 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const one = "SELECT name FROM item WHERE id = $1"
	const many = "SELECT name FROM item, generate_series(1, 20000) WHERE id = $1"
	read := func(sql string, opts engine.TxOptions, mid func()) (string, int, error) {
		var name string
		runs := 0
		err := db.Single(ctx, opts, func(ctx context.Context, q engine.Querier) error {
			runs++
			rows, err := q.Query(ctx, sql, 1)
			if err != nil {
				return err
			}
			defer rows.Close()
			if rows.Next() {
				if err := rows.Scan(&name); err != nil {
					return err
				}
			}
			if mid != nil && runs == 1 {
				mid()
			}
			for rows.Next() {
			}
			return rows.Err()
		})
		return name, runs, err
	}
	r := engine.TxOptions{Role: engine.RoleReader, ReadOnly: true}
	if name, _, err := read(one, r, nil); err != nil || name != "one" { // warms the connection
		t.Fatalf("warm-up: %q, %v", name, err)
	}
	// (a) Cut before the statement's Bind (the pipeline's second; a new
	// connection's preparation has none), twice: the second resend waits
	// for the backoff first.
	var binds atomic.Int32
	proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
		if m.Type == 'B' {
			if n := binds.Add(1); n == 2 || n == 4 {
				return pgproxy.CutBefore
			}
		}
		return pgproxy.Forward
	})
	name, runs, err := read(one, r, nil)
	if err != nil || name != "one" || runs != 1 || proxy.Cuts() != 2 {
		t.Fatalf("cut before the statement: %q, %v after %d runs, %d cuts; want success after 1 run, 2 cuts", name, err, runs, proxy.Cuts())
	}
	if name, _, err := read(many, r, nil); err != nil || name != "one" { // prepares the large read
		t.Fatalf("large read: %q, %v", name, err)
	}
	// (b) Hold the Sync that ends the transaction; cut it once fn has rows.
	for i, retry := range []bool{false, true} {
		// The first Sync after an Execute: a fresh connection's preparing
		// round trip (Parse, Describe, Sync) is let through.
		var fired, executed atomic.Bool
		proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
			if m.Type == 'E' {
				executed.Store(true)
			}
			if !fired.Load() && m.Type == 'S' && executed.Load() {
				fired.Store(true)
				return pgproxy.Hold
			}
			return pgproxy.Forward
		})
		opts := r
		opts.Retry = retry
		name, runs, err := read(many, opts, func() { (<-proxy.Held()).CutBefore() })
		switch {
		case proxy.Cuts() != 3+i:
			t.Fatalf("retry %v: %d cuts, want %d", retry, proxy.Cuts(), 3+i)
		case retry && (err != nil || name != "one" || runs != 2):
			t.Fatalf("lost after the row, Retry: %q, %v after %d runs; want success after 2", name, err, runs)
		case !retry && (!errors.Is(err, dberr.ErrConnection) || errors.Is(err, dberr.ErrCommitUnknown) || runs != 1):
			t.Fatalf("lost after the row: %v after %d runs; want a connection error after 1", err, runs)
		}
	}
}

// traceKey carries a traced query's SQL from TraceQueryStart to
// TraceQueryEnd.
type traceKey struct{}

// endTracer records the end of every traced query: its SQL and end data.
type endTracer struct {
	mu   sync.Mutex
	ends map[string][]pgx.TraceQueryEndData
}

func (tr *endTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, d.SQL)
}

func (tr *endTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	sql, _ := ctx.Value(traceKey{}).(string)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.ends[sql] = append(tr.ends[sql], d)
}

func (tr *endTracer) take(sql string) []pgx.TraceQueryEndData {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	d := tr.ends[sql]
	delete(tr.ends, sql)
	return d
}

// TestSingleTraced: the pool's query tracer sees a Single call's statement
// (and nothing else of its pipeline: no prelude), once, and its end with
// the command tag and the call's failure: the statement's, the prelude's
// or the commit's.
func TestSingleTraced(t *testing.T) {
	t.Parallel()
	tr := &endTracer{ends: map[string][]pgx.TraceQueryEndData{}}
	e := newEnv(t, engine.Options{Tracer: tr})
	pgtest.Exec(t, e.db.URL, "ALTER TABLE item ADD CONSTRAINT item_name_once UNIQUE (name) DEFERRABLE INITIALLY DEFERRED",
		"INSERT INTO item (id, name) VALUES (1, 'taken')")
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	noWriter := e.open(func(c *config.Config) {
		c.Pool.MaxConns = 1
		c.Roles.Writer = "uno no such writer"
		c.Host = "localhost"
	})
	ctx := context.Background()
	const sql = "INSERT INTO item (id, name) VALUES ($1, $2)"
	for _, tc := range []struct {
		db   *engine.DB
		id   int
		name string
		code string // "" for success
	}{
		{db, 2, "free", ""},
		{db, 1, "dup id", "23505"},
		{db, 3, "taken", "23505"},
		{noWriter, 4, "x", "22023"},
	} {
		err := tc.db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, q engine.Querier) error {
			_, err := q.Exec(ctx, sql, tc.id, tc.name)
			return err
		})
		if dberr.Code(err) != tc.code {
			t.Fatalf("%s: %v, want %q", tc.name, err, tc.code)
		}
		ends := tr.take(sql)
		if len(ends) != 1 {
			t.Fatalf("%s: the tracer saw the statement end %d times, want 1", tc.name, len(ends))
		}
		if got := dberr.Code(ends[0].Err); got != tc.code || (tc.code == "") != (ends[0].Err == nil) {
			t.Fatalf("%s: traced error %v, want %q", tc.name, ends[0].Err, tc.code)
		}
		if tc.code == "" && ends[0].CommandTag.String() != "INSERT 0 1" {
			t.Fatalf("%s: traced tag %q", tc.name, ends[0].CommandTag)
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for q := range tr.ends {
		if strings.Contains(q, "pg_current_xact_id") {
			t.Fatalf("the tracer saw the prelude: %s", q)
		}
	}
}

// TestSingleResendBudget: a read-only call whose connection is cut before
// its statement reached the server is sent again only within
// Retry.MaxElapsed: with the budget already spent it fails with a
// connection error after one run of fn.
func TestSingleResendBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) {
		c.Port = proxy.Port()
		c.Pool.MaxConns = 1
		c.Retry.MaxElapsed = time.Nanosecond
	})
	ctx := context.Background()
	read := func() (int, error) {
		runs := 0
		err := db.Single(ctx, engine.TxOptions{Role: engine.RoleReader, ReadOnly: true}, func(ctx context.Context, q engine.Querier) error {
			runs++
			var n int
			return q.QueryRow(ctx, "SELECT count(*) FROM item").Scan(&n)
		})
		return runs, err
	}
	if _, err := read(); err != nil { // warms the connection
		t.Fatal(err)
	}
	var binds atomic.Int32
	proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
		if m.Type == 'B' && binds.Add(1) == 2 { // the statement's Bind, after the prelude's
			return pgproxy.CutBefore
		}
		return pgproxy.Forward
	})
	runs, err := read()
	if !errors.Is(err, dberr.ErrConnection) || runs != 1 || proxy.Cuts() != 1 {
		t.Fatalf("%v after %d runs, %d cuts; want a connection error after 1 run and 1 cut", err, runs, proxy.Cuts())
	}
}

// TestSingleRowsLeftOpen: fn returns without reading or closing the rows
// of its Query; Single reads them to the end itself, and a statement that
// fails after its first row (a division by zero) returns its typed error
// (DML with RETURNING fails before any row, as it runs to completion
// first: a SELECT shows this). The connection stays usable.
func TestSingleRowsLeftOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	for _, tc := range []struct {
		start int
		code  string
	}{{20, ""}, {10, "22012"}} {
		err := db.Single(ctx, engine.TxOptions{Role: engine.RoleReader, ReadOnly: true}, func(ctx context.Context, q engine.Querier) error {
			_, err := q.Query(ctx, "SELECT 10 / (11 - g) FROM generate_series($1::int, $1::int + 2) g", tc.start)
			return err
		})
		if dberr.Code(err) != tc.code || (tc.code == "") != (err == nil) {
			t.Fatalf("from %d: %v, want %q", tc.start, err, tc.code)
		}
	}
	if err := db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, q engine.Querier) error { return insertItem(ctx, q, 1) }); err != nil {
		t.Fatal(err)
	}
	if n := countItems(t, e); n != 1 || db.Discards() != 0 {
		t.Fatalf("%d rows, %d discards; want 1 and 0", n, db.Discards())
	}
}

// TestSingleNotRetried: with Retry, a call that fails before anything was
// sent for a reason other than the connection (fn's own error, or a
// statement the server refuses to prepare) runs once.
func TestSingleNotRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		fn   func(context.Context, engine.Querier) error
		ok   func(error) bool
	}{
		{"fn error", func(context.Context, engine.Querier) error { return boom }, func(err error) bool { return errors.Is(err, boom) }},
		{"syntax error", func(ctx context.Context, q engine.Querier) error {
			_, err := q.Exec(ctx, "INSERT INTO nosuchtable VALUES (1)")
			return err
		}, func(err error) bool { return dberr.Code(err) == "42P01" }},
	} {
		runs := 0
		err := db.Single(ctx, engine.TxOptions{Role: engine.RoleWriter, Retry: true}, func(ctx context.Context, q engine.Querier) error {
			runs++
			return tc.fn(ctx, q)
		})
		if !tc.ok(err) || runs != 1 {
			t.Fatalf("%s: %v after %d runs, want its error after 1", tc.name, err, runs)
		}
	}
}

// TestSingleScanErrorAlone: QueryRow's Scan fails on the client for a
// write whose commit the server then refuses (a deferred unique
// violation): Scan's error is the scan's failure, not a connection error,
// and nothing is written.
func TestSingleScanErrorAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	pgtest.Exec(t, e.db.URL, "ALTER TABLE item ADD CONSTRAINT item_name_once UNIQUE (name) DEFERRABLE INITIALLY DEFERRED",
		"INSERT INTO item (id, name) VALUES (1, 'taken')")
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	var scanErr error
	err := db.Single(context.Background(), engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, q engine.Querier) error {
		var n int
		scanErr = q.QueryRow(ctx, "INSERT INTO item (id, name) VALUES (2, 'taken') RETURNING name").Scan(&n)
		return scanErr
	})
	var sa pgx.ScanArgError
	if err == nil || !errors.As(scanErr, &sa) || errors.Is(scanErr, dberr.ErrConnection) {
		t.Fatalf("Scan: %v; Single: %v; want the scan's failure alone, and a failed call", scanErr, err)
	}
	if n := countItems(t, e); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

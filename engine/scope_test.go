package engine_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
)

func insertItem(ctx context.Context, q engine.Querier, id int) error {
	_, err := q.Exec(ctx, "INSERT INTO item (id, name) VALUES ($1, 'x')", id)
	return err
}

// TestNestedSavepoint: a nested WithTx joins the outer transaction in a
// savepoint; its failure rolls back only its own work.
func TestNestedSavepoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	ctx := context.Background()
	inner := errors.New("inner failed")
	err := db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, tx *engine.Tx) error {
		if err := insertItem(ctx, db.Querier(ctx), 1); err != nil {
			return err
		}
		// joins and commits with the outer
		if err := db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, inTx *engine.Tx) error {
			if inTx != tx {
				t.Errorf("nested call got another transaction")
			}
			return insertItem(ctx, inTx, 2)
		}); err != nil {
			return err
		}
		// fails: only its row goes
		if err := db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, inTx *engine.Tx) error {
			if err := insertItem(ctx, inTx, 3); err != nil {
				return err
			}
			return inner
		}); !errors.Is(err, inner) {
			t.Errorf("inner error lost: %v", err)
		}
		// a unique violation inside a savepoint does not poison the outer
		if err := db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, inTx *engine.Tx) error {
			return insertItem(ctx, inTx, 1)
		}); err == nil {
			t.Errorf("duplicate accepted")
		}
		// options that differ from the outer transaction are refused
		if err := db.WithTx(ctx, engine.TxOptions{Role: engine.RoleAdmin}, func(context.Context, *engine.Tx) error {
			t.Errorf("ran with another role")
			return nil
		}); !errors.Is(err, engine.ErrNestedOptions) {
			t.Errorf("role change inside a transaction: %v", err)
		}
		return insertItem(ctx, tx, 4)
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := pgtest.Scalar[string](t, e.db.URL, "SELECT string_agg(id::text, ',' ORDER BY id) FROM item")
	if ids != "1,2,4" {
		t.Fatalf("rows %s, want 1,2,4", ids)
	}
}

// TestSession: a unit of work committed or rolled back by the caller; the
// session's context makes Querier use its transaction.
func TestSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	ctx := context.Background()
	s, err := db.Begin(ctx, engine.TxOptions{Role: engine.RoleWriter})
	if err != nil {
		t.Fatal(err)
	}
	sctx := s.Context(ctx)
	if q := db.Querier(sctx); q != s.Tx() {
		t.Fatalf("Querier did not find the session's transaction")
	}
	if err := insertItem(sctx, db.Querier(sctx), 1); err != nil {
		t.Fatal(err)
	}
	if n := countItems(t, e); n != 0 {
		t.Fatalf("uncommitted row visible: %d", n)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	s.Rollback(ctx) // no-op after commit
	if n := countItems(t, e); n != 1 {
		t.Fatalf("%d rows after commit", n)
	}
	if err := s.Commit(ctx); err == nil {
		t.Fatal("second commit accepted")
	}
	s2, err := db.Begin(ctx, engine.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := insertItem(ctx, s2.Tx(), 2); err != nil {
		t.Fatal(err)
	}
	s2.Rollback(ctx)
	if n := countItems(t, e); n != 1 {
		t.Fatalf("%d rows after rollback", n)
	}
	if st := db.Stat(); st.AcquiredConns() != 0 {
		t.Fatalf("%d connections still borrowed", st.AcquiredConns())
	}
}

// TestSQLDB: the database/sql handle runs over the same pool.
func TestSQLDB(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	ctx := context.Background()
	sdb := db.SQL()
	if sdb != db.SQL() {
		t.Fatal("SQL returned another handle")
	}
	if _, err := sdb.ExecContext(ctx, "INSERT INTO item (id, name) VALUES ($1, $2)", 7, "via database/sql"); err != nil {
		t.Fatal(err)
	}
	var name, user string
	if err := sdb.QueryRowContext(ctx, "SELECT name, current_user FROM item WHERE id = $1", 7).Scan(&name, &user); err != nil {
		t.Fatal(err)
	}
	if name != "via database/sql" || user != e.cfg.User {
		t.Fatalf("got %q as %q", name, user)
	}
	if db.Connects() < 1 || db.Stat().TotalConns() < 1 {
		t.Fatal("database/sql did not use the uno pool")
	}
}

// recordingTracer counts queries, standing in for an OpenTelemetry adapter.
type recordingTracer struct {
	mu   sync.Mutex
	sqls []string
}

func (r *recordingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	r.sqls = append(r.sqls, d.SQL)
	r.mu.Unlock()
	return ctx
}

func (r *recordingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestLoggingAndTracing: a debug logger sees each query with its duration
// and no argument values; a tracer sees each query.
func TestLoggingAndTracing(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tr := &recordingTracer{}
	e := newEnv(t, engine.Options{Logger: log, Tracer: tr})
	db := e.open(nil)
	ctx := context.Background()
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		var s string
		return c.QueryRow(ctx, "SELECT $1::text", "secret-value").Scan(&s)
	}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "SELECT $1::text") || !strings.Contains(out, "duration=") {
		t.Fatalf("debug log lacks the query: %s", out)
	}
	if strings.Contains(out, "secret-value") {
		t.Fatalf("argument value logged: %s", out)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	found := false
	for _, s := range tr.sqls {
		found = found || s == "SELECT $1::text"
	}
	if !found {
		t.Fatalf("tracer missed the query: %v", tr.sqls)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestBadIdentity: claims with names that are not plain identifiers are
// refused before anything is sent.
func TestBadIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	for _, claims := range []map[string]string{
		{"Bad-Name": "x"}, {"a;b": "x"}, {"": "x"}, {"user_id": "x"}, {"ok": "nul\x00byte"},
	} {
		err := db.WithTx(context.Background(), engine.TxOptions{Identity: engine.Identity{Claims: claims}},
			func(context.Context, *engine.Tx) error { t.Fatal("ran"); return nil })
		if err == nil {
			t.Fatalf("claims %q accepted", claims)
		}
	}
	// A hostile value is just a value.
	var got string
	if err := db.WithTx(context.Background(), engine.TxOptions{Identity: engine.Identity{UserID: "'; DROP TABLE item; --"}},
		func(ctx context.Context, tx *engine.Tx) error {
			return tx.QueryRow(ctx, "SELECT current_setting('rls_var.user_id')").Scan(&got)
		}); err != nil || got != "'; DROP TABLE item; --" {
		t.Fatalf("got %q, %v", got, err)
	}
	if n := countItems(t, e); n != 0 {
		t.Fatalf("item table changed: %d", n)
	}
}

// TestScopeEndsCleanly covers the ways a function can leave its scope in
// an unexpected state: ending the transaction itself and then dirtying the
// connection, a nested failure after its context ended, and a session
// used after it ended.
func TestScopeEndsCleanly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()

	// A raw COMMIT, then a session-level role, then an error: the guard
	// still checks the connection.
	err := db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		if _, err := tx.Exec(ctx, "COMMIT"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SET ROLE "+pgx.Identifier{e.cfg.Roles.Writer}.Sanitize()); err != nil {
			return err
		}
		return errors.New("late failure")
	})
	if err == nil {
		t.Fatal("error lost")
	}
	var user string
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		return c.QueryRow(ctx, "SELECT current_user::text").Scan(&user)
	}); err != nil || user != e.cfg.Roles.Login {
		t.Fatalf("next borrower runs as %q (%v)", user, err)
	}
	if db.Discards() != 1 {
		t.Fatalf("%d discards", db.Discards())
	}

	// The inner function fails after its context ended: its insert is
	// still rolled back, though the outer transaction goes on and commits.
	err = db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		ictx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_ = db.WithTx(ictx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
			if err := insertItem(ctx, tx, 42); err != nil {
				return err
			}
			<-ctx.Done()
			return ctx.Err()
		})
		return insertItem(ctx, tx, 43)
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids := pgtest.Scalar[string](t, e.db.URL, "SELECT coalesce(string_agg(id::text, ','), '') FROM item"); ids != "43" {
		t.Fatalf("rows %q, want only 43", ids)
	}

	// A session used after it ended refuses, and so does its context.
	s, err := db.Begin(ctx, engine.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sctx := s.Context(ctx)
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tx().Exec(ctx, "SELECT 1"); !errors.Is(err, engine.ErrEnded) {
		t.Fatalf("exec after commit: %v", err)
	}
	if err := db.Querier(sctx).QueryRow(ctx, "SELECT 1").Scan(new(int)); !errors.Is(err, engine.ErrEnded) {
		t.Fatalf("query through the ended session's context: %v", err)
	}
	if err := db.WithTx(sctx, engine.TxOptions{}, func(context.Context, *engine.Tx) error { return nil }); !errors.Is(err, engine.ErrEnded) {
		t.Fatalf("nested in an ended session: %v", err)
	}
}

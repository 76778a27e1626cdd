package engine_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/identity"
	"github.com/uno-db/uno/internal/pgproxy"
	"github.com/uno-db/uno/internal/pgtest"
)

// Deterministic tests for branches of tx.go the mutation run
// (scripts/mutate) found unchecked: whether a BEGIN that failed may be
// retried, a guard that fails after a successful COMMIT or ROLLBACK, a
// ROLLBACK whose message is lost, and the savepoint statements of a
// nested WithTx failing or succeeding.

// signInRefusing installs, in e's database, a uno_sign_in whose answer the
// test steers through the one-row table signin_mode: 'ok' signs in,
// 'once:<sqlstate>' refuses the first call after it was set with that
// SQLSTATE and signs in afterwards, 'always:<sqlstate>' always refuses.
// Each call is counted in the sequence signin_calls (sequences are not
// rolled back with the refused BEGIN). It returns a DB signing identities.
func signInRefusing(t *testing.T, e *env, edit func(*config.Config)) *engine.DB {
	t.Helper()
	pgtest.Exec(t, e.db.URL,
		"CREATE TABLE signin_mode (mode text NOT NULL)",
		"INSERT INTO signin_mode VALUES ('ok')",
		"CREATE SEQUENCE signin_calls",
		`CREATE FUNCTION public.uno_sign_in(bigint, text, bytea) RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
	n bigint := nextval('signin_calls');
	m text := (SELECT mode FROM signin_mode);
BEGIN
	IF m LIKE 'always:%' OR (m LIKE 'once:%' AND n = 1) THEN
		RAISE EXCEPTION 'sign-in refused (call %)', n USING ERRCODE = split_part(m, ':', 2);
	END IF;
	RETURN true;
END $$`)
	db := e.open(edit)
	signer, err := identity.NewSigner(bytes.Repeat([]byte{9}, identity.MinSecretLen))
	if err != nil {
		t.Fatal(err)
	}
	db.SignIdentities(signer, "public")
	return db
}

// setSignIn sets the sign-in mode and restarts the call count.
func setSignIn(t *testing.T, e *env, mode string) {
	t.Helper()
	pgtest.Exec(t, e.db.URL, "UPDATE signin_mode SET mode = '"+mode+"'", "ALTER SEQUENCE signin_calls RESTART")
}

func signInCalls(t *testing.T, e *env) int {
	t.Helper()
	return pgtest.Scalar[int](t, e.db.URL, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM signin_calls")
}

// TestBeginRefusedRetry: a BEGIN the server refuses with a transient
// connection error (SQLSTATE 08006) on a live connection is retried with
// Retry, and the function then runs once; without Retry the call fails.
// A BEGIN refused for good (28000) is never retried: with Retry as
// without, one attempt and the server's error.
func TestBeginRefusedRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := signInRefusing(t, e, nil)
	ctx := context.Background()
	id := engine.Identity{TenantID: "a"}
	run := func(retry bool) (int, error) {
		runs := 0
		err := db.WithTx(ctx, engine.TxOptions{Retry: retry, Role: engine.RoleWriter, Identity: id},
			func(ctx context.Context, tx *engine.Tx) error {
				runs++
				return insertItem(ctx, tx, 100+runs)
			})
		return runs, err
	}
	setSignIn(t, e, "once:08006")
	if runs, err := run(true); err != nil || runs != 1 || signInCalls(t, e) != 2 || countItems(t, e) != 1 {
		t.Fatalf("transient refusal with Retry: %d runs, %d sign-ins, %d rows: %v", runs, signInCalls(t, e), countItems(t, e), err)
	}
	setSignIn(t, e, "once:08006")
	if runs, err := run(false); dberr.Code(err) != "08006" || runs != 0 || signInCalls(t, e) != 1 {
		t.Fatalf("transient refusal without Retry: %d runs, %d sign-ins: %v", runs, signInCalls(t, e), err)
	}
	for _, retry := range []bool{true, false} {
		setSignIn(t, e, "always:28000")
		if runs, err := run(retry); dberr.Code(err) != "28000" || runs != 0 || signInCalls(t, e) != 1 {
			t.Fatalf("lasting refusal, retry %v: %d runs, %d sign-ins: %v", retry, runs, signInCalls(t, e), err)
		}
	}
	if n := countItems(t, e); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// revokeGuardLock makes the release guard fail on e's database: the login
// role may no longer run pg_advisory_unlock_all, the guard's last
// statement.
func revokeGuardLock(t *testing.T, e *env) {
	t.Helper()
	pgtest.Exec(t, e.db.URL, "REVOKE EXECUTE ON FUNCTION pg_advisory_unlock_all() FROM PUBLIC")
}

// TestGuardFailsAfterCommit: COMMIT succeeds and the release guard sent
// with it fails (on a live connection): the call reports the commit, the
// row is there, and the connection is discarded, not pooled.
func TestGuardFailsAfterCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	revokeGuardLock(t, e)
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	err := db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		return insertItem(ctx, tx, 1)
	})
	if err != nil || countItems(t, e) != 1 || db.Discards() != 1 {
		t.Fatalf("commit with a failing guard: %v, %d rows, %d discards", err, countItems(t, e), db.Discards())
	}
	// A session commits the same way.
	s, err := db.Begin(ctx, engine.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := insertItem(ctx, s.Tx(), 2); err != nil {
		s.Rollback(ctx)
		t.Fatal(err)
	}
	if err := s.Commit(ctx); err != nil || countItems(t, e) != 2 || db.Discards() != 2 {
		t.Fatalf("session commit with a failing guard: %v, %d rows, %d discards", err, countItems(t, e), db.Discards())
	}
}

// TestGuardFailsAfterRollback: ROLLBACK succeeds and the release guard
// sent with it fails: the function's error is returned, nothing is
// written, and the connection is counted as a guard discard.
func TestGuardFailsAfterRollback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	revokeGuardLock(t, e)
	db := e.open(nil)
	boom := errors.New("boom")
	err := db.WithTx(context.Background(), engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		if err := insertItem(ctx, tx, 1); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || countItems(t, e) != 0 || db.Discards() != 1 {
		t.Fatalf("rollback with a failing guard: %v, %d rows, %d discards", err, countItems(t, e), db.Discards())
	}
}

// TestRollbackLost: the connection dies as the ROLLBACK of a failed
// function is sent (the proxy cuts it before the message): the function's
// error is returned, nothing is written, and the
// pool's next borrower gets a working connection.
func TestRollbackLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port(); c.Pool.MaxConns = 1 })
	proxy.SetRule(pgproxy.Once(func(m pgproxy.Message) bool {
		return m.Type == 'Q' && bytes.HasPrefix(m.Body, []byte("ROLLBACK"))
	}, pgproxy.CutBefore))
	boom := errors.New("boom")
	err := db.WithTx(context.Background(), engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		if err := insertItem(ctx, tx, 1); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || proxy.Cuts() != 1 || countItems(t, e) != 0 {
		t.Fatalf("rollback lost: %v, %d cuts, %d rows", err, proxy.Cuts(), countItems(t, e))
	}
	if err := db.WithTx(context.Background(), engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		return insertItem(ctx, tx, 2)
	}); err != nil || countItems(t, e) != 1 {
		t.Fatalf("after the lost rollback: %v, %d rows", err, countItems(t, e))
	}
}

// TestNestedSavepointStatementsFail: a nested function that releases its
// own savepoint by hand makes uno's RELEASE fail (SQLSTATE 3B001), which
// is reported; when it also fails, uno's ROLLBACK TO SAVEPOINT cannot undo
// its work, so the connection is closed and the outer transaction, which
// returns the inner error, writes nothing.
func TestNestedSavepointStatementsFail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	ctx := context.Background()
	releaseOwn := func(ctx context.Context, tx *engine.Tx) error {
		if err := insertItem(ctx, tx, 2); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `RELEASE SAVEPOINT "uno_sp_1"`)
		return err
	}
	var inner error
	err := db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		if err := insertItem(ctx, tx, 1); err != nil {
			return err
		}
		inner = db.WithTx(ctx, engine.TxOptions{}, releaseOwn)
		return nil
	})
	if dberr.Code(inner) != "3B001" {
		t.Fatalf("nested RELEASE of a released savepoint: %v", inner)
	}
	// The failed RELEASE left the outer transaction failed: its COMMIT
	// answers ROLLBACK.
	if !errors.Is(err, pgx.ErrTxCommitRollback) || countItems(t, e) != 0 {
		t.Fatalf("outer commit after the failed RELEASE: %v, %d rows", err, countItems(t, e))
	}

	boom := errors.New("boom")
	err = db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		if err := insertItem(ctx, tx, 1); err != nil {
			return err
		}
		inner = db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
			if err := releaseOwn(ctx, tx); err != nil {
				return err
			}
			return boom
		})
		return inner
	})
	if !errors.Is(inner, boom) || !strings.Contains(inner.Error(), "rollback to savepoint failed, transaction abandoned") {
		t.Fatalf("nested failure after releasing its savepoint: %v", inner)
	}
	if !errors.Is(err, boom) || dberr.Code(err) != "3B001" || countItems(t, e) != 0 {
		t.Fatalf("outer commit after the abandoned savepoint: %v, %d rows", err, countItems(t, e))
	}
}

// TestNestedPanicRollsBackSavepoint: a nested function that panics has its
// savepoint rolled back; an outer function that recovers the panic goes on
// in the same transaction and commits its own work only.
func TestNestedPanicRollsBackSavepoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	ctx := context.Background()
	err := db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		if err := insertItem(ctx, tx, 1); err != nil {
			return err
		}
		func() {
			defer func() {
				if p := recover(); p != "inner panic" {
					t.Errorf("recovered %v", p)
				}
			}()
			_ = db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
				if err := insertItem(ctx, tx, 2); err != nil {
					return err
				}
				panic("inner panic")
			})
		}()
		return insertItem(ctx, tx, 3)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := pgtest.Scalar[string](t, e.db.URL, "SELECT string_agg(id::text, ',' ORDER BY id) FROM item"); got != "1,3" {
		t.Fatalf("rows %q, want 1,3", got)
	}
}

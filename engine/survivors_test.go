package engine_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgproxy"
)

// Deterministic tests for the branches issue 10's mutation run found
// untested. The proxy decides each fault; nothing depends on timing.

// isCapture matches the query that records the transaction id before COMMIT.
func isCapture(m pgproxy.Message) bool {
	return m.Type == 'P' && bytes.Contains(m.Body, []byte("pg_current_xact_id_if_assigned"))
}

// TestConnectionLostBeforeCommit: the connection dies just before the
// transaction id is recorded, so COMMIT was never sent. With Retry the
// function runs again; without, the call fails with a connection error.
// Either way no row is lost or doubled.
func TestConnectionLostBeforeCommit(t *testing.T) {
	t.Parallel()
	for _, retry := range []bool{true, false} {
		e := newEnv(t, engine.Options{})
		proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
		db := e.open(func(c *config.Config) { c.Port = proxy.Port() })
		proxy.SetRule(pgproxy.Once(isCapture, pgproxy.CutBefore))
		runs := 0
		err := db.WithTx(context.Background(), engine.TxOptions{Retry: retry}, func(ctx context.Context, tx *engine.Tx) error {
			runs++
			return insertItem(ctx, tx, 1)
		})
		want, wantRuns := 1, 2
		if !retry {
			want, wantRuns = 0, 1
			if !errors.Is(err, dberr.ErrConnection) {
				t.Fatalf("without retry: %v", err)
			}
		} else if err != nil {
			t.Fatalf("with retry: %v", err)
		}
		if n := countItems(t, e); n != want || runs != wantRuns || proxy.Cuts() != 1 {
			t.Fatalf("retry %v: %d rows after %d runs, %d cuts", retry, n, runs, proxy.Cuts())
		}
	}
}

// TestNestedIdentityRefused: a nested WithTx may repeat the outer identity
// or ask for none, never another one, tenant-only included.
func TestNestedIdentityRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	outer := engine.Identity{TenantID: "a"}
	err := db.WithTx(context.Background(), engine.TxOptions{Identity: outer}, func(ctx context.Context, tx *engine.Tx) error {
		for _, inner := range []engine.Identity{{TenantID: "b"}, {TenantID: "a", UserID: "u"}, {UserID: "u"},
			{TenantID: "a", Claims: map[string]string{"org": "x"}}} {
			err := db.WithTx(ctx, engine.TxOptions{Identity: inner}, func(context.Context, *engine.Tx) error {
				t.Errorf("inner %+v ran", inner)
				return nil
			})
			if !errors.Is(err, engine.ErrNestedOptions) {
				t.Errorf("inner %+v: %v", inner, err)
			}
		}
		for _, inner := range []engine.Identity{{}, {TenantID: "a"}} {
			var tenant string
			if err := db.WithTx(ctx, engine.TxOptions{Identity: inner}, func(ctx context.Context, tx *engine.Tx) error {
				return tx.QueryRow(ctx, "SELECT current_setting('rls_var.tenant_id')").Scan(&tenant)
			}); err != nil || tenant != "a" {
				t.Errorf("inner %+v: tenant %q, %v", inner, tenant, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSeveralClaims: every claim of an identity is set, each under its own
// name, for the transaction only.
func TestSeveralClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	claims := map[string]string{"org": "acme", "dept": "r&d", "zone": "eu", "a1": "'quoted'"}
	var got string
	err := db.WithTx(context.Background(), engine.TxOptions{Identity: engine.Identity{Claims: claims}},
		func(ctx context.Context, tx *engine.Tx) error {
			return tx.QueryRow(ctx, "SELECT concat_ws('|', current_setting('rls_var.a1'), current_setting('rls_var.dept'),"+
				" current_setting('rls_var.org'), current_setting('rls_var.zone'))").Scan(&got)
		})
	if err != nil || got != "'quoted'|r&d|acme|eu" {
		t.Fatalf("got %q, %v", got, err)
	}
	if err := db.WithConn(context.Background(), func(ctx context.Context, c *engine.Conn) error {
		return c.QueryRow(ctx, "SELECT concat(current_setting('rls_var.org', true), current_setting('rls_var.zone', true))").Scan(&got)
	}); err != nil || got != "" {
		t.Fatalf("after the transaction: %q, %v", got, err)
	}
}

// isBegin matches the message that starts a transaction.
func isBegin(m pgproxy.Message) bool {
	return (m.Type == 'Q' || m.Type == 'P') && bytes.Contains(m.Body, []byte("BEGIN"))
}

// TestBeginRetryBound: every BEGIN loses its connection. begin replaces the
// connection, with backoff, until Retry.MaxElapsed, then fails with a
// connection error; the function never runs.
func TestBeginRetryBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port(); c.Retry.MaxElapsed = 3 * time.Second })
	proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
		if isBegin(m) {
			return pgproxy.CutBefore
		}
		return pgproxy.Forward
	})
	err := db.WithTx(context.Background(), engine.TxOptions{}, func(context.Context, *engine.Tx) error {
		t.Error("function ran")
		return nil
	})
	if !errors.Is(err, dberr.ErrConnection) || !strings.Contains(err.Error(), "connection lost at BEGIN") {
		t.Fatalf("got %v", err)
	}
	cuts := proxy.Cuts()
	if cuts < 2 {
		t.Fatalf("BEGIN tried %d times", cuts)
	}
	// With Retry the whole call is retried too, within the same budget.
	err = db.WithTx(context.Background(), engine.TxOptions{Retry: true}, func(context.Context, *engine.Tx) error {
		t.Error("function ran")
		return nil
	})
	if !errors.Is(err, dberr.ErrConnection) || proxy.Cuts() < cuts+2 {
		t.Fatalf("got %v after %d more cuts", err, proxy.Cuts()-cuts)
	}
	// Once BEGIN goes through, the same DB works.
	proxy.SetRule(nil)
	if err := db.WithTx(context.Background(), engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		return insertItem(ctx, tx, 1)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestPoolTimeout: a borrow from an exhausted pool (one connection, held
// by another borrower) fails with dberr.ErrPoolTimeout, which still matches
// context.DeadlineExceeded, when uno's Pool.AcquireTimeout strikes; when
// the caller's own context ends first (deadline or cancellation), the error
// matches the caller's context error and is no ErrPoolTimeout.
func TestPoolTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1; c.Pool.AcquireTimeout = 2 * time.Second })
	ctx := context.Background()
	hold := make(chan struct{})
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(hold) }) }) // also when the test fails
	held := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.WithConn(ctx, func(context.Context, *engine.Conn) error {
			close(held)
			<-hold
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("first borrow: %v", err)
	}
	// uno's own wait limit, with a caller's deadline far beyond it.
	lctx, lcancel := context.WithTimeout(ctx, time.Hour)
	defer lcancel()
	err := db.WithConn(lctx, func(context.Context, *engine.Conn) error { return nil })
	if !errors.Is(err, dberr.ErrPoolTimeout) || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "AcquireTimeout") || !strings.Contains(err.Error(), "all 1 connections stayed in use") {
		t.Fatalf("pool timeout: %v", err)
	}
	// The caller's deadline, shorter than AcquireTimeout.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = db.WithTx(cctx, engine.TxOptions{}, func(context.Context, *engine.Tx) error { return nil })
	if errors.Is(err, dberr.ErrPoolTimeout) || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "caller's context") || strings.Count(err.Error(), context.DeadlineExceeded.Error()) != 1 {
		t.Fatalf("caller's deadline: %v", err)
	}
	// The caller cancels while the borrow waits (or before it starts: the
	// pool stays held either way, so the outcome is the same).
	kctx, kcancel := context.WithCancel(ctx)
	stop := time.AfterFunc(50*time.Millisecond, kcancel)
	defer stop.Stop()
	err = db.WithConn(kctx, func(context.Context, *engine.Conn) error { return nil })
	if errors.Is(err, dberr.ErrPoolTimeout) || !errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "caller's context") {
		t.Fatalf("caller's cancellation: %v", err)
	}
	// Already canceled before the borrow.
	err = db.WithConn(kctx, func(context.Context, *engine.Conn) error { return nil })
	if errors.Is(err, dberr.ErrPoolTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled before the borrow: %v", err)
	}
	release.Do(func() { close(hold) })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The pool serves again.
	if err := db.WithConn(ctx, func(context.Context, *engine.Conn) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestContextEndsDuringBegin: the caller's context ends while BEGIN is on
// its way; the error says so, and names no role problem.
func TestContextEndsDuringBegin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port() })
	var once atomic.Bool
	proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
		if isBegin(m) && once.CompareAndSwap(false, true) {
			return pgproxy.Hold
		}
		return pgproxy.Forward
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(context.Context, *engine.Tx) error {
			t.Error("function ran")
			return nil
		})
	}()
	held := <-proxy.Held()
	cancel()
	err := <-done
	held.CutBefore()
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "context ended before the transaction started") ||
		strings.Contains(err.Error(), "role") {
		t.Fatalf("got %v", err)
	}
}

package engine_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
)

// Tests for branches of tx.go the mutation run (scripts/mutate) found
// unchecked: claim names at the edges of their alphabet, NUL bytes at the
// first position, the exact retry bound, nested isolation, and a
// connection handed back inside a failed transaction.

// TestClaimNameEdges: a claim name may hold digits but not start with one;
// a value or identity field may not hold a NUL byte, also as its first
// byte. Accepted claims reach the server.
func TestClaimNameEdges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	ctx := context.Background()
	for _, name := range []string{"org0", "org9", "a_0"} {
		var got string
		err := db.WithTx(ctx, engine.TxOptions{Identity: engine.Identity{Claims: map[string]string{name: "v-" + name}}},
			func(ctx context.Context, tx *engine.Tx) error {
				return tx.QueryRow(ctx, "SELECT current_setting($1)", engine.SettingPrefix+name).Scan(&got)
			})
		if err != nil || got != "v-"+name {
			t.Errorf("claim %q: %q, %v", name, got, err)
		}
	}
	// Refused by uno itself, before anything reaches the server (which
	// would refuse them too, with another message).
	for _, tc := range []struct {
		id   engine.Identity
		want string
	}{
		{engine.Identity{Claims: map[string]string{"0org": "x"}}, "names are lower-case letters"},
		{engine.Identity{Claims: map[string]string{"9org": "x"}}, "names are lower-case letters"},
		{engine.Identity{Claims: map[string]string{"org": "\x00x"}}, "NUL byte"},
		{engine.Identity{UserID: "\x00u"}, "NUL byte"},
		{engine.Identity{TenantID: "t\x00"}, "NUL byte"},
	} {
		err := db.WithTx(ctx, engine.TxOptions{Identity: tc.id}, func(context.Context, *engine.Tx) error {
			t.Errorf("%#v: function ran", tc.id)
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%#v: %v, want an error saying %q", tc.id, err, tc.want)
		}
	}
}

// TestRetryBoundExact: a function that always fails with a serialization
// failure runs exactly Retry.MaxAttempts times, with a retry logged
// between runs; a transaction that fails before its function runs (a bad
// identity) is not retried at all.
func TestRetryBoundExact(t *testing.T) {
	t.Parallel()
	var retries atomic.Int32
	logger := slog.New(onMessage{msg: "uno: transaction failed, retrying", fn: func() { retries.Add(1) }})
	e := newEnv(t, engine.Options{Logger: logger})
	db := e.open(func(c *config.Config) { c.Retry.MaxAttempts = 3 })
	ctx := context.Background()
	runs := 0
	err := db.WithTx(ctx, engine.TxOptions{Retry: true}, func(ctx context.Context, tx *engine.Tx) error {
		runs++
		_, err := tx.Exec(ctx, "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")
		return err
	})
	if !errors.Is(err, dberr.ErrSerializationFailure) || runs != 3 || retries.Load() != 2 {
		t.Fatalf("%d runs, %d retries: %v", runs, retries.Load(), err)
	}
	retries.Store(0)
	err = db.WithTx(ctx, engine.TxOptions{Retry: true, Identity: engine.Identity{Claims: map[string]string{"Bad": "x"}}},
		func(context.Context, *engine.Tx) error {
			t.Error("function ran")
			return nil
		})
	if err == nil || retries.Load() != 0 {
		t.Fatalf("bad identity: %d retries: %v", retries.Load(), err)
	}
}

// TestNestedIsolation: inside a SERIALIZABLE transaction, a nested WithTx
// may leave the isolation out or repeat it, never ask for another.
func TestNestedIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(nil)
	err := db.WithTx(context.Background(), engine.TxOptions{Isolation: pgx.Serializable}, func(ctx context.Context, tx *engine.Tx) error {
		for _, iso := range []pgx.TxIsoLevel{"", pgx.Serializable} {
			var level string
			if err := db.WithTx(ctx, engine.TxOptions{Isolation: iso}, func(ctx context.Context, tx *engine.Tx) error {
				return tx.QueryRow(ctx, "SHOW transaction_isolation").Scan(&level)
			}); err != nil || level != "serializable" {
				t.Errorf("nested %q: %q, %v", iso, level, err)
			}
		}
		err := db.WithTx(ctx, engine.TxOptions{Isolation: pgx.ReadCommitted}, func(context.Context, *engine.Tx) error {
			t.Error("nested read committed ran")
			return nil
		})
		if !errors.Is(err, engine.ErrNestedOptions) || !strings.Contains(err.Error(), "isolation") {
			t.Errorf("nested read committed: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConnLeftInFailedTransaction: a WithConn function that opens a
// transaction by hand and leaves it failed hands back a connection the
// pool destroys; the release guard does not run on it, so it is not
// counted as a guard discard, and the next borrower gets a clean
// connection outside any transaction.
func TestConnLeftInFailedTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	db := e.open(func(c *config.Config) { c.Pool.MaxConns = 1 })
	ctx := context.Background()
	err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		if _, err := c.Exec(ctx, "BEGIN"); err != nil {
			return err
		}
		_, _ = c.Exec(ctx, "SELECT 1/0") // swallowed: the transaction is failed
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := db.Discards(); d != 0 {
		t.Fatalf("%d guard discards for a connection left in a transaction", d)
	}
	var status byte
	var n int
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		status = c.Raw().PgConn().TxStatus()
		return c.QueryRow(ctx, "SELECT 1").Scan(&n)
	}); err != nil || status != 'I' || n != 1 {
		t.Fatalf("next borrower: transaction status %q, %v", status, err)
	}
}

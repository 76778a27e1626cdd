package engine_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgcluster"
	"github.com/uno-db/uno/internal/pgproxy"
	"github.com/uno-db/uno/internal/pgtest"
)

// crashCluster starts a private cluster with durable commits (the shared
// test cluster runs synchronous_commit=off), a table item and a DB that
// reaches it through a proxy.
func crashCluster(t *testing.T, edit func(*config.Config)) (*pgcluster.Cluster, *pgproxy.Proxy, *engine.DB) {
	t.Helper()
	c, err := pgcluster.NewWith(pgcluster.Options{Settings: []string{"synchronous_commit=on", "wal_writer_delay=10s"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Destroy)
	pgtest.Exec(t, c.URL("postgres"), "CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL, n int NOT NULL DEFAULT 0)")
	proxy := newProxy(t, "127.0.0.1:"+strconv.Itoa(c.Port()))
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	cfg := config.Config{Host: proxy.Host(), Port: proxy.Port(), Database: "postgres", User: "postgres", SSLMode: "disable",
		ConnectTimeout: 2 * time.Second,
		Retry:          config.Retry{InitialDelay: 5 * time.Millisecond, MaxDelay: 100 * time.Millisecond, ResolveBudget: 30 * time.Second}}
	if edit != nil {
		edit(&cfg)
	}
	db, err := f.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, proxy, db
}

// heldXid returns the transaction id of the one backend idle in a
// transaction, seen from a direct superuser connection.
func heldXid(t *testing.T, c *pgcluster.Cluster) uint64 {
	t.Helper()
	s := pgtest.Scalar[string](t, c.URL("postgres"),
		"SELECT backend_xid::text FROM pg_stat_activity WHERE state = 'idle in transaction' AND backend_xid IS NOT NULL")
	x, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// reuseXid commits, on a direct connection, transactions until one gets
// transaction id xid (the server's counter went back below it in the
// crash); that one inserts item 2.
func reuseXid(t *testing.T, c *pgcluster.Cluster, xid uint64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got uint64
		if err := tx.QueryRow(ctx, "SELECT pg_current_xact_id()::text::bigint").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got > xid {
			t.Fatalf("setup: the server issues id %d, above the lost id %d: the crash did not lose it", got, xid)
		}
		if got == xid {
			if _, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (2, 'reused the id')"); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if got == xid {
			return
		}
	}
}

// TestCommitResolutionAfterCrash reproduces issue 10's first defect: the
// connection is lost with COMMIT in flight, the server crashes before the
// COMMIT reaches it, another transaction gets the same id after recovery
// and commits. pg_xact_status then says "committed" about the other
// transaction. WithTx must not report success: the row is not there.
func TestCommitResolutionAfterCrash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		checkpoint bool // a checkpoint after recovery, started after the capture, proves the reuse
	}{
		{"no proof", false},
		{"checkpoint proves the reuse", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, proxy, db := crashCluster(t, nil)
			proxy.SetRule(pgproxy.Once(pgproxy.Message.IsCommit, pgproxy.Hold))
			var runs atomic.Int32
			done := make(chan error, 1)
			go func() {
				done <- db.WithTx(context.Background(), engine.TxOptions{Retry: tc.checkpoint},
					func(ctx context.Context, tx *engine.Tx) error {
						if runs.Add(1) > 1 {
							_, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (3, 'rerun')")
							return err
						}
						_, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'lost')")
						return err
					})
			}()
			held := <-proxy.Held()
			xid := heldXid(t, c)
			captured := pgtest.Scalar[time.Time](t, c.URL("postgres"), "SELECT clock_timestamp()")
			if err := c.Restart(pgcluster.Immediate); err != nil {
				t.Fatal(err)
			}
			if tc.checkpoint {
				// The checkpoint must start in a later second than the
				// capture (checkpoint times have whole seconds).
				for pgtest.Scalar[bool](t, c.URL("postgres"), "SELECT date_trunc('second', clock_timestamp()) <= $1", captured) {
					time.Sleep(50 * time.Millisecond)
				}
				pgtest.Exec(t, c.URL("postgres"), "CHECKPOINT")
			}
			reuseXid(t, c, xid)
			// Only now does the client see its connection end.
			held.CutBefore()
			err := <-done
			rows := pgtest.Scalar[string](t, c.URL("postgres"), "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM item")
			if tc.checkpoint {
				// Proved aborted: the function ran again, once.
				if err != nil || runs.Load() != 2 || rows != "2,3" {
					t.Fatalf("got %v after %d runs, rows %q; want success after 2 runs and rows 2,3", err, runs.Load(), rows)
				}
				return
			}
			if err == nil {
				t.Fatalf("WithTx reported success; rows %q", rows)
			}
			if !errors.Is(err, dberr.ErrCommitUnknown) && !errors.Is(err, dberr.ErrConnection) {
				t.Fatalf("got %v", err)
			}
			if rows != "2" {
				t.Fatalf("rows %q, want only the other transaction's row 2", rows)
			}
		})
	}
}

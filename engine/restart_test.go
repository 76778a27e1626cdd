package engine_test

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgcluster"
	"github.com/uno-db/uno/internal/pgproxy"
	"github.com/uno-db/uno/internal/pgtest"
)

// TestRetryRidesFastRestart: 16 writers with Retry and the default retry
// policy; the server is restarted with pg_ctl restart -m fast in the
// middle. No call fails, and the table holds exactly the acknowledged rows.
func TestRetryRidesFastRestart(t *testing.T) {
	t.Parallel()
	c, err := pgcluster.NewWith(pgcluster.Options{Settings: []string{"synchronous_commit=on"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Destroy)
	pgtest.Exec(t, c.URL("postgres"), "CREATE TABLE w (writer int, seq int, PRIMARY KEY (writer, seq))")
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	db, err := f.Open(context.Background(), config.Config{Host: "127.0.0.1", Port: c.Port(), Database: "postgres",
		User: "postgres", SSLMode: "disable"})
	if err != nil {
		t.Fatal(err)
	}
	var acked, failed atomic.Int64
	var firstErr atomic.Value
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; !stop.Load(); seq++ {
				err := db.WithTx(context.Background(), engine.TxOptions{Retry: true}, func(ctx context.Context, tx *engine.Tx) error {
					_, err := tx.Exec(ctx, "INSERT INTO w (writer, seq) VALUES ($1, $2)", w, seq)
					return err
				})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				acked.Add(1)
			}
		}()
	}
	waitFor := func(n int64) {
		for acked.Load() < n && failed.Load() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(200)
	if err := c.Restart(pgcluster.Fast); err != nil {
		stop.Store(true)
		wg.Wait()
		t.Fatal(err)
	}
	after := acked.Load()
	waitFor(after + 200)
	stop.Store(true)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed; first: %v", failed.Load(), firstErr.Load())
	}
	rows := pgtest.Scalar[int64](t, c.URL("postgres"), "SELECT count(*) FROM w")
	if rows != acked.Load() {
		t.Fatalf("%d rows, %d acknowledged", rows, acked.Load())
	}
}

// TestResolveRetriesLookup: the connection is lost after COMMIT reached the
// server, and the first three lookups of the outcome lose their connection
// too. The lookup keeps trying and finds the commit.
func TestResolveRetriesLookup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port() })
	var lookups atomic.Int32
	var commits atomic.Int32
	proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
		if m.IsCommit() && commits.Add(1) == 1 {
			return pgproxy.CutAfter
		}
		if m.Type == 'P' && bytes.Contains(m.Body, []byte("pg_control_checkpoint")) && lookups.Add(1) <= 3 {
			return pgproxy.CutBefore
		}
		return pgproxy.Forward
	})
	var runs int
	err := db.WithTx(context.Background(), engine.TxOptions{Retry: true}, func(ctx context.Context, tx *engine.Tx) error {
		runs++
		_, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'x')")
		return err
	})
	if err != nil || runs != 1 || lookups.Load() != 4 {
		t.Fatalf("got %v after %d runs and %d lookups", err, runs, lookups.Load())
	}
	if n := countItems(t, e); n != 1 {
		t.Fatalf("%d rows", n)
	}
}

// TestResolveRidesServerDown: the server stops between the lost COMMIT and
// the lookup, and comes back; the lookup waits for it.
func TestResolveRidesServerDown(t *testing.T) {
	t.Parallel()
	c, proxy, db := crashCluster(t, nil)
	var commits atomic.Int32
	var lookups atomic.Int32
	proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
		if m.IsCommit() && commits.Add(1) == 1 {
			return pgproxy.CutAfter
		}
		if m.Type == 'P' && bytes.Contains(m.Body, []byte("pg_control_checkpoint")) && lookups.Add(1) == 1 {
			return pgproxy.Hold
		}
		return pgproxy.Forward
	})
	done := make(chan error, 1)
	go func() {
		done <- db.WithTx(context.Background(), engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'x')")
			return err
		})
	}()
	held := <-proxy.Held()
	if err := c.StopMode(pgcluster.Fast); err != nil {
		t.Fatal(err)
	}
	held.CutBefore()
	// The lookup now meets a server that refuses connections.
	time.Sleep(300 * time.Millisecond)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("WithTx: %v", err)
	}
	if n := pgtest.Scalar[int](t, c.URL("postgres"), "SELECT count(*) FROM item"); n != 1 || lookups.Load() < 2 {
		t.Fatalf("%d rows after %d lookups", n, lookups.Load())
	}
}

package replicatest_test

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/repo"
)

// tripCounter is a TCP relay in front of a server that counts round
// trips: each time a connection's client sends after the server last
// spoke (or first), one more. Pipelined messages sent before any answer
// count once.
type tripCounter struct {
	ln       net.Listener
	trips    atomic.Int64
	accepted atomic.Int64 // connections accepted
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func newTripCounter(t testing.TB, target string) *tripCounter {
	t.Helper()
	return newTripCounterAt(t, "127.0.0.1:0", target)
}

// newTripCounterAt is newTripCounter listening on addr.
func newTripCounterAt(t testing.TB, addr, target string) *tripCounter {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &tripCounter{ln: ln}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			c.accepted.Add(1)
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, client, server)
			c.mu.Unlock()
			var clientTurn atomic.Bool // the client spoke last
			c.wg.Add(2)
			go func() {
				defer c.wg.Done()
				c.copy(server, client, func() {
					if clientTurn.CompareAndSwap(false, true) {
						c.trips.Add(1)
					}
				})
				server.Close()
			}()
			go func() {
				defer c.wg.Done()
				c.copy(client, server, func() { clientTurn.Store(false) })
				client.Close()
			}()
		}
	}()
	t.Cleanup(c.close)
	return c
}

// copy relays src to dst, calling seen before forwarding each chunk.
func (c *tripCounter) copy(dst, src net.Conn, seen func()) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			seen()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (c *tripCounter) port() int { return c.ln.Addr().(*net.TCPAddr).Port }

func (c *tripCounter) close() {
	c.ln.Close()
	c.mu.Lock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// replicaBehind returns an env whose replica is the standby behind a trip
// counter, with a health checker that runs once at open (CheckPeriod one
// hour), so the counter sees reads only. login opens the DB as the
// superuser, for a repository that does not switch roles.
func replicaBehind(t testing.TB, login bool, edit ...func(*config.Config)) (*env, *tripCounter) {
	counter := newTripCounter(t, "127.0.0.1:"+strconv.Itoa(standby.Port()))
	e := newEnv(t, func(c *config.Config) {
		c.Replicas.Servers = []config.Replica{{Host: "127.0.0.1", Port: counter.port()}}
		c.Replicas.MaxLag, c.Replicas.CheckPeriod = 2*time.Hour, time.Hour
		if login {
			c.User = "postgres"
		}
		for _, f := range edit {
			f(c)
		}
	})
	// The checker's first check (at start; the next is an hour away) goes
	// through the counter too: wait for it, so it cannot fall into a count.
	for deadline := time.Now().Add(30 * time.Second); e.stat().Timeline == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the replica checker never checked the replica: %s", e.stat().LastError)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return e, counter
}

// TestRoundTrips counts the round trips of a read on the replica: a
// read-your-writes read with a token the replica has replayed costs the
// same as one without a token, and as the same transaction on the
// primary (check, BEGIN and identity in one round trip; the query; COMMIT
// and the release guard in one). A repository Get asking for a replica
// costs the same.
func TestRoundTrips(t *testing.T) {
	e, counter := replicaBehind(t, false)
	ctx := engine.TrackWrites(context.Background())
	e.write(ctx, 1, "a")
	items := itemRepo(t, e.db, repo.Options{Roles: repo.RolesSwitch, Identity: engine.Identity{TenantID: "a"},
		Consistency: engine.ReadYourWrites})
	opts := engine.TxOptions{ReadOnly: true, Consistency: engine.ReadYourWrites, Role: engine.RoleReader,
		Identity: engine.Identity{TenantID: "a"}}
	readOne := func(ctx context.Context) error {
		return e.db.WithTx(ctx, opts, func(ctx context.Context, tx *engine.Tx) error {
			var name string
			return tx.QueryRow(ctx, "SELECT name FROM item WHERE id = $1", 1).Scan(&name)
		})
	}
	raw, err := pgx.Connect(context.Background(), "postgres://postgres@127.0.0.1:"+strconv.Itoa(counter.port())+"/"+e.name+"?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(context.Background())
	variants := []struct {
		name string
		want int64
		fn   func() error
	}{
		{"uno read-your-writes, token replayed", 3, func() error { return readOne(ctx) }},
		{"uno read-your-writes, no token", 3, func() error { return readOne(context.Background()) }},
		{"repository Get, read-your-writes", 3, func() error { _, err := items.Get(ctx, int32(1)); return err }},
		{"raw pgx: read-only transaction, set_config, query", 4, func() error {
			return pgx.BeginTxFunc(context.Background(), raw, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
				if _, err := tx.Exec(context.Background(), "SELECT set_config('role', $1, true), set_config('rls_var.tenant_id', $2, true)",
					e.cfg.Roles.Reader, "a"); err != nil {
					return err
				}
				var name string
				return tx.QueryRow(context.Background(), "SELECT name FROM item WHERE id = $1", 1).Scan(&name)
			})
		}},
		{"raw pgx: bare query", 1, func() error {
			var name *string
			return raw.QueryRow(context.Background(), "SELECT name FROM item WHERE id = $1", 1).Scan(&name)
		}},
	}
	for _, v := range variants {
		// Warm up: connections open, statements prepared.
		for range 3 {
			if err := v.fn(); err != nil {
				t.Fatalf("%s: %v", v.name, err)
			}
		}
		const n = 10
		reads, before := e.stat().Reads, counter.trips.Load()
		for range n {
			if err := v.fn(); err != nil {
				t.Fatalf("%s: %v", v.name, err)
			}
		}
		got := counter.trips.Load() - before
		t.Logf("%s: %d round trips per read", v.name, got/n)
		if got != v.want*n {
			t.Errorf("%s: %d round trips for %d reads, want %d each", v.name, got, n, v.want)
		}
		if v.want == 3 && e.stat().Reads-reads != n {
			t.Errorf("%s: %d of %d reads on the replica", v.name, e.stat().Reads-reads, n)
		}
	}
}

// TestRoundTripsLogin counts the round trips of a repository Get with
// read-your-writes for a repository running as the login role: the
// replica's replay check rides in the query's round trip, so the read
// costs one round trip, as raw pgx's bare query does.
func TestRoundTripsLogin(t *testing.T) {
	e, counter := replicaBehind(t, true)
	ctx := engine.TrackWrites(context.Background())
	items := itemRepo(t, e.db, repo.Options{Roles: repo.RolesLogin, Consistency: engine.ReadYourWrites})
	if err := items.Create(ctx, &Item{ID: 1, TenantID: "a", Name: "one"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := items.Get(ctx, int32(1)); err != nil {
			t.Fatal(err)
		}
	}
	const n = 10
	reads, before := e.stat().Reads, counter.trips.Load()
	for range n {
		got, err := items.Get(ctx, int32(1))
		if err != nil || got.Name != "one" {
			t.Fatalf("Get: %+v, %v", got, err)
		}
	}
	trips := counter.trips.Load() - before
	t.Logf("login-role repository Get, read-your-writes: %d round trips per read", trips/n)
	if trips != n {
		t.Errorf("%d round trips for %d reads, want 1 each", trips, n)
	}
	if got := e.stat().Reads - reads; got != n {
		t.Errorf("%d of %d reads on the replica", got, n)
	}
}

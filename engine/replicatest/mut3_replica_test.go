package replicatest_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
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
	"github.com/uno-db/uno/identity"
	"github.com/uno-db/uno/internal/pgproxy"
)

// Deterministic tests for the replica paths the mutation run
// (scripts/mutate) found unchecked: a replica that fails, is promoted or
// is given up on during a read's BEGIN round trip, a replica behind every
// sample of the primary, the commit position after a COMMIT answered with
// ROLLBACK. A pgproxy in front of the replica decides each fault; a
// health check held in the proxy keeps the checker from changing the
// replica's state behind the test's back.

// logCounter is a slog handler that counts records by message.
type logCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func newLogCounter() *logCounter { return &logCounter{n: map[string]int{}} }

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }

func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n[r.Message]++
	return nil
}

func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }

func (l *logCounter) WithGroup(string) slog.Handler { return l }

func (l *logCounter) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[msg]
}

const promotedLog = "uno: replica was promoted; no longer used as a replica"

// isHealthCheck matches the checker's query of a replica.
func isHealthCheck(m pgproxy.Message) bool {
	return m.Type == 'P' && bytes.Contains(m.Body, []byte("pg_control_checkpoint()"))
}

// isReplayCheck matches the replay check a read sends with its BEGIN (or
// its first query) to a replica.
func isReplayCheck(m pgproxy.Message) bool {
	return m.Type == 'P' && bytes.Contains(m.Body, []byte("pg_last_wal_replay_lsn() >= $1"))
}

// proxied is a DB whose one replica is a server behind a pgproxy, with a
// health checker that checks once at open (CheckPeriod one hour).
type proxied struct {
	*env                  // e.db is the DB with the replica
	proxy  *pgproxy.Proxy // in front of the replica
	logs   *logCounter
	checks atomic.Int64 // replay checks that reached the proxy
	health atomic.Int64 // health checks that reached the proxy (their Bind messages)
	rule   atomic.Pointer[pgproxy.Rule]
	held   pgproxy.Held // the checker's first check, when held
	let    sync.Once
}

// newProxied makes an env (its database on the primary, replicated to the
// standby) and opens, on a factory of its own with a counting logger, a DB
// whose one replica is the server on port target behind a proxy. With
// holdCheck the checker's first replica check is held in the proxy until
// the test calls release (or ends), so the replica stays in rotation as
// opened and the checker keeps one of its connections; otherwise the
// first check is waited for.
func newProxied(t *testing.T, target int, holdCheck bool, edit func(*config.Config)) *proxied {
	t.Helper()
	base := newEnv(t, func(c *config.Config) { c.Replicas.Servers = nil })
	proxy, err := pgproxy.New("127.0.0.1:" + strconv.Itoa(target))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	p := &proxied{proxy: proxy, logs: newLogCounter()}
	var holdOnce atomic.Bool
	var checkStmt atomic.Value
	checkStmt.Store("\x00") // no statement name yet
	proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
		if isReplayCheck(m) {
			p.checks.Add(1)
		}
		if isHealthCheck(m) {
			// pgx prepares the check once per connection, under a name
			// made from its text; each run binds that statement.
			name, _, _ := bytes.Cut(m.Body, []byte{0})
			checkStmt.Store(string(name))
		}
		if m.Type == 'B' {
			if _, stmt, ok := bytes.Cut(m.Body, []byte{0}); ok {
				if name, _, _ := bytes.Cut(stmt, []byte{0}); string(name) == checkStmt.Load() {
					p.health.Add(1)
				}
			}
		}
		if holdCheck && isHealthCheck(m) && holdOnce.CompareAndSwap(false, true) {
			return pgproxy.Hold
		}
		if r := p.rule.Load(); r != nil {
			return (*r)(m)
		}
		return pgproxy.Forward
	})
	cfg := base.cfg
	cfg.Replicas.Servers = []config.Replica{{Host: "127.0.0.1", Port: proxy.Port()}}
	cfg.Replicas.MaxLag, cfg.Replicas.CheckPeriod, cfg.Replicas.WaitBudget = 2*time.Hour, time.Hour, 200*time.Millisecond
	if edit != nil {
		edit(&cfg)
	}
	f, err := engine.NewFactory(engine.Options{Logger: slog.New(p.logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	db, err := f.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.env = &env{t: t, name: base.name, cfg: db.Config(), f: f, db: db}
	if holdCheck {
		select {
		case p.held = <-proxy.Held():
		case <-time.After(30 * time.Second):
			t.Fatal("the checker never checked the replica")
		}
		t.Cleanup(p.release) // before the factory closes (cleanups run last first)
		return p
	}
	waitFor(t, "the checker's first check", func() bool {
		st := p.stat()
		return st.Timeline != 0 || st.Promoted || st.LastError != ""
	})
	return p
}

// release lets the held health check go on.
func (p *proxied) release() { p.let.Do(func() { p.held.Forward() }) }

// setRule sets the rule for messages other than the held check.
func (p *proxied) setRule(r pgproxy.Rule) { p.rule.Store(&r) }

// primaryWrite inserts item id as the writer through the DB with replicas.
func (p *proxied) primaryWrite(ctx context.Context, id int) {
	p.t.Helper()
	p.write(ctx, id, "a")
}

// TestReplicaPromotedSeenAtBegin: a replica that a read finds out of
// recovery in its BEGIN round trip (here the primary itself, listed as a
// replica, whose health check is held so the checker has not seen it) is
// marked promoted at once: the read runs on the primary, the replica is
// taken out of rotation for good and tried no more, and the promotion is
// logged once, also when the checker sees it later.
func TestReplicaPromotedSeenAtBegin(t *testing.T) {
	p := newProxied(t, primary.Port(), true, nil)
	ctx := engine.TrackWrites(context.Background())
	p.primaryWrite(ctx, 1)
	for i, c := range []engine.Consistency{engine.ReadYourWrites, engine.ReadYourWrites, engine.BoundedStaleness} {
		r, err := p.read(ctx, c, 1, "a")
		if err != nil || !r.found || r.user != p.cfg.Roles.Reader {
			t.Fatalf("read %d: %+v, %v", i, r, err)
		}
	}
	st, all := p.stat(), p.db.ReplicaStats()
	// One replay check: the first read's. Later reads see the replica
	// out of rotation and go straight to the primary.
	if n := p.checks.Load(); n != 1 {
		t.Errorf("%d replay checks reached the promoted server, want 1", n)
	}
	if !st.Promoted || st.Healthy || st.Reads != 0 || st.Fallbacks != 1 || st.Ejections != 1 ||
		st.LastError != "promoted: out of recovery" || all.PrimaryReads != 3 {
		t.Errorf("stats after the promotion was seen at BEGIN: %+v, primary reads %d", st, all.PrimaryReads)
	}
	if n := p.logs.count(promotedLog); n != 1 {
		t.Errorf("promotion logged %d times, want once", n)
	}
	// The checker now sees it out of recovery too: it records the timeline,
	// and neither logs nor ejects again.
	p.release()
	waitFor(t, "the checker to record the promoted server's timeline", func() bool { return p.stat().Timeline != 0 })
	if st := p.stat(); !st.Promoted || st.Healthy || st.Ejections != 1 || p.logs.count(promotedLog) != 1 {
		t.Errorf("after the checker saw the promotion: %+v, logged %d times", st, p.logs.count(promotedLog))
	}
}

// TestReplicaLostAtBegin: the connection to the replica dies in the read's
// BEGIN round trip (the proxy cuts it before the replay check): the
// replica is taken out of rotation as lost and the read runs on the
// primary, without an error.
func TestReplicaLostAtBegin(t *testing.T) {
	p := newProxied(t, standby.Port(), false, nil)
	ctx := engine.TrackWrites(context.Background())
	p.primaryWrite(ctx, 1)
	if r, err := p.read(ctx, engine.ReadYourWrites, 1, "a"); err != nil || !r.found || !r.onReplica {
		t.Fatalf("read before the cut: %+v, %v", r, err)
	}
	p.setRule(pgproxy.Once(isReplayCheck, pgproxy.CutBefore))
	r, err := p.read(ctx, engine.ReadYourWrites, 1, "a")
	if err != nil || !r.found || r.onReplica || r.user != p.cfg.Roles.Reader {
		t.Fatalf("read with the replica lost at BEGIN: %+v, %v", r, err)
	}
	st := p.stat()
	if st.Healthy || st.Ejections != 1 || st.Fallbacks != 1 || st.Reads != 1 || st.LastError != "connection lost at BEGIN" ||
		p.proxy.Cuts() != 1 {
		t.Errorf("stats: %+v, %d cuts", st, p.proxy.Cuts())
	}
}

// TestReplicaBeginContextEnds: the caller's context ends while the read's
// BEGIN round trip on the replica is under way (held in the proxy). The
// read fails with the context's error, names the replica, and does not
// run on the primary; the replica, which did nothing wrong, stays in
// rotation.
func TestReplicaBeginContextEnds(t *testing.T) {
	p := newProxied(t, standby.Port(), false, nil)
	var holds atomic.Int64
	p.setRule(func(m pgproxy.Message) pgproxy.Action {
		if isReplayCheck(m) && holds.Add(1) == 1 {
			return pgproxy.Hold
		}
		return pgproxy.Forward
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ran := atomic.Bool{}
	go func() {
		done <- p.db.WithTx(ctx, engine.TxOptions{ReadOnly: true, Consistency: engine.ReadYourWrites, Role: engine.RoleReader},
			func(context.Context, *engine.Tx) error { ran.Store(true); return nil })
	}()
	var held pgproxy.Held
	select {
	case held = <-p.proxy.Held():
	case err := <-done:
		t.Fatalf("the read ended before its BEGIN was held: %v", err)
	}
	cancel()
	var err error
	select {
	case err = <-done:
		held.CutBefore()
	case <-time.After(30 * time.Second):
		held.CutBefore()
		t.Fatal("the read did not end after its context did")
	}
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "begin on replica "+p.stat().Replica) ||
		!strings.Contains(err.Error(), "the context ended") || ran.Load() {
		t.Fatalf("got %v (function ran: %v)", err, ran.Load())
	}
	st, all := p.stat(), p.db.ReplicaStats()
	if !st.Healthy || st.Ejections != 0 || st.Fallbacks != 0 || all.PrimaryReads != 0 {
		t.Errorf("stats after the caller gave up: %+v, primary reads %d", st, all.PrimaryReads)
	}
}

// TestReplicaBorrowFails: the replica's pool cannot hand out a connection
// (one connection at most, and the checker holds it: its check is held in
// the proxy). When the caller's context ends first, the read fails with
// the context's error and the replica stays in rotation; when
// ConnectTimeout strikes, the replica is taken out of rotation as
// unreachable and the read runs on the primary.
func TestReplicaBorrowFails(t *testing.T) {
	p := newProxied(t, standby.Port(), true, func(c *config.Config) {
		c.Pool.MaxConns = 1
		c.ConnectTimeout = 300 * time.Millisecond
	})
	ctx := engine.TrackWrites(context.Background())
	p.primaryWrite(ctx, 1)
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := p.read(cctx, engine.ReadYourWrites, 1, "a")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "begin on replica "+p.stat().Replica) {
		t.Fatalf("caller's deadline: %v", err)
	}
	if st := p.stat(); !st.Healthy || st.Ejections != 0 || st.Fallbacks != 0 {
		t.Fatalf("stats after the caller's deadline: %+v", st)
	}
	r, err := p.read(ctx, engine.ReadYourWrites, 1, "a")
	if err != nil || !r.found || r.onReplica {
		t.Fatalf("read with the replica's pool exhausted: %+v, %v", r, err)
	}
	st := p.stat()
	if st.Healthy || st.Ejections != 1 || st.Fallbacks != 1 || st.Reads != 0 || !strings.HasPrefix(st.LastError, "unreachable: ") {
		t.Errorf("stats after ConnectTimeout: %+v", st)
	}
	if n := p.checks.Load(); n != 0 {
		t.Errorf("%d replay checks sent without a connection", n)
	}
}

// TestReplicaBeginRefused: the replica refuses the BEGIN batch (signed
// identities are on, and the database has no uno_sign_in function): the
// read fails with the server's error, which names the replica, and the
// role when one was asked for, and does not run on the primary. The
// replica's connection is rolled back and serves the next read.
func TestReplicaBeginRefused(t *testing.T) {
	p := newProxied(t, standby.Port(), false, nil)
	ctx := engine.TrackWrites(context.Background())
	p.primaryWrite(ctx, 1)
	signer, err := identity.NewSigner(bytes.Repeat([]byte{7}, identity.MinSecretLen))
	if err != nil {
		t.Fatal(err)
	}
	p.db.SignIdentities(signer, "public")
	name := p.stat().Replica
	for _, role := range []engine.Role{engine.RoleReader, engine.RoleLogin} {
		err := p.db.WithTx(ctx, engine.TxOptions{ReadOnly: true, Consistency: engine.ReadYourWrites, Role: role,
			Identity: engine.Identity{TenantID: "a"}}, func(context.Context, *engine.Tx) error {
			t.Errorf("%s: function ran", role)
			return nil
		})
		prefix := "uno: begin on replica " + name + ": "
		if role != engine.RoleLogin {
			prefix = "uno: begin on replica " + name + " as reader role: "
		}
		if dberr.Code(err) != "42883" || !strings.HasPrefix(err.Error(), prefix) {
			t.Errorf("%s: %v, want SQLSTATE 42883 and %q", role, err, prefix)
		}
	}
	p.db.SignIdentities(nil, "")
	st, all := p.stat(), p.db.ReplicaStats()
	if !st.Healthy || st.Ejections != 0 || st.Fallbacks != 0 || all.PrimaryReads != 0 {
		t.Errorf("stats after refused BEGINs: %+v, primary reads %d", st, all.PrimaryReads)
	}
	r, err := p.read(ctx, engine.ReadYourWrites, 1, "a")
	if err != nil || !r.found || !r.onReplica || r.user != p.cfg.Roles.Reader || len(r.tenants) != 1 {
		t.Fatalf("read after refused BEGINs: %+v, %v", r, err)
	}
}

// TestRolledBackCommitKeepsToken: a transaction whose function swallowed
// an error is answered ROLLBACK at COMMIT; the WAL position read after it
// in the same round trip belongs to no commit of the caller, so the
// token the context carries stays where it was.
func TestRolledBackCommitKeepsToken(t *testing.T) {
	p := newProxied(t, standby.Port(), false, nil)
	ctx := engine.TrackWrites(context.Background())
	p.primaryWrite(ctx, 1)
	before := engine.TokenFromContext(ctx)
	if before.IsZero() {
		t.Fatal("a commit left the token at zero")
	}
	// Move the primary's WAL on, from another context.
	p.primaryWrite(context.Background(), 2)
	err := p.db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{TenantID: "a"}},
		func(ctx context.Context, tx *engine.Tx) error {
			if _, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (3, 'three')"); err != nil {
				return err
			}
			_, _ = tx.Exec(ctx, "INSERT INTO item (id, name) VALUES (1, 'again')") // duplicate key, swallowed
			return nil
		})
	if !errors.Is(err, pgx.ErrTxCommitRollback) {
		t.Fatalf("got %v", err)
	}
	if got := engine.TokenFromContext(ctx); got != before {
		t.Errorf("token moved from %v to %v on a rolled-back commit", before, got)
	}
}

// TestReplicaDefaultPort: a replica listed without a port is reached on
// the primary's port (here the primary itself, which the checker then
// finds out of recovery).
func TestReplicaDefaultPort(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Replicas.Servers = []config.Replica{{Host: "127.0.0.1"}}
		c.Replicas.MaxLag, c.Replicas.CheckPeriod = 2*time.Hour, time.Hour
	})
	want := net.JoinHostPort("127.0.0.1", strconv.Itoa(primary.Port()))
	waitFor(t, "the checker to check the replica", func() bool { return e.stat().Promoted })
	if st := e.stat(); st.Replica != want || st.Timeline == 0 || st.Healthy {
		t.Errorf("replica without a port: %+v, want %s", st, want)
	}
}

// TestReplicaBehindEverySample: a replica whose replay position is behind
// every sample of the primary's WAL position the checker holds, the
// oldest of them more than MaxLag ago, has an unknown lag: it is taken out
// of rotation and reported at twice MaxLag. (Replay is paused on the
// standby before the checker starts, and the primary moves on.)
func TestReplicaBehindEverySample(t *testing.T) {
	base := newEnv(t, func(c *config.Config) { c.Replicas.Servers = nil })
	if err := standby.PauseReplay(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := standby.ResumeReplay(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, "replay to pause", func() bool {
		conn, err := pgx.Connect(context.Background(), standby.URL("postgres"))
		if err != nil {
			return false
		}
		defer conn.Close(context.Background())
		var state string
		return conn.QueryRow(context.Background(), "SELECT pg_get_wal_replay_pause_state()").Scan(&state) == nil && state == "paused"
	})
	base.write(context.Background(), 1, "a")
	cfg := base.cfg
	cfg.Replicas.Servers = []config.Replica{{Host: "127.0.0.1", Port: standby.Port()}}
	cfg.Replicas.MaxLag, cfg.Replicas.CheckPeriod = 400*time.Millisecond, 50*time.Millisecond
	db, err := base.f.Open(context.Background(), withUser(cfg, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, name: base.name, cfg: db.Config(), f: base.f, db: db}
	waitFor(t, "the replica behind every sample to leave rotation", func() bool { return !e.stat().Healthy })
	if st := e.stat(); st.Lag != 2*cfg.Replicas.MaxLag || !strings.Contains(st.LastError, "lag over Replicas.MaxLag") ||
		st.Ejections != 1 {
		t.Errorf("stats of a replica behind every sample: %+v", st)
	}
}

// withUser returns c logging in as user.
func withUser(c config.Config, user string) config.Config {
	c.User = user
	return c
}

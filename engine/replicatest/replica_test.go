// Package replicatest_test runs the engine's read-replica tests against a
// real primary and a streaming standby built once for the package.
package replicatest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgcluster"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/repo"
)

var primary, standby *pgcluster.Cluster

func TestMain(m *testing.M) {
	var err error
	primary, err = pgcluster.New()
	if err == nil {
		standby, err = pgcluster.NewStandby(primary)
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "replicatest: cannot build primary and standby:", err)
	} else {
		code = m.Run()
	}
	if standby != nil {
		standby.Destroy()
	}
	if primary != nil {
		primary.Destroy()
	}
	os.Exit(code)
}

// hostileTenant is a tenant id that would break SQL built by formatting.
const hostileTenant = `t'; DROP TABLE item; --"`

// env is one test's database on the primary (replicated to the standby)
// with uno's roles, a table "item" with row-level security by tenant, and
// a factory whose DB lists the standby as a replica.
type env struct {
	t    testing.TB
	name string
	cfg  config.Config
	f    *engine.Factory
	db   *engine.DB
}

func newEnv(t testing.TB, edit func(*config.Config), replicas ...*pgcluster.Cluster) *env {
	t.Helper()
	name := fmt.Sprintf("uno_r%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	r := config.DefaultRoles(name)
	pgtest.Exec(t, primary.URL("postgres"), "CREATE DATABASE "+quote.Ident(name))
	t.Cleanup(func() {
		pgtest.Exec(t, primary.URL("postgres"), "DROP DATABASE IF EXISTS "+quote.Ident(name)+" WITH (FORCE)")
		for _, role := range []string{r.Login, r.Reader, r.Writer, r.Admin, r.Base} {
			pgtest.Exec(t, primary.URL("postgres"), "DROP ROLE IF EXISTS "+quote.Ident(role))
		}
	})
	pgtest.Exec(t, primary.URL(name),
		"CREATE ROLE "+quote.Ident(r.Base)+" NOLOGIN",
		"CREATE ROLE "+quote.Ident(r.Reader)+" NOLOGIN IN ROLE "+quote.Ident(r.Base),
		"CREATE ROLE "+quote.Ident(r.Writer)+" NOLOGIN IN ROLE "+quote.Ident(r.Base),
		"CREATE ROLE "+quote.Ident(r.Admin)+" NOLOGIN IN ROLE "+quote.Ident(r.Base),
		"CREATE ROLE "+quote.Ident(r.Login)+" LOGIN NOINHERIT IN ROLE "+
			quote.Ident(r.Reader)+", "+quote.Ident(r.Writer)+", "+quote.Ident(r.Admin),
		"CREATE TABLE item (id int PRIMARY KEY, tenant_id text NOT NULL DEFAULT current_setting('rls_var.tenant_id', true), name text NOT NULL)",
		"ALTER TABLE item ENABLE ROW LEVEL SECURITY",
		"ALTER TABLE item FORCE ROW LEVEL SECURITY",
		"CREATE POLICY tenant ON item USING (tenant_id = current_setting('rls_var.tenant_id', true))",
		"GRANT USAGE ON SCHEMA public TO "+quote.Ident(r.Base),
		"GRANT SELECT ON item TO "+quote.Ident(r.Reader),
		"GRANT SELECT, INSERT, UPDATE, DELETE ON item TO "+quote.Ident(r.Writer),
	)
	// pgcluster runs with synchronous_commit = off; a commit's WAL then
	// reaches the standby only after the WAL writer flushes it (up to
	// wal_writer_delay, 200ms), longer than the wait budget. Tests that
	// expect replica reads commit synchronously.
	cfg := config.Config{Host: "127.0.0.1", Port: primary.Port(), Database: name, SSLMode: "disable",
		RuntimeParams: map[string]string{"synchronous_commit": "on"},
		Retry:         config.Retry{InitialDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
		Replicas:      config.Replicas{MaxLag: time.Second, CheckPeriod: 100 * time.Millisecond, WaitBudget: 200 * time.Millisecond}}
	if len(replicas) == 0 {
		replicas = []*pgcluster.Cluster{standby}
	}
	for _, s := range replicas {
		cfg.Replicas.Servers = append(cfg.Replicas.Servers, config.Replica{Host: "127.0.0.1", Port: s.Port()})
		waitFor(t, "database on the standby", func() bool {
			conn, err := pgx.Connect(context.Background(), s.URL(name))
			if err != nil {
				return false
			}
			defer conn.Close(context.Background())
			var n int
			return conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_policies WHERE tablename = 'item'").Scan(&n) == nil && n == 1
		})
	}
	if edit != nil {
		edit(&cfg)
	}
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	db, err := f.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, name: name, cfg: db.Config(), f: f, db: db}
}

// waitFor polls cond every 20ms for up to 30s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// write inserts item id for the tenant as the writer, on the primary.
func (e *env) write(ctx context.Context, id int, tenant string) {
	e.t.Helper()
	err := e.db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{TenantID: tenant}},
		func(ctx context.Context, tx *engine.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO item (id, name) VALUES ($1, $2)", id, fmt.Sprint("item ", id))
			return err
		})
	if err != nil {
		e.t.Fatal(err)
	}
}

// readResult is what one read saw and where it ran.
type readResult struct {
	found     bool
	onReplica bool
	user      string
	tenants   []string
}

// read looks item id up as the reader for the tenant, with consistency c.
func (e *env) read(ctx context.Context, c engine.Consistency, id int, tenant string) (readResult, error) {
	var res readResult
	err := e.db.WithTx(ctx, engine.TxOptions{ReadOnly: true, Consistency: c, Role: engine.RoleReader,
		Identity: engine.Identity{TenantID: tenant}},
		func(ctx context.Context, tx *engine.Tx) error {
			if err := tx.QueryRow(ctx, "SELECT pg_is_in_recovery(), current_user::text, EXISTS (SELECT 1 FROM item WHERE id = $1)", id).
				Scan(&res.onReplica, &res.user, &res.found); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "SELECT DISTINCT tenant_id FROM item ORDER BY 1")
			if err != nil {
				return err
			}
			res.tenants, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
	return res, err
}

func (e *env) stat() engine.ReplicaStat {
	s := e.db.ReplicaStats()
	if len(s.Replicas) != 1 {
		e.t.Fatalf("%d replica stats, want 1", len(s.Replicas))
	}
	return s.Replicas[0]
}

// TestReadYourWrites runs 200 write-then-read cycles under read-your-writes
// with the token in the context: no read may miss its write, and most
// should run on the replica. The cluster runs with synchronous_commit =
// off (pgcluster's default); a second round runs with it on.
func TestReadYourWrites(t *testing.T) {
	for _, sync := range []string{"on", "off"} {
		t.Run("synchronous_commit="+sync, func(t *testing.T) {
			e := newEnv(t, func(c *config.Config) { c.RuntimeParams = map[string]string{"synchronous_commit": sync} })
			// With synchronous_commit = off each read waits for the WAL
			// writer (up to 200ms), so that round is shorter.
			n := 200
			if sync == "off" {
				n = 30
			}
			ctx := engine.TrackWrites(context.Background())
			stale, onReplica := 0, 0
			var last engine.Token
			for i := 1; i <= n; i++ {
				e.write(ctx, i, "a")
				tok := engine.TokenFromContext(ctx)
				if !tok.After(last) {
					t.Fatalf("cycle %d: token %v did not advance past %v", i, tok, last)
				}
				last = tok
				r, err := e.read(ctx, engine.ReadYourWrites, i, "a")
				if err != nil {
					t.Fatalf("cycle %d: %v", i, err)
				}
				if !r.found {
					stale++
				}
				if r.onReplica {
					onReplica++
				}
			}
			st := e.db.ReplicaStats()
			t.Logf("synchronous_commit=%s: %d cycles, %d stale, %d on the replica, %d on the primary (stats: %+v)",
				sync, n, stale, onReplica, n-onReplica, st)
			if stale != 0 {
				t.Errorf("%d stale reads under read-your-writes", stale)
			}
			if onReplica*2 <= n {
				t.Errorf("only %d of %d reads ran on the replica", onReplica, n)
			}
			if got := st.Replicas[0].Reads; got != int64(onReplica) {
				t.Errorf("stats count %d replica reads, the server says %d", got, onReplica)
			}
		})
	}
}

// TestOneReplica runs the tests that leave the standby as it is on one
// database.
func TestOneReplica(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("TokenTravels", func(t *testing.T) { e.t = t; testTokenTravels(t, e) })
	t.Run("IdentityOnReplica", func(t *testing.T) { e.t = t; testIdentityOnReplica(t, e) })
	t.Run("RefusedBeforeSending", func(t *testing.T) { e.t = t; testRefusedBeforeSending(t, e) })
	t.Run("Sessions", func(t *testing.T) { e.t = t; testSessions(t, e) })
}

// testSessions commits with a session and reads with another: the token
// rises with Session.Commit, and a read-only session with read-your-writes
// runs on the replica and sees the write.
func testSessions(t *testing.T, e *env) {
	ctx := engine.TrackWrites(context.Background())
	before := engine.TokenFromContext(ctx)
	w, err := e.db.Begin(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{TenantID: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Tx().Exec(ctx, "INSERT INTO item (id, name) VALUES (500, 'session')"); err != nil {
		w.Rollback(ctx)
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if !engine.TokenFromContext(ctx).After(before) {
		t.Fatalf("Session.Commit left the token at %v", engine.TokenFromContext(ctx))
	}
	r, err := e.db.Begin(ctx, engine.TxOptions{ReadOnly: true, Consistency: engine.ReadYourWrites, Role: engine.RoleReader,
		Identity: engine.Identity{TenantID: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Rollback(ctx)
	var rec, found bool
	if err := r.Tx().QueryRow(ctx, "SELECT pg_is_in_recovery(), EXISTS (SELECT 1 FROM item WHERE id = 500)").Scan(&rec, &found); err != nil {
		t.Fatal(err)
	}
	if !rec || !found {
		t.Errorf("read-only session: on replica %v, found %v", rec, found)
	}
}

// testTokenTravels serializes the token, as a web service would in a
// cookie, and reads with it from a fresh context.
func testTokenTravels(t *testing.T, e *env) {
	ctx := engine.TrackWrites(context.Background())
	e.write(ctx, 1, "a")
	s := engine.TokenFromContext(ctx).String()
	tok, err := engine.ParseToken(s)
	if err != nil || tok.String() != s || tok.IsZero() {
		t.Fatalf("ParseToken(%q) = %v, %v", s, tok, err)
	}
	r, err := e.read(engine.WithToken(context.Background(), tok), engine.ReadYourWrites, 1, "a")
	if err != nil || !r.found {
		t.Fatalf("read with a parsed token: %+v, %v", r, err)
	}
	for _, bad := range []string{"", "0", "x/1", "0/", "1/123456789", "0/1; DROP"} {
		if _, err := engine.ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
}

// testIdentityOnReplica checks role switching and row-level security on
// the replica: the reader role, and only the tenant's rows.
func testIdentityOnReplica(t *testing.T, e *env) {
	ctx := engine.TrackWrites(context.Background())
	e.write(ctx, 11, "a")
	e.write(ctx, 12, hostileTenant)
	e.write(ctx, 13, "b")
	for _, tenant := range []string{"a", hostileTenant, "nobody"} {
		r, err := e.read(ctx, engine.ReadYourWrites, 1, tenant)
		if err != nil {
			t.Fatal(err)
		}
		if !r.onReplica {
			t.Fatalf("tenant %q: read ran on the primary", tenant)
		}
		if r.user != e.cfg.Roles.Reader {
			t.Errorf("current_user on the replica = %q, want %q", r.user, e.cfg.Roles.Reader)
		}
		want := []string{tenant}
		if tenant == "nobody" {
			want = nil
		}
		if fmt.Sprint(r.tenants) != fmt.Sprint(want) {
			t.Errorf("tenant %q sees tenants %q on the replica", tenant, r.tenants)
		}
	}
	// Nothing is left on the replica's connections: a read without
	// identity sees no rows.
	err := e.db.WithTx(ctx, engine.TxOptions{ReadOnly: true, Consistency: engine.ReadYourWrites, Role: engine.RoleReader},
		func(ctx context.Context, tx *engine.Tx) error {
			var user string
			var n int
			var rec bool
			if err := tx.QueryRow(ctx, "SELECT current_user::text, pg_is_in_recovery(), (SELECT count(*) FROM item)").Scan(&user, &rec, &n); err != nil {
				return err
			}
			if user != e.cfg.Roles.Reader || n != 0 || !rec {
				t.Errorf("after identity reads: user %q, %d rows, on replica %v", user, n, rec)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
}

// testRefusedBeforeSending checks that Serializable and read-write
// transactions asking for a replica are refused before any connection is
// used.
func testRefusedBeforeSending(t *testing.T, e *env) {
	before, stBefore := e.db.Connects(), e.stat()
	ran := false
	fn := func(context.Context, *engine.Tx) error { ran = true; return nil }
	err := e.db.WithTx(context.Background(), engine.TxOptions{ReadOnly: true, Isolation: pgx.Serializable,
		Consistency: engine.ReadYourWrites}, fn)
	if !errors.Is(err, engine.ErrReplicaSerializable) {
		t.Errorf("serializable on a replica: %v", err)
	}
	err = e.db.WithTx(context.Background(), engine.TxOptions{Consistency: engine.BoundedStaleness}, fn)
	if !errors.Is(err, engine.ErrReplicaReadWrite) {
		t.Errorf("read-write on a replica: %v", err)
	}
	if st := e.stat(); ran || e.db.Connects() != before || st.Reads != stBefore.Reads || st.Fallbacks != stBefore.Fallbacks {
		t.Errorf("refused transactions ran (%v) or connected (%d → %d) or counted %+v", ran, before, e.db.Connects(), e.stat())
	}
	// Repeatable read is fine on a replica.
	err = e.db.WithTx(context.Background(), engine.TxOptions{ReadOnly: true, Isolation: pgx.RepeatableRead,
		Consistency: engine.ReadYourWrites}, func(ctx context.Context, tx *engine.Tx) error {
		var rec bool
		if err := tx.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&rec); err != nil || !rec {
			return fmt.Errorf("repeatable read: on replica %v, %v", rec, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// TestReplayPaused pauses replay on the standby: read-your-writes reads
// fall back to the primary after the wait budget and still see the write;
// bounded-staleness reads use the replica while it is within MaxLag and
// stop when it falls further behind; resuming puts it back.
func TestReplayPaused(t *testing.T) {
	e := newEnv(t, nil)
	ctx := engine.TrackWrites(context.Background())
	e.write(ctx, 1, "a")
	waitFor(t, "a bounded-staleness read on the replica", func() bool {
		r, err := e.read(ctx, engine.BoundedStaleness, 1, "a")
		return err == nil && r.onReplica
	})
	if err := standby.PauseReplay(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := standby.ResumeReplay(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	// While the standby lags less than MaxLag (1s), bounded staleness may
	// still use it; read-your-writes after a new write may not.
	e.write(ctx, 2, "a")
	before := e.stat().Fallbacks
	r, err := e.read(ctx, engine.ReadYourWrites, 2, "a")
	if err != nil || !r.found || r.onReplica {
		t.Fatalf("read-your-writes with replay paused: %+v, %v", r, err)
	}
	if got := e.stat().Fallbacks; got != before+1 {
		t.Errorf("fallbacks %d → %d, want one more", before, got)
	}
	// Keep writing so the primary moves on; the replica falls past MaxLag
	// and bounded-staleness reads must leave it.
	id := 3
	waitFor(t, "the paused replica to be taken out of rotation", func() bool {
		e.write(ctx, id, "a")
		id++
		return !e.stat().Healthy
	})
	for i := 0; i < 5; i++ {
		r, err := e.read(context.Background(), engine.BoundedStaleness, 1, "a")
		if err != nil || r.onReplica {
			t.Fatalf("bounded staleness over the limit: %+v, %v", r, err)
		}
	}
	if st := e.stat(); st.Ejections < 1 || st.Lag <= e.cfg.Replicas.MaxLag {
		t.Errorf("stats after the replica fell behind: %+v", st)
	}
	if err := standby.ResumeReplay(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replica back in rotation", func() bool { return e.stat().Healthy })
	r, err = e.read(ctx, engine.ReadYourWrites, id-1, "a")
	if err != nil || !r.found || !r.onReplica {
		t.Fatalf("after resume: %+v, %v", r, err)
	}
}

// TestReplicaStopped stops the standby: reads go to the primary without
// a failed call; started again, it comes back into rotation.
func TestReplicaStopped(t *testing.T) {
	e := newEnv(t, nil)
	ctx := engine.TrackWrites(context.Background())
	e.write(ctx, 1, "a")
	if r, err := e.read(ctx, engine.ReadYourWrites, 1, "a"); err != nil || !r.onReplica {
		t.Fatalf("before the stop: %+v, %v", r, err)
	}
	// A login-role repository on a DB of its own (as the superuser),
	// whose replica pool holds a connection opened before the stop.
	lcfg := e.cfg
	lcfg.User = "postgres"
	ldb, err := e.f.Open(context.Background(), lcfg)
	if err != nil {
		t.Fatal(err)
	}
	login := itemRepo(t, ldb, repo.Options{Roles: repo.RolesLogin, Consistency: engine.ReadYourWrites})
	loginReads := func() int64 { return ldb.ReplicaStats().Replicas[0].Reads }
	if _, err := login.Get(ctx, int32(1)); err != nil || loginReads() != 1 {
		t.Fatalf("login-role read before the stop: %v, %d replica reads", err, loginReads())
	}
	if err := standby.StopMode(pgcluster.Fast); err != nil {
		t.Fatal(err)
	}
	started := false
	defer func() {
		if !started {
			if err := standby.Start(); err != nil {
				t.Error(err)
			}
		}
	}()
	for i := 0; i < 50; i++ {
		c := engine.ReadYourWrites
		if i%2 == 1 {
			c = engine.BoundedStaleness
		}
		r, err := e.read(ctx, c, 1, "a")
		if err != nil {
			t.Fatalf("read %d with the replica down failed: %v", i, err)
		}
		if r.onReplica || !r.found {
			t.Fatalf("read %d: %+v", i, r)
		}
	}
	if st := e.stat(); st.Healthy || st.Ejections < 1 {
		t.Errorf("stats with the replica down: %+v", st)
	}
	for i := range 10 {
		if got, err := login.Get(ctx, int32(1)); err != nil || got.Name != "item 1" {
			t.Fatalf("login-role read %d with the replica down: %+v, %v", i, got, err)
		}
	}
	if st := ldb.ReplicaStats(); st.Replicas[0].Reads != 1 || st.PrimaryReads < 10 {
		t.Errorf("login-role stats with the replica down: %+v", st)
	}
	if err := standby.Start(); err != nil {
		t.Fatal(err)
	}
	started = true
	waitFor(t, "the restarted replica back in rotation", func() bool { return e.stat().Healthy })
	waitFor(t, "a read on the restarted replica", func() bool {
		r, err := e.read(ctx, engine.ReadYourWrites, 1, "a")
		return err == nil && r.onReplica && r.found
	})
	waitFor(t, "a login-role read on the restarted replica", func() bool {
		before := loginReads()
		_, err := login.Get(ctx, int32(1))
		return err == nil && loginReads() == before+1
	})
}

// TestPromotion promotes a second standby of the primary: the promotion
// is noticed, and the promoted server serves no more replica reads.
func TestPromotion(t *testing.T) {
	second, err := pgcluster.NewStandby(primary)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Destroy)
	e := newEnv(t, nil, second)
	ctx := engine.TrackWrites(context.Background())
	e.write(ctx, 1, "a")
	if r, err := e.read(ctx, engine.ReadYourWrites, 1, "a"); err != nil || !r.onReplica {
		t.Fatalf("before promotion: %+v, %v", r, err)
	}
	tlBefore := e.stat().Timeline
	if err := second.Promote(); err != nil {
		t.Fatal(err)
	}
	// The first read after promotion may reach it before the checker
	// does: the BEGIN round trip sees it out of recovery and falls back.
	for i := 0; i < 20; i++ {
		e.write(ctx, 100+i, "a")
		r, err := e.read(ctx, engine.ReadYourWrites, 100+i, "a")
		if err != nil || !r.found {
			t.Fatalf("read %d after promotion (a miss means it ran on the promoted server): %+v, %v", i, r, err)
		}
		// pg_is_in_recovery() is false on both servers now; the row the
		// primary just got tells them apart (the promoted server forked
		// before it), and found was checked above.
	}
	// The checker records the new timeline once.
	waitFor(t, "the checker to see the new timeline", func() bool { return e.stat().Timeline > tlBefore })
	st := e.stat()
	if !st.Promoted || st.Healthy || st.Ejections < 1 {
		t.Errorf("stats after promotion: %+v", st)
	}
	t.Logf("timeline at the last check before promotion %d; stats %+v", tlBefore, st)
}

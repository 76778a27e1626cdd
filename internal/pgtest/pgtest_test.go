package pgtest_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uno-db/uno/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestClusterFromNothing starts a cluster with no UNO_TEST_DATABASE_URL and
// without using any server that may already run on the machine, then stops
// and restarts it.
func TestClusterFromNothing(t *testing.T) {
	t.Setenv(pgtest.EnvURL, "")
	os.Unsetenv(pgtest.EnvURL)
	c := pgtest.StartCluster(t)
	if c.Port() == 5432 {
		t.Fatalf("cluster took the default port")
	}
	ctx := context.Background()
	query := func() string {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		var dir string
		if err := conn.QueryRow(ctx, "SELECT current_setting('data_directory')").Scan(&dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dir := query()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(ctx, c.URL("postgres")); err == nil {
		t.Fatal("connected to a stopped cluster")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if got := query(); got != dir {
		t.Fatalf("restarted cluster has data directory %q, want %q", got, dir)
	}
}

func TestNewDatabaseIsolated(t *testing.T) {
	t.Parallel()
	a, b := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	if a.Name == b.Name {
		t.Fatal("two tests got the same database")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, a.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var got string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != a.Name {
		t.Fatalf("connected to %q, want %q", got, a.Name)
	}
}

// TestStandby: a streaming standby follows its primary; replay can be
// paused and the WAL receiver cut and restored; promotion makes it
// writable.
func TestStandby(t *testing.T) {
	t.Parallel()
	primary, standby := pgtest.StartReplicated(t)
	ctx := context.Background()
	if r, err := standby.InRecovery(ctx); err != nil || !r {
		t.Fatalf("standby in recovery: %v %v", r, err)
	}
	if r, err := primary.InRecovery(ctx); err != nil || r {
		t.Fatalf("primary in recovery: %v %v", r, err)
	}
	var pmax, smax string
	pgtest.Exec(t, primary.URL("postgres"), "CREATE TABLE t (n int)")
	pmax = pgtest.Scalar[string](t, primary.URL("postgres"), "SHOW max_connections")
	smax = pgtest.Scalar[string](t, standby.URL("postgres"), "SHOW max_connections")
	if pmax != smax {
		t.Fatalf("max_connections %s on the primary, %s on the standby", pmax, smax)
	}
	insert := func(n int) { pgtest.Exec(t, primary.URL("postgres"), "INSERT INTO t VALUES ("+strconv.Itoa(n)+")") }
	// caughtUp waits until the standby replayed the primary's current WAL
	// position, or reports false when it does not within the wait.
	caughtUp := func(wait time.Duration) bool {
		lsn := pgtest.Scalar[string](t, primary.URL("postgres"), "SELECT pg_current_wal_insert_lsn()::text")
		deadline := time.Now().Add(wait)
		for time.Now().Before(deadline) {
			if pgtest.Scalar[bool](t, standby.URL("postgres"),
				"SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)", lsn) {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}
	count := func() int64 { return pgtest.Scalar[int64](t, standby.URL("postgres"), "SELECT count(*) FROM t") }
	insert(1)
	if !caughtUp(30*time.Second) || count() != 1 {
		t.Fatal("standby did not replay the insert")
	}
	if err := standby.PauseReplay(ctx); err != nil {
		t.Fatal(err)
	}
	insert(2)
	if caughtUp(300*time.Millisecond) || count() != 1 {
		t.Fatal("replay went on while paused")
	}
	if err := standby.ResumeReplay(ctx); err != nil {
		t.Fatal(err)
	}
	if !caughtUp(30*time.Second) || count() != 2 {
		t.Fatal("replay did not resume")
	}
	if err := standby.CutReceiver(ctx); err != nil {
		t.Fatal(err)
	}
	// The receiver is gone once neither side lists it.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if pgtest.Scalar[int64](t, primary.URL("postgres"), "SELECT count(*) FROM pg_stat_replication") == 0 &&
			pgtest.Scalar[int64](t, standby.URL("postgres"), "SELECT count(*) FROM pg_stat_wal_receiver") == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("WAL receiver still connected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	insert(3)
	if caughtUp(300*time.Millisecond) || count() != 2 {
		t.Fatalf("standby received WAL with its receiver cut: %d rows; receiver: %s", count(),
			pgtest.Scalar[string](t, standby.URL("postgres"),
				"SELECT coalesce((SELECT status || ' ' || coalesce(conninfo, '') FROM pg_stat_wal_receiver), 'none') || ' / ' || current_setting('primary_conninfo')"))
	}
	if err := standby.RestoreReceiver(ctx); err != nil {
		t.Fatal(err)
	}
	if !caughtUp(60*time.Second) || count() != 3 {
		t.Fatal("standby did not catch up after RestoreReceiver")
	}
	if err := standby.Promote(); err != nil {
		t.Fatal(err)
	}
	if r, err := standby.InRecovery(ctx); err != nil || r {
		t.Fatalf("promoted standby in recovery: %v %v", r, err)
	}
	pgtest.Exec(t, standby.URL("postgres"), "INSERT INTO t VALUES (4)")
	if count() != 4 {
		t.Fatal("promoted standby did not take a write")
	}
}

// TestPgBouncer: any role of the server logs in through PgBouncer, and
// consecutive transactions may run on different server connections.
func TestPgBouncer(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	role := db.Name + "_someone"
	pgtest.Exec(t, db.URL, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN")
	b := pgtest.PgBouncer(t)
	if v := b.Version(); v[0] < 1 {
		t.Fatalf("version %v", v)
	}
	u := pgtest.BouncerURL(t, db.URL)
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = role
	cfg.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect through pgbouncer: %v\n%s", err, b.Log())
	}
	defer conn.Close(ctx)
	var user, dbname string
	if err := conn.QueryRow(ctx, "SELECT current_user, current_database()").Scan(&user, &dbname); err != nil {
		t.Fatal(err)
	}
	if user != role || dbname != db.Name {
		t.Fatalf("as %s on %s", user, dbname)
	}
	// PgBouncer refuses startup parameters it does not track, which is why
	// uno moves search_path and statement_timeout into the transaction.
	cfg.RuntimeParams["search_path"] = "public"
	if c2, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		c2.Close(ctx)
		t.Fatal("PgBouncer took search_path as a startup parameter")
	}
}

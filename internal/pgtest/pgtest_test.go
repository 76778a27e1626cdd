package pgtest_test

import (
	"context"
	"os"
	"testing"

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

package main_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/internal/pgtest"
)

// TestMigrateBehindPgBouncer: with a URL through PgBouncer in transaction
// mode (pooler=pgbouncer) the migrate commands refuse, naming the way out,
// and run nothing; with --direct-url or DIRECT_DATABASE_URL they take the
// migration lock on the server itself and apply (issue 11, item 4).
func TestMigrateBehindPgBouncer(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("uno_cli_pgb_%d", time.Now().UnixNano()%1e9)
	direct := pgtest.WithPath(pgtest.AdminURL(t), name)
	bounced := pgtest.BouncerURL(t, direct)
	if strings.Contains(bounced, "?") {
		bounced += "&pooler=pgbouncer"
	} else {
		bounced += "?pooler=pgbouncer"
	}
	sales := func(env []string, args ...string) result {
		t.Helper()
		return run{bin: salesBin, env: env}.do(t, args...)
	}
	directEnv := []string{"DATABASE_URL=" + direct}
	t.Cleanup(func() { sales(directEnv, "db", "drop", "--yes") })
	expect(t, sales(directEnv, "db", "create"), 0, "ready")
	dir := "--dir=" + t.TempDir()
	expect(t, sales(directEnv, "migrate", "new", "init", dir), 0, "0001_init")

	env := []string{"DATABASE_URL=" + bounced}
	for _, args := range [][]string{{"migrate", "up", dir}, {"migrate", "status", dir}, {"migrate", "baseline", dir}} {
		r := sales(env, args...)
		expect(t, r, 1, "needs a direct connection", "PgBouncer", "--direct-url or DIRECT_DATABASE_URL")
	}
	if pgtest.Scalar[bool](t, direct, `SELECT to_regclass('uno_schema_migrations') IS NOT NULL`) {
		t.Fatal("a refused migrate command created the history table")
	}
	expect(t, sales(env, "migrate", "up", dir, "--direct-url", pgtest.WithPath(pgtest.AdminURL(t), "postgres")), 2,
		`--direct-url names database "postgres", not "`+name+`"`)
	expect(t, sales(env, "migrate", "up", dir, "--direct-url", bounced), 2, "--direct-url goes through PgBouncer")

	expect(t, sales(env, "migrate", "up", dir, "--direct-url", direct), 0, "applied 0001_init")
	if n := pgtest.Scalar[int64](t, direct, `SELECT count(*) FROM uno_schema_migrations`); n != 1 {
		t.Fatalf("%d migrations recorded", n)
	}
	withDirect := append(env, "DIRECT_DATABASE_URL="+direct)
	expect(t, sales(withDirect, "migrate", "status", dir), 0, "0001_init", "applied")
	expect(t, sales(withDirect, "migrate", "diff", "--check"), 0, "no differences")
	expect(t, sales(withDirect, "migrate", "down", dir), 0, "reverted 0001_init")
	if pgtest.Scalar[bool](t, direct, `SELECT to_regclass('"sales ops"."order"') IS NOT NULL`) {
		t.Fatal("down through the direct URL left the table")
	}
}

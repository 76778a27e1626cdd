package main_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/internal/pgtest"
)

// TestSchemaModels: models with their own schema: (a hostile one, "sales
// ops", holding a table named "order") plan, apply and diff to zero, and
// what they create is owned by the admin role, as db create's objects are
// (issue 13, item 3: the plan failed with 42501 in the scratch database).
func TestSchemaModels(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("uno_cli_sch_%d", time.Now().UnixNano()%1e9)
	url := pgtest.WithPath(pgtest.AdminURL(t), name)
	env := []string{"DATABASE_URL=" + url}
	dir := "--dir=" + t.TempDir()
	sales := func(args ...string) result { t.Helper(); return run{bin: salesBin, env: env}.do(t, args...) }
	t.Cleanup(func() { sales("db", "drop", "--yes") })

	expect(t, sales("db", "create"), 0, "ready")
	diff := sales("migrate", "diff")
	expect(t, diff, 0, `CREATE SCHEMA IF NOT EXISTS "sales ops"`, `CREATE TABLE "sales ops"."order"`)
	if strings.Contains(diff.stdout+diff.stderr, "42501") {
		t.Fatalf("plan failed on rights:\n%s", diff)
	}
	expect(t, sales("migrate", "new", "init", dir), 0, "0001_init.up.sql")
	expect(t, sales("migrate", "up", dir), 0, "applied 0001_init")
	expect(t, sales("migrate", "diff", "--check"), 0, "no differences")

	owners := pgtest.Scalar[string](t, url, `SELECT string_agg(what || '=' || owner, ' ' ORDER BY what) FROM (
		SELECT 'schema' AS what, pg_get_userbyid(nspowner)::text AS owner FROM pg_namespace WHERE nspname = 'sales ops'
		UNION ALL SELECT c.relname, pg_get_userbyid(c.relowner)::text FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'sales ops' AND c.relkind = 'r') o`)
	admin := name + "_admin"
	if want := "order=" + admin + " region=" + admin + " schema=" + admin; owners != want {
		t.Fatalf("owners: %s, want %s", owners, want)
	}
	expect(t, sales("migrate", "down", dir), 0, "reverted 0001_init")
	if n := pgtest.Scalar[int64](t, url, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'sales ops' AND c.relkind = 'r'`); n != 0 {
		t.Fatalf("%d tables left in \"sales ops\" after down", n)
	}
	expect(t, sales("migrate", "diff", "--check"), 3, `CREATE TABLE "sales ops"."region"`)
}

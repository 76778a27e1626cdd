package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/internal/pgtest"
)

// TestAdoption adopts a hand-built schema (issue 13, Adoption): models
// generate writes Go models for it, a command built around them diffs to
// nothing, migrate baseline writes the baseline file and records it
// without running it, and up then has nothing to apply.
func TestAdoption(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("uno_cli_adopt_%d", time.Now().UnixNano()%1e9)
	url := pgtest.WithPath(pgtest.AdminURL(t), name)
	env := []string{"DATABASE_URL=" + url}
	t.Cleanup(func() { uno(t, env, "db", "drop", "--yes") })
	expect(t, uno(t, env, "db", "create"), 0, "ready")
	// Built by hand (or another tool) as the admin role, as uno's DDL
	// runs, so the tables get uno's default privileges.
	pgtest.Exec(t, url,
		`SET ROLE `+name+`_admin`,
		`CREATE TYPE mood AS ENUM ('ok', 'it''s bad')`,
		`CREATE TABLE customer (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			name text NOT NULL UNIQUE, mood mood, created_at timestamptz NOT NULL DEFAULT now())`,
		`CREATE TABLE "order" (id serial PRIMARY KEY,
			customer_id bigint NOT NULL REFERENCES customer, total numeric(12,2) NOT NULL DEFAULT 0 CHECK (total >= 0),
			"from" varchar(200))`,
		`CREATE INDEX ON "order" (customer_id)`,
		`INSERT INTO customer (name) VALUES ('ann')`,
		`CREATE TABLE legacy (n int)`)

	// The generated models, wrapped in a command the way an application
	// does it; the package lives in the module so it builds against it.
	gen, err := os.MkdirTemp("testdata", "gen_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(gen) })
	models := filepath.Join(gen, "models.go")
	r := uno(t, env, "models", "generate", "--schema", "public", "--package", "main", "--out", models, "customer", "public.order")
	expect(t, r, 0, "wrote "+models)
	if strings.Contains(r.stderr, "unmanaged:") { // serial is a tag since issue 13
		t.Errorf("models generate left something unmanaged:\n%s", r.stderr)
	}
	src, err := os.ReadFile(models)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"package main", "table:customer", "table:order", `uno:"id,serial,pk"`, "func Models() []any"} {
		if !strings.Contains(string(src), want) || strings.Contains(string(src), "legacy") {
			t.Fatalf("generated models lack %q:\n%s", want, src)
		}
	}
	main := `package main

import (
	"context"
	"os"

	"github.com/uno-db/uno/cli"
)

func main() {
	os.Exit((&cli.App{Name: "gendb", Models: Models()}).Main(context.Background(), os.Args[1:]))
}
`
	if err := os.WriteFile(filepath.Join(gen, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "gendb")
	if out, err := exec.Command("go", "build", "-o", bin, "./"+gen).CombinedOutput(); err != nil {
		t.Fatalf("build the generated models: %v\n%s\n%s", err, out, src)
	}
	gendb := func(args ...string) result { t.Helper(); return run{bin: bin, env: env}.do(t, args...) }
	expect(t, gendb("migrate", "diff", "--check"), 0, "no differences")
	// One table by name: only it is written.
	one := uno(t, env, "models", "generate", "order")
	expect(t, one, 0, "func Models() []any")
	if strings.Contains(one.stdout, "table:customer") || !strings.Contains(one.stdout, "table:order") {
		t.Fatalf("models generate 'shop x.order' wrote other tables:\n%s", one.stdout)
	}
	expect(t, uno(t, env, "models", "generate", "nope"), 1, "no such table: nope")

	// Baseline: the file is written from the live database and recorded,
	// and nothing ran (the row is still there, the table the same one).
	dir := t.TempDir()
	oid := pgtest.Scalar[int64](t, url, `SELECT 'customer'::regclass::oid::bigint`)
	b := uno(t, env, "migrate", "baseline", "--dir", dir)
	expect(t, b, 0, "0001_baseline.up.sql", "recorded 0001_baseline as applied (nothing run)")
	up, err := os.ReadFile(filepath.Join(dir, "0001_baseline.up.sql"))
	if err != nil || !strings.Contains(string(up), `CREATE TABLE "public"."customer"`) {
		t.Fatalf("baseline file (%v):\n%s", err, up)
	}
	if got := pgtest.Scalar[int64](t, url, `SELECT 'customer'::regclass::oid::bigint`); got != oid {
		t.Fatal("baseline re-created the table")
	}
	if n := pgtest.Scalar[int64](t, url, `SELECT count(*) FROM customer`); n != 1 {
		t.Fatalf("%d rows after baseline", n)
	}
	expect(t, uno(t, env, "migrate", "status", "--dir", dir), 0, "0001_baseline", "applied")
	expect(t, uno(t, env, "migrate", "up", "--dir", dir), 0, "nothing to apply")
	expect(t, uno(t, env, "migrate", "baseline", "--dir", dir), 0, "nothing to record")
	expect(t, uno(t, env, "migrate", "down", "--dir", dir), 1, "no down file")
	expect(t, uno(t, env, "migrate", "baseline", "7", "--dir", dir), 1, "no migration 7")
	// The baseline builds the schema in an empty database.
	fresh := pgtest.NewDatabase(t)
	pgtest.Exec(t, fresh.URL, string(up))
	if n := pgtest.Scalar[int64](t, fresh.URL, `SELECT count(*) FROM pg_tables WHERE tablename IN ('customer', 'order', 'legacy')`); n != 3 {
		t.Fatalf("the baseline built %d of the 3 tables", n)
	}
}

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

// TestAdoptionInASchema: tables in a hand-made schema (not public, owned
// by a superuser, with grants to uno's roles, hostile name) using what
// the model tags can say since issue 13 — serial, collation, a generated
// column, deferrable keys, partial and expression indexes, an exclusion
// constraint. models generate --schema writes their models; a command
// built around them diffs to nothing (migrate diff --check), so the
// scratch database builds the schema the way the live one is.
func TestAdoptionInASchema(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("uno_cli_schema_%d", time.Now().UnixNano()%1e9)
	url := pgtest.WithPath(pgtest.AdminURL(t), name)
	env := []string{"DATABASE_URL=" + url}
	t.Cleanup(func() { uno(t, env, "db", "drop", "--yes") })
	expect(t, uno(t, env, "db", "create"), 0, "ready")
	admin, reader, writer := `"`+name+`_admin"`, `"`+name+`_reader"`, `"`+name+`_writer"`
	// The schema is the DBA's, with a domain in it; uno's roles get what
	// uno gives them in its own schemas.
	pgtest.Exec(t, url,
		`CREATE SCHEMA "sh""op"`,
		`CREATE DOMAIN "sh""op".cents AS bigint CHECK (VALUE >= 0)`,
		`GRANT USAGE, CREATE ON SCHEMA "sh""op" TO `+admin,
		`GRANT USAGE ON SCHEMA "sh""op" TO `+reader+`, `+writer,
		`ALTER DEFAULT PRIVILEGES FOR ROLE `+admin+` IN SCHEMA "sh""op" GRANT SELECT ON TABLES TO `+reader,
		`ALTER DEFAULT PRIVILEGES FOR ROLE `+admin+` IN SCHEMA "sh""op" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO `+writer,
		`ALTER DEFAULT PRIVILEGES FOR ROLE `+admin+` IN SCHEMA "sh""op" GRANT USAGE, SELECT ON SEQUENCES TO `+writer,
		`SET ROLE `+admin,
		`CREATE TABLE "sh""op".customer (id serial PRIMARY KEY, name text COLLATE "C" NOT NULL,
			email text NOT NULL CONSTRAINT customer_email_key UNIQUE DEFERRABLE)`,
		`CREATE INDEX customer_lower ON "sh""op".customer (lower(email))`,
		`CREATE TABLE "sh""op"."bo;oking" (id bigserial PRIMARY KEY,
			customer_id integer NOT NULL REFERENCES "sh""op".customer DEFERRABLE INITIALLY DEFERRED,
			during tstzrange NOT NULL, price numeric(10,2) NOT NULL, nights integer NOT NULL DEFAULT 1, fee "sh""op".cents,
			total numeric(12,2) GENERATED ALWAYS AS (price * nights) STORED,
			EXCLUDE USING gist (during WITH &&) WHERE (nights > 0))`,
		`CREATE INDEX booking_open ON "sh""op"."bo;oking" (customer_id) WHERE nights > 1`,
		`INSERT INTO "sh""op".customer (name, email) VALUES ('ann', 'a@example.com')`)

	gen, err := os.MkdirTemp("testdata", "gen_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(gen) })
	models := filepath.Join(gen, "models.go")
	r := uno(t, env, "models", "generate", "--schema", `sh"op`, "--package", "main", "--out", models)
	expect(t, r, 0, "wrote "+models)
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if strings.HasPrefix(l, "unmanaged:") && !strings.Contains(l, "must exist where the desired state is built") { // the domain
			t.Errorf("models generate left something unmanaged: %s", l)
		}
	}
	src, err := os.ReadFile(models)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`schema:sh\"op`, "serial", "collate:C", "generated:", "Excludes:", "InitiallyDeferred: true",
		`Name: "customer_lower", Expressions:`, `Name: "booking_open"`} {
		if !strings.Contains(string(src), want) {
			t.Errorf("generated models lack %s:\n%s", want, src)
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
}

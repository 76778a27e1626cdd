package main_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/internal/pgtest"
)

// The stock command (no models), the demo's models wrapped in cli.App, the
// way an application builds its own command, and testdata/salesdb (models
// in their own schema); all built once.
var unoBin, shopBin, salesBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "uno-cli-test")
	if err != nil {
		panic(err)
	}
	unoBin, shopBin, salesBin = filepath.Join(dir, "uno"), filepath.Join(dir, "shopdb"), filepath.Join(dir, "salesdb")
	for bin, pkg := range map[string]string{unoBin: ".", shopBin: "../../internal/demo/shopdb", salesBin: "./testdata/salesdb"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	defer os.RemoveAll(dir)
	pgtest.Main(m)
}

type result struct {
	code           int
	stdout, stderr string
}

// run is how a command runs: which binary, its environment (on top of the
// process's without DATABASE_URL and PG*), working directory and stdin
// (default: /dev/null).
type run struct {
	bin   string
	env   []string
	dir   string
	stdin *os.File
}

// cleanEnv is the test process's environment without the variables that
// name a database, so a command sees only what the test gives it.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DATABASE_URL=") || strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "UNO_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (r run) do(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := r.bin
	if bin == "" {
		bin = unoBin
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cleanEnv(), r.env...)
	cmd.Dir = r.dir
	if r.stdin != nil {
		cmd.Stdin = r.stdin
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errOut.String()}
}

// uno runs the stock command with the given environment.
func uno(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return run{env: env}.do(t, args...)
}

// shop runs the command built around the demo's models.
func shop(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return run{bin: shopBin, env: env}.do(t, args...)
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// expect checks the exit code and that stdout and stderr together contain
// every wanted string.
func expect(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got %s", code, r)
	}
	for _, w := range want {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Fatalf("output lacks %q\n%s", w, r)
		}
	}
}

// TestHelpPages: every command has its own page, on stdout, exit 0.
func TestHelpPages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"usage: uno <command>", "migrate diff", "schema", "demo", "exit codes"}},
		{[]string{"--help"}, []string{"usage: uno <command>", "db drop"}},
		{[]string{"-h"}, []string{"usage: uno <command>"}},
		{[]string{"migrate", "up", "--help"}, []string{"usage: uno migrate up [flags] [N]", "Applies the pending migrations", "--dir DIR", "--url URL"}},
		{[]string{"migrate", "up", "-h"}, []string{"usage: uno migrate up [flags] [N]"}},
		{[]string{"help", "migrate", "up"}, []string{"usage: uno migrate up [flags] [N]"}},
		{[]string{"migrate", "new", "--help"}, []string{"usage: uno migrate new [flags] NAME", "--allow-destructive", "--concurrent"}},
		{[]string{"migrate", "diff", "--help"}, []string{"usage: uno migrate diff [flags]", "--check"}},
		{[]string{"db", "drop", "--help"}, []string{"usage: uno db drop [flags]", "--yes"}},
		{[]string{"emit", "--help"}, []string{"usage: uno emit [flags]", "Only SQL goes to stdout"}},
		{[]string{"schema", "--help"}, []string{"usage: uno schema", "Mermaid", "cli.App"}},
		{[]string{"migrate", "--help"}, []string{"usage: uno migrate <command>", "migrate status", "migrate redo"}},
		{[]string{"help", "db"}, []string{"usage: uno db <command>", "db create", "db drop"}},
		{[]string{"db", "create", "--help"}, []string{"usage: uno db create [flags]", "--take-rights", "unless --take-rights is given"}},
		{[]string{"migrate", "baseline", "--help"}, []string{"usage: uno migrate baseline [flags] [VERSION]", "without running them", "--dir DIR"}},
		{[]string{"models", "generate", "--help"}, []string{"usage: uno models generate [flags] [TABLE…]", "--schema NAME", "--package NAME", "--out FILE"}},
		{[]string{"help", "models"}, []string{"usage: uno models <command>", "models generate"}},
	} {
		r := uno(t, nil, tc.args...)
		expect(t, r, 0, tc.want...)
		if r.stderr != "" || !strings.Contains(r.stdout, tc.want[0]) {
			t.Fatalf("uno %s: the help page belongs on stdout alone\n%s", strings.Join(tc.args, " "), r)
		}
	}
	// A page is the command's own: migrate up has no --check, emit no --dir.
	if r := uno(t, nil, "migrate", "up", "--help"); strings.Contains(r.stdout, "--check") || strings.Contains(r.stdout, "db create") {
		t.Fatalf("migrate up's page shows other commands' flags or commands:\n%s", r.stdout)
	}
	if r := uno(t, nil, "emit", "--help"); strings.Contains(r.stdout, "--dir") {
		t.Fatalf("emit's page shows --dir:\n%s", r.stdout)
	}
}

// TestUsageErrors: bad usage exits 2 with the error and the usage line on
// stderr and nothing on stdout; a bare group lists its commands.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"no command given", "usage: uno <command>"}},
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`}},
		{[]string{"migrate"}, []string{`"migrate" needs a command`, "migrate up [N]", "migrate status"}},
		{[]string{"db"}, []string{"db create", "db drop"}},
		{[]string{"migrate", "sideways"}, []string{`unknown command "migrate sideways"`, "migrate down"}},
		{[]string{"migrate", "--dir", "x", "up"}, []string{"the command comes before its flags", "migrate up [N]"}},
		{[]string{"emit", "extra", "words"}, []string{`emit: unexpected argument "extra words"`, "usage: uno emit [flags]"}},
		{[]string{"db", "drop", "--check"}, []string{"db drop: flag provided but not defined: -check", "usage: uno db drop"}},
		{[]string{"migrate", "up", "--check"}, []string{"not defined: -check"}},
		{[]string{"migrate", "up", "zero"}, []string{`N must be a positive number, not "zero"`, "usage: uno migrate up"}},
		{[]string{"migrate", "down", "1", "2"}, []string{`unexpected argument "2"`}},
		{[]string{"migrate", "new"}, []string{"migrate new: missing NAME", "usage: uno migrate new [flags] NAME"}},
		{[]string{"migrate", "new", "a", "b"}, []string{`unexpected argument "b"`}},
		{[]string{"migrate", "baseline", "first"}, []string{`VERSION must be a positive number, not "first"`, "usage: uno migrate baseline"}},
		{[]string{"models"}, []string{`"models" needs a command`, "models generate"}},
		{[]string{"--no-such-flag", "emit"}, []string{"not defined: -no-such-flag"}},
		{[]string{"help", "nothing"}, []string{`unknown command "nothing"`}},
		{[]string{"schema", "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"--url", "postgres://h/db", "schema"}, []string{"schema: takes no --url"}},
	} {
		r := uno(t, nil, tc.args...)
		expect(t, r, 2, append(tc.want, "usage: ")...)
		if r.stdout != "" {
			t.Fatalf("uno %s: usage errors belong on stderr\n%s", strings.Join(tc.args, " "), r)
		}
	}
}

// TestNoDatabaseGiven: without --url or DATABASE_URL the command says which
// one it needs.
func TestNoDatabaseGiven(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args  []string
		usage string
	}{
		{[]string{"db", "create"}, "usage: uno db create"},
		{[]string{"db", "drop", "--yes"}, "usage: uno db drop"},
		{[]string{"emit"}, "usage: uno emit"},
		{[]string{"migrate", "up", "--dir", t.TempDir()}, "usage: uno migrate up"},
	} {
		r := uno(t, nil, tc.args...)
		expect(t, r, 2, "no database given", "--url", "DATABASE_URL", tc.usage)
		if strings.Contains(r.stderr, "must not be empty") {
			t.Fatalf("the config error leaks through:\n%s", r)
		}
	}
	expect(t, uno(t, nil, "emit", "--url", "postgres://localhost"), 2, "--url names no database")
	expect(t, uno(t, []string{"DATABASE_URL=postgres://localhost"}, "emit"), 2, "DATABASE_URL names no database")
	// --url before the command words works too; a bad port is named.
	expect(t, uno(t, nil, "--url", "postgres://h:70000/x", "emit"), 1, "Port")
}

// TestSchema: `schema` prints the models as a Mermaid ER diagram, the
// golden file cli/testdata/demo_schema.mmd, and nothing else.
func TestSchema(t *testing.T) {
	t.Parallel()
	r := shop(t, nil, "schema")
	expect(t, r, 0)
	want, err := os.ReadFile("../../cli/testdata/demo_schema.mmd")
	if err != nil {
		t.Fatal(err)
	}
	if r.stdout != string(want) || r.stderr != "" {
		t.Fatalf("schema differs from cli/testdata/demo_schema.mmd (go test ./cli -update rewrites it):\n%s", r)
	}
}

// TestEmitPipeable: `emit > schema.sql` gets only SQL: every line is SQL or
// an SQL comment, and nothing goes to stderr.
func TestEmitPipeable(t *testing.T) {
	t.Parallel()
	r := shop(t, []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/app"}, "emit")
	expect(t, r, 0, "CREATE DATABASE", `CREATE TABLE IF NOT EXISTS "customer"`)
	if r.stderr != "" {
		t.Fatalf("emit wrote to stderr:\n%s", r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "-- ") || !strings.HasSuffix(r.stdout, ";\n\n") {
		t.Fatalf("emit's stdout is not SQL from start to end:\n%s", r.stdout)
	}
}

// TestLifecycle runs the command against a real server: db create twice,
// emit, migrate new/up/status/diff/down/redo, an edited migration, db drop
// refused without --yes and without a terminal, db drop with --yes.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("uno_cli_%d", time.Now().UnixNano()%1e9)
	url := pgtest.WithPath(pgtest.AdminURL(t), name)
	env := []string{"DATABASE_URL=" + url, "UNO_LOGIN_PASSWORD=s3cr'et pw"}
	dir := t.TempDir()
	dirFlag := "--dir=" + dir
	t.Cleanup(func() { shop(t, env, "db", "drop", "--yes") })

	created := shop(t, env, "db", "create")
	expect(t, created, 0, "database "+name+" ready")
	if created.stdout != "" {
		t.Fatalf("db create reports on stdout:\n%s", created)
	}
	expect(t, shop(t, env, "db", "create"), 0, "ready")
	emitted := shop(t, env, "emit")
	expect(t, emitted, 0, `CREATE TABLE IF NOT EXISTS "order"`, "generate_ulid", "CREATE POLICY", "PASSWORD '***'")
	if strings.Contains(emitted.stdout, "s3cr") {
		t.Fatal("emit printed the login password")
	}
	// Objects the models do not know are left alone by up and by down.
	pgtest.Exec(t, url, `CREATE TABLE legacy (id int)`, `CREATE TYPE legacy_mood AS ENUM ('meh')`)
	publicTables := func() string {
		return pgtest.Scalar[string](t, url, `SELECT coalesce(string_agg(tablename, ' ' ORDER BY tablename), '')
			FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'uno_schema_migrations'`)
	}
	before := publicTables() // db create's own tables (uno_identity_secret) and legacy
	expect(t, shop(t, env, "migrate", "status", dirFlag), 0, "no migrations yet in "+dir)
	expect(t, shop(t, env, "migrate", "diff", "--check"), 3, `CREATE TABLE "public"."order"`)
	expect(t, shop(t, env, "migrate", "new", "init", dirFlag), 0, "0001_init.up.sql")
	applied := shop(t, env, "migrate", "up", dirFlag)
	expect(t, applied, 0, "applied 0001_init")
	if applied.stdout != "" {
		t.Fatalf("migrate up reports on stdout:\n%s", applied)
	}
	expect(t, shop(t, env, "migrate", "diff", "--check"), 0, "no differences")
	status := shop(t, env, "migrate", "status", dirFlag)
	expect(t, status, 0)
	if !strings.Contains(status.stdout, "0001_init") || !strings.Contains(status.stdout, "applied") {
		t.Fatalf("status table not on stdout:\n%s", status)
	}

	// The schema is there, owned by the admin role, with row-level security.
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var owner string
	var rls bool
	if err := conn.QueryRow(context.Background(),
		`SELECT pg_get_userbyid(relowner)::text, relforcerowsecurity FROM pg_class WHERE oid = '"order"'::regclass`).Scan(&owner, &rls); err != nil {
		t.Fatal(err)
	}
	if owner != name+"_admin" || !rls {
		t.Fatalf("order owned by %s, force rls %v", owner, rls)
	}

	expect(t, shop(t, env, "migrate", "down", dirFlag), 0, "reverted 0001_init")
	if after := publicTables(); after != before || !strings.Contains(after, "legacy") {
		t.Fatalf("tables after down: %q, before up: %q", after, before)
	}
	var kept bool
	if err := conn.QueryRow(context.Background(), `SELECT to_regclass('legacy') IS NOT NULL AND to_regtype('legacy_mood') IS NOT NULL`).Scan(&kept); err != nil || !kept {
		t.Fatalf("down touched objects the models do not know (%v)", err)
	}
	expect(t, shop(t, env, "migrate", "status", dirFlag), 0, "pending")
	expect(t, shop(t, env, "migrate", "up", "1", dirFlag), 0, "applied 0001_init")
	expect(t, shop(t, env, "migrate", "redo", dirFlag), 0, "redone")
	expect(t, shop(t, env, "migrate", "up", dirFlag), 0, "nothing to apply")
	// The stock command applies and reports the same files: it needs no
	// models for them.
	expect(t, uno(t, env, "migrate", "status", dirFlag), 0, "0001_init", "applied")

	// An edited applied migration is reported, and up refuses to go on.
	up := filepath.Join(dir, "0001_init.up.sql")
	b, _ := os.ReadFile(up)
	if err := os.WriteFile(up, append(b, []byte("\n-- edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	expect(t, shop(t, env, "migrate", "status", dirFlag), 3, "modified")
	expect(t, shop(t, env, "migrate", "up", dirFlag), 3, "edited")

	admin := pgtest.AdminURL(t)
	exists := func() bool {
		return pgtest.Scalar[bool](t, admin, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)
			OR EXISTS (SELECT 1 FROM pg_roles WHERE starts_with(rolname, $1 || '_'))`, name)
	}
	// No --yes and no terminal (stdin is /dev/null): refused, nothing dropped.
	refused := shop(t, env, "db", "drop")
	expect(t, refused, 2, "not dropping database "+name+" without --yes", "no terminal")
	if !exists() {
		t.Fatal("db drop without --yes dropped the database")
	}
	if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(new(int)); err != nil {
		t.Fatalf("a refused db drop cut the connections: %v", err)
	}
	dropped := shop(t, env, "db", "drop", "--yes")
	expect(t, dropped, 0, "dropped")
	if dropped.stdout != "" {
		t.Fatalf("db drop reports on stdout:\n%s", dropped)
	}
	if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(new(int)); err == nil {
		t.Fatal("connection to a dropped database still works")
	}
	if exists() {
		t.Fatal("database or roles left after db drop --yes")
	}
}

// TestDemo runs `uno demo` with no DATABASE_URL: it starts its own
// PostgreSQL, and every step checks its outcome, so exit 0 means each step
// behaved as printed.
func TestDemo(t *testing.T) {
	t.Parallel()
	r := uno(t, nil, "demo")
	expect(t, r, 0, "demo finished")
}

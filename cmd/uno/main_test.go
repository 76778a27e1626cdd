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

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "uno-cli-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "uno")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build uno: %v\n%s", err, out)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	pgtest.Main(m)
}

type result struct {
	code           int
	stdout, stderr string
}

// uno runs the built command as a subprocess with the given environment.
func uno(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
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

func expect(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Fatalf("output lacks %q\nstdout:\n%s\nstderr:\n%s", w, r.stdout, r.stderr)
		}
	}
}

// TestLifecycle runs the command against a real server: db create twice,
// emit, migrate new/up/status/diff/down/redo, an edited migration, db drop.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("uno_cli_%d", time.Now().UnixNano()%1e9)
	url := pgtest.WithPath(pgtest.AdminURL(t), name)
	env := []string{"DATABASE_URL=" + url, "UNO_LOGIN_PASSWORD=s3cr'et pw"}
	dir := t.TempDir()
	dirFlag := "--dir=" + dir
	t.Cleanup(func() { uno(t, env, "db", "drop") })

	expect(t, uno(t, env, "db", "create"), 0, "database "+name+" ready")
	expect(t, uno(t, env, "db", "create"), 0, "ready")
	emitted := uno(t, env, "emit")
	expect(t, emitted, 0, `CREATE TABLE IF NOT EXISTS "order"`, "generate_ulid", "CREATE POLICY", "PASSWORD '***'")
	if strings.Contains(emitted.stdout, "s3cr") {
		t.Fatal("emit printed the login password")
	}
	// Objects the models do not know are left alone by up and by down.
	legacy, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := legacy.Exec(context.Background(), `CREATE TABLE legacy (id int); CREATE TYPE legacy_mood AS ENUM ('meh')`); err != nil {
		t.Fatal(err)
	}
	legacy.Close(context.Background())
	expect(t, uno(t, env, "migrate", "status", dirFlag), 0, "no migrations")
	expect(t, uno(t, env, "migrate", "diff", "--check", dirFlag), 3, `CREATE TABLE "public"."order"`)
	expect(t, uno(t, env, "migrate", "new", "init", dirFlag), 0, "0001_init.up.sql")
	expect(t, uno(t, env, "migrate", "up", dirFlag), 0, "applied 0001_init")
	expect(t, uno(t, env, "migrate", "diff", "--check", dirFlag), 0, "no differences")
	expect(t, uno(t, env, "migrate", "status", dirFlag), 0, "0001_init", "applied")

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

	expect(t, uno(t, env, "migrate", "down", dirFlag), 0, "reverted 0001_init")
	var tables int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
		AND tablename NOT IN ('uno_schema_migrations', 'legacy')`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("%d tables after down (%v)", tables, err)
	}
	var kept bool
	if err := conn.QueryRow(context.Background(), `SELECT to_regclass('legacy') IS NOT NULL AND to_regtype('legacy_mood') IS NOT NULL`).Scan(&kept); err != nil || !kept {
		t.Fatalf("down touched objects the models do not know (%v)", err)
	}
	expect(t, uno(t, env, "migrate", "status", dirFlag), 0, "pending")
	expect(t, uno(t, env, "migrate", "up", "1", dirFlag), 0, "applied 0001_init")
	expect(t, uno(t, env, "migrate", "redo", dirFlag), 0, "redone")
	expect(t, uno(t, env, "migrate", "up", dirFlag), 0, "nothing to apply")

	// An edited applied migration is reported, and up refuses to go on.
	up := filepath.Join(dir, "0001_init.up.sql")
	b, _ := os.ReadFile(up)
	if err := os.WriteFile(up, append(b, []byte("\n-- edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	expect(t, uno(t, env, "migrate", "status", dirFlag), 3, "modified")
	expect(t, uno(t, env, "migrate", "up", dirFlag), 3, "edited")

	expect(t, uno(t, env, "db", "drop"), 0, "dropped")
	var exists bool
	if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(new(int)); err == nil {
		t.Fatal("connection to a dropped database still works")
	}
	admin, err := pgx.Connect(context.Background(), pgtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if err := admin.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)
		OR EXISTS (SELECT 1 FROM pg_roles WHERE starts_with(rolname, $1 || '_'))`, name).Scan(&exists); err != nil || exists {
		t.Fatalf("database or roles left after db drop (%v)", err)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"frobnicate"}, {"migrate"}, {"migrate", "up", "zero"}, {"migrate", "new"}, {"--no-such-flag", "emit"}} {
		r := uno(t, nil, args...)
		expect(t, r, 2, "usage:")
	}
	expect(t, uno(t, nil, "help"), 0, "migrate diff")
	expect(t, uno(t, []string{"DATABASE_URL=postgres://h:70000/x"}, "emit"), 1, "Port")
}

// TestDemo runs `uno demo` with no DATABASE_URL: it starts its own
// PostgreSQL, and every step checks its outcome, so exit 0 means each step
// behaved as printed.
func TestDemo(t *testing.T) {
	t.Parallel()
	r := uno(t, []string{"DATABASE_URL=", "PGHOST="}, "demo")
	expect(t, r, 0, "demo finished")
}

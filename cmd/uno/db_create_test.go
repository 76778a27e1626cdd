package main_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

// TestDBCreateKeepsRights: on a database that exists, db create takes no
// rights away without --take-rights (issue 13, item 9): a role that
// connects through PUBLIC's CONNECT and reads through PUBLIC's USAGE on
// schema public keeps working, the owner stays, and what is left alone is
// listed; uno's roles still work (migrations with their own schema apply).
// With --take-rights the rights go, and a third run has nothing to report.
func TestDBCreateKeepsRights(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("uno_cli_keep_%d", time.Now().UnixNano()%1e9)
	admin := pgtest.AdminURL(t)
	dbURL := pgtest.WithPath(admin, name)
	env := []string{"DATABASE_URL=" + dbURL}
	sales := func(args ...string) result { t.Helper(); return run{bin: salesBin, env: env}.do(t, args...) }
	reporter := `rep'orter "` + name + `"`
	pgtest.Exec(t, admin, "CREATE DATABASE "+quote.Ident(name), "CREATE ROLE "+quote.Ident(reporter)+" LOGIN")
	t.Cleanup(func() {
		sales("db", "drop", "--yes")
		pgtest.Exec(t, admin, "DROP DATABASE IF EXISTS "+quote.Ident(name)+" WITH (FORCE)", "DROP ROLE IF EXISTS "+quote.Ident(reporter))
	})
	pgtest.Exec(t, dbURL, `CREATE TABLE public.report (n int)`, `INSERT INTO public.report VALUES (1), (2)`,
		"GRANT SELECT ON public.report TO "+quote.Ident(reporter))
	owner := pgtest.Scalar[string](t, admin, `SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1`, name)

	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(reporter)
	reporterURL := u.String()
	// reads connects as the reporter and counts the report's rows.
	reads := func() (int64, error) {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, reporterURL)
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		var n int64
		err = conn.QueryRow(ctx, "SELECT count(*) FROM public.report").Scan(&n)
		return n, err
	}
	if n, err := reads(); err != nil || n != 2 {
		t.Fatalf("the reporter reads %d rows before db create (%v)", n, err)
	}

	for range 2 { // twice: the second run leaves the same rights alone
		r := sales("db", "create")
		expect(t, r, 0, "ready", "without --take-rights", "left alone",
			"PUBLIC has CONNECT, TEMPORARY on database "+quote.Ident(name),
			`PUBLIC has USAGE on schema "public"`,
			"database "+quote.Ident(name)+" is owned by "+quote.Ident(owner))
		if n, err := reads(); err != nil || n != 2 {
			t.Fatalf("the reporter reads %d rows after db create (%v)\n%s", n, err, r)
		}
		if got := pgtest.Scalar[string](t, admin, `SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1`, name); got != owner {
			t.Fatalf("db create without --take-rights made %s the owner", got)
		}
	}
	// uno's roles work on it: the admin role creates the models' schema
	// and tables.
	dir := "--dir=" + t.TempDir()
	expect(t, sales("migrate", "new", "init", dir), 0, "0001_init")
	expect(t, sales("migrate", "up", dir), 0, "applied 0001_init")
	expect(t, sales("migrate", "diff", "--check"), 0, "no differences")
	if got := pgtest.Scalar[string](t, dbURL, `SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = '"sales ops"."order"'::regclass`); got != name+"_admin" {
		t.Fatalf(`"sales ops"."order" owned by %s`, got)
	}

	took := sales("db", "create", "--take-rights")
	expect(t, took, 0, "ready", "took: PUBLIC has CONNECT, TEMPORARY on database")
	if _, err := reads(); err == nil || !strings.Contains(err.Error(), "42501") {
		t.Fatalf("the reporter still connects after --take-rights (%v)", err)
	}
	if got := pgtest.Scalar[string](t, admin, `SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1`, name); got != name+"_admin" {
		t.Fatalf("db create --take-rights left %s the owner", got)
	}
	again := sales("db", "create")
	expect(t, again, 0, "ready")
	if strings.Contains(again.stderr, "left alone") || strings.Contains(again.stderr, "took") {
		t.Fatalf("nothing is left to take, but db create reports:\n%s", again)
	}
}

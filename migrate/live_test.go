package migrate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/migrate"
)

// catalogSnapshot returns the catalog facts of the database at url that a
// plan could change: relations with their ACLs and options, columns,
// constraints, indexes, triggers, policies, namespaces, the database's
// owner, ACL and settings, and the role settings in the database
// (pg_db_role_setting).
func catalogSnapshot(t *testing.T, url string) []string {
	t.Helper()
	return pgtest.Scalar[[]string](t, url, `SELECT coalesce(array_agg(x ORDER BY x), '{}') FROM (
		SELECT format('rel %s %s %s %s %s %s', c.oid::regclass, c.relkind, c.relacl, c.reloptions, c.relrowsecurity, c.relforcerowsecurity)
			FROM pg_class c WHERE c.oid >= 16384
		UNION ALL SELECT format('att %s %s %s %s %s %s', a.attrelid::regclass, a.attname, a.atttypid::regtype, a.attcollation, a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
			FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid >= 16384
		UNION ALL SELECT format('con %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) FROM pg_constraint WHERE oid >= 16384
		UNION ALL SELECT format('trg %s', pg_get_triggerdef(oid)) FROM pg_trigger WHERE oid >= 16384
		UNION ALL SELECT format('pol %s %s %s', polrelid::regclass, polname, pg_get_expr(polqual, polrelid)) FROM pg_policy
		UNION ALL SELECT format('nsp %s %s %s', nspname, nspowner, nspacl) FROM pg_namespace
		UNION ALL SELECT format('typ %s %s', oid::regtype, typowner) FROM pg_type WHERE oid >= 16384
		UNION ALL SELECT format('db %s %s %s', datname, datdba, datacl) FROM pg_database WHERE datname = current_database()
		UNION ALL SELECT format('setting %s %s', setrole, setconfig) FROM pg_db_role_setting
			WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
	) s(x)`)
}

// TestPlanLiveChangesNothing: planning against a live database with a
// database-level and a role-level search_path changes no catalog fact
// there (the setup's ALTER ROLE … IN DATABASE is not re-applied), and
// finds no difference with models identical to it: types and indexes are
// compared as facts, not text printed under a search path.
func TestPlanLiveChangesNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	user := pgtest.Scalar[string](t, db.URL, "SELECT current_user")
	schema := []string{
		`CREATE SCHEMA IF NOT EXISTS "a""pp"`,
		`CREATE TYPE "a""pp".mood AS ENUM ('happy', 'it''s')`,
		`CREATE TABLE "a""pp"."order" (id bigint PRIMARY KEY, m "a""pp".mood NOT NULL DEFAULT 'happy', code text, tags "a""pp".mood[])`,
		`CREATE INDEX "ix_order_m" ON "a""pp"."order" (m, lower(code)) WHERE m <> 'it''s'`,
	}
	pgtest.Exec(t, db.URL, schema...)
	pgtest.Exec(t, db.URL,
		`ALTER DATABASE `+quoteIdent(db.Name)+` SET search_path = "a""pp", public`,
		`ALTER ROLE `+quoteIdent(user)+` IN DATABASE `+quoteIdent(db.Name)+` SET search_path = "a""pp", public`)
	before := catalogSnapshot(t, db.URL)
	setup := []emit.Statement{
		{Name: `a"pp`, Kind: emit.KindSchema, SQL: `CREATE SCHEMA IF NOT EXISTS "a""pp"`},
		{Name: user, Kind: emit.KindRole, SQL: `ALTER ROLE ` + quoteIdent(user) + ` IN DATABASE ` + quoteIdent(db.Name) + ` SET search_path = public`},
	}
	up, down, err := migrate.PlanLive(ctx, migrate.Target{Config: adminConfig(t, db.URL), Setup: setup,
		Models: statements(schema[1:]...)}, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !up.Empty() || !down.Empty() {
		t.Fatalf("models identical to the database, yet a plan:\n%s\ndown:\n%s", up.SQL(), down.SQL())
	}
	if after := catalogSnapshot(t, db.URL); !slices.Equal(before, after) {
		t.Fatalf("planning changed the live database:\nbefore %q\nafter  %q", before, after)
	}
}

// TestPlanLiveModelsInASchemaAsRole: models with their own schema are
// planned as the admin role, which is not the scratch database's owner.
func TestPlanLiveModelsInASchemaAsRole(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	role := db.Name + `_ad"min`
	pgtest.Exec(t, db.URL, "CREATE ROLE "+quoteIdent(role)+" NOLOGIN")
	models := statements(`CREATE SCHEMA IF NOT EXISTS "sh""op"`, `CREATE TABLE "sh""op".item (id bigint PRIMARY KEY)`)
	up, _, err := migrate.PlanLive(context.Background(), migrate.Target{Config: adminConfig(t, db.URL), Models: models, Role: role},
		migrate.Options{})
	if err != nil {
		t.Fatalf("plan as %s: %v", role, err)
	}
	if err := migrate.Apply(context.Background(), connect(t, db.URL), up, false); err != nil {
		t.Fatalf("%v\n%s", err, up.SQL())
	}
	if owner := pgtest.Scalar[string](t, db.URL, `SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = '"sh""op".item'::regclass`); owner == "" {
		t.Fatal("table not created")
	}
}

// TestTypeChangeKeepsCollation: a column's collation the model does not
// declare survives a type change, and a changed collation is diffed.
func TestTypeChangeKeepsCollation(t *testing.T) {
	t.Parallel()
	liveDB, scratchDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	live, scratch := connect(t, liveDB.URL), connect(t, scratchDB.URL)
	ctx := context.Background()
	pgtest.Exec(t, liveDB.URL, `CREATE TABLE t (id int PRIMARY KEY, name varchar(10) COLLATE "C", other text)`)
	want, err := migrate.DesiredIn(ctx, scratch, statements(`CREATE TABLE t (id int PRIMARY KEY, name varchar(20), other text COLLATE "POSIX")`))
	if err != nil {
		t.Fatal(err)
	}
	plan := migrate.Diff(inspect(t, live), want, migrate.Options{})
	if err := migrate.Apply(ctx, live, plan, false); err != nil {
		t.Fatalf("%v\n%s", err, plan.SQL())
	}
	got := pgtest.Scalar[[]string](t, liveDB.URL, `SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || c.collname ORDER BY a.attnum)
		FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation WHERE a.attrelid = 't'::regclass AND a.attnum > 0`)
	if !slices.Equal(got, []string{"name character varying(20) C", "other text POSIX"}) {
		t.Fatalf("columns after the plan: %q\n%s", got, plan.SQL())
	}
	if p := migrate.Diff(inspect(t, live), want, migrate.Options{}); !p.Empty() {
		t.Fatalf("drift:\n%s", p.SQL())
	}
}

// TestNarrowingFailsLikeAlter: narrowing a column whose values do not fit
// fails like a plain ALTER (22001) instead of cutting the values, in the
// up and in the down direction, and a narrowing down plan is destructive.
func TestNarrowingFailsLikeAlter(t *testing.T) {
	t.Parallel()
	liveDB, scratchDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	live, scratch := connect(t, liveDB.URL), connect(t, scratchDB.URL)
	ctx := context.Background()
	pgtest.Exec(t, liveDB.URL, `CREATE TABLE t (id int PRIMARY KEY, code varchar(10), n numeric(6,2))`,
		`INSERT INTO t VALUES (1, 'abcdefghij', 1234.5)`)
	want, err := migrate.DesiredIn(ctx, scratch, statements(`CREATE TABLE t (id int PRIMARY KEY, code varchar(3), n numeric(6,2))`))
	if err != nil {
		t.Fatal(err)
	}
	plan := migrate.Diff(inspect(t, live), want, migrate.Options{})
	if !errors.Is(plan.Check(false), migrate.ErrDestructive) {
		t.Fatalf("narrowing not destructive:\n%s", plan.SQL())
	}
	err = migrate.Apply(ctx, live, plan, true)
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "22001" {
		t.Fatalf("narrowing over a long value: %v\n%s", err, plan.SQL())
	}
	if v := pgtest.Scalar[string](t, liveDB.URL, "SELECT code FROM t"); v != "abcdefghij" {
		t.Fatalf("value cut to %q", v)
	}

	// The down plan of a widening narrows: destructive, and it fails
	// rather than cut what was written meanwhile.
	pgtest.Exec(t, liveDB.URL, `TRUNCATE t`, `ALTER TABLE t ALTER COLUMN code TYPE varchar(3)`)
	wide, err := migrate.DesiredIn(ctx, connect(t, pgtest.NewDatabase(t).URL), statements(`CREATE TABLE t (id int PRIMARY KEY, code varchar(10), n numeric(6,2))`))
	if err != nil {
		t.Fatal(err)
	}
	before := inspect(t, live)
	up, down := migrate.Diff(before, wide, migrate.Options{}), migrate.Reverse(before, wide, migrate.Options{})
	if err := up.Check(false); err != nil {
		t.Fatalf("widening is destructive: %v", err)
	}
	if !errors.Is(down.Check(false), migrate.ErrDestructive) || !strings.Contains(strings.Join(down.Lints(), "\n"), "type change") {
		t.Fatalf("narrowing down plan not destructive and linted:\n%s", down.SQL())
	}
	if err := migrate.Apply(ctx, live, up, false); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, liveDB.URL, `INSERT INTO t VALUES (2, 'long value', 1)`)
	err = migrate.Apply(ctx, live, down, true)
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "22001" {
		t.Fatalf("down over a long value: %v\n%s", err, down.SQL())
	}
	pgtest.Exec(t, liveDB.URL, `DELETE FROM t`)
	if err := migrate.Apply(ctx, live, down, true); err != nil {
		t.Fatal(err)
	}
	if got := inspect(t, live).String(); got != before.String() {
		t.Fatalf("down does not restore the table:\n%s\nwant\n%s", got, before)
	}
}

// TestPlanLiveModelsNameLiveTypes: models may name a domain and a
// sequence of the live database (a type: tag, a nextval default); the
// scratch database gets them, the plan creates the table using them.
func TestPlanLiveModelsNameLiveTypes(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	pgtest.Exec(t, db.URL, `CREATE SCHEMA "sh""op"`, `CREATE SEQUENCE "sh""op"."shared seq" AS integer`,
		`CREATE DOMAIN "sh""op".positive AS integer NOT NULL CONSTRAINT "pos;itive" CHECK (VALUE > 0)`,
		`CREATE TYPE "sh""op".pair AS (a "sh""op".positive, b text)`)
	models := statements(`CREATE TABLE "sh""op".item (id bigint DEFAULT nextval('"sh""op"."shared seq"') PRIMARY KEY, n "sh""op".positive, p "sh""op".pair)`)
	target := migrate.Target{Config: adminConfig(t, db.URL), Models: models}
	up, _, err := migrate.PlanLive(ctx, target, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate.Apply(ctx, connect(t, db.URL), up, false); err != nil {
		t.Fatalf("%v\n%s", err, up.SQL())
	}
	pgtest.Exec(t, db.URL, `INSERT INTO "sh""op".item (n, p) VALUES (3, ROW(1, 'x'))`)
	if owner := sharedSequenceOwner(t, db.URL, `"sh""op"."shared seq"`); owner != "" {
		t.Fatalf("the plan made the existing sequence belong to %s", owner)
	}
	if again, _, err := migrate.PlanLive(ctx, target, migrate.Options{}); err != nil || !again.Empty() {
		t.Fatalf("drift (%v):\n%s", err, again.SQL())
	}
}

// sharedSequenceOwner returns the column owning the sequence, "" when
// none.
func sharedSequenceOwner(t *testing.T, url, seq string) string {
	t.Helper()
	return pgtest.Scalar[string](t, url, `SELECT coalesce((SELECT refobjid::regclass::text || '.' || refobjsubid FROM pg_depend
		WHERE classid = 'pg_class'::regclass AND objid = $1::regclass AND deptype = 'a'), '')`, seq)
}

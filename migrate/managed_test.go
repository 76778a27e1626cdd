package migrate_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/migrate"
)

// unmanagedLive builds a modelled table carrying every kind of object a
// model does not declare; the model (desired) has the plain columns and
// one new column.
func unmanagedLive(role string) (live, desired []string) {
	q := quoteIdent
	live = []string{
		`CREATE SCHEMA "we""ird"`,
		`CREATE TABLE "we""ird"."order" (
			id bigserial,
			"na;me" text COLLATE "C" NOT NULL,
			total bigint NOT NULL DEFAULT 0,
			"total x2" bigint GENERATED ALWAYS AS (total * 2) STORED,
			during tstzrange,
			code text,
			CONSTRAINT "pk_order" PRIMARY KEY (id),
			CONSTRAINT "uq_order_code" UNIQUE (code) DEFERRABLE INITIALLY DEFERRED,
			CONSTRAINT "no overlap" EXCLUDE USING gist (during WITH &&),
			CONSTRAINT "positive; total" CHECK (total >= 0))`,
		`CREATE INDEX "lower(na;me)" ON "we""ird"."order" (lower("na;me"))`,
		`CREATE INDEX "big orders" ON "we""ird"."order" (total) WHERE total > 1000`,
		`CREATE FUNCTION "we""ird".audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
		`CREATE TRIGGER "aud""it" BEFORE UPDATE ON "we""ird"."order" FOR EACH ROW EXECUTE FUNCTION "we""ird".audit()`,
		`ALTER TABLE "we""ird"."order" ENABLE ROW LEVEL SECURITY`,
		`ALTER TABLE "we""ird"."order" FORCE ROW LEVEL SECURITY`,
		`CREATE POLICY "own'rows" ON "we""ird"."order" USING (code = current_user)`,
		`GRANT SELECT, UPDATE ON "we""ird"."order" TO ` + q(role),
		`COMMENT ON COLUMN "we""ird"."order".code IS 'hand-written'`,
		`INSERT INTO "we""ird"."order" ("na;me", total, code) VALUES ('a', 1, 'x'), ('b', 2, 'y')`,
	}
	desired = []string{
		`CREATE SCHEMA "we""ird"`,
		`CREATE TABLE "we""ird"."order" (
			id bigint,
			"na;me" text NOT NULL,
			total bigint NOT NULL DEFAULT 0,
			"total x2" bigint,
			during tstzrange,
			code text,
			added text,
			CONSTRAINT "pk_order" PRIMARY KEY (id),
			CONSTRAINT "uq_order_code" UNIQUE (code))`,
	}
	return live, desired
}

// TestPlanLeavesUnmanagedAlone: on a modelled table, a plan touches only
// what the model declares; policies, row-level security, triggers,
// exclusion constraints, expression and partial indexes, grants to other
// roles, serial's default, a generated expression, deferrability, a
// collation and a hand-written comment stay exactly as they were. With
// DropUnmanaged, removing them is destructive, linted and refused.
func TestPlanLeavesUnmanagedAlone(t *testing.T) {
	t.Parallel()
	liveDB, scratchDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	live, scratch := connect(t, liveDB.URL), connect(t, scratchDB.URL)
	ctx := context.Background()
	role := liveDB.Name + ` aud"itor`
	pgtest.Exec(t, liveDB.URL, "CREATE ROLE "+quoteIdent(role)+" NOLOGIN")
	liveSQL, desiredSQL := unmanagedLive(role)
	pgtest.Exec(t, liveDB.URL, liveSQL...)
	want, err := migrate.DesiredIn(ctx, scratch, statements(desiredSQL...))
	if err != nil {
		t.Fatal(err)
	}
	before := inspect(t, live)

	plan := migrate.Diff(before, want, migrate.Options{})
	if len(plan.Changes) != 1 || !strings.Contains(plan.Changes[0].SQL, `ADD COLUMN "added" text`) {
		t.Fatalf("plan does more than add the new column:\n%s", plan.SQL())
	}
	if err := migrate.Apply(ctx, live, plan, false); err != nil {
		t.Fatalf("apply without allow-destructive: %v\n%s", err, plan.SQL())
	}
	after := inspect(t, live)
	// Everything but the new column is as it was.
	if got, wantText := dropLine(after.String(), "column added "), before.String(); got != wantText {
		t.Fatalf("unmanaged objects changed:\nbefore:\n%s\nafter:\n%s", wantText, got)
	}
	if p := migrate.Diff(after, want, migrate.Options{}); !p.Empty() {
		t.Fatalf("drift after the plan:\n%s", p.SQL())
	}
	// serial's default still works: the next insert gets an id.
	pgtest.Exec(t, liveDB.URL, `INSERT INTO "we""ird"."order" ("na;me", code) VALUES ('c', 'z')`)
	if n := pgtest.Scalar[int64](t, liveDB.URL, `SELECT "total x2" FROM "we""ird"."order" WHERE code = 'y'`); n != 4 {
		t.Fatalf("generated column: %d", n)
	}

	// Claiming everything: each removal is destructive, linted and refused.
	prune := migrate.Diff(after, want, migrate.Options{DropUnmanaged: true})
	err = prune.Check(false)
	if !errors.Is(err, migrate.ErrDestructive) {
		t.Fatalf("pruning plan not destructive: %v\n%s", err, prune.SQL())
	}
	lints := strings.Join(prune.Lints(), "\n")
	for _, want := range []string{`policy own'rows`, "row-level security", "forced row-level security", `trigger aud"it`,
		"constraint no overlap", "constraint positive; total", "index lower(na;me)", "index big orders",
		"SELECT granted to " + role, "the default of column id", "DROP EXPRESSION", "deferrability", "collation"} {
		if !strings.Contains(lints, want) {
			t.Errorf("lint does not name %q:\n%s", want, lints)
		}
	}
	for _, c := range prune.Changes {
		if regexp.MustCompile(`^(ALTER TABLE .* (DROP|DISABLE|NO FORCE)|DROP|REVOKE)`).MatchString(c.SQL) &&
			!c.Destructive && !strings.Contains(c.SQL, "DROP DEFAULT") {
			t.Errorf("removal not marked destructive: %s", c.SQL)
		}
	}
	if err := migrate.Apply(ctx, live, prune, false); !errors.Is(err, migrate.ErrDestructive) {
		t.Fatalf("pruning plan applied without the flag: %v", err)
	}
	if got := inspect(t, live).String(); got != after.String() {
		t.Fatalf("a refused plan changed the database:\n%s", got)
	}
}

func dropLine(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

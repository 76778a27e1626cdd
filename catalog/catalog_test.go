package catalog_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestInspect reads back every kind of object the catalog knows from a
// real database, with hostile names, and leaves extension objects out.
func TestInspect(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	reader := db.Name + "_reader"
	for _, s := range []string{
		`CREATE EXTENSION pgcrypto`,
		`CREATE ROLE "` + reader + `" NOLOGIN`,
		`CREATE SCHEMA "we""ird"`,
		`CREATE TYPE "we""ird"."mood" AS ENUM ('happy', 'it''s')`,
		`CREATE TABLE "we""ird"."order" (
			"id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			"sku" varchar(64) NOT NULL DEFAULT 'x',
			"m" "we""ird"."mood",
			"total" numeric(12,2) CHECK ("total" >= 0),
			"double" bigint GENERATED ALWAYS AS ("id" * 2) STORED,
			CONSTRAINT "uq_sku" UNIQUE ("sku"))`,
		`CREATE TABLE "we""ird"."line" ("order_id" bigint REFERENCES "we""ird"."order" ("id") ON DELETE CASCADE, "n" int)`,
		`CREATE INDEX "ix_line_n" ON "we""ird"."line" ("n") WHERE "n" > 0`,
		`COMMENT ON TABLE "we""ird"."order" IS 'Orders; it''s true'`,
		`COMMENT ON COLUMN "we""ird"."order"."sku" IS 'Stock unit'`,
		`CREATE FUNCTION "we""ird".touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
		`CREATE TRIGGER "t_touch" BEFORE UPDATE ON "we""ird"."line" FOR EACH ROW EXECUTE FUNCTION "we""ird".touch()`,
		`ALTER TABLE "we""ird"."line" ENABLE ROW LEVEL SECURITY`,
		`CREATE POLICY "p_n" ON "we""ird"."line" FOR SELECT TO "` + reader + `" USING ("n" > 1)`,
		`GRANT SELECT, INSERT ON "we""ird"."line" TO "` + reader + `"`,
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	got, err := catalog.Inspect(ctx, conn, `we"ird`)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Schemas, []string{`we"ird`}) || len(got.Tables) != 2 {
		t.Fatalf("schemas %q, %d tables", got.Schemas, len(got.Tables))
	}
	order := got.Table(`we"ird`, "order")
	if order == nil || order.Comment != "Orders; it's true" {
		t.Fatalf("order: %+v", order)
	}
	id, sku, double := order.Column("id"), order.Column("sku"), order.Column("double")
	if id.Identity != "always" || !id.NotNull || sku.Type != "character varying(64)" || sku.Default != "'x'::character varying" ||
		sku.Comment != "Stock unit" || double.Generated != "(id * 2)" {
		t.Fatalf("columns: %+v %+v %+v", id, sku, double)
	}
	if m := order.Column("m"); m.Type != `"we""ird".mood` || m.NotNull {
		t.Fatalf("enum column: %+v", m)
	}
	var kinds []string
	for _, c := range order.Constraints {
		kinds = append(kinds, c.Type)
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{"c", "p", "u"}) {
		t.Fatalf("constraints %+v", order.Constraints)
	}
	line := got.Table(`we"ird`, "line")
	if len(line.Constraints) != 1 || line.Constraints[0].Type != "f" || len(line.Indexes) != 1 || len(line.Triggers) != 1 ||
		len(line.Policies) != 1 || line.Policies[0].Command != "SELECT" || !slices.Equal(line.Policies[0].Roles, []string{reader}) ||
		!line.RowSecurity || line.ForceRLS {
		t.Fatalf("line: %+v", line)
	}
	if !slices.Equal(line.Grants, []catalog.Grant{{Grantee: reader, Privilege: "INSERT"}, {Grantee: reader, Privilege: "SELECT"}}) {
		t.Fatalf("grants %+v", line.Grants)
	}
	if len(got.Enums) != 1 || !slices.Equal(got.Enums[0].Values, []string{"happy", "it's"}) || len(got.Functions) != 1 {
		t.Fatalf("enums %+v, functions %d", got.Enums, len(got.Functions))
	}
	// Every schema: pgcrypto's functions (in public) are an extension's, not ours.
	all, err := catalog.Inspect(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all.Functions {
		if f.Schema == "public" {
			t.Fatalf("extension function inspected: %s", f.Name)
		}
	}
	if !slices.Contains(all.Schemas, "public") || !slices.Contains(all.Schemas, `we"ird`) {
		t.Fatalf("schemas %q", all.Schemas)
	}
}

// TestInspectDomains: a domain's definition (base type, collation,
// default, NOT NULL, named checks) is read as the statement that creates
// it again: run in another database, it inspects the same.
func TestInspectDomains(t *testing.T) {
	t.Parallel()
	a, b := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	ctx := context.Background()
	pgtest.Exec(t, a.URL, `CREATE SCHEMA "do""m"`,
		`CREATE DOMAIN "do""m"."co;de" AS varchar(12) COLLATE "C" DEFAULT 'x' NOT NULL
			CONSTRAINT "up per" CHECK (VALUE = upper(VALUE)) CONSTRAINT short CHECK (length(VALUE) > 1)`,
		`CREATE DOMAIN "do""m".cents AS bigint`)
	read := func(url string) *catalog.Database {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		db, err := catalog.Inspect(ctx, conn, `do"m`)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	got := read(a.URL)
	want := []catalog.Domain{
		{Schema: `do"m`, Name: "cents", Def: `CREATE DOMAIN "do""m".cents AS bigint`},
		{Schema: `do"m`, Name: "co;de", Def: `CREATE DOMAIN "do""m"."co;de" AS character varying(12) COLLATE pg_catalog."C" DEFAULT 'x'::character varying NOT NULL` +
			` CONSTRAINT short CHECK ((length((VALUE)::text) > 1)) CONSTRAINT "up per" CHECK (((VALUE)::text = upper((VALUE)::text)))`},
	}
	if !slices.Equal(got.Domains, want) {
		t.Fatalf("domains\n%q\nwant\n%q", got.Domains, want)
	}
	stmts := []string{`CREATE SCHEMA "do""m"`}
	for _, d := range got.Domains {
		stmts = append(stmts, d.Def)
	}
	pgtest.Exec(t, b.URL, stmts...)
	if again := read(b.URL); !slices.Equal(again.Domains, got.Domains) {
		t.Fatalf("re-created domains\n%q\nwant\n%q", again.Domains, got.Domains)
	}
}

package migrate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/migrate"
	"github.com/uno-db/uno/migrate/gogen"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// tagRoom says, in tags and TableDef, what issue 13 asked the models to
// say: a serial key, collations, a stored generated column, deferrable
// unique and foreign keys, expression and partial indexes, an exclusion
// constraint (with btree_gist), a live domain and a live sequence. The
// names are hostile.
type tagRoom struct {
	model.BaseModel `uno:"table:ro\"om;,schema:ta\"gs"`
	ID              int64          `uno:"id,pk,serial"`
	Name            string         `uno:"na\"me,collate:C,unique,deferrable:deferred"`
	Code            string         `uno:"code,collate:\"pg_catalog\".\"POSIX\""`
	Price           types.Decimal  `uno:"price,type:numeric(12,2)"`
	Qty             int32          `uno:"qty,default:1"`
	Total           *types.Decimal `uno:"total,type:numeric(14,2),generated:\"price\" * \"qty\""`
	During          *string        `uno:"during,type:tstzrange"`
	Room            int32          `uno:"room"`
	ParentID        *int64         `uno:"parent id,fk:ro\"om;.id,ondelete:cascade,deferrable"`
	Ref             int64          `uno:"ref,default:nextval('\"ta\"\"gs\".\"shared seq\"'::regclass)"`
	Amount          *types.Decimal `uno:"amount,type:\"ta\"\"gs\".positive"`
	Small           int16          `uno:"small,serial"`
	Fee             tagCents       `uno:"fee"`
}

// tagCents is a domain the models create.
type tagCents int64

func (tagCents) DomainDef() model.DomainDef {
	return model.DomainDef{Name: `ce"nts`, Type: "BIGINT", Default: "0", Check: "VALUE >= 0"}
}

func (tagRoom) TableDef() model.TableDef {
	return model.TableDef{
		Uniques: []model.UniqueDef{{Columns: []string{"code", "room"}, Deferrable: true}},
		Indexes: []model.IndexDef{
			{Name: `ix lower "na;me"`, Expressions: []string{`lower("na""me")`}},
			{Name: "ix_open", Columns: []string{"qty"}, Where: `"qty" > 1`},
			{Name: "ix_mixed", Columns: []string{"room"}, Expressions: []string{`"qty" * 2`}, Using: "btree"},
		},
		Excludes: []model.ExcludeDef{{Name: `ex_ro"om;_during`, Elements: []string{`"during" WITH &&`, `"room" WITH =`}, Where: `"qty" > 0`}},
	}
}

// tagsPrerequisites are the live objects the model names, and the
// extension its exclusion constraint needs.
var tagsPrerequisites = []string{
	`CREATE EXTENSION IF NOT EXISTS btree_gist`,
	`CREATE SCHEMA "ta""gs"`,
	`CREATE SEQUENCE "ta""gs"."shared seq" AS bigint`,
	`CREATE DOMAIN "ta""gs".positive AS numeric CONSTRAINT "po;s" CHECK (VALUE > 0)`,
}

// TestTagsPlanFromNothing: the table of tagRoom is emitted with every
// option as DDL, planned from nothing and applied, behaves as declared
// (serial, generated, collation, deferrable, exclusion), plans no change
// afterwards even when the models claim the whole table, and the models
// generated from the live table plan no change either.
func TestTagsPlanFromNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	pgtest.Exec(t, db.URL, tagsPrerequisites...)
	stmts := modelStatements(t, &tagRoom{})
	var ddl strings.Builder
	for _, s := range stmts {
		ddl.WriteString(s.SQL + ";\n")
	}
	for _, want := range []string{
		`"id" BIGSERIAL NOT NULL`,
		`"small" SMALLSERIAL NOT NULL`,
		`"na""me" TEXT COLLATE "C" NOT NULL`,
		`"code" TEXT COLLATE "pg_catalog"."POSIX" NOT NULL`,
		`"total" numeric(14,2) GENERATED ALWAYS AS ("price" * "qty") STORED`,
		`CONSTRAINT "uq_ro""om;_na""me" UNIQUE ("na""me") DEFERRABLE INITIALLY DEFERRED`,
		`CONSTRAINT "uq_ro""om;_code_room" UNIQUE ("code", "room") DEFERRABLE`,
		`CONSTRAINT "ex_ro""om;_during" EXCLUDE USING "gist" ("during" WITH &&, "room" WITH =) WHERE ("qty" > 0)`,
		`REFERENCES "ta""gs"."ro""om;" ("id") ON DELETE CASCADE DEFERRABLE`,
		`CREATE INDEX IF NOT EXISTS "ix lower ""na;me""" ON "ta""gs"."ro""om;" ((lower("na""me")))`,
		`CREATE INDEX IF NOT EXISTS "ix_open" ON "ta""gs"."ro""om;" ("qty") WHERE "qty" > 1`,
		`CREATE INDEX IF NOT EXISTS "ix_mixed" ON "ta""gs"."ro""om;" USING "btree" ("room", ("qty" * 2))`,
		`CREATE DOMAIN "ta""gs"."ce""nts" AS BIGINT DEFAULT 0 CHECK (VALUE >= 0)`,
		`"fee" "ta""gs"."ce""nts" NOT NULL`,
	} {
		if !strings.Contains(ddl.String(), want) {
			t.Errorf("DDL lacks %s:\n%s", want, ddl.String())
		}
	}

	cfg := adminConfig(t, db.URL)
	setup := statements(`CREATE EXTENSION IF NOT EXISTS btree_gist`)
	target := migrate.Target{Config: cfg, Setup: setup, Models: stmts}
	up, down, err := migrate.PlanLive(ctx, target, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Check(false); err != nil {
		t.Fatalf("%v\n%s", err, up.SQL())
	}
	conn := connect(t, db.URL)
	if err := migrate.Apply(ctx, conn, up, false); err != nil {
		t.Fatalf("%v\n%s", err, up.SQL())
	}

	// What the options mean, on rows.
	var pgErr *pgconn.PgError
	room := `"ta""gs"."ro""om;"`
	pgtest.Exec(t, db.URL, `INSERT INTO `+room+` ("na""me", code, price, qty, during, room, amount)
		VALUES ('b', 'x', 2.50, 4, '[2026-01-01,2026-01-03)', 7, 1), ('a', 'y', 1, 1, '[2026-01-01,2026-01-03)', 8, NULL)`)
	if got := pgtest.Scalar[string](t, db.URL, `SELECT total::text FROM `+room+` WHERE code = 'x'`); got != "10.00" {
		t.Errorf("generated total = %s, want 10.00", got)
	}
	if got := pgtest.Scalar[string](t, db.URL, `SELECT string_agg("na""me", '' ORDER BY "na""me" COLLATE "C") FROM `+room); got != "ab" {
		t.Errorf("names %q", got)
	}
	if got := pgtest.Scalar[int64](t, db.URL, `SELECT max(id) + max(ref) + max(small) FROM `+room); got != 2+2+2 {
		t.Errorf("serials and the shared sequence: %d", got)
	}
	_, err = conn.Exec(ctx, `UPDATE `+room+` SET fee = -1`)
	if !errors.As(err, &pgErr) || pgErr.Code != "23514" {
		t.Errorf("negative fee: %v, want 23514 from the domain's check", err)
	}
	// Deferred: a duplicate name is fine until the commit.
	pgtest.Exec(t, db.URL, `BEGIN`, `INSERT INTO `+room+` ("na""me", code, price, room) VALUES ('a', 'z', 1, 9)`,
		`UPDATE `+room+` SET "na""me" = 'c' WHERE code = 'z'`, `COMMIT`)
	_, err = conn.Exec(ctx, `INSERT INTO `+room+` ("na""me", code, price, qty, during, room) VALUES ('d', 'w', 1, 2, '[2026-01-02,2026-01-04)', 7)`)
	if !errors.As(err, &pgErr) || pgErr.Code != "23P01" || pgErr.ConstraintName != `ex_ro"om;_during` {
		t.Errorf("overlapping booking: %v, want 23P01 on the exclusion constraint", err)
	}
	if got := pgtest.Scalar[string](t, db.URL, `SELECT string_agg(conname || ':' || condeferrable || condeferred, ' ' ORDER BY conname)
		FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('u', 'f')`, room); got !=
		`fk_ro"om;_parent id:truefalse uq_ro"om;_code_room:truefalse uq_ro"om;_na"me:truetrue` {
		t.Errorf("deferrability: %s", got)
	}
	if owner := sharedSequenceOwner(t, db.URL, `"ta""gs"."shared seq"`); owner != "" {
		t.Errorf("the shared sequence now belongs to %s", owner)
	}

	// No drift, even with the models claiming everything on the table.
	for _, opts := range []migrate.Options{{}, {DropUnmanaged: true}} {
		again, back, err := migrate.PlanLive(ctx, target, opts)
		if err != nil || !again.Empty() || !back.Empty() {
			t.Fatalf("drift (%+v, %v):\n%s\ndown:\n%s", opts, err, again.SQL(), back.SQL())
		}
	}

	// Models generated from the live table say the same.
	live, err := migrate.InspectLive(ctx, cfg, `ta"gs`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gogen.Generate(live, gogen.Options{Package: "main"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		if !strings.Contains(w, "must exist where the desired state is built") { // the live domain
			t.Errorf("generated with warning %q", w)
		}
	}
	gen := migrate.Target{Config: cfg, Setup: setup, Models: generatedStatements(t, res)}
	again, back, err := migrate.PlanLive(ctx, gen, migrate.Options{DropUnmanaged: true})
	if err != nil || !again.Empty() || !back.Empty() {
		t.Fatalf("drift from the generated models (%v):\n%s\ndown:\n%s\nmodels:\n%s", err, again.SQL(), back.SQL(), numbered(string(res.Source)))
	}

	// Down takes the table away and leaves the live sequence and domain.
	if err := migrate.Apply(ctx, conn, down, true); err != nil {
		t.Fatalf("%v\n%s", err, down.SQL())
	}
	if n := pgtest.Scalar[int64](t, db.URL, `SELECT count(*) FROM pg_class WHERE relnamespace = '"ta""gs"'::regnamespace AND relkind IN ('r', 'S')`); n != 1 {
		t.Errorf("%d tables and sequences left in ta\"gs, want the shared sequence", n)
	}
	if got := pgtest.Scalar[string](t, db.URL, `SELECT concat_ws(',', to_regtype('"ta""gs"."ce""nts"'), to_regtype('"ta""gs".positive'))`); got != `"ta""gs".positive` {
		t.Errorf("domains after down: %s, want only the live one", got)
	}
}

// TestTagsEmitMatchesPlan: the table emitter's DDL and a plan from
// nothing build the same table.
func TestTagsEmitMatchesPlan(t *testing.T) {
	t.Parallel()
	emitted, planned := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	ctx := context.Background()
	stmts := modelStatements(t, &tagRoom{})
	pgtest.Exec(t, emitted.URL, tagsPrerequisites...)
	pgtest.Exec(t, planned.URL, tagsPrerequisites...)
	if err := emit.Exec(ctx, connect(t, emitted.URL), stmts); err != nil {
		t.Fatal(err)
	}
	up, _, err := migrate.PlanLive(ctx, migrate.Target{Config: adminConfig(t, planned.URL), Models: stmts,
		Setup: statements(`CREATE EXTENSION IF NOT EXISTS btree_gist`)}, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate.Apply(ctx, connect(t, planned.URL), up, false); err != nil {
		t.Fatalf("%v\n%s", err, up.SQL())
	}
	if a, b := inspect(t, connect(t, emitted.URL)).String(), inspect(t, connect(t, planned.URL)).String(); a != b {
		t.Fatalf("emitted:\n%s\nplanned:\n%s", a, b)
	}
}

// tagInvoice is read and written through package repo: the database
// fills the serial key and computes the generated total, which INSERT and
// UPDATE never write; the fee is a domain the models create.
type tagInvoice struct {
	model.BaseModel `uno:"table:in\"voice"`
	ID              int64          `uno:"id,pk,serial"`
	Name            string         `uno:"name,collate:C"`
	Qty             int32          `uno:"qty"`
	Fee             tagCents       `uno:"fee"`
	Total           *types.Decimal `uno:"total,type:numeric,generated:\"qty\" * \"fee\""`
}

// TestTagsThroughRepository: serial and generated columns come back from
// Create, CreateMany and Update; the generated one is never written.
func TestTagsThroughRepository(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	reg := model.NewRegistry()
	if err := reg.Register(&tagInvoice{}); err != nil {
		t.Fatal(err)
	}
	stmts, err := emit.NewTableEmitter(reg.Tables()...).Emit()
	if err != nil {
		t.Fatal(err)
	}
	if err := emit.Exec(ctx, connect(t, db.URL), stmts); err != nil {
		t.Fatal(err)
	}
	factory, err := engine.NewFactory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = factory.Close(context.Background()) })
	edb, err := factory.Open(ctx, adminConfig(t, db.URL))
	if err != nil {
		t.Fatal(err)
	}
	invoices, err := repo.New[tagInvoice](edb, reg)
	if err != nil {
		t.Fatal(err)
	}
	three := types.Decimal("30")
	inv := tagInvoice{Name: "a", Qty: 3, Fee: 10, Total: &three} // Total is ignored
	if err := invoices.Create(ctx, &inv); err != nil {
		t.Fatal(err)
	}
	if inv.ID != 1 || inv.Total == nil || *inv.Total != "30" {
		t.Fatalf("after Create: id %d, total %v", inv.ID, inv.Total)
	}
	inv.Qty = 4
	if err := invoices.Update(ctx, &inv); err != nil {
		t.Fatal(err)
	}
	got, err := invoices.Get(ctx, inv.ID)
	if err != nil || got.Total == nil || *got.Total != "40" {
		t.Fatalf("after Update: %+v, %v", got, err)
	}
	many := []tagInvoice{{Name: "b", Qty: 1, Fee: 2}, {Name: "c", Qty: 2, Fee: 2}}
	if err := invoices.CreateMany(ctx, many); err != nil {
		t.Fatal(err)
	}
	if n := pgtest.Scalar[string](t, db.URL, `SELECT string_agg(id || ':' || total, ' ' ORDER BY id) FROM "in""voice"`); n != "1:40 2:2 3:4" {
		t.Fatalf("rows %s", n)
	}
	if err := invoices.Create(ctx, &tagInvoice{Name: "d", Qty: 1, Fee: -1}); err == nil {
		t.Fatal("a negative fee passed the domain's check")
	}
}

// TestDomainPlans: a missing domain is created before the tables, a
// changed one is a warning and left alone, an unknown one is dropped only
// with DropUnknown (destructive).
func TestDomainPlans(t *testing.T) {
	t.Parallel()
	d := func(def string) catalog.Domain { return catalog.Domain{Schema: `s"x`, Name: "d", Def: def} }
	desired := &catalog.Database{Schemas: []string{`s"x`}, Domains: []catalog.Domain{d(`CREATE DOMAIN "s""x".d AS bigint`)},
		Tables: []*catalog.Table{{Schema: `s"x`, Name: "t", Columns: []catalog.Column{{Name: "c", Type: `"s""x".d`}}}}}
	plan := migrate.Diff(&catalog.Database{Schemas: []string{`s"x`}}, desired, migrate.Options{})
	if len(plan.Changes) != 2 || plan.Changes[0].SQL != `CREATE DOMAIN "s""x".d AS bigint` || !strings.HasPrefix(plan.Changes[1].SQL, "CREATE TABLE") {
		t.Fatalf("create:\n%s", plan.SQL())
	}
	live := &catalog.Database{Schemas: []string{`s"x`}, Domains: []catalog.Domain{d(`CREATE DOMAIN "s""x".d AS integer`)}}
	desired.Tables = nil
	plan = migrate.Diff(live, desired, migrate.Options{})
	if !plan.Empty() || len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], "plans do not alter domains") {
		t.Fatalf("changed: %q\n%s", plan.Warnings, plan.SQL())
	}
	plan = migrate.Diff(live, &catalog.Database{Schemas: []string{`s"x`}}, migrate.Options{DropUnknown: true})
	if len(plan.Changes) != 1 || plan.Changes[0].SQL != `DROP DOMAIN "s""x"."d"` || !plan.Changes[0].Destructive {
		t.Fatalf("drop:\n%s", plan.SQL())
	}
}

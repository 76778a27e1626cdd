package migrate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/internal/pgcluster"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/migrate"
	"github.com/uno-db/uno/migrate/gogen"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

// brownfield builds the fixture database (testdata/brownfield.sql) and
// returns its URL and the role it grants to.
func brownfield(t *testing.T) (url, auditor string) {
	t.Helper()
	db := pgtest.NewDatabase(t)
	auditor = db.Name + `_aud"itor`
	pgtest.Exec(t, db.URL, "CREATE ROLE "+quoteIdent(auditor)+" NOLOGIN")
	b, err := os.ReadFile("testdata/brownfield.sql")
	if err != nil {
		t.Fatal(err)
	}
	sql := strings.ReplaceAll(string(b), "{{auditor}}", quoteIdent(auditor))
	if _, err := connect(t, db.URL).Exec(context.Background(), sql); err != nil {
		t.Fatalf("brownfield fixture: %v", err)
	}
	return db.URL, auditor
}

// schemaDump is pg_dump --schema-only of the database, without the
// migration history table and without comment lines.
func schemaDump(t *testing.T, url string) string {
	t.Helper()
	bin, err := pgcluster.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(bin, "pg_dump"), "--schema-only", "--no-comments",
		"--exclude-table=public.uno_schema_migrations", "--dbname="+url).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "--") && !strings.HasPrefix(l, "\\") { // \restrict lines carry a random key
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// customer models the fixture's sales.customer, plus a phone column.
type customer struct {
	model.BaseModel `uno:"table:customer,schema:sales"`
	ID              int64           `uno:"id,pk"`
	Email           types.String255 `uno:"email,unique"`
	Name            string          `uno:"name"`
	Tier            int16           `uno:"tier,default:1,check:tier BETWEEN 1 AND 3"`
	CreatedAt       time.Time       `uno:"created_at,default:now()"`
	Phone           *string         `uno:"phone"`
}

// weirdUser models the fixture's "we""ird"."user" as it is.
type weirdUser struct {
	model.BaseModel `uno:"table:user,schema:we\"ird"`
	Name            string `uno:"na;me,pk"`
	Select          *int32 `uno:"select"`
	Its             bool   `uno:"it's,default:false"`
}

func modelStatements(t *testing.T, models ...any) []emit.Statement {
	t.Helper()
	reg := model.NewRegistry()
	if err := reg.Register(models...); err != nil {
		t.Fatal(err)
	}
	stmts, err := emit.NewTableEmitter(reg.Tables()...).Emit()
	if err != nil {
		t.Fatal(err)
	}
	return stmts
}

// TestBrownfield: models for part of a hand-built database. Planning
// changes nothing on the live cluster; the plan adds only the new column
// and leaves every unmanaged object alone; a plan that would remove them
// is refused and linted; up, a second diff with zero drift, and down
// leaving the schema exactly as it was (pg_dump).
func TestBrownfield(t *testing.T) {
	t.Parallel()
	url, auditor := brownfield(t)
	ctx := context.Background()
	cfg := adminConfig(t, url)
	target := migrate.Target{Config: cfg, Models: modelStatements(t, &customer{}, &weirdUser{})}
	dump0 := schemaDump(t, url)
	snap0 := catalogSnapshot(t, url)

	up, down, err := migrate.PlanLive(ctx, target, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := catalogSnapshot(t, url); !slices.Equal(got, snap0) {
		t.Fatal("planning changed the live database")
	}
	if len(up.Changes) != 1 || !strings.Contains(up.Changes[0].SQL, `ADD COLUMN "phone" text`) {
		t.Fatalf("the plan does more than add the phone column:\n%s", up.SQL())
	}
	if err := up.Check(false); err != nil {
		t.Fatal(err)
	}

	// Claiming every object of the modelled tables: refused and linted.
	prune, _, err := migrate.PlanLive(ctx, target, migrate.Options{DropUnmanaged: true})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(prune.Check(false), migrate.ErrDestructive) {
		t.Fatalf("pruning plan not refused:\n%s", prune.SQL())
	}
	lints := strings.Join(prune.Lints(), "\n")
	for _, w := range []string{"trigger touch;it", "index customer_lower_email", "SELECT granted to " + auditor,
		"the default of column id", "collation", "foreign key order_customer_id_fkey of sales.order"} {
		if !strings.Contains(lints, w) {
			t.Errorf("pruning lint does not name %q:\n%s", w, lints)
		}
	}

	dir := t.TempDir()
	if _, err := migrate.WriteNext(dir, "phone", up, down); err != nil {
		t.Fatal(err)
	}
	migs := readDir(t, dir)
	m := &migrate.Migrator{Config: cfg}
	if _, err := m.Up(ctx, migs, 0); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, url, `INSERT INTO sales.customer (email, name, phone) VALUES ('c@example.com', 'Cy', '555')`)
	if again, _, err := migrate.PlanLive(ctx, target, migrate.Options{}); err != nil || !again.Empty() {
		t.Fatalf("drift after up (%v):\n%s", err, again.SQL())
	}
	pgtest.Exec(t, url, `DELETE FROM sales.customer WHERE email = 'c@example.com'`)
	if _, err := m.Down(ctx, migs, 1); err != nil {
		t.Fatal(err)
	}
	if dump := schemaDump(t, url); dump != dump0 {
		t.Fatalf("down does not restore the schema:\n%s", lineDiff(dump0, dump))
	}
}

func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range al {
		if !slices.Contains(bl, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// TestGenerateModelsDiffsToZero: models generated from the whole
// brownfield database compile, register, and plan no change at all.
func TestGenerateModelsDiffsToZero(t *testing.T) {
	t.Parallel()
	url, _ := brownfield(t)
	ctx := context.Background()
	live := inspect(t, connect(t, url))
	res, err := gogen.Generate(live, gogen.Options{Package: "main"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		t.Log("generate:", w)
	}
	stmts := generatedStatements(t, res)
	// The domain and the composite type the models name come from the
	// live database into the scratch one (LiveTypes).
	up, down, err := migrate.PlanLive(ctx, migrate.Target{Config: adminConfig(t, url), Models: stmts}, migrate.Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, numbered(string(res.Source)))
	}
	if !up.Empty() || !down.Empty() {
		t.Fatalf("diff right after generating:\n%s\ndown:\n%s\nmodels:\n%s", up.SQL(), down.SQL(), res.Source)
	}
	// What the tags say now (issue 13): no warning about them.
	for _, w := range res.Warnings {
		for _, said := range []string{"exclusion", "serial", "generated", "collation", "deferrab", "index"} {
			if strings.Contains(w, said) {
				t.Errorf("warning about %s, which the tags can say: %s", said, w)
			}
		}
	}
	for _, want := range []string{
		`uno:"id,serial,pk"`, // bigserial, smallserial
		`uno:"no,default:nextval('sales.\"ticket no\"'::regclass)"`,
		`uno:"code,collate:POSIX"`,
		`Name: "ticket_code", Columns: []string{"code"}, InitiallyDeferred: true`,
		`Name: "ticket up;per", Expressions: []string{"upper(code)", "no"}, Where: "no > 0"`,
		`Name: "ticket_order_id_fkey", Columns: []string{"order_id"}, RefTable: "sales.order", RefColumns: []string{"id"}, Deferrable: true`,
		`generated:(((total)::numeric * (100)::numeric))::bigint`,
		`collate:C`,
		`Excludes: []model.ExcludeDef{`,
		`Name: "order_during_excl", Elements: []string{"during WITH &&"}, Where: "status = 'new'::sales.status"`,
		`Name: "order_open", Columns: []string{"customer_id"}, Where: "status <> 'paid'::sales.status"`,
		`Name: "customer_lower_email", Expressions: []string{"lower((email)::text)"}`,
		`Name: "customer_email_key", Columns: []string{"email"}, Deferrable: true`,
		`Name: "order_customer_id_fkey", Columns: []string{"customer_id"}, RefTable: "sales.customer", RefColumns: []string{"id"}, OnDelete: model.Cascade, InitiallyDeferred: true`,
	} {
		if !strings.Contains(string(res.Source), want) {
			t.Errorf("generated models lack %s", want)
		}
	}
	if !regexp.MustCompile(`(?m)^func \(Status\) EnumValues\(\) \[\]string \{ return \[\]string\{"new", "paid", "it's shipped"\} \}$`).Match(res.Source) {
		t.Errorf("enum type not generated:\n%s", res.Source)
	}
}

// generatedStatements builds and runs a program around generated models
// that prints their DDL, and returns it.
func generatedStatements(t *testing.T, res gogen.Result) []emit.Statement {
	t.Helper()
	dir, err := os.MkdirTemp("testdata", "gen_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	main := `package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/model"
)

func main() {
	reg := model.NewRegistry()
	if err := reg.Register(Models()...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stmts, err := emit.NewTableEmitter(reg.Tables()...).Emit()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(stmts)
}
`
	if err := os.WriteFile(filepath.Join(dir, "models.go"), res.Source, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "./"+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("generated models: %v\n%s\n%s", err, stderr.String(), numbered(string(res.Source)))
	}
	var stmts []emit.Statement
	if err := json.Unmarshal(out, &stmts); err != nil {
		t.Fatal(err)
	}
	return stmts
}

func numbered(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = fmt.Sprintf("%4d  %s", i+1, lines[i])
	}
	return strings.Join(lines, "\n")
}

// TestBaseline: baseline records an existing database as the starting
// point without running anything; the baseline plan of a schema builds
// the same schema in an empty database.
func TestBaseline(t *testing.T) {
	t.Parallel()
	url, _ := brownfield(t)
	ctx := context.Background()
	live, err := catalog.Inspect(ctx, connect(t, url), `we"ird`, "sales")
	if err != nil {
		t.Fatal(err)
	}
	weird, err := catalog.Inspect(ctx, connect(t, url), `we"ird`)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := migrate.WriteNext(dir, "baseline", migrate.BaselinePlan(live), migrate.Plan{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "0002_next.up.sql"), []byte(`ALTER TABLE "we""ird"."user" ADD COLUMN n int`), 0o644); err != nil {
		t.Fatal(err)
	}
	migs := readDir(t, dir)
	m := &migrate.Migrator{Config: adminConfig(t, url)}
	dump := schemaDump(t, url)
	done, err := m.Baseline(ctx, migs, 1)
	if err != nil || len(done) != 1 || done[0].Version != 1 {
		t.Fatalf("baseline: %v, %v", done, err)
	}
	if got := schemaDump(t, url); got != dump {
		t.Fatalf("baseline changed the schema:\n%s", lineDiff(dump, got))
	}
	st, err := m.Status(ctx, migs)
	if err != nil || st[0].State != migrate.StateApplied || st[1].State != migrate.StatePending {
		t.Fatalf("status after baseline: %+v, %v", st, err)
	}
	if applied, err := m.Up(ctx, migs, 0); err != nil || len(applied) != 1 || applied[0].Version != 2 {
		t.Fatalf("up after baseline: %v, %v", applied, err)
	}
	// The baseline of one schema, run on an empty database, builds it again.
	empty := pgtest.NewDatabase(t)
	ec := connect(t, empty.URL)
	if err := migrate.Apply(ctx, ec, migrate.BaselinePlan(weird), false); err != nil {
		t.Fatal(err)
	}
	got, err := catalog.Inspect(ctx, ec, `we"ird`)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != weird.String() {
		t.Fatalf("baseline plan builds\n%s\nwant\n%s", got, weird)
	}
}

package migrate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/migrate"
)

// planAndApply plans live (built from base) to desired, applies it with
// destructive changes allowed and checks there is no drift.
func planAndApply(t *testing.T, base, desired []string) (migrate.Plan, string) {
	t.Helper()
	liveDB, scratchDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	live := connect(t, liveDB.URL)
	ctx := context.Background()
	pgtest.Exec(t, liveDB.URL, base...)
	want, err := migrate.DesiredIn(ctx, connect(t, scratchDB.URL), statements(desired...))
	if err != nil {
		t.Fatal(err)
	}
	plan := migrate.Diff(inspect(t, live), want, migrate.Options{})
	if err := migrate.Apply(ctx, live, plan, true); err != nil {
		t.Fatalf("apply: %v\n%s", err, plan.SQL())
	}
	// The unmodelled tables are not in want: compare the modelled ones.
	got := inspect(t, live)
	for _, wt := range want.Tables {
		gt := got.Table(wt.Schema, wt.Name)
		if gt == nil {
			t.Fatalf("table %s.%s missing after the plan", wt.Schema, wt.Name)
		}
	}
	return plan, liveDB.URL
}

// TestForeignKeyAfterReferencedKey: a new table's foreign key is added
// after the primary key it references is re-created (was 42830).
func TestForeignKeyAfterReferencedKey(t *testing.T) {
	t.Parallel()
	_, url := planAndApply(t,
		[]string{`CREATE TABLE a (id int, k int, CONSTRAINT pk_a PRIMARY KEY (id, k))`, `INSERT INTO a VALUES (1, 1)`},
		[]string{`CREATE TABLE a (id int, k int, CONSTRAINT pk_a PRIMARY KEY (id))`,
			`CREATE TABLE b (id int PRIMARY KEY, a_id int, CONSTRAINT fk_b_a_id FOREIGN KEY (a_id) REFERENCES a (id))`})
	pgtest.Exec(t, url, `INSERT INTO b VALUES (1, 1)`)
}

// TestUnmodelledForeignKeyAroundKeyChange: a foreign key of a table the
// models do not have, referencing a modelled key that changes, is dropped
// and added back around the change (was 2BP01), and linted.
func TestUnmodelledForeignKeyAroundKeyChange(t *testing.T) {
	t.Parallel()
	plan, url := planAndApply(t,
		[]string{`CREATE TABLE a (id int PRIMARY KEY, code text, CONSTRAINT uq_a_code UNIQUE (code))`,
			`CREATE TABLE "hand made" (code text CONSTRAINT "hand fk" REFERENCES a (code))`,
			`INSERT INTO a VALUES (1, 'x')`, `INSERT INTO "hand made" VALUES ('x')`},
		[]string{`CREATE TABLE a (id int PRIMARY KEY, code text, CONSTRAINT uq_a_code_v2 UNIQUE (code))`})
	if !strings.Contains(strings.Join(plan.Lints(), "\n"), `foreign key hand fk of public.hand made`) {
		t.Fatalf("no lint for the unmodelled foreign key: %q", plan.Lints())
	}
	if def := pgtest.Scalar[string](t, url, `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'hand fk'`); def != "FOREIGN KEY (code) REFERENCES a(code)" {
		t.Fatalf("hand fk: %q", def)
	}
	if _, err := connect(t, url).Exec(context.Background(), `INSERT INTO "hand made" VALUES ('nope')`); err == nil {
		t.Fatal("the re-added foreign key does not hold")
	}
}

// TestColumnUsedByViewIsLinted: changing or dropping a column a view uses
// is linted, naming the view.
func TestColumnUsedByViewIsLinted(t *testing.T) {
	t.Parallel()
	liveDB, scratchDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	pgtest.Exec(t, liveDB.URL, `CREATE TABLE t (id int PRIMARY KEY, a text, b int)`,
		`CREATE VIEW "v""iew" AS SELECT a FROM t`, `CREATE MATERIALIZED VIEW mv AS SELECT b FROM t`)
	want, err := migrate.DesiredIn(context.Background(), connect(t, scratchDB.URL), statements(`CREATE TABLE t (id int PRIMARY KEY, a varchar(5))`))
	if err != nil {
		t.Fatal(err)
	}
	plan := migrate.Diff(inspect(t, connect(t, liveDB.URL)), want, migrate.Options{})
	lints := strings.Join(plan.Lints(), "\n")
	for _, w := range []string{`public.t.a is used by public.v"iew`, `public.t.b is used by public.mv`} {
		if !strings.Contains(lints, w) {
			t.Errorf("lint %q missing:\n%s", w, lints)
		}
	}
}

// TestUpChecksOwnership: a migration that changes a table the migrating
// role does not own fails before running anything, naming table and owner.
func TestUpChecksOwnership(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	role := db.Name + `_mig"rator`
	pgtest.Exec(t, db.URL, `CREATE ROLE `+quoteIdent(role)+` NOLOGIN`, `CREATE TABLE "some one's" (id int)`,
		`CREATE TABLE mine (id int)`, `ALTER TABLE mine OWNER TO `+quoteIdent(role),
		`GRANT CREATE, USAGE ON SCHEMA public TO `+quoteIdent(role))
	migs, err := migrate.ReadDir(fstestFS(map[string]string{
		"0001_a.up.sql": `ALTER TABLE mine ADD COLUMN v text; ALTER TABLE "some one's" ADD COLUMN v text;`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	m := &migrate.Migrator{Config: adminConfig(t, db.URL), Role: role}
	_, err = m.Up(context.Background(), migs, 0)
	if !errors.Is(err, migrate.ErrNotOwner) || !strings.Contains(err.Error(), `"some one's"`) {
		t.Fatalf("up on a table of another owner: %v", err)
	}
	if n := pgtest.Scalar[int](t, db.URL, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'mine'::regclass AND attname = 'v'`); n != 0 {
		t.Fatal("the migration ran part way")
	}
}

// TestConcurrentStepsResume: in a migration that cannot run in one
// transaction, only CREATE INDEX CONCURRENTLY runs outside one; when it
// fails, what ran before it stays applied and recorded as progress, what
// follows has not run, and a retry after the cause is fixed resumes at the
// failed index (dropping the invalid index the failure left).
func TestConcurrentStepsResume(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	pgtest.Exec(t, db.URL, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'dup'), (2, 'dup')`)
	migs, err := migrate.ReadDir(fstestFS(map[string]string{
		"0001_online.up.sql": migrate.NoTxMarker + "\nALTER TABLE t ADD COLUMN w int;\nUPDATE t SET w = id;\n" +
			"CREATE UNIQUE INDEX CONCURRENTLY \"ux t v\" ON public.t USING btree (v);\nALTER TABLE t ADD COLUMN z int;\nUPDATE t SET z = w;\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if segs := migrate.Segments(migs[0].Up); len(segs) != 3 || !segs[1].NoTx || len(segs[0].Statements) != 2 {
		t.Fatalf("segments %+v", segs)
	}
	m := &migrate.Migrator{Config: adminConfig(t, db.URL)}
	if _, err := m.Up(ctx, migs, 0); err == nil {
		t.Fatal("unique index over duplicates built")
	}
	st, err := m.Status(ctx, migs)
	if err != nil || st[0].State != migrate.StatePartial || st[0].Applied.Progress != 1 {
		t.Fatalf("status after the failure: %+v, %v", st, err)
	}
	cols := `SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0`
	if got := pgtest.Scalar[string](t, db.URL, cols); got != "id,v,w" {
		t.Fatalf("columns after the failure: %s", got)
	}
	pgtest.Exec(t, db.URL, `UPDATE t SET v = 'other' WHERE id = 2`)
	if done, err := m.Up(ctx, migs, 0); err != nil || len(done) != 1 {
		t.Fatalf("retry: %d, %v", len(done), err)
	}
	if got := pgtest.Scalar[string](t, db.URL, cols); got != "id,v,w,z" {
		t.Fatalf("columns after the retry: %s", got)
	}
	if ok := pgtest.Scalar[bool](t, db.URL, `SELECT bool_and(indisvalid) AND count(*) = 2 FROM pg_index WHERE indrelid = 't'::regclass`); !ok {
		t.Fatal("index not valid after the retry")
	}
	if z := pgtest.Scalar[int](t, db.URL, `SELECT sum(z) FROM t`); z != 3 {
		t.Fatalf("z = %d", z)
	}
	st, err = m.Status(ctx, migs)
	if err != nil || st[0].State != migrate.StateApplied {
		t.Fatalf("status after the retry: %+v, %v", st, err)
	}
}

// TestSerialIdentityRoundTrip: serial to identity leaves no orphaned
// sequence and continues past every id handed out; the way back
// re-creates the sequence past the data, so the next insert works.
func TestSerialIdentityRoundTrip(t *testing.T) {
	t.Parallel()
	liveDB, scratchDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	live := connect(t, liveDB.URL)
	ctx := context.Background()
	pgtest.Exec(t, liveDB.URL, `CREATE TABLE "se""rial" (id serial PRIMARY KEY, v text)`,
		`INSERT INTO "se""rial" (v) VALUES ('a'), ('b'), ('c')`, `DELETE FROM "se""rial" WHERE id = 3`)
	want, err := migrate.DesiredIn(ctx, connect(t, scratchDB.URL), statements(`CREATE TABLE "se""rial" (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text)`))
	if err != nil {
		t.Fatal(err)
	}
	before := inspect(t, live)
	up, down := migrate.Diff(before, want, migrate.Options{}), migrate.Reverse(before, want, migrate.Options{})
	if err := migrate.Apply(ctx, live, up, false); err != nil {
		t.Fatalf("%v\n%s", err, up.SQL())
	}
	seqs := `SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relkind = 'S'`
	if got := pgtest.Scalar[string](t, liveDB.URL, seqs); got != `se"rial_id_seq1` && got != `se"rial_id_seq` {
		t.Fatalf("sequences after serial → identity: %s", got)
	}
	pgtest.Exec(t, liveDB.URL, `INSERT INTO "se""rial" (v) VALUES ('d')`)
	if id := pgtest.Scalar[int](t, liveDB.URL, `SELECT id FROM "se""rial" WHERE v = 'd'`); id != 4 {
		t.Fatalf("identity reused or skipped ids: got %d, want 4", id)
	}
	if err := migrate.Apply(ctx, live, down, true); err != nil {
		t.Fatalf("down: %v\n%s", err, down.SQL())
	}
	pgtest.Exec(t, liveDB.URL, `INSERT INTO "se""rial" (v) VALUES ('e')`)
	if id := pgtest.Scalar[int](t, liveDB.URL, `SELECT id FROM "se""rial" WHERE v = 'e'`); id != 5 {
		t.Fatalf("after down, next id %d, want 5", id)
	}
	if p := migrate.Diff(inspect(t, live), before, migrate.Options{DropUnmanaged: true}); !p.Empty() {
		t.Fatalf("down does not restore the table:\n%s", p.SQL())
	}
}

// TestInvalidIndexIsRebuilt: an index a failed CREATE INDEX CONCURRENTLY
// left invalid is not taken for the declared one: the plan drops and
// builds it again.
func TestInvalidIndexIsRebuilt(t *testing.T) {
	t.Parallel()
	liveDB, scratchDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	live := connect(t, liveDB.URL)
	ctx := context.Background()
	pgtest.Exec(t, liveDB.URL, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'a'), (2, 'a')`)
	if _, err := live.Exec(ctx, `CREATE UNIQUE INDEX CONCURRENTLY "ix_t_v" ON t (v)`); err == nil {
		t.Fatal("unique index over duplicates built")
	}
	pgtest.Exec(t, liveDB.URL, `UPDATE t SET v = 'b' WHERE id = 2`)
	want, err := migrate.DesiredIn(ctx, connect(t, scratchDB.URL), statements(`CREATE TABLE t (id int PRIMARY KEY, v text)`, `CREATE UNIQUE INDEX "ix_t_v" ON t (v)`))
	if err != nil {
		t.Fatal(err)
	}
	got := inspect(t, live)
	if ix := got.Table("public", "t").Indexes; len(ix) != 1 || !ix[0].Invalid {
		t.Fatalf("invalid index not seen: %+v", ix)
	}
	plan := migrate.Diff(got, want, migrate.Options{Concurrent: true})
	if err := migrate.Apply(ctx, live, plan, false); err != nil {
		t.Fatalf("%v\n%s", err, plan.SQL())
	}
	if ok := pgtest.Scalar[bool](t, liveDB.URL, `SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_t_v'::regclass`); !ok {
		t.Fatalf("index still invalid after:\n%s", plan.SQL())
	}
	if p := migrate.Diff(inspect(t, live), want, migrate.Options{}); !p.Empty() {
		t.Fatalf("drift:\n%s", p.SQL())
	}
}

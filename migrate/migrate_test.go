package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/migrate"
)

func statements(sqls ...string) []emit.Statement {
	out := make([]emit.Statement, len(sqls))
	for i, s := range sqls {
		out[i] = emit.Statement{Name: "test", Kind: emit.KindTable, SQL: s}
	}
	return out
}

// TestAlterations applies one kind of change at a time and checks the
// catalog afterwards, and that destructive ones need the flag.
func TestAlterations(t *testing.T) {
	t.Parallel()
	base := []string{
		`CREATE TYPE "mood" AS ENUM ('happy', 'sad')`,
		`CREATE TABLE "order" (id bigint PRIMARY KEY, note varchar(10), qty integer NOT NULL DEFAULT 1, m mood, gone text, code text)`,
		`CREATE TABLE line (id bigint PRIMARY KEY, order_id bigint)`,
	}
	for _, tc := range []struct {
		name        string
		desired     []string
		destructive bool
		lint        string
		check       func(t *testing.T, db *catalog.Database)
	}{
		{"add column", []string{`ALTER TABLE "order" ADD COLUMN extra text DEFAULT 'x' NOT NULL`}, false, "", func(t *testing.T, db *catalog.Database) {
			if c := db.Table("public", "order").Column("extra"); c == nil || !c.NotNull || c.Default != "'x'::text" {
				t.Fatalf("extra: %+v", c)
			}
		}},
		{"add not null column without default", []string{`ALTER TABLE "order" ADD COLUMN must text NOT NULL`}, false, "NOT NULL without a default", nil},
		{"drop column", []string{`ALTER TABLE "order" DROP COLUMN gone`}, true, "", func(t *testing.T, db *catalog.Database) {
			if db.Table("public", "order").Column("gone") != nil {
				t.Fatal("column still there")
			}
		}},
		{"widen type", []string{`ALTER TABLE "order" ALTER COLUMN note TYPE varchar(50)`}, false, "type change", func(t *testing.T, db *catalog.Database) {
			if c := db.Table("public", "order").Column("note"); c.Type != "character varying(50)" {
				t.Fatalf("note: %s", c.Type)
			}
		}},
		{"narrow type", []string{`ALTER TABLE "order" ALTER COLUMN qty TYPE smallint`}, true, "type change", func(t *testing.T, db *catalog.Database) {
			if c := db.Table("public", "order").Column("qty"); c.Type != "smallint" || c.Default != "1" {
				t.Fatalf("qty: %+v", c)
			}
		}},
		{"set not null", []string{`ALTER TABLE "order" ALTER COLUMN note SET NOT NULL`}, false, "SET NOT NULL", func(t *testing.T, db *catalog.Database) {
			if !db.Table("public", "order").Column("note").NotNull {
				t.Fatal("nullable")
			}
		}},
		{"change default", []string{`ALTER TABLE "order" ALTER COLUMN qty SET DEFAULT 5`}, false, "", func(t *testing.T, db *catalog.Database) {
			if c := db.Table("public", "order").Column("qty"); c.Default != "5" {
				t.Fatalf("default %q", c.Default)
			}
		}},
		{"add unique", []string{`ALTER TABLE "order" ADD CONSTRAINT uq_order_code UNIQUE (code)`}, false, "unique index", func(t *testing.T, db *catalog.Database) {
			if !slices.ContainsFunc(db.Table("public", "order").Constraints, func(c catalog.Constraint) bool { return c.Name == "uq_order_code" }) {
				t.Fatal("no constraint")
			}
		}},
		{"add foreign key", []string{`ALTER TABLE line ADD CONSTRAINT fk_line_order_id FOREIGN KEY (order_id) REFERENCES "order"(id)`}, false, "validates every row", nil},
		{"add index", []string{`CREATE INDEX ix_order_note ON "order" (note)`}, false, "without CONCURRENTLY", func(t *testing.T, db *catalog.Database) {
			if len(db.Table("public", "order").Indexes) != 1 {
				t.Fatal("no index")
			}
		}},
		{"add enum value", []string{`ALTER TYPE mood ADD VALUE 'meh' AFTER 'happy'`}, false, "", func(t *testing.T, db *catalog.Database) {
			if v := db.Enums[0].Values; !slices.Equal(v, []string{"happy", "meh", "sad"}) {
				t.Fatalf("values %q", v)
			}
		}},
		{"drop table", []string{`DROP TABLE line`}, true, "", func(t *testing.T, db *catalog.Database) {
			if db.Table("public", "line") != nil {
				t.Fatal("table still there")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			liveDB, scratchDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
			live, scratch := connect(t, liveDB.URL), connect(t, scratchDB.URL)
			ctx := context.Background()
			if err := emit.Exec(ctx, live, statements(base...)); err != nil {
				t.Fatal(err)
			}
			want, err := migrate.DesiredIn(ctx, scratch, statements(append(slices.Clone(base), tc.desired...)...))
			if err != nil {
				t.Fatal(err)
			}
			plan := migrate.Diff(inspect(t, live), want, migrate.Options{DropUnknown: true})
			if plan.Empty() {
				t.Fatal("empty plan")
			}
			if tc.lint != "" && !strings.Contains(strings.Join(plan.Lints(), "\n"), tc.lint) {
				t.Fatalf("lint %q missing from %q", tc.lint, plan.Lints())
			}
			err = migrate.Apply(ctx, live, plan, false)
			if tc.destructive {
				if !errors.Is(err, migrate.ErrDestructive) {
					t.Fatalf("destructive change applied without the flag: %v\n%s", err, plan.SQL())
				}
				if p := migrate.Diff(inspect(t, live), want, migrate.Options{DropUnknown: true}); p.Empty() {
					t.Fatal("refused plan changed the database")
				}
				err = migrate.Apply(ctx, live, plan, true)
			}
			if err != nil {
				t.Fatalf("apply: %v\n%s", err, plan.SQL())
			}
			got := inspect(t, live)
			if p := migrate.Diff(got, want, migrate.Options{DropUnknown: true}); !p.Empty() {
				t.Fatalf("drift:\n%s", p.SQL())
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

// TestConcurrentIndexLeavesTransaction: with Concurrent, a new index on an
// existing table is built CONCURRENTLY, outside the transaction.
func TestConcurrentIndexLeavesTransaction(t *testing.T) {
	t.Parallel()
	liveDB, scratchDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	live, scratch := connect(t, liveDB.URL), connect(t, scratchDB.URL)
	ctx := context.Background()
	base := `CREATE TABLE t (id int PRIMARY KEY, v text)`
	if err := emit.Exec(ctx, live, statements(base)); err != nil {
		t.Fatal(err)
	}
	want, err := migrate.DesiredIn(ctx, scratch, statements(base, `CREATE INDEX ix_t_v ON t (v)`, `ALTER TABLE t ADD COLUMN w int`))
	if err != nil {
		t.Fatal(err)
	}
	plan := migrate.Diff(inspect(t, live), want, migrate.Options{Concurrent: true})
	var idx *migrate.Change
	for i := range plan.Changes {
		if plan.Changes[i].Kind == emit.KindIndex {
			idx = &plan.Changes[i]
		}
	}
	if idx == nil || !idx.NoTx || !strings.Contains(idx.SQL, "CREATE INDEX CONCURRENTLY") {
		t.Fatalf("index change: %+v", idx)
	}
	if err := migrate.Apply(ctx, live, plan, false); err != nil {
		t.Fatal(err)
	}
	if p := migrate.Diff(inspect(t, live), want, migrate.Options{}); !p.Empty() {
		t.Fatalf("drift:\n%s", p.SQL())
	}
}

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readDir(t *testing.T, dir string) []migrate.Migration {
	t.Helper()
	migs, err := migrate.ReadDir(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	return migs
}

// TestMigrator: up, status, down, redo, an edited migration, and a
// no-transaction migration, checked in the history table and the schema.
func TestMigrator(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	conn := connect(t, db.URL)
	ctx := context.Background()
	dir := writeDir(t, map[string]string{
		"0001_create.up.sql":   "CREATE TABLE a (id int PRIMARY KEY, v text);\nINSERT INTO a VALUES (1, 'x; y');",
		"0001_create.down.sql": "DROP TABLE a;",
		"0002_index.up.sql":    migrate.NoTxMarker + "\nCREATE INDEX CONCURRENTLY ix_a_v ON a (v);\n-- trailing comment\n",
		"0002_index.down.sql":  migrate.NoTxMarker + "\nDROP INDEX CONCURRENTLY ix_a_v;",
		"0003_col.up.sql":      "ALTER TABLE a ADD COLUMN w int; UPDATE a SET w = 2;",
		"0003_col.down.sql":    "ALTER TABLE a DROP COLUMN w;",
		"README.txt":           "ignored",
	})
	migs := readDir(t, dir)
	if len(migs) != 3 || !migs[1].UpNoTx || migs[0].UpNoTx {
		t.Fatalf("read %+v", migs)
	}
	m := &migrate.Migrator{Config: adminConfig(t, db.URL)}
	var progress []int
	m.Progress = func(done, total int, _ migrate.Migration) { progress = append(progress, done) }
	applied, err := m.Up(ctx, migs, 0)
	if err != nil || len(applied) != 3 {
		t.Fatalf("up: %d, %v", len(applied), err)
	}
	if !slices.Equal(progress, []int{0, 1, 2, 3}) {
		t.Fatalf("progress %v", progress)
	}
	var w int
	var hist int
	if err := conn.QueryRow(ctx, "SELECT w FROM a").Scan(&w); err != nil || w != 2 {
		t.Fatalf("w = %d, %v", w, err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM uno_schema_migrations").Scan(&hist); err != nil || hist != 3 {
		t.Fatalf("history %d, %v", hist, err)
	}
	if again, err := m.Up(ctx, migs, 0); err != nil || len(again) != 0 {
		t.Fatalf("second up: %d, %v", len(again), err)
	}
	// down 2 removes the column and the index.
	if down, err := m.Down(ctx, migs, 2); err != nil || len(down) != 2 {
		t.Fatalf("down: %d, %v", len(down), err)
	}
	live := inspect(t, conn)
	if tb := live.Table("public", "a"); tb.Column("w") != nil || len(tb.Indexes) != 0 {
		t.Fatalf("after down: %+v", tb)
	}
	st, err := m.Status(ctx, migs)
	if err != nil {
		t.Fatal(err)
	}
	states := []migrate.State{st[0].State, st[1].State, st[2].State}
	if !slices.Equal(states, []migrate.State{migrate.StateApplied, migrate.StatePending, migrate.StatePending}) {
		t.Fatalf("states %v", states)
	}
	if _, err := m.Up(ctx, migs, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Redo(ctx, migs); err != nil {
		t.Fatal(err)
	}
	// Edit an applied migration: status reports it, up refuses.
	if err := os.WriteFile(filepath.Join(dir, "0001_create.up.sql"), []byte("CREATE TABLE a (id int);"), 0o644); err != nil {
		t.Fatal(err)
	}
	migs = readDir(t, dir)
	st, err = m.Status(ctx, migs)
	if err != nil || st[0].State != migrate.StateModified {
		t.Fatalf("edited migration: %+v, %v", st, err)
	}
	if _, err := m.Up(ctx, migs, 0); !errors.Is(err, migrate.ErrModified) {
		t.Fatalf("up over an edited migration: %v", err)
	}
	// A failing migration leaves no trace.
	bad := append(readDir(t, dir)[:0:0], migrate.Migration{Version: 9, Name: "bad", Up: "CREATE TABLE b (id int); SELECT 1/0;", Checksum: "x"})
	m2 := &migrate.Migrator{Config: adminConfig(t, db.URL), Table: "other_history"}
	if _, err := m2.Up(ctx, bad, 0); err == nil {
		t.Fatal("failing migration succeeded")
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('b') IS NOT NULL").Scan(&exists); err != nil || exists {
		t.Fatalf("half-applied migration left table b: %v", err)
	}
}

// TestConcurrentUp: two runners at once apply each migration exactly once.
func TestConcurrentUp(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	conn := connect(t, db.URL)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE TABLE runs (version int)"); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for i := 1; i <= 5; i++ {
		files[filepathName(i)] = fmt.Sprintf("INSERT INTO runs VALUES (%d); SELECT pg_sleep(0.05);", i)
	}
	migs, err := migrate.ReadDir(fstestFS(files))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	counts := make([]int, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := &migrate.Migrator{Config: adminConfig(t, db.URL)}
			done, err := m.Up(ctx, migs, 0)
			counts[i], errs[i] = len(done), err
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if counts[0]+counts[1] != 5 {
		t.Fatalf("runners applied %v migrations", counts)
	}
	var n, distinct int
	if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT version) FROM runs").Scan(&n, &distinct); err != nil || n != 5 || distinct != 5 {
		t.Fatalf("runs: %d rows, %d distinct (%v)", n, distinct, err)
	}
}

func filepathName(i int) string { return fmt.Sprintf("%04d_step.up.sql", i) }

func fstestFS(files map[string]string) fstest.MapFS {
	fs := fstest.MapFS{}
	for k, v := range files {
		fs[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return fs
}

func TestReadDirErrors(t *testing.T) {
	t.Parallel()
	for _, files := range []map[string]string{
		{"1_short.up.sql": ""},
		{"0001_Bad.up.sql": ""},
		{"0001_a.up.sql": "", "0001_b.up.sql": ""},
		{"0002_a.down.sql": ""},
		{"0001_a.sideways.sql": ""},
	} {
		if _, err := migrate.ReadDir(fstestFS(files)); !errors.Is(err, migrate.ErrBadDir) {
			t.Errorf("%v: got %v", files, err)
		}
	}
}

func TestSplitStatements(t *testing.T) {
	t.Parallel()
	got := migrate.SplitStatements(`CREATE TABLE "a;b" (v text DEFAULT 'x;''y');
-- a comment; with a semicolon
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$;
/* block; /* nested; */ */ SELECT $1::int;;
INSERT INTO t VALUES (E'it\'s; still one', e'\\'); SELECT a$b$c FROM t;
SELECT 'tail'`)
	want := []string{
		`CREATE TABLE "a;b" (v text DEFAULT 'x;''y')`,
		"-- a comment; with a semicolon\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$",
		"/* block; /* nested; */ */ SELECT $1::int",
		`INSERT INTO t VALUES (E'it\'s; still one', e'\\')`,
		"SELECT a$b$c FROM t",
		"SELECT 'tail'",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
}

func TestWriteNext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	up := migrate.Plan{Changes: []migrate.Change{{Statement: emit.Statement{Name: "t", Kind: emit.KindIndex, SQL: "CREATE INDEX CONCURRENTLY i ON t (v)"}, NoTx: true}}}
	down := migrate.Plan{Changes: []migrate.Change{{Statement: emit.Statement{Name: "t", Kind: emit.KindIndex, SQL: "DROP INDEX i"}}}}
	for i := 0; i < 2; i++ {
		if _, err := migrate.WriteNext(dir, "add_index", up, down); err != nil {
			t.Fatal(err)
		}
	}
	migs := readDir(t, dir)
	if len(migs) != 2 || migs[1].Version != 2 || !migs[0].UpNoTx || migs[0].DownNoTx {
		t.Fatalf("%+v", migs)
	}
	if _, err := migrate.WriteNext(dir, "Bad Name", up, down); err == nil {
		t.Fatal("bad name accepted")
	}
	if _, err := migrate.WriteNext(dir, "empty", migrate.Plan{}, down); err == nil {
		t.Fatal("empty plan written")
	}
}

// TestSecurityObjects: functions, triggers, policies, row-level security
// flags, grants and comments are inspected, diffed and applied with no
// drift left.
func TestSecurityObjects(t *testing.T) {
	t.Parallel()
	liveDB, scratchDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	live, scratch := connect(t, liveDB.URL), connect(t, scratchDB.URL)
	ctx := context.Background()
	role := liveDB.Name + "_reader"
	if _, err := live.Exec(ctx, "CREATE ROLE "+quoteIdent(role)+" NOLOGIN"); err != nil {
		t.Fatal(err)
	}
	base := []string{
		`CREATE TABLE doc (id int PRIMARY KEY, tenant text NOT NULL, body text, modified timestamptz)`,
		`CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.modified := now(); RETURN NEW; END $$`,
		`CREATE POLICY p_tenant ON doc USING (tenant = current_setting('app.tenant', true))`,
		`ALTER TABLE doc ENABLE ROW LEVEL SECURITY`,
	}
	desired := append(slices.Clone(base),
		`CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.modified := clock_timestamp(); RETURN NEW; END $$`,
		`CREATE TRIGGER doc_touch BEFORE UPDATE ON doc FOR EACH ROW EXECUTE FUNCTION touch()`,
		`DROP POLICY p_tenant ON doc`,
		`CREATE POLICY p_tenant ON doc AS RESTRICTIVE FOR SELECT TO `+quoteIdent(role)+` USING (tenant = current_setting('app.tenant', true))`,
		`CREATE POLICY p_insert ON doc FOR INSERT WITH CHECK (tenant IS NOT NULL)`,
		`ALTER TABLE doc FORCE ROW LEVEL SECURITY`,
		`GRANT SELECT ON doc TO `+quoteIdent(role),
		`COMMENT ON TABLE doc IS 'Documents; it''s tenanted'`,
		`COMMENT ON COLUMN doc.body IS 'The text'`,
	)
	if err := emit.Exec(ctx, live, statements(base...)); err != nil {
		t.Fatal(err)
	}
	want, err := migrate.DesiredIn(ctx, scratch, statements(desired...))
	if err != nil {
		t.Fatal(err)
	}
	plan := migrate.Diff(inspect(t, live), want, migrate.Options{})
	kinds := map[emit.Kind]int{}
	for _, c := range plan.Changes {
		kinds[c.Kind]++
	}
	for _, k := range []emit.Kind{emit.KindFunction, emit.KindTrigger, emit.KindPolicy, emit.KindGrant, emit.KindComment} {
		if kinds[k] == 0 {
			t.Fatalf("plan has no %s change:\n%s", k, plan.SQL())
		}
	}
	if err := migrate.Apply(ctx, live, plan, false); err != nil {
		t.Fatalf("%v\n%s", err, plan.SQL())
	}
	got := inspect(t, live)
	if p := migrate.Diff(got, want, migrate.Options{}); !p.Empty() {
		t.Fatalf("drift:\n%s", p.SQL())
	}
	tb := got.Table("public", "doc")
	if !tb.RowSecurity || !tb.ForceRLS || len(tb.Policies) != 2 || len(tb.Triggers) != 1 ||
		!slices.Contains(tb.Grants, catalog.Grant{Grantee: role, Privilege: "SELECT"}) || tb.Comment != "Documents; it's tenanted" {
		t.Fatalf("inspected %+v", tb)
	}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// TestConcurrentlyLeavesTransactionByItself: a migration file with CREATE
// INDEX CONCURRENTLY runs outside a transaction without the marker.
func TestConcurrentlyLeavesTransactionByItself(t *testing.T) {
	t.Parallel()
	migs, err := migrate.ReadDir(fstestFS(map[string]string{
		"0001_a.up.sql": "-- build it online\ncreate unique index  concurrently ix ON t (v);",
		"0002_b.up.sql": "CREATE INDEX ix2 ON t (v); -- CONCURRENTLY in a comment does not count",
		"0003_c.up.sql": "SELECT 'CREATE INDEX CONCURRENTLY in a string'",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !migs[0].UpNoTx || migs[1].UpNoTx || migs[2].UpNoTx {
		t.Fatalf("no-transaction flags: %v %v %v", migs[0].UpNoTx, migs[1].UpNoTx, migs[2].UpNoTx)
	}
	db := pgtest.NewDatabase(t)
	conn := connect(t, db.URL)
	if _, err := conn.Exec(context.Background(), "CREATE TABLE t (v int)"); err != nil {
		t.Fatal(err)
	}
	m := &migrate.Migrator{Config: adminConfig(t, db.URL)}
	if _, err := m.Up(context.Background(), migs[:1], 0); err != nil {
		t.Fatalf("CONCURRENTLY migration: %v", err)
	}
}

// TestHarderAlterations: changes whose order or form PostgreSQL is strict
// about, each on a table with rows, applied and then checked for drift and
// with a statement that must work afterwards.
func TestHarderAlterations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		base, desired []string
		after         string // must succeed on the migrated database
		opts          migrate.Options
	}{
		{"identity kind keeps the sequence",
			[]string{`CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text)`, `INSERT INTO t (v) VALUES ('a'), ('b'), ('c')`},
			[]string{`CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)`},
			`INSERT INTO t (v) VALUES ('d')`, migrate.Options{}},
		{"serial to identity",
			[]string{`CREATE TABLE t (id serial PRIMARY KEY, v text)`, `INSERT INTO t (v) VALUES ('a'), ('b')`},
			[]string{`CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text)`},
			`INSERT INTO t (v) VALUES ('c')`, migrate.Options{}},
		{"retype a column a policy uses",
			[]string{`CREATE TABLE t (tenant varchar(26), v text)`, `ALTER TABLE t ENABLE ROW LEVEL SECURITY`,
				`CREATE POLICY p ON t USING (tenant::text = current_setting('x.t', true))`, `INSERT INTO t VALUES ('a', 'b')`},
			[]string{`CREATE TABLE t (tenant varchar(40), v text)`, `ALTER TABLE t ENABLE ROW LEVEL SECURITY`,
				`CREATE POLICY p ON t USING (tenant::text = current_setting('x.t', true))`},
			`SELECT 1`, migrate.Options{}},
		{"generated expression changes",
			[]string{`CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) STORED)`, `INSERT INTO t (a) VALUES (1)`},
			[]string{`CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 3) STORED)`},
			`DO $$ BEGIN IF (SELECT b FROM t) <> 3 THEN RAISE 'b not recomputed'; END IF; END $$`, migrate.Options{}},
		{"generated becomes plain",
			[]string{`CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) STORED)`, `INSERT INTO t (a) VALUES (1)`},
			[]string{`CREATE TABLE t (a int, b int)`},
			`UPDATE t SET b = 7`, migrate.Options{DropUnmanaged: true}},
		{"retype a generated column",
			[]string{`CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) STORED)`},
			[]string{`CREATE TABLE t (a int, b bigint GENERATED ALWAYS AS (a * 2) STORED)`},
			`INSERT INTO t (a) VALUES (5)`, migrate.Options{}},
		{"drop a generated column and its source",
			[]string{`CREATE TABLE t (id int, a int, b int GENERATED ALWAYS AS (a * 2) STORED)`},
			[]string{`CREATE TABLE t (id int)`},
			`INSERT INTO t VALUES (1)`, migrate.Options{}},
		{"key renamed under another table's foreign key",
			[]string{`CREATE TABLE a (id int, code text, CONSTRAINT uq_a_code UNIQUE (code))`,
				`CREATE TABLE b (code text, CONSTRAINT fk_b_code FOREIGN KEY (code) REFERENCES a (code))`},
			[]string{`CREATE TABLE a (id int, code text, CONSTRAINT uq_a_code2 UNIQUE (code))`,
				`CREATE TABLE b (code text, CONSTRAINT fk_b_code FOREIGN KEY (code) REFERENCES a (code))`},
			`INSERT INTO a VALUES (1, 'x')`, migrate.Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			liveDB, scratchDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
			live, scratch := connect(t, liveDB.URL), connect(t, scratchDB.URL)
			ctx := context.Background()
			if err := emit.Exec(ctx, live, statements(tc.base...)); err != nil {
				t.Fatal(err)
			}
			var ddl []string
			for _, s := range tc.desired {
				if !strings.HasPrefix(s, "INSERT") {
					ddl = append(ddl, s)
				}
			}
			want, err := migrate.DesiredIn(ctx, scratch, statements(ddl...))
			if err != nil {
				t.Fatal(err)
			}
			plan := migrate.Diff(inspect(t, live), want, tc.opts)
			if err := migrate.Apply(ctx, live, plan, true); err != nil {
				t.Fatalf("apply: %v\n%s", err, plan.SQL())
			}
			if p := migrate.Diff(inspect(t, live), want, tc.opts); !p.Empty() {
				t.Fatalf("drift:\n%s\nplan was:\n%s", p.SQL(), plan.SQL())
			}
			if _, err := live.Exec(ctx, tc.after); err != nil {
				t.Fatalf("after the migration, %s: %v\nplan was:\n%s", tc.after, err, plan.SQL())
			}
		})
	}
}

// TestRedoReappliesTheLastApplied: redo reverts and re-applies exactly the
// most recently applied migration, not the lowest pending one.
func TestRedoReappliesTheLastApplied(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	conn := connect(t, db.URL)
	ctx := context.Background()
	m := &migrate.Migrator{Config: adminConfig(t, db.URL)}
	if err := m.Redo(ctx, nil); !errors.Is(err, migrate.ErrNothingApplied) {
		t.Fatalf("redo with nothing applied: %v", err)
	}
	files := map[string]string{
		"0001_a.up.sql": "CREATE TABLE a (id int);", "0001_a.down.sql": "DROP TABLE a;",
		"0003_c.up.sql": "CREATE TABLE c (id int); INSERT INTO c VALUES (1);", "0003_c.down.sql": "DROP TABLE c;",
	}
	migs, err := migrate.ReadDir(fstestFS(files))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx, migs, 0); err != nil {
		t.Fatal(err)
	}
	files["0002_b.up.sql"], files["0002_b.down.sql"] = "CREATE TABLE b (id int);", "DROP TABLE b;"
	migs, err = migrate.ReadDir(fstestFS(files))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO c VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if err := m.Redo(ctx, migs); err != nil {
		t.Fatal(err)
	}
	st, err := m.Status(ctx, migs)
	if err != nil {
		t.Fatal(err)
	}
	if st[1].Version != 2 || st[1].State != migrate.StatePending || st[2].State != migrate.StateApplied {
		t.Fatalf("after redo: %+v", st)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM c").Scan(&n); err != nil || n != 1 {
		t.Fatalf("c was not re-created by its migration: %d rows (%v)", n, err)
	}
}

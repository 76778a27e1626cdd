package emit_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/types"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func registry(t testing.TB, models ...any) *model.Registry {
	t.Helper()
	r := model.NewRegistry()
	if err := r.Register(models...); err != nil {
		t.Fatal(err)
	}
	return r
}

func emitAll(t testing.TB, r *model.Registry) []emit.Statement {
	t.Helper()
	stmts, err := emit.NewTableEmitter(r.Tables()...).Emit()
	if err != nil {
		t.Fatal(err)
	}
	return stmts
}

func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	ulid, err := emit.ULIDFunction("public")
	if err != nil {
		t.Fatal(err)
	}
	if err := emit.Exec(ctx, conn, ulid); err != nil {
		t.Fatal(err)
	}
	return conn
}

// catalogType spells a declared SQL type the way format_type does.
func catalogType(c *model.Column) string {
	s := c.SQLType
	array := strings.HasSuffix(s, "[]")
	s = strings.TrimSuffix(s, "[]")
	if c.Enum != nil {
		s = c.Enum.Name
		if c.Enum.Schema != "" {
			s = quoteIfNeeded(c.Enum.Schema) + "." + s
		}
	} else {
		s = strings.ToLower(s)
		switch {
		case strings.HasPrefix(s, "varchar"):
			s = "character varying" + strings.TrimPrefix(s, "varchar")
		case s == "timestamptz":
			s = "timestamp with time zone"
		case s == "time":
			s = "time without time zone"
		}
	}
	if array {
		s += "[]"
	}
	return s
}

// quoteIfNeeded quotes a name the way PostgreSQL's quote_ident does for
// names that are not plain lower-case words.
func quoteIfNeeded(name string) string {
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			return quote.Ident(name)
		}
	}
	return name
}

type catalogColumn struct {
	name, typ  string
	notNull    bool
	hasDefault bool
	identity   string
	comment    string
}

func TestEmittedDDLMatchesCatalog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := connect(t)
	r := registry(t, allModels...)
	stmts := emitAll(t, r)
	if err := emit.Exec(ctx, conn, stmts); err != nil {
		t.Fatal(err)
	}
	// Idempotent: running everything again changes nothing and fails nothing.
	if err := emit.Exec(ctx, conn, stmts); err != nil {
		t.Fatalf("second run: %v", err)
	}
	var nTables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname IN ('public', 'shop', 'odd "schema"')`).Scan(&nTables); err != nil || nTables != len(allModels) {
		t.Fatalf("%d tables in the catalog (%v), want %d", nTables, err, len(allModels))
	}

	for _, tb := range r.Tables() {
		t.Run(tb.Name, func(t *testing.T) {
			checkTable(t, conn, tb)
		})
	}

	// Enum types hold exactly the declared labels, in order.
	for _, tc := range []struct {
		schema, name string
		want         []string
	}{
		{"shop", "status", Status("").EnumValues()},
		{"public", "mood", Mood("").EnumValues()},
		{`odd "schema"`, "mood", Mood("").EnumValues()},
	} {
		var labels []string
		err := conn.QueryRow(ctx, `SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_type t
			JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
			WHERE n.nspname = $1 AND t.typname = $2 AND t.typtype = 'e'`, tc.schema, tc.name).Scan(&labels)
		if err != nil || !slices.Equal(labels, tc.want) {
			t.Errorf("enum %s.%s: %q (%v), want %q", tc.schema, tc.name, labels, err, tc.want)
		}
	}
}

func checkTable(t *testing.T, conn *pgx.Conn, tb *model.Table) {
	ctx := context.Background()
	rel := tb.QuotedName
	var oid uint32
	if err := conn.QueryRow(ctx, "SELECT $1::regclass::oid", rel).Scan(&oid); err != nil {
		t.Fatalf("table %s: %v", rel, err)
	}

	// Columns: pg_attribute, pg_attrdef, pg_description.
	rows, err := conn.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
			a.atthasdef, a.attidentity::text, coalesce(col_description(a.attrelid, a.attnum), '')
		FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, oid)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (catalogColumn, error) {
		var c catalogColumn
		err := row.Scan(&c.name, &c.typ, &c.notNull, &c.hasDefault, &c.identity, &c.comment)
		return c, err
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []catalogColumn
	for _, c := range tb.Columns {
		id := ""
		switch c.Identity {
		case "ALWAYS":
			id = "a"
		case "BY DEFAULT":
			id = "d"
		}
		want = append(want, catalogColumn{c.Name, catalogType(c), !c.Nullable, c.Default != "", id, c.Comment})
	}
	if !slices.Equal(got, want) {
		t.Errorf("columns:\n got %+v\nwant %+v", got, want)
	}
	var comment string
	if err := conn.QueryRow(ctx, "SELECT coalesce(obj_description($1, 'pg_class'), '')", oid).Scan(&comment); err != nil || comment != tb.Comment {
		t.Errorf("table comment %q (%v), want %q", comment, err, tb.Comment)
	}

	// Constraints: pg_constraint.
	type con struct {
		name, kind  string
		cols        string
		ref         string
		refCols     string
		onDel, onUp string
		check       string
	}
	rows, err = conn.Query(ctx, `SELECT c.conname, c.contype::text,
			(SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
				JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n),
			coalesce(c.confrelid::regclass::text, ''),
			coalesce((SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
				JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n), ''),
			c.confdeltype::text, c.confupdtype::text,
			CASE WHEN c.contype = 'c' THEN pg_get_constraintdef(c.oid) ELSE '' END
		FROM pg_constraint c WHERE c.conrelid = $1 AND c.contype IN ('p', 'u', 'f', 'c') ORDER BY c.conname`, oid)
	if err != nil {
		t.Fatal(err)
	}
	gotCons, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (con, error) {
		var c con
		err := row.Scan(&c.name, &c.kind, &c.cols, &c.ref, &c.refCols, &c.onDel, &c.onUp, &c.check)
		if c.kind != "f" {
			c.onDel, c.onUp, c.ref = "", "", ""
		}
		if c.kind == "c" {
			c.cols = ""
		}
		return c, err
	})
	if err != nil {
		t.Fatal(err)
	}
	action := map[model.Action]string{"": "a", model.NoAction: "a", model.Restrict: "r", model.Cascade: "c", model.SetNull: "n", model.SetDefault: "d"}
	var wantCons []con
	join := func(cols []*model.Column) string {
		var s []string
		for _, c := range cols {
			s = append(s, c.Name)
		}
		return strings.Join(s, ",")
	}
	wantCons = append(wantCons, con{name: tb.PrimaryKey.Name, kind: "p", cols: join(tb.PrimaryKey.Columns)})
	for _, u := range tb.Uniques {
		if !u.AsIndex {
			wantCons = append(wantCons, con{name: u.Name, kind: "u", cols: join(u.Columns)})
		}
	}
	for _, f := range tb.ForeignKeys {
		var ref string
		if err := conn.QueryRow(ctx, "SELECT $1::regclass::text", f.RefTable.QuotedName).Scan(&ref); err != nil {
			t.Fatal(err)
		}
		wantCons = append(wantCons, con{name: f.Name, kind: "f", cols: join(f.Columns), ref: ref, refCols: join(f.RefColumns),
			onDel: action[f.OnDelete], onUp: action[f.OnUpdate]})
	}
	for _, c := range tb.Checks {
		wantCons = append(wantCons, con{name: c.Name, kind: "c", check: normCheck("CHECK (" + c.Check + ")")})
	}
	slices.SortFunc(wantCons, func(a, b con) int { return strings.Compare(a.name, b.name) })
	for i := range gotCons {
		if gotCons[i].kind == "c" {
			// PostgreSQL may add casts; compare after removing them.
			gotCons[i].check = normCheck(gotCons[i].check)
		}
	}
	if !slices.Equal(gotCons, wantCons) {
		t.Errorf("constraints:\n got %+v\nwant %+v", gotCons, wantCons)
	}

	// Indexes: pg_index (the ones not backing a constraint).
	type idx struct {
		name, cols, method, where string
		unique                    bool
	}
	rows, err = conn.Query(ctx, `SELECT c.relname,
			(SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, i)
				JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n),
			am.amname, coalesce(pg_get_expr(i.indpred, i.indrelid), ''), i.indisunique
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
		WHERE i.indrelid = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
		ORDER BY c.relname`, oid)
	if err != nil {
		t.Fatal(err)
	}
	gotIdx, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (idx, error) {
		var x idx
		err := row.Scan(&x.name, &x.cols, &x.method, &x.where, &x.unique)
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	var wantIdx []idx
	method := func(m string) string {
		if m == "" {
			return "btree"
		}
		return m
	}
	pred := func(w string) string { return strings.NewReplacer(`"`, "", "(", "", ")", "").Replace(w) }
	for _, u := range tb.Uniques {
		if u.AsIndex {
			wantIdx = append(wantIdx, idx{u.Name, join(u.Columns), method(u.Using), pred(u.Where), true})
		}
	}
	for _, x := range tb.Indexes {
		wantIdx = append(wantIdx, idx{x.Name, join(x.Columns), method(x.Using), pred(x.Where), false})
	}
	slices.SortFunc(wantIdx, func(a, b idx) int { return strings.Compare(a.name, b.name) })
	for i := range gotIdx {
		gotIdx[i].where = pred(gotIdx[i].where)
	}
	if !slices.Equal(gotIdx, wantIdx) {
		t.Errorf("indexes:\n got %+v\nwant %+v", gotIdx, wantIdx)
	}
}

// normCheck drops what PostgreSQL adds when it prints a check expression:
// casts of literals, parentheses and spaces.
func normCheck(s string) string {
	return strings.NewReplacer("::numeric", "", "::text", "", "(", "", ")", "", " ", "").Replace(s)
}

// TestDeclaredSpecifics checks a few declarations by hand, independently of
// the metadata: the catalog must show what the Go source says.
func TestDeclaredSpecifics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := connect(t)
	r := registry(t, allModels...)
	if err := emit.Exec(ctx, conn, emitAll(t, r)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct{ sql, want string }{
		{`SELECT pg_get_indexdef('public.uq_user_email'::regclass)`,
			`CREATE UNIQUE INDEX uq_user_email ON public."user" USING btree (email) WHERE (NOT is_deleted)`},
		{`SELECT pg_get_indexdef('shop.ix_order_data'::regclass)`, `CREATE INDEX ix_order_data ON shop."order" USING gin (data)`},
		{`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'fk_order_user_id'`,
			`FOREIGN KEY (user_id) REFERENCES "user"(id) ON UPDATE CASCADE ON DELETE CASCADE`},
		{`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'fk_department_manager_id'`,
			`FOREIGN KEY (manager_id) REFERENCES employee(id) ON DELETE SET NULL`},
		{`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'fk_type_zoo_line_order_line_no'`,
			`FOREIGN KEY (line_order, line_no) REFERENCES shop.order_line(order_id, line) ON DELETE SET NULL`},
		{`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'uq_product_vendor_code'`, `UNIQUE (vendor, code)`},
		{`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ck_product_price_positive'`, `CHECK ((price > (0)::numeric))`},
		{`SELECT pg_get_indexdef('ix_product_vendor_name'::regclass)`, `CREATE INDEX ix_product_vendor_name ON public.product USING btree (vendor, name)`},
		{`SELECT pg_get_indexdef('ix_product_price'::regclass)`, `CREATE INDEX ix_product_price ON public.product USING btree (price) WHERE active`},
		{`SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
			WHERE d.adrelid = '"user"'::regclass AND a.attname = 'id'`, `generate_ulid()`},
		{`SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'shop.order'::regclass AND attname = 'total'`, `numeric(12,2)`},
		{`SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'type_zoo'::regclass AND attname = 'moods'`, `mood[]`},
		{`SELECT attidentity::text FROM pg_attribute WHERE attrelid = 'product'::regclass AND attname = 'id'`, `a`},
		{`SELECT obj_description('"user"'::regclass, 'pg_class')`, `Accounts. It's a reserved word.`},
		{`SELECT obj_description('"odd ""schema"""."we""ird; DROP TABLE x; --"'::regclass, 'pg_class')`, `it's "weird"; DROP TABLE x; -- $uno$ \ back`},
		{`SELECT col_description('"odd ""schema"""."we""ird; DROP TABLE x; --"'::regclass, 2)`, `O'Reilly`},
	} {
		var got string
		if err := conn.QueryRow(ctx, q.sql).Scan(&got); err != nil || got != q.want {
			t.Errorf("%s\n got %q (%v)\nwant %q", q.sql, got, err, q.want)
		}
	}
}

// TestEmittedSchemaBehaves inserts rows: database-generated keys, defaults,
// the soft-delete partial unique index, and constraint names that lead back
// to the model.
func TestEmittedSchemaBehaves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := connect(t)
	r := registry(t, allModels...)
	if err := emit.Exec(ctx, conn, emitAll(t, r)); err != nil {
		t.Fatal(err)
	}
	users, _ := model.TableOf[User](r)
	var id string
	var active, deleted bool
	if err := conn.QueryRow(ctx, `INSERT INTO "user" (email) VALUES ('a@example.com') RETURNING id, is_active, is_deleted`).
		Scan(&id, &active, &deleted); err != nil {
		t.Fatal(err)
	}
	if len(id) != 26 || !active || deleted {
		t.Errorf("defaults: id %q active %v deleted %v", id, active, deleted)
	}
	_, err := conn.Exec(ctx, `INSERT INTO "user" (email) VALUES ('a@example.com')`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("duplicate email: %v", err)
	}
	c, ok := r.Constraint(pgErr.SchemaName, pgErr.ConstraintName)
	if !ok || c.Table != users || c.Columns[0].Field != "Email" {
		t.Errorf("constraint %s.%s does not lead to User.Email: %+v", pgErr.SchemaName, pgErr.ConstraintName, c)
	}
	// After a soft delete the same email may be used again.
	if _, err := conn.Exec(ctx, `UPDATE "user" SET is_deleted = true WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO "user" (email) VALUES ('a@example.com')`); err != nil {
		t.Errorf("re-create after soft delete: %v", err)
	}
	// Foreign key violations name the constraint too.
	_, err = conn.Exec(ctx, `INSERT INTO shop."order" (tenant_id, user_id) VALUES ('t', 'nobody')`)
	if !errors.As(err, &pgErr) || pgErr.Code != "23503" {
		t.Fatalf("fk violation: %v", err)
	}
	if c, ok := r.Constraint(pgErr.SchemaName, pgErr.ConstraintName); !ok || c.Kind != model.ForeignKey || c.Columns[0].Field != "UserID" {
		t.Errorf("fk constraint %q: %+v", pgErr.ConstraintName, c)
	}
	// The cycle works both ways once rows exist.
	if _, err := conn.Exec(ctx, `INSERT INTO department (id) VALUES (1); INSERT INTO employee (id, department_id) VALUES (7, 1);
		UPDATE department SET manager_id = 7 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE department SET manager_id = 8 WHERE id = 1`); err == nil {
		t.Error("deferred foreign key department.manager_id is missing")
	}
	// Scan a row straight into the struct through the precomputed addresses.
	var u User
	dst, err := users.Addrs(&u, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range users.Columns {
		cols = append(cols, c.QuotedName)
	}
	if err := conn.QueryRow(ctx, "SELECT "+strings.Join(cols, ", ")+` FROM "user" WHERE id = $1`, id).Scan(dst...); err != nil {
		t.Fatal(err)
	}
	if string(u.ID) != id || u.Email != "a@example.com" || !u.IsDeleted || u.CreatedAt.IsZero() || u.DeletedAt != nil || u.CreatedByID != nil {
		t.Errorf("scanned %+v", u)
	}
}

// TestOrderIndependent checks the output does not depend on the order the
// models are given in, and that foreign keys come after their targets.
func TestOrderIndependent(t *testing.T) {
	t.Parallel()
	r := registry(t, allModels...)
	want := emit.Script(emitAll(t, r))
	tables := r.Tables()
	for i := 0; i < 20; i++ {
		rand.Shuffle(len(tables), func(a, b int) { tables[a], tables[b] = tables[b], tables[a] })
		stmts, err := emit.NewTableEmitter(append(tables, tables[0])...).Emit()
		if err != nil {
			t.Fatal(err)
		}
		if got := emit.Script(stmts); got != want {
			t.Fatalf("output changed with input order %v", tables)
		}
	}
	// Every inline foreign key points to a table created earlier.
	stmts := emitAll(t, r)
	created := map[string]bool{}
	for _, s := range stmts {
		if s.Kind != emit.KindTable {
			continue
		}
		for _, line := range strings.Split(s.SQL, "\n") {
			if i := strings.Index(line, "REFERENCES "); i >= 0 {
				ref := strings.Fields(line[i+len("REFERENCES "):])[0]
				if !created[ref] && !strings.Contains(s.SQL, "EXISTS "+ref+" (") {
					t.Errorf("%s references %s before it exists", s.Name, ref)
				}
			}
		}
		created[strings.Fields(s.SQL)[5]] = true
	}
	if _, err := emit.NewTableEmitter(nil).Emit(); !errors.Is(err, emit.ErrNilTable) {
		t.Errorf("nil table: %v", err)
	}
}

// TestExecNamesStatement checks that a failing statement is reported by
// name and kind.
func TestExecNamesStatement(t *testing.T) {
	t.Parallel()
	conn := connect(t)
	err := emit.Exec(context.Background(), conn, []emit.Statement{{Name: "broken", Kind: emit.KindTable, SQL: "CREATE TABLE ("}})
	var pgErr *pgconn.PgError
	if err == nil || !strings.Contains(err.Error(), "table broken") || !errors.As(err, &pgErr) {
		t.Errorf("error = %v", err)
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for name, models := range map[string][]any{
		"customer": {Customer{}},
		"models":   allModels,
	} {
		got := emit.Script(emitAll(t, registry(t, models...)))
		path := filepath.Join("testdata", name+".golden")
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from %s; run go test ./emit -run TestGolden -update and review the diff\n%s", name, path, got)
		}
	}
}

// Wide is a 30-column model for the emission benchmark.
type Wide struct {
	ID                                                              int64  `uno:"id,pk,identity"`
	C01                                                             string `uno:"c01,unique"`
	C02                                                             string `uno:"c02,index"`
	C03                                                             string `uno:"c03,check:c03 <> ''"`
	C04, C05, C06, C07, C08, C09, C10, C11, C12, C13, C14, C15, C16 *string
	C17, C18, C19, C20, C21, C22, C23, C24, C25, C26, C27, C28      int64
	C29                                                             float64 `uno:"c29,default:0"`
}

func BenchmarkEmitWide(b *testing.B) {
	r := registry(b, Wide{})
	tb, _ := model.TableOf[Wide](r)
	if n := len(tb.Columns); n != 30 {
		b.Fatalf("%d columns", n)
	}
	e := emit.NewTableEmitter(tb)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Emit(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWideExecutes(t *testing.T) {
	t.Parallel()
	conn := connect(t)
	r := registry(t, Wide{})
	if err := emit.Exec(context.Background(), conn, emitAll(t, r)); err != nil {
		t.Fatal(err)
	}
	tb, _ := model.TableOf[Wide](r)
	checkTable(t, conn, tb)
}

// TestTypeZooRoundTrip writes a row of every standard type through the
// emitted table, using the model's precomputed field addresses as insert
// arguments and as scan targets, and reads back an equal struct.
func TestTypeZooRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := connect(t)
	r := registry(t, allModels...)
	if err := emit.Exec(ctx, conn, emitAll(t, r)); err != nil {
		t.Fatal(err)
	}
	loaded, err := conn.LoadTypes(ctx, r.EnumTypeNames())
	if err != nil {
		t.Fatal(err)
	}
	conn.TypeMap().RegisterTypes(loaded)
	tb, _ := model.TableOf[TypeZoo](r)
	text, mood := "optional", Mood("a\"b")
	in := TypeZoo{
		ID: types.UUID{1, 2, 3}, S12: "s12", S26: "01ARZ3NDEKTSV4RRFFQ69G5FAV", S63: "s63", S64: "s64", S128: "s128", S255: "it's",
		Text: `back\slash`, Big: -1 << 63, Int: -1 << 31, Small: 1<<15 - 1,
		Dec:   "12345678901234567890123456789012345678",
		Bool:  true,
		At:    time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.FixedZone("x", -9*3600)),
		Day:   types.Date{Year: 2024, Month: time.February, Day: 29},
		Clock: types.Time{Hour: 23, Minute: 59, Second: 59, Microsecond: 999999},
		Span:  types.Interval{Months: 13, Days: 1, Microseconds: 1},
		Bytes: []byte{0, '\'', 0xff}, Doc: types.JSONB[struct{ A int }]{V: struct{ A int }{A: 7}},
		Raw: json.RawMessage(`{"a": [1, 2]}`), Map: map[string]any{"k": map[string]any{"n": []any{1.0, "x"}}},
		Ints: []int64{}, Grid: [][]float64{{1.5, 2}, {3, 4}}, Moods: []Mood{"happy", "$uno$"}, Mood: &mood,
		F32: 1.5, OptText: &text, NullStr: sql.NullString{String: "ns", Valid: true}, PgInt: pgtype.Int4{Int32: 42, Valid: true},
	}
	args, err := tb.Addrs(&in, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cols, params []string
	for i, c := range tb.Columns {
		cols = append(cols, c.QuotedName)
		params = append(params, fmt.Sprintf("$%d", i+1))
	}
	if _, err := conn.Exec(ctx, "INSERT INTO "+tb.QuotedName+" ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(params, ", ")+")", args...); err != nil {
		t.Fatal(err)
	}
	var out TypeZoo
	dst, _ := tb.Addrs(&out, nil)
	if err := conn.QueryRow(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+tb.QuotedName).Scan(dst...); err != nil {
		t.Fatal(err)
	}
	if !out.At.Equal(in.At) {
		t.Errorf("at: %v, want %v", out.At, in.At)
	}
	out.At = in.At
	var rawIn, rawOut any
	_ = json.Unmarshal(in.Raw, &rawIn)
	_ = json.Unmarshal(out.Raw, &rawOut)
	if !reflect.DeepEqual(rawIn, rawOut) {
		t.Errorf("raw: %s, want %s", out.Raw, in.Raw)
	}
	out.Raw = in.Raw
	if !reflect.DeepEqual(out, in) {
		t.Errorf("read back\n %+v\nwant\n %+v", out, in)
	}
}

package repo_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
)

// Stock has a natural key of a string and an integer, a nullable column
// read back by decoding and a column with a default the merge leaves to
// the database.
type Stock struct {
	uno.Model `uno:"table:stock"`
	ID        int64     `uno:"id,pk,identity"`
	Warehouse string    `uno:"warehouse,type:VARCHAR(8)"`
	Bin       int32     `uno:"bin"`
	Qty       int64     `uno:"qty"`
	Note      *string   `uno:"note"`
	Active    bool      `uno:"active"`
	Seen      time.Time `uno:"seen,default:now()"`
}

// TableDef makes (warehouse, bin) unique.
func (Stock) TableDef() model.TableDef {
	return model.TableDef{Uniques: []model.UniqueDef{{Columns: []string{"warehouse", "bin"}}}}
}

// stockRepo creates the stock table in e's database and returns its
// repository, with opts.
func stockRepo(t *testing.T, e *env, opts repo.Options) *repo.Repository[Stock] {
	t.Helper()
	reg := model.NewRegistry()
	if err := reg.Register((*Stock)(nil)); err != nil {
		t.Fatal(err)
	}
	stmts, err := emit.NewTableEmitter(reg.Tables()...).Emit()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := emit.Exec(ctx, conn, stmts); err != nil {
		t.Fatal(err)
	}
	r, err := repo.New[Stock](e.db, reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// stockKey is the key of a stock row as a map key.
type stockKey struct {
	w string
	b int32
}

// stockRows reads every stock row, by key.
func stockRows(t *testing.T, e *env) map[stockKey]Stock {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id, warehouse, bin, qty, note, active, seen FROM stock`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[stockKey]Stock{}
	for rows.Next() {
		var s Stock
		if err := rows.Scan(&s.ID, &s.Warehouse, &s.Bin, &s.Qty, &s.Note, &s.Active, &s.Seen); err != nil {
			t.Fatal(err)
		}
		out[stockKey{s.Warehouse, s.Bin}] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameAsRows fails unless each struct equals its row in the table.
func sameAsRows(t *testing.T, e *env, structs []Stock) {
	t.Helper()
	table := stockRows(t, e)
	for i, s := range structs {
		row, ok := table[stockKey{s.Warehouse, s.Bin}]
		if !ok {
			t.Fatalf("struct %d (%s, %d) has no row", i, s.Warehouse, s.Bin)
		}
		if !reflect.DeepEqual(row, s) {
			t.Fatalf("struct %d after the merge\n%+v\ndiffers from its row\n%+v", i, s, row)
		}
	}
}

// stockVersions returns the xmin of each stock row by id: a row rewritten
// gets a new one.
func stockVersions(t *testing.T, e *env) map[string]string { return versions(t, e, "stock") }

// TestUpsertOutcomesOnTheServer merges on a composite natural key (a
// VARCHAR and an integer) and checks on the server what each reported
// outcome claims: inserted rows are in the table with what the database
// generated read back, updated rows hold the new values in a new row
// version, unchanged rows keep their row version (xmin) and are filled
// back with the columns the input did not carry; outcomes come in input
// order, whatever order the statement wrote the rows in. A merge whose
// rows are all written takes one statement; one with unchanged rows, two.
func TestUpsertOutcomesOnTheServer(t *testing.T) {
	t.Parallel()
	counter := &queryCounter{}
	e := newEnvOpts(t, engine.Options{Tracer: counter})
	ctx := context.Background()
	stock := stockRepo(t, e, repo.Options{Roles: repo.RolesLogin})
	on := repo.MergeOptions{On: []string{"warehouse", "bin"}}
	merge := func(rows []Stock, statements int64) repo.MergeResult {
		t.Helper()
		before := counter.n.Load()
		res, err := stock.Merge(ctx, rows, on)
		if err != nil {
			t.Fatal(err)
		}
		if n := counter.n.Load() - before; n != statements {
			t.Fatalf("the merge took %d statements, want %d", n, statements)
		}
		if len(res.Outcomes) != len(rows) || res.Inserted+res.Updated+res.Unchanged != len(rows) {
			t.Fatalf("result %+v for %d rows", res, len(rows))
		}
		return res
	}
	outcomes := func(res repo.MergeResult, want ...repo.Outcome) {
		t.Helper()
		if !reflect.DeepEqual(res.Outcomes, want) {
			t.Fatalf("outcomes %v, want %v", res.Outcomes, want)
		}
		n := map[repo.Outcome]int{}
		for _, o := range want {
			n[o]++
		}
		if res.Inserted != n[repo.Inserted] || res.Updated != n[repo.Updated] || res.Unchanged != n[repo.Unchanged] {
			t.Fatalf("counts %d/%d/%d, want %v", res.Inserted, res.Updated, res.Unchanged, n)
		}
	}

	// Three new rows, sent out of key order: one statement.
	first := []Stock{{Warehouse: "b", Bin: 1, Qty: 10, Active: true}, {Warehouse: "a", Bin: 2, Qty: 20}, {Warehouse: "a", Bin: 1, Qty: 30, Note: ptr("n")}}
	outcomes(merge(first, 1), repo.Inserted, repo.Inserted, repo.Inserted)
	for i, s := range first {
		if s.ID == 0 || s.Seen.IsZero() {
			t.Fatalf("row %d: generated columns not read back: %+v", i, s)
		}
	}
	sameAsRows(t, e, first)
	if n := e.count("stock"); n != 3 {
		t.Fatalf("%d rows, want 3", n)
	}
	v1 := stockVersions(t, e)

	// Unchanged, new, changed, unchanged: the unchanged rows come without
	// id or seen, and get them from the table.
	second := []Stock{
		{Warehouse: "b", Bin: 1, Qty: 10, Active: true},
		{Warehouse: "c", Bin: 7, Qty: 70},
		{Warehouse: "a", Bin: 1, Qty: 31, Note: ptr("n")},
		{Warehouse: "a", Bin: 2, Qty: 20},
	}
	outcomes(merge(second, 2), repo.Unchanged, repo.Inserted, repo.Updated, repo.Unchanged)
	sameAsRows(t, e, second)
	if second[0].ID != first[0].ID || second[3].ID != first[1].ID || second[2].ID != first[2].ID {
		t.Fatalf("ids %d %d %d, want those of the first merge %d %d %d", second[0].ID, second[3].ID, second[2].ID, first[0].ID, first[1].ID, first[2].ID)
	}
	if !second[0].Seen.Equal(first[0].Seen) {
		t.Fatal("unchanged row's seen not read back")
	}
	v2 := stockVersions(t, e)
	id := func(s Stock) string { return strconv.FormatInt(s.ID, 10) }
	for _, s := range []Stock{second[0], second[3]} {
		if v2[id(s)] != v1[id(s)] {
			t.Fatalf("unchanged row %d rewritten: xmin %s → %s", s.ID, v1[id(s)], v2[id(s)])
		}
	}
	if v2[id(second[2])] == v1[id(second[2])] {
		t.Fatal("updated row kept its xmin")
	}
	if n := e.count("stock"); n != 4 {
		t.Fatalf("%d rows, want 4", n)
	}

	// A NULL becomes a value and a value NULL (the nullable column is
	// compared with IS DISTINCT FROM); the same rows again are unchanged,
	// and all-unchanged costs the upsert and the read of the rows.
	third := []Stock{{Warehouse: "a", Bin: 2, Qty: 20, Note: ptr("now")}, {Warehouse: "a", Bin: 1, Qty: 31}}
	outcomes(merge(third, 1), repo.Updated, repo.Updated)
	sameAsRows(t, e, third)
	v3 := stockVersions(t, e)
	again := []Stock{{Warehouse: "a", Bin: 2, Qty: 20, Note: ptr("now")}, {Warehouse: "a", Bin: 1, Qty: 31}}
	outcomes(merge(again, 2), repo.Unchanged, repo.Unchanged)
	sameAsRows(t, e, again)
	if !reflect.DeepEqual(stockVersions(t, e), v3) {
		t.Fatal("an all-unchanged merge rewrote rows")
	}

	// MergeOne, and a named column only: qty is written and compared,
	// active is not (the row's true comes back).
	o, err := stock.MergeOne(ctx, &Stock{Warehouse: "b", Bin: 1, Qty: 10}, repo.MergeOptions{On: on.On, Columns: []string{"qty"}})
	if err != nil || o != repo.Unchanged {
		t.Fatalf("MergeOne: %v %v, want unchanged", o, err)
	}
	one := Stock{Warehouse: "b", Bin: 1, Qty: 11}
	if o, err := stock.MergeOne(ctx, &one, repo.MergeOptions{On: on.On, Columns: []string{"qty"}}); err != nil || o != repo.Updated {
		t.Fatalf("MergeOne: %v %v, want updated", o, err)
	}
	if !one.Active {
		t.Fatal("the row's active, not merged, not read back")
	}
	sameAsRows(t, e, []Stock{one})

	// Two rows with one key, and a key over its column's width.
	if _, err := stock.Merge(ctx, []Stock{{Warehouse: "z", Bin: 1}, {Warehouse: "z", Bin: 1, Qty: 2}}, on); !errors.Is(err, repo.ErrDuplicateInput) {
		t.Fatalf("duplicate keys: %v", err)
	}
	if _, err := stock.Merge(ctx, []Stock{{Warehouse: "warehouse9", Bin: 1}}, on); err == nil || !strings.Contains(err.Error(), "22001") {
		t.Fatalf("over-long key: %v, want SQLSTATE 22001", err)
	}
	if n := e.count("stock"); n != 4 {
		t.Fatalf("%d rows after the failed merges, want 4", n)
	}
}

// TestUpsertKeyCutToFit: a VARCHAR(8) key sent with spaces past its width
// is stored cut to 8 characters; the merge cuts it the same way, so the
// row is matched (inserted, then unchanged) and the struct holds the
// stored key.
func TestUpsertKeyCutToFit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	stock := stockRepo(t, e, repo.Options{})
	on := repo.MergeOptions{On: []string{"warehouse", "bin"}}
	for _, want := range []repo.Outcome{repo.Inserted, repo.Unchanged} {
		rows := []Stock{{Warehouse: "éééééééé   ", Bin: 1, Qty: 5}}
		res, err := stock.Merge(ctx, rows, on)
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcomes[0] != want {
			t.Fatalf("outcome %v, want %v", res.Outcomes[0], want)
		}
		if rows[0].Warehouse != "éééééééé" || rows[0].ID == 0 {
			t.Fatalf("struct after the merge %+v, want the stored key and the id", rows[0])
		}
		sameAsRows(t, e, rows)
	}
	if n := e.count("stock"); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// TestUpsertInCallersTransaction: inside the caller's transaction both
// statements of a merge with unchanged rows run in it, and rolling it back
// undoes the written rows.
func TestUpsertInCallersTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	stock := stockRepo(t, e, repo.Options{})
	on := repo.MergeOptions{On: []string{"warehouse", "bin"}}
	if _, err := stock.Merge(ctx, []Stock{{Warehouse: "a", Bin: 1, Qty: 1}}, on); err != nil {
		t.Fatal(err)
	}
	rollback := errors.New("roll back")
	var res repo.MergeResult
	rows := []Stock{{Warehouse: "a", Bin: 1, Qty: 1}, {Warehouse: "a", Bin: 2, Qty: 2}}
	err := e.db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, _ *engine.Tx) error {
		var err error
		if res, err = stock.Merge(ctx, rows, on); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Outcomes, []repo.Outcome{repo.Unchanged, repo.Inserted}) || rows[0].ID == 0 {
		t.Fatalf("in the transaction: %+v, rows %+v", res, rows)
	}
	if n := e.count("stock"); n != 1 {
		t.Fatalf("%d rows after the rollback, want 1", n)
	}
}

package repo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// TestMergeOverlongKeyRejected: a merge key longer than its VARCHAR(64)
// column is rejected by the column (22001), not cut to 64 characters and
// matched against the existing row it then equals.
func TestMergeOverlongKeyRejected(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	orders := repoOf[Order](e)
	code := strings.Repeat("A", 64)
	if err := orders.Create(ctx, &Order{Code: types.String64(code), Title: "orig"}); err != nil {
		t.Fatal(err)
	}
	for name, merge := range map[string]func(rows []Order) error{
		"Merge": func(rows []Order) error {
			_, err := orders.Merge(ctx, rows, repo.MergeOptions{On: []string{"code"}})
			return err
		},
		"MergeCopy": func(rows []Order) error {
			_, err := orders.MergeCopy(ctx, rows, repo.MergeOptions{On: []string{"code"}})
			return err
		},
	} {
		err := merge([]Order{{Code: types.String64(code + "evil"), Title: "evil"}})
		if dberr.Code(err) != "22001" {
			t.Fatalf("%s of an over-long code: %v, want SQLSTATE 22001", name, err)
		}
	}
	if got := pgtest.Scalar[string](t, e.url, `SELECT string_agg(title, ',') FROM "order"`); got != "orig" {
		t.Fatalf("titles after the rejected merges: %q, want orig", got)
	}
	if n := e.count("order"); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
}

// TestFilterInOverlongValue: code__in with a value longer than the column
// is refused (it could never match; it is not cut to a value that
// matches), and in and not_in with values that fit behave.
func TestFilterInOverlongValue(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	orders := repoOf[Order](e)
	code := strings.Repeat("A", 64)
	if err := orders.Create(ctx, &Order{Code: types.String64(code), Title: "t"}); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{
		"code__in=" + code + "zzz":     0,
		"code__in=" + code + ",x":      1,
		"code__not_in=" + code + "zzz": 1,
		"code__not_in=" + code:         0,
	} {
		f, err := orders.ParseQuery(q)
		var rows []Order
		if err == nil {
			rows, err = orders.Filter(ctx, f)
		}
		if strings.Contains(q, "zzz") {
			// Longer than VARCHAR(64): refused before any SQL, as it
			// cannot match.
			if !errors.Is(err, repo.ErrBadValue) {
				t.Errorf("%s: %v, want ErrBadValue", q, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if len(rows) != want {
			t.Fatalf("%s: %d rows, want %d", q, len(rows), want)
		}
	}
}

// TestMergeOnHeldConnection: inside engine.DB.WithConn on a pool of one
// connection, MergeCopy and a multi-statement Merge run on the held
// connection (a second borrow would wait for ever).
func TestMergeOnHeldConnection(t *testing.T) {
	e := newEnv(t)
	cfg := e.cfg
	cfg.Pool.MaxConns = 1
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard, not a speed check
	defer cancel()
	db, err := f.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	items, err := repo.New[Item](db, e.reg)
	if err != nil {
		t.Fatal(err)
	}
	// Enough rows for two merge statements (65,535 parameters each).
	big := make([]Item, 14000)
	for i := range big {
		big[i] = Item{ID: int64(i + 1), Name: "n", Tags: []string{}}
	}
	err = db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		res, err := items.MergeCopy(ctx, []Item{{ID: 100001, Name: "copy", Tags: []string{}}}, repo.MergeOptions{})
		if err != nil {
			return err
		}
		if res.Inserted != 1 {
			t.Errorf("MergeCopy: %+v", res)
		}
		res, err = items.Merge(ctx, big, repo.MergeOptions{})
		if err != nil {
			return err
		}
		if res.Inserted != len(big) {
			t.Errorf("Merge inserted %d, want %d", res.Inserted, len(big))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count("item"); n != int64(len(big))+1 {
		t.Fatalf("%d items, want %d", n, len(big)+1)
	}
}

// TestBatchMissingRowRollsBack: a batch whose Get finds no row, sent
// outside a transaction and without SwitchRoles, leaves no row of its
// creates behind.
func TestBatchMissingRowRollsBack(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	orders := repoOf[Order](e)
	b := repo.NewBatch()
	orders.QueueCreate(b, &Order{Code: "B1", Title: "one"})
	var missing Order
	orders.QueueGet(b, &missing, "00000000000000000000000000")
	orders.QueueCreate(b, &Order{Code: "B2", Title: "two"})
	err := b.Send(ctx)
	if !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("Send: %v, want ErrNotFound", err)
	}
	if n := e.count("order"); n != 0 {
		t.Fatalf("%d orders after the failed batch, want 0", n)
	}
	// The same batch inside a held connection rolls back too.
	b = repo.NewBatch()
	orders.QueueCreate(b, &Order{Code: "B3", Title: "three"})
	orders.QueueGet(b, &missing, "00000000000000000000000000")
	err = e.db.WithConn(ctx, func(ctx context.Context, _ *engine.Conn) error { return b.Send(ctx) })
	if !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("Send on a held connection: %v, want ErrNotFound", err)
	}
	if n := e.count("order"); n != 0 {
		t.Fatalf("%d orders after the failed batch on a held connection, want 0", n)
	}
}

// TestMergeSoftDeletedRow: merging on the primary key of a soft-deleted
// row neither revives nor rewrites it: the merge fails with ErrConflict
// naming the row, and the merge's other rows are undone.
func TestMergeSoftDeletedRow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	orders := repoOf[Order](e)
	o := Order{Code: "A", Title: "x"}
	if err := orders.Create(ctx, &o); err != nil {
		t.Fatal(err)
	}
	if err := orders.Delete(ctx, &o); err != nil {
		t.Fatal(err)
	}
	const fresh = "01HZZZZZZZZZZZZZZZZZZZZZZB"
	for name, merge := range map[string]func(rows []Order) (repo.MergeResult, error){
		"Merge":     func(rows []Order) (repo.MergeResult, error) { return orders.Merge(ctx, rows, repo.MergeOptions{}) },
		"MergeCopy": func(rows []Order) (repo.MergeResult, error) { return orders.MergeCopy(ctx, rows, repo.MergeOptions{}) },
	} {
		for _, title := range []string{"y", "x"} { // changed, and equal to the deleted row
			rows := []Order{{Code: "B", Title: "new", Status: "new", ULIDKey: model.ULIDKey{ID: fresh}},
				{Code: "A", Title: title, Status: "new", ULIDKey: o.ULIDKey}}
			res, err := merge(rows)
			if !errors.Is(err, dberr.ErrConflict) || !strings.Contains(err.Error(), "row 1") {
				t.Fatalf("%s (title %s) on a soft-deleted row: %+v, %v; want ErrConflict naming row 1", name, title, res, err)
			}
		}
	}
	if got := pgtest.Scalar[string](t, e.url, `SELECT format('%s %s %s', title, is_deleted, version) FROM "order"`); got != "x t 1" {
		t.Fatalf("the deleted row became %q", got)
	}
	if n := e.count("order"); n != 1 {
		t.Fatalf("%d orders, want 1 (the other row undone)", n)
	}
	if _, err := orders.Get(ctx, o.ID); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("Get: %v", err)
	}
	// A merge inside the caller's transaction reports it too.
	err := e.db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, _ *engine.Tx) error {
		_, err := orders.MergeOne(ctx, &Order{Code: "A", Title: "z", Status: "new", ULIDKey: o.ULIDKey}, repo.MergeOptions{})
		return err
	})
	if !errors.Is(err, dberr.ErrConflict) {
		t.Fatalf("MergeOne in a transaction: %v", err)
	}
}

// TestCreateOrGetSoftDeletedRow: CreateOrGet on the key of a soft-deleted
// row neither reports that row as existing nor fills the struct with it:
// it fails with ErrConflict. WithDeleted still returns it.
func TestCreateOrGetSoftDeletedRow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	orders := repoOf[Order](e)
	o := Order{Code: "A", Title: "x"}
	if err := orders.Create(ctx, &o); err != nil {
		t.Fatal(err)
	}
	if err := orders.Delete(ctx, &o); err != nil {
		t.Fatal(err)
	}
	v := Order{ULIDKey: o.ULIDKey, Code: "B", Title: "new"}
	created, err := orders.CreateOrGet(ctx, &v, "id")
	if !errors.Is(err, dberr.ErrConflict) || created {
		t.Fatalf("CreateOrGet on a soft-deleted key: created %v, %v; want ErrConflict", created, err)
	}
	if v.Title != "new" || v.Code != "B" || v.IsDeleted {
		t.Fatalf("struct filled with the deleted row: %+v", v)
	}
	if got := pgtest.Scalar[string](t, e.url, `SELECT format('%s %s %s', count(*), min(title), bool_and(is_deleted)) FROM "order"`); got != "1 x t" {
		t.Fatalf("orders: %q, want the one deleted row", got)
	}
	w := Order{ULIDKey: o.ULIDKey, Code: "B", Title: "new"}
	created, err = orders.WithDeleted().CreateOrGet(ctx, &w, "id")
	if err != nil || created || w.Title != "x" || !w.IsDeleted {
		t.Fatalf("WithDeleted().CreateOrGet: created %v, %v, %+v", created, err, w)
	}
	// A live row is still returned.
	live := Order{Code: "L", Title: "live"}
	if err := orders.Create(ctx, &live); err != nil {
		t.Fatal(err)
	}
	u := Order{ULIDKey: live.ULIDKey, Code: "M", Title: "other"}
	if created, err := orders.CreateOrGet(ctx, &u, "id"); err != nil || created || u.Title != "live" {
		t.Fatalf("CreateOrGet on a live key: created %v, %v, %+v", created, err, u)
	}
}

// Shop has a types.String26 key; Product points to it with a plain string.
type Shop struct {
	uno.Model `uno:"table:shop"`
	model.ULIDKey
	Name     string    `uno:"name"`
	Products []Product `uno:",has_many"`
}

// Product belongs to a shop through a string column.
type Product struct {
	uno.Model `uno:"table:product"`
	ID        int64  `uno:"id,pk"`
	ShopID    string `uno:"shop_id,fk:shop"`
	Shop      *Shop  `uno:",belongs_to"`
}

// Mismatch points to a shop through an integer column: not loadable.
type Mismatch struct {
	uno.Model `uno:"table:mismatch"`
	ID        int64 `uno:"id,pk"`
	ShopID    int64 `uno:"shop_id,type:VARCHAR(26)"`
	Shop      *Shop `uno:",belongs_to"`
}

// TestLoadConvertsJoinTypes: Load matches a string foreign key against a
// types.String26 key both ways, and reports join types that cannot match.
func TestLoadConvertsJoinTypes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reg := extraModels(t, e, (*Shop)(nil), (*Product)(nil), (*Mismatch)(nil))
	shops, err := repo.New[Shop](e.db, reg)
	if err != nil {
		t.Fatal(err)
	}
	products, err := repo.New[Product](e.db, reg)
	if err != nil {
		t.Fatal(err)
	}
	s := Shop{Name: "s"}
	if err := shops.Create(ctx, &s); err != nil {
		t.Fatal(err)
	}
	ps := []Product{{ID: 1, ShopID: string(s.ID)}, {ID: 2, ShopID: string(s.ID)}}
	if err := products.CreateMany(ctx, ps); err != nil {
		t.Fatal(err)
	}
	if err := products.Load(ctx, ps, "Shop"); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Shop == nil || p.Shop.ID != s.ID || p.Shop.Name != "s" {
			t.Fatalf("product %d: shop %+v, want %s", p.ID, p.Shop, s.ID)
		}
	}
	list := []Shop{s}
	if err := shops.Load(ctx, list, "Products"); err != nil {
		t.Fatal(err)
	}
	if len(list[0].Products) != 2 || list[0].Products[0].ID != 1 || list[0].Products[1].ID != 2 {
		t.Fatalf("shop products: %+v", list[0].Products)
	}
	mismatches, err := repo.New[Mismatch](e.db, reg)
	if err != nil {
		t.Fatal(err)
	}
	err = mismatches.Load(ctx, []Mismatch{{ID: 1, ShopID: 7}}, "Shop")
	if !errors.Is(err, repo.ErrRelation) || !strings.Contains(err.Error(), "int64") || !strings.Contains(err.Error(), "String26") {
		t.Fatalf("Load over int64 and String26: %v, want ErrRelation naming both types", err)
	}
}

// extraModels registers models beside the usual ones and creates their
// tables in e's database.
func extraModels(t *testing.T, e *env, models ...any) *model.Registry {
	t.Helper()
	ctx := context.Background()
	reg := model.NewRegistry()
	if err := reg.Register(models...); err != nil {
		t.Fatal(err)
	}
	stmts, err := emit.NewTableEmitter(reg.Tables()...).Emit()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := emit.Exec(ctx, conn, stmts); err != nil {
		t.Fatal(err)
	}
	return reg
}

// Gauge has an int64 field stored as INTEGER.
type Gauge struct {
	uno.Model `uno:"table:gauge"`
	ID        int64 `uno:"id,pk"`
	Level     int64 `uno:"level,type:INTEGER"`
	Small     int64 `uno:"small,type:SMALLINT"`
}

// TestParseEnumAndIntegerWidth: a label that is not one of the enum's and
// an integer wider than the SQL column are *FieldError/ErrBadValue from
// ParseQuery, before any SQL; valid values still filter.
func TestParseEnumAndIntegerWidth(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	orders := repoOf[Order](e)
	if err := orders.Create(ctx, &Order{Code: "A", Status: "paid"}); err != nil {
		t.Fatal(err)
	}
	gauges, err := repo.New[Gauge](e.db, extraModels(t, e, (*Gauge)(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := gauges.Create(ctx, &Gauge{ID: 1, Level: 2147483647, Small: -32768}); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(string) (repo.Filter, error){
		"status=bogus":            orders.ParseQuery,
		"status__not_equal=bogus": orders.ParseQuery,
		"status__in=paid,bogus":   orders.ParseQuery,
		"level=9999999999":        gauges.ParseQuery,
		"level__in=1,2147483648":  gauges.ParseQuery,
		"small__gt=32768":         gauges.ParseQuery,
	}
	for q, parse := range bad {
		_, err := parse(q)
		var fe *repo.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, repo.ErrBadValue) {
			t.Fatalf("%s: %v, want a *FieldError with ErrBadValue", q, err)
		}
	}
	for q, want := range map[string]int{"status=paid": 1, "status__in=new,shipped": 0, "status__contains=ai": 1,
		"status__starts_with=50%25": 0} {
		f, err := orders.ParseQuery(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if rows, err := orders.Filter(ctx, f); err != nil || len(rows) != want {
			t.Fatalf("%s: %d rows, %v; want %d", q, len(rows), err, want)
		}
	}
	for _, q := range []string{"level=2147483647", "small=-32768"} {
		f, err := gauges.ParseQuery(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if rows, err := gauges.Filter(ctx, f); err != nil || len(rows) != 1 {
			t.Fatalf("%s: %d rows, %v", q, len(rows), err)
		}
	}
}

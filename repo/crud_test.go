package repo_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

func TestNew(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	type Unregistered struct{ ID int64 }
	if _, err := repo.New[Unregistered](e.db, e.reg); !errors.Is(err, model.ErrNotRegistered) {
		t.Fatalf("unregistered: %v", err)
	}
	if _, err := repo.New[Customer](nil, e.reg); err == nil {
		t.Fatal("nil DB accepted")
	}
	if _, err := repo.New[Customer](e.db, e.reg, repo.Options{Version: "nope"}); !errors.Is(err, repo.ErrUnknownField) {
		t.Fatalf("unknown version column: %v", err)
	}
	if _, err := repo.New[Customer](e.db, e.reg, repo.Options{Version: "name"}); err == nil {
		t.Fatal("text version column accepted")
	}
	if _, err := repo.New[Customer](e.db, e.reg, repo.Options{DefaultLimit: 50, MaxLimit: 10}); err == nil {
		t.Fatal("default above max accepted")
	}
	if _, err := repo.New[Customer](e.db, e.reg, repo.Options{}, repo.Options{}); err == nil {
		t.Fatal("two Options accepted")
	}
}

func TestCreateFillsGeneratedColumns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	c := Customer{Name: "Ann", Email: "ann@example.com", Age: 40, Notes: ptr("n")}
	before := time.Now().Add(-time.Minute)
	if err := customers.Create(ctx, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.ID) != 26 {
		t.Fatalf("ID %q not generated", c.ID)
	}
	if c.Joined.Before(before) || c.Balance != "0" {
		t.Fatalf("defaults not returned: joined %v balance %q", c.Joined, c.Balance)
	}
	if n := e.count("customer"); n != 1 {
		t.Fatalf("%d rows", n)
	}
	if got := pgtest.Scalar[string](t, e.url, "SELECT name FROM customer WHERE id = $1", string(c.ID)); got != "Ann" {
		t.Fatalf("stored name %q", got)
	}

	// A generated column with a value is inserted.
	d := Customer{ULIDKey: model.ULIDKey{ID: "01HZZZZZZZZZZZZZZZZZZZZZZZ"}, Name: "Bo", Email: "bo@example.com", Balance: "12.50"}
	if err := customers.Create(ctx, &d); err != nil {
		t.Fatal(err)
	}
	if d.ID != "01HZZZZZZZZZZZZZZZZZZZZZZZ" || d.Balance != "12.50" {
		t.Fatalf("given values lost: %+v", d)
	}

	if err := customers.Create(ctx, nil); err == nil {
		t.Fatal("nil accepted")
	}
}

func TestCreateUniqueViolationNamesModelAndFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	if err := customers.Create(ctx, &Customer{Name: "A", Email: "a@x"}); err != nil {
		t.Fatal(err)
	}
	err := customers.Create(ctx, &Customer{Name: "B", Email: "a@x"})
	if !errors.Is(err, dberr.ErrUniqueViolation) {
		t.Fatalf("got %v", err)
	}
	var ce *repo.ConstraintError
	if !errors.As(err, &ce) {
		t.Fatalf("not a ConstraintError: %T %v", err, err)
	}
	if ce.Constraint != "uq_customer_email" || ce.Model != "repo_test.Customer" || len(ce.Fields) != 1 ||
		ce.Fields[0] != "Email" || ce.Columns[0] != "email" || ce.Kind != model.Unique || ce.Table != "customer" {
		t.Fatalf("conflict %+v", ce)
	}
	var de *dberr.Error
	if !errors.As(err, &de) || de.Code != dberr.CodeUniqueViolation {
		t.Fatalf("dberr.Error not reachable: %v", err)
	}
	if n := e.count("customer"); n != 1 {
		t.Fatalf("%d rows", n)
	}

	// Soft-deleting tables report the unique index.
	orders := repoOf[Order](e)
	if err := orders.Create(ctx, &Order{Code: "X"}); err != nil {
		t.Fatal(err)
	}
	err = orders.Create(ctx, &Order{Code: "X"})
	if !errors.As(err, &ce) || ce.Model != "repo_test.Order" || ce.Fields[0] != "Code" {
		t.Fatalf("order conflict: %v", err)
	}
}

func TestCreateOrGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	a := Customer{Name: "Ann", Email: "ann@x", Age: 1}
	created, err := customers.CreateOrGet(ctx, &a, "email")
	if err != nil || !created || a.ID == "" {
		t.Fatalf("first: %v %v %+v", created, err, a)
	}
	b := Customer{Name: "Other", Email: "ann@x", Age: 2}
	created, err = customers.CreateOrGet(ctx, &b)
	if err != nil || created {
		t.Fatalf("second: %v %v", created, err)
	}
	if b.ID != a.ID || b.Name != "Ann" || b.Age != 1 {
		t.Fatalf("existing row not read: %+v", b)
	}
	if n := e.count("customer"); n != 1 {
		t.Fatalf("%d rows", n)
	}
	// By constraint name, and errors.
	if created, err = customers.CreateOrGet(ctx, &Customer{Email: "ann@x"}, "uq_customer_email"); err != nil || created {
		t.Fatalf("by constraint name: %v %v", created, err)
	}
	if _, err := customers.CreateOrGet(ctx, &b, "name"); !errors.Is(err, repo.ErrNoUniqueKey) {
		t.Fatalf("non-unique key: %v", err)
	}
	if _, err := customers.CreateOrGet(ctx, &b, "nope"); !errors.Is(err, repo.ErrUnknownField) {
		t.Fatalf("unknown column: %v", err)
	}

	// A soft-deleted row does not count: a new one is created.
	orders := repoOf[Order](e)
	o := Order{Code: "C1", Title: "one"}
	if _, err := orders.CreateOrGet(ctx, &o, "code"); err != nil {
		t.Fatal(err)
	}
	if err := orders.Delete(ctx, &o); err != nil {
		t.Fatal(err)
	}
	o2 := Order{Code: "C1", Title: "two"}
	if created, err := orders.CreateOrGet(ctx, &o2, "code"); err != nil || !created || o2.ID == o.ID {
		t.Fatalf("after soft delete: %v %v", created, err)
	}
}

func TestCreateOrGetConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	var created atomic.Int32
	var wg sync.WaitGroup
	ids := make([]types.String26, 16)
	errs := make([]error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := Customer{Name: "same", Email: "one@x", Age: int64(i)}
			ok, err := customers.CreateOrGet(ctx, &c, "email")
			if ok {
				created.Add(1)
			}
			ids[i], errs[i] = c.ID, err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", i, err)
		}
		if ids[i] != ids[0] || ids[i] == "" {
			t.Fatalf("goroutine %d got id %q, want %q", i, ids[i], ids[0])
		}
	}
	if created.Load() != 1 {
		t.Fatalf("%d created", created.Load())
	}
	if n := e.count("customer"); n != 1 {
		t.Fatalf("%d rows", n)
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	c := Customer{Name: "Ann", Email: "a@x", Score: ptr(1.5), Born: &types.Date{Year: 1990, Month: 2, Day: 3}}
	if err := customers.Create(ctx, &c); err != nil {
		t.Fatal(err)
	}
	got, err := customers.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Ann" || *got.Score != 1.5 || *got.Born != *c.Born || got.Notes != nil || !got.Joined.Equal(c.Joined) {
		t.Fatalf("got %+v", got)
	}
	if _, err := customers.Get(ctx, "00000000000000000000000000"); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := customers.Get(ctx); !errors.Is(err, repo.ErrBadKey) {
		t.Fatalf("no key: %v", err)
	}
	if _, err := customers.Get(ctx, "a", "b"); !errors.Is(err, repo.ErrBadKey) {
		t.Fatalf("two keys: %v", err)
	}
}

func TestGetBy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	for _, c := range []Customer{{Name: "Ann", Email: "a@x", Age: 30}, {Name: "Bob", Email: "b@x", Age: 30}, {Name: "Cy", Email: "c@x", Age: 31, Notes: ptr("n")}} {
		if err := customers.Create(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := customers.GetBy(ctx, repo.Eq{"email": "b@x"})
	if err != nil || got.Name != "Bob" {
		t.Fatalf("by email: %v %+v", err, got)
	}
	got, err = customers.GetBy(ctx, repo.Eq{"age": 30, "name": "Ann"})
	if err != nil || got.Email != "a@x" {
		t.Fatalf("by two columns: %v %+v", err, got)
	}
	got, err = customers.GetBy(ctx, repo.Eq{"notes": nil, "age": 30, "name": "Bob"})
	if err != nil || got.Name != "Bob" {
		t.Fatalf("nil matches NULL: %v", err)
	}
	if _, err := customers.GetBy(ctx, repo.Eq{"age": 30}); !errors.Is(err, dberr.ErrMultipleRows) {
		t.Fatalf("two rows: %v", err)
	}
	if _, err := customers.GetBy(ctx, repo.Eq{"email": "zz"}); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("no row: %v", err)
	}
	var fe *repo.FieldError
	if _, err := customers.GetBy(ctx, repo.Eq{"email; DROP TABLE canary": "x"}); !errors.As(err, &fe) || !errors.Is(err, repo.ErrUnknownField) {
		t.Fatalf("unknown column: %v", err)
	}
	if _, err := customers.GetBy(ctx, repo.Eq{}); !errors.Is(err, repo.ErrBadKey) {
		t.Fatalf("empty: %v", err)
	}
	if e.count("canary") != 7 {
		t.Fatal("canary changed")
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	c := Customer{Name: "Ann", Email: "a@x", Age: 30}
	if err := customers.Create(ctx, &c); err != nil {
		t.Fatal(err)
	}
	c.Name, c.Age = "Anna", 31
	if err := customers.Update(ctx, &c); err != nil {
		t.Fatal(err)
	}
	if got := pgtest.Scalar[string](t, e.url, "SELECT name || age FROM customer"); got != "Anna31" {
		t.Fatalf("all columns: %q", got)
	}
	c.Name, c.Age = "Hanna", 99
	if err := customers.Update(ctx, &c, "age"); err != nil {
		t.Fatal(err)
	}
	if got := pgtest.Scalar[string](t, e.url, "SELECT name || age FROM customer"); got != "Anna99" {
		t.Fatalf("named column: %q", got)
	}
	if c.Name != "Anna" {
		t.Fatalf("struct not refreshed from RETURNING: %q", c.Name)
	}
	if err := customers.Update(ctx, &c, "nope"); !errors.Is(err, repo.ErrUnknownField) {
		t.Fatalf("unknown column: %v", err)
	}
	if err := customers.Update(ctx, &c, "id"); !errors.Is(err, repo.ErrNotUpdatable) {
		t.Fatalf("key column: %v", err)
	}
	missing := Customer{ULIDKey: model.ULIDKey{ID: "00000000000000000000000000"}, Name: "x", Email: "y"}
	if err := customers.Update(ctx, &missing); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	other := Customer{Name: "B", Email: "b@x"}
	if err := customers.Create(ctx, &other); err != nil {
		t.Fatal(err)
	}
	other.Email = "a@x"
	if err := customers.Update(ctx, &other, "email"); !errors.Is(err, dberr.ErrUniqueViolation) {
		t.Fatalf("unique: %v", err)
	}
	if got := pgtest.Scalar[string](t, e.url, "SELECT email FROM customer WHERE id = $1", string(other.ID)); got != "b@x" {
		t.Fatalf("failed update wrote: %q", got)
	}
}

func TestOptimisticConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	orders := repoOf[Order](e, repo.Options{Version: "version"})
	o := Order{Code: "A", Title: "t"}
	if err := orders.Create(ctx, &o); err != nil {
		t.Fatal(err)
	}
	stale := o
	o.Title = "t2"
	if err := orders.Update(ctx, &o, "title"); err != nil {
		t.Fatal(err)
	}
	if o.Version != 2 {
		t.Fatalf("version %d", o.Version)
	}
	stale.Title = "lost update"
	if err := orders.Update(ctx, &stale); !errors.Is(err, dberr.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	if err := orders.Delete(ctx, &stale); !errors.Is(err, dberr.ErrConflict) {
		t.Fatalf("stale delete: %v", err)
	}
	if got := pgtest.Scalar[string](t, e.url, `SELECT title FROM "order"`); got != "t2" {
		t.Fatalf("stored %q", got)
	}
	gone := Order{Status: "new", ULIDKey: model.ULIDKey{ID: "00000000000000000000000000"}, Version: 1}
	if err := orders.Update(ctx, &gone); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}

	// modified_at as the version.
	byTime := repoOf[Order](e, repo.Options{Version: "modified_at"})
	cur, err := byTime.Get(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	old := *cur
	cur.Title = "t3"
	if err := byTime.Update(ctx, cur, "title"); err != nil {
		t.Fatal(err)
	}
	if !cur.ModifiedAt.After(old.ModifiedAt) {
		t.Fatal("modified_at not advanced")
	}
	old.Title = "lost"
	if err := byTime.Update(ctx, &old, "title"); !errors.Is(err, dberr.ErrConflict) {
		t.Fatalf("stale by time: %v", err)
	}
}

func TestDeleteHardAndSoft(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	c := Customer{Name: "A", Email: "a@x"}
	if err := customers.Create(ctx, &c); err != nil {
		t.Fatal(err)
	}
	if err := customers.Delete(ctx, &c); err != nil {
		t.Fatal(err)
	}
	if e.count("customer") != 0 {
		t.Fatal("not deleted")
	}
	if err := customers.Delete(ctx, &c); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("twice: %v", err)
	}
	if err := customers.DeleteKey(ctx, c.ID); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("by key, missing: %v", err)
	}
	if err := customers.DeleteKey(ctx); !errors.Is(err, repo.ErrBadKey) {
		t.Fatalf("no key: %v", err)
	}

	orders := repoOf[Order](e)
	o := Order{Code: "A", Title: "x"}
	if err := orders.Create(ctx, &o); err != nil {
		t.Fatal(err)
	}
	o2 := Order{Code: "B", Title: "y"}
	if err := orders.Create(ctx, &o2); err != nil {
		t.Fatal(err)
	}
	if err := orders.Delete(ctx, &o); err != nil {
		t.Fatal(err)
	}
	if !o.IsDeleted || o.DeletedAt == nil {
		t.Fatalf("struct not refreshed: %+v", o.RecordStatus)
	}
	if n := pgtest.Scalar[int64](t, e.url, `SELECT count(*) FROM "order" WHERE is_deleted AND deleted_at IS NOT NULL`); n != 1 {
		t.Fatalf("soft-deleted rows %d", n)
	}
	if e.count("order") != 2 {
		t.Fatal("soft delete removed the row")
	}
	if _, err := orders.Get(ctx, o.ID); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if got, err := orders.WithDeleted().Get(ctx, o.ID); err != nil || !got.IsDeleted {
		t.Fatalf("get deleted with WithDeleted: %v", err)
	}
	if _, err := orders.GetBy(ctx, repo.Eq{"code": "A"}); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("get by deleted: %v", err)
	}
	if list, err := orders.Filter(ctx, repo.Filter{}); err != nil || len(list) != 1 {
		t.Fatalf("filter: %d %v", len(list), err)
	}
	if list, err := orders.Filter(ctx, repo.Filter{WithDeleted: true}); err != nil || len(list) != 2 {
		t.Fatalf("filter with deleted: %d %v", len(list), err)
	}
	if n, err := orders.Count(ctx, repo.Filter{}); err != nil || n != 1 {
		t.Fatalf("count: %d %v", n, err)
	}
	if err := orders.Update(ctx, &o); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("update deleted: %v", err)
	}
	if err := orders.Delete(ctx, &o); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if err := orders.DeleteKey(ctx, o2.ID); err != nil {
		t.Fatal(err)
	}
	if err := orders.Purge(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	if err := orders.Purge(ctx, o.ID); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("purge twice: %v", err)
	}
	if e.count("order") != 1 {
		t.Fatal("purge did not delete")
	}
}

func TestRolledBackTransactionLeavesTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	items := repoOf[Item](e)
	seed := []Item{{ID: 1, Name: "a", Qty: 1}, {ID: 2, Name: "b", Qty: 2}}
	if err := items.CreateMany(ctx, seed); err != nil {
		t.Fatal(err)
	}
	snapshot := func() string {
		return pgtest.Scalar[string](t, e.url, `SELECT string_agg(id || ':' || name || ':' || qty, ',' ORDER BY id) FROM item`)
	}
	before := snapshot()
	boom := errors.New("boom")
	err := e.db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, _ *engine.Tx) error {
		if err := items.Create(ctx, &Item{ID: 3, Name: "c"}); err != nil {
			return err
		}
		it := seed[0]
		it.Name = "changed"
		if err := items.Update(ctx, &it); err != nil {
			return err
		}
		if _, err := items.Merge(ctx, []Item{{ID: 2, Name: "merged", Qty: 9}, {ID: 4, Name: "new"}}, repo.MergeOptions{}); err != nil {
			return err
		}
		if _, err := items.MergeCopy(ctx, []Item{{ID: 5, Name: "copied"}}, repo.MergeOptions{}); err != nil {
			return err
		}
		if err := items.Delete(ctx, &seed[1]); err != nil {
			return err
		}
		// Inside the transaction the work is visible.
		if n, err := items.Count(ctx, repo.Filter{}); err != nil || n != 4 {
			return errors.Join(err, errors.New("count inside the transaction is wrong"))
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if after := snapshot(); after != before {
		t.Fatalf("table changed: %s -> %s", before, after)
	}
}

func TestSwitchRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	// The login role can no longer write directly: every write must go
	// through the writer role.
	pgtest.Exec(t, e.url, "REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public FROM "+e.cfg.Roles.Login)
	direct := repoOf[Item](e, repo.Options{Roles: repo.RolesLogin})
	if err := direct.Create(ctx, &Item{ID: 1, Name: "x"}); !errors.Is(err, dberr.ErrPermissionDenied) {
		t.Fatalf("direct write as login: %v", err)
	}
	items := repoOf[Item](e, repo.Options{SwitchRoles: true})
	if err := items.Create(ctx, &Item{ID: 1, Name: "x"}); err != nil {
		t.Fatal(err)
	}
	// Reads run as the reader, which may not write: raw SQL proves it.
	got, err := items.QueryMaps(ctx, "SELECT current_user AS u")
	if err != nil || got[0]["u"] != e.cfg.Roles.Reader {
		t.Fatalf("read role: %v %v", got, err)
	}
	if _, err := items.Query(ctx, "INSERT INTO item (id, name, qty) VALUES (9, 'y', 0) RETURNING id"); err == nil {
		t.Fatal("a read wrote")
	}
	if n, err := items.Exec(ctx, "UPDATE item SET qty = qty + 1 WHERE current_user = $1", e.cfg.Roles.Writer); err != nil || n != 1 {
		t.Fatalf("write role: %d %v", n, err)
	}
	res, err := items.Merge(ctx, []Item{{ID: 1, Name: "x", Qty: 1}, {ID: 2, Name: "y"}}, repo.MergeOptions{})
	if err != nil || res.Inserted != 1 || res.Unchanged != 1 {
		t.Fatalf("merge as writer: %+v %v", res, err)
	}
	if e.count("item") != 2 {
		t.Fatal("rows")
	}
}

func TestRecordStatusColumnsKeptByUpdateAndMerge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	orders := repoOf[Order](e)
	o := Order{Code: "A", Title: "one"}
	if err := orders.Create(ctx, &o); err != nil {
		t.Fatal(err)
	}
	created, modified := o.CreatedAt, o.ModifiedAt
	// A struct built from scratch: zero created_at, is_active false.
	fresh := Order{ULIDKey: o.ULIDKey, Code: "A", Title: "two", Status: "paid"}
	if err := orders.Update(ctx, &fresh); err != nil {
		t.Fatal(err)
	}
	if !fresh.CreatedAt.Equal(created) || !fresh.ModifiedAt.After(modified) || fresh.IsDeleted || fresh.Title != "two" {
		t.Fatalf("after update: %+v", fresh.RecordStatus)
	}
	if fresh.IsActive {
		t.Fatal("is_active is the caller's to set")
	}
	modified = fresh.ModifiedAt
	rows := []Order{{Code: "A", Title: "two", Status: "paid"}}
	res, err := orders.Merge(ctx, rows, repo.MergeOptions{On: []string{"code"}})
	if err != nil || res.Unchanged != 1 {
		t.Fatalf("unchanged merge: %+v %v", res, err)
	}
	if got := pgtest.Scalar[time.Time](t, e.url, `SELECT modified_at FROM "order"`); !got.Equal(modified) {
		t.Fatal("unchanged merge touched modified_at")
	}
	if !rows[0].ModifiedAt.Equal(modified) || rows[0].ID != o.ID {
		t.Fatalf("unchanged row not filled back: %+v", rows[0])
	}
	rows[0].Title = "three"
	res, err = orders.Merge(ctx, rows, repo.MergeOptions{On: []string{"code"}})
	if err != nil || res.Updated != 1 {
		t.Fatalf("updating merge: %+v %v", res, err)
	}
	if !rows[0].ModifiedAt.After(modified) || !rows[0].CreatedAt.Equal(created) {
		t.Fatalf("merge update: %+v", rows[0].RecordStatus)
	}
}

// TestPatch: writes without reading back, with the same checks as Update.
func TestPatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	c := Customer{Name: "Ann", Email: "p@x", Age: 30}
	if err := customers.Create(ctx, &c); err != nil {
		t.Fatal(err)
	}
	c.Name, c.Age = "Changed", 44
	if err := customers.Patch(ctx, &c, "age"); err != nil {
		t.Fatal(err)
	}
	if got := pgtest.Scalar[string](t, e.url, "SELECT name || age FROM customer"); got != "Ann44" {
		t.Fatalf("named column: %q", got)
	}
	// The same column set in another order reuses the statement correctly.
	c.Name, c.Age = "Bea", 45
	if err := customers.Patch(ctx, &c, "age", "name"); err != nil {
		t.Fatal(err)
	}
	if err := customers.Patch(ctx, &c, "name", "age"); err != nil {
		t.Fatal(err)
	}
	if got := pgtest.Scalar[string](t, e.url, "SELECT name || age FROM customer"); got != "Bea45" {
		t.Fatalf("two columns: %q", got)
	}
	c.Name = "Cid"
	if err := customers.Patch(ctx, &c); err != nil {
		t.Fatal(err)
	}
	if got := pgtest.Scalar[string](t, e.url, "SELECT name FROM customer"); got != "Cid" {
		t.Fatalf("every column: %q", got)
	}
	if err := customers.Patch(ctx, &c, "nope"); !errors.Is(err, repo.ErrUnknownField) {
		t.Fatalf("unknown column: %v", err)
	}
	missing := Customer{ULIDKey: model.ULIDKey{ID: "00000000000000000000000000"}, Name: "x", Email: "y"}
	if err := customers.Patch(ctx, &missing, "name"); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	// Optimistic concurrency: a stale version is a conflict.
	orders := repoOf[Order](e, repo.Options{Version: "version"})
	o := Order{Code: "P", Title: "one"}
	if err := orders.Create(ctx, &o); err != nil {
		t.Fatal(err)
	}
	stale := o
	o.Title = "two"
	if err := orders.Patch(ctx, &o, "title"); err != nil {
		t.Fatal(err)
	}
	stale.Title = "lost update"
	if err := orders.Patch(ctx, &stale, "title"); !errors.Is(err, dberr.ErrConflict) {
		t.Fatalf("stale version: %v", err)
	}
	if got := pgtest.Scalar[string](t, e.url, "SELECT title || version FROM \"order\" WHERE code = 'P'"); got != "two2" {
		t.Fatalf("versioned row: %q", got)
	}
	// Inside a transaction that rolls back, nothing stays.
	boom := errors.New("boom")
	err := e.db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		c.Name = "Rolled back"
		if err := customers.Patch(ctx, &c, "name"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got := pgtest.Scalar[string](t, e.url, "SELECT name FROM customer"); got != "Cid" {
		t.Fatalf("after rollback: %q", got)
	}
}

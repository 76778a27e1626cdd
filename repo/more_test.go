package repo_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// TestStreamBoundedMemory is not parallel: the heap it measures is the
// process's, and parallel tests wait until it is done.
func TestStreamBoundedMemory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	items := repoOf[Item](e)
	const n = 100_000
	pad := strings.Repeat("p", 200)
	rows := make([]Item, n)
	for i := range rows {
		rows[i] = Item{ID: int64(i), Name: pad, Qty: int64(i)}
	}
	if _, err := items.CopyFrom(ctx, rows); err != nil {
		t.Fatal(err)
	}
	rows = nil
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	count, sum := 0, int64(0)
	for it, err := range items.Stream(ctx, repo.Filter{OrderBy: []repo.Order{{Field: "id"}}}) {
		if err != nil {
			t.Fatal(err)
		}
		if it.ID != int64(count) {
			t.Fatalf("row %d has id %d", count, it.ID)
		}
		count++
		sum += it.Qty
		if count%20_000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if count != n || sum != int64(n)*(n-1)/2 {
		t.Fatalf("%d rows, sum %d", count, sum)
	}
	// Holding the rows would take more than 25 MB.
	if growth := int64(peak) - int64(base); growth > 8<<20 {
		t.Fatalf("live heap grew by %d bytes while streaming", growth)
	}
	t.Logf("live heap growth while streaming %d rows: %d bytes", n, int64(peak)-int64(base))

	// Breaking out releases the connection; a limit applies when set.
	seen := 0
	for _, err := range items.Stream(ctx, repo.Filter{Where: []repo.Cond{{Field: "qty", Lookup: "lt", Value: 100}}}) {
		if err != nil {
			t.Fatal(err)
		}
		seen++
		if seen == 10 {
			break
		}
	}
	if got := e.db.Stat().AcquiredConns(); got != 0 {
		t.Fatalf("%d connections still held after break", got)
	}
	seen = 0
	for _, err := range items.Stream(ctx, repo.Filter{Limit: 7}) {
		if err != nil {
			t.Fatal(err)
		}
		seen++
	}
	if seen != 7 {
		t.Fatalf("limit: %d rows", seen)
	}
	// A bad filter yields one error.
	var errs []error
	for _, err := range items.Stream(ctx, repo.Filter{Where: []repo.Cond{{Field: "nope"}}}) {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], repo.ErrUnknownField) {
		t.Fatalf("bad filter: %v", errs)
	}
	// Streaming with role switching runs in a read-only transaction.
	switching := repoOf[Item](e, repo.Options{Roles: repo.RolesSwitch})
	seen = 0
	for _, err := range switching.Stream(ctx, repo.Filter{Limit: 1000}) {
		if err != nil {
			t.Fatal(err)
		}
		seen++
	}
	if seen != 1000 {
		t.Fatalf("switching: %d", seen)
	}
}

func TestRawAndTableKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	seedCustomers(t, customers, 5)
	got, err := customers.Query(ctx, "SELECT name, age, email FROM customer WHERE age >= $1 ORDER BY age", 3)
	if err != nil || len(got) != 2 || got[0].Name != "c3" || got[1].Age != 4 || got[0].ID != "" {
		t.Fatalf("query: %v %+v", err, got)
	}
	if _, err := customers.Query(ctx, "SELECT name, 1 AS extra FROM customer"); !errors.Is(err, repo.ErrUnknownField) {
		t.Fatalf("extra column: %v", err)
	}
	if _, err := customers.Query(ctx, "SELECT nope FROM customer"); dberr.Code(err) != "42703" {
		t.Fatalf("bad SQL: %v", err)
	}
	maps, err := customers.QueryMaps(ctx, "SELECT age, count(*) AS n FROM customer WHERE age < $1 GROUP BY age ORDER BY age", 2)
	if err != nil || len(maps) != 2 || maps[1]["age"] != int64(1) || maps[1]["n"] != int64(1) {
		t.Fatalf("maps: %v %v", maps, err)
	}
	n, err := customers.Exec(ctx, "UPDATE customer SET vip = true WHERE age < $1", 2)
	if err != nil || n != 2 {
		t.Fatalf("exec: %d %v", n, err)
	}
	if _, err := customers.Exec(ctx, "UPDATE customer SET email = 'same'"); !errors.Is(err, dberr.ErrUniqueViolation) {
		t.Fatalf("exec conflict: %v", err)
	}

	k := customers.TableKeys()
	if fmt.Sprint(k.PrimaryKey) != "[id]" || len(k.Uniques) != 1 || k.Uniques[0].Name != "uq_customer_email" ||
		fmt.Sprint(k.Uniques[0].Columns) != "[email]" || fmt.Sprint(k.Uniques[0].Fields) != "[Email]" {
		t.Fatalf("keys %+v", k)
	}
	ok := repoOf[Order](e).TableKeys()
	if len(ok.Uniques) != 1 || ok.Uniques[0].Where == "" {
		t.Fatalf("order keys %+v", ok)
	}
}

func TestBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	items := repoOf[Item](e)
	existing := Customer{Name: "old", Email: "old@x"}
	if err := customers.Create(ctx, &existing); err != nil {
		t.Fatal(err)
	}
	b := repo.NewBatch()
	a := Customer{Name: "A", Email: "a@x"}
	customers.QueueCreate(b, &a)
	it := Item{ID: 1, Name: "i"}
	items.QueueCreate(b, &it)
	var got Customer
	customers.QueueGet(b, &got, existing.ID)
	existing.Name = "new"
	customers.QueueUpdate(b, &existing)
	items.QueueDelete(b, &it)
	if b.Len() != 5 {
		t.Fatalf("len %d", b.Len())
	}
	if err := b.Send(ctx); err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || got.Name != "old" || existing.Name != "new" {
		t.Fatalf("results not read: %+v %+v", a, got)
	}
	if e.count("customer") != 2 || e.count("item") != 0 {
		t.Fatal("rows")
	}
	if err := b.Send(ctx); err == nil {
		t.Fatal("sent twice")
	}
	// An error fails the whole batch: nothing is written.
	b = repo.NewBatch()
	customers.QueueCreate(b, &Customer{Name: "B", Email: "b@x"})
	customers.QueueCreate(b, &Customer{Name: "C", Email: "a@x"})
	err := b.Send(ctx)
	var ce *repo.ConstraintError
	if !errors.Is(err, dberr.ErrUniqueViolation) || !errors.As(err, &ce) || ce.Fields[0] != "Email" || !strings.Contains(err.Error(), "operation 1") {
		t.Fatalf("conflict: %v", err)
	}
	if e.count("customer") != 2 {
		t.Fatal("failed batch wrote")
	}
	b = repo.NewBatch()
	var missing Customer
	customers.QueueGet(b, &missing, "00000000000000000000000000")
	if err := b.Send(ctx); !errors.Is(err, dberr.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	// Inside a transaction that rolls back.
	boom := errors.New("boom")
	err = e.db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, _ *engine.Tx) error {
		b := repo.NewBatch()
		items.QueueCreate(b, &Item{ID: 7, Name: "x"})
		if err := b.Send(ctx); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || e.count("item") != 0 {
		t.Fatalf("rolled back batch: %v", err)
	}
	// Repositories on different DBs cannot share a batch.
	other := newEnv(t)
	b = repo.NewBatch()
	items.QueueCreate(b, &Item{ID: 8})
	repoOf[Item](other).QueueCreate(b, &Item{ID: 9})
	if err := b.Send(ctx); err == nil {
		t.Fatal("two DBs in one batch")
	}
	// With role switching the batch runs as the writer.
	switching := repoOf[Item](e, repo.Options{Roles: repo.RolesSwitch})
	b = repo.NewBatch()
	switching.QueueCreate(b, &Item{ID: 10, Name: "s"})
	if err := b.Send(ctx); err != nil {
		t.Fatal(err)
	}
	if e.count("item") != 1 {
		t.Fatal("switching batch")
	}
}

func TestLoadRelations(t *testing.T) {
	t.Parallel()
	counter := &queryCounter{}
	e := newEnvOpts(t, engine.Options{Tracer: counter})
	ctx := context.Background()
	authors := repoOf[Author](e)
	books := repoOf[Book](e)
	if err := authors.CreateMany(ctx, []Author{{ID: 1, Name: "Ann"}, {ID: 2, Name: "Bo"}, {ID: 3, Name: "Cy"}}); err != nil {
		t.Fatal(err)
	}
	if err := books.CreateMany(ctx, []Book{{ID: 10, AuthorID: 1, Title: "a1"}, {ID: 11, AuthorID: 1, Title: "a2"}, {ID: 12, AuthorID: 2, Title: "b1"}}); err != nil {
		t.Fatal(err)
	}
	list, err := books.Filter(ctx, repo.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	before := counter.n.Load()
	if err := books.Load(ctx, list, "Author"); err != nil {
		t.Fatal(err)
	}
	if q := counter.n.Load() - before; q != 1 {
		t.Fatalf("belongs-to took %d queries", q)
	}
	for _, b := range list {
		if b.Author == nil || b.Author.ID != b.AuthorID {
			t.Fatalf("book %d author %+v", b.ID, b.Author)
		}
	}
	if list[0].Author.Name != "Ann" || list[2].Author.Name != "Bo" {
		t.Fatal("author names")
	}
	as, err := authors.Filter(ctx, repo.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	before = counter.n.Load()
	if err := authors.Load(ctx, as); err != nil {
		t.Fatal(err)
	}
	if q := counter.n.Load() - before; q != 1 {
		t.Fatalf("has-many took %d queries", q)
	}
	if len(as[0].Books) != 2 || as[0].Books[1].Title != "a2" || len(as[1].Books) != 1 || len(as[2].Books) != 0 || as[2].Books == nil {
		t.Fatalf("books %+v", as)
	}
	// Many-to-many through the association table.
	posts := repoOf[Post](e)
	tags := repoOf[Tag](e)
	links := repoOf[PostTag](e)
	if err := posts.CreateMany(ctx, []Post{{ID: 1, Title: "p1"}, {ID: 2, Title: "p2"}, {ID: 3, Title: "p3"}}); err != nil {
		t.Fatal(err)
	}
	if err := tags.CreateMany(ctx, []Tag{{ID: 1, Name: "go"}, {ID: 2, Name: "sql"}}); err != nil {
		t.Fatal(err)
	}
	if err := links.CreateMany(ctx, []PostTag{{PostID: 1, TagID: 1}, {PostID: 1, TagID: 2}, {PostID: 2, TagID: 2}}); err != nil {
		t.Fatal(err)
	}
	ps, err := posts.Filter(ctx, repo.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	before = counter.n.Load()
	if err := posts.Load(ctx, ps, "Tags"); err != nil {
		t.Fatal(err)
	}
	if q := counter.n.Load() - before; q != 1 {
		t.Fatalf("many-to-many took %d queries", q)
	}
	if len(ps[0].Tags) != 2 || ps[0].Tags[0].Name != "go" || ps[0].Tags[1].Name != "sql" ||
		len(ps[1].Tags) != 1 || ps[1].Tags[0].Name != "sql" || len(ps[2].Tags) != 0 {
		t.Fatalf("tags %+v %+v %+v", ps[0].Tags, ps[1].Tags, ps[2].Tags)
	}
	if err := authors.Load(ctx, as, "Nope"); !errors.Is(err, repo.ErrUnknownField) {
		t.Fatalf("unknown relation: %v", err)
	}
	if err := authors.Load(ctx, nil, "Books"); err != nil {
		t.Fatal(err)
	}
}

func TestForeignKeyViolationNamesModel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	books := repoOf[Book](e)
	err := books.Create(ctx, &Book{ID: 1, AuthorID: 99, Title: "orphan"})
	var ce *repo.ConstraintError
	if !errors.Is(err, dberr.ErrForeignKeyViolation) || !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
	if ce.Model != "repo_test.Book" || ce.Fields[0] != "AuthorID" || ce.Kind.String() != "FOREIGN KEY" {
		t.Fatalf("%+v", ce)
	}
	if !strings.Contains(err.Error(), "repo_test.Book") || !strings.Contains(err.Error(), "AuthorID") {
		t.Fatalf("message %q", err)
	}
	if e.count("book") != 0 {
		t.Fatal("row written")
	}
}

func TestFastPathAndCancellation(t *testing.T) {
	t.Parallel()
	counter := &queryCounter{}
	e := newEnvOpts(t, engine.Options{Tracer: counter})
	ctx := context.Background()
	items := repoOf[Item](e, repo.Options{Roles: repo.RolesLogin})
	// Warm the pool so connecting does not count.
	if _, err := items.Count(ctx, repo.Filter{}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name string
		fn   func() error
	}{
		{"create", func() error { return items.Create(ctx, &Item{ID: 1, Name: "a"}) }},
		{"get", func() error { _, err := items.Get(ctx, int64(1)); return err }},
		{"update", func() error { return items.Update(ctx, &Item{ID: 1, Name: "b"}) }},
		{"merge", func() error {
			_, err := items.MergeOne(ctx, &Item{ID: 2, Name: "c"}, repo.MergeOptions{})
			return err
		}},
		{"filter", func() error { _, err := items.Filter(ctx, repo.Filter{}); return err }},
		{"delete", func() error { return items.DeleteKey(ctx, int64(2)) }},
	} {
		name, fn := step.name, step.fn
		before := counter.n.Load()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if q := counter.n.Load() - before; q != 1 {
			t.Errorf("%s sent %d statements, want 1 (no BEGIN)", name, q)
		}
	}
	// Identity reaches the role-switching transactions.
	who := repoOf[Item](e, repo.Options{Roles: repo.RolesSwitch, Identity: engine.Identity{UserID: "u-42"}})
	m, err := who.QueryMaps(ctx, "SELECT current_setting('rls_var.user_id') AS u")
	if err != nil || m[0]["u"] != "u-42" {
		t.Fatalf("identity: %v %v", m, err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := items.Get(canceled, int64(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("get: %v", err)
	}
	if err := items.Create(canceled, &Item{ID: 3}); !errors.Is(err, context.Canceled) {
		t.Fatalf("create: %v", err)
	}
	if _, err := items.Merge(canceled, []Item{{ID: 3}}, repo.MergeOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("merge: %v", err)
	}
	if e.count("item") != 1 {
		t.Fatal("rows")
	}
}

func TestNilAndEmptyInputs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	items := repoOf[Item](e)
	if err := items.Update(ctx, nil); err == nil {
		t.Fatal("update nil")
	}
	if err := items.Delete(ctx, nil); err == nil {
		t.Fatal("delete nil")
	}
	if _, err := items.CreateOrGet(ctx, nil); err == nil {
		t.Fatal("create-or-get nil")
	}
	if _, err := items.MergeOne(ctx, nil, repo.MergeOptions{}); err == nil {
		t.Fatal("merge nil")
	}
	if _, err := items.Cursor(repo.Filter{}, nil); err == nil {
		t.Fatal("cursor nil")
	}
	if _, err := items.Cursor(repo.Filter{OrderBy: []repo.Order{{Field: "nope"}}}, &Item{}); !errors.Is(err, repo.ErrUnknownField) {
		t.Fatalf("cursor: %v", err)
	}
	if _, err := items.Count(ctx, repo.Filter{Where: []repo.Cond{{Field: "nope"}}}); !errors.Is(err, repo.ErrUnknownField) {
		t.Fatalf("count: %v", err)
	}
	if err := items.CreateMany(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := items.CopyFrom(ctx, nil); err != nil || n != 0 {
		t.Fatal(err)
	}
	if res, err := items.MergeCopy(ctx, nil, repo.MergeOptions{}); err != nil || len(res.Outcomes) != 0 {
		t.Fatal(err)
	}
	if err := items.Purge(ctx); !errors.Is(err, repo.ErrBadKey) {
		t.Fatalf("purge: %v", err)
	}
	b := repo.NewBatch()
	var it Item
	items.QueueGet(b, &it)
	if err := b.Send(ctx); !errors.Is(err, repo.ErrBadKey) {
		t.Fatalf("batch get: %v", err)
	}
	b = repo.NewBatch()
	items.QueueUpdate(b, nil)
	if err := b.Send(ctx); err == nil {
		t.Fatal("batch nil update")
	}
	if err := repo.NewBatch().Send(ctx); err != nil {
		t.Fatal(err)
	}
	// A model with only key columns has nothing to update.
	links := repoOf[PostTag](e)
	if err := links.Update(ctx, &PostTag{PostID: 1, TagID: 1}); !errors.Is(err, repo.ErrNotUpdatable) {
		t.Fatalf("key-only update: %v", err)
	}
	b = repo.NewBatch()
	links.QueueUpdate(b, &PostTag{PostID: 1, TagID: 1})
	if err := b.Send(ctx); !errors.Is(err, repo.ErrNotUpdatable) {
		t.Fatalf("key-only batch update: %v", err)
	}
	if e.count("item") != 0 {
		t.Fatal("rows")
	}
}

// Invoice lives in its own schema, with a hostile name.
type Invoice struct {
	uno.Model `uno:"table:invoice,schema:sales dept"`
	ID        int64          `uno:"id,pk"`
	Number    types.String64 `uno:"number,unique"`
	Total     types.Decimal  `uno:"total"`
}

func TestSchemaQualifiedModel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	reg := model.NewRegistry()
	if err := reg.Register((*Invoice)(nil)); err != nil {
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
	if err := emit.Exec(ctx, conn, stmts); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	pgtest.Exec(t, e.url,
		`GRANT USAGE ON SCHEMA "sales dept" TO `+quote.Ident(e.cfg.Roles.Login),
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "sales dept" TO `+quote.Ident(e.cfg.Roles.Login))
	invoices, err := repo.New[Invoice](e.db, reg, repo.Options{Roles: repo.RolesLogin})
	if err != nil {
		t.Fatal(err)
	}
	if err := invoices.Create(ctx, &Invoice{ID: 1, Number: "A-1", Total: "10.00"}); err != nil {
		t.Fatal(err)
	}
	err = invoices.Create(ctx, &Invoice{ID: 2, Number: "A-1", Total: "1"})
	var ce *repo.ConstraintError
	if !errors.As(err, &ce) || ce.Model != "repo_test.Invoice" || ce.Fields[0] != "Number" {
		t.Fatalf("conflict: %v", err)
	}
	if n, err := invoices.CopyFrom(ctx, []Invoice{{ID: 3, Number: "A-3", Total: "3"}, {ID: 4, Number: "A-4", Total: "4"}}); err != nil || n != 2 {
		t.Fatalf("copy: %d %v", n, err)
	}
	res, err := invoices.MergeCopy(ctx, []Invoice{{ID: 1, Number: "A-1", Total: "10.00"}, {ID: 5, Number: "A-5", Total: "5"}}, repo.MergeOptions{On: []string{"number"}})
	if err != nil || res.Unchanged != 1 || res.Inserted != 1 {
		t.Fatalf("merge: %+v %v", res, err)
	}
	f, err := invoices.ParseQuery("total__gte=4&order_by=-total")
	if err != nil {
		t.Fatal(err)
	}
	got, err := invoices.Filter(ctx, f)
	if err != nil || len(got) != 3 || got[0].Number != "A-1" {
		t.Fatalf("filter: %v %+v", err, got)
	}
	if n := pgtest.Scalar[int64](t, e.url, `SELECT count(*) FROM "sales dept".invoice`); n != 4 {
		t.Fatalf("%d rows", n)
	}
}

package repo_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// versions returns id -> xmin of every item row: a rewritten row gets a
// new xmin.
func versions(t *testing.T, e *env, table string) map[string]string {
	t.Helper()
	rows, err := e.db.Pool().Query(context.Background(), `SELECT id::text, xmin::text FROM "`+table+`"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, x string
		if err := rows.Scan(&id, &x); err != nil {
			t.Fatal(err)
		}
		out[id] = x
	}
	return out
}

func TestMergeOutcomes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	items := repoOf[Item](e)
	in := []Item{{ID: 1, Name: "a", Qty: 1}, {ID: 2, Name: "b", Qty: 2, Tags: []string{"t"}}, {ID: 3, Name: "c"}}
	res, err := items.Merge(ctx, in, repo.MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 3 || res.Updated != 0 || res.Unchanged != 0 || res.Outcomes[2] != repo.Inserted {
		t.Fatalf("first merge %+v", res)
	}
	if in[0].Touched.IsZero() {
		t.Fatal("inserted row not filled back")
	}
	before := versions(t, e, "item")
	touched := pgtest.Scalar[string](t, e.url, "SELECT touched::text FROM item WHERE id = 1")

	again := []Item{{ID: 1, Name: "a", Qty: 1}, {ID: 2, Name: "b", Qty: 2, Tags: []string{"t"}}, {ID: 3, Name: "c2"}, {ID: 4, Name: "d"}}
	res, err = items.Merge(ctx, again, repo.MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []repo.Outcome{repo.Unchanged, repo.Unchanged, repo.Updated, repo.Inserted}
	for i, o := range res.Outcomes {
		if o != want[i] {
			t.Fatalf("row %d: %v, want %v (%+v)", i, o, want[i], res)
		}
	}
	if res.Inserted != 1 || res.Updated != 1 || res.Unchanged != 2 {
		t.Fatalf("counts %+v", res)
	}
	after := versions(t, e, "item")
	if after["1"] != before["1"] || after["2"] != before["2"] {
		t.Fatal("unchanged rows were rewritten")
	}
	if after["3"] == before["3"] {
		t.Fatal("updated row not rewritten")
	}
	if got := pgtest.Scalar[string](t, e.url, "SELECT touched::text FROM item WHERE id = 1"); got != touched {
		t.Fatal("unchanged row's default column changed")
	}
	if got := pgtest.Scalar[string](t, e.url, "SELECT name FROM item WHERE id = 3"); got != "c2" {
		t.Fatalf("updated name %q", got)
	}
	// Only named columns are merged and compared.
	o, err := items.MergeOne(ctx, &Item{ID: 1, Name: "ignored", Qty: 5}, repo.MergeOptions{Columns: []string{"qty"}})
	if err != nil || o != repo.Updated {
		t.Fatalf("named columns: %v %v", o, err)
	}
	if got := pgtest.Scalar[string](t, e.url, "SELECT name || qty FROM item WHERE id = 1"); got != "a5" {
		t.Fatalf("named columns wrote %q", got)
	}
	if e.count("item") != 4 {
		t.Fatal("row count")
	}

	// Errors: duplicate keys, unknown columns, key columns as data.
	if _, err := items.Merge(ctx, []Item{{ID: 9}, {ID: 9}}, repo.MergeOptions{}); !errors.Is(err, repo.ErrDuplicateInput) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := items.Merge(ctx, in, repo.MergeOptions{Columns: []string{"nope"}}); !errors.Is(err, repo.ErrUnknownField) {
		t.Fatalf("unknown column: %v", err)
	}
	if _, err := items.Merge(ctx, in, repo.MergeOptions{Columns: []string{"id"}}); !errors.Is(err, repo.ErrNotUpdatable) {
		t.Fatalf("key column: %v", err)
	}
	if _, err := items.Merge(ctx, in, repo.MergeOptions{On: []string{"name"}}); !errors.Is(err, repo.ErrNoUniqueKey) {
		t.Fatalf("non-unique key: %v", err)
	}
	if e.count("item") != 4 {
		t.Fatal("failed merges wrote")
	}
	if res, err := items.Merge(ctx, nil, repo.MergeOptions{}); err != nil || len(res.Outcomes) != 0 {
		t.Fatalf("empty: %v", err)
	}
}

func TestMergeOnUniqueKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	rows := []Customer{{Name: "A", Email: "a@x"}, {Name: "B", Email: "b@x"}}
	res, err := customers.Merge(ctx, rows, repo.MergeOptions{On: []string{"email"}})
	if err != nil || res.Inserted != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if rows[0].ID == "" || rows[1].ID == rows[0].ID {
		t.Fatal("generated keys not filled back")
	}
	id := rows[0].ID
	rows = []Customer{{Name: "A2", Email: "a@x"}, {Name: "B", Email: "b@x"}}
	res, err = customers.Merge(ctx, rows, repo.MergeOptions{On: []string{"uq_customer_email"}})
	if err != nil || res.Updated != 1 || res.Unchanged != 1 || rows[0].ID != id {
		t.Fatalf("%+v %v %q", res, err, rows[0].ID)
	}
	if rows[1].ID == "" || rows[1].Joined.IsZero() {
		t.Fatalf("unchanged row not filled back: %+v", rows[1])
	}
	if e.count("customer") != 2 {
		t.Fatal("rows")
	}

	// Soft-deleting tables merge on their partial unique index.
	orders := repoOf[Order](e)
	os := []Order{{Code: "A", Title: "x"}}
	if res, err := orders.Merge(ctx, os, repo.MergeOptions{On: []string{"code"}}); err != nil || res.Inserted != 1 {
		t.Fatalf("order: %+v %v", res, err)
	}
	if err := orders.Delete(ctx, &os[0]); err != nil {
		t.Fatal(err)
	}
	os2 := []Order{{Code: "A", Title: "y"}}
	if res, err := orders.Merge(ctx, os2, repo.MergeOptions{On: []string{"code"}}); err != nil || res.Inserted != 1 {
		t.Fatalf("after soft delete: %+v %v", res, err)
	}
}

func TestMergeLargeAndCopy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	items := repoOf[Item](e)
	// More rows than fit the bind-parameter limit of one statement.
	n := 20000
	rows := make([]Item, n)
	for i := range rows {
		rows[i] = Item{ID: int64(i), Name: fmt.Sprint("n", i), Qty: int64(i)}
	}
	res, err := items.Merge(ctx, rows, repo.MergeOptions{})
	if err != nil || res.Inserted != n {
		t.Fatalf("%d inserted, %v", res.Inserted, err)
	}
	for i := range rows {
		if i%2 == 0 {
			rows[i].Qty = -1
		}
	}
	rows = append(rows, Item{ID: int64(n), Name: "new"})
	res, err = items.MergeCopy(ctx, rows, repo.MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 1 || res.Updated != n/2 || res.Unchanged != n/2 {
		t.Fatalf("copy merge %d/%d/%d", res.Inserted, res.Updated, res.Unchanged)
	}
	for i, o := range res.Outcomes[:n] {
		if (i%2 == 0) != (o == repo.Updated) {
			t.Fatalf("row %d: %v", i, o)
		}
	}
	if got := pgtest.Scalar[int64](t, e.url, "SELECT count(*) FROM item WHERE qty = -1"); got != int64(n/2) {
		t.Fatalf("%d rows updated", got)
	}
	if e.count("item") != int64(n+1) {
		t.Fatal("rows")
	}
	// Two bulk merges in one transaction, and a failure rolls back both.
	err = e.db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, _ *engine.Tx) error {
		if _, err := items.MergeCopy(ctx, []Item{{ID: -1, Name: "x"}}, repo.MergeOptions{}); err != nil {
			return err
		}
		_, err := items.MergeCopy(ctx, []Item{{ID: -2, Name: "y"}, {ID: -2, Name: "z"}}, repo.MergeOptions{})
		return err
	})
	if !errors.Is(err, repo.ErrDuplicateInput) {
		t.Fatalf("got %v", err)
	}
	if e.count("item") != int64(n+1) {
		t.Fatal("rolled back bulk merge wrote")
	}
	if _, err := items.MergeCopy(ctx, []Item{{ID: 1, Name: "\x00"}}, repo.MergeOptions{}); err == nil {
		t.Fatal("NUL byte accepted")
	}
}

func TestMergeConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	items := repoOf[Item](e)
	const goroutines, merges, keys = 32, 200, 50
	var mu sync.Mutex
	written := map[int64]map[string]bool{}
	counts := map[repo.Outcome]int{}
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			local := map[repo.Outcome]int{}
			for range merges {
				k := rng.Int64N(keys)
				name := fmt.Sprint("v", rng.IntN(3))
				o, err := items.MergeOne(ctx, &Item{ID: k, Name: name}, repo.MergeOptions{})
				if err != nil {
					errs <- err
					return
				}
				local[o]++
				mu.Lock()
				if written[k] == nil {
					written[k] = map[string]bool{}
				}
				written[k][name] = true
				mu.Unlock()
			}
			mu.Lock()
			for o, n := range local {
				counts[o] += n
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if e.count("item") != keys {
		t.Fatalf("%d rows", e.count("item"))
	}
	if counts[repo.Inserted] != keys {
		t.Fatalf("%d inserted", counts[repo.Inserted])
	}
	if total := counts[repo.Inserted] + counts[repo.Updated] + counts[repo.Unchanged]; total != goroutines*merges {
		t.Fatalf("%d outcomes (%v)", total, counts)
	}
	all, err := items.Filter(ctx, repo.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range all {
		if !written[it.ID][it.Name] {
			t.Fatalf("row %d holds %q, which no merge wrote", it.ID, it.Name)
		}
	}
	t.Logf("outcomes %v", counts)
}

func TestCreateManyAndCopy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	rows := []Customer{{Name: "A", Email: "a@x"}, {Name: "B", Email: "b@x", Balance: "3.25"}}
	if err := customers.CreateMany(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if rows[0].ID == "" || rows[1].ID == "" || rows[0].Balance != "0" || rows[1].Balance != "3.25" {
		t.Fatalf("not filled back: %+v", rows)
	}
	err := customers.CreateMany(ctx, []Customer{{Name: "C", Email: "c@x"}, {Name: "D", Email: "a@x"}})
	if !errors.Is(err, dberr.ErrUniqueViolation) {
		t.Fatalf("conflict: %v", err)
	}
	if e.count("customer") != 2 {
		t.Fatal("failed multi-row insert wrote")
	}
	big := make([]Customer, 3000)
	for i := range big {
		big[i] = Customer{Name: "x", Email: types.String255(fmt.Sprint(i, "@big"))}
	}
	n, err := customers.CopyFrom(ctx, big)
	if err != nil || n != 3000 {
		t.Fatalf("copy: %d %v", n, err)
	}
	if e.count("customer") != 3002 {
		t.Fatal("rows after copy")
	}
	mixed := []Customer{{Name: "m", Email: "m1"}, {Name: "m", Email: "m2", Balance: "1"}}
	if _, err := customers.CopyFrom(ctx, mixed); !errors.Is(err, repo.ErrBadValue) {
		t.Fatalf("mixed defaults: %v", err)
	}
	if _, err := customers.CopyFrom(ctx, []Customer{{Name: "m", Email: "0@big"}}); !errors.Is(err, dberr.ErrUniqueViolation) {
		t.Fatalf("copy conflict: %v", err)
	}
	if e.count("customer") != 3002 {
		t.Fatal("failed copy wrote")
	}
	// More rows than one statement's parameters: several statements, all
	// or nothing.
	items := repoOf[Item](e)
	many := make([]Item, 20000)
	for i := range many {
		many[i] = Item{ID: int64(i), Name: "m"}
	}
	many[19999].ID = 0
	if err := items.CreateMany(ctx, many); !errors.Is(err, dberr.ErrUniqueViolation) {
		t.Fatalf("late conflict: %v", err)
	}
	if e.count("item") != 0 {
		t.Fatal("partial multi-statement insert")
	}
	many[19999].ID = 19999
	if err := items.CreateMany(ctx, many); err != nil {
		t.Fatal(err)
	}
	if e.count("item") != 20000 || many[19999].Touched.IsZero() {
		t.Fatal("multi-statement insert")
	}
}

// TestMergeManyConcurrent merges overlapping multi-row inputs from several
// goroutines: rows are upserted in key order, so they do not deadlock.
func TestMergeManyConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	items := repoOf[Item](e)
	const goroutines, rounds, keys = 8, 20, 50
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	var mu sync.Mutex
	total := 0
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for r := range rounds {
				perm := rng.Perm(keys)[:25]
				rows := make([]Item, len(perm))
				for i, k := range perm {
					rows[i] = Item{ID: int64(k), Name: fmt.Sprint("v", rng.IntN(2)), Qty: int64(r % 2)}
				}
				var res repo.MergeResult
				var err error
				if r%2 == 0 {
					res, err = items.Merge(ctx, rows, repo.MergeOptions{})
				} else {
					res, err = items.MergeCopy(ctx, rows, repo.MergeOptions{})
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				total += res.Inserted + res.Updated + res.Unchanged
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if total != goroutines*rounds*25 || e.count("item") > keys {
		t.Fatalf("%d outcomes, %d rows", total, e.count("item"))
	}
}

package repo_test

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/repo"
)

// bouncerScenario is what one run of the merge and filter scenario saw.
type bouncerScenario struct {
	Merges  []repo.MergeResult
	Filters [][]Item
	Counts  []int64
	Reader  string
	Table   []Item
}

// runBouncerScenario merges and filters Items through items and returns
// every result, with the default column Touched cleared (it is now()).
func runBouncerScenario(t *testing.T, items *repo.Repository[Item]) bouncerScenario {
	t.Helper()
	ctx := context.Background()
	var s bouncerScenario
	merge := func(rows []Item, opts repo.MergeOptions, viaCopy bool) {
		t.Helper()
		var res repo.MergeResult
		var err error
		if viaCopy {
			res, err = items.MergeCopy(ctx, rows, opts)
		} else {
			res, err = items.Merge(ctx, rows, opts)
		}
		if err != nil {
			t.Fatalf("merge (copy %v): %v", viaCopy, err)
		}
		s.Merges = append(s.Merges, res)
	}
	first := make([]Item, 40)
	for i := range first {
		first[i] = Item{ID: int64(i + 1), Name: "item " + strconv.Itoa(i+1), Qty: int64(i % 7), Tags: []string{"t" + strconv.Itoa(i%3)}}
	}
	merge(first, repo.MergeOptions{}, false)
	// 1–20 unchanged, 21–30 changed, 41–50 new.
	second := make([]Item, 0, 40)
	for i := 1; i <= 50; i++ {
		if i > 30 && i <= 40 {
			continue
		}
		it := Item{ID: int64(i), Name: "item " + strconv.Itoa(i), Qty: int64((i - 1) % 7), Tags: []string{"t" + strconv.Itoa((i-1)%3)}}
		if i > 20 {
			it.Qty += 100
		}
		second = append(second, it)
	}
	merge(second, repo.MergeOptions{}, false)
	// Through COPY, named columns only: the names of 1–60 change, 51–60 are new.
	third := make([]Item, 60)
	for i := range third {
		third[i] = Item{ID: int64(i + 1), Name: fmt.Sprintf("renamed %d", i+1), Qty: int64(i % 5)}
	}
	merge(third, repo.MergeOptions{Columns: []string{"name"}}, true)
	filters := []repo.Filter{
		{Where: []repo.Cond{{Field: "qty", Lookup: repo.LookupGTE, Value: 100}}, OrderBy: []repo.Order{{Field: "qty", Desc: true}}, Limit: 100},
		{Where: []repo.Cond{{Field: "name", Lookup: repo.LookupStartsWith, Value: "renamed 1"}}, Limit: 100},
		{Where: []repo.Cond{{Field: "id", Lookup: repo.LookupIn, Value: []int64{3, 33, 53, 99}}}},
		{Where: []repo.Cond{{Field: "qty", Lookup: repo.LookupLT, Value: 3}}, Limit: 7, Offset: 5},
	}
	for _, f := range filters {
		page, err := items.Filter(ctx, f)
		if err != nil {
			t.Fatalf("filter %+v: %v", f, err)
		}
		n, err := items.Count(ctx, repo.Filter{Where: f.Where})
		if err != nil {
			t.Fatalf("count %+v: %v", f.Where, err)
		}
		s.Filters = append(s.Filters, clearTouched(page))
		s.Counts = append(s.Counts, n)
	}
	all, err := items.Filter(ctx, repo.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	s.Table = clearTouched(all)
	rows, err := items.QueryMaps(ctx, "SELECT current_user::text AS u")
	if err != nil {
		t.Fatal(err)
	}
	s.Reader, _ = rows[0]["u"].(string)
	return s
}

func clearTouched(in []Item) []Item {
	out := make([]Item, len(in))
	for i, it := range in {
		it.Touched = time.Time{}
		out[i] = it
	}
	return out
}

// TestMergeAndFilterThroughPgBouncer runs the same merges (plain and
// through COPY) and filters on two databases set up like `uno db create`,
// one directly and one through PgBouncer in transaction mode (Pooler
// "pgbouncer", so cache_describe), with role switching: every result, the
// role reads run as and the final table are equal. Then 8 workers filter
// through PgBouncer at once, their transactions interleaving on its
// server connections, and each gets the direct path's answer.
func TestMergeAndFilterThroughPgBouncer(t *testing.T) {
	t.Parallel()
	bouncer := pgtest.PgBouncer(t)
	direct := newUnoDB(t, (*Item)(nil))
	pooled := newUnoDB(t, (*Item)(nil))
	ctx := context.Background()

	host, port, err := net.SplitHostPort(bouncer.Addr())
	if err != nil {
		t.Fatal(err)
	}
	bcfg := pooled.cfg
	bcfg.Host = host
	bcfg.Port, _ = strconv.Atoi(port)
	bcfg.Pooler = config.PoolerPgBouncer
	bcfg.QueryExecMode = "" // the default behind PgBouncer
	bcfg.Pool.MaxConns = 8
	if got := bcfg.WithDefaults().QueryExecMode; got != "cache_describe" {
		t.Fatalf("query exec mode behind PgBouncer %q, want cache_describe", got)
	}
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	bdb, err := f.Open(ctx, bcfg)
	if err != nil {
		t.Fatal(err)
	}
	directItems, err := repo.New[Item](direct.db, direct.reg)
	if err != nil {
		t.Fatal(err)
	}
	pooledItems, err := repo.New[Item](bdb, pooled.reg)
	if err != nil {
		t.Fatal(err)
	}

	want := runBouncerScenario(t, directItems)
	got := runBouncerScenario(t, pooledItems)
	if want.Reader != direct.cfg.Roles.Reader || got.Reader != pooled.cfg.Roles.Reader {
		t.Fatalf("reads ran as %q directly and %q through PgBouncer; want the reader roles %q and %q",
			want.Reader, got.Reader, direct.cfg.Roles.Reader, pooled.cfg.Roles.Reader)
	}
	want.Reader, got.Reader = "", ""
	if len(want.Table) != 60 {
		t.Fatalf("direct path left %d rows, want 60", len(want.Table))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("through PgBouncer:\n%+v\ndirectly:\n%+v", got, want)
	}

	// Concurrent filters through PgBouncer: 8 workers, 25 calls each.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				qty := int64((w + i) % 5)
				f := repo.Filter{Where: []repo.Cond{{Field: "qty", Value: qty}}, Limit: 100}
				page, err := pooledItems.Filter(ctx, f)
				if err != nil {
					errs <- fmt.Errorf("worker %d call %d: %w", w, i, err)
					return
				}
				var n int
				for _, it := range want.Table {
					if it.Qty == qty {
						n++
					}
				}
				if len(page) != n {
					errs <- fmt.Errorf("worker %d call %d: %d rows with qty %d, want %d", w, i, len(page), qty, n)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

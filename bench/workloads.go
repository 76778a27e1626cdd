package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// prepared caches Prepare results per workload and contender: testing.Benchmark
// calls a benchmark function several times while it sizes b.N.
var prepared sync.Map

// Workload names, as in results.json.
const (
	InsertOne      = "insert_one"
	Insert100      = "insert_100"
	UpdateOne      = "update_one"
	ReadOne        = "read_one"
	Read100        = "read_100"
	FilterW        = "filter"
	ReadOneScoped  = "read_one_scoped"
	InsertScoped   = "insert_one_scoped"
	FilterScoped   = "filter_scoped"
	Upsert100      = "upsert_100"
	BulkLoad       = "bulk_load"
	ReadParallel64 = "read_parallel_64"
)

// Workload is one measured operation.
type Workload struct {
	Name string
	// RowsPerOp is set for throughput workloads: rows handled by one op.
	RowsPerOp int
	// Parallel runs the op from 64 goroutines at once.
	Parallel bool
	// Prepare runs before the timer starts, once per benchmark run.
	Prepare func(ctx context.Context, e *Env, c Contender) (any, error)
	// Op runs one operation and checks its result.
	Op func(ctx context.Context, e *Env, c Contender, r *rand.Rand, state any) error
	// Reset runs before each op with the timer stopped, when set.
	Reset func(ctx context.Context, e *Env) error
}

func row(e *Env, prefix string, r *rand.Rand) Row {
	return Row{SKU: e.NextSKU(prefix), Name: "New item", Qty: int32(r.IntN(1000)), Price: int64(r.IntN(100_000))}
}

// bulkData returns the data of one bulk load of n rows.
func bulkData(n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		rows[i] = Row{SKU: "bulk-" + strconv.Itoa(i), Name: "Bulk item " + strconv.Itoa(i), Qty: int32(i % 1000), Price: int64(i)}
	}
	return rows
}

// upsertState holds the keys of rows that already exist, per contender.
type upsertState struct {
	existing []string
	next     atomic.Int64
}

// Workloads returns every workload on data of sizes (those of the Env it
// runs on), in the order of the results table.
func Workloads(sizes Sizes) []Workload {
	bulkRows := bulkData(sizes.BulkRows)
	return []Workload{
		{Name: InsertOne, Op: func(ctx context.Context, e *Env, c Contender, r *rand.Rand, _ any) error {
			id, err := c.InsertOne(ctx, row(e, "one", r))
			if err == nil && id <= 0 {
				err = fmt.Errorf("insert returned id %d", id)
			}
			return err
		}},
		{Name: Insert100, Op: func(ctx context.Context, e *Env, c Contender, r *rand.Rand, _ any) error {
			rows := make([]Row, 100)
			for i := range rows {
				rows[i] = row(e, "many", r)
			}
			n, err := c.InsertMany(ctx, rows)
			if err == nil && n != 100 {
				err = fmt.Errorf("inserted %d rows, want 100", n)
			}
			return err
		}},
		{Name: UpdateOne, Op: func(ctx context.Context, e *Env, c Contender, r *rand.Rand, _ any) error {
			n, err := c.UpdateQty(ctx, 1+r.Int64N(int64(e.Sizes.ItemRows)), int32(r.IntN(1000)))
			if err == nil && n != 1 {
				err = fmt.Errorf("updated %d rows, want 1", n)
			}
			return err
		}},
		{Name: ReadOne, Op: readOne},
		{Name: Read100, Op: func(ctx context.Context, e *Env, c Contender, r *rand.Rand, _ any) error {
			after := r.Int64N(int64(e.Sizes.ItemRows) - 200)
			n, last, err := c.ReadPage(ctx, after)
			if err == nil && (n != 100 || last != after+100) {
				err = fmt.Errorf("read %d rows ending at %d, want 100 ending at %d", n, last, after+100)
			}
			return err
		}},
		{Name: FilterW, Op: func(ctx context.Context, e *Env, c Contender, r *rand.Rand, _ any) error {
			minQty := int32(r.IntN(900))
			n, first, err := c.Filter(ctx, minQty, 50_000)
			if err == nil && (n != 25 || first < minQty) {
				err = fmt.Errorf("filter gave %d rows from qty %d, want 25 from at least %d", n, first, minQty)
			}
			return err
		}},
		{Name: ReadOneScoped, Op: readOneScoped},
		{Name: InsertScoped, Op: func(ctx context.Context, e *Env, c Contender, r *rand.Rand, _ any) error {
			s := e.WriterScope(0)
			x := row(e, "scoped", r)
			x.TenantID = s.TenantID
			id, err := c.InsertOneScoped(ctx, s, x)
			if err == nil && id <= 0 {
				err = fmt.Errorf("scoped insert returned id %d", id)
			}
			return err
		}},
		{Name: FilterScoped, Op: func(ctx context.Context, e *Env, c Contender, r *rand.Rand, _ any) error {
			minQty := int32(r.IntN(900))
			n, first, foreign, err := c.FilterScoped(ctx, e.ReaderScope(0), minQty, 50_000)
			if err == nil && (n != 25 || first < minQty || foreign != 0) {
				err = fmt.Errorf("scoped filter gave %d rows from qty %d, %d of another tenant; want 25 from at least %d, none foreign", n, first, foreign, minQty)
			}
			return err
		}},
		{Name: Upsert100,
			Prepare: func(ctx context.Context, e *Env, c Contender) (any, error) {
				// UpsertKeys existing keys, so every op finds its 50 keys present.
				st := &upsertState{}
				r := rand.New(rand.NewPCG(3, 4))
				rows := make([]Row, 0, 1000)
				for i := 0; i < e.Sizes.UpsertKeys/1000; i++ {
					rows = rows[:0]
					for j := 0; j < 1000; j++ {
						x := row(e, "up-"+c.Name(), r)
						rows = append(rows, x)
						st.existing = append(st.existing, x.SKU)
					}
					if _, err := c.InsertMany(ctx, rows); err != nil {
						return nil, err
					}
				}
				return st, nil
			},
			Op: func(ctx context.Context, e *Env, c Contender, r *rand.Rand, state any) error {
				st := state.(*upsertState)
				rows := make([]Row, 100)
				base := int(st.next.Add(50)-50) % (len(st.existing) - 50)
				for i := 0; i < 50; i++ {
					rows[i] = Row{SKU: st.existing[base+i], Name: "Updated", Qty: int32(r.IntN(1000)), Price: int64(r.IntN(100_000))}
				}
				for i := 50; i < 100; i++ {
					rows[i] = row(e, "upnew", r)
				}
				return c.Upsert(ctx, rows)
			}},
		{Name: BulkLoad, RowsPerOp: len(bulkRows),
			Prepare: func(ctx context.Context, e *Env, c Contender) (any, error) { return c.PrepareBulk(bulkRows), nil },
			Reset: func(ctx context.Context, e *Env) error {
				_, err := e.Pool.Exec(ctx, "TRUNCATE bench_bulk")
				return err
			},
			Op: func(ctx context.Context, e *Env, c Contender, r *rand.Rand, state any) error {
				n, err := c.BulkLoad(ctx, state)
				if err == nil && n != int64(len(bulkRows)) {
					err = fmt.Errorf("loaded %d rows, want %d", n, len(bulkRows))
				}
				return err
			}},
		{Name: ReadParallel64, RowsPerOp: 1, Parallel: true, Op: readOne, Prepare: warmPool},
	}
}

func readOne(ctx context.Context, e *Env, c Contender, r *rand.Rand, _ any) error {
	id := 1 + r.Int64N(int64(e.Sizes.ItemRows))
	got, err := c.ReadOne(ctx, id)
	if err == nil && (got.ID != id || got.SKU != fmt.Sprintf("item-%06d", id-1)) {
		err = fmt.Errorf("read row %d as %+v", id, got)
	}
	return err
}

// warmPool fills c's pool before read_parallel_64 is measured: 64
// goroutines read at once, so all PoolSize connections are open and have
// the statement prepared, and the measurement is of the steady state, not
// of connecting.
func warmPool(ctx context.Context, e *Env, c Contender) (any, error) {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range 4 {
				if err := readOne(ctx, e, c, r, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return nil, <-errs
}

// readOneScoped reads a random row of tenant 0 as tenant 0.
func readOneScoped(ctx context.Context, e *Env, c Contender, r *rand.Rand, _ any) error {
	id := 1 + Tenants*r.Int64N(int64(e.Sizes.ItemRows/Tenants))
	s := e.ReaderScope(0)
	got, err := c.ReadOneScoped(ctx, s, id)
	if err == nil && (got.ID != id || got.SKU != fmt.Sprintf("item-%06d", id-1) || got.TenantID != s.TenantID) {
		err = fmt.Errorf("scoped read of row %d as %+v", id, got)
	}
	return err
}

// Bench returns the benchmark function of workload w for contender c.
func Bench(ctx context.Context, e *Env, w Workload, c Contender) func(b *testing.B) {
	return func(b *testing.B) {
		var state any
		if w.Prepare != nil {
			key := w.Name + "/" + c.Name()
			if v, ok := prepared.Load(key); ok {
				state = v
			} else {
				var err error
				if state, err = w.Prepare(ctx, e, c); err != nil {
					b.Fatal(err)
				}
				prepared.Store(key, state)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		if w.Parallel {
			b.SetParallelism(64 / max(1, runtimeProcs()))
			var seed atomic.Uint64
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(seed.Add(1), 99))
				for pb.Next() {
					if err := w.Op(ctx, e, c, r, state); err != nil {
						b.Error(err)
						return
					}
				}
			})
			return
		}
		r := rand.New(rand.NewPCG(uint64(b.N), 42))
		for i := 0; i < b.N; i++ {
			if w.Reset != nil {
				b.StopTimer()
				if err := w.Reset(ctx, e); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			if err := w.Op(ctx, e, c, r, state); err != nil {
				b.Fatalf("%s/%s: %v", w.Name, c.Name(), err)
			}
		}
	}
}

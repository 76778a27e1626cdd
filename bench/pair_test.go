package bench_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/uno-db/uno/bench"
)

// BenchmarkPair measures uno against raw pgx on the upsert and bulk
// workloads with the two contenders' operations alternating, one of each
// per iteration (in turns of order), so the load of a shared machine falls
// on both alike. It reports each one's median time per operation and their
// ratio (uno/pgx), as medians, which a busy machine's stalls do not move; allocations are those of the pair.
//
//	go test -run '^$' -bench Pair -count 5 .
func BenchmarkPair(b *testing.B) {
	ctx := context.Background()
	pgx, err := bench.NewPgx(ctx, env)
	if err != nil {
		b.Fatal(err)
	}
	defer pgx.Close()
	uno, err := bench.NewUno(ctx, env)
	if err != nil {
		b.Fatal(err)
	}
	defer uno.Close()
	for _, w := range bench.Workloads(env.Sizes) {
		if w.Name != bench.Upsert100 && w.Name != bench.BulkLoad && w.Name != bench.Insert100 {
			continue
		}
		b.Run(w.Name, func(b *testing.B) {
			pair := []bench.Contender{pgx, uno}
			states := make([]any, 2)
			for i, c := range pair {
				if w.Prepare != nil {
					if states[i], err = w.Prepare(ctx, env, c); err != nil {
						b.Fatal(err)
					}
				}
			}
			var spent [2][]time.Duration
			r := rand.New(rand.NewPCG(uint64(b.N), 5))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for k := range 2 {
					i := (k + n) % 2
					if w.Reset != nil {
						b.StopTimer()
						if err := w.Reset(ctx, env); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					start := time.Now()
					if err := w.Op(ctx, env, pair[i], r, states[i]); err != nil {
						b.Fatalf("%s/%s: %v", w.Name, pair[i].Name(), err)
					}
					spent[i] = append(spent[i], time.Since(start))
				}
				n++
			}
			p, u := median(spent[0]), median(spent[1])
			b.ReportMetric(float64(p.Nanoseconds()), "pgx-ns/op")
			b.ReportMetric(float64(u.Nanoseconds()), "uno-ns/op")
			b.ReportMetric(float64(u)/float64(p), "uno/pgx")
		})
	}
}

// median returns the median of ds (sorting it).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

package bench_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/uno-db/uno/bench"
)

var env *bench.Env

func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	env, err = bench.NewEnv(ctx, os.Getenv("UNO_TEST_DATABASE_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: no PostgreSQL:", err)
		os.Exit(1)
	}
	code := m.Run()
	env.Close()
	os.Exit(code)
}

// TestWorkloads runs every workload once for every contender and checks
// its result, so a broken contender fails CI.
func TestWorkloads(t *testing.T) {
	ctx := context.Background()
	contenders, err := bench.Contenders(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range contenders {
			c.Close()
		}
	}()
	r := rand.New(rand.NewPCG(1, 1))
	for _, w := range bench.Workloads() {
		for _, c := range contenders {
			t.Run(w.Name+"/"+c.Name(), func(t *testing.T) {
				var state any
				if w.Prepare != nil {
					if state, err = w.Prepare(ctx, env, c); err != nil {
						t.Fatal(err)
					}
				}
				if w.Reset != nil {
					if err := w.Reset(ctx, env); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Op(ctx, env, c, r, state); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	// The upserts wrote what they said: 50 updated rows carry the new name.
	var updated int
	if err := env.Pool.QueryRow(ctx, "SELECT count(*) FROM bench_write WHERE name = 'Updated'").Scan(&updated); err != nil || updated != 50*len(contenders) {
		t.Fatalf("%d updated rows after the upserts, want %d (%v)", updated, 50*len(contenders), err)
	}
}

// BenchmarkWorkloads runs every workload for every contender with go test
// -bench; make bench runs them interleaved with cmd/unobench instead.
func BenchmarkWorkloads(b *testing.B) {
	ctx := context.Background()
	contenders, err := bench.Contenders(ctx, env)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		for _, c := range contenders {
			c.Close()
		}
	}()
	for _, w := range bench.Workloads() {
		for _, c := range contenders {
			b.Run(w.Name+"/"+c.Name(), bench.Bench(ctx, env, w, c))
		}
	}
}

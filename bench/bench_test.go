package bench_test

import (
	"context"
	"errors"
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
	env, err = bench.NewEnv(ctx, os.Getenv("UNO_TEST_DATABASE_URL"), bench.TestSizes)
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
	for _, w := range bench.Workloads(env.Sizes) {
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
	// Row-level security holds for every contender: a scoped read of
	// another tenant's row finds nothing, a scoped insert of a row for
	// another tenant is refused, and the scoped inserts that ran are in
	// the table with the tenant and the user of the scope. Every contender
	// logs in as the superuser, which bypasses row-level security, so the
	// refusals also prove that each switched to the reader or writer role.
	for _, c := range contenders {
		t.Run("rls/"+c.Name(), func(t *testing.T) {
			own, err := c.ReadOneScoped(ctx, env.ReaderScope(0), 1)
			if err != nil || own.ID != 1 || own.TenantID != bench.TenantID(0) {
				t.Fatalf("tenant 0 reading its row 1: %+v, %v", own, err)
			}
			for _, id := range []int64{2, 10} { // rows of tenants 1 and 9
				got, err := c.ReadOneScoped(ctx, env.ReaderScope(0), id)
				if !errors.Is(err, bench.ErrNotFound) {
					t.Fatalf("tenant 0 reading row %d of another tenant: %+v, %v; want ErrNotFound", id, got, err)
				}
			}
			other := bench.Row{SKU: env.NextSKU("intruder"), Name: "intruder", TenantID: bench.TenantID(1)}
			if id, err := c.InsertOneScoped(ctx, env.WriterScope(0), other); err == nil {
				t.Fatalf("tenant 0 inserted row %d for tenant 1", id)
			}
		})
	}
	var scopedRows, wrong int
	if err := env.Pool.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE tenant_id <> $1 OR created_by <> $2) FROM bench_scoped_write",
		bench.TenantID(0), bench.UserID).Scan(&scopedRows, &wrong); err != nil || scopedRows != len(contenders) || wrong != 0 {
		t.Fatalf("bench_scoped_write holds %d rows, %d with another tenant or user, want %d and 0 (%v)", scopedRows, wrong, len(contenders), err)
	}
	// The upserts wrote what they said: 50 updated rows carry the new name.
	var updated int
	if err := env.Pool.QueryRow(ctx, "SELECT count(*) FROM bench_write WHERE name = 'Updated'").Scan(&updated); err != nil || updated != 50*len(contenders) {
		t.Fatalf("%d updated rows after the upserts, want %d (%v)", updated, 50*len(contenders), err)
	}
}

// BenchmarkWorkloads runs every workload for every contender with go test
// -bench, on the small data of TestSizes; make bench runs them
// interleaved on FullSizes with cmd/unobench instead.
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
	for _, w := range bench.Workloads(env.Sizes) {
		for _, c := range contenders {
			b.Run(w.Name+"/"+c.Name(), bench.Bench(ctx, env, w, c))
		}
	}
}

package repo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

func benchCustomers(b *testing.B, n int) (*env, *repo.Repository[Customer], []Customer) {
	b.Helper()
	e := newEnv(b)
	// Plain login: the benchmarks measure the statements, not role
	// switching's transaction.
	customers := repoOf[Customer](e, repo.Options{Roles: repo.RolesLogin})
	rows := make([]Customer, n)
	for i := range rows {
		rows[i] = Customer{Name: types.String255(fmt.Sprint("name", i)), Email: types.String255(fmt.Sprint(i, "@x")), Age: int64(i % 50)}
	}
	if err := customers.CreateMany(context.Background(), rows); err != nil {
		b.Fatal(err)
	}
	return e, customers, rows
}

func BenchmarkGet(b *testing.B) {
	_, customers, rows := benchCustomers(b, 100)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := customers.Get(ctx, rows[i%len(rows)].ID); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGetRawPgx is the same read written by hand with pgx, for
// comparison.
func BenchmarkGetRawPgx(b *testing.B) {
	e, _, rows := benchCustomers(b, 100)
	ctx := context.Background()
	pool := e.db.Pool()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		var c Customer
		err := pool.QueryRow(ctx, `SELECT "id", "name", "email", "age", "score", "balance", "notes", "vip", "joined", "born" FROM "customer" WHERE "id" = $1`,
			rows[i%len(rows)].ID).Scan(&c.ID, &c.Name, &c.Email, &c.Age, &c.Score, &c.Balance, &c.Notes, &c.VIP, &c.Joined, &c.Born)
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkCreate(b *testing.B) {
	_, customers, _ := benchCustomers(b, 1)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c := Customer{Name: "bench", Email: types.String255(fmt.Sprint("b", i)), Age: 1}
		if err := customers.Create(ctx, &c); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkFilter(b *testing.B) {
	_, customers, _ := benchCustomers(b, 1000)
	ctx := context.Background()
	f := repo.Filter{Where: []repo.Cond{{Field: "age", Lookup: "lt", Value: 5}, {Field: "name", Lookup: "starts_with", Value: "name"}},
		OrderBy: []repo.Order{{Field: "age", Desc: true}}, Limit: 25}
	b.ReportAllocs()
	for b.Loop() {
		rows, err := customers.Filter(ctx, f)
		if err != nil || len(rows) != 25 {
			b.Fatal(len(rows), err)
		}
	}
}

func BenchmarkParseQuery(b *testing.B) {
	_, customers, _ := benchCustomers(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := customers.ParseQuery("name__i_contains=john&age__gte=18&limit=10&order_by=-joined"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMergeOne(b *testing.B) {
	e := newEnv(b)
	items := repoOf[Item](e, repo.Options{Roles: repo.RolesLogin})
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := items.MergeOne(ctx, &Item{ID: int64(i % 100), Name: fmt.Sprint(i % 3)}, repo.MergeOptions{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// The scoped read: one row by primary key as the reader role with an
// identity, which needs a transaction (set_config(…, true) lasts for it).
// BenchmarkScopedGet is the repository (one round trip, engine.DB.Single);
// BenchmarkScopedGetHandPgx is the same written by hand with pgx in the
// obvious way (BeginTx, set_config, the statement, Commit: four round
// trips); compare both with BenchmarkGetRawPgx, the unscoped read.
var benchIdentity = engine.Identity{UserID: "u-1", TenantID: "t-1"}

func BenchmarkScopedGet(b *testing.B) {
	e, _, rows := benchCustomers(b, 100)
	customers := repoOf[Customer](e, repo.Options{Roles: repo.RolesSwitch, Identity: benchIdentity})
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := customers.Get(ctx, rows[i%len(rows)].ID); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkScopedGetHandPgx(b *testing.B) {
	e, _, rows := benchCustomers(b, 100)
	ctx := context.Background()
	pool := e.db.Pool()
	reader := e.db.Config().Roles.Reader
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		var c Customer
		err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, setRole, reader, benchIdentity.UserID, benchIdentity.TenantID); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT "id", "name", "email", "age", "score", "balance", "notes", "vip", "joined", "born" FROM "customer" WHERE "id" = $1`,
				rows[i%len(rows)].ID).Scan(&c.ID, &c.Name, &c.Email, &c.Age, &c.Score, &c.Balance, &c.Notes, &c.VIP, &c.Joined, &c.Born)
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// setRole is the hand-written pgx statement that takes the reader role
// and the identity for the rest of the transaction.
const setRole = "SELECT set_config('role', $1, true), set_config('rls_var.user_id', $2, true), set_config('rls_var.tenant_id', $3, true)"

// BenchmarkScopedGetRatios runs four reads in turn, each iteration one of
// each, so that a shared machine's load falls on all alike: uno's scoped
// Get, the hand-written pgx transaction above, the same settings and
// statement as one pgx batch (one round trip: the floor of the scoped
// work from pgx), and a raw unscoped read. It reports each one's mean
// (uno-scoped-ns, hand-scoped-ns, batch-scoped-ns, raw-ns) and the ratios
// the one-round-trip design aims at (uno/hand ≤ 0.6, uno/raw ≤ 1.15),
// with uno/batch and batch/raw, which tell what the scoped work itself
// costs over a raw read.
func BenchmarkScopedGetRatios(b *testing.B) {
	e, _, rows := benchCustomers(b, 100)
	customers := repoOf[Customer](e, repo.Options{Roles: repo.RolesSwitch, Identity: benchIdentity})
	ctx := context.Background()
	pool := e.db.Pool()
	reader := e.db.Config().Roles.Reader
	const sel = `SELECT "id", "name", "email", "age", "score", "balance", "notes", "vip", "joined", "born" FROM "customer" WHERE "id" = $1`
	var uno, hand, batch, raw time.Duration
	i := 0
	for b.Loop() {
		id := rows[i%len(rows)].ID
		i++
		t0 := time.Now()
		if _, err := customers.Get(ctx, id); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		var c Customer
		err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, setRole, reader, benchIdentity.UserID, benchIdentity.TenantID); err != nil {
				return err
			}
			return tx.QueryRow(ctx, sel, id).Scan(&c.ID, &c.Name, &c.Email, &c.Age, &c.Score, &c.Balance, &c.Notes, &c.VIP, &c.Joined, &c.Born)
		})
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		// The floor of scoped work from pgx: the settings and the
		// statement in one batch, one round trip, in the implicit
		// transaction the batch's one Sync makes.
		var bt pgx.Batch
		bt.Queue(setRole, reader, benchIdentity.UserID, benchIdentity.TenantID)
		bt.Queue(sel, id).QueryRow(func(r pgx.Row) error {
			return r.Scan(&c.ID, &c.Name, &c.Email, &c.Age, &c.Score, &c.Balance, &c.Notes, &c.VIP, &c.Joined, &c.Born)
		})
		if err := pool.SendBatch(ctx, &bt).Close(); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if err := pool.QueryRow(ctx, sel, id).Scan(&c.ID, &c.Name, &c.Email, &c.Age, &c.Score, &c.Balance, &c.Notes, &c.VIP, &c.Joined, &c.Born); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		uno += t1.Sub(t0)
		hand += t2.Sub(t1)
		batch += t3.Sub(t2)
		raw += t4.Sub(t3)
	}
	n := float64(i)
	b.ReportMetric(float64(uno.Nanoseconds())/n, "uno-scoped-ns")
	b.ReportMetric(float64(hand.Nanoseconds())/n, "hand-scoped-ns")
	b.ReportMetric(float64(batch.Nanoseconds())/n, "batch-scoped-ns")
	b.ReportMetric(float64(raw.Nanoseconds())/n, "raw-ns")
	b.ReportMetric(float64(uno)/float64(hand), "uno/hand")
	b.ReportMetric(float64(uno)/float64(batch), "uno/batch")
	b.ReportMetric(float64(batch)/float64(raw), "batch/raw")
	b.ReportMetric(float64(uno)/float64(raw), "uno/raw")
}

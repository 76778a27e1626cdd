package replicatest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/repo"
)

// BenchmarkReplicaReadOne reads one row on the standby: through uno's
// replica path (read-your-writes, reader role and tenant identity, with
// and without a token the replica has replayed), against raw pgx on the
// same standby, as a bare query and as the same read-only transaction
// with set_config. Run it briefly on a loaded machine:
//
//	go test -run '^$' -bench ReplicaReadOne -benchtime 300x ./engine/replicatest/
func BenchmarkReplicaReadOne(b *testing.B) {
	e := newEnv(b, nil)
	ctx := engine.TrackWrites(context.Background())
	e.write(ctx, 1, "a")
	if r, err := e.read(ctx, engine.ReadYourWrites, 1, "a"); err != nil || !r.onReplica {
		b.Fatalf("warm-up read: %+v, %v", r, err)
	}
	raw, err := pgxpool.New(context.Background(), standby.URL(e.name))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	const q = "SELECT name FROM item WHERE id = $1"
	read := func(ctx context.Context) func(*testing.B) {
		return func(b *testing.B) {
			opts := engine.TxOptions{ReadOnly: true, Consistency: engine.ReadYourWrites, Role: engine.RoleReader,
				Identity: engine.Identity{TenantID: "a"}}
			for b.Loop() {
				var name string
				err := e.db.WithTx(ctx, opts, func(ctx context.Context, tx *engine.Tx) error {
					return tx.QueryRow(ctx, q, 1).Scan(&name)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			if st := e.stat(); st.Fallbacks != 0 {
				b.Fatalf("reads fell back to the primary: %+v", st)
			}
		}
	}
	b.Run("uno_ryw_no_token", read(context.Background()))
	b.Run("uno_ryw_token", read(ctx))
	b.Run("uno_repo_get", func(b *testing.B) {
		items := itemRepo(b, e.db, repo.Options{Roles: repo.RolesSwitch, Identity: engine.Identity{TenantID: "a"},
			Consistency: engine.ReadYourWrites})
		for b.Loop() {
			if _, err := items.Get(ctx, int32(1)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pgx_query", func(b *testing.B) {
		for b.Loop() {
			var name string
			if err := raw.QueryRow(context.Background(), q, 1).Scan(&name); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pgx_tx", func(b *testing.B) {
		for b.Loop() {
			var name string
			err := pgx.BeginTxFunc(context.Background(), raw, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
				if _, err := tx.Exec(context.Background(), "SELECT set_config('role', $1, true), set_config('rls_var.tenant_id', $2, true)",
					e.cfg.Roles.Reader, "a"); err != nil {
					return err
				}
				return tx.QueryRow(context.Background(), q, 1).Scan(&name)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReplicaReadOneLogin is read_one on the standby for a repository
// that runs as the login user (no role switching; the DB logs in as the
// superuser): repository Get with read-your-writes (the replay check
// rides in the query's round trip: one round trip), against raw pgx's bare
// query on the same standby, interleaved read by read; it reports the
// medians and their ratio:
//
//	go test -run '^$' -bench ReplicaReadOneLogin -benchtime 2000x ./engine/replicatest/
func BenchmarkReplicaReadOneLogin(b *testing.B) {
	e := newEnv(b, func(c *config.Config) { c.User = "postgres" })
	ctx := engine.TrackWrites(context.Background())
	items := itemRepo(b, e.db, repo.Options{Roles: repo.RolesLogin, Consistency: engine.ReadYourWrites})
	if err := items.Create(ctx, &Item{ID: 1, TenantID: "a", Name: "one"}); err != nil {
		b.Fatal(err)
	}
	raw, err := pgxpool.New(context.Background(), standby.URL(e.name))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	var unoNs, pgxNs []float64
	reads := e.stat().Reads
	for b.Loop() {
		start := time.Now()
		got, err := items.Get(ctx, int32(1))
		if err != nil || got.Name != "one" {
			b.Fatal(got, err)
		}
		mid := time.Now()
		var v Item
		if err := raw.QueryRow(context.Background(), "SELECT id, tenant_id, name FROM item WHERE id = $1", 1).
			Scan(&v.ID, &v.TenantID, &v.Name); err != nil {
			b.Fatal(err)
		}
		unoNs = append(unoNs, float64(mid.Sub(start)))
		pgxNs = append(pgxNs, float64(time.Since(mid)))
	}
	if got := e.stat().Reads - reads; got != int64(len(unoNs)) {
		b.Fatalf("%d of %d reads on the replica", got, len(unoNs))
	}
	mu, mp := median(unoNs), median(pgxNs)
	b.ReportMetric(mu, "uno-ns/read")
	b.ReportMetric(mp, "pgx-ns/read")
	b.ReportMetric(mu/mp, "uno/pgx")
}

// BenchmarkReplicaReadOneInterleaved alternates, read by read, uno's
// replica read and raw pgx's on the same standby, and reports the median
// of each and their ratio: on a shared, loaded machine the load drifts
// between sub-benchmarks run one after the other, while interleaving
// exposes both to the same load. Variants: uno read-your-writes with a
// replayed token (reader role, tenant identity) against raw pgx doing the
// same read-only transaction with set_config (eq_work), and against a
// bare query (bare); a repository Get with read-your-writes against raw
// pgx's bare query (repo_get); and, on the primary, uno's Strong read
// against raw pgx's transaction (primary_eq_work); and uno's replica read
// against the same uno read on the primary (routing: "pgx" stands for the
// primary read there).
//
//	go test -run '^$' -bench ReplicaReadOneInterleaved -benchtime 1000x ./engine/replicatest/
func BenchmarkReplicaReadOneInterleaved(b *testing.B) {
	e := newEnv(b, nil)
	ctx := engine.TrackWrites(context.Background())
	e.write(ctx, 1, "a")
	raw, err := pgxpool.New(context.Background(), standby.URL(e.name))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	items := itemRepo(b, e.db, repo.Options{Roles: repo.RolesSwitch, Identity: engine.Identity{TenantID: "a"},
		Consistency: engine.ReadYourWrites})
	const q = "SELECT name FROM item WHERE id = $1"
	opts := engine.TxOptions{ReadOnly: true, Consistency: engine.ReadYourWrites, Role: engine.RoleReader,
		Identity: engine.Identity{TenantID: "a"}}
	unoTx := func() error {
		return e.db.WithTx(ctx, opts, func(ctx context.Context, tx *engine.Tx) error {
			var name string
			return tx.QueryRow(ctx, q, 1).Scan(&name)
		})
	}
	repoGet := func() error { _, err := items.Get(ctx, int32(1)); return err }
	pgxBare := func() error {
		var v Item
		return raw.QueryRow(context.Background(), "SELECT id, tenant_id, name FROM item WHERE id = $1", 1).Scan(&v.ID, &v.TenantID, &v.Name)
	}
	// The same pair on the primary: uno's Strong read against raw pgx's
	// transaction there, to tell the replica path's cost from that of
	// uno's transaction (its release guard) wherever it runs.
	rawPrimary, err := pgxpool.New(context.Background(), primary.URL(e.name))
	if err != nil {
		b.Fatal(err)
	}
	defer rawPrimary.Close()
	strong := opts
	strong.Consistency = engine.Strong
	unoPrimary := func() error {
		return e.db.WithTx(ctx, strong, func(ctx context.Context, tx *engine.Tx) error {
			var name string
			return tx.QueryRow(ctx, q, 1).Scan(&name)
		})
	}
	pgxTxOn := func(pool *pgxpool.Pool) func() error {
		return func() error {
			return pgx.BeginTxFunc(context.Background(), pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
				if _, err := tx.Exec(context.Background(), "SELECT set_config('role', $1, true), set_config('rls_var.tenant_id', $2, true)",
					e.cfg.Roles.Reader, "a"); err != nil {
					return err
				}
				var name string
				return tx.QueryRow(context.Background(), q, 1).Scan(&name)
			})
		}
	}
	for _, v := range []struct {
		name     string
		uno, pgx func() error
		replica  bool
	}{
		{"eq_work", unoTx, pgxTxOn(raw), true}, {"bare", unoTx, pgxBare, true}, {"repo_get", repoGet, pgxBare, true},
		{"primary_eq_work", unoPrimary, pgxTxOn(rawPrimary), false},
		// uno's replica read against uno's same read on the primary: the
		// cost of the routing alone (the replay check in the BEGIN round
		// trip), on servers sharing the machine.
		{"routing", unoTx, unoPrimary, true},
	} {
		b.Run(v.name, func(b *testing.B) {
			var unoNs, pgxNs []float64
			reads := e.stat().Reads
			for b.Loop() {
				start := time.Now()
				if err := v.uno(); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				if err := v.pgx(); err != nil {
					b.Fatal(err)
				}
				unoNs = append(unoNs, float64(mid.Sub(start)))
				pgxNs = append(pgxNs, float64(time.Since(mid)))
			}
			if got, want := e.stat().Reads-reads, int64(len(unoNs)); v.replica && got != want || !v.replica && got != 0 {
				// (routing: the "pgx" side is uno on the primary.)
				b.Fatalf("%d of %d uno reads ran on the replica (want all: %v)", got, len(unoNs), v.replica)
			}
			mu, mp := median(unoNs), median(pgxNs)
			b.ReportMetric(mu, "uno-ns/read")
			b.ReportMetric(mp, "pgx-ns/read")
			b.ReportMetric(mu/mp, "uno/pgx")
		})
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

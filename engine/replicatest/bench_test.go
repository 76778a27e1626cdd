package replicatest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uno-db/uno/engine"
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

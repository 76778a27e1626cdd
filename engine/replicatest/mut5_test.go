package replicatest_test

import (
	"context"
	"testing"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
)

// TestReadOnReplicaResults: on a replica, a read's Exec returns the
// statement's own command tag, and QueryRow reports an error the server
// raises after the first row (as pgx's QueryRow does: the rows are read to
// their end before Scan returns), instead of the first row alone.
func TestReadOnReplicaResults(t *testing.T) {
	p := newProxied(t, standby.Port(), false, func(c *config.Config) { c.User = "postgres" })
	ctx := engine.TrackWrites(context.Background())
	p.primaryWrite(ctx, 1)
	var onReplica bool
	var tag string
	var rowErr error
	read := func() error {
		return p.db.ReadOnReplica(ctx, engine.ReadYourWrites, func(ctx context.Context, q engine.Querier) error {
			ct, err := q.Exec(ctx, "SELECT generate_series(1, 3)")
			if err != nil {
				return err
			}
			tag = ct.String()
			if err := q.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&onReplica); err != nil {
				return err
			}
			var n int
			rowErr = q.QueryRow(ctx, "SELECT 1 / (2 - x) FROM generate_series(1, 2) AS x").Scan(&n)
			return nil
		})
	}
	waitFor(t, "a read on the replica", func() bool { return read() == nil && onReplica })
	if tag != "SELECT 3" {
		t.Fatalf("Exec's command tag %q, want SELECT 3", tag)
	}
	if dberr.Code(rowErr) != "22012" {
		t.Fatalf("QueryRow over a second row that fails: %v, want 22012", rowErr)
	}
}

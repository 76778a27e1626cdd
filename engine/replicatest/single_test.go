package replicatest_test

import (
	"context"
	"testing"

	"github.com/uno-db/uno/engine"
)

// TestSingleRoutesByConsistency: Single with a consistency that allows a
// replica runs on the replica (through WithTx's routing), and with Strong
// on the primary (its one-round-trip path): the server says which.
func TestSingleRoutesByConsistency(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	where := func(c engine.Consistency) bool {
		var standby bool
		opts := engine.TxOptions{Role: engine.RoleReader, ReadOnly: true, Consistency: c}
		if err := e.db.Single(ctx, opts, func(ctx context.Context, q engine.Querier) error {
			return q.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&standby)
		}); err != nil {
			t.Fatalf("Single with %v: %v", c, err)
		}
		return standby
	}
	// The replica serves once the checker has sampled its lag.
	waitFor(t, "a BoundedStaleness Single read on the replica", func() bool { return where(engine.BoundedStaleness) })
	if where(engine.Strong) {
		t.Fatal("a Strong Single read ran on the replica")
	}
}

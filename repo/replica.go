package repo

import (
	"context"

	"github.com/uno-db/uno/engine"
)

// readConsistency is the consistency a read made with ctx asks for: the
// one engine.WithConsistency put in ctx, else Options.Consistency.
func (r *Repository[T]) readConsistency(ctx context.Context) engine.Consistency {
	if c, ok := engine.ConsistencyFromContext(ctx); ok {
		return c
	}
	return r.s.opts.Consistency
}

// onReplica runs a call on the pool (q, what ctx carries) itself when the
// DB's replicas concern it, and reports whether it did (done false: the
// call runs as it would without replicas). It applies only when the DB
// has replicas:
//
//   - a read asking for a replica consistency (ReadYourWrites,
//     BoundedStaleness) runs, when the repository switches roles, as a
//     ReadOnly transaction with it, as the reader role with
//     Options.Identity; else, as the login role, through
//     engine.DB.ReadOnReplica, which sends the replica's replay check in
//     the round trip of the read's query (no transaction);
//   - a write with a context that tracks writes (engine.TrackWrites), on a
//     repository that does not switch roles (whose writes would otherwise
//     run without a transaction), runs in a transaction as the login role,
//     so its commit raises the read-your-writes token in the COMMIT round
//     trip. A repository that switches roles already writes in a
//     transaction.
func (r *Repository[T]) onReplica(ctx context.Context, q engine.Querier, write bool, fn func(ctx context.Context, q engine.Querier) error) (done bool, err error) {
	db := r.s.db
	if !db.HasReplicas() || !db.IsPool(q) {
		return false, nil
	}
	inTx := func(ctx context.Context, tx *engine.Tx) error { return fn(ctx, tx) }
	if write {
		if r.s.switchRoles || !engine.TracksWrites(ctx) {
			return false, nil
		}
		return true, db.WithTx(ctx, engine.TxOptions{}, inTx)
	}
	c := r.readConsistency(ctx)
	switch {
	case c == engine.Strong:
		return false, nil
	case r.s.switchRoles:
		return true, db.WithTx(ctx, engine.TxOptions{ReadOnly: true, Consistency: c, Role: engine.RoleReader,
			Identity: r.s.opts.Identity}, inTx)
	}
	return true, db.ReadOnReplica(ctx, c, fn)
}

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

// ownTx decides whether a call on the pool (q, what ctx carries) runs in a
// transaction of its own because of replicas, and with which options. ok is
// false when nothing about replicas applies: the call then runs as it
// would without them. It applies only when the DB has replicas:
//
//   - a read asking for a replica consistency (ReadYourWrites,
//     BoundedStaleness) runs as a ReadOnly transaction with it, as the
//     reader role with Options.Identity when the repository switches
//     roles, else as the login role;
//   - a write with a context that tracks writes (engine.TrackWrites), on a
//     repository that does not switch roles (whose writes would otherwise
//     run without a transaction), runs in a transaction as the login role,
//     so its commit raises the read-your-writes token in the COMMIT round
//     trip. A repository that switches roles already writes in a
//     transaction.
func (r *Repository[T]) ownTx(ctx context.Context, q engine.Querier, write bool) (engine.TxOptions, bool) {
	db := r.s.db
	if !db.HasReplicas() || !db.IsPool(q) {
		return engine.TxOptions{}, false
	}
	if write {
		if r.s.switchRoles || !engine.TracksWrites(ctx) {
			return engine.TxOptions{}, false
		}
		return engine.TxOptions{}, true
	}
	c := r.readConsistency(ctx)
	if c == engine.Strong {
		return engine.TxOptions{}, false
	}
	opts := engine.TxOptions{ReadOnly: true, Consistency: c}
	if r.s.switchRoles {
		opts.Role, opts.Identity = engine.RoleReader, r.s.opts.Identity
	}
	return opts, true
}

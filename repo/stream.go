package repo

import (
	"context"
	"iter"

	"github.com/uno-db/uno/engine"
)

// Stream returns an iterator over the rows matching f, read from the
// server as the loop consumes them, so a large result is never held in
// memory. f.Limit applies only when set. The connection (and, with
// role switching, a read-only transaction) is held until the loop ends;
// breaking out of the loop releases it. An error ends the sequence with
// (zero, err).
func (r *Repository[T]) Stream(ctx context.Context, f Filter) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		q, args, err := r.buildSelect(f, true)
		if err != nil {
			yield(zero, r.errorf("stream", err))
			return
		}
		stopped := false
		err = r.run(ctx, false, func(ctx context.Context, db engine.Querier) error {
			rows, err := db.Query(ctx, q, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			var v T
			addrs := r.s.addrs(&v)
			for rows.Next() {
				v = zero
				if err := rows.Scan(addrs...); err != nil {
					return err
				}
				if !yield(v, nil) {
					stopped = true
					return nil
				}
			}
			return rows.Err()
		})
		if err != nil && !stopped {
			yield(zero, r.errorf("stream", err))
		}
	}
}

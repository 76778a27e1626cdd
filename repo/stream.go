package repo

import (
	"context"
	"errors"
	"iter"
	"strconv"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/quote"
)

// ErrConnBusy is returned by a repository call made on a connection that
// is still reading the rows of a Stream: inside engine.DB.WithConn, a
// Stream holds its connection until the loop ends. Finish or break the
// loop first, or run it inside engine.DB.WithTx, where Stream reads
// through a cursor and the loop may use the transaction.
var ErrConnBusy = errors.New("repo: the connection is busy reading a Stream's rows; finish or break the loop first, or stream inside db.WithTx, where the loop may use the transaction")

// streamBatch is how many rows a Stream inside a transaction fetches from
// its cursor at a time.
const streamBatch = 256

// cursorSeq numbers Stream cursors, so streams nested in one transaction
// do not collide.
var cursorSeq atomic.Uint64

// Stream returns an iterator over the rows matching f, read from the
// server as the loop consumes them, so a large result is never held in
// memory. f.Limit applies only when set. An error ends the sequence with
// (zero, err).
//
// Inside a transaction of the repository's DB (engine.DB.WithTx), Stream
// reads through a server-side cursor, 256 rows at a time, and the
// connection is free between fetches: the loop may call any repository
// with the transaction's ctx (to update the rows it reads, say). Otherwise
// the rows are read as one result: on the pool (and, with role switching,
// in a read-only transaction of its own), the loop's calls run on other
// connections; inside engine.DB.WithConn, a call on that connection before
// the loop ends fails with ErrConnBusy. Breaking out of the loop releases
// the connection or closes the cursor.
func (r *Repository[T]) Stream(ctx context.Context, f Filter) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		q, args, err := r.buildSelect(f, true)
		if err != nil {
			yield(zero, r.errorf("stream", err))
			return
		}
		stopped := false
		if tx, ok := r.s.db.TxFromContext(ctx); ok {
			err = r.streamCursor(ctx, tx, q, args, yield, &stopped)
			err = r.mapError(err)
		} else {
			// No read deadline: a stream lasts as long as its loop.
			err = r.runOn(ctx, false, func(ctx context.Context, db engine.Querier) error {
				rows, err := db.Query(ctx, q, args...)
				if err != nil {
					return err
				}
				var v T
				return scanRows(rows, &v, r.s.addrs(&v), func() bool {
					if !yield(v, nil) {
						stopped = true
						return false
					}
					return true
				})
			})
		}
		if err != nil && !stopped {
			yield(zero, r.errorf("stream", err))
		}
	}
}

// streamCursor runs q through a cursor in tx, fetching streamBatch rows at
// a time and yielding them with the connection free.
func (r *Repository[T]) streamCursor(ctx context.Context, tx *engine.Tx, q string, args []any, yield func(T, error) bool, stopped *bool) (err error) {
	if err := connFree(tx); err != nil {
		return err
	}
	name := quote.Ident("uno_stream_" + strconv.FormatUint(cursorSeq.Add(1), 10))
	if _, err := tx.Exec(ctx, "DECLARE "+name+" NO SCROLL CURSOR FOR "+q, args...); err != nil {
		return err
	}
	defer func() {
		// Close the cursor unless the transaction already failed (then
		// it is gone with it); an error here is the caller's to see.
		if _, cerr := tx.Exec(ctx, "CLOSE "+name); cerr != nil && err == nil && !*stopped {
			err = cerr
		}
	}()
	fetch := "FETCH " + strconv.Itoa(streamBatch) + " FROM " + name
	batch := make([]T, 0, streamBatch)
	var v T
	addrs := r.s.addrs(&v)
	for {
		rows, err := tx.Query(ctx, fetch)
		if err != nil {
			return err
		}
		batch = batch[:0]
		if err := scanRows(rows, &v, addrs, func() bool { batch = append(batch, v); return true }); err != nil {
			return err
		}
		for _, item := range batch {
			if !yield(item, nil) {
				*stopped = true
				return nil
			}
		}
		if len(batch) < streamBatch {
			return nil
		}
	}
}

// scanRows reads every row into *v through dst (addresses into *v), with
// *v zeroed before each, and calls each after every row; each returns
// false to stop. It closes rows. It is the one scan loop of Filter,
// GetBy, Stream and Query.
func scanRows[T any](rows pgx.Rows, v *T, dst []any, each func() bool) error {
	defer rows.Close()
	var zero T
	for rows.Next() {
		*v = zero
		if err := rows.Scan(dst...); err != nil {
			return err
		}
		if !each() {
			return nil
		}
	}
	return rows.Err()
}

// connFree returns ErrConnBusy when q is a connection or transaction of
// the caller's whose connection is still reading a result (a Stream's).
func connFree(q engine.Querier) error {
	var raw *pgx.Conn
	switch c := q.(type) {
	case *engine.Tx:
		raw = c.Raw()
	case *engine.Conn:
		raw = c.Raw()
	}
	if raw != nil && raw.PgConn().IsBusy() {
		return ErrConnBusy
	}
	return nil
}

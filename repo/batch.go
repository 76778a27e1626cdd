package repo

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
)

// Batch queues repository operations, of one or several repositories on
// the same DB, and sends them in one round trip (a pgx batch): the Go form
// of uno's async advantage. The operations run in order and all or
// nothing: in ctx's transaction, or in one of their own (on ctx's
// connection when it carries one). A Batch is not safe
// for concurrent use; it may be sent once.
type Batch struct {
	db     *engine.DB
	pb     pgx.Batch
	reads  []func(pgx.BatchResults) error
	writer bool
	ident  engine.Identity
	err    error
	sent   bool
}

// NewBatch returns an empty batch.
func NewBatch() *Batch { return &Batch{} }

// Len returns the number of queued operations.
func (b *Batch) Len() int { return len(b.reads) }

// queue adds one statement and the function that reads its result.
func (b *Batch) queue(db *engine.DB, switchRoles bool, ident engine.Identity, sql string, args []any, read func(pgx.BatchResults) error) {
	if b.err != nil {
		return
	}
	if b.db == nil {
		b.db = db
	} else if b.db != db {
		b.err = errors.New("repo: a batch's repositories must share one DB")
		return
	}
	if switchRoles {
		b.writer = true
		b.ident = ident
	}
	b.pb.Queue(sql, args...)
	b.reads = append(b.reads, read)
}

// Send sends the queued operations in one round trip and reads their
// results into the structs they were queued with. It returns the first
// error, naming the operation's position; an error rolls back every
// operation of the batch (unless ctx's transaction decides otherwise).
func (b *Batch) Send(ctx context.Context) error {
	if b.err != nil {
		return b.err
	}
	if b.sent {
		return errors.New("repo: batch already sent")
	}
	b.sent = true
	if len(b.reads) == 0 {
		return nil
	}
	fn := func(ctx context.Context, q engine.Querier) error {
		br := q.SendBatch(ctx, &b.pb)
		for i, read := range b.reads {
			if err := read(br); err != nil {
				br.Close()
				return &opError{op: "batch operation " + strconv.Itoa(i), err: err}
			}
		}
		return br.Close()
	}
	// Always in a transaction, so a failed operation undoes the others:
	// ctx's, one begun on ctx's connection, or a new one (as the writer
	// role when a repository switches roles).
	return dberr.Classify(inTx(ctx, b.db, b.writer, b.ident, fn))
}

// QueueCreate queues Create(v); v is filled when the batch is sent.
func (r *Repository[T]) QueueCreate(b *Batch, v *T) {
	if v == nil {
		b.err = r.errorf("create", errNilValue)
		return
	}
	row := r.s.row(v)
	if err := r.stampTenant(row, r.tenantOf(context.Background()), -1); err != nil {
		b.err = r.errorf("create", err)
		return
	}
	addrs := row.AppendAddrs(make([]any, 0, len(r.s.table.Columns)))
	mask := r.s.insertMask(row)
	args := row.AppendArgs(nil, r.s.insertColumns(mask))
	b.queue(r.s.db, r.s.switchRoles, r.s.opts.Identity, r.s.insertFor(mask), args, func(br pgx.BatchResults) error {
		return r.errorf("create", r.mapError(br.QueryRow().Scan(addrs...)))
	})
}

// QueueGet queues Get(pk...) into dst, filled when the batch is sent.
func (r *Repository[T]) QueueGet(b *Batch, dst *T, pk ...any) {
	if dst == nil {
		b.err = r.errorf("get", errNilValue)
		return
	}
	if len(pk) != len(r.s.pk) {
		b.err = r.errorf("get", fmt.Errorf("%w: %d key values for %d primary key columns", ErrBadKey, len(pk), len(r.s.pk)))
		return
	}
	q := r.s.selectPK
	if r.withDeleted {
		q = r.s.selectPKAll
	}
	addrs := r.s.addrs(dst)
	b.queue(r.s.db, r.s.switchRoles, r.s.opts.Identity, q, pk, func(br pgx.BatchResults) error {
		return r.errorf("get", r.mapError(br.QueryRow().Scan(addrs...)))
	})
}

// QueueUpdate queues Update(v) of every column. When the row is missing
// the error matches dberr.ErrNotFound, or, with Options.Version,
// dberr.ErrConflict (a batch cannot tell a stale version from a missing
// row).
func (r *Repository[T]) QueueUpdate(b *Batch, v *T) {
	if v == nil {
		b.err = r.errorf("update", errNilValue)
		return
	}
	if r.s.updateAll == "" {
		b.err = r.errorf("update", fmt.Errorf("%w: no column to update", ErrNotUpdatable))
		return
	}
	row := r.s.row(v)
	if err := r.stampTenant(row, r.tenantOf(context.Background()), -1); err != nil {
		b.err = r.errorf("update", err)
		return
	}
	addrs := row.AppendAddrs(make([]any, 0, len(r.s.table.Columns)))
	args := row.AppendArgs(nil, r.s.updateAllArgs)
	b.queue(r.s.db, r.s.switchRoles, r.s.opts.Identity, r.s.updateAll, args, func(br pgx.BatchResults) error {
		err := br.QueryRow().Scan(addrs...)
		if errors.Is(err, pgx.ErrNoRows) && r.s.version != nil {
			err = fmt.Errorf("%w: row missing or %s changed", dberr.ErrConflict, r.s.version.Name)
		}
		return r.errorf("update", r.mapError(err))
	})
}

// QueueDelete queues Delete(v) (soft for record-status models), without a
// version check.
func (r *Repository[T]) QueueDelete(b *Batch, v *T) {
	if v == nil {
		b.err = r.errorf("delete", errNilValue)
		return
	}
	row := r.s.row(v)
	addrs := row.AppendAddrs(make([]any, 0, len(r.s.table.Columns)))
	q := r.s.deleteHard
	if r.s.table.SoftDelete {
		q = r.s.deleteSoft
	}
	b.queue(r.s.db, r.s.switchRoles, r.s.opts.Identity, q, row.AppendArgs(nil, r.s.pk), func(br pgx.BatchResults) error {
		return r.errorf("delete", r.mapError(br.QueryRow().Scan(addrs...)))
	})
}

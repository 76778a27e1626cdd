package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/model"
)

type timeType = time.Time

// syncMap is a typed sync.Map.
type syncMap[K comparable, V any] struct{ m sync.Map }

func (m *syncMap[K, V]) Load(k K) (V, bool) {
	v, ok := m.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

func (m *syncMap[K, V]) Store(k K, v V) { m.m.Store(k, v) }

// row returns v seen through the model's column accessors.
func (s *shared[T]) row(v *T) model.Row {
	row, err := s.table.Row(v)
	if err != nil {
		// v is a non-nil *T of the table's type, so Row cannot fail.
		panic(err)
	}
	return row
}

// addrs returns the field addresses of v in column order.
func (s *shared[T]) addrs(v *T) []any {
	return s.row(v).AppendAddrs(make([]any, 0, len(s.table.Columns)))
}

// rowsOf returns every element of rows as a model.Row.
func (s *shared[T]) rowsOf(rows []T) []model.Row {
	out := make([]model.Row, len(rows))
	for i := range rows {
		out[i] = s.row(&rows[i])
	}
	return out
}

// insertMask returns the mask of generated columns row sets (non-zero).
func (s *shared[T]) insertMask(row model.Row) uint64 {
	var m uint64
	for i, c := range s.gen {
		if !row.IsZero(c) {
			m |= 1 << i
		}
	}
	return m
}

// insertFor returns the INSERT text for mask, building it on first use.
func (s *shared[T]) insertFor(mask uint64) string {
	if mask == 0 {
		return s.insertZero
	}
	if q, ok := s.insertCache.Load(mask); ok {
		return q
	}
	q := s.insertSQL(mask)
	s.insertCache.Store(mask, q)
	return q
}

// Create inserts v and fills every column back into it from RETURNING,
// so values the database generates (the ULID key, defaults, columns set by
// triggers) land in the struct. A column with a default is left to the
// database when its field holds the zero value, and inserted otherwise.
// A unique violation is a *ConstraintError matching
// dberr.ErrUniqueViolation that names the constraint, model and fields.
func (r *Repository[T]) Create(ctx context.Context, v *T) error {
	if v == nil {
		return r.errorf("create", errNilValue)
	}
	row := r.s.row(v)
	if err := r.stampTenant(row, r.tenantOf(ctx), -1); err != nil {
		return r.errorf("create", err)
	}
	addrs := row.AppendAddrs(make([]any, 0, len(r.s.table.Columns)))
	mask := r.s.insertMask(row)
	q := r.s.insertFor(mask)
	args := row.AppendArgs(make([]any, 0, len(addrs)), r.s.insertColumns(mask))
	err := r.run1(ctx, true, func(ctx context.Context, db engine.Querier) error {
		return db.QueryRow(ctx, q, args...).Scan(addrs...)
	})
	return r.errorf("create", err)
}

// CreateOrGet inserts v unless a row with the same natural key exists, and
// fills v with the row inserted or found; created reports which. key names
// the columns of a unique constraint (or the primary key); empty means the
// model's first unique constraint, or its primary key when it has none.
// It is atomic under concurrency: INSERT … ON CONFLICT DO NOTHING, then,
// if nothing was inserted, a read of the existing row by a new statement
// (in the caller's transaction, or the role-switching one, when there is
// one), which under READ COMMITTED sees the row that caused the conflict.
// Exactly one of many concurrent callers creates the row.
func (r *Repository[T]) CreateOrGet(ctx context.Context, v *T, key ...string) (created bool, err error) {
	if v == nil {
		return false, r.errorf("create or get", errNilValue)
	}
	c, err := r.uniqueFor(key)
	if err != nil {
		return false, r.errorf("create or get", err)
	}
	row := r.s.row(v)
	if err := r.stampTenant(row, r.tenantOf(ctx), -1); err != nil {
		return false, r.errorf("create or get", err)
	}
	addrs := row.AppendAddrs(make([]any, 0, len(r.s.table.Columns)))
	mask := r.s.insertMask(row)
	ins := r.s.insertFor(mask)
	// Splice ON CONFLICT before RETURNING.
	cut := len(ins) - len(r.s.returning)
	conflict := " ON CONFLICT (" + string(appendColumns(nil, c.Columns, "")) + ")"
	if c.Where != "" {
		conflict += " WHERE " + c.Where
	}
	ins = ins[:cut] + conflict + " DO NOTHING" + ins[cut:]
	where, _ := appendKeyWhere(nil, c.Columns, 1)
	sel := r.s.selectFrom + " WHERE " + string(where)
	if c.Where != "" {
		sel += " AND (" + c.Where + ")"
	}
	// On a soft-deleting table the conflicting row may be a deleted one:
	// that is an error, not the row to return (unless r.withDeleted).
	var deleted *model.Column
	if r.s.table.SoftDelete && !r.withDeleted {
		deleted = r.s.table.DeletedColumn
	}
	args := row.AppendArgs(make([]any, 0, len(addrs)), r.s.insertColumns(mask))
	// Copy the key values: the scans must not change them.
	keyArgs := make([]any, len(c.Columns))
	for i, col := range c.Columns {
		keyArgs[i] = row.Value(col)
	}
	err = r.run(ctx, true, func(ctx context.Context, db engine.Querier) error {
		for attempt := 0; attempt < 10; attempt++ {
			err := db.QueryRow(ctx, ins, args...).Scan(addrs...)
			if err == nil {
				created = true
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if deleted == nil {
				err = db.QueryRow(ctx, sel, keyArgs...).Scan(addrs...)
			} else {
				// Read into a copy: a soft-deleted row must not fill v.
				var got T
				err = db.QueryRow(ctx, sel, keyArgs...).Scan(r.s.addrs(&got)...)
				if err == nil {
					if r.s.row(&got).Bool(deleted) {
						return fmt.Errorf("%w: the row with this %s is deleted", dberr.ErrConflict, strings.Join(columnNames(c.Columns), ", "))
					}
					*v = got
				}
			}
			if err == nil {
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			// The conflicting row went away between the two statements:
			// try again.
		}
		return fmt.Errorf("%w: the row kept changing", dberr.ErrConflict)
	})
	return created, r.errorf("create or get", err)
}

// uniqueFor finds the primary key or unique constraint over exactly the
// named columns.
func (r *Repository[T]) uniqueFor(key []string) (*model.Constraint, error) {
	t := r.s.table
	if len(key) == 0 {
		if len(t.Uniques) > 0 {
			return t.Uniques[0], nil
		}
		return t.PrimaryKey, nil
	}
	if len(key) == 1 {
		if c, ok := t.Constraint(key[0]); ok && (c.Kind == model.Unique || c.Kind == model.PrimaryKey) {
			return c, nil
		}
	}
	for _, name := range key {
		if _, ok := t.Column(name); !ok {
			return nil, &FieldError{Field: name, Err: ErrUnknownField}
		}
	}
	for _, c := range append([]*model.Constraint{t.PrimaryKey}, t.Uniques...) {
		if sameColumns(c.Columns, key) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: no unique constraint over %q", ErrNoUniqueKey, key)
}

func sameColumns(cols []*model.Column, names []string) bool {
	if len(cols) != len(names) {
		return false
	}
	for _, c := range cols {
		found := false
		for _, n := range names {
			if c.Name == n {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Get returns the row with the given primary key values, in key column
// order. A soft-deleted row is not found unless the repository is a
// WithDeleted view. No row: an error matching dberr.ErrNotFound.
func (r *Repository[T]) Get(ctx context.Context, pk ...any) (*T, error) {
	if len(pk) != len(r.s.pk) {
		return nil, r.errorf("get", fmt.Errorf("%w: %d key values for %d primary key columns", ErrBadKey, len(pk), len(r.s.pk)))
	}
	q := r.s.selectPK
	if r.withDeleted {
		q = r.s.selectPKAll
	}
	v := new(T)
	addrs := r.s.addrs(v)
	// No read deadline: a primary-key lookup is one index probe, and the
	// deadline would cost every Get a context and a watcher goroutine.
	err := r.runOn1(ctx, false, func(ctx context.Context, db engine.Querier) error {
		return db.QueryRow(ctx, q, pk...).Scan(addrs...)
	})
	if err != nil {
		return nil, r.errorf("get", err)
	}
	return v, nil
}

// GetBy returns the one row whose columns equal the values in key, such as
// a natural key: GetBy(ctx, repo.Eq{"email": e}). A nil value matches
// NULL. Column names are checked before any SQL is sent. No row: an error
// matching dberr.ErrNotFound; more than one: dberr.ErrMultipleRows.
func (r *Repository[T]) GetBy(ctx context.Context, key Eq) (*T, error) {
	if len(key) == 0 {
		return nil, r.errorf("get", fmt.Errorf("%w: no columns", ErrBadKey))
	}
	f := Filter{Limit: 2}
	for _, name := range sortedKeys(key) {
		val := key[name]
		if val == nil {
			f.Where = append(f.Where, Cond{Field: name, Lookup: LookupNull})
		} else {
			f.Where = append(f.Where, Cond{Field: name, Lookup: LookupEqual, Value: val})
		}
	}
	q, args, err := r.buildSelect(f, false)
	if err != nil {
		return nil, r.errorf("get", err)
	}
	var out *T
	err = r.run1(ctx, false, func(ctx context.Context, db engine.Querier) error {
		rows, err := db.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		v := new(T)
		n := 0
		if err := scanRows(rows, v, r.s.addrs(v), func() bool { n++; return n < 2 }); err != nil {
			return err
		}
		switch n {
		case 0:
			return errNotFound
		case 1:
			out = v
			return nil
		}
		return dberr.ErrMultipleRows
	})
	if err != nil {
		return nil, r.errorf("get", err)
	}
	return out, nil
}

// Update writes v's columns to its row, found by v's primary key: every
// column but the key when columns is empty, otherwise only the named ones.
// For record-status models the every-column form leaves is_deleted,
// deleted_at and created_at alone (Delete and inserts keep them), and
// every update sets modified_at to clock_timestamp() unless it is named.
// v is filled back from RETURNING. No row (or a soft-deleted one): an error
// matching dberr.ErrNotFound. With Options.Version, the row must still hold
// v's version, else the error matches dberr.ErrConflict; on success v holds
// the new version.
func (r *Repository[T]) Update(ctx context.Context, v *T, columns ...string) error {
	if v == nil {
		return r.errorf("update", errNilValue)
	}
	st, err := r.updateFor(columns)
	if err != nil {
		return r.errorf("update", err)
	}
	row := r.s.row(v)
	if err := r.stampTenant(row, r.tenantOf(ctx), -1); err != nil {
		return r.errorf("update", err)
	}
	addrs := row.AppendAddrs(make([]any, 0, len(r.s.table.Columns)))
	args := row.AppendArgs(make([]any, 0, len(st.args)), st.args)
	err = r.run1(ctx, true, func(ctx context.Context, db engine.Querier) error {
		err := db.QueryRow(ctx, st.sql, args...).Scan(addrs...)
		if errors.Is(err, pgx.ErrNoRows) && r.s.version != nil {
			return errCheckVersion
		}
		return err
	})
	err = r.checkVersion(ctx, err, row)
	return r.errorf("update", err)
}

// Patch writes v's named columns (every updatable column when none is
// named) to the row with v's primary key, like Update, but does not read
// the row back: one statement, no RETURNING, for callers that only need
// the write. Record-status and version columns are kept as by Update (v's
// version field is not advanced). No row (or a soft-deleted one): an error
// matching dberr.ErrNotFound; with Options.Version, a changed row:
// dberr.ErrConflict.
func (r *Repository[T]) Patch(ctx context.Context, v *T, columns ...string) error {
	if v == nil {
		return r.errorf("patch", errNilValue)
	}
	st, err := r.updateFor(columns)
	if err != nil {
		return r.errorf("patch", err)
	}
	row := r.s.row(v)
	if err := r.stampTenant(row, r.tenantOf(ctx), -1); err != nil {
		return r.errorf("patch", err)
	}
	args := row.AppendArgs(make([]any, 0, len(st.args)), st.args)
	q := r.s.db.Querier(ctx)
	if r.s.db.IsPool(q) && !r.s.switchRoles {
		// The fast path: one Exec on the pool.
		err := r.checkVersion(ctx, r.mapError(r.patchOn(ctx, q, st, args, row)), row)
		return r.errorf("patch", err)
	}
	err = r.run1(ctx, true, func(ctx context.Context, db engine.Querier) error {
		return r.patchOn(ctx, db, st, args, row)
	})
	return r.errorf("patch", r.checkVersion(ctx, err, row))
}

func (r *Repository[T]) patchOn(ctx context.Context, db engine.Querier, st *updateStmt, args []any, row model.Row) error {
	tag, err := db.Exec(ctx, st.patch, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		if r.s.version != nil {
			return errCheckVersion
		}
		return errNotFound
	}
	return nil
}

// updateStmt is a cached UPDATE for one set of columns.
type updateStmt struct {
	sql   string          // UPDATE … RETURNING every column
	patch string          // the same without RETURNING
	args  []*model.Column // the columns whose values are the arguments, in order
}

// updateFor returns the UPDATE for the named columns (every updatable
// column when none is named), built once per column set.
func (r *Repository[T]) updateFor(columns []string) (*updateStmt, error) {
	var mask uint64
	cacheable := len(r.s.table.Columns) < 64
	for _, name := range columns {
		c, ok := r.s.table.Column(name)
		if !ok {
			return nil, &FieldError{Field: name, Err: ErrUnknownField}
		}
		if c.PrimaryKey || !c.Insertable() {
			return nil, &FieldError{Field: name, Err: ErrNotUpdatable}
		}
		if c != r.s.version && c.Ordinal < 64 {
			mask |= 1 << c.Ordinal
		}
	}
	if len(columns) == 0 {
		mask = ^uint64(0) // every column
	}
	if cacheable {
		if st, ok := r.s.updateCache.Load(mask); ok {
			return st, nil
		}
	}
	var q string
	var cols []*model.Column
	if len(columns) == 0 {
		q, cols = r.s.updateAll, r.s.updateAllArgs
	} else {
		set := make([]*model.Column, 0, len(columns))
		for _, name := range columns {
			c, _ := r.s.table.Column(name)
			if c != r.s.version && !slices.Contains(set, c) {
				set = append(set, c)
			}
		}
		q, cols = r.s.updateSQL(set)
	}
	if q == "" {
		return nil, fmt.Errorf("%w: no column to update", ErrNotUpdatable)
	}
	st := &updateStmt{sql: q, patch: strings.TrimSuffix(q, r.s.returning), args: cols}
	if cacheable {
		r.s.updateCache.Store(mask, st)
	}
	return st, nil
}

// conflictOrMissing tells a version mismatch from a missing row.
// errCheckVersion tells that a version-checked UPDATE or DELETE matched no
// row; checkVersion then finds out why, with a statement of its own (a
// single-statement call cannot run a second one).
var errCheckVersion = errors.New("repo: no row matched the key and version")

// checkVersion turns errCheckVersion into dberr.ErrConflict (the row with
// row's primary key exists: its version changed) or errNotFound, in the
// caller's transaction when ctx carries one, else in one of its own. Other
// errors pass.
func (r *Repository[T]) checkVersion(ctx context.Context, err error, row model.Row) error {
	if !errors.Is(err, errCheckVersion) {
		return err
	}
	// The key is read only now: a call that succeeds spends nothing on it.
	pkArgs := row.AppendArgs(nil, r.s.pk)
	return r.run1(ctx, true, func(ctx context.Context, db engine.Querier) error {
		return r.conflictOrMissing(ctx, db, pkArgs)
	})
}

func (r *Repository[T]) conflictOrMissing(ctx context.Context, db engine.Querier, pkArgs []any) error {
	q := r.s.existsPK
	if r.s.table.SoftDelete {
		q = q[:len(q)-1] + " AND NOT " + r.s.table.DeletedColumn.QuotedName + ")"
	}
	var exists bool
	if err := db.QueryRow(ctx, q, pkArgs...).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("%s changed since it was read: %w", r.s.version.Name, dberr.ErrConflict)
	}
	return errNotFound
}

// Delete deletes v's row, found by v's primary key. A model with the
// record-status mixin is deleted softly: is_deleted becomes true and
// deleted_at now(), and v is filled back from the row. With
// Options.Version, the row must still hold v's version (dberr.ErrConflict
// otherwise). No row, or one already deleted: dberr.ErrNotFound.
func (r *Repository[T]) Delete(ctx context.Context, v *T) error {
	if v == nil {
		return r.errorf("delete", errNilValue)
	}
	row := r.s.row(v)
	addrs := row.AppendAddrs(make([]any, 0, len(r.s.table.Columns)))
	pkArgs := row.AppendArgs(nil, r.s.pk)
	q := r.s.deleteHard
	if r.s.table.SoftDelete {
		q = r.s.deleteSoft
	}
	args := pkArgs
	if r.s.version != nil {
		cut := len(q) - len(r.s.returning)
		q = q[:cut] + " AND " + r.s.version.QuotedName + " = " + string(appendParam(nil, len(r.s.pk)+1)) + q[cut:]
		args = append(append([]any(nil), pkArgs...), row.Arg(r.s.version))
	}
	err := r.run1(ctx, true, func(ctx context.Context, db engine.Querier) error {
		err := db.QueryRow(ctx, q, args...).Scan(addrs...)
		if errors.Is(err, pgx.ErrNoRows) && r.s.version != nil {
			return errCheckVersion
		}
		return err
	})
	return r.errorf("delete", r.checkVersion(ctx, err, row))
}

// DeleteKey deletes the row with the given primary key values, softly for
// record-status models, without a version check. No row: dberr.ErrNotFound.
func (r *Repository[T]) DeleteKey(ctx context.Context, pk ...any) error {
	if len(pk) != len(r.s.pk) {
		return r.errorf("delete", fmt.Errorf("%w: %d key values for %d primary key columns", ErrBadKey, len(pk), len(r.s.pk)))
	}
	q := r.s.deleteHard
	if r.s.table.SoftDelete {
		q = r.s.deleteSoft
	}
	v := new(T)
	addrs := r.s.addrs(v)
	err := r.run1(ctx, true, func(ctx context.Context, db engine.Querier) error {
		return db.QueryRow(ctx, q, pk...).Scan(addrs...)
	})
	return r.errorf("delete", err)
}

// Purge deletes the row with the given primary key values for good, also
// for record-status models. No row: dberr.ErrNotFound.
func (r *Repository[T]) Purge(ctx context.Context, pk ...any) error {
	if len(pk) != len(r.s.pk) {
		return r.errorf("purge", fmt.Errorf("%w: %d key values for %d primary key columns", ErrBadKey, len(pk), len(r.s.pk)))
	}
	v := new(T)
	addrs := r.s.addrs(v)
	err := r.run1(ctx, true, func(ctx context.Context, db engine.Querier) error {
		return db.QueryRow(ctx, r.s.deleteHard, pk...).Scan(addrs...)
	})
	return r.errorf("purge", err)
}

package repo

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/engine"
)

// Query runs raw SQL with bind parameters and scans each row into a T,
// matching result columns to the model's columns by name (once per query,
// not per row). A result column the model lacks is an error; model columns
// the result lacks stay zero. The SQL text is trusted: build it from
// constants, and pass every value as a parameter.
func (r *Repository[T]) Query(ctx context.Context, sql string, args ...any) ([]T, error) {
	var out []T
	err := r.runRaw1(ctx, false, func(ctx context.Context, db engine.Querier) error {
		out = out[:0]
		rows, err := db.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		fds := rows.FieldDescriptions()
		ord := make([]int, len(fds))
		for i, fd := range fds {
			c, ok := r.s.table.Column(fd.Name)
			if !ok {
				return &FieldError{Field: fd.Name, Err: ErrUnknownField, Reason: "result column not in model " + r.s.table.GoName()}
			}
			ord[i] = c.Ordinal
		}
		var v T
		addrs := r.s.addrs(&v)
		dst := make([]any, len(fds))
		for i, o := range ord {
			dst[i] = addrs[o]
		}
		return scanRows(rows, &v, dst, func() bool { out = append(out, v); return true })
	})
	if err != nil {
		return nil, r.errorf("query", err)
	}
	return out, nil
}

// QueryMaps runs raw SQL with bind parameters and returns each row as a
// map from column name to value.
func (r *Repository[T]) QueryMaps(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	var out []map[string]any
	err := r.runRaw1(ctx, false, func(ctx context.Context, db engine.Querier) error {
		rows, err := db.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToMap)
		return err
	})
	if err != nil {
		return nil, r.errorf("query", err)
	}
	return out, nil
}

// Exec runs a raw SQL statement with bind parameters as a write (the writer
// role when the repository switches roles) and returns the number of rows it affected.
func (r *Repository[T]) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	var n int64
	err := r.runRaw1(ctx, true, func(ctx context.Context, db engine.Querier) error {
		tag, err := db.Exec(ctx, sql, args...)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, r.errorf("exec", err)
	}
	return n, nil
}

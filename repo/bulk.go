package repo

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/model"
)

// CreateMany inserts rows with multi-row INSERTs sent in one round trip and
// fills every row back from RETURNING, like Create. A column with a default
// is inserted when any row sets it; rows that leave it zero get DEFAULT.
// It is all or nothing: in ctx's transaction, or in an implicit one.
func (r *Repository[T]) CreateMany(ctx context.Context, rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	rs := r.s.rowsOf(rows)
	if err := r.stampTenants(ctx, rs); err != nil {
		return r.errorf("create", err)
	}
	var mask uint64
	for _, row := range rs {
		mask |= r.s.insertMask(row)
	}
	cols := r.s.insertColumns(mask)
	if len(cols) == 0 {
		return r.errorf("create", fmt.Errorf("every column is left to the database: use Create"))
	}
	chunk := maxBindParams / len(cols)
	refs := argRefs(r.s.db, cols)
	var batch pgx.Batch
	var spans [][2]int
	for start := 0; start < len(rows); start += chunk {
		end := min(start+chunk, len(rows))
		b := make([]byte, 0, 64+(end-start)*len(cols)*6)
		b = append(b, "INSERT INTO "...)
		b = append(b, r.s.table.QualifiedName...)
		b = append(b, " ("...)
		b = appendColumns(b, cols, "")
		b = append(b, ") VALUES "...)
		args := make([]any, 0, (end-start)*len(cols))
		for i := start; i < end; i++ {
			if i > start {
				b = append(b, ", "...)
			}
			b = append(b, '(')
			for j, c := range cols {
				if j > 0 {
					b = append(b, ", "...)
				}
				if c.Generated() && rs[i].IsZero(c) {
					b = append(b, "DEFAULT"...)
					continue
				}
				args = appendArg(args, rs[i], c, refs != nil && refs[j])
				b = appendParam(b, len(args))
			}
			b = append(b, ')')
		}
		b = append(b, r.s.returning...)
		batch.Queue(string(b), args...)
		spans = append(spans, [2]int{start, end})
	}
	// Each row is read back into its struct, a column only when its value
	// differs from the field's (fillRow): the common row, stored as given,
	// decodes only what the database made.
	kinds := rawKindsOf(r.s.table)
	dst := make([]any, len(r.s.table.Columns))
	read := func(q pgx.Rows, sp [2]int) error {
		defer q.Close()
		i := sp[0]
		for q.Next() {
			if i >= sp[1] {
				return fmt.Errorf("insert returned more rows than it was given")
			}
			if err := fillRow(q, q.FieldDescriptions(), q.RawValues(), 0, kinds, rs[i], dst); err != nil {
				return err
			}
			i++
		}
		return q.Err()
	}
	fn := func(ctx context.Context, db engine.Querier) error {
		if len(spans) == 1 {
			qq := batch.QueuedQueries[0]
			q, err := db.Query(ctx, qq.SQL, qq.Arguments...)
			if err != nil {
				return err
			}
			return read(q, spans[0])
		}
		br := db.SendBatch(ctx, &batch)
		defer br.Close()
		for _, sp := range spans {
			q, err := br.Query()
			if err == nil {
				err = read(q, sp)
			}
			if err != nil {
				return err
			}
		}
		return br.Close()
	}
	var err error
	if len(spans) == 1 {
		// One statement: with role switching, one round trip.
		err = r.run1(ctx, true, fn)
	} else {
		err = r.inTx(ctx, fn)
	}
	return r.errorf("create", err)
}

// CopyFrom loads rows with COPY, the fastest way in, and returns how many
// were loaded. Nothing is read back. A column with a default is copied
// when every row sets it and left to the database when none does; a mix is
// an error, as COPY cannot use DEFAULT for some rows.
func (r *Repository[T]) CopyFrom(ctx context.Context, rows []T) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	// Two passes over the rows: the first fills the tenant and finds which
	// generated columns are set, the second (inside COPY) reads the values.
	var some, all uint64
	all = ^uint64(0)
	tenant := r.tenantOf(ctx)
	for i := range rows {
		row := r.s.row(&rows[i])
		if err := r.stampTenant(row, tenant, i); err != nil {
			return 0, r.errorf("copy", err)
		}
		m := r.s.insertMask(row)
		some |= m
		all &= m
	}
	if some != all {
		for i, c := range r.s.gen {
			if (some^all)&(1<<i) != 0 {
				return 0, r.errorf("copy", &FieldError{Field: c.Name, Err: ErrBadValue,
					Reason: "set in some rows and zero in others; COPY cannot mix values and defaults"})
			}
		}
	}
	cols := r.s.insertColumns(some)
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	// Always schema-qualified, so no temporary table can shadow it.
	schema := r.s.table.Schema
	if schema == "" {
		schema = "public"
	}
	ident := pgx.Identifier{schema, r.s.table.Name}
	var n int64
	err := r.run(ctx, true, func(ctx context.Context, db engine.Querier) error {
		src := newCopySource(len(rows), 0, cols, func(i int) model.Row { return r.s.row(&rows[i]) })
		var err error
		n, err = db.CopyFrom(ctx, ident, names, src)
		return err
	})
	return n, r.errorf("copy", err)
}

// copySource is the pgx.CopyFromSource of CopyFrom and MergeCopy: it hands
// pgx each row's fields by reference, in one []any reused for every row
// (pgx encodes a row before it asks for the next). A plain string, integer
// or bool field of a text, varchar, integer or boolean column is passed as
// a model.Row.ScalarRef, which pgx's codecs read without the value being
// copied into an interface; other fields as a model.Row.Ref. So a row of
// such columns costs no allocation at all.
type copySource struct {
	n, i   int
	row    func(i int) model.Row
	cols   []*model.Column
	scalar []bool
	vals   []any
	ord    int64 // with a leading ordinal column (MergeCopy's staging table)
	lead   int   // 1 with the ordinal column, else 0
}

// newCopySource returns the source of n rows of cols, row(i) giving row
// i; lead 1 puts the row's position (a bigint) before the columns.
func newCopySource(n, lead int, cols []*model.Column, row func(i int) model.Row) *copySource {
	s := &copySource{n: n, row: row, cols: cols, scalar: make([]bool, len(cols)), vals: make([]any, lead+len(cols)), lead: lead}
	for j, c := range cols {
		s.scalar[j] = exactColumn(c)
	}
	if lead == 1 {
		s.vals[0] = &s.ord
	}
	return s
}

// Next implements pgx.CopyFromSource.
func (s *copySource) Next() bool {
	if s.i >= s.n {
		return false
	}
	s.i++
	return true
}

// Values implements pgx.CopyFromSource: the fields of the current row.
func (s *copySource) Values() ([]any, error) {
	i := s.i - 1
	s.ord = int64(i)
	row := s.row(i)
	vals := s.vals[s.lead:]
	for j, c := range s.cols {
		if s.scalar[j] {
			vals[j], _ = row.ScalarRef(c)
		} else {
			vals[j] = row.Ref(c)
		}
	}
	return s.vals, nil
}

// Err implements pgx.CopyFromSource.
func (s *copySource) Err() error { return nil }

// argRefs marks the columns of cols whose query arguments are passed as
// model.Row.ScalarRef references (see exactColumn), which pgx encodes
// without copying the value into an interface; nil when none is. pgx
// encodes a reference through the parameter's type, which the server
// describes in every query mode but "exec", where pgx infers types from
// the Go values: there every argument is a value. A reference is read
// when the query is sent, so the rows must not change before that.
func argRefs(db *engine.DB, cols []*model.Column) []bool {
	if db.Config().QueryExecMode == "exec" {
		return nil
	}
	var refs []bool
	for j, c := range cols {
		if exactColumn(c) {
			if refs == nil {
				refs = make([]bool, len(cols))
			}
			refs[j] = true
		}
	}
	return refs
}

// appendArg appends row's argument for c: a model.Row.ScalarRef when ref,
// else model.Row.Arg.
func appendArg(dst []any, row model.Row, c *model.Column, ref bool) []any {
	if ref {
		if v, ok := row.ScalarRef(c); ok {
			return append(dst, v)
		}
	}
	return append(dst, row.Arg(c))
}

// Keys are a table's keys, the seed's table_keys().
type Keys struct {
	PrimaryKey []string    // primary key columns, in order
	Uniques    []UniqueKey // unique constraints and unique indexes
}

// UniqueKey is one unique constraint or unique index.
type UniqueKey struct {
	Name    string   // constraint or index name
	Columns []string // columns, in order
	Fields  []string // Go field paths of the columns
	Where   string   // predicate of a partial unique index; empty otherwise
}

// TableKeys returns the model's primary key and unique keys.
func (r *Repository[T]) TableKeys() Keys {
	k := Keys{PrimaryKey: columnNames(r.s.pk)}
	for _, u := range r.s.table.Uniques {
		uk := UniqueKey{Name: u.Name, Columns: columnNames(u.Columns), Where: u.Where}
		for _, c := range u.Columns {
			uk.Fields = append(uk.Fields, c.Field)
		}
		k.Uniques = append(k.Uniques, uk)
	}
	return k
}

func columnNames(cols []*model.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

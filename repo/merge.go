package repo

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/model"
)

// Outcome is what a merge did with one row (uno's _action).
type Outcome uint8

// Merge outcomes. The zero Outcome means the row was not merged.
const (
	Inserted  Outcome = iota + 1 // a new row
	Updated                      // an existing row that differed, rewritten
	Unchanged                    // an existing row equal in every merged column, not touched
)

// String returns "inserted", "updated" or "unchanged".
func (o Outcome) String() string {
	switch o {
	case Inserted:
		return "inserted"
	case Updated:
		return "updated"
	case Unchanged:
		return "unchanged"
	}
	return "none"
}

// MergeOptions shape a merge.
type MergeOptions struct {
	// On names the conflict key: the columns of the primary key or of a
	// unique constraint, or the name of one such constraint. Empty: the
	// primary key.
	On []string
	// Columns are the columns written when a row exists and compared to
	// tell Updated from Unchanged. Empty: every column but the key columns,
	// the primary key, the version column, the record-status columns and
	// the columns with a database default. An update also advances the
	// version and modified_at. A new row gets every column but those with a default that
	// are not named here (the database fills them).
	Columns []string
}

// MergeResult reports a merge: the outcome of each input row, in input
// order, and the totals.
type MergeResult struct {
	Outcomes                     []Outcome
	Inserted, Updated, Unchanged int
}

// ErrDuplicateInput is returned when the rows of one merge share a key.
var ErrDuplicateInput = errors.New("repo: merge input has two rows with the same key")

// maxParams is PostgreSQL's limit on bind parameters in one statement.
const maxBindParams = 65535

// mergePlan is the resolved shape of a merge.
type mergePlan struct {
	key    *model.Constraint
	insert []*model.Column // inserted columns, in table order
	update []*model.Column // written on conflict and compared
	// deleted is the is_deleted column of a soft-deleting table, unless
	// the merge writes it: a row that hits a soft-deleted row is then
	// neither updated nor reported unchanged, but an error.
	deleted *model.Column
	// bits, by column ordinal, is the bit of the statement's change mask
	// for an inserted column whose value reads back exactly as written
	// (see exactColumn), or -1. Such a column is sent back only when the
	// row holds something else than the input (a trigger, a key equal
	// but not identical, an existing row's value), so the common row
	// sends and scans only what the database made. Nil: every column
	// is read back.
	bits []int
	// indexable: the key columns allow a keyIndex, so the merge takes the
	// upsert form (see upsertSQL).
	indexable bool
	// sql caches the plan's statements.
	sql syncMap[sqlKey, string]
}

// maxMaskBits is the number of columns one change mask (a bigint) covers.
const maxMaskBits = 63

// exactColumn reports whether c's value reads back exactly as the merge
// wrote it: a plain Go string in a TEXT or VARCHAR column, a plain Go
// integer in an integer column, a plain bool in a BOOLEAN. Other pairs can
// change on the way (time precision, numeric scale, JSON normalization,
// CHAR padding, a domain, methods that encode), so they are always read.
func exactColumn(c *model.Column) bool {
	t := c.GoType
	if c.Enum != nil || t.NumMethod() != 0 || reflect.PointerTo(t).NumMethod() != 0 {
		return false
	}
	switch strings.ToUpper(castType(c.SQLType)) {
	case "TEXT", "VARCHAR", "CHARACTER VARYING":
		return t.Kind() == reflect.String
	case "SMALLINT", "INT2", "INTEGER", "INT", "INT4", "BIGINT", "INT8":
		switch t.Kind() {
		case reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
			return true
		}
	case "BOOLEAN", "BOOL":
		return t.Kind() == reflect.Bool
	}
	return false
}

// exactBits returns mergePlan.bits for the inserted columns insert of
// table t.
func exactBits(t *model.Table, insert []*model.Column) []int {
	bits := make([]int, len(t.Columns))
	n := 0
	for i, c := range t.Columns {
		bits[i] = -1
		if n < maxMaskBits && slices.Contains(insert, c) && exactColumn(c) {
			bits[i] = n
			n++
		}
	}
	return bits
}

func (r *Repository[T]) mergePlan(o MergeOptions) (*mergePlan, error) {
	var key *model.Constraint
	if len(o.On) == 0 {
		key = r.s.table.PrimaryKey
	} else {
		c, err := r.uniqueFor(o.On)
		if err != nil {
			return nil, err
		}
		key = c
	}
	p := &mergePlan{key: key}
	if len(o.Columns) == 0 {
		for _, c := range r.s.table.Columns {
			if !c.Insertable() || c.PrimaryKey || c.Generated() || c == r.s.version || slices.Contains(key.Columns, c) ||
				slices.Contains(r.s.managed, c) {
				continue
			}
			p.update = append(p.update, c)
		}
	} else {
		for _, name := range o.Columns {
			c, ok := r.s.table.Column(name)
			if !ok {
				return nil, &FieldError{Field: name, Err: ErrUnknownField}
			}
			if !c.Insertable() || c.PrimaryKey || c == r.s.version || slices.Contains(key.Columns, c) {
				return nil, &FieldError{Field: name, Err: ErrNotUpdatable, Reason: "a key, version or always-generated column"}
			}
			if !slices.Contains(p.update, c) {
				p.update = append(p.update, c)
			}
		}
	}
	if t := r.s.table; t.SoftDelete && !slices.Contains(p.update, t.DeletedColumn) {
		p.deleted = t.DeletedColumn
	}
	// A new row gets every column but those left to their defaults.
	for _, c := range r.s.table.Columns {
		if slices.Contains(key.Columns, c) || slices.Contains(p.update, c) ||
			(c.Insertable() && !c.Generated()) {
			p.insert = append(p.insert, c)
		}
	}
	p.bits = exactBits(r.s.table, p.insert)
	p.indexable = keyIndexable(key.Columns)
	return p, nil
}

// mergeSQL builds the merge statement reading its rows from input, a
// query or VALUES list with columns (uno_ord, insert columns…).
func (r *Repository[T]) mergeSQL(p *mergePlan, input string) string {
	t := r.s.table
	b := make([]byte, 0, 1024)
	b = append(b, `WITH "uno_input" ("uno_ord", `...)
	b = appendColumns(b, p.insert, "")
	b = append(b, ") AS ("...)
	b = append(b, input...)
	b = append(b, `), "uno_up" AS (INSERT INTO `...)
	b = append(b, t.QualifiedName...)
	b = append(b, ` AS "uno_t" (`...)
	b = appendColumns(b, p.insert, "")
	b = append(b, ") SELECT "...)
	b = appendColumns(b, p.insert, "")
	// Sorted by key so concurrent merges lock rows in one order (no
	// deadlock); text keys byte-wise, which any order serves and which
	// costs less than the database's collation.
	b = append(b, ` FROM "uno_input"`...)
	b = r.appendConflict(b, p)
	b = append(b, ` RETURNING ("uno_t".xmax = 0) AS "uno_inserted", `...)
	b = appendColumns(b, t.Columns, `"uno_t".`)
	b = append(b, `) SELECT "uno_i"."uno_ord", CASE WHEN "uno_u"."uno_inserted" THEN 1 ELSE 2 END, `...)
	b = appendReadBack(b, t.Columns, p.bits, `"uno_u".`)
	b = append(b, ` FROM "uno_input" AS "uno_i" JOIN "uno_up" AS "uno_u" ON `...)
	b = appendKeyMatch(b, p.key.Columns, `"uno_u".`)
	// Input rows the upsert returned nothing for hit an equal row: report
	// them unchanged, with the row as the statement's snapshot shows it
	// (3), or without it when a concurrent transaction committed it after
	// the snapshot was taken (4), or, when the row is soft-deleted, as
	// an error (5). They are found first (an anti-join on the upsert's
	// few returned keys), so the table is read only for them.
	b = append(b, ` UNION ALL SELECT "uno_i"."uno_ord", CASE WHEN "uno_c".`...)
	b = append(b, p.key.Columns[0].QuotedName...)
	b = append(b, ` IS NULL THEN 4 `...)
	if p.deleted != nil {
		b = append(b, `WHEN "uno_c".`...)
		b = append(b, p.deleted.QuotedName...)
		b = append(b, ` THEN 5 `...)
	}
	b = append(b, `ELSE 3 END, `...)
	b = appendReadBack(b, t.Columns, p.bits, `"uno_c".`)
	b = append(b, ` FROM (SELECT * FROM "uno_input" AS "uno_i" WHERE NOT EXISTS (SELECT 1 FROM "uno_up" AS "uno_u" WHERE `...)
	b = appendKeyMatch(b, p.key.Columns, `"uno_u".`)
	b = append(b, `) OFFSET 0) AS "uno_i" LEFT JOIN (SELECT `...)
	b = appendColumns(b, t.Columns, "")
	b = append(b, " FROM "...)
	b = append(b, t.QualifiedName...)
	if p.key.Where != "" {
		b = append(b, " WHERE "...)
		b = append(b, p.key.Where...)
	}
	b = append(b, `) AS "uno_c" ON `...)
	b = appendKeyMatch(b, p.key.Columns, `"uno_c".`)
	return string(b)
}

// appendConflict appends the end of a merge's INSERT … SELECT from its
// input: the input sorted by key, so concurrent merges lock rows in one
// order (no deadlock), text keys byte-wise, which any order serves and
// which costs less than the database's collation; then ON CONFLICT on the
// key, updating a row only when it is not soft-deleted and differs in a
// merged column.
func (r *Repository[T]) appendConflict(b []byte, p *mergePlan) []byte {
	b = append(b, " ORDER BY "...)
	for i, c := range p.key.Columns {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, c.QuotedName...)
		if c.Enum == nil {
			switch strings.ToUpper(castType(c.SQLType)) {
			case "TEXT", "VARCHAR", "CHARACTER VARYING", "BPCHAR":
				b = append(b, ` COLLATE "C"`...)
			}
		}
	}
	b = append(b, " ON CONFLICT ("...)
	b = appendColumns(b, p.key.Columns, "")
	b = append(b, ')')
	if p.key.Where != "" {
		b = append(b, " WHERE "...)
		b = append(b, p.key.Where...)
	}
	if len(p.update) == 0 {
		return append(b, " DO NOTHING"...)
	}
	b = append(b, " DO UPDATE SET "...)
	for i, c := range p.update {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, c.QuotedName...)
		b = append(b, " = EXCLUDED."...)
		b = append(b, c.QuotedName...)
	}
	b = r.s.appendAutoSet(b, p.update, true, `"uno_t".`)
	b = append(b, " WHERE "...)
	if p.deleted != nil {
		b = append(b, `NOT "uno_t".`...)
		b = append(b, p.deleted.QuotedName...)
		b = append(b, " AND "...)
	}
	b = append(b, '(')
	b = appendColumns(b, p.update, `"uno_t".`)
	b = append(b, ") IS DISTINCT FROM ("...)
	b = appendColumns(b, p.update, "EXCLUDED.")
	return append(b, ')')
}

// upsertSQL builds the upsert form of a merge of n rows: one INSERT …
// ON CONFLICT from a VALUES list (no ordinal, no CTE), which returns
// whether each written row was inserted (xmax = 0) and the row. Unchanged
// rows return nothing; the caller finds the input row of each returned
// one by its key (keyIndex) and reads the unchanged ones with refetchSQL.
func (r *Repository[T]) upsertSQL(p *mergePlan, n int) string {
	t := r.s.table
	values := valuesInput(p.insert, n, false)
	b := make([]byte, 0, 512+len(values))
	b = append(b, "INSERT INTO "...)
	b = append(b, t.QualifiedName...)
	b = append(b, ` AS "uno_t" (`...)
	b = appendColumns(b, p.insert, "")
	b = append(b, ") SELECT * FROM ("...)
	b = append(b, values...)
	b = append(b, `) AS "uno_i" (`...)
	b = appendColumns(b, p.insert, "")
	b = append(b, ')')
	b = r.appendConflict(b, p)
	b = append(b, ` RETURNING ("uno_t".xmax = 0), `...)
	b = appendColumns(b, t.Columns, `"uno_t".`)
	return string(b)
}

// refetchSQL reads the rows of the given keys (one array parameter per key
// column): the rows an upsert left unchanged.
func (r *Repository[T]) refetchSQL(p *mergePlan) string {
	t := r.s.table
	b := make([]byte, 0, 256)
	b = append(b, "SELECT "...)
	b = appendColumns(b, t.Columns, "")
	b = append(b, " FROM "...)
	b = append(b, t.QualifiedName...)
	b = append(b, " WHERE "...)
	if len(p.key.Columns) == 1 {
		c := p.key.Columns[0]
		b = append(b, c.QuotedName...)
		b = append(b, " = ANY($1::"...)
		b = append(b, paramType(c)...)
		b = append(b, "[])"...)
	} else {
		b = append(b, '(')
		b = appendColumns(b, p.key.Columns, "")
		b = append(b, ") IN (SELECT * FROM unnest("...)
		for i, c := range p.key.Columns {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendParam(b, i+1)
			b = append(b, "::"...)
			b = append(b, paramType(c)...)
			b = append(b, "[]"...)
		}
		b = append(b, "))"...)
	}
	if p.key.Where != "" {
		b = append(b, " AND ("...)
		b = append(b, p.key.Where...)
		b = append(b, ')')
	}
	return string(b)
}

// Action codes of a merge statement's rows.
const (
	actInserted  = 1
	actUpdated   = 2
	actUnchanged = 3 // unchanged, the row as the snapshot shows it
	actLate      = 4 // unchanged, committed after the snapshot: not read
	actDeleted   = 5 // the key belongs to a soft-deleted row
)

// appendReadBack appends the change mask and the read-back columns of a
// merge statement's row, the table's row being src ("uno_u". or
// "uno_c.") and the input "uno_i": a column with a mask bit is sent only
// when the row holds something else than the input (compared byte for
// byte, COLLATE "C"), its bit then set; the others are sent as they are.
func appendReadBack(b []byte, cols []*model.Column, bits []int, src string) []byte {
	distinct := func(b []byte, c *model.Column) []byte {
		b = append(b, src...)
		b = append(b, c.QuotedName...)
		if c.GoType.Kind() == reflect.String {
			b = append(b, ` COLLATE "C"`...)
		}
		b = append(b, ` IS DISTINCT FROM "uno_i".`...)
		b = append(b, c.QuotedName...)
		if c.GoType.Kind() == reflect.String {
			b = append(b, ` COLLATE "C"`...)
		}
		return b
	}
	b = append(b, "(0"...)
	for _, c := range cols {
		if bits == nil || bits[c.Ordinal] < 0 {
			continue
		}
		b = append(b, " + CASE WHEN "...)
		b = distinct(b, c)
		b = append(b, " THEN "...)
		b = strconv.AppendInt(b, 1<<bits[c.Ordinal], 10)
		b = append(b, " ELSE 0 END"...)
	}
	b = append(b, ")::bigint"...)
	for _, c := range cols {
		b = append(b, ", "...)
		if bits == nil || bits[c.Ordinal] < 0 {
			b = append(b, src...)
			b = append(b, c.QuotedName...)
			continue
		}
		b = append(b, "CASE WHEN "...)
		b = distinct(b, c)
		b = append(b, " THEN "...)
		b = append(b, src...)
		b = append(b, c.QuotedName...)
		b = append(b, " END"...)
	}
	return b
}

// maxCachedMergeRows bounds the merge statements kept: larger inputs build
// theirs each time (their cost is small next to the rows').
const maxCachedMergeRows = 1000

// maxCachedPlans bounds the merge plans a repository keeps (one per set of
// options it is called with); past it, plans are made on each call.
const maxCachedPlans = 32

// planEntry is a cached merge plan and the options it was made for.
type planEntry struct {
	on, columns []string
	p           *mergePlan
}

// cachedPlan returns the merge plan of o, made once per options: making
// it classifies every column, which cost a merge dozens of allocations.
func (r *Repository[T]) cachedPlan(o MergeOptions) (*mergePlan, error) {
	if l := r.s.mergePlans.Load(); l != nil {
		for _, e := range *l {
			if slices.Equal(e.on, o.On) && slices.Equal(e.columns, o.Columns) {
				return e.p, nil
			}
		}
	}
	p, err := r.mergePlan(o)
	if err != nil {
		return nil, err
	}
	for {
		old := r.s.mergePlans.Load()
		var l []planEntry
		if old != nil {
			if len(*old) >= maxCachedPlans {
				return p, nil
			}
			l = append(l, *old...)
		}
		l = append(l, planEntry{on: slices.Clone(o.On), columns: slices.Clone(o.Columns), p: p})
		if r.s.mergePlans.CompareAndSwap(old, &l) {
			return p, nil
		}
	}
}

// mergeForm tells the statements of a merge apart.
type mergeForm uint8

const (
	formMerge   mergeForm = iota // mergeSQL: outcomes and rows of every input row
	formUpsert                   // upsertSQL: the rows written
	formRefetch                  // refetchSQL: the rows left unchanged
)

// sqlKey identifies a statement of a plan: its form and number of rows.
type sqlKey struct {
	form mergeForm
	rows int
}

// cachedSQL returns p's statement of form for n input rows, building it
// once: it is long, and building it on every call showed in the
// benchmarks.
func (r *Repository[T]) cachedSQL(p *mergePlan, form mergeForm, n int) string {
	if form == formRefetch {
		n = 0
	}
	build := func() string {
		switch form {
		case formUpsert:
			return r.upsertSQL(p, n)
		case formRefetch:
			return r.refetchSQL(p)
		}
		return r.mergeSQL(p, valuesInput(p.insert, n, true))
	}
	if n > maxCachedMergeRows {
		return build()
	}
	k := sqlKey{form: form, rows: n}
	if q, ok := p.sql.Load(k); ok {
		return q
	}
	q := build()
	p.sql.Store(k, q)
	return q
}

// appendKeyMatch appends "uno_i".k = <other>k AND … for the key columns.
func appendKeyMatch(b []byte, cols []*model.Column, other string) []byte {
	for i, c := range cols {
		if i > 0 {
			b = append(b, " AND "...)
		}
		b = append(b, `"uno_i".`...)
		b = append(b, c.QuotedName...)
		b = append(b, " = "...)
		b = append(b, other...)
		b = append(b, c.QuotedName...)
	}
	return b
}

// valuesInput builds a VALUES list of n rows with typed parameters
// starting at $1, each row led by a bigint ordinal when ord. Each
// parameter is cast to its column's type without the type modifier
// (castType), so an over-long string or an over-precise number reaches
// the INSERT, which rejects it (22001, 22003), instead of being cut to fit
// before the conflict key is compared.
func valuesInput(cols []*model.Column, n int, ord bool) string {
	b := make([]byte, 0, n*(16+16*len(cols)))
	b = append(b, "VALUES "...)
	p := 1
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '(')
		if ord {
			b = appendParam(b, p)
			b = append(b, "::bigint"...)
			p++
		}
		for j, c := range cols {
			if ord || j > 0 {
				b = append(b, ", "...)
			}
			b = appendParam(b, p)
			b = append(b, "::"...)
			b = append(b, paramType(c)...)
			p++
		}
		b = append(b, ')')
	}
	return string(b)
}

// checkDuplicates reports a NULL key value, and rows sharing a key when
// key values can be compared in Go.
func checkDuplicates(rows []model.Row, key []*model.Column) error {
	for i, row := range rows {
		for _, c := range key {
			if c.GoType.Kind() == reflect.Pointer && row.Value(c) == nil {
				return &FieldError{Field: c.Name, Err: ErrBadValue, Reason: fmt.Sprintf("row %d: a merge key cannot be NULL", i)}
			}
		}
	}
	if len(rows) < 2 || len(key) > 4 {
		return nil
	}
	// The common case, one string key, without copying values.
	if _, ok := rows[0].String(key[0]); ok && len(key) == 1 {
		seen := make(map[string]int, len(rows))
		for i, row := range rows {
			k, _ := row.String(key[0])
			if prev, ok := seen[k]; ok {
				return fmt.Errorf("%w: rows %d and %d", ErrDuplicateInput, prev, i)
			}
			seen[k] = i
		}
		return nil
	}
	seen := make(map[[4]any]int, len(rows))
	for i, row := range rows {
		var k [4]any
		for j, c := range key {
			val := row.Value(c)
			if v := reflect.ValueOf(val); !v.Comparable() || !v.Type().Comparable() {
				return nil
			}
			k[j] = val
		}
		if prev, ok := seen[k]; ok {
			return fmt.Errorf("%w: rows %d and %d", ErrDuplicateInput, prev, i)
		}
		seen[k] = i
	}
	return nil
}

// Merge inserts or updates rows on the primary key or on the unique key
// opts.On, and reports for each row whether it was inserted, updated, or
// left unchanged because every merged column already held the same value.
// Unchanged rows are not rewritten: no new row version, no trigger,
// modified_at untouched. Every row is filled back from the table.
//
// When the key's columns are plain Go strings in TEXT or VARCHAR columns
// without a collation of their own, or plain Go integers (as most natural
// and generated keys are), the merge is one INSERT … ON CONFLICT that
// returns the rows it wrote, so a merge whose rows are all new or changed
// takes one statement; when some rows are unchanged, a second statement
// reads them by key (in the merge's transaction when there is one, else
// just after: a row changed in between is read as it then is, one deleted
// in between is left as given). A key value longer than its VARCHAR(n)
// column by spaces alone is cut to n characters, as the database stores
// it. Other keys take one statement that also reads the unchanged rows, as
// its snapshot shows them (one committed by a concurrent transaction after
// the snapshot was taken is left as given).
//
// Two rows with the same key are an error (ErrDuplicateInput).
func (r *Repository[T]) Merge(ctx context.Context, rows []T, opts MergeOptions) (MergeResult, error) {
	res, err := r.merge(ctx, r.s.rowsOf(rows), opts)
	return res, r.errorf("merge", err)
}

// MergeOne merges one row; see Merge.
func (r *Repository[T]) MergeOne(ctx context.Context, v *T, opts MergeOptions) (Outcome, error) {
	if v == nil {
		return 0, r.errorf("merge", errNilValue)
	}
	res, err := r.merge(ctx, []model.Row{r.s.row(v)}, opts)
	if err != nil {
		return 0, r.errorf("merge", err)
	}
	return res.Outcomes[0], nil
}

func (r *Repository[T]) merge(ctx context.Context, rows []model.Row, opts MergeOptions) (MergeResult, error) {
	if len(rows) == 0 {
		return MergeResult{Outcomes: []Outcome{}}, nil
	}
	p, err := r.cachedPlan(opts)
	if err != nil {
		return MergeResult{Outcomes: make([]Outcome, len(rows))}, err
	}
	if err := r.stampTenants(ctx, rows); err != nil {
		return MergeResult{Outcomes: make([]Outcome, len(rows))}, err
	}
	if p.indexable {
		fitKeys(p.key.Columns, rows)
		return r.upsert(ctx, rows, p)
	}
	res := MergeResult{Outcomes: make([]Outcome, len(rows))}
	if err := checkDuplicates(rows, p.key.Columns); err != nil {
		return res, err
	}
	per := 1 + len(p.insert)
	chunk := maxBindParams / per
	refs := argRefs(r.s.db, p.insert)
	var batch pgx.Batch
	for start := 0; start < len(rows); start += chunk {
		end := min(start+chunk, len(rows))
		q := r.cachedSQL(p, formMerge, end-start)
		args := make([]any, 0, (end-start)*per)
		for i := start; i < end; i++ {
			args = append(args, int64(i))
			for j, c := range p.insert {
				args = appendArg(args, rows[i], c, refs != nil && refs[j])
			}
		}
		batch.Queue(q, args...)
	}
	fn := func(ctx context.Context, db engine.Querier) error {
		if batch.Len() == 1 {
			q, err := db.Query(ctx, batch.QueuedQueries[0].SQL, batch.QueuedQueries[0].Arguments...)
			if err != nil {
				return err
			}
			return r.readMerge(q, p, rows, &res)
		}
		br := db.SendBatch(ctx, &batch)
		for range batch.Len() {
			q, err := br.Query()
			if err != nil {
				br.Close()
				return err
			}
			if err := r.readMerge(q, p, rows, &res); err != nil {
				br.Close()
				return err
			}
		}
		return br.Close()
	}
	// A row on a soft-deleted row fails the merge after the statement ran:
	// in a transaction, so the other rows are undone with it.
	if batch.Len() == 1 && p.deleted == nil {
		err = r.run(ctx, true, fn)
	} else {
		err = r.inTx(ctx, fn)
	}
	if err != nil {
		return MergeResult{Outcomes: make([]Outcome, len(rows))}, r.mergeError(err)
	}
	return res, nil
}

// upsert is merge in the upsert form, for a key a keyIndex serves: one
// INSERT … ON CONFLICT per chunk of rows, returning the rows it wrote, each
// matched to its input row by key; then, only when some rows were not
// written (they were unchanged, or soft-deleted), one read of those rows by
// key. The common merge, whose rows are all new or changed, so costs one
// statement no heavier than a hand-written upsert that returns its rows.
//
// The read of the unchanged rows sees them as they are after the upsert:
// in the same transaction when there is one (a caller's, or the one the
// merge opens for several chunks or a soft-deleting table, which makes a
// soft-deleted row an error that undoes the merge), else as committed.
func (r *Repository[T]) upsert(ctx context.Context, rows []model.Row, p *mergePlan) (MergeResult, error) {
	keys, err := getKeyIndex(p.key.Columns, rows)
	if err != nil {
		return MergeResult{Outcomes: make([]Outcome, len(rows))}, err
	}
	defer keys.release()
	u := &upsertRun[T]{r: r, p: p, rows: rows, keys: keys, outcomes: make([]Outcome, len(rows)),
		kinds: rawKindsOf(r.s.table), dst: make([]any, 1+len(r.s.table.Columns))}
	per := len(p.insert)
	chunk := maxBindParams / per
	refs := argRefs(r.s.db, p.insert)
	for start := 0; start < len(rows); start += chunk {
		end := min(start+chunk, len(rows))
		args := make([]any, 0, (end-start)*per)
		for i := start; i < end; i++ {
			for j, c := range p.insert {
				args = appendArg(args, rows[i], c, refs != nil && refs[j])
			}
		}
		if start == 0 && end == len(rows) {
			u.sql, u.args = r.cachedSQL(p, formUpsert, end-start), args
		} else {
			u.batch.Queue(r.cachedSQL(p, formUpsert, end-start), args...)
		}
	}
	if u.batch.Len() == 0 && p.deleted == nil {
		err = r.run1(ctx, true, u.written)
		if err == nil && slices.Contains(u.outcomes, 0) {
			err = r.run1(ctx, true, u.unchanged)
		}
	} else {
		err = r.inTx(ctx, u.both)
	}
	if err != nil {
		return MergeResult{Outcomes: make([]Outcome, len(rows))}, r.mergeError(err)
	}
	res := MergeResult{Outcomes: u.outcomes}
	for i, o := range res.Outcomes {
		switch o {
		case Inserted:
			res.Inserted++
		case Updated:
			res.Updated++
		default:
			// Not written: unchanged, read back or (committed after the
			// upsert's snapshot, or its key changed by a trigger) not.
			res.Outcomes[i] = Unchanged
			res.Unchanged++
		}
	}
	return res, nil
}

// upsertRun is the state of one upsert.
type upsertRun[T any] struct {
	r        *Repository[T]
	p        *mergePlan
	rows     []model.Row
	keys     *keyIndex
	outcomes []Outcome
	kinds    []rawKind
	dst      []any
	sql      string    // the statement when the rows fit one
	args     []any     // its arguments
	batch    pgx.Batch // else one statement per chunk
}

// written runs the upsert statements and reads the rows they return.
func (u *upsertRun[T]) written(ctx context.Context, db engine.Querier) error {
	if u.batch.Len() == 0 {
		q, err := db.Query(ctx, u.sql, u.args...)
		if err != nil {
			return err
		}
		return readUpsert(q, u.kinds, u.keys, u.rows, u.outcomes, u.dst)
	}
	br := db.SendBatch(ctx, &u.batch)
	for range u.batch.Len() {
		q, err := br.Query()
		if err == nil {
			err = readUpsert(q, u.kinds, u.keys, u.rows, u.outcomes, u.dst)
		}
		if err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}

// unchanged reads the rows the upsert did not write.
func (u *upsertRun[T]) unchanged(ctx context.Context, db engine.Querier) error {
	var left []int
	for i, o := range u.outcomes {
		if o == 0 {
			left = append(left, i)
		}
	}
	if len(left) == 0 {
		return nil
	}
	q, err := db.Query(ctx, u.r.cachedSQL(u.p, formRefetch, 0), u.keys.keyArrays(u.rows, left)...)
	if err != nil {
		return err
	}
	return readUnchanged(q, u.kinds, u.keys, u.p.deleted, u.rows, u.outcomes, u.dst[1:])
}

// both is written then unchanged, for one transaction.
func (u *upsertRun[T]) both(ctx context.Context, db engine.Querier) error {
	if err := u.written(ctx, db); err != nil {
		return err
	}
	return u.unchanged(ctx, db)
}

// readUpsert reads the rows an upsert statement returned (inserted or not,
// then the row) into their input rows, found by key, and their outcomes.
// A returned row whose key no input row has (a trigger changed it) is
// skipped: its input row is read as an unchanged one.
func readUpsert(q pgx.Rows, kinds []rawKind, keys *keyIndex, rows []model.Row, outcomes []Outcome, dst []any) error {
	defer q.Close()
	for q.Next() {
		fds, raw := q.FieldDescriptions(), q.RawValues()
		i, ok := keys.lookup(fds, raw, 1)
		if !ok {
			continue
		}
		if outcomes[i] != 0 {
			return fmt.Errorf("merge returned row %d twice", i)
		}
		inserted, ok := decodeBool(fds[0].Format, raw[0])
		if !ok {
			return errors.New("merge returned no action")
		}
		outcomes[i] = Updated
		if inserted {
			outcomes[i] = Inserted
		}
		if err := fillRow(q, fds, raw, 1, kinds, rows[i], dst); err != nil {
			return err
		}
	}
	return q.Err()
}

// readUnchanged reads the rows of refetchSQL into their input rows. A row
// soft-deleted (deleted is set and true) is an error: the upsert left it
// alone, and the merge must not report it unchanged.
func readUnchanged(q pgx.Rows, kinds []rawKind, keys *keyIndex, deleted *model.Column, rows []model.Row, outcomes []Outcome, dst []any) error {
	defer q.Close()
	for q.Next() {
		fds, raw := q.FieldDescriptions(), q.RawValues()
		i, ok := keys.lookup(fds, raw, 0)
		if !ok || outcomes[i] != 0 {
			continue
		}
		if deleted != nil {
			if d, _ := decodeBool(fds[deleted.Ordinal].Format, raw[deleted.Ordinal]); d {
				return fmt.Errorf("%w: row %d: its key belongs to a deleted row", dberr.ErrConflict, i)
			}
		}
		outcomes[i] = Unchanged
		if err := fillRow(q, fds, raw, 0, kinds, rows[i], dst); err != nil {
			return err
		}
	}
	return q.Err()
}

// mergeError explains a cardinality violation (two input rows on one
// existing row, when Go could not compare the keys).
func (r *Repository[T]) mergeError(err error) error {
	if dberr.Code(err) == "21000" {
		return fmt.Errorf("%w: %w", ErrDuplicateInput, err)
	}
	return err
}

// readMerge reads the rows of a merge statement into rows and res: for
// each, its input position, its action, its change mask, then the columns
// read back, of which a column with a mask bit is scanned only when its
// bit is set (else the field already holds the row's value).
func (r *Repository[T]) readMerge(q pgx.Rows, p *mergePlan, rows []model.Row, res *MergeResult) error {
	defer q.Close()
	n := len(r.s.table.Columns)
	head := make([]any, 3+n)
	dst := make([]any, 3, 3+n)
	var ord, act, mask int64
	head[0], head[1], head[2] = &ord, &act, &mask
	for q.Next() {
		if err := q.Scan(head...); err != nil {
			return err
		}
		if ord < 0 || ord >= int64(len(rows)) {
			return fmt.Errorf("merge returned row %d of %d", ord, len(rows))
		}
		switch act {
		case actDeleted:
			return fmt.Errorf("%w: row %d: its key belongs to a deleted row", dberr.ErrConflict, ord)
		case actLate:
			res.Outcomes[ord] = Unchanged
			res.Unchanged++
			continue
		case actUnchanged:
			res.Outcomes[ord] = Unchanged
			res.Unchanged++
		case actInserted:
			res.Outcomes[ord] = Inserted
			res.Inserted++
		case actUpdated:
			res.Outcomes[ord] = Updated
			res.Updated++
		default:
			return fmt.Errorf("merge returned action %d", act)
		}
		d := rows[ord].AppendAddrs(dst[:3])
		if p.bits != nil {
			for i, bit := range p.bits {
				if bit >= 0 && mask&(1<<bit) == 0 {
					d[3+i] = nil
				}
			}
		}
		if err := q.Scan(d...); err != nil {
			return err
		}
	}
	return q.Err()
}

// stageSeq numbers staging tables so several bulk merges can share a
// transaction.
var stageSeq atomic.Uint64

// MergeCopy is Merge for large inputs: it streams rows with COPY into a
// staging table local to the transaction (ON COMMIT DROP) and merges from
// it in one statement, with the same per-row outcomes. It runs in ctx's
// transaction, or in one of its own.
func (r *Repository[T]) MergeCopy(ctx context.Context, rows []T, opts MergeOptions) (MergeResult, error) {
	res := MergeResult{Outcomes: make([]Outcome, len(rows))}
	if len(rows) == 0 {
		return res, nil
	}
	p, err := r.mergePlan(opts)
	if err != nil {
		return res, r.errorf("merge", err)
	}
	// The staging table's columns carry the table's type modifiers, so a
	// value COPY fitted to them (a VARCHAR's trailing spaces) would
	// compare equal to the row while the struct still differs: every
	// column is read back. (The plan is MergeCopy's own, not a cached
	// one.)
	p.bits = nil
	addrs := r.s.rowsOf(rows)
	if err := r.stampTenants(ctx, addrs); err != nil {
		return res, r.errorf("merge", err)
	}
	if err := checkDuplicates(addrs, p.key.Columns); err != nil {
		return res, r.errorf("merge", err)
	}
	stage := "uno_stage_" + strconv.FormatUint(stageSeq.Add(1), 10)
	names := make([]string, 0, 1+len(p.insert))
	names = append(names, "uno_ord")
	for _, c := range p.insert {
		names = append(names, c.Name)
	}
	create := `CREATE TEMP TABLE "` + stage + `" ON COMMIT DROP AS SELECT 0::bigint AS "uno_ord", ` +
		string(appendColumns(nil, p.insert, "")) + " FROM " + r.s.table.QualifiedName + " WITH NO DATA"
	input := `SELECT "uno_ord", ` + string(appendColumns(nil, p.insert, "")) + ` FROM "` + stage + `"`
	q := r.mergeSQL(p, input)
	err = r.inTx(ctx, func(ctx context.Context, db engine.Querier) error {
		if _, err := db.Exec(ctx, create); err != nil {
			return err
		}
		src := newCopySource(len(rows), 1, p.insert, func(i int) model.Row { return addrs[i] })
		if _, err := db.CopyFrom(ctx, pgx.Identifier{stage}, names, src); err != nil {
			return err
		}
		rs, err := db.Query(ctx, q)
		if err != nil {
			return err
		}
		if err := r.readMerge(rs, p, addrs, &res); err != nil {
			return err
		}
		_, err = db.Exec(ctx, `DROP TABLE "`+stage+`"`)
		return err
	})
	if err != nil {
		return MergeResult{Outcomes: make([]Outcome, len(rows))}, r.errorf("merge", r.mergeError(err))
	}
	return res, nil
}

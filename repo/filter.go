package repo

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

// Errors about the fields, lookups and values of a filter, a key or an
// update, each returned inside a *FieldError naming what was wrong. All are
// the caller's mistakes, fit for an HTTP 400; none reaches the database.
var (
	ErrUnknownField  = errors.New("repo: unknown field")
	ErrUnknownLookup = errors.New("repo: unknown lookup")
	ErrLookupType    = errors.New("repo: lookup does not fit the column type")
	ErrBadValue      = errors.New("repo: bad value")
	ErrBadLimit      = errors.New("repo: bad limit or offset")
	ErrBadOrder      = errors.New("repo: bad order")
	ErrBadCursor     = errors.New("repo: bad cursor")
	ErrNotUpdatable  = errors.New("repo: column cannot be updated")
	ErrBadKey        = errors.New("repo: bad key")
	ErrNoUniqueKey   = errors.New("repo: no unique key over the columns")
	errNilValue      = errors.New("nil value")
)

// FieldError reports a bad field name, lookup or value, with what the
// caller gave. Its message quotes the input (cut to 64 bytes).
type FieldError struct {
	Param  string // the query-string parameter, when parsed from one
	Field  string // the field (column) name as given
	Lookup string // the lookup as given
	Value  string // the value as given, when it is the problem
	Err    error  // one of ErrUnknownField, ErrUnknownLookup, ErrLookupType, ErrBadValue, …
	Reason string // details, such as the parse error
}

// Error describes the problem.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("repo: bad input")
	}
	if e.Field != "" {
		fmt.Fprintf(&b, " %q", cut(e.Field))
	}
	if e.Lookup != "" {
		fmt.Fprintf(&b, " lookup %q", cut(e.Lookup))
	}
	if e.Value != "" {
		fmt.Fprintf(&b, " value %q", cut(e.Value))
	}
	if e.Param != "" && e.Field == "" {
		fmt.Fprintf(&b, " parameter %q", cut(e.Param))
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

func cut(s string) string {
	if len(s) <= 64 {
		return s
	}
	i := 64
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}

// Lookups, uno's filter operators. Which apply depends on the column type:
//
//	text:     equal not_equal null not_null contains i_contains not_contains
//	          not_i_contains starts_with i_starts_with ends_with i_ends_with
//	          in not_in
//	numbers:  equal not_equal null not_null gt gte lt lte in not_in range
//	times:    equal not_equal null not_null after at_or_after before
//	          at_or_before in not_in range
//	booleans: equal not_equal null not_null
//	other:    equal not_equal null not_null (uuid also in, not_in)
const (
	LookupEqual        = "equal"
	LookupNotEqual     = "not_equal"
	LookupNull         = "null"
	LookupNotNull      = "not_null"
	LookupContains     = "contains"
	LookupIContains    = "i_contains"
	LookupNotContains  = "not_contains"
	LookupNotIContains = "not_i_contains"
	LookupStartsWith   = "starts_with"
	LookupIStartsWith  = "i_starts_with"
	LookupEndsWith     = "ends_with"
	LookupIEndsWith    = "i_ends_with"
	LookupIn           = "in"
	LookupNotIn        = "not_in"
	LookupGT           = "gt"
	LookupGTE          = "gte"
	LookupLT           = "lt"
	LookupLTE          = "lte"
	LookupAfter        = "after"
	LookupAtOrAfter    = "at_or_after"
	LookupBefore       = "before"
	LookupAtOrBefore   = "at_or_before"
	LookupRange        = "range"
)

// kind is a column's lookup family.
type kind uint8

const (
	kindOther kind = iota
	kindText
	kindNumber
	kindTime
	kindBool
	kindUUID
)

func (k kind) String() string {
	return [...]string{"other", "text", "number", "time", "boolean", "uuid"}[k]
}

var lookupKinds = map[string][]kind{
	LookupEqual:        {kindOther, kindText, kindNumber, kindTime, kindBool, kindUUID},
	LookupNotEqual:     {kindOther, kindText, kindNumber, kindTime, kindBool, kindUUID},
	LookupNull:         {kindOther, kindText, kindNumber, kindTime, kindBool, kindUUID},
	LookupNotNull:      {kindOther, kindText, kindNumber, kindTime, kindBool, kindUUID},
	LookupContains:     {kindText},
	LookupIContains:    {kindText},
	LookupNotContains:  {kindText},
	LookupNotIContains: {kindText},
	LookupStartsWith:   {kindText},
	LookupIStartsWith:  {kindText},
	LookupEndsWith:     {kindText},
	LookupIEndsWith:    {kindText},
	LookupIn:           {kindText, kindNumber, kindTime, kindUUID},
	LookupNotIn:        {kindText, kindNumber, kindTime, kindUUID},
	LookupGT:           {kindNumber},
	LookupGTE:          {kindNumber},
	LookupLT:           {kindNumber},
	LookupLTE:          {kindNumber},
	LookupAfter:        {kindTime},
	LookupAtOrAfter:    {kindTime},
	LookupBefore:       {kindTime},
	LookupAtOrBefore:   {kindTime},
	LookupRange:        {kindNumber, kindTime},
}

// columnKind classifies a column by its SQL type.
func columnKind(c *model.Column) kind {
	t := strings.ToUpper(c.SQLType)
	switch {
	case strings.HasSuffix(t, "]"), strings.HasPrefix(t, "INTERVAL"):
		return kindOther
	case c.Enum != nil:
		return kindText
	case strings.HasPrefix(t, "VARCHAR"), strings.HasPrefix(t, "TEXT"), strings.HasPrefix(t, "CHAR"),
		strings.HasPrefix(t, "CITEXT"):
		return kindText
	case strings.HasPrefix(t, "BIGINT"), strings.HasPrefix(t, "INT"), strings.HasPrefix(t, "SMALLINT"),
		strings.HasPrefix(t, "NUMERIC"), strings.HasPrefix(t, "DECIMAL"), strings.HasPrefix(t, "DOUBLE"),
		strings.HasPrefix(t, "REAL"), strings.HasPrefix(t, "FLOAT"), strings.HasPrefix(t, "SERIAL"),
		strings.HasPrefix(t, "BIGSERIAL"):
		return kindNumber
	case strings.HasPrefix(t, "TIMESTAMP"), t == "DATE", strings.HasPrefix(t, "TIME"):
		return kindTime
	case t == "BOOLEAN", t == "BOOL":
		return kindBool
	case t == "UUID":
		return kindUUID
	}
	return kindOther
}

// Eq maps column names to values for GetBy: every column must equal its
// value (a nil value matches NULL).
type Eq map[string]any

func sortedKeys(m Eq) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Cond is one condition of a Filter: Field (a column name) compared by
// Lookup with Value. Value is a bind parameter of the column's type: a
// single value, a slice for in and not_in, a Range for range, and nothing
// for null and not_null.
type Cond struct {
	Field  string
	Lookup string // empty means equal
	Value  any
}

// Range is the value of the range lookup: From <= column <= To.
type Range struct{ From, To any }

// Order is one ORDER BY term.
type Order struct {
	Field string
	Desc  bool
}

// Filter selects rows: every condition must hold (AND). Results come in
// Order, then by primary key, so pages are stable.
type Filter struct {
	Where   []Cond
	OrderBy []Order
	// Limit is the page size: 0 takes Options.DefaultLimit (25); more than
	// Options.MaxLimit is an error. Stream ignores it unless it is set.
	Limit  int
	Offset int
	// After is a keyset cursor: the values of the order columns (OrderBy,
	// then the primary key columns not in it) of the last row of the
	// previous page, as Repository.Cursor returns them. Rows after it come
	// next. Order columns must be NOT NULL.
	After []any
	// WithDeleted includes soft-deleted rows.
	WithDeleted bool
}

// Filter returns the rows matching f, one page of them.
func (r *Repository[T]) Filter(ctx context.Context, f Filter) ([]T, error) {
	q, args, err := r.buildSelect(f, false)
	if err != nil {
		return nil, r.errorf("filter", err)
	}
	var out []T
	err = r.run1(ctx, false, func(ctx context.Context, db engine.Querier) error {
		out = out[:0]
		rows, err := db.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		var v T
		return scanRows(rows, &v, r.s.addrs(&v), func() bool { out = append(out, v); return true })
	})
	if err != nil {
		return nil, r.errorf("filter", err)
	}
	return out, nil
}

// Count returns how many rows match f's conditions (Limit, Offset, After
// and OrderBy do not apply).
func (r *Repository[T]) Count(ctx context.Context, f Filter) (int64, error) {
	f.OrderBy, f.After, f.Limit, f.Offset = nil, nil, 0, 0
	where, args, err := r.buildWhere(nil, f, nil)
	if err != nil {
		return 0, r.errorf("count", err)
	}
	q := "SELECT count(*) FROM " + r.s.table.QualifiedName + string(where)
	var n int64
	err = r.run1(ctx, false, func(ctx context.Context, db engine.Querier) error {
		return db.QueryRow(ctx, q, args...).Scan(&n)
	})
	return n, r.errorf("count", err)
}

// Cursor returns the keyset cursor of row v for f's order: the values of
// f.OrderBy's columns, then of the primary key columns not among them.
// Put it in the next page's Filter.After.
func (r *Repository[T]) Cursor(f Filter, v *T) ([]any, error) {
	if v == nil {
		return nil, r.errorf("cursor", errNilValue)
	}
	cols, _, err := r.orderColumns(f.OrderBy)
	if err != nil {
		return nil, r.errorf("cursor", err)
	}
	row := r.s.row(v)
	out := make([]any, len(cols))
	for i, c := range cols {
		out[i] = row.Value(c)
	}
	return out, nil
}

// orderColumns resolves the order terms and appends the primary key
// columns not among them.
func (r *Repository[T]) orderColumns(order []Order) ([]*model.Column, []bool, error) {
	cols := make([]*model.Column, 0, len(order)+len(r.s.pk))
	desc := make([]bool, 0, len(order)+len(r.s.pk))
	for _, o := range order {
		c, ok := r.s.table.Column(o.Field)
		if !ok {
			return nil, nil, &FieldError{Field: o.Field, Err: ErrUnknownField}
		}
		if columnKind(c) == kindOther && c.SQLType != "BYTEA" {
			return nil, nil, &FieldError{Field: o.Field, Err: ErrBadOrder, Reason: "column of type " + c.SQLType + " cannot be ordered"}
		}
		if slices.Contains(cols, c) {
			return nil, nil, &FieldError{Field: o.Field, Err: ErrBadOrder, Reason: "ordered twice"}
		}
		cols = append(cols, c)
		desc = append(desc, o.Desc)
	}
	for _, c := range r.s.pk {
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
			desc = append(desc, false)
		}
	}
	return cols, desc, nil
}

// buildSelect builds the SELECT for f: conditions, keyset, order, limit
// and offset. stream drops the default limit.
func (r *Repository[T]) buildSelect(f Filter, stream bool) (string, []any, error) {
	limit := f.Limit
	switch {
	case limit < 0 || limit > r.s.opts.MaxLimit:
		return "", nil, &FieldError{Field: "limit", Value: fmt.Sprint(limit), Err: ErrBadLimit,
			Reason: fmt.Sprintf("must be between 1 and %d", r.s.opts.MaxLimit)}
	case limit == 0 && !stream:
		limit = r.s.opts.DefaultLimit
	}
	if f.Offset < 0 {
		return "", nil, &FieldError{Field: "offset", Value: fmt.Sprint(f.Offset), Err: ErrBadLimit, Reason: "must not be negative"}
	}
	cols, desc, err := r.orderColumns(f.OrderBy)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 0, 256)
	b = append(b, r.s.selectFrom...)
	b, args, err := r.buildWhere(b, f, nil)
	if err != nil {
		return "", nil, err
	}
	if f.After != nil {
		if len(f.After) != len(cols) {
			return "", nil, &FieldError{Field: "after", Err: ErrBadCursor,
				Reason: fmt.Sprintf("%d values for %d order columns", len(f.After), len(cols))}
		}
		for _, c := range cols {
			if c.Nullable {
				return "", nil, &FieldError{Field: c.Name, Err: ErrBadCursor, Reason: "keyset pagination needs NOT NULL order columns"}
			}
		}
		if len(f.Where) == 0 && !r.softFiltered(f) {
			b = append(b, " WHERE "...)
		} else {
			b = append(b, " AND "...)
		}
		// (a > $1) OR (a = $1 AND b > $2) OR …
		b = append(b, '(')
		for i := range cols {
			if i > 0 {
				b = append(b, " OR "...)
			}
			b = append(b, '(')
			for j := 0; j <= i; j++ {
				if j > 0 {
					b = append(b, " AND "...)
				}
				b = append(b, cols[j].QuotedName...)
				switch {
				case j < i:
					b = append(b, " = "...)
				case desc[j]:
					b = append(b, " < "...)
				default:
					b = append(b, " > "...)
				}
				b = appendParam(b, len(args)+j+1)
			}
			b = append(b, ')')
		}
		b = append(b, ')')
		args = append(args, f.After...)
	}
	b = append(b, " ORDER BY "...)
	for i, c := range cols {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, c.QuotedName...)
		if desc[i] {
			b = append(b, " DESC"...)
		}
	}
	// LIMIT and OFFSET are checked integers written as literals, not
	// parameters: a prepared statement's generic plan cannot see a
	// parameter's value, and plans a LIMIT $n as if it were large.
	if limit > 0 {
		b = append(b, " LIMIT "...)
		b = strconv.AppendInt(b, int64(limit), 10)
	}
	if f.Offset > 0 {
		b = append(b, " OFFSET "...)
		b = strconv.AppendInt(b, int64(f.Offset), 10)
	}
	return string(b), args, nil
}

func (r *Repository[T]) softFiltered(f Filter) bool {
	return r.s.table.SoftDelete && !f.WithDeleted && !r.withDeleted
}

// buildWhere appends " WHERE …" for f's conditions (and the soft-delete
// filter) to b, with args.
func (r *Repository[T]) buildWhere(b []byte, f Filter, args []any) ([]byte, []any, error) {
	first := true
	and := func() {
		if first {
			b = append(b, " WHERE "...)
			first = false
		} else {
			b = append(b, " AND "...)
		}
	}
	if r.softFiltered(f) {
		and()
		b = append(b, "NOT "...)
		b = append(b, r.s.table.DeletedColumn.QuotedName...)
	}
	for _, cond := range f.Where {
		c, ok := r.s.table.Column(cond.Field)
		if !ok {
			return nil, nil, &FieldError{Field: cond.Field, Lookup: cond.Lookup, Err: ErrUnknownField}
		}
		lookup := cond.Lookup
		if lookup == "" {
			lookup = LookupEqual
		}
		kinds, ok := lookupKinds[lookup]
		if !ok {
			return nil, nil, &FieldError{Field: cond.Field, Lookup: cond.Lookup, Err: ErrUnknownLookup}
		}
		k := columnKind(c)
		if !slices.Contains(kinds, k) {
			return nil, nil, &FieldError{Field: cond.Field, Lookup: cond.Lookup, Err: ErrLookupType,
				Reason: "column " + c.Name + " is " + k.String()}
		}
		if err := r.checkCondValue(c, k, lookup, cond); err != nil {
			return nil, nil, err
		}
		and()
		var err error
		b, args, err = appendCond(b, args, c, k, lookup, cond)
		if err != nil {
			return nil, nil, err
		}
	}
	return b, args, nil
}

// appendCond appends one condition.
func appendCond(b []byte, args []any, c *model.Column, k kind, lookup string, cond Cond) ([]byte, []any, error) {
	col := c.QuotedName
	param := func() {
		b = appendParam(b, len(args)+1)
	}
	needValue := func() error {
		if cond.Value == nil {
			return &FieldError{Field: cond.Field, Lookup: lookup, Err: ErrBadValue, Reason: "no value"}
		}
		return nil
	}
	switch lookup {
	case LookupNull, LookupNotNull:
		b = append(b, col...)
		if lookup == LookupNull {
			b = append(b, " IS NULL"...)
		} else {
			b = append(b, " IS NOT NULL"...)
		}
		return b, args, nil
	case LookupEqual, LookupNotEqual, LookupGT, LookupGTE, LookupLT, LookupLTE,
		LookupAfter, LookupAtOrAfter, LookupBefore, LookupAtOrBefore:
		if err := needValue(); err != nil {
			return nil, nil, err
		}
		b = append(b, col...)
		b = append(b, map[string]string{
			LookupEqual: " = ", LookupNotEqual: " <> ", LookupGT: " > ", LookupGTE: " >= ",
			LookupLT: " < ", LookupLTE: " <= ", LookupAfter: " > ", LookupAtOrAfter: " >= ",
			LookupBefore: " < ", LookupAtOrBefore: " <= ",
		}[lookup]...)
		param()
		return b, append(args, cond.Value), nil
	case LookupIn, LookupNotIn:
		if err := needValue(); err != nil {
			return nil, nil, err
		}
		rv := reflect.ValueOf(cond.Value)
		if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return nil, nil, &FieldError{Field: cond.Field, Lookup: lookup, Err: ErrBadValue, Reason: "in and not_in take a slice"}
		}
		if lookup == LookupNotIn {
			b = append(b, "NOT ("...)
		}
		b = append(b, col...)
		if c.Enum != nil {
			// pgx sends an enum array only when its type is registered on
			// the connection; compare as text instead.
			b = append(b, "::text = ANY("...)
			param()
			b = append(b, "::text[])"...)
		} else {
			b = append(b, " = ANY("...)
			param()
			// The type without its modifier: a cast to VARCHAR(12)
			// would cut a longer value to one that matches.
			b = append(b, "::"...)
			b = append(b, paramType(c)...)
			b = append(b, "[])"...)
		}
		if lookup == LookupNotIn {
			b = append(b, ')')
		}
		return b, append(args, cond.Value), nil
	case LookupRange:
		rg, ok := cond.Value.(Range)
		if !ok || rg.From == nil || rg.To == nil {
			return nil, nil, &FieldError{Field: cond.Field, Lookup: lookup, Err: ErrBadValue, Reason: "range takes a repo.Range with both bounds"}
		}
		b = append(b, col...)
		b = append(b, " BETWEEN "...)
		param()
		args = append(args, rg.From)
		b = append(b, " AND "...)
		param()
		return b, append(args, rg.To), nil
	}
	// The LIKE family: the value is text, its wildcards escaped.
	s, ok := textValue(cond.Value)
	if !ok {
		return nil, nil, &FieldError{Field: cond.Field, Lookup: lookup, Err: ErrBadValue, Reason: "takes a string"}
	}
	pat := escapeLike(s)
	switch lookup {
	case LookupContains, LookupIContains, LookupNotContains, LookupNotIContains:
		pat = "%" + pat + "%"
	case LookupStartsWith, LookupIStartsWith:
		pat += "%"
	case LookupEndsWith, LookupIEndsWith:
		pat = "%" + pat
	}
	if lookup == LookupNotContains || lookup == LookupNotIContains {
		b = append(b, "NOT ("...)
	}
	b = append(b, col...)
	if c.Enum != nil {
		b = append(b, "::text"...)
	}
	if strings.HasPrefix(lookup, "i_") || lookup == LookupNotIContains {
		b = append(b, " ILIKE "...)
	} else {
		b = append(b, " LIKE "...)
	}
	param()
	b = append(b, ` ESCAPE '\'`...)
	if lookup == LookupNotContains || lookup == LookupNotIContains {
		b = append(b, ')')
	}
	return b, append(args, pat), nil
}

// textValue returns v as a string when it is one (or a named string type).
func textValue(v any) (string, bool) {
	if s, ok := v.(string); ok {
		return s, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.String {
		return rv.String(), true
	}
	return "", false
}

// escapeLike escapes \, % and _ so they match themselves under ESCAPE '\'.
func escapeLike(s string) string {
	if !strings.ContainsAny(s, `\%_`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\', '%', '_':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// checkCondValue checks the values of a condition against column c
// before any SQL: a text value longer than Options.MaxTextValue or than a
// VARCHAR(n) column's n (it cannot match), a decimal a NUMERIC column
// cannot hold.
func (r *Repository[T]) checkCondValue(c *model.Column, k kind, lookup string, cond Cond) error {
	maxLen := r.s.opts.MaxTextValue
	width := varcharWidth(c.SQLType)
	return eachValue(cond.Value, func(v any) error {
		if k == kindText {
			s, ok := textValue(v)
			if !ok {
				return nil
			}
			if maxLen > 0 && len(s) > maxLen {
				if n := utf8.RuneCountInString(s); n > maxLen {
					return &FieldError{Field: cond.Field, Lookup: lookup, Value: s, Err: ErrBadValue,
						Reason: fmt.Sprintf("%d characters, over the limit of %d (Options.MaxTextValue)", n, maxLen)}
				}
			}
			if width > 0 && len(s) > width {
				if n := utf8.RuneCountInString(s); n > width {
					return &FieldError{Field: cond.Field, Lookup: lookup, Value: s, Err: ErrBadValue,
						Reason: fmt.Sprintf("%d characters; column %s is %s, so it cannot match", n, c.Name, c.SQLType)}
				}
			}
			return nil
		}
		if k != kindNumber {
			return nil
		}
		var d types.Decimal
		switch x := v.(type) {
		case types.Decimal:
			d = x
		case *types.Decimal:
			if x == nil {
				return nil
			}
			d = *x
		default:
			return nil
		}
		if err := checkNumeric(c, d); err != nil {
			return &FieldError{Field: cond.Field, Lookup: lookup, Value: string(d), Err: ErrBadValue, Reason: err.Error()}
		}
		return nil
	})
}

// eachValue calls fn with v, or with each element of v when it is a slice
// (in, not_in) or a Range.
func eachValue(v any, fn func(any) error) error {
	switch x := v.(type) {
	case nil:
		return nil
	case Range:
		if err := fn(x.From); err != nil {
			return err
		}
		return fn(x.To)
	case string, []byte:
		return fn(v)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return fn(v)
	}
	for i := range rv.Len() {
		if err := fn(rv.Index(i).Interface()); err != nil {
			return err
		}
	}
	return nil
}

package repo

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

// Limits on parsed query strings, so one request cannot ask for unbounded
// work.
const (
	maxParams   = 64   // conditions and options in one query string
	maxInValues = 1000 // values of one in or not_in
)

// ParseQuery parses query-string input such as
//
//	name__i_contains=john&limit=10&offset=20&order_by=-created_at,name
//
// into a Filter, so a web handler can pass user input straight in. A
// parameter is field__lookup=value, or field=value for equal; limit, offset
// and order_by (comma separated, - for descending) shape the page, and
// after (a token from PageToken) asks for the keyset page after a row. Values
// are parsed by the column's type: text as is (valid UTF-8 without NUL),
// numbers, times (RFC 3339, or a date), booleans, UUIDs; in and not_in take
// comma-separated values, or the parameter repeated; range takes
// "from,to"; null and not_null take "", "true" or "false". Every error is a
// *FieldError fit for an HTTP 400: unknown field, unknown lookup, lookup
// not fitting the column's type, value that does not parse, bad limit.
func (r *Repository[T]) ParseQuery(query string) (Filter, error) {
	values, err := url.ParseQuery(query)
	if err != nil {
		return Filter{}, &FieldError{Err: ErrBadValue, Reason: "query string does not parse"}
	}
	return r.ParseValues(values)
}

// ParseValues is ParseQuery for already decoded values, such as
// (*http.Request).URL.Query().
func (r *Repository[T]) ParseValues(values url.Values) (Filter, error) {
	var f Filter
	if len(values) > maxParams {
		return f, &FieldError{Err: ErrBadValue, Reason: fmt.Sprintf("more than %d parameters", maxParams)}
	}
	params := make([]string, 0, len(values))
	total := 0
	for k, v := range values {
		params = append(params, k)
		total += len(v)
	}
	if total > maxParams {
		return f, &FieldError{Err: ErrBadValue, Reason: fmt.Sprintf("more than %d values", maxParams)}
	}
	slices.Sort(params)
	var after []string
	for _, p := range params {
		vals := values[p]
		switch p {
		case "after":
			after = vals
			continue
		case "limit", "offset":
			if len(vals) != 1 {
				return f, &FieldError{Param: p, Field: p, Err: ErrBadLimit, Reason: "give it once"}
			}
			n, err := strconv.Atoi(vals[0])
			if err != nil || n < 0 || (p == "limit" && (n == 0 || n > r.s.opts.MaxLimit)) {
				return f, &FieldError{Param: p, Field: p, Value: vals[0], Err: ErrBadLimit,
					Reason: fmt.Sprintf("limit is 1 to %d, offset 0 or more", r.s.opts.MaxLimit)}
			}
			if p == "limit" {
				f.Limit = n
			} else {
				f.Offset = n
			}
			continue
		case "order_by":
			for _, v := range vals {
				for _, term := range strings.Split(v, ",") {
					o := Order{Field: term}
					if strings.HasPrefix(term, "-") {
						o = Order{Field: term[1:], Desc: true}
					} else if strings.HasPrefix(term, "+") {
						o.Field = term[1:]
					}
					if _, ok := r.s.table.Column(o.Field); !ok {
						return f, &FieldError{Param: p, Field: o.Field, Err: ErrUnknownField}
					}
					f.OrderBy = append(f.OrderBy, o)
				}
			}
			if len(f.OrderBy) > maxParams {
				return f, &FieldError{Param: p, Err: ErrBadOrder, Reason: "too many terms"}
			}
			if _, _, err := r.orderColumns(f.OrderBy); err != nil {
				return f, err
			}
			continue
		}
		if !utf8.ValidString(p) || strings.IndexByte(p, 0) >= 0 {
			return f, &FieldError{Param: p, Field: p, Err: ErrUnknownField}
		}
		field, lookup := p, LookupEqual
		if _, ok := r.s.table.Column(p); !ok {
			if i := strings.LastIndex(p, "__"); i >= 0 {
				field, lookup = p[:i], p[i+2:]
			}
		}
		c, ok := r.s.table.Column(field)
		if !ok {
			return f, &FieldError{Param: p, Field: field, Err: ErrUnknownField}
		}
		kinds, ok := lookupKinds[lookup]
		if !ok {
			return f, &FieldError{Param: p, Field: field, Lookup: lookup, Err: ErrUnknownLookup}
		}
		k := columnKind(c)
		if !slices.Contains(kinds, k) {
			return f, &FieldError{Param: p, Field: field, Lookup: lookup, Err: ErrLookupType,
				Reason: "column " + c.Name + " is " + k.String()}
		}
		conds, err := parseCond(c, k, field, lookup, vals)
		if err != nil {
			err.Param = p
			return f, err
		}
		f.Where = append(f.Where, conds...)
	}
	if after != nil {
		if err := r.parseAfter(&f, after); err != nil {
			return f, err
		}
	}
	if _, _, err := r.buildSelect(f, false); err != nil {
		return f, err
	}
	return f, nil
}

// maxTokenLen bounds a page token.
const maxTokenLen = 4096

// PageToken returns an opaque, URL-safe token for the page after row last
// under f's order, for the after parameter of ParseQuery: a web handler
// hands it to the client with the page, and the client sends it back.
// It holds the values of the order columns in text form (it is not
// signed: the values are only ever bind parameters).
func (r *Repository[T]) PageToken(f Filter, last *T) (string, error) {
	vals, err := r.Cursor(f, last)
	if err != nil {
		return "", err
	}
	texts := make([]string, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case time.Time:
			texts[i] = x.Format(time.RFC3339Nano)
		case float64:
			texts[i] = strconv.FormatFloat(x, 'g', -1, 64)
		case float32:
			texts[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
		default:
			texts[i] = fmt.Sprint(v)
		}
	}
	b, err := json.Marshal(texts)
	if err != nil {
		return "", r.errorf("page token", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// parseAfter decodes the after parameter into f.After, parsing each value
// by its order column's type.
func (r *Repository[T]) parseAfter(f *Filter, vals []string) error {
	bad := func(reason string) error {
		v := ""
		if len(vals) > 0 {
			v = vals[0]
		}
		return &FieldError{Param: "after", Field: "after", Value: v, Err: ErrBadCursor, Reason: reason}
	}
	if len(vals) != 1 {
		return bad("give it once")
	}
	if len(vals[0]) > maxTokenLen {
		return bad("too long")
	}
	raw, err := base64.RawURLEncoding.DecodeString(vals[0])
	if err != nil {
		return bad("not a page token")
	}
	var texts []string
	if err := json.Unmarshal(raw, &texts); err != nil {
		return bad("not a page token")
	}
	cols, _, err := r.orderColumns(f.OrderBy)
	if err != nil {
		return err
	}
	if len(texts) != len(cols) {
		return bad("does not fit order_by")
	}
	f.After = make([]any, len(cols))
	for i, c := range cols {
		v, err := parseValue(c, columnKind(c), texts[i])
		if err != nil {
			return bad(c.Name + ": " + err.Error())
		}
		f.After[i] = v
	}
	return nil
}

// parseCond turns the values of one parameter into conditions.
func parseCond(c *model.Column, k kind, field, lookup string, vals []string) ([]Cond, *FieldError) {
	bad := func(v, reason string) *FieldError {
		return &FieldError{Field: field, Lookup: lookup, Value: v, Err: ErrBadValue, Reason: reason}
	}
	switch lookup {
	case LookupNull, LookupNotNull:
		if len(vals) != 1 {
			return nil, bad("", "give it once")
		}
		switch vals[0] {
		case "", "true", "1":
		case "false", "0":
			if lookup == LookupNull {
				lookup = LookupNotNull
			} else {
				lookup = LookupNull
			}
		default:
			return nil, bad(vals[0], `takes "", "true" or "false"`)
		}
		return []Cond{{Field: field, Lookup: lookup}}, nil
	case LookupIn, LookupNotIn:
		items := vals
		if len(vals) == 1 {
			items = strings.Split(vals[0], ",")
		}
		if len(items) == 0 {
			return nil, bad("", "no values")
		}
		if len(items) > maxInValues {
			return nil, bad("", fmt.Sprintf("more than %d values", maxInValues))
		}
		var slice reflect.Value
		for _, it := range items {
			v, err := parseValue(c, k, it)
			if err != nil {
				return nil, bad(it, err.Error())
			}
			rv := reflect.ValueOf(v)
			if !slice.IsValid() {
				slice = reflect.MakeSlice(reflect.SliceOf(rv.Type()), 0, len(items))
			}
			slice = reflect.Append(slice, rv)
		}
		return []Cond{{Field: field, Lookup: lookup, Value: slice.Interface()}}, nil
	case LookupRange:
		if len(vals) != 1 {
			return nil, bad("", "give it once")
		}
		from, to, ok := strings.Cut(vals[0], ",")
		if !ok {
			return nil, bad(vals[0], `takes "from,to"`)
		}
		lo, err := parseValue(c, k, from)
		if err != nil {
			return nil, bad(from, err.Error())
		}
		hi, err := parseValue(c, k, to)
		if err != nil {
			return nil, bad(to, err.Error())
		}
		return []Cond{{Field: field, Lookup: lookup, Value: Range{lo, hi}}}, nil
	}
	out := make([]Cond, 0, len(vals))
	for _, s := range vals {
		if c.Enum != nil && isLikeLookup(lookup) {
			// A pattern over the label's text: any part of a label.
			if err := checkText(s); err != nil {
				return nil, bad(s, err.Error())
			}
			out = append(out, Cond{Field: field, Lookup: lookup, Value: s})
			continue
		}
		v, err := parseValue(c, k, s)
		if err != nil {
			return nil, bad(s, err.Error())
		}
		out = append(out, Cond{Field: field, Lookup: lookup, Value: v})
	}
	return out, nil
}

// parseValue parses text input s as a value of column c.
func parseValue(c *model.Column, k kind, s string) (any, error) {
	if err := checkText(s); err != nil {
		return nil, err
	}
	gt := c.GoType
	for gt.Kind() == reflect.Pointer {
		gt = gt.Elem()
	}
	switch k {
	case kindText:
		if c.Enum != nil && !slices.Contains(c.Enum.Values, s) {
			return nil, fmt.Errorf("not one of the values of %s", c.Enum.Name)
		}
		return s, nil
	case kindBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("not a boolean")
		}
		return b, nil
	case kindUUID:
		u, err := types.ParseUUID(s)
		if err != nil {
			return nil, fmt.Errorf("not a UUID")
		}
		return u, nil
	case kindNumber:
		switch gt.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			bits := gt.Bits()
			if sb := sqlIntBits(c.SQLType); sb != 0 && sb < bits {
				bits = sb
			}
			n, err := strconv.ParseInt(s, 10, bits)
			if err != nil {
				return nil, fmt.Errorf("not an integer of %d bits", bits)
			}
			return n, nil
		case reflect.Float32, reflect.Float64:
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || x != x {
				return nil, fmt.Errorf("not a number")
			}
			return x, nil
		}
		if len(s) > maxNumericIntDigits+maxNumericFracDigits+16 {
			return nil, fmt.Errorf("a decimal of %d characters, over PostgreSQL's %d digits", len(s), maxNumericIntDigits+maxNumericFracDigits)
		}
		d, err := types.ParseDecimal(s)
		if err != nil {
			return nil, fmt.Errorf("not a decimal number")
		}
		if err := checkNumeric(c, d); err != nil {
			return nil, err
		}
		return d, nil
	case kindTime:
		switch gt {
		case reflect.TypeFor[types.Date]():
			t, err := time.Parse(time.DateOnly, s)
			if err != nil {
				return nil, fmt.Errorf("not a date (2006-01-02)")
			}
			return types.DateOf(t), nil
		case reflect.TypeFor[types.Time]():
			for _, layout := range []string{"15:04:05.999999", "15:04"} {
				if t, err := time.Parse(layout, s); err == nil {
					return types.TimeOf(t), nil
				}
			}
			return nil, fmt.Errorf("not a time of day (15:04:05)")
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", time.DateOnly} {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		return nil, fmt.Errorf("not a time (RFC 3339 or 2006-01-02)")
	}
	return nil, fmt.Errorf("column type %s cannot be filtered from text", c.SQLType)
}

// checkText reports text input that no column can hold: invalid UTF-8 or
// a NUL byte.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("contains a NUL byte")
	}
	return nil
}

// isLikeLookup reports whether lookup is one of the LIKE family, whose value
// is a pattern rather than a value of the column.
func isLikeLookup(lookup string) bool {
	switch lookup {
	case LookupContains, LookupIContains, LookupNotContains, LookupNotIContains,
		LookupStartsWith, LookupIStartsWith, LookupEndsWith, LookupIEndsWith:
		return true
	}
	return false
}

// sqlIntBits returns the width of an SQL integer type (SMALLINT 16,
// INTEGER 32, BIGINT 64 and their aliases), or 0 for other types.
func sqlIntBits(sqlType string) int {
	switch strings.ToUpper(strings.TrimSpace(sqlType)) {
	case "SMALLINT", "INT2", "SMALLSERIAL", "SERIAL2":
		return 16
	case "INTEGER", "INT", "INT4", "SERIAL", "SERIAL4":
		return 32
	case "BIGINT", "INT8", "BIGSERIAL", "SERIAL8":
		return 64
	}
	return 0
}

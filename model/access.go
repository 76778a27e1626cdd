package model

import (
	"fmt"
	"reflect"
	"time"
	"unsafe"
)

// access says how a column's field is read, chosen once per column when
// the model is registered (as bun precomputes per field), so the hot paths
// of a repository branch on a small integer instead of reflecting.
type access uint8

const (
	accessAddr    access = iota // the field's address, which pgx dereferences
	accessPointer               // a pointer field: the pointer it holds; nil is NULL
	accessNilable               // a slice, map or interface: nil is NULL, else the address
	accessString                // a string kind without methods: the value, for pgx's fast path
	accessInt64
	accessInt32
	accessInt16
	accessInt
	accessBool
	accessFloat64
	accessTime // time.Time: the value
)

var timeType = reflect.TypeFor[time.Time]()

// accessOf chooses how a field of type t is passed as a query argument.
// A plain scalar (no methods of its own) is passed by value as its
// underlying type, which pgx encodes without reflection; a type with
// methods keeps them by being passed by address.
func accessOf(t reflect.Type) access {
	switch {
	case t.Kind() == reflect.Pointer:
		return accessPointer
	case t.Kind() == reflect.Slice, t.Kind() == reflect.Map, t.Kind() == reflect.Interface:
		return accessNilable
	case t == timeType:
		return accessTime
	case t.NumMethod() != 0 || reflect.PointerTo(t).NumMethod() != 0:
		return accessAddr
	}
	switch t.Kind() {
	case reflect.String:
		return accessString
	case reflect.Int64:
		return accessInt64
	case reflect.Int32:
		return accessInt32
	case reflect.Int16:
		return accessInt16
	case reflect.Int:
		return accessInt
	case reflect.Bool:
		return accessBool
	case reflect.Float64:
		return accessFloat64
	}
	return accessAddr
}

// Row is a struct of a registered model seen through its table's columns:
// the field of each column is read and addressed at its precomputed offset,
// with no reflection by name. Get one with [Table.Row]. A Row keeps the
// struct alive; it is as safe for concurrent use as the struct itself.
type Row struct {
	t *Table
	p unsafe.Pointer
}

// Row returns v, which must be a non-nil *T of the table's type, as a Row.
func (t *Table) Row(v any) (Row, error) {
	if reflect.TypeOf(v) != t.ptrType {
		return Row{}, &Error{Struct: t.goName, Err: errTypeMismatch(v, t)}
	}
	p := reflect.ValueOf(v).UnsafePointer()
	if p == nil {
		return Row{}, &Error{Struct: t.goName, Err: errNilPointer}
	}
	return Row{t: t, p: p}, nil
}

// Table returns the row's table.
func (r Row) Table() *Table { return r.t }

// field returns the address of c's field, after checking that c is a
// column of the row's table: reading another table's offset would read the
// wrong memory, so a mismatch is a programming error and panics.
func (r Row) field(c *Column) unsafe.Pointer {
	if c.Table != r.t {
		panic(fmt.Sprintf("model: column %s of %s used on a row of %s", c.Name, c.Table.goName, r.t.goName))
	}
	return unsafe.Add(r.p, c.Offset)
}

// Addr returns the address of c's field as a typed pointer (*string,
// *types.Decimal, …) in an interface, ready for pgx's Scan.
func (r Row) Addr(c *Column) any {
	return reflect.NewAt(c.GoType, r.field(c)).Interface()
}

// AppendAddrs appends the addresses of every column's field, in the order
// of the table's Columns; it does not allocate when dst has room.
func (r Row) AppendAddrs(dst []any) []any {
	for _, c := range r.t.Columns {
		dst = append(dst, reflect.NewAt(c.GoType, unsafe.Add(r.p, c.Offset)).Interface())
	}
	return dst
}

// Arg returns the query argument for c's field: NULL (a nil interface) for
// a nil pointer, slice or map (so a nil json.RawMessage or map is SQL
// NULL, not the JSON null that encoding it would give), the value itself
// for a plain string, integer, bool, float64 or time.Time, and the field's
// address otherwise. The value is read when Arg is called.
func (r Row) Arg(c *Column) any {
	p := r.field(c)
	switch c.access {
	case accessPointer, accessNilable:
		return nullable(c, p)
	case accessString:
		return *(*string)(p)
	case accessInt64:
		return *(*int64)(p)
	case accessInt32:
		return *(*int32)(p)
	case accessInt16:
		return *(*int16)(p)
	case accessInt:
		return *(*int)(p)
	case accessBool:
		return *(*bool)(p)
	case accessFloat64:
		return *(*float64)(p)
	case accessTime:
		return *(*time.Time)(p)
	}
	return reflect.NewAt(c.GoType, p).Interface()
}

// AppendArgs appends the query arguments of cols (see [Row.Arg]).
func (r Row) AppendArgs(dst []any, cols []*Column) []any {
	for _, c := range cols {
		dst = append(dst, r.Arg(c))
	}
	return dst
}

// Value returns a copy of c's value, pointers dereferenced, or nil for a
// nil pointer: a value to compare or to use as a key.
func (r Row) Value(c *Column) any {
	v := reflect.NewAt(c.GoType, r.field(c)).Elem()
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	return v.Interface()
}

// IsZero reports whether c's field holds its Go zero value.
func (r Row) IsZero(c *Column) bool {
	p := r.field(c)
	switch c.access {
	case accessPointer:
		return *(*unsafe.Pointer)(p) == nil
	case accessString:
		return *(*string)(p) == ""
	case accessInt64:
		return *(*int64)(p) == 0
	case accessInt:
		return *(*int)(p) == 0
	}
	return reflect.NewAt(c.GoType, p).Elem().IsZero()
}

// String returns c's value when the column's field is of a string kind
// without methods of its own (string, types.String255, …), without
// copying it into an interface.
func (r Row) String(c *Column) (string, bool) {
	p := r.field(c)
	if c.access != accessString {
		return "", false
	}
	return *(*string)(p), true
}

// Bool reports whether c's field is a bool (or a pointer to one) that
// holds true.
func (r Row) Bool(c *Column) bool {
	v := reflect.NewAt(c.GoType, r.field(c)).Elem()
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return false
		}
		v = v.Elem()
	}
	return v.Kind() == reflect.Bool && v.Bool()
}

// SetString sets c's field to s when the field is of a string kind (string,
// types.String26, a named string type) or a pointer to one, and reports
// whether it could.
func (r Row) SetString(c *Column, s string) bool {
	v := reflect.NewAt(c.GoType, r.field(c)).Elem()
	if v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.String {
		p := reflect.New(v.Type().Elem())
		p.Elem().SetString(s)
		v.Set(p)
		return true
	}
	if v.Kind() != reflect.String {
		return false
	}
	v.SetString(s)
	return true
}

// Ref returns c's field for a writer that reads the value at once, such
// as a COPY: like [Row.Arg] (NULL for a nil pointer, slice, map or
// interface), but a plain scalar is passed by its address rather than
// copied into an interface, so it allocates nothing. The value must be
// read before the field changes.
func (r Row) Ref(c *Column) any {
	p := r.field(c)
	if c.access == accessPointer || c.access == accessNilable {
		return nullable(c, p)
	}
	return reflect.NewAt(c.GoType, p).Interface()
}

// nullable is the argument for a pointer, slice, map or interface field at
// p: NULL (a nil interface) when it is nil, else the pointee of a pointer
// or the field's address.
func nullable(c *Column, p unsafe.Pointer) any {
	if c.access == accessPointer {
		q := *(*unsafe.Pointer)(p)
		if q == nil {
			return nil
		}
		return reflect.NewAt(c.GoType.Elem(), q).Interface()
	}
	v := reflect.NewAt(c.GoType, p)
	if v.Elem().IsNil() {
		return nil
	}
	return v.Interface()
}

// AppendRefs appends the [Row.Ref] of each of cols.
func (r Row) AppendRefs(dst []any, cols []*Column) []any {
	for _, c := range cols {
		dst = append(dst, r.Ref(c))
	}
	return dst
}

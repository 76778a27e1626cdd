package model

import "github.com/jackc/pgx/v5/pgtype"

// The field references of [Row.ScalarRef]: each is a pointer to a field,
// so an interface holding one needs no allocation, and pgx's codecs read
// the value through the pgtype valuer interface it implements.
type (
	stringRef struct{ s string }
	int64Ref  struct{ n int64 }
	int32Ref  struct{ n int32 }
	int16Ref  struct{ n int16 }
	intRef    struct{ n int }
	boolRef   struct{ b bool }
)

// TextValue implements pgtype.TextValuer.
func (r *stringRef) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: r.s, Valid: true}, nil
}

// Int64Value implements pgtype.Int64Valuer.
func (r *int64Ref) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: r.n, Valid: true}, nil
}

// Int64Value implements pgtype.Int64Valuer.
func (r *int32Ref) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: int64(r.n), Valid: true}, nil
}

// Int64Value implements pgtype.Int64Valuer.
func (r *int16Ref) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: int64(r.n), Valid: true}, nil
}

// Int64Value implements pgtype.Int64Valuer.
func (r *intRef) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: int64(r.n), Valid: true}, nil
}

// BoolValue implements pgtype.BoolValuer.
func (r *boolRef) BoolValue() (pgtype.Bool, error) { return pgtype.Bool{Bool: r.b, Valid: true}, nil }

// ScalarRef returns c's field as a reference that pgx encodes through its
// pgtype valuer interfaces without copying the value into an interface,
// for a field of a plain string kind (pgtype.TextValuer), integer kind
// (pgtype.Int64Valuer) or bool (pgtype.BoolValuer) without methods of its
// own; ok is false for any other field. Only the codecs of text, varchar,
// integer and boolean columns take these references, and they read the
// value when they encode it, so the caller uses ScalarRef for such columns
// only (COPY, whose column types pgx knows) and keeps the field unchanged
// until the row is encoded.
func (r Row) ScalarRef(c *Column) (ref any, ok bool) {
	p := r.field(c)
	switch c.access {
	case accessString:
		return (*stringRef)(p), true
	case accessInt64:
		return (*int64Ref)(p), true
	case accessInt32:
		return (*int32Ref)(p), true
	case accessInt16:
		return (*int16Ref)(p), true
	case accessInt:
		return (*intRef)(p), true
	case accessBool:
		return (*boolRef)(p), true
	}
	return nil, false
}

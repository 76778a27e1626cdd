package model

import (
	"errors"
	"strings"
)

// Sentinel errors. Registration errors are *[Error] values wrapping one of
// these, so callers test them with errors.Is and read the struct and field
// with errors.As.
var (
	// ErrNotStruct: a model is not a struct or pointer to a struct.
	ErrNotStruct = errors.New("model: not a struct")
	// ErrBadTag: a struct tag does not parse, names an unknown option, or
	// combines options that cannot go together.
	ErrBadTag = errors.New("model: bad tag")
	// ErrUnknownType: a field's Go type has no PostgreSQL mapping.
	ErrUnknownType = errors.New("model: unknown Go type")
	// ErrNullability: a field declared null cannot hold NULL in Go.
	ErrNullability = errors.New("model: nullability")
	// ErrNoPrimaryKey: a model has no primary key column.
	ErrNoPrimaryKey = errors.New("model: no primary key")
	// ErrDuplicateColumn: two fields map to the same column name.
	ErrDuplicateColumn = errors.New("model: duplicate column")
	// ErrUnknownColumn: a table option names a column the model lacks.
	ErrUnknownColumn = errors.New("model: unknown column")
	// ErrUnknownReference: a foreign key or relationship names a table,
	// column or model that is not registered, or a target without a
	// matching key.
	ErrUnknownReference = errors.New("model: unknown reference")
	// ErrBadEnum: an enum type has no values, a duplicate or empty value, or
	// two Go types declare the same enum with different values.
	ErrBadEnum = errors.New("model: bad enum")
	// ErrName: a table, column or explicit constraint name is empty, longer
	// than PostgreSQL's 63 bytes, or used twice.
	ErrName = errors.New("model: bad name")
	// ErrWrongType: a value passed for field addresses is not a pointer to
	// the table's struct type, or is nil.
	ErrWrongType = errors.New("model: wrong type")
	// ErrNotRegistered: a lookup found no model for the type.
	ErrNotRegistered = errors.New("model: type not registered")
)

// Error is a registration error. It names the Go struct and, when the
// problem is in one field, the field (a dotted path through embedded
// structs).
type Error struct {
	Struct string // Go type, as package.Name
	Field  string // Go field path; empty for table-level problems
	Err    error  // wraps one of the sentinel errors
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("model ")
	b.WriteString(e.Struct)
	if e.Field != "" {
		b.WriteString(" field ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

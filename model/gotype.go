package model

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/uno-db/uno/types"
)

// sqlMapping is what a Go type maps to.
type sqlMapping struct {
	sqlType  string       // empty for an enum, whose name depends on the schema
	enum     reflect.Type // the enum Go type, when the column (or its elements) is one
	array    bool         // enum array
	nullable bool         // the Go type can hold NULL
	integer  bool         // an integer type, for identity
}

var exactTypes = map[reflect.Type]sqlMapping{
	reflect.TypeFor[types.String12]():  {sqlType: "VARCHAR(12)"},
	reflect.TypeFor[types.String26]():  {sqlType: "VARCHAR(26)"},
	reflect.TypeFor[types.String63]():  {sqlType: "VARCHAR(63)"},
	reflect.TypeFor[types.String64]():  {sqlType: "VARCHAR(64)"},
	reflect.TypeFor[types.String128](): {sqlType: "VARCHAR(128)"},
	reflect.TypeFor[types.String255](): {sqlType: "VARCHAR(255)"},
	reflect.TypeFor[types.UUID]():      {sqlType: "UUID"},
	reflect.TypeFor[types.Decimal]():   {sqlType: "NUMERIC"},
	reflect.TypeFor[types.Date]():      {sqlType: "DATE"},
	reflect.TypeFor[types.Time]():      {sqlType: "TIME"},
	reflect.TypeFor[types.Interval]():  {sqlType: "INTERVAL"},
	reflect.TypeFor[time.Time]():       {sqlType: "TIMESTAMPTZ"},
	reflect.TypeFor[[]byte]():          {sqlType: "BYTEA", nullable: true},
	reflect.TypeFor[json.RawMessage](): {sqlType: "JSONB", nullable: true},

	reflect.TypeFor[sql.NullString]():  {sqlType: "TEXT", nullable: true},
	reflect.TypeFor[sql.NullInt64]():   {sqlType: "BIGINT", nullable: true, integer: true},
	reflect.TypeFor[sql.NullInt32]():   {sqlType: "INTEGER", nullable: true, integer: true},
	reflect.TypeFor[sql.NullInt16]():   {sqlType: "SMALLINT", nullable: true, integer: true},
	reflect.TypeFor[sql.NullFloat64](): {sqlType: "DOUBLE PRECISION", nullable: true},
	reflect.TypeFor[sql.NullBool]():    {sqlType: "BOOLEAN", nullable: true},
	reflect.TypeFor[sql.NullTime]():    {sqlType: "TIMESTAMPTZ", nullable: true},

	reflect.TypeFor[pgtype.Text]():        {sqlType: "TEXT", nullable: true},
	reflect.TypeFor[pgtype.Int8]():        {sqlType: "BIGINT", nullable: true, integer: true},
	reflect.TypeFor[pgtype.Int4]():        {sqlType: "INTEGER", nullable: true, integer: true},
	reflect.TypeFor[pgtype.Int2]():        {sqlType: "SMALLINT", nullable: true, integer: true},
	reflect.TypeFor[pgtype.Float8]():      {sqlType: "DOUBLE PRECISION", nullable: true},
	reflect.TypeFor[pgtype.Float4]():      {sqlType: "REAL", nullable: true},
	reflect.TypeFor[pgtype.Bool]():        {sqlType: "BOOLEAN", nullable: true},
	reflect.TypeFor[pgtype.Numeric]():     {sqlType: "NUMERIC", nullable: true},
	reflect.TypeFor[pgtype.UUID]():        {sqlType: "UUID", nullable: true},
	reflect.TypeFor[pgtype.Timestamptz](): {sqlType: "TIMESTAMPTZ", nullable: true},
	reflect.TypeFor[pgtype.Timestamp]():   {sqlType: "TIMESTAMP", nullable: true},
	reflect.TypeFor[pgtype.Date]():        {sqlType: "DATE", nullable: true},
	reflect.TypeFor[pgtype.Time]():        {sqlType: "TIME", nullable: true},
	reflect.TypeFor[pgtype.Interval]():    {sqlType: "INTERVAL", nullable: true},
}

var (
	enumIface   = reflect.TypeFor[types.Enum]()
	jsonbMarker = reflect.TypeFor[interface{ JSONBType() }]()
)

// mapGoType maps a field's Go type to a column type. The rule for
// nullability: a type that can hold NULL — a pointer, slice, map,
// sql.Null*, or a pgtype value with a Valid field — makes a nullable
// column; every other type a NOT NULL one.
func mapGoType(t reflect.Type) (sqlMapping, error) {
	if t.Kind() == reflect.Pointer {
		switch t.Elem().Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			return sqlMapping{}, fmt.Errorf("%w: %s: a nil %s already stands for NULL; drop the pointer", ErrUnknownType, t, t.Elem().Kind())
		}
		m, err := mapGoType(t.Elem())
		m.nullable = true
		return m, err
	}
	if m, ok := exactTypes[t]; ok {
		return m, nil
	}
	if t.Implements(jsonbMarker) {
		return sqlMapping{sqlType: "JSONB"}, nil
	}
	if t.Kind() == reflect.String && (t.Implements(enumIface) || reflect.PointerTo(t).Implements(enumIface)) {
		return sqlMapping{enum: t}, nil
	}
	if t.PkgPath() == "database/sql" && strings.HasPrefix(t.Name(), "Null[") {
		f, ok := t.FieldByName("V")
		if !ok {
			return sqlMapping{}, fmt.Errorf("%w: %s", ErrUnknownType, t)
		}
		m, err := mapGoType(f.Type)
		m.nullable = true
		return m, err
	}
	switch t.Kind() {
	case reflect.String:
		return sqlMapping{sqlType: "TEXT"}, nil
	case reflect.Bool:
		return sqlMapping{sqlType: "BOOLEAN"}, nil
	case reflect.Int64, reflect.Int:
		return sqlMapping{sqlType: "BIGINT", integer: true}, nil
	case reflect.Int32:
		return sqlMapping{sqlType: "INTEGER", integer: true}, nil
	case reflect.Int16, reflect.Int8:
		return sqlMapping{sqlType: "SMALLINT", integer: true}, nil
	case reflect.Float64:
		return sqlMapping{sqlType: "DOUBLE PRECISION"}, nil
	case reflect.Float32:
		return sqlMapping{sqlType: "REAL"}, nil
	case reflect.Map:
		if t.Key().Kind() == reflect.String {
			return sqlMapping{sqlType: "JSONB", nullable: true}, nil
		}
	case reflect.Slice:
		elem := t.Elem()
		for elem.Kind() == reflect.Slice && elem != reflect.TypeFor[[]byte]() && elem != reflect.TypeFor[json.RawMessage]() {
			elem = elem.Elem() // a multi-dimensional array has the same SQL type
		}
		if elem.Kind() == reflect.Pointer {
			elem = elem.Elem()
		}
		m, err := mapGoType(elem)
		if err != nil || m.sqlType == "JSONB" && elem.Kind() == reflect.Map {
			return sqlMapping{}, fmt.Errorf("%w: %s (array elements must be scalar types)", ErrUnknownType, t)
		}
		if m.enum != nil {
			return sqlMapping{enum: m.enum, array: true, nullable: true}, nil
		}
		return sqlMapping{sqlType: m.sqlType + "[]", nullable: true}, nil
	}
	hint := ""
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Interface:
		hint = " (use types.JSONB[T] for a JSONB column, a type: option, or a belongs_to tag for a related model)"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		hint = " (PostgreSQL has no unsigned integers; use a signed type)"
	}
	return sqlMapping{}, fmt.Errorf("%w: %s%s", ErrUnknownType, t, hint)
}

// nilable reports whether values of t can hold NULL, for a field whose
// SQL type is given by a type: option.
func nilable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return true
	}
	if m, ok := exactTypes[t]; ok {
		return m.nullable
	}
	return false
}

// Package types holds uno's standard PostgreSQL column types (the seed's
// PostgresTypes) as Go types that pgx v5 encodes and decodes directly.
//
// Each type fixes the column's SQL type when a model is registered with the
// model package:
//
//	String12 … String255  VARCHAR(n)          named string types
//	Text                  TEXT                alias of string
//	UUID                  UUID                [16]byte with pgx codecs
//	BigInt                BIGINT              alias of int64
//	Decimal               NUMERIC             exact, string-backed
//	Boolean               BOOLEAN             alias of bool
//	Timestamp             TIMESTAMPTZ         alias of time.Time
//	Date                  DATE                civil date, no time zone
//	Time                  TIME                civil time of day, microseconds
//	Interval              INTERVAL            months, days and microseconds kept apart
//	ByteA                 BYTEA               alias of []byte
//	JSONB[T]              JSONB               any Go value, marshalled with encoding/json
//	RawJSON               JSONB               alias of json.RawMessage
//	[]T, [][]T, …         T[]                 arrays of the scalar types above
//	an [Enum] string type CREATE TYPE … AS ENUM
//
// Where a type coincides with the model package's mapping of a plain Go type
// (string is TEXT, int64 is BIGINT, bool is BOOLEAN, time.Time is
// TIMESTAMPTZ, []byte is BYTEA), it is an alias, so a model may use either
// spelling and values need no conversion.
//
// A NULL is held by a pointer (*types.Decimal, *types.Date, …): the scanning
// methods of these types reject NULL rather than invent a zero value.
package types

package types

import (
	"encoding/json"
	"time"
)

// String12 is a VARCHAR(12) column.
type String12 string

// String26 is a VARCHAR(26) column, the width of a ULID, uno's key type.
type String26 string

// String63 is a VARCHAR(63) column, the width of a PostgreSQL identifier.
type String63 string

// String64 is a VARCHAR(64) column.
type String64 string

// String128 is a VARCHAR(128) column.
type String128 string

// String255 is a VARCHAR(255) column.
type String255 string

// Text is a TEXT column. It is an alias of string.
type Text = string

// BigInt is a BIGINT column. It is an alias of int64.
type BigInt = int64

// Boolean is a BOOLEAN column. It is an alias of bool.
type Boolean = bool

// Timestamp is a TIMESTAMPTZ column (timestamp with time zone). It is an
// alias of time.Time; PostgreSQL stores the instant, and pgx returns it in
// the local time zone of the Go process.
type Timestamp = time.Time

// ByteA is a BYTEA column. It is an alias of []byte.
type ByteA = []byte

// RawJSON is a JSONB column holding already-encoded JSON. It is an alias of
// json.RawMessage. PostgreSQL normalises JSONB, so the text read back is
// equivalent JSON, not necessarily the same bytes.
type RawJSON = json.RawMessage

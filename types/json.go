package types

import (
	"bytes"
	"encoding/json"
)

// JSONB is a JSONB column holding a V of type T, marshalled with
// encoding/json: a map, a struct, a slice or any other JSON-encodable value.
// A JSON null is read back as the zero T; a SQL NULL needs a *JSONB[T]
// field.
type JSONB[T any] struct {
	V T // the value stored as JSON
}

// MarshalJSON implements json.Marshaler by marshalling V.
func (j JSONB[T]) MarshalJSON() ([]byte, error) { return json.Marshal(j.V) }

// UnmarshalJSON implements json.Unmarshaler by unmarshalling into V.
func (j *JSONB[T]) UnmarshalJSON(b []byte) error {
	var v T
	if !bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
	}
	j.V = v
	return nil
}

// JSONBType marks JSONB for the model package, which maps it to a JSONB
// column.
func (JSONB[T]) JSONBType() {}

package types

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
)

// UUID is a UUID column: 16 bytes, written in the canonical 8-4-4-4-12
// hexadecimal form.
type UUID [16]byte

// ParseUUID parses the canonical form, with or without hyphens and braces,
// in either case.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	var digits []byte
	switch len(s) {
	case 32:
		digits = []byte(s)
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return u, fmt.Errorf("types: invalid UUID %q", s)
		}
		digits = make([]byte, 0, 32)
		digits = append(digits, s[0:8]...)
		digits = append(digits, s[9:13]...)
		digits = append(digits, s[14:18]...)
		digits = append(digits, s[19:23]...)
		digits = append(digits, s[24:]...)
	default:
		return u, fmt.Errorf("types: invalid UUID %q", s)
	}
	if _, err := hex.Decode(u[:], digits); err != nil {
		return UUID{}, fmt.Errorf("types: invalid UUID %q", s)
	}
	return u, nil
}

// String returns the canonical lower-case form.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// MarshalText implements encoding.TextMarshaler.
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (u *UUID) UnmarshalText(b []byte) error {
	v, err := ParseUUID(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// UUIDValue implements pgtype.UUIDValuer.
func (u UUID) UUIDValue() (pgtype.UUID, error) { return pgtype.UUID{Bytes: u, Valid: true}, nil }

// ScanUUID implements pgtype.UUIDScanner. NULL is an error; scan into a
// *UUID field to allow it.
func (u *UUID) ScanUUID(v pgtype.UUID) error {
	if !v.Valid {
		return errNull("UUID")
	}
	*u = v.Bytes
	return nil
}

// ErrNull is returned when a NULL is scanned into a type of this package
// that is not behind a pointer.
var ErrNull = errors.New("types: cannot scan NULL into a non-pointer value")

func errNull(typ string) error { return fmt.Errorf("%w of type types.%s", ErrNull, typ) }

package types_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/uno-db/uno/types"
)

func TestParseUUID(t *testing.T) {
	t.Parallel()
	want := "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	for _, in := range []string{want, "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "6ba7b8109dad11d180b400c04fd430c8", "{" + want + "}"} {
		u, err := types.ParseUUID(in)
		if err != nil || u.String() != want {
			t.Errorf("ParseUUID(%q) = %v, %v", in, u, err)
		}
	}
	for _, in := range []string{"", "6ba7b810-9dad-11d1-80b4-00c04fd430c", "6ba7b810x9dad-11d1-80b4-00c04fd430c8", "zba7b810-9dad-11d1-80b4-00c04fd430c8"} {
		if _, err := types.ParseUUID(in); err == nil {
			t.Errorf("ParseUUID(%q) accepted", in)
		}
	}
	var u types.UUID
	if err := u.UnmarshalText([]byte(want)); err != nil || u.String() != want {
		t.Errorf("UnmarshalText: %v %v", u, err)
	}
	if err := u.ScanUUID(pgtype.UUID{}); !errors.Is(err, types.ErrNull) {
		t.Errorf("ScanUUID(NULL) = %v, want ErrNull", err)
	}
}

func TestDecimal(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"0", "-1.50", "+2", "1e10", "1.5E-7", "NaN", "Infinity", "-Infinity", "12345678901234567890123456789012345678"} {
		if _, err := types.ParseDecimal(ok); err != nil {
			t.Errorf("ParseDecimal(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "1.2.3", "abc", "1e", "--1", "1,5"} {
		if _, err := types.ParseDecimal(bad); err == nil {
			t.Errorf("ParseDecimal(%q) accepted", bad)
		}
	}
}

func TestCivilTypes(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 2, 29, 13, 4, 5, 6007008, time.UTC)
	if d := types.DateOf(at); d != (types.Date{Year: 2024, Month: time.February, Day: 29}) || d.String() != "2024-02-29" {
		t.Errorf("DateOf = %v", d)
	}
	if tm := types.TimeOf(at); tm != (types.Time{Hour: 13, Minute: 4, Second: 5, Microsecond: 6007}) || tm.String() != "13:04:05.006007" {
		t.Errorf("TimeOf = %v", tm)
	}
	if iv := types.IntervalOf(90 * time.Minute); iv != (types.Interval{Microseconds: 5400e6}) {
		t.Errorf("IntervalOf = %v", iv)
	}
	if _, err := (types.Date{}).DateValue(); err == nil {
		t.Error("zero Date accepted")
	}
	if _, err := (types.Date{Year: 2023, Month: time.February, Day: 29}).DateValue(); err == nil {
		t.Error("2023-02-29 accepted")
	}
	if n, err := types.Decimal("").NumericValue(); err != nil || n.Int.Sign() != 0 || n.Exp != 0 {
		t.Errorf("zero Decimal = %v, %v", n, err)
	}
	if _, err := (types.Time{Hour: 24, Second: 1}).TimeValue(); err == nil {
		t.Error("24:00:01 accepted")
	}
}

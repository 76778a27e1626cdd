package types

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// Decimal is an exact NUMERIC column. It holds the decimal text of the
// number ("12.50", "-3", "1.5e-7", "NaN", "Infinity", "-Infinity"), so any
// precision PostgreSQL accepts — a 38-digit value included — round-trips
// unchanged. Scale is kept: "1.50" stays "1.50". The zero value, "", is
// written as 0. Use a `type:NUMERIC(p,s)` tag to fix precision and scale in
// the column.
type Decimal string

// ParseDecimal validates s as a decimal number and returns it as a Decimal.
func ParseDecimal(s string) (Decimal, error) {
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("types: empty Decimal")
	}
	if _, err := Decimal(s).NumericValue(); err != nil {
		return "", err
	}
	return Decimal(s), nil
}

// String returns the decimal text.
func (d Decimal) String() string { return string(d) }

// NumericValue implements pgtype.NumericValuer.
func (d Decimal) NumericValue() (pgtype.Numeric, error) {
	s := strings.TrimSpace(string(d))
	switch s {
	case "NaN":
		return pgtype.Numeric{NaN: true, Valid: true}, nil
	case "Infinity", "+Infinity":
		return pgtype.Numeric{InfinityModifier: pgtype.Infinity, Valid: true}, nil
	case "-Infinity":
		return pgtype.Numeric{InfinityModifier: pgtype.NegativeInfinity, Valid: true}, nil
	case "":
		return pgtype.Numeric{Int: new(big.Int), Valid: true}, nil
	}
	var n pgtype.Numeric
	if err := n.ScanScientific(strings.TrimPrefix(s, "+")); err != nil || !n.Valid {
		return pgtype.Numeric{}, fmt.Errorf("types: invalid Decimal %q", string(d))
	}
	return n, nil
}

// ScanNumeric implements pgtype.NumericScanner. NULL is an error; scan into
// a *Decimal field to allow it.
func (d *Decimal) ScanNumeric(v pgtype.Numeric) error {
	if !v.Valid {
		return errNull("Decimal")
	}
	switch {
	case v.NaN:
		*d = "NaN"
	case v.InfinityModifier == pgtype.Infinity:
		*d = "Infinity"
	case v.InfinityModifier == pgtype.NegativeInfinity:
		*d = "-Infinity"
	default:
		s, err := v.Value()
		if err != nil {
			return err
		}
		*d = Decimal(s.(string))
	}
	return nil
}

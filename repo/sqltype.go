package repo

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

// castType returns the SQL type a bind parameter of a column of type
// sqlType is cast to: the type without its type modifier, so the cast
// neither truncates a string nor rounds a number before the value reaches
// the column (or a comparison), and the column's own check reports the
// value instead: VARCHAR(12) → VARCHAR, NUMERIC(12,2) → NUMERIC,
// VARCHAR(12)[] → VARCHAR[]. CHAR(n) and BIT(n) become BPCHAR and VARBIT,
// since CHAR and BIT without a length mean a length of 1. Quoted names
// (enums, domains, other types) are kept as they are.
func castType(sqlType string) string {
	var b strings.Builder
	quoted, depth, sawQuote := false, 0, false
	for i := 0; i < len(sqlType); i++ {
		ch := sqlType[i]
		switch {
		case quoted:
			b.WriteByte(ch)
			if ch == '"' {
				quoted = false // a doubled quote turns it back on
			}
		case depth > 0:
			switch ch {
			case '(':
				depth++
			case ')':
				depth--
			}
		case ch == '"':
			quoted, sawQuote = true, true
			b.WriteByte(ch)
		case ch == '(':
			depth++
		default:
			b.WriteByte(ch)
		}
	}
	out := b.String()
	if sawQuote {
		return strings.TrimSpace(out)
	}
	base, suffix := out, ""
	if i := strings.IndexByte(out, '['); i >= 0 {
		base, suffix = out[:i], out[i:]
	}
	base = strings.Join(strings.Fields(base), " ")
	switch strings.ToUpper(base) {
	case "CHAR", "CHARACTER", "NCHAR", "NATIONAL CHAR", "NATIONAL CHARACTER":
		base = "BPCHAR"
	case "BIT":
		base = "VARBIT"
	}
	return base + strings.ReplaceAll(suffix, " ", "")
}

// PostgreSQL's limits on an unconstrained NUMERIC: digits before and
// after the decimal point.
const (
	maxNumericIntDigits  = 131072
	maxNumericFracDigits = 16383
)

// numericTypmod returns the precision and scale of a NUMERIC(p,s) or
// DECIMAL(p,s) column type (s is 0 when left out), and ok false for an
// unconstrained NUMERIC or another type.
func numericTypmod(sqlType string) (p, s int, ok bool) {
	t := strings.ToUpper(strings.ReplaceAll(sqlType, " ", ""))
	for _, prefix := range []string{"NUMERIC(", "DECIMAL("} {
		if rest, found := strings.CutPrefix(t, prefix); found && strings.HasSuffix(rest, ")") {
			ps := strings.Split(strings.TrimSuffix(rest, ")"), ",")
			var err error
			if p, err = strconv.Atoi(ps[0]); err != nil || p < 1 {
				return 0, 0, false
			}
			if len(ps) == 2 {
				if s, err = strconv.Atoi(ps[1]); err != nil {
					return 0, 0, false
				}
			} else if len(ps) > 2 {
				return 0, 0, false
			}
			return p, s, true
		}
	}
	return 0, 0, false
}

// checkNumeric reports a decimal the NUMERIC column c cannot hold: more
// digits before the point than its precision leaves (after rounding to its
// scale, as PostgreSQL rounds), or, for an unconstrained NUMERIC, more
// than PostgreSQL's limits. It is checked before any SQL, so a
// 200,000-digit input is a *FieldError, not a server error (22003).
func checkNumeric(c *model.Column, d types.Decimal) error {
	if len(d) > maxNumericIntDigits+maxNumericFracDigits+16 {
		return fmt.Errorf("more than %d digits", maxNumericIntDigits+maxNumericFracDigits)
	}
	n, err := d.NumericValue()
	if err != nil {
		return err
	}
	if n.NaN || n.InfinityModifier != pgtype.Finite || n.Int == nil || n.Int.Sign() == 0 {
		return nil
	}
	p, s, constrained := numericTypmod(c.SQLType)
	if !constrained {
		digits := len(new(big.Int).Abs(n.Int).String())
		if intDigits := digits + int(n.Exp); intDigits > maxNumericIntDigits {
			return fmt.Errorf("%d digits before the decimal point, over PostgreSQL's %d", intDigits, maxNumericIntDigits)
		}
		if n.Exp < -maxNumericFracDigits {
			return fmt.Errorf("%d digits after the decimal point, over PostgreSQL's %d", -n.Exp, maxNumericFracDigits)
		}
		return nil
	}
	// Round to the scale, half away from zero, as PostgreSQL does.
	mag := new(big.Int).Abs(n.Int)
	exp := int(n.Exp)
	if exp < -s {
		drop := -s - exp
		if drop > len(mag.String()) {
			return nil // rounds to zero
		}
		div := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(drop)), nil)
		q, r := new(big.Int).QuoRem(mag, div, new(big.Int))
		if r.Mul(r, big.NewInt(2)).Cmp(div) >= 0 {
			q.Add(q, big.NewInt(1))
		}
		mag, exp = q, -s
	}
	if mag.Sign() == 0 {
		return nil
	}
	if intDigits := len(mag.String()) + exp; intDigits > p-s {
		return fmt.Errorf("%d digits before the decimal point; %s allows %d", intDigits, c.SQLType, p-s)
	}
	return nil
}

// varcharWidth returns n of a VARCHAR(n), CHARACTER VARYING(n) or CHAR(n)
// column type, or 0 for other types (arrays included).
func varcharWidth(sqlType string) int {
	t := strings.ToUpper(strings.ReplaceAll(sqlType, " ", ""))
	for _, prefix := range []string{"VARCHAR(", "CHARACTERVARYING(", "CHAR(", "CHARACTER(", "BPCHAR("} {
		if rest, ok := strings.CutPrefix(t, prefix); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(rest, ")"))
			if err != nil || !strings.HasSuffix(rest, ")") || n < 1 {
				return 0
			}
			return n
		}
	}
	return 0
}

// paramType is castType for column c, with an enum type always
// schema-qualified, so no temporary type can shadow it.
func paramType(c *model.Column) string {
	if c.Enum != nil {
		if strings.HasSuffix(c.SQLType, "[]") {
			return c.Enum.QualifiedName + "[]"
		}
		return c.Enum.QualifiedName
	}
	return castType(c.SQLType)
}

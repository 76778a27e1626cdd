package repo

import "strings"

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

// Package quote renders PostgreSQL identifiers and literals safely. Every
// name uno puts into SQL text goes through [Ident] or [AppendIdent], and every
// value that cannot be a bind parameter (DDL has none) goes through
// [Literal].
package quote

import "strings"

// Ident returns name as a quoted identifier: wrapped in double quotes, with
// every double quote doubled and NUL bytes removed (PostgreSQL cannot store
// them, and a truncated name must not change meaning).
func Ident(name string) string {
	return string(AppendIdent(make([]byte, 0, len(name)+2), name))
}

// AppendIdent appends name, quoted as by [Ident], to b.
func AppendIdent(b []byte, name string) []byte {
	b = append(b, '"')
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case 0:
		case '"':
			b = append(b, '"', '"')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Qualified returns schema.name with both parts quoted; an empty schema gives
// the quoted name alone.
func Qualified(schema, name string) string {
	if schema == "" {
		return Ident(name)
	}
	return Ident(schema) + "." + Ident(name)
}

// Literal returns s as a standard-conforming string literal: wrapped in
// single quotes with every single quote doubled. A string holding a
// backslash is written in the E” form with backslashes doubled, so the
// result means s whatever standard_conforming_strings is set to. NUL bytes,
// which PostgreSQL text cannot hold, are removed.
func Literal(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	hasBackslash := strings.IndexByte(s, '\\') >= 0
	var b strings.Builder
	b.Grow(len(s) + 3)
	if hasBackslash {
		b.WriteString(" E")
	}
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

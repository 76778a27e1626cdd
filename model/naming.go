package model

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is PostgreSQL's identifier limit in bytes (NAMEDATALEN-1).
const MaxNameLen = 63

// Naming makes constraint and index names. Every name it returns is passed
// through [ShortenName], so an implementation need not mind the length.
type Naming interface {
	PrimaryKey(table string) string
	Unique(table string, columns []string) string
	ForeignKey(table string, columns []string) string
	Check(table, name string) string
	Index(table string, columns []string) string
}

// DefaultNaming is uno's naming convention: pk_<table>,
// uq_<table>_<col>[_<col>…], fk_<table>_<col>[_<col>…], ck_<table>_<name>,
// ix_<table>_<col>[_<col>…].
type DefaultNaming struct{}

// PrimaryKey returns pk_<table>.
func (DefaultNaming) PrimaryKey(table string) string { return "pk_" + table }

// Unique returns uq_<table>_<columns joined by _>.
func (DefaultNaming) Unique(table string, columns []string) string {
	return "uq_" + table + "_" + strings.Join(columns, "_")
}

// ForeignKey returns fk_<table>_<columns joined by _>.
func (DefaultNaming) ForeignKey(table string, columns []string) string {
	return "fk_" + table + "_" + strings.Join(columns, "_")
}

// Check returns ck_<table>_<name>.
func (DefaultNaming) Check(table, name string) string { return "ck_" + table + "_" + name }

// Index returns ix_<table>_<columns joined by _>.
func (DefaultNaming) Index(table string, columns []string) string {
	return "ix_" + table + "_" + strings.Join(columns, "_")
}

// ShortenName returns name unchanged when it fits PostgreSQL's 63-byte
// limit. A longer name is cut to 54 bytes (at a UTF-8 character boundary)
// and suffixed with "_" and 8 hex digits of the SHA-256 of the whole name,
// so two long names that share a prefix stay distinct, and the same name
// always shortens the same way. (PostgreSQL itself would truncate silently,
// and two constraints would collide.)
func ShortenName(name string) string {
	if len(name) <= MaxNameLen {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	cut := 54
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "_" + hex.EncodeToString(sum[:4])
}

// SnakeCase converts a Go identifier to snake case: CustomerID becomes
// customer_id, HTTPServer http_server, IsActive is_active.
func SnakeCase(s string) string {
	runes := []rune(s)
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i, r := range runes {
		if unicode.IsUpper(r) {
			if i > 0 && runes[i-1] != '_' {
				prevLower := unicode.IsLower(runes[i-1]) || unicode.IsDigit(runes[i-1])
				nextLower := i+1 < len(runes) && unicode.IsLower(runes[i+1])
				if prevLower || (unicode.IsUpper(runes[i-1]) && nextLower) {
					b.WriteByte('_')
				}
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

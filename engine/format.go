package engine

import (
	"fmt"
	"log/slog"
	"strings"
)

// String describes the DB by its pool key (user@host:port/database),
// never with its password.
func (db *DB) String() string { return "engine.DB{" + db.cfg.String() + "}" }

// GoString describes the DB for %#v, without its password.
func (db *DB) GoString() string { return db.String() }

// Format describes the DB for every fmt verb (%v, %+v, %#v, %s, …) without
// its password: the configuration sits in an unexported field, out of
// reach of its own redacting methods, so the DB formats itself.
func (db *DB) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(db.String())) }

// LogValue describes the DB in log/slog output without its password.
func (db *DB) LogValue() slog.Value { return db.cfg.LogValue() }

// redactSQL returns sql fit for a log: a statement that mentions a password
// (ALTER ROLE … PASSWORD '…', CREATE ROLE … PASSWORD …) has every string
// literal and dollar-quoted string replaced by '********'. Others come back
// unchanged.
func redactSQL(sql string) string {
	if !strings.Contains(strings.ToUpper(sql), "PASSWORD") {
		return sql
	}
	var b strings.Builder
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\'':
			// A literal, with '' inside; E'' strings also escape with \.
			escapes := i > 0 && (sql[i-1] == 'E' || sql[i-1] == 'e')
			j := i + 1
			for j < len(sql) {
				if escapes && sql[j] == '\\' {
					j += 2
					continue
				}
				if sql[j] == '\'' {
					if j+1 < len(sql) && sql[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			b.WriteString("'********'")
			i = j + 1
		case c == '$':
			// A dollar-quoted string: $tag$ … $tag$.
			j := i + 1
			for j < len(sql) && (sql[j] == '_' || sql[j] >= 'a' && sql[j] <= 'z' || sql[j] >= 'A' && sql[j] <= 'Z' || sql[j] >= '0' && sql[j] <= '9') {
				j++
			}
			if j < len(sql) && sql[j] == '$' && !(j > i+1 && sql[i+1] >= '0' && sql[i+1] <= '9') {
				tag := sql[i : j+1]
				end := strings.Index(sql[j+1:], tag)
				if end < 0 {
					b.WriteString("'********'")
					i = len(sql)
					continue
				}
				b.WriteString("'********'")
				i = j + 1 + end + len(tag)
				continue
			}
			b.WriteString(sql[i:j])
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// NoTxMarker, as the first line of a migration file, makes it run outside a
// transaction, one statement at a time (for CREATE INDEX CONCURRENTLY and
// ALTER TYPE … ADD VALUE).
const NoTxMarker = "-- uno:no-transaction"

// Migration is one numbered migration read from a directory.
type Migration struct {
	Version  int64
	Name     string
	Up, Down string // SQL of the up and down files; Down is "" when absent
	UpNoTx   bool
	DownNoTx bool
	Checksum string // sha256 of the up file
}

var fileRE = regexp.MustCompile(`^(\d{4,})_([a-z0-9_]+)\.(up|down)\.sql$`)

// ErrBadDir is matched by errors about the files of a migration directory.
var ErrBadDir = errors.New("migrate: bad migration directory")

// ReadDir reads the migrations of fsys's top directory. File names must be
// NNNN_name.up.sql or NNNN_name.down.sql (at least four digits, lower-case
// name); any other .sql file, a version used by two names, or a down file
// without its up file is an error. Other files are ignored.
func ReadDir(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	byVersion := map[int64]*Migration{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		m := fileRE.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("%w: %q is not named NNNN_name.up.sql or NNNN_name.down.sql", ErrBadDir, e.Name())
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%w: %q: version must be a positive number", ErrBadDir, e.Name())
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		} else if mig.Name != m[2] {
			return nil, fmt.Errorf("%w: version %d is used by %q and %q", ErrBadDir, v, mig.Name, m[2])
		}
		text := string(b)
		noTx := strings.HasPrefix(strings.TrimLeft(text, " \t\r\n"), NoTxMarker) || needsNoTx(text)
		if m[3] == "up" {
			if mig.Checksum != "" {
				return nil, fmt.Errorf("%w: two up files for version %d", ErrBadDir, v)
			}
			sum := sha256.Sum256(b)
			mig.Up, mig.UpNoTx, mig.Checksum = text, noTx, hex.EncodeToString(sum[:])
		} else {
			mig.Down, mig.DownNoTx = text, noTx
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.Checksum == "" {
			return nil, fmt.Errorf("%w: version %d (%s) has a down file but no up file", ErrBadDir, m.Version, m.Name)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// noTxRE matches statements PostgreSQL refuses inside a transaction block.
var noTxRE = regexp.MustCompile(`(?is)^(CREATE\s+(UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX\b.*)\s+CONCURRENTLY\b|^(CREATE|DROP)\s+DATABASE\b|^VACUUM\b`)

// needsNoTx reports whether a script holds a statement that cannot run in
// a transaction block, so the file runs outside one even without the
// marker.
func needsNoTx(script string) bool {
	for _, s := range SplitStatements(script) {
		if noTxRE.MatchString(stripComments(s)) {
			return true
		}
	}
	return false
}

// stripComments drops leading comment lines of a statement.
func stripComments(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if !strings.HasPrefix(s, "--") {
			return s
		}
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		} else {
			return ""
		}
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9_]+$`)

// WriteNext writes the next migration into dir from an up and a down plan:
// NNNN_name.up.sql and NNNN_name.down.sql, numbered one past the highest
// version there. A plan with statements that must run outside a
// transaction makes the whole file run that way. It returns the up file's
// path.
func WriteNext(dir, name string, up, down Plan) (string, error) {
	if !nameRE.MatchString(name) {
		return "", fmt.Errorf("%w: migration name %q: use lower-case letters, digits and _", ErrBadDir, name)
	}
	if up.Empty() {
		return "", errors.New("migrate: nothing to migrate: the database matches the models")
	}
	existing, err := ReadDir(os.DirFS(dir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	next := int64(1)
	if len(existing) > 0 {
		next = existing[len(existing)-1].Version + 1
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	base := filepath.Join(dir, fmt.Sprintf("%04d_%s", next, name))
	if err := os.WriteFile(base+".up.sql", []byte(fileText(up)), 0o644); err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	if err := os.WriteFile(base+".down.sql", []byte(fileText(down)), 0o644); err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	return base + ".up.sql", nil
}

func fileText(p Plan) string {
	var b strings.Builder
	for _, c := range p.Changes {
		if c.NoTx {
			b.WriteString(NoTxMarker + "\n")
			break
		}
	}
	for _, w := range p.Warnings {
		b.WriteString("-- warning: " + w + "\n")
	}
	b.WriteString(p.SQL())
	return b.String()
}

// SplitStatements splits a SQL script into statements at top-level
// semicolons, honouring quoted strings and identifiers, dollar-quoted
// bodies and comments. Empty statements are dropped.
func SplitStatements(script string) []string {
	var out []string
	start := 0
	flush := func(end int) {
		s := strings.TrimSpace(script[start:end])
		if s != "" && !onlyComments(s) {
			out = append(out, s)
		}
		start = end + 1
	}
	for i := 0; i < len(script); i++ {
		switch c := script[i]; {
		case c == '\'' && i > 0 && (script[i-1] == 'E' || script[i-1] == 'e') && (i < 2 || !identChar(script[i-2])):
			// E'…': a backslash escapes the next character.
			for i++; i < len(script); i++ {
				if script[i] == '\\' {
					i++
					continue
				}
				if script[i] == '\'' {
					if i+1 < len(script) && script[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
		case c == '\'' || c == '"':
			for i++; i < len(script); i++ {
				if script[i] == c {
					if i+1 < len(script) && script[i+1] == c {
						i++
						continue
					}
					break
				}
			}
		case c == '-' && i+1 < len(script) && script[i+1] == '-':
			for i < len(script) && script[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(script) && script[i+1] == '*':
			depth := 0
			for ; i+1 < len(script); i++ {
				if script[i] == '/' && script[i+1] == '*' {
					depth++
					i++
				} else if script[i] == '*' && script[i+1] == '/' {
					depth--
					i++
					if depth == 0 {
						break
					}
				}
			}
		case c == '$' && (i == 0 || !identChar(script[i-1])):
			if tag := dollarTag(script[i:]); tag != "" {
				end := strings.Index(script[i+len(tag):], tag)
				if end < 0 {
					i = len(script)
				} else {
					i += len(tag) + end + len(tag) - 1
				}
			}
		case c == ';':
			flush(i)
		}
	}
	flush(len(script))
	return out
}

// identChar reports whether c may be part of an identifier (so a $ after
// it does not open a dollar quote, and an E before a quote is not a prefix).
func identChar(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

var dollarRE = regexp.MustCompile(`^\$[A-Za-z_][A-Za-z0-9_]*\$|^\$\$`)

func dollarTag(s string) string { return dollarRE.FindString(s) }

func onlyComments(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
			return false
		}
	}
	return true
}

package migrate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/quote"
)

// Segment is one step of a migration run outside a single transaction: a
// run of statements that execute in one transaction, or one statement
// that cannot run in a transaction block.
type Segment struct {
	Statements []string
	NoTx       bool
}

// addValueRE matches ALTER TYPE … ADD VALUE: a label added in a
// transaction cannot be used before it commits, so it runs on its own.
var addValueRE = regexp.MustCompile(`(?is)^ALTER\s+TYPE\s+.*\sADD\s+VALUE\b`)

// Segments splits a migration file that cannot run in one transaction
// into steps: every statement PostgreSQL refuses in a transaction block
// (CREATE INDEX CONCURRENTLY, …) and every ALTER TYPE … ADD VALUE is a
// step of its own; the statements between them form one transactional
// step each. So only those statements run outside a transaction and the
// rest stays atomic.
func Segments(script string) []Segment {
	var out []Segment
	for _, st := range SplitStatements(script) {
		bare := stripComments(st)
		if noTxRE.MatchString(bare) || addValueRE.MatchString(bare) {
			out = append(out, Segment{Statements: []string{st}, NoTx: true})
			continue
		}
		if n := len(out); n > 0 && !out[n-1].NoTx {
			out[n-1].Statements = append(out[n-1].Statements, st)
		} else {
			out = append(out, Segment{Statements: []string{st}})
		}
	}
	return out
}

// identRE matches one identifier, quoted or not.
const identRE = `(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`

var concurrentIndexRE = regexp.MustCompile(`(?is)^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?(` +
	identRE + `)\s+ON\s+(?:ONLY\s+)?(` + identRE + `(?:\.` + identRE + `)?)`)

// unquoteIdent returns the name an identifier stands for.
func unquoteIdent(s string) string {
	if strings.HasPrefix(s, `"`) {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return strings.ToLower(s)
}

// dropInvalidIndex drops the invalid index a failed CREATE INDEX
// CONCURRENTLY left behind, before that statement runs again: PostgreSQL
// keeps it, and the retry would fail on its name.
func (s *session) dropInvalidIndex(ctx context.Context, stmt string) error {
	m := concurrentIndexRE.FindStringSubmatch(stripComments(stmt))
	if m == nil {
		return nil
	}
	var qualified string
	err := s.conn.QueryRow(ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relname = $1 AND NOT i.indisvalid
		  AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass($2))`,
		unquoteIdent(m[1]), m[2]).Scan(&qualified)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return dberr.Classify(err)
	}
	if _, err := s.conn.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+qualified); err != nil {
		return fmt.Errorf("drop the invalid index %s a failed build left: %w", qualified, dberr.Classify(err))
	}
	return nil
}

// ErrNotOwner is returned before a migration runs when it changes a
// table the migrating role does not own.
var ErrNotOwner = errors.New("migrate: the migrating role does not own a table the migration changes")

// tableRefRE finds the tables a statement changes: ALTER TABLE, DROP
// TABLE, CREATE INDEX/TRIGGER/POLICY … ON, DROP TRIGGER/POLICY … ON,
// COMMENT ON TABLE.
var tableRefRE = regexp.MustCompile(`(?is)(?:\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?|\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?|` +
	`\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?` + identRE + `\s+ON\s+(?:ONLY\s+)?|` +
	`\b(?:CREATE|DROP)\s+(?:TRIGGER|POLICY)\s+(?:IF\s+EXISTS\s+)?` + identRE + `\s+(?:AS\s+\w+\s+)?(?:[A-Z ]+?\s+)?ON\s+|` +
	`\bCOMMENT\s+ON\s+TABLE\s+)(` + identRE + `(?:\.` + identRE + `)?)`)

// ownership checks, before a migration runs, that the role it runs as
// owns (or inherits the rights of the owner of) every existing table its
// statements change, so it fails with a clear error instead of 42501
// part way.
func (s *session) ownership(ctx context.Context, script string) error {
	var names []string
	for _, st := range SplitStatements(script) {
		for _, m := range tableRefRE.FindAllStringSubmatch(stripComments(st), -1) {
			names = append(names, m[1])
		}
	}
	if len(names) == 0 {
		return nil
	}
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT c.oid::regclass::text, pg_get_userbyid(c.relowner)::text, current_user::text
		FROM unnest($1::text[]) AS n(name)
		JOIN pg_class c ON c.oid = pg_catalog.to_regclass(n.name)
		WHERE NOT pg_has_role(current_user, c.relowner, 'USAGE')
		ORDER BY 1`, names)
	if err != nil {
		return dberr.Classify(err)
	}
	type notOwned struct{ Table, Owner, Role string }
	bad, err := pgx.CollectRows(rows, pgx.RowToStructByPos[notOwned])
	if err != nil {
		return dberr.Classify(err)
	}
	if len(bad) == 0 {
		return nil
	}
	var parts []string
	for _, b := range bad {
		parts = append(parts, "table "+b.Table+" is owned by "+quote.Ident(b.Owner))
	}
	return fmt.Errorf("%w: it runs as %s, but %s (make that role the owner, or run as it)", ErrNotOwner,
		quote.Ident(bad[0].Role), strings.Join(parts, ", "))
}

package repo

import (
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/dberr"
)

// errNotFound is the missing-row error of the operations that find no row
// without pgx saying so (an UPDATE or DELETE that touched nothing, GetBy's
// empty result): like the error pgx's Scan gives, it matches
// dberr.ErrNotFound, pgx.ErrNoRows and sql.ErrNoRows.
var errNotFound = &dberr.Error{Kind: dberr.ErrNotFound, Err: pgx.ErrNoRows}

// opError is what every repository method returns on failure: the
// operation and model, then the cause, under one "repo: " prefix.
type opError struct {
	op, model string
	err       error
}

// Error names the operation and model, then the cause without its own
// package prefix, so the message reads "repo: get shop.Customer: not
// found: no rows in result set", never "repo: …: repo: …" or
// "repo: …: uno: …". errors.Is and errors.As see the cause unchanged.
func (e *opError) Error() string {
	var b strings.Builder
	b.WriteString("repo: ")
	b.WriteString(e.op)
	if e.model != "" {
		b.WriteByte(' ')
		b.WriteString(e.model)
	}
	b.WriteString(": ")
	b.WriteString(unprefixed(e.err))
	return b.String()
}

// Unwrap returns the cause.
func (e *opError) Unwrap() error { return e.err }

// unprefixed returns err's message without a leading "repo: " or "uno: ".
func unprefixed(err error) string {
	s := err.Error()
	for _, p := range []string{"repo: ", "uno: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

package dberr_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/dberr"
)

// These are pure unit tests of the classifier; the engine's tests check the
// same classification on errors from a real server.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		code   string
		target error
	}{
		{"23505", dberr.ErrUniqueViolation}, {"23503", dberr.ErrForeignKeyViolation},
		{"23514", dberr.ErrCheckViolation}, {"23502", dberr.ErrNotNullViolation},
		{"40001", dberr.ErrSerializationFailure}, {"40P01", dberr.ErrDeadlock},
		{"42501", dberr.ErrPermissionDenied}, {"57014", dberr.ErrQueryCanceled},
		{"57P01", dberr.ErrConnection},
	} {
		pg := &pgconn.PgError{Code: tc.code, ConstraintName: "uq_x", TableName: "x", Message: "text that is never parsed"}
		err := dberr.Classify(fmt.Errorf("op: %w", pg))
		var de *dberr.Error
		if !errors.Is(err, tc.target) || !errors.As(err, &de) || de.Code != tc.code || de.Constraint != "uq_x" {
			t.Errorf("%s: %v", tc.code, err)
		}
		var back *pgconn.PgError
		if !errors.As(err, &back) || back != pg {
			t.Errorf("%s: PgError not reachable", tc.code)
		}
		if dberr.Classify(err) != err {
			t.Errorf("%s: classified twice", tc.code)
		}
	}
	nf := dberr.Classify(pgx.ErrNoRows)
	if !errors.Is(nf, dberr.ErrNotFound) || !errors.Is(nf, pgx.ErrNoRows) || !errors.Is(nf, sql.ErrNoRows) {
		t.Errorf("no rows: %v", nf)
	}
	if dberr.Classify(nil) != nil || dberr.Classify(context.Canceled) != context.Canceled {
		t.Error("nil or context error changed")
	}
	if !errors.Is(dberr.Classify(io.ErrUnexpectedEOF), dberr.ErrConnection) {
		t.Error("EOF not a connection failure")
	}
}

func TestPredicates(t *testing.T) {
	wrap := func(code string) error { return fmt.Errorf("a: %w", fmt.Errorf("b: %w", &pgconn.PgError{Code: code})) }
	for code, want := range map[string]bool{"40001": true, "40P01": true, "57014": false, "23505": false} {
		if got := dberr.IsRetryableTx(wrap(code)); got != want {
			t.Errorf("IsRetryableTx(%s) = %v", code, got)
		}
	}
	for _, err := range []error{wrap("08006"), wrap("57P01"), wrap("57P03"), wrap("53300"), syscall.ECONNREFUSED} {
		if !dberr.IsTransientConnect(err) {
			t.Errorf("%v not transient", err)
		}
	}
	for _, err := range []error{wrap("28P01"), wrap("42501"), context.Canceled, context.DeadlineExceeded, errors.New("x")} {
		if dberr.IsTransientConnect(err) {
			t.Errorf("%v transient", err)
		}
	}
}

// Package dberr holds uno's error values and classifies PostgreSQL errors by
// SQLSTATE, never by message text.
//
// Every error uno returns for a database failure can be tested two ways:
// errors.Is against a sentinel such as [ErrUniqueViolation], and errors.As
// into [*Error] for the SQLSTATE, constraint, table and column. The
// original *pgconn.PgError stays reachable through errors.As as well.
package dberr

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinels. Each is matched by errors.Is on the errors uno returns.
var (
	ErrNotFound             = errors.New("uno: not found")
	ErrMultipleRows         = errors.New("uno: more than one row")
	ErrUniqueViolation      = errors.New("uno: unique violation")
	ErrForeignKeyViolation  = errors.New("uno: foreign key violation")
	ErrCheckViolation       = errors.New("uno: check violation")
	ErrNotNullViolation     = errors.New("uno: not null violation")
	ErrSerializationFailure = errors.New("uno: serialization failure")
	ErrDeadlock             = errors.New("uno: deadlock detected")
	ErrPermissionDenied     = errors.New("uno: permission denied")
	ErrQueryCanceled        = errors.New("uno: query canceled")
	ErrConnection           = errors.New("uno: connection failure")
	ErrCommitUnknown        = errors.New("uno: commit outcome unknown")
	ErrClosed               = errors.New("uno: closed")
	ErrConflict             = errors.New("uno: concurrent update conflict")
	// ErrPoolTimeout: no pooled connection could be borrowed within
	// Pool.AcquireTimeout. The error returned also matches
	// context.DeadlineExceeded. A borrow ended by the caller's own context
	// is no ErrPoolTimeout: it matches that context's error.
	ErrPoolTimeout = errors.New("uno: timed out waiting for a pooled connection")
)

// SQLSTATE codes uno classifies.
const (
	CodeUniqueViolation      = "23505"
	CodeForeignKeyViolation  = "23503"
	CodeCheckViolation       = "23514"
	CodeNotNullViolation     = "23502"
	CodeSerializationFailure = "40001"
	CodeDeadlockDetected     = "40P01"
	CodeInsufficientPriv     = "42501"
	CodeQueryCanceled        = "57014"
	CodeAdminShutdown        = "57P01"
	CodeCrashShutdown        = "57P02"
	CodeCannotConnectNow     = "57P03"
	CodeTooManyConnections   = "53300"
)

var kindByCode = map[string]error{
	CodeUniqueViolation:      ErrUniqueViolation,
	CodeForeignKeyViolation:  ErrForeignKeyViolation,
	CodeCheckViolation:       ErrCheckViolation,
	CodeNotNullViolation:     ErrNotNullViolation,
	CodeSerializationFailure: ErrSerializationFailure,
	CodeDeadlockDetected:     ErrDeadlock,
	CodeInsufficientPriv:     ErrPermissionDenied,
	CodeQueryCanceled:        ErrQueryCanceled,
	CodeAdminShutdown:        ErrConnection,
	CodeCrashShutdown:        ErrConnection,
	CodeCannotConnectNow:     ErrConnection,
	CodeTooManyConnections:   ErrConnection,
}

// Error is a classified database error.
type Error struct {
	Kind       error  // the matching sentinel, or nil when the code has none
	Code       string // SQLSTATE, empty for errors that did not come from the server
	Message    string // the server's primary message
	Detail     string
	Schema     string
	Table      string
	Column     string
	Constraint string
	Err        error // the cause, which errors.As can reach
}

// Error describes the failure with its SQLSTATE and the objects involved.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	} else {
		b.WriteString("uno: database error")
	}
	if e.Code != "" {
		b.WriteString(" (SQLSTATE " + e.Code + ")")
	}
	if e.Constraint != "" {
		b.WriteString(" constraint " + e.Constraint)
	}
	if e.Table != "" {
		b.WriteString(" table " + e.Table)
	}
	if e.Column != "" {
		b.WriteString(" column " + e.Column)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the error's sentinel.
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// Classify turns err into an *Error when it holds a server error, a missing
// row or a connection failure, keeping err as the cause. Errors already
// classified, context errors and nil come back unchanged.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return &Error{
			Kind: kindByCode[pg.Code], Code: pg.Code, Message: pg.Message, Detail: pg.Detail,
			Schema: pg.SchemaName, Table: pg.TableName, Column: pg.ColumnName, Constraint: pg.ConstraintName,
			Err: err,
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &Error{Kind: ErrNotFound, Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if isNetwork(err) {
		return &Error{Kind: ErrConnection, Err: err}
	}
	return err
}

// Code returns the SQLSTATE carried by err, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code
	}
	return ""
}

// IsRetryableTx reports whether err means the whole transaction may be run
// again on a fresh snapshot: a serialization failure (40001) or a deadlock
// (40P01), found through any wrapping.
func IsRetryableTx(err error) bool {
	switch Code(err) {
	case CodeSerializationFailure, CodeDeadlockDetected:
		return true
	}
	return false
}

// IsTransientConnect reports whether err is a failure to reach a usable
// server that may pass on retry: refused or reset connections, SQLSTATE
// class 08, 57P01–57P03 and 53300. Context errors are never transient.
func IsTransientConnect(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if code := Code(err); code != "" {
		return strings.HasPrefix(code, "08") || code == CodeAdminShutdown || code == CodeCrashShutdown ||
			code == CodeCannotConnectNow || code == CodeTooManyConnections
	}
	return isNetwork(err)
}

// isNetwork reports whether err is a transport failure rather than a server
// answer.
func isNetwork(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

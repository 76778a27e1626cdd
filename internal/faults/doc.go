// Package faults is uno's fault suite: drills that run transactions
// through uno's engine, and through plain pgxpool beside it, while the
// server restarts, crashes, has its backends terminated, loses connections
// right before or after COMMIT, runs out of pooled connections, aborts
// serializable transactions, or sees calls canceled, and count the truth
// in the table afterwards.
//
// A [Suite] starts a private cluster (synchronous_commit=on, so an
// acknowledged commit survives a crash) and sets up one database with
// uno's roles. Each [Drill] runs with each [Kind] of client: every call is
// one attempt with a unique id whose transaction inserts one row with that
// id, so afterwards rows per id against what each call returned give the
// figures of a [Result]: attempted, acknowledged, lost, duplicated, failed
// but present, commit unknown and other errors. Requirements (nothing lost,
// nothing duplicated, no landed commit reported failed except as
// dberr.ErrCommitUnknown, and each drill's own) are [Check] values held
// against uno only; the baselines are measured.
//
// `make faults` runs the full suite (command ./internal/faults/cmd) and
// prints the table; the package's test runs the short form with uno only.
// docs/RELIABILITY.md has the table of a full run and what each figure
// means.
package faults

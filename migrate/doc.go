// Package migrate plans and applies schema changes: the Go form of uno's
// migration support (Alembic in the original).
//
// [Diff] compares two inspected databases (package catalog) and returns a
// [Plan]: the ordered statements that take the live database to the desired
// one, each marked when it is destructive or must run outside a transaction,
// and linted for the hazards of running it on a live table (table
// rewrites, indexes built without CONCURRENTLY, NOT NULL columns without a
// default, type changes, write-blocking locks). [Desired] builds the desired
// state by running the emitted DDL in a scratch database and inspecting it,
// so both sides are in the server's canonical form and applying the plan
// leaves no drift.
//
// A [Dir] of numbered migration files (0001_name.up.sql and
// 0001_name.down.sql) is applied by a [Migrator]: each migration in its own
// transaction (a file whose first line is "-- uno:no-transaction" runs
// statement by statement outside one), recorded with its checksum in a
// history table, under a session advisory lock held on a dedicated
// connection with lock_timeout set, so two runners never apply the same
// migration and a crashed runner's lock goes with its connection.
package migrate

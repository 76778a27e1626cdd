// Package migrate plans and applies schema changes: the Go form of uno's
// migration support (Alembic in the original). docs/MIGRATIONS.md is the
// guide.
//
// [Diff] compares two inspected databases (package catalog) and returns a
// [Plan]: the ordered statements that take the live database to the desired
// one, each marked when it is destructive or must run outside a transaction,
// and linted for the hazards of running it on a live table (table
// rewrites, indexes built without CONCURRENTLY, NOT NULL columns without a
// default, type changes, write-blocking locks, columns used by views). On
// the tables the desired state has, the plan manages only what it
// declares: unmanaged policies, row-level security, triggers, constraints,
// indexes, grants, defaults, generated expressions, deferrability and
// collations are kept, and removing them ([Options.DropUnmanaged]) is
// destructive and linted. Tables, columns and policies are rendered by
// package sqlbuild, as the table emitter renders them.
//
// [PlanLive] builds the desired state by running the emitted DDL in a
// scratch database, reads the live database in a read-only transaction,
// and returns the up plan and its [Reverse]; it changes nothing on the
// live cluster. [BaselinePlan] and [Migrator.Baseline] adopt an existing
// database; package migrate/gogen writes its models.
//
// A directory of numbered migration files (0001_name.up.sql and
// 0001_name.down.sql, [ReadDir], [WriteNext]) is applied by a [Migrator]:
// each migration in its own transaction, or, when it holds statements
// PostgreSQL refuses in one, in [Segments] whose progress is recorded so a
// retry resumes; recorded with its checksum in a history table, under a
// session advisory lock held on a dedicated connection with lock_timeout
// set, so two runners never apply the same migration and a crashed
// runner's lock goes with its connection. The runner checks table
// ownership before running a file ([ErrNotOwner]).
package migrate

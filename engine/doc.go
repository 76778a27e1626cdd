// Package engine is uno's connection layer: the Go form of uno's
// DatabaseFactory and its sync_connection / async_connection context
// managers.
//
// One [Factory] per process caches one pgx pool per (server, database, login
// role): [Factory.Open] returns the same [*DB] for every later request with
// that key. A DB offers
//
//   - the native pgx pool ([DB.Pool]: batches, pipelining, COPY), the
//     "async engine";
//   - a *sql.DB over the same pool ([DB.SQL]) for database/sql tools, the
//     "sync engine";
//   - scoped helpers: [DB.WithConn] borrows a connection, runs a function and
//     always releases it; [DB.WithTx] runs a function in a transaction,
//     committing on success and rolling back on error or panic;
//   - a session factory: [DB.Begin] starts a unit of work bound to one
//     transaction, committed or rolled back by the caller.
//
// # Roles and identity
//
// uno logs in as <db>_login and switches, per transaction, to the reader or
// writer role ([TxOptions.Role]) with set_config('role', …, true),
// which is SET LOCAL ROLE with the role name as a bind parameter. The admin
// role is reachable only from its own login, <db>_admin_login (emitters and
// migrations connect with it); from <db>_login, RoleAdmin fails with 42501. The
// transaction-local identity ([Identity]: user id, tenant id, superuser flag,
// claims) is set with set_config(name, value, true) under the "rls_var."
// prefix, which row-level security policies and audit triggers read. Nothing
// outlives its transaction, so a pooled connection never carries a role or
// an identity into someone else's work, and the design works behind
// PgBouncer in transaction mode. As a guard, in the same round trip as
// COMMIT or ROLLBACK (or on its own after [DB.WithConn]), every session-level
// setting is reset to its value at connect (RESET ALL; settings made by
// connection callbacks are kept), temporary objects are dropped, LISTEN,
// cursors and advisory locks are released; a connection whose role or
// session user was changed, or that holds a hand-made prepared statement,
// is destroyed. See docs/ARCHITECTURE.md, "The release guard".
//
// # Nesting
//
// A transaction travels in the context given to the function. A WithTx call
// whose context already carries a transaction of the same DB joins it inside
// a SAVEPOINT: an error from the inner function rolls back the inner work
// only and is returned to the outer function, which decides. The inner call
// may not ask for a different role, identity or isolation level than the
// outer transaction has ([ErrNestedOptions]). Repositories find the
// transaction with [DB.Querier].
//
// # Retry
//
// Borrowing a connection retries transient failures (refused connections,
// SQLSTATE class 08, 57P01–57P03, 53300) with exponential backoff and full
// jitter until config.Retry.MaxElapsed has passed (default 10s, enough to
// ride out a fast restart), bounded by the caller's context; a borrow that
// finds every connection in use until Pool.AcquireTimeout returns
// [dberr.ErrPoolTimeout], one whose caller's context ends returns an error
// matching that context's error instead. A transaction is run again as a whole, on a fresh
// connection and snapshot, only when the caller sets [TxOptions.Retry] and
// the failure is a serialization failure (40001), a deadlock (40P01), a
// connection lost before COMMIT was sent, a COMMIT proved aborted, or a
// connection failure before the function ran.
// It is never retried after the caller's context ended or on a canceled
// query (57014). When the connection is lost while COMMIT is in flight, the
// outcome is resolved instead of guessed: the transaction id and the server
// history it belongs to (system identifier, timeline, statistics reset
// time, postmaster start time) are recorded before COMMIT, and fresh
// connections ask pg_xact_status, retrying while the server restarts,
// within config.Retry.ResolveBudget. "Committed" is believed only when no
// crash or failover happened in between (a crash can hand the same id to
// another transaction); WithTx returns success when the commit is proved,
// retries (or returns the failure) when the abort is proved, and returns
// [dberr.ErrCommitUnknown] otherwise. docs/ARCHITECTURE.md lists the proofs
// and the cases that stay unknown.
package engine

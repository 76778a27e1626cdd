// Package emit renders DDL as data and runs it: the Go form of uno's
// SQLEmitter, its emitters, the emission registry and observers.
//
// # Statements and emitters
//
// A [Statement] (an alias of sqlbuild.Statement) carries a name, a [Kind]
// and the SQL text, and optionally Redacted (what to show when SQL holds a
// password), NoTx (CREATE DATABASE, CREATE INDEX CONCURRENTLY: must run
// outside a transaction block) and SkipIf (a query; the statement is
// skipped when it returns true). An [Emitter] has a name and returns
// statements; emitting is pure, so a plan can be printed ([Script]) or
// saved before anything runs.
//
// A [Runner] generates statements from emitters ([Runner.Generate]) and
// executes them ([Runner.Exec]) in order, consecutive statements in one
// transaction, switched to the admin role when Runner.Role is set; a NoTx
// statement commits what came before and runs alone. [Runner.ExecTx] runs
// statements inside the caller's transaction, e.g. engine.DB.WithTx with
// engine.RoleAdmin. Failures are returned as an *[Error] naming the
// statement, never swallowed. [Observer]s hear of every generation,
// execution (with its duration) and failure; [LogObserver] writes them to
// a slog.Logger. Observers and [Script] see Statement.Display, so a
// password never shows.
//
// # Database-level emitters
//
// [Database] describes an uno database. Its [Database.ClusterEmitters]
// run on the maintenance database as a superuser: [CreateRoles] (the six
// uno roles: base, reader, writer, admin, the application's login, which
// cannot become admin, and the admin login for emitters and migrations)
// and [CreateDatabase] (CREATE DATABASE … OWNER <admin>). Roles uno
// creates carry [RoleMarker]; a role that exists without it is never
// altered or dropped, and reserved names are refused ([ErrReservedRole]).
// [AdoptRoles] marks the roles of an older database. Its
// [Database.SetupEmitters] run in the new database: [CreateSchemas],
// [CreateExtensions] (pgcrypto and others), [Functions] (generate_ulid,
// set_role, the trigger functions, uno_rls_audit) and [Privileges]
// (nothing for PUBLIC, usage for the base role, default privileges,
// search paths). All are idempotent: running the whole set twice succeeds
// and changes nothing. [DropDatabase] drops the database and its roles.
//
// # Model-level emitters and the registry
//
// [TableEmitter] is uno's TableEmitter(model=…).emit(): from the metadata
// of registered models (package model) it produces CREATE SCHEMA, the enum
// types, CREATE TABLE IF NOT EXISTS in foreign-key dependency order,
// cyclic foreign keys, indexes and comments. [Grants] gives the table to
// the admin role and its privileges to the reader and writer;
// [RecordStatus] and [UserAudit] attach uno's status and audit triggers
// (soft delete and a required user per the model's SQLConfig);
// [TenantRLS] enables and forces row-level security with tenant policies
// reading rls_var.tenant_id (fail-closed when it is unset) and a
// superuser setting that bypasses them; [History] keeps every row version
// in <table>_history.
//
// A [Registry] holds model-level emitters by name; [DefaultSet] is the set
// a model wants (from its columns and its model.SQLConfig), and
// [Registry.ForModels] returns everything for a set of models in one call.
//
// # Signed identity
//
// With Database.SignedIdentity (and Options.SignedIdentity), policies
// and triggers take the tenant, user and superuser flag from
// uno_tenant_id(), uno_user_id() and uno_is_superuser() (and named claims
// from uno_claim(name)), which return the claims uno_sign_in verified for
// the transaction. uno_sign_in checks the application's HMAC once per
// transaction and keeps the claims in [SignedParameter], which only the
// admin role may set, so SQL inside the transaction cannot change the
// identity. [IdentitySecret] stores the shared secret; package identity
// signs the claims. docs/SECURITY.md has the threat model and the cost.
//
// # Row-level security audit
//
// [AuditRLS] and [CheckRLS] run uno_rls_audit() — tenant tables without
// ENABLE or FORCE ROW LEVEL SECURITY or with a permissive policy not
// reading the tenant setting, relations owned by the login role, uno roles
// with BYPASSRLS — and probe every tenant table as the writer with no
// tenant set: it must show no rows and refuse writes.
//
// # Trusted SQL
//
// Every identifier is quoted with package quote and every literal (a
// comment, a password, a trigger argument) goes through quote.Literal.
// Defaults, check expressions, index predicates and type overrides are SQL
// written by the model's author and are emitted as given: they are
// trusted, like the Go code that declares them, and must never be built
// from user input.
package emit

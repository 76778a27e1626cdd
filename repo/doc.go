// Package repo is uno's generic repository: the Go form of uno's UnoDB and
// UnoDBFactory(obj=Model). Repository[T] serves one registered model T:
//
//	customers, err := repo.New[Customer](db, reg)
//	err = customers.Create(ctx, &c)                       // db.create(...)
//	created, err := customers.CreateOrGet(ctx, &c, "email") // customer, created = ...
//	c, err := customers.Get(ctx, id)                       // db.get(id=...)
//	c, err = customers.GetBy(ctx, repo.Eq{"email": e})     // db.get(email=...)
//	err = customers.Update(ctx, c, "name")                 // db.update(...)
//	err = customers.Delete(ctx, c)                         // db.delete(...)
//	f, err := customers.ParseQuery("name__i_contains=jo&order_by=-created_at")
//	page, err := customers.Filter(ctx, f)                  // db.filter(...)
//	res, err := customers.Merge(ctx, rows, repo.MergeOptions{}) // db.merge(...)
//
// Beyond the seed: Count and keyset pages (Cursor, Filter.After), Stream
// (a Go 1.23 iterator over a large result), CreateMany and CopyFrom (bulk
// insert), MergeCopy (bulk merge through COPY and a staging table), Query,
// QueryMaps and Exec (raw SQL), TableKeys, Batch (several operations in one
// round trip) and Load (belongs-to, has-many and many-to-many relations of
// a slice, one query per relation).
//
// # SQL and scanning
//
// New builds the SQL text for insert, select by primary key, update and
// delete once. Rows are scanned straight into the struct fields through
// the model's per-column accessors (model.Row, precomputed offsets), so
// reading a row does no reflection by name. Every identifier is quoted,
// every table schema-qualified, and every value is a bind parameter;
// filter values for LIKE lookups have their wildcards escaped, and text
// values are bounded (Options.MaxTextValue, a VARCHAR's width).
//
// # Transactions and roles
//
// Every method takes a context. When the context carries a transaction of
// the repository's DB (engine.DB.WithTx, engine.Session.Context) or a
// borrowed connection (engine.DB.WithConn), the method runs on it, so
// repository calls compose into one unit of work; a method that needs a
// transaction (MergeCopy, a Merge or CreateMany of several statements, a
// Batch) begins it on that connection, never on a second one.
//
// Otherwise the method runs as Options.Roles says. The default, RolesAuto,
// fits a database set up by uno (uno db create): when the DB logs in as the
// login role its config names (the default user, <db>_login, which has no
// rights of its own), each call runs in a transaction of its own as the
// reader role (reads, read-only) or the writer role (writes), with
// Options.Identity set for the transaction, so repo.New[Customer](db, reg)
// just works. RolesLogin is the explicit opt-out for a login that holds
// the rights itself: calls run directly on the pool, in one round trip. A
// DB that logs in as any other user gets RolesLogin under RolesAuto.
//
// For a tenant model (one with a tenant_id column, model.Tenant), writes
// fill an empty tenant_id from the identity the call acts for (the
// transaction's, else Options.Identity) and refuse a struct naming another
// tenant (ErrTenantMismatch), so row-level security and the row agree.
//
// # Errors
//
// Errors are classified by package dberr: a missing row, whatever the
// operation (Get, GetBy, Update, Patch, Delete, DeleteKey, Purge, a queued
// operation of a Batch), matches dberr.ErrNotFound, pgx.ErrNoRows and
// sql.ErrNoRows; a natural key matching several rows
// dberr.ErrMultipleRows, a failed version check dberr.ErrConflict. A
// constraint violation is a *ConstraintError that names the constraint and
// maps it back to the model and its fields, and matches
// dberr.ErrUniqueViolation (or the foreign key or check sentinel). Bad field
// names, lookups and values are *FieldError values, found before any SQL is
// sent, fit for an HTTP 400. Messages carry one package prefix: "repo:
// get shop.Customer: not found: no rows in result set".
//
// # Soft delete
//
// A model with the record-status mixin (a BOOLEAN is_deleted column) is
// deleted softly: Delete sets is_deleted and deleted_at. Reads leave such
// rows out unless asked: Repository.WithDeleted, Filter.WithDeleted. Purge
// deletes for good. Updates of such models set modified_at and leave
// created_at, is_deleted and deleted_at alone.
//
// docs/REPOSITORY.md maps each of uno's UnoDB operations to this package.
package repo

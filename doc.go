// Package uno is the database layer of uno for Go: PostgreSQL through pgx
// v5, with declarative models, DDL emission, connection management and
// repositories.
//
// The root package holds only what a model declaration needs to read
// naturally; the work is done in the subpackages:
//
//   - model: struct tags into table metadata, in a registry (uno's UnoModel)
//   - types: the standard column types (uno's PostgresTypes)
//   - emit: DDL statements as data, and the table emitter (uno's TableEmitter)
//
// See docs/MODELS.md for the tag syntax and the mapping from uno's Python
// names to these packages.
package uno

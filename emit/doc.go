// Package emit renders DDL as data: each [Statement] carries a name, a
// [Kind] and the SQL text, so callers can print a plan (dry run), write a
// migration file, or run it with [Exec].
//
// [TableEmitter] is the Go form of uno's TableEmitter(model=…).emit(): from
// the metadata of registered models (package model) it produces, in order,
// CREATE SCHEMA for the models' schemas, the enum types (CREATE TYPE … AS
// ENUM, guarded so a second run is harmless), CREATE TABLE IF NOT EXISTS in
// foreign-key dependency order (with the primary key, unique, check and
// foreign key constraints inline), foreign keys of dependency cycles as
// ALTER TABLE … ADD CONSTRAINT (guarded), indexes (IF NOT EXISTS), and
// comments. The same models always give the same text.
//
// Every identifier is quoted with package quote and every comment is an
// escaped literal. Defaults, check expressions, index predicates and type
// overrides are SQL written by the model's author and are emitted as given:
// they are trusted, like the Go code that declares them, and must never be
// built from user input.
package emit

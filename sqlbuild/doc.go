// Package sqlbuild builds PostgreSQL DDL statements as data: a [Statement]
// carries a name, a [Kind] and its SQL text, and the builders — [Function],
// [Trigger], [Index] and [Policy] — turn plain Go values into statements
// with every identifier quoted (package quote) and every literal escaped
// through quote.Literal.
//
// Builders check their input and return an error wrapping [ErrInvalid]
// that names the builder and the field: a name that is empty, holds a NUL
// byte or is longer than PostgreSQL's 63-byte limit (which would silently
// truncate it), a missing return type or event, a policy clause the command
// does not allow. Nothing panics on bad input.
//
// Names are always quoted, so they may hold quotes, semicolons, dollar
// signs or any Unicode text. Types, function bodies, WHEN conditions,
// index expressions and predicates and policy expressions are SQL written
// by the program's author: they are trusted and emitted as given (a NUL
// byte, which would cut the statement short on the wire, is refused).
// Never build them from user input.
//
// Package emit runs statements and groups them into emitters; it re-exports
// [Statement] and [Kind].
package sqlbuild

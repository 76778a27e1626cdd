// Package config is uno's ConnectionConfig: libpq's connection settings,
// parsed by pgx, with uno's own settings beside them (role names, pool,
// retry, schema, statement timeout, query execution mode, pooler).
//
// Build a Config with [Parse] (a URL or keyword/value string), [FromEnv]
// (DATABASE_URL over the PG* variables) or a struct literal passed through
// [Config.WithDefaults]. Parsing goes through pgx.ParseConfig, so every key
// and environment variable libpq and pgx accept works: sslmode with
// sslrootcert, sslcert, sslkey and sslpassword; several hosts
// (host=a,b port=5432,5433) with target_session_attrs (read-write, primary,
// standby, prefer-standby, …); connect_timeout; passfile and service. Before
// any connection, every input is checked: an unknown key, a malformed
// string, a missing or unreadable certificate or key file, or a bad
// sslmode or target_session_attrs value is a [*FieldError] naming the field
// and key; no error and no printed form of a Config ever shows a password.
//
// A Config is a value and copies safely. Hand it to engine.Factory.Open,
// or take a fresh pgx configuration from it with [Config.ConnConfig],
// [Config.PoolConfig], [Config.Connect] or [Config.NewPool]: the parsed
// configuration flows as a value, never back through a string. Use
// [Config.ForDatabase] for another database on the same server: it derives
// that database's role names (and login, when it was derived); changing
// Database by hand keeps the old names and [Config.Validate] reports it.
//
// Behind PgBouncer in transaction mode set Pooler to "pgbouncer" (key
// pooler=pgbouncer): the query mode defaults to cache_describe (works on
// every PgBouncer version; cache_statement needs 1.21 or later with
// max_prepared_statements), only the startup parameters PgBouncer tracks are
// sent at connect, and [Config.TxSettings] lists the settings (search_path,
// statement_timeout, …) to apply per transaction instead.
package config

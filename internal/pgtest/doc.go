// Package pgtest gives tests a real PostgreSQL server.
//
// The server is chosen in this order:
//
//  1. UNO_TEST_DATABASE_URL, when set, names a server the tests may use. It
//     must allow creating databases and roles.
//  2. Otherwise a throwaway cluster is created with initdb and started with
//     pg_ctl, found on PATH or under /usr/lib/postgresql/*/bin, in a
//     temporary directory and on a free loopback port. When the tests run as
//     root the cluster runs as the unprivileged user "nobody", because
//     PostgreSQL refuses to run as root.
//  3. Otherwise the test fails with a message that says how to install
//     PostgreSQL. A database test never skips.
//
// Each test package calls [Main] from its TestMain so the cluster is stopped
// when the package's tests end. Each test asks [NewDatabase] for a database of
// its own, so tests run in parallel without seeing each other's tables. A
// test that must stop and restart a server asks [StartCluster] for a private
// cluster. [TLSServer] is a cluster with ssl=on and a generated CA,
// [Replicated] a primary with a streaming standby, and [PgBouncer] a
// PgBouncer in transaction mode in front of the shared server, each started
// once per test package on first use.
package pgtest

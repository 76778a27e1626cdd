package engine

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/quote"
)

// The release guard. A pooled connection must go back exactly as it came:
// any session state that could change what the next borrower sees or may
// do is reset, or the connection is destroyed. It runs in the same
// simple-protocol message as COMMIT or ROLLBACK (one round trip), and on its
// own when a scoped helper returns a connection that is not in a
// transaction.
//
// Reset, cheaply and without losing pgx's prepared statement cache (which
// DISCARD ALL would throw away, costing a Parse round trip per statement on
// the next use):
//
//   - RESET ALL: every session-level setting, so every rls_var.* claim,
//     search_path, statement_timeout, … goes back to its value at connect
//     (startup parameters, ALTER ROLE/DATABASE SET). Settings a connection
//     callback made are recorded when the connection is opened and set
//     again right after.
//   - DISCARD TEMP: temporary tables, views, sequences and types, so none
//     can shadow a table for the next borrower.
//   - UNLISTEN *: no notifications for channels the next borrower did not
//     ask for.
//   - CLOSE ALL: cursors WITH HOLD.
//   - pg_advisory_unlock_all(): session-level advisory locks.
//
// Checked, destroying the connection when the check fails (these cannot be
// reset without also touching pgx's own state or need a superuser):
//
//   - session_user is the configured login role (SET SESSION AUTHORIZATION
//     by a superuser login changes it) and current_user equals it (no
//     session-level SET ROLE);
//   - no prepared statement made with SQL PREPARE (pgx prepares through
//     the protocol; a hand-made one could take a name pgx uses).

// guardKey is the key under which a connection's restore statement (the
// session settings its callbacks made) is kept in pgconn's CustomData.
const guardKey = "uno.guard.restore"

// guardSQL returns the reset statements and the check for conn, ending in
// one SELECT that returns true when the connection is clean, as one
// simple-protocol message.
func (db *DB) guardSQL(conn *pgx.Conn) string {
	return strings.Join(db.guardList(conn), "; ")
}

// guardList returns guardSQL's statements one by one, for the pipelined
// call (single.go), which sends each as its own extended-protocol
// statement; the check comes last.
func (db *DB) guardList(conn *pgx.Conn) []string {
	list := []string{"RESET ALL"}
	if restore, _ := conn.PgConn().CustomData()[guardKey].(string); restore != "" {
		list = append(list, restore)
	}
	return append(list, "DISCARD TEMP", "UNLISTEN *", "CLOSE ALL",
		"SELECT session_user = "+quote.Literal(db.cfg.User)+" AND current_user = session_user"+
			" AND NOT EXISTS (SELECT FROM pg_prepared_statements WHERE from_sql)"+
			" FROM (SELECT pg_advisory_unlock_all()) AS unlocked")
}

// guardStatements is how many results guardSQL yields without a restore.
const guardStatements = 5

// recordSession remembers the session-level settings a new connection has
// after its callbacks ran, so the guard can set them again after RESET ALL.
// Without callbacks there are none.
func (db *DB) recordSession(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, "SELECT name, setting FROM pg_settings WHERE source = 'session'"+
		" AND name NOT IN ('role', 'session_authorization') ORDER BY name")
	if err != nil {
		return err
	}
	kv, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Name, Setting string }])
	if err != nil {
		return err
	}
	if len(kv) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, s := range kv {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("set_config(" + quote.Literal(s.Name) + ", " + quote.Literal(s.Setting) + ", false)")
	}
	conn.PgConn().CustomData()[guardKey] = b.String()
	return nil
}

// guardResult tells what the guard found.
type guardResult int

const (
	guardClean guardResult = iota
	guardDirty             // the guard answered false, or the server refused a statement of it
	guardDead              // the connection died before the guard answered
)

// judgeGuard reads the results of a message that ended with guardSQL.
func judgeGuard(conn *pgx.Conn, results []*pgconn.Result, err error) guardResult {
	if conn.IsClosed() {
		return guardDead
	}
	if err != nil || len(results) == 0 {
		return guardDirty
	}
	last := results[len(results)-1]
	if last.Err == nil && len(last.Rows) == 1 && len(last.Rows[0]) == 1 && string(last.Rows[0][0]) == "t" {
		return guardClean
	}
	return guardDirty
}

// afterGuard acts on the guard's finding: a dirty connection is closed so
// the pool destroys it and counted as a discard; a dead one is counted as
// dead. It reports whether the connection may go back to the pool.
func (db *DB) afterGuard(ctx context.Context, conn *pgx.Conn, g guardResult, err error) bool {
	switch g {
	case guardClean:
		return true
	case guardDead:
		db.markSuspect()
		db.log.Warn("uno: connection lost while it was being cleaned for the pool", "pool", db.cfg.Key().String(), "err", err)
		return false
	}
	db.discards.Add(1)
	db.log.Warn("uno: connection discarded: session state left on it (role, session user or prepared statement)",
		"pool", db.cfg.Key().String(), "err", err)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = conn.Close(cctx)
	return false
}

// runGuard runs the guard alone on an idle connection.
func (db *DB) runGuard(ctx context.Context, conn *pgx.Conn) bool {
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	results, err := conn.PgConn().Exec(gctx, db.guardSQL(conn)).ReadAll()
	if err == nil && len(results) < guardStatements {
		err = errors.New("the guard returned too few results")
	}
	return db.afterGuard(ctx, conn, judgeGuard(conn, results, err), err)
}

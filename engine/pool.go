package engine

import "github.com/jackc/pgx/v5/pgxpool"

// IsPool reports whether q is db's pool: a query on it borrows a
// connection for that one statement, outside any transaction or held
// connection, as the login role. It is what [DB.Querier] returns for a
// context that carries neither a transaction nor a connection of db.
func (db *DB) IsPool(q Querier) bool {
	p, ok := q.(*pgxpool.Pool)
	return ok && p == db.pool
}

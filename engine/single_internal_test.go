package engine

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"testing"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/internal/pgtest"
)

// TestSingleStatementCacheEvicts: with a cache of two statements, the
// connection never holds more than two of Single's prepared statements
// (evicted ones are closed in the next pipeline), and an evicted statement
// is prepared again when it comes back.
func TestSingleStatementCacheEvicts(t *testing.T) {
	t.Parallel()
	pdb := pgtest.NewDatabase(t)
	u, _ := url.Parse(pdb.URL)
	port, _ := strconv.Atoi(u.Port())
	f, err := NewFactory(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	cfg := config.Config{Host: u.Hostname(), Port: port, Database: pdb.Name, User: u.User.Username(), SSLMode: "disable"}
	cfg.Pool.MaxConns = 1
	db, err := f.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pc, err := db.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cache := stmtCacheOf(pc.Conn().PgConn(), 2)
	db.release(pc, true)
	for _, n := range []int{1, 2, 3, 4, 5, 1, 2} {
		var held int
		if err := db.Single(ctx, TxOptions{ReadOnly: true}, func(ctx context.Context, q Querier) error {
			return q.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'uno\\_%%' -- %d", n)).Scan(&held)
		}); err != nil {
			t.Fatalf("statement %d: %v", n, err)
		}
		if held < 1 || held > 2 {
			t.Fatalf("statement %d: the connection holds %d of Single's statements, want 1 or 2", n, held)
		}
		if cache.lru.Len() > 2 {
			t.Fatalf("cache of %d", cache.lru.Len())
		}
	}
}

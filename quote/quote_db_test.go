package quote_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// hostile holds names and values meant to break naive SQL building.
var hostile = []string{
	"user", "order", "select", `a"b`, `"; DROP TABLE canary; --`, "it's", `back\slash`,
	"$$", "$tag$", "/* comment", "-- comment", "semi;colon", "ünïcödé ✓", "with space",
	`" tricky, ' } "" \ test user "`, "%_wild%", "E'x'", "\\'", "'", `"`,
}

// TestRoundTrip proves on a real server that quoted literals read back as the
// same text and quoted identifiers name exactly the intended table.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE canary (id int); INSERT INTO canary VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(hostile, strings.Repeat("x'", 5000)) {
		var got string
		if err := conn.QueryRow(ctx, "SELECT "+quote.Literal(s)).Scan(&got); err != nil {
			t.Fatalf("literal %q: %v", s, err)
		}
		if got != s {
			t.Fatalf("literal %q read back as %q", s, got)
		}
		name := s
		if len(name) > 63 {
			continue
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE "+quote.Ident(name)+" (v text)"); err != nil {
			t.Fatalf("create table %q: %v", name, err)
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = $1 AND relkind = 'r'", name).Scan(&n); err != nil || n != 1 {
			t.Fatalf("table %q: found %d (%v)", name, n, err)
		}
		if _, err := conn.Exec(ctx, "DROP TABLE "+quote.Ident(name)); err != nil {
			t.Fatalf("drop table %q: %v", name, err)
		}
	}
	var rows int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM canary").Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("canary: %d rows (%v)", rows, err)
	}
}

package migrate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/migrate"
)

// TestMigratorNeedsSession: a Config through PgBouncer (Pooler
// "pgbouncer") is refused with ErrNeedsSession before anything runs; with
// Direct set the migrator works on the server itself.
func TestMigratorNeedsSession(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	bounced, err := config.Parse(pgtest.BouncerURL(t, db.URL))
	if err != nil {
		t.Fatal(err)
	}
	bounced.Pooler = config.PoolerPgBouncer
	migs := []migrate.Migration{{Version: 1, Name: "t", Up: "CREATE TABLE t (id int)", Checksum: "x"}}
	ctx := context.Background()
	if _, err := (&migrate.Migrator{Config: bounced}).Up(ctx, migs, 0); !errors.Is(err, migrate.ErrNeedsSession) {
		t.Fatalf("want ErrNeedsSession, got %v", err)
	}
	if pgtest.Scalar[bool](t, db.URL, `SELECT to_regclass('uno_schema_migrations') IS NOT NULL OR to_regclass('t') IS NOT NULL`) {
		t.Fatal("a refused migrator wrote to the database")
	}
	direct, err := config.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&migrate.Migrator{Config: bounced, Direct: &bounced}).Up(ctx, migs, 0); !errors.Is(err, migrate.ErrNeedsSession) {
		t.Fatalf("a Direct through PgBouncer: want ErrNeedsSession, got %v", err)
	}
	done, err := (&migrate.Migrator{Config: bounced, Direct: &direct}).Up(ctx, migs, 0)
	if err != nil || len(done) != 1 {
		t.Fatalf("with Direct: %d applied, %v", len(done), err)
	}
	if !pgtest.Scalar[bool](t, db.URL, `SELECT to_regclass('t') IS NOT NULL`) {
		t.Fatal("the migration did not run")
	}
}

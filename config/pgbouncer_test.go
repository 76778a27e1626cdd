package config_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
)

// unoRoles creates uno's roles for db by hand (login NOINHERIT, reader,
// writer) and a table the writer may insert into.
func unoRoles(t *testing.T, db pgtest.Database) config.Roles {
	t.Helper()
	r := config.DefaultRoles(db.Name)
	id := func(s string) string { return pgx.Identifier{s}.Sanitize() }
	pgtest.Exec(t, db.URL,
		"CREATE ROLE "+id(r.Login)+" LOGIN NOINHERIT",
		"CREATE ROLE "+id(r.Reader),
		"CREATE ROLE "+id(r.Writer),
		"GRANT "+id(r.Reader)+", "+id(r.Writer)+" TO "+id(r.Login),
		"CREATE TABLE work (id bigserial PRIMARY KEY, worker int NOT NULL, n int NOT NULL, "+
			"who text NOT NULL DEFAULT current_user, uid text NOT NULL DEFAULT current_setting('rls_var.user_id'))",
		"GRANT SELECT ON work TO "+id(r.Reader)+", "+id(r.Writer),
		"GRANT INSERT ON work TO "+id(r.Writer),
		"GRANT USAGE ON SEQUENCE work_id_seq TO "+id(r.Writer),
	)
	return r
}

// TestThroughPgBouncer: with Pooler "pgbouncer", 8 workers × 50
// transactions through a real PgBouncer in transaction mode switch roles
// and identities per transaction correctly, and every row lands.
func TestThroughPgBouncer(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	roles := unoRoles(t, db)
	b := pgtest.PgBouncer(t)
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s sslmode=disable pooler=pgbouncer pool_max_conns=8 "+
		"statement_timeout=30s timezone=UTC", b.Port(), db.Name)
	cfg, err := config.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != roles.Login {
		t.Fatalf("login %q", cfg.User)
	}
	if !b.AtLeast(1, 21) && cfg.QueryExecMode != "cache_describe" {
		t.Fatalf("PgBouncer %v without prepared statements, exec mode %q", b.Version(), cfg.QueryExecMode)
	}
	ctx := context.Background()
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(ctx)
	udb, err := f.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const workers, txs = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			written := 0
			for i := range txs {
				uid := fmt.Sprintf("w%d-%d", w, i)
				opts := engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{UserID: uid}}
				if i%2 == 0 {
					opts.Role = engine.RoleWriter
				}
				err := udb.WithTx(ctx, opts, func(ctx context.Context, tx *engine.Tx) error {
					var user, got string
					if err := tx.QueryRow(ctx, "SELECT current_user, current_setting('rls_var.user_id')").Scan(&user, &got); err != nil {
						return err
					}
					want := roles.Reader
					if opts.Role == engine.RoleWriter {
						want = roles.Writer
					}
					if user != want || got != uid {
						return fmt.Errorf("tx %s runs as %s with user_id %q", uid, user, got)
					}
					if opts.Role == engine.RoleWriter {
						_, err := tx.Exec(ctx, "INSERT INTO work (worker, n) VALUES ($1, $2)", w, i)
						return err
					}
					var n int
					if err := tx.QueryRow(ctx, "SELECT count(*) FROM work WHERE worker = $1", w).Scan(&n); err != nil {
						return err
					}
					if n != written {
						return fmt.Errorf("worker %d sees %d of its rows, wrote %d", w, n, written)
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
				if opts.Role == engine.RoleWriter {
					written++
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	// The truth, read directly from the server.
	if n := pgtest.Scalar[int64](t, db.URL, "SELECT count(*) FROM work"); n != workers*txs/2 {
		t.Fatalf("%d rows, want %d", n, workers*txs/2)
	}
	if n := pgtest.Scalar[int64](t, db.URL, "SELECT count(*) FROM work WHERE who <> $1 OR uid <> 'w' || worker || '-' || n", roles.Writer); n != 0 {
		t.Fatalf("%d rows written by another role or identity", n)
	}
	// Between transactions the pooled connections carry no role: a plain
	// query as the login role sees no uno setting.
	var user, uid string
	if err := udb.Pool().QueryRow(ctx, "SELECT current_user, coalesce(current_setting('rls_var.user_id', true), '')").Scan(&user, &uid); err != nil {
		t.Fatal(err)
	}
	if user != roles.Login || uid != "" {
		t.Fatalf("outside a transaction: %s, user_id %q", user, uid)
	}
	// Only settings PgBouncer tracks went in the startup message; the rest
	// wait for the transaction.
	if got := fmt.Sprint(cfg.TxSettings()); got != "[{statement_timeout 30000}]" {
		t.Fatalf("TxSettings %s", got)
	}
}

// TestPgBouncerNeedsPooler: the same settings without Pooler send
// statement_timeout at connect, which PgBouncer refuses.
func TestPgBouncerNeedsPooler(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	u, err := url.Parse(pgtest.BouncerURL(t, db.URL))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("user", "postgres")
	q.Set("statement_timeout", "30s")
	u.RawQuery = q.Encode()
	cfg, err := config.Parse(u.String())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := cfg.Connect(context.Background())
	if err == nil {
		conn.Close(context.Background())
		t.Fatal("PgBouncer accepted statement_timeout as a startup parameter")
	}
	var fe *config.FieldError
	if errors.As(err, &fe) {
		t.Fatalf("a config error, not PgBouncer's: %v", err)
	}
	cfg.Pooler = config.PoolerPgBouncer
	conn, err = cfg.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var port string
	if err := conn.QueryRow(context.Background(), "SELECT current_setting('port')").Scan(&port); err != nil {
		t.Fatal(err)
	}
	if port == strconv.Itoa(pgtest.PgBouncer(t).Port()) {
		t.Fatal("not through PgBouncer?")
	}
}

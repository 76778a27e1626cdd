package engine_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgproxy"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is one test's database with uno's roles, and a factory.
type env struct {
	t       *testing.T
	db      pgtest.Database
	cfg     config.Config // logs in as <db>_login
	factory *engine.Factory
}

// newEnv creates a database, uno's five roles for it, and a table "item"
// the writer may write. cfg logs in as the login role.
func newEnv(t *testing.T, opts engine.Options) *env {
	t.Helper()
	db := pgtest.NewDatabase(t)
	r := config.DefaultRoles(db.Name)
	pgtest.Exec(t, db.URL,
		"CREATE ROLE "+quote.Ident(r.Base)+" NOLOGIN",
		"CREATE ROLE "+quote.Ident(r.Reader)+" NOLOGIN IN ROLE "+quote.Ident(r.Base),
		"CREATE ROLE "+quote.Ident(r.Writer)+" NOLOGIN IN ROLE "+quote.Ident(r.Base),
		"CREATE ROLE "+quote.Ident(r.Admin)+" NOLOGIN IN ROLE "+quote.Ident(r.Base),
		"CREATE ROLE "+quote.Ident(r.Login)+" LOGIN NOINHERIT IN ROLE "+
			quote.Ident(r.Reader)+", "+quote.Ident(r.Writer)+", "+quote.Ident(r.Admin),
		"CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL, n int NOT NULL DEFAULT 0)",
		"CREATE TABLE child (id int PRIMARY KEY, item_id int NOT NULL REFERENCES item(id))",
		"GRANT USAGE ON SCHEMA public TO "+quote.Ident(r.Base),
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+quote.Ident(r.Reader),
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "+quote.Ident(r.Writer)+", "+quote.Ident(r.Login),
		"GRANT ALL ON ALL TABLES IN SCHEMA public TO "+quote.Ident(r.Admin),
	)
	u, _ := url.Parse(db.URL)
	port, _ := strconv.Atoi(u.Port())
	cfg := config.Config{Host: u.Hostname(), Port: port, Database: db.Name, SSLMode: "disable",
		Retry: config.Retry{InitialDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}}.WithDefaults()
	f, err := engine.NewFactory(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	return &env{t: t, db: db, cfg: cfg, factory: f}
}

// open opens cfg (edited by edit, if given) through the env's factory.
func (e *env) open(edit func(*config.Config)) *engine.DB {
	e.t.Helper()
	cfg := e.cfg
	if edit != nil {
		edit(&cfg)
	}
	db, err := e.factory.Open(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return db
}

// newProxy starts a pgproxy in front of the test server, closed with the test.
func newProxy(t *testing.T, target string) *pgproxy.Proxy {
	t.Helper()
	p, err := pgproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

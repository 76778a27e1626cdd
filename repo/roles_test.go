package repo_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
)

// unoDB is a database set up the way `uno db create` sets one up: uno's
// roles, schemas, functions and privileges from the database-level
// emitters, the models' tables created by the emitters as the admin role,
// and a DB logging in as the login role, which has no rights of its own.
type unoDB struct {
	url string // superuser URL of the database
	cfg config.Config
	db  *engine.DB
	reg *model.Registry
}

func newUnoDB(t *testing.T, models ...any) *unoDB {
	t.Helper()
	ctx := context.Background()
	pg := pgtest.NewDatabase(t)
	d := emit.Database{Name: pg.Name, Schemas: []string{"shop"}}
	var run emit.Runner
	for _, step := range []struct {
		url      string
		emitters []emit.Emitter
	}{{pgtest.AdminURL(t), d.ClusterEmitters()}, {pg.URL, d.SetupEmitters()}} {
		conn, err := pgx.Connect(ctx, step.url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = run.Run(ctx, conn, step.emitters...)
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
	}
	reg := model.NewRegistry()
	if err := reg.Register(models...); err != nil {
		t.Fatal(err)
	}
	emitters, err := emit.NewRegistry(d.Options()).ForModels(reg.Tables()...)
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := run.Generate(emitters...)
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(pg.URL)
	port, _ := strconv.Atoi(pu.Port())
	cfg := config.Config{Host: pu.Hostname(), Port: port, Database: pg.Name, SSLMode: "disable",
		Retry: config.Retry{InitialDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}}.WithDefaults()
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	db, err := f.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The models are created as the admin role through the admin login:
	// the application's login role cannot become admin.
	adminCfg := cfg
	adminCfg.User = d.Name + emit.AdminLoginSuffix
	adb, err := f.Open(ctx, adminCfg)
	if err != nil {
		t.Fatal(err)
	}
	err = adb.WithTx(ctx, engine.TxOptions{Role: engine.RoleAdmin}, func(ctx context.Context, tx *engine.Tx) error {
		return run.ExecTx(ctx, tx, stmts)
	})
	if err != nil {
		t.Fatal(err)
	}
	return &unoDB{url: pg.URL, cfg: cfg, db: db, reg: reg}
}

// TestDefaultWorksOnUnoDatabase runs the first example of docs/REPOSITORY.md
// on a database set up like `uno db create`: the repository with no
// options works, as the reader and writer roles; the explicit plain-login
// opt-out runs as the login role and is refused.
func TestDefaultWorksOnUnoDatabase(t *testing.T) {
	u := newUnoDB(t, (*Customer)(nil))
	ctx := context.Background()
	customers, err := repo.New[Customer](u.db, u.reg)
	if err != nil {
		t.Fatal(err)
	}
	c := Customer{Name: "Ada", Email: "ada@example.com", Age: 36}
	if err := customers.Create(ctx, &c); err != nil {
		t.Fatalf("create on a uno database with default options: %v", err)
	}
	if len(c.ID) != 26 {
		t.Errorf("key %q not generated", c.ID)
	}
	got, err := customers.Get(ctx, c.ID)
	if err != nil || got.Email != c.Email {
		t.Fatalf("get: %+v, %v", got, err)
	}
	c.Age = 37
	if err := customers.Update(ctx, &c, "age"); err != nil {
		t.Fatal(err)
	}
	page, err := customers.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: "age", Lookup: "gte", Value: 37}}})
	if err != nil || len(page) != 1 {
		t.Fatalf("filter: %v, %v", page, err)
	}
	// Reads ran as the reader, writes as the writer.
	rows, err := customers.QueryMaps(ctx, "SELECT current_user::text AS u")
	if err != nil {
		t.Fatal(err)
	}
	reader, _ := rows[0]["u"].(string)
	n, err := customers.Exec(ctx, "UPDATE customer SET name = current_user WHERE id = $1", c.ID)
	if err != nil || n != 1 {
		t.Fatal(n, err)
	}
	back, err := customers.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	writer := string(back.Name)
	if reader != u.cfg.Roles.Reader || writer != u.cfg.Roles.Writer {
		t.Errorf("reads as %q, writes as %q; want %q and %q", reader, writer, u.cfg.Roles.Reader, u.cfg.Roles.Writer)
	}
	if err := customers.Delete(ctx, &c); err != nil {
		t.Fatal(err)
	}

	// The explicit opt-out runs as the login role, which may do nothing.
	plain, err := repo.New[Customer](u.db, u.reg, repo.Options{Roles: repo.RolesLogin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Filter(ctx, repo.Filter{}); !errors.Is(err, dberr.ErrPermissionDenied) {
		t.Errorf("plain login read: %v, want permission denied", err)
	}
	if _, err := repo.New[Customer](u.db, u.reg, repo.Options{Roles: repo.RolesLogin, SwitchRoles: true}); err == nil {
		t.Error("contradicting options accepted")
	}
}

// TestIsPool checks engine.DB.IsPool, which the repository asks instead
// of testing for *pgxpool.Pool itself.
func TestIsPool(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := newEnv(t)
	ctx := context.Background()
	if !e.db.IsPool(e.db.Querier(ctx)) {
		t.Error("the pool is not the pool")
	}
	if e.db.IsPool(other.db.Querier(ctx)) {
		t.Error("another DB's pool is this DB's pool")
	}
	_ = e.db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		if e.db.IsPool(e.db.Querier(ctx)) || e.db.IsPool(tx) {
			t.Error("a transaction is the pool")
		}
		return nil
	})
	_ = e.db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		if e.db.IsPool(e.db.Querier(ctx)) || e.db.IsPool(c) {
			t.Error("a held connection is the pool")
		}
		return nil
	})
}

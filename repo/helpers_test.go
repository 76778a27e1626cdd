package repo_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Customer is a plain model with a ULID key and a natural key.
type Customer struct {
	uno.Model `uno:"table:customer"`
	model.ULIDKey
	Name    types.String255 `uno:"name"`
	Email   types.String255 `uno:"email,unique"`
	Age     int64           `uno:"age"`
	Score   *float64        `uno:"score"`
	Balance types.Decimal   `uno:"balance,default:0"`
	Notes   *string         `uno:"notes"`
	VIP     bool            `uno:"vip"`
	Joined  time.Time       `uno:"joined,default:now()"`
	Born    *types.Date     `uno:"born"`
}

// Order is a soft-deleting model on a reserved-word table, with a version.
type Order struct {
	uno.Model `uno:"table:order"`
	model.ULIDKey
	model.RecordStatus
	Code    types.String64 `uno:"code,unique"`
	Status  OrderStatus    `uno:"status,default:'new'"`
	Title   string         `uno:"title"`
	Version int64          `uno:"version,default:1"`
}

// OrderStatus is an enum.
type OrderStatus string

// EnumValues lists the labels.
func (OrderStatus) EnumValues() []string { return []string{"new", "paid", "shipped", "50%_off"} }

// Item has a key the caller chooses, for merges.
type Item struct {
	uno.Model `uno:"table:item"`
	ID        int64     `uno:"id,pk"`
	Name      string    `uno:"name"`
	Qty       int64     `uno:"qty"`
	Tags      []string  `uno:"tags"`
	Touched   time.Time `uno:"touched,default:now()"`
}

// Author and Book are related models.
type Author struct {
	uno.Model `uno:"table:author"`
	ID        int64  `uno:"id,pk"`
	Name      string `uno:"name"`
	Books     []Book `uno:",has_many"`
}

// Book belongs to an author.
type Book struct {
	uno.Model `uno:"table:book"`
	ID        int64   `uno:"id,pk"`
	AuthorID  int64   `uno:"author_id"`
	Title     string  `uno:"title"`
	Author    *Author `uno:",belongs_to"`
}

// Post has tags through post_tag.
type Post struct {
	uno.Model `uno:"table:post"`
	ID        int64  `uno:"id,pk"`
	Title     string `uno:"title"`
	Tags      []*Tag `uno:",many_to_many:post_tag"`
}

// Tag is a label of posts.
type Tag struct {
	uno.Model `uno:"table:tag"`
	ID        int64  `uno:"id,pk"`
	Name      string `uno:"name"`
}

// PostTag links posts and tags.
type PostTag struct {
	uno.Model `uno:"table:post_tag"`
	PostID    int64 `uno:"post_id,pk,fk:post"`
	TagID     int64 `uno:"tag_id,pk,fk:tag"`
}

// Canary is a table hostile input must never touch.
type Canary struct {
	uno.Model `uno:"table:canary"`
	ID        int64 `uno:"id,pk"`
}

// generateULID creates uno's generate_ulid(), executable by everyone.
func generateULID() string {
	stmts, err := emit.ULIDFunction("public")
	if err != nil {
		panic(err)
	}
	sqls := make([]string, len(stmts))
	for i, st := range stmts {
		sqls[i] = st.SQL
	}
	return strings.Join(sqls, ";\n")
}

// env is one test's database: uno's roles, the test models' tables, a
// factory and a DB logged in as <db>_login.
type env struct {
	t   testing.TB
	url string // superuser URL
	cfg config.Config
	f   *engine.Factory
	db  *engine.DB
	reg *model.Registry
}

func newEnv(t testing.TB) *env { t.Helper(); return newEnvOpts(t, engine.Options{}) }

// newEnvOpts is newEnv with factory options.
func newEnvOpts(t testing.TB, opts engine.Options) *env {
	t.Helper()
	pdb := pgtest.NewDatabase(t)
	reg := model.NewRegistry()
	if err := reg.Register((*Customer)(nil), (*Order)(nil), (*Item)(nil), (*Author)(nil), (*Book)(nil),
		(*Tag)(nil), (*Post)(nil), (*PostTag)(nil), (*Canary)(nil)); err != nil {
		t.Fatal(err)
	}
	r := config.DefaultRoles(pdb.Name)
	q := quote.Ident
	pgtest.Exec(t, pdb.URL,
		"CREATE ROLE "+q(r.Base)+" NOLOGIN",
		"CREATE ROLE "+q(r.Reader)+" NOLOGIN IN ROLE "+q(r.Base),
		"CREATE ROLE "+q(r.Writer)+" NOLOGIN IN ROLE "+q(r.Base),
		"CREATE ROLE "+q(r.Admin)+" NOLOGIN IN ROLE "+q(r.Base),
		"CREATE ROLE "+q(r.Login)+" LOGIN NOINHERIT IN ROLE "+q(r.Reader)+", "+q(r.Writer)+", "+q(r.Admin),
		"GRANT USAGE ON SCHEMA public TO "+q(r.Base)+", "+q(r.Login),
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "+q(r.Reader),
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "+q(r.Writer)+", "+q(r.Login),
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO "+q(r.Writer)+", "+q(r.Login),
		generateULID(),
	)
	stmts, err := emit.NewTableEmitter(reg.Tables()...).Emit()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pdb.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := emit.Exec(ctx, conn, stmts); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO canary SELECT generate_series(1, 7)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	u, _ := url.Parse(pdb.URL)
	port, _ := strconv.Atoi(u.Port())
	cfg := config.Config{Host: u.Hostname(), Port: port, Database: pdb.Name, SSLMode: "disable",
		Retry: config.Retry{InitialDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}}.WithDefaults()
	f, err := engine.NewFactory(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	db, err := f.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, url: pdb.URL, cfg: cfg, f: f, db: db, reg: reg}
}

// reopen returns e with a DB of its own for cfg (another factory, so the
// pool's settings may differ from e's), closed at the end of the test.
func (e *env) reopen(cfg config.Config) *env {
	e.t.Helper()
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = f.Close(context.Background()) })
	db, err := f.Open(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return &env{t: e.t, url: e.url, cfg: cfg, f: f, db: db, reg: e.reg}
}

// repoOf returns the repository of T in e.
func repoOf[T any](e *env, opts ...repo.Options) *repo.Repository[T] {
	e.t.Helper()
	r, err := repo.New[T](e.db, e.reg, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) count(table string) int64 {
	e.t.Helper()
	return pgtest.Scalar[int64](e.t, e.url, "SELECT count(*) FROM "+quote.Ident(table))
}

func ptr[T any](v T) *T { return &v }

// queryCounter is a pgx tracer counting the queries a DB sends.
type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

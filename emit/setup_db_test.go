package emit_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/identity"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

// Note is a demo-like model with everything: a tenant, record status with
// soft delete, user audit requiring a user, and history.
type Note struct {
	uno.Model `uno:"table:note,schema:shop" doc:"Notes of a tenant."`
	model.ULIDKey
	model.Tenant
	model.RecordStatus
	model.UserAudit
	Title types.String255 `uno:"title,unique"`
	Body  string          `uno:"body,default:''"`
}

func (Note) SQLConfig() model.SQLConfig {
	return model.SQLConfig{DeleteSoftly: true, RequireUser: true, History: true}
}

// Label has record status and user audit but no tenant, and hard deletes.
type Label struct {
	uno.Model `uno:"table:label"`
	model.ULIDKey
	model.RecordStatus
	model.UserAudit
	Name string `uno:"name,unique"`
}

// Memo keeps its history and deletes for real.
type Memo struct {
	uno.Model `uno:"table:memo"`
	ID        int64  `uno:"id,pk,identity"`
	Text      string `uno:"text"`
}

func (Memo) SQLConfig() model.SQLConfig { return model.SQLConfig{History: true} }

// Leaky is a broken tenant model: its emitter set leaves out row-level
// security.
type Leaky struct {
	uno.Model `uno:"table:leaky"`
	model.ULIDKey
	model.Tenant
	Secret string `uno:"secret"`
}

func (Leaky) SQLConfig() model.SQLConfig {
	return model.SQLConfig{Emitters: []string{emit.EmitterTable, emit.EmitterGrants}}
}

// unoDB is a database set up by the database-level emitters, its models
// created by the registry as the admin role, and a DB logging in as the
// login role.
type unoDB struct {
	pg    pgtest.Database
	d     emit.Database
	reg   *model.Registry
	super *pgx.Conn  // superuser, in the database
	db    *engine.DB // the application's login role
	admin *engine.DB // the admin login role
}

var factoryOnce = sync.OnceValues(func() (*engine.Factory, error) { return engine.NewFactory(engine.Options{}) })

// setUp creates the roles (ClusterEmitters on the existing test database),
// runs SetupEmitters, registers the models and runs everything the
// registry has for them as the admin role, through engine.
func setUp(t *testing.T, models ...any) *unoDB {
	t.Helper()
	return setUpMode(t, false, models...)
}

// testSecret is the signed identity's secret in the tests.
var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

// setUpMode is setUp in the unsigned or the signed identity mode; in the
// signed mode the secret is testSecret.
func setUpMode(t testing.TB, signed bool, models ...any) *unoDB {
	t.Helper()
	return setUpOn(t, pgtest.AdminURL(t), pgtest.NewDatabase(t), signed, models...)
}

// setUpOn is setUpMode on the server of adminURL (a superuser URL of the
// maintenance database) for the existing database pg.
func setUpOn(t testing.TB, adminURL string, pg pgtest.Database, signed bool, models ...any) *unoDB {
	t.Helper()
	return setUpDB(t, adminURL, pg, emit.Database{Name: pg.Name, Schemas: []string{"shop"}, SignedIdentity: signed}, models...)
}

// setUpDB is setUpOn for the database description d (d.Name is pg.Name).
func setUpDB(t testing.TB, adminURL string, pg pgtest.Database, d emit.Database, models ...any) *unoDB {
	t.Helper()
	ctx := context.Background()
	signed := d.SignedIdentity
	u := &unoDB{pg: pg, d: d}
	admin := superConn(t, adminURL)
	var r emit.Runner
	if _, err := r.Run(ctx, admin, u.d.ClusterEmitters()...); err != nil {
		t.Fatal(err)
	}
	u.super = superConn(t, pg.URL)
	if _, err := r.Run(ctx, u.super, u.d.SetupEmitters()...); err != nil {
		t.Fatal(err)
	}
	if signed {
		if _, err := r.Run(ctx, u.super, emit.IdentitySecret(u.d, testSecret)); err != nil {
			t.Fatal(err)
		}
	}
	u.db = openLogin(t, pg)
	if signed {
		signer, err := identity.NewSigner(testSecret)
		if err != nil {
			t.Fatal(err)
		}
		u.db.SignIdentities(signer, d.FunctionSchema)
	}
	u.admin = openAs(t, pg, pg.Name+emit.AdminLoginSuffix)
	u.reg = registry(t, models...)
	u.runModels(t, u.reg.Tables()...)
	return u
}

// withTx is u.db.WithTx. In the signed mode u.db signs identities
// (engine.DB.SignIdentities), so the engine's BEGIN batch calls
// uno_sign_in.
func (u *unoDB) withTx(ctx context.Context, opts engine.TxOptions, fn func(ctx context.Context, tx *engine.Tx) error) error {
	return u.db.WithTx(ctx, opts, fn)
}

// modes runs test in the unsigned and the signed identity mode.
func modes(t *testing.T, test func(t *testing.T, signed bool)) {
	for _, signed := range []bool{false, true} {
		name := "unsigned"
		if signed {
			name = "signed"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, signed)
		})
	}
}

// runModels runs everything for the tables as the admin role, through
// engine.WithTx on the admin login (the application's login cannot
// become admin).
func (u *unoDB) runModels(t testing.TB, tables ...*model.Table) {
	t.Helper()
	reg := emit.NewRegistry(u.d.Options())
	emitters, err := reg.ForModels(tables...)
	if err != nil {
		t.Fatal(err)
	}
	var r emit.Runner
	stmts, err := r.Generate(emitters...)
	if err != nil {
		t.Fatal(err)
	}
	err = u.admin.WithTx(context.Background(), engine.TxOptions{Role: engine.RoleAdmin}, func(ctx context.Context, tx *engine.Tx) error {
		return r.ExecTx(ctx, tx, stmts)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func superConn(t testing.TB, rawURL string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

// openLogin opens the database as its login role.
func openLogin(t testing.TB, pg pgtest.Database) *engine.DB {
	t.Helper()
	return openAs(t, pg, "")
}

// openAs opens the database as user (empty: the login role).
func openAs(t testing.TB, pg pgtest.Database, user string) *engine.DB {
	t.Helper()
	pu, _ := url.Parse(pg.URL)
	port, _ := strconv.Atoi(pu.Port())
	cfg := config.Config{Host: pu.Hostname(), Port: port, Database: pg.Name, User: user, SSLMode: "disable",
		Retry: config.Retry{InitialDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}}.WithDefaults()
	f, err := factoryOnce()
	if err != nil {
		t.Fatal(err)
	}
	db, err := f.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Pool().Reset)
	return db
}

// sqlState returns the SQLSTATE of err, or "".
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func scalarOn[T any](t testing.TB, conn *pgx.Conn, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

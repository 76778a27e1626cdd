package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/cli"
	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgcluster"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// CustomerV2 is Customer after a change: a phone column, added by a
// migration in step 15.
type CustomerV2 struct {
	uno.Model `uno:"table:customer" doc:"People who buy."`
	model.ULIDKey
	model.RecordStatus
	model.UserAudit
	model.Tenant
	Name  types.String255 `uno:"name"`
	Email types.String255 `uno:"email,unique" doc:"Where receipts go."`
	City  *string         `uno:"city"`
	Phone *string         `uno:"phone" doc:"Added by the demo's second migration."`
}

// failf reports a step that did not behave as the demo says.
func failf(step string, format string, args ...any) error {
	return fmt.Errorf("step %s: %s", step, fmt.Sprintf(format, args...))
}

// tour is the state the demo's steps share: the database, the connection
// pool, the repositories and the rows earlier steps made.
type tour struct {
	ctx    context.Context
	out    io.Writer
	dsn    string        // superuser URL of the demo database, for the uno command
	target config.Config // the demo database and its roles
	dir    string        // the migrations directory

	db  *engine.DB      // the pool, as the login role
	reg *model.Registry // the demo models

	acme, globex    Tenant
	ada             User                       // Acme's user, the acting user of the audit columns
	customers       *repo.Repository[Customer] // as Acme, acting as Ada
	grace           Customer                   // the customer created in step 4
	renamed         *Customer                  // grace as read back and renamed in step 4
	hank            Customer                   // Globex's customer Hank, created in step 13
	customersBefore int64                      // Acme's customers before step 11
	identitySecret  []byte                     // the signed identity's secret (step 16)
}

// Run is `uno demo`: it walks through uno on a throwaway database and fails
// if any step does not behave as it says. The steps run in order, each
// building on the ones before; their numbers are the ones printed.
func Run(ctx context.Context, out io.Writer) (err error) {
	start := time.Now()
	t := &tour{ctx: ctx, out: out}
	server, cleanupServer, err := demoServer(ctx, t.say)
	if err != nil {
		return err
	}
	defer cleanupServer()

	if err := t.createDatabase(server); err != nil {
		return err
	}
	defer func() {
		if derr := t.uno(&cli.App{}, "db", "drop", "--yes"); derr != nil && err == nil {
			err = derr
		}
	}()
	if t.dir, err = os.MkdirTemp("", "uno-demo-migrations"); err != nil {
		return err
	}
	defer os.RemoveAll(t.dir)
	if err := t.migrateInit(); err != nil {
		return err
	}
	factory, err := engine.NewFactory(engine.Options{})
	if err != nil {
		return err
	}
	defer factory.Close(context.Background())

	for _, step := range []func() error{
		func() error { return t.connect(factory) },
		t.tenantsAndUsers,
		t.crud,
		t.auditColumns,
		t.createOrGet,
		t.naturalKey,
		t.filters,
		t.merge,
		t.bulkCopy,
		t.rollback,
		t.readerCannotWrite,
		t.tenantIsolation,
		t.softDelete,
		t.migrateAddColumn,
		t.signedIdentity,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	st := t.db.Stat()
	t.say("pool: %d connections open (max %d), %d borrows; demo finished in %v",
		st.TotalConns(), st.MaxConns(), st.AcquireCount(), time.Since(start).Round(time.Millisecond))
	return nil
}

// say prints one line of the demo's story.
func (t *tour) say(format string, args ...any) { fmt.Fprintf(t.out, format+"\n", args...) }

// uno runs the uno command built by app on the demo database, its output
// indented under the step.
func (t *tour) uno(app *cli.App, args ...string) error {
	app.Stdout, app.Stderr = indent{t.out}, indent{t.out}
	if code := app.Main(t.ctx, append([]string{"--url", t.dsn}, args...)); code != cli.ExitOK {
		return fmt.Errorf("uno %s: exit %d", strings.Join(args, " "), code)
	}
	return nil
}

// createDatabase is step 1: the roles and the database, with the same code
// as `uno db create`.
func (t *tour) createDatabase(server config.Config) error {
	dbName := "uno_demo_" + strconv.Itoa(os.Getpid())
	t.target = server
	t.target.Database = dbName
	t.target.Roles = config.DefaultRoles(dbName)
	u := url.URL{Scheme: "postgres", User: url.User(server.User), Host: net.JoinHostPort(server.Host, strconv.Itoa(server.Port)),
		Path: "/" + dbName, RawQuery: "sslmode=" + url.QueryEscape(server.SSLMode)}
	if server.Password != "" {
		u.User = url.UserPassword(server.User, server.Password.Reveal())
	}
	t.dsn = u.String()
	r := t.target.Roles
	t.say("1. uno db create: roles %s, %s, %s, %s, %s and database %s", r.Login, r.Reader, r.Writer, r.Admin, r.Base, dbName)
	return t.uno(&cli.App{Models: Models()}, "db", "create")
}

// migrateInit is step 2: the schema, as a migration generated from the
// models.
func (t *tour) migrateInit() error {
	app := &cli.App{Models: Models()}
	t.say("2. uno migrate new init && uno migrate up: the demo models' tables, triggers, grants and policies")
	if err := t.uno(app, "migrate", "new", "init", "--dir", t.dir); err != nil {
		return err
	}
	return t.uno(app, "migrate", "up", "--dir", t.dir)
}

// connect is step 3: the factory, one pool per server, database and login
// role.
func (t *tour) connect(factory *engine.Factory) error {
	login := t.target
	login.User, login.Password = t.target.Roles.Login, ""
	if pw := os.Getenv("UNO_LOGIN_PASSWORD"); pw != "" {
		login.Password = config.Secret(pw)
	}
	db, err := factory.Open(t.ctx, login)
	if err != nil {
		return err
	}
	if again, err := factory.Open(t.ctx, login); err != nil || again != db {
		return failf("3", "the factory did not hand back the cached pool (%v)", err)
	}
	t.db = db
	t.reg = model.NewRegistry()
	if err := t.reg.Register(Models()...); err != nil {
		return err
	}
	t.say("3. connected as %s through the DatabaseFactory (asking again returns the same pool)", login.User)
	return nil
}

// asTenant are the repository options acting for a tenant and a user.
func asTenant(t Tenant, userID string) repo.Options {
	return repo.Options{Roles: repo.RolesSwitch, Identity: engine.Identity{TenantID: string(t.ID), UserID: userID}}
}

// indent prefixes every line written by the CLI inside the demo.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	s := strings.TrimRight(string(p), "\n")
	if s == "" {
		return len(p), nil
	}
	_, err := io.WriteString(i.w, "     "+strings.ReplaceAll(s, "\n", "\n     ")+"\n")
	return len(p), err
}

// demoServer returns a superuser config: from DATABASE_URL or the PG*
// variables when given, else from a throwaway cluster it starts.
func demoServer(ctx context.Context, say func(string, ...any)) (config.Config, func(), error) {
	if os.Getenv("DATABASE_URL") != "" || os.Getenv("PGHOST") != "" {
		cfg, err := config.FromEnv()
		if err != nil {
			return config.Config{}, nil, err
		}
		say("0. using the server in DATABASE_URL/PG*: %s", cfg)
		return cfg, func() {}, nil
	}
	say("0. no DATABASE_URL: starting a throwaway PostgreSQL from the local binaries")
	c, err := pgcluster.New()
	if err != nil {
		return config.Config{}, nil, err
	}
	cfg, err := config.Parse(c.URL("postgres"))
	if err != nil {
		c.Destroy()
		return config.Config{}, nil, err
	}
	if err := ctx.Err(); err != nil {
		c.Destroy()
		return config.Config{}, nil, err
	}
	return cfg, c.Destroy, nil
}

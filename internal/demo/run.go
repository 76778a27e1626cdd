package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgcluster"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/types"
)

// simpleOrder is a table whose name is a reserved word: it works because
// every identifier uno emits is quoted.
type simpleOrder struct {
	uno.Model `uno:"table:order" doc:"Orders placed by customers."`
	ID        int64           `uno:"id,pk,identity"`
	Customer  types.String255 `uno:"customer"`
	Reference types.String64  `uno:"reference,unique"`
}

// Run is `uno demo`: it shows uno at work and fails if any step does not
// behave as shown.
func Run(ctx context.Context, out io.Writer) error {
	start := time.Now()
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	adminCfg, cleanupServer, err := demoServer(ctx, say)
	if err != nil {
		return err
	}
	defer cleanupServer()

	// The uno roles and a database of the demo's own.
	dbName := "uno_demo_" + strconv.Itoa(os.Getpid())
	roles := config.DefaultRoles(dbName)
	adminConn, err := pgx.Connect(ctx, adminURL(adminCfg, adminCfg.Database))
	if err != nil {
		return fmt.Errorf("connect as administrator: %w", dberr.Classify(err))
	}
	defer adminConn.Close(context.Background())
	q := quote.Ident
	setup := []string{
		"CREATE ROLE " + q(roles.Base) + " NOLOGIN",
		"CREATE ROLE " + q(roles.Reader) + " NOLOGIN IN ROLE " + q(roles.Base),
		"CREATE ROLE " + q(roles.Writer) + " NOLOGIN IN ROLE " + q(roles.Base),
		"CREATE ROLE " + q(roles.Admin) + " NOLOGIN IN ROLE " + q(roles.Base),
		"CREATE ROLE " + q(roles.Login) + " LOGIN NOINHERIT IN ROLE " + q(roles.Reader) + ", " + q(roles.Writer) + ", " + q(roles.Admin),
		"CREATE DATABASE " + q(dbName) + " OWNER " + q(roles.Admin) + " TEMPLATE template0",
	}
	for _, s := range setup {
		if _, err := adminConn.Exec(ctx, s); err != nil {
			return fmt.Errorf("set-up %q: %w", s, dberr.Classify(err))
		}
	}
	defer func() {
		c := context.Background()
		_, _ = adminConn.Exec(c, "DROP DATABASE IF EXISTS "+q(dbName)+" WITH (FORCE)")
		for _, r := range []string{roles.Login, roles.Reader, roles.Writer, roles.Admin, roles.Base} {
			_, _ = adminConn.Exec(c, "DROP ROLE IF EXISTS "+q(r))
		}
	}()
	say("1. created database %s and the uno roles %s, %s, %s, %s, %s", dbName, roles.Login, roles.Reader, roles.Writer, roles.Admin, roles.Base)

	// The table, emitted from the model and run as the database's admin.
	reg := model.NewRegistry()
	if err := reg.Register(simpleOrder{}); err != nil {
		return err
	}
	table, _ := model.TableOf[simpleOrder](reg)
	stmts, err := emit.NewTableEmitter(table).Emit()
	if err != nil {
		return err
	}
	dbConn, err := pgx.Connect(ctx, adminURL(adminCfg, dbName))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", dbName, dberr.Classify(err))
	}
	defer dbConn.Close(context.Background())
	grants := []string{
		"SET ROLE " + q(roles.Admin),
		"GRANT USAGE ON SCHEMA public TO " + q(roles.Base),
	}
	for _, s := range grants {
		if _, err := dbConn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%q: %w", s, dberr.Classify(err))
		}
	}
	if err := emit.Exec(ctx, dbConn, stmts); err != nil {
		return err
	}
	for _, s := range []string{
		"GRANT SELECT ON " + table.QuotedName + " TO " + q(roles.Reader),
		"GRANT SELECT, INSERT, UPDATE, DELETE ON " + table.QuotedName + " TO " + q(roles.Writer),
		"RESET ROLE",
	} {
		if _, err := dbConn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%q: %w", s, dberr.Classify(err))
		}
	}
	say("2. emitted and ran %d DDL statements for table %s (a reserved word, quoted)", len(stmts), table.QuotedName)

	// The factory: one pool per (server, database, login role).
	factory, err := engine.NewFactory(engine.Options{})
	if err != nil {
		return err
	}
	defer factory.Close(context.Background())
	cfg := adminCfg
	cfg.Database, cfg.User, cfg.Password, cfg.Roles = dbName, roles.Login, "", roles
	cfg.Pool.MaxConns = 4
	db, err := factory.Open(ctx, cfg)
	if err != nil {
		return err
	}
	again, err := factory.Open(ctx, cfg)
	if err != nil || again != db {
		return fmt.Errorf("factory did not return the cached pool: %v", err)
	}
	say("3. factory opened %s; asking again returns the same pool", cfg)

	var version, who string
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		return c.QueryRow(ctx, "SELECT current_setting('server_version'), current_user::text").Scan(&version, &who)
	}); err != nil {
		return err
	}
	if who != roles.Login {
		return fmt.Errorf("connected as %q, want %q", who, roles.Login)
	}
	say("4. server PostgreSQL %s, logged in as %s", version, who)

	// Writes as the writer, with a transaction-local identity.
	var asRole, userID string
	err = db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{UserID: "u-42", TenantID: "acme"}},
		func(ctx context.Context, tx *engine.Tx) error {
			if err := tx.QueryRow(ctx, "SELECT current_user::text, current_setting('rls_var.user_id')").Scan(&asRole, &userID); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO "order" (customer, reference) VALUES ($1, $2), ($3, $4)`,
				"Ada", "A-1", "Grace", "A-2")
			return err
		})
	if err != nil {
		return err
	}
	if asRole != roles.Writer || userID != "u-42" {
		return fmt.Errorf("writer transaction ran as %q with user %q", asRole, userID)
	}
	say("5. inserted 2 orders as %s with rls_var.user_id = %s (SET LOCAL: gone at commit)", asRole, userID)

	// The reader may not write.
	err = db.WithTx(ctx, engine.TxOptions{Role: engine.RoleReader}, func(ctx context.Context, tx *engine.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO "order" (customer, reference) VALUES ('Eve', 'X-1')`)
		return err
	})
	if !errors.Is(err, dberr.ErrPermissionDenied) {
		return fmt.Errorf("reader insert: want permission denied, got %v", err)
	}
	say("6. the reader's INSERT was refused: SQLSTATE %s", dberr.Code(err))

	// A unique violation names its constraint; a failed transaction leaves
	// nothing behind.
	err = db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, tx *engine.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO "order" (customer, reference) VALUES ('Linus', 'B-1')`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO "order" (customer, reference) VALUES ('Ken', 'A-1')`)
		return err
	})
	var de *dberr.Error
	if !errors.Is(err, dberr.ErrUniqueViolation) || !errors.As(err, &de) {
		return fmt.Errorf("duplicate reference: want a unique violation, got %v", err)
	}
	var n int
	if err := db.WithTx(ctx, engine.TxOptions{Role: engine.RoleReader, ReadOnly: true}, func(ctx context.Context, tx *engine.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM "order"`).Scan(&n)
	}); err != nil {
		return err
	}
	if n != 2 {
		return fmt.Errorf("after the rolled-back transaction: %d orders, want 2", n)
	}
	say("7. duplicate reference: unique violation on constraint %s; the transaction rolled back, still %d orders", de.Constraint, n)

	// After all of that, the pooled connections carry nothing.
	var role, leftover string
	if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		return c.QueryRow(ctx, "SELECT current_user::text, coalesce(current_setting('rls_var.user_id', true), '')").Scan(&role, &leftover)
	}); err != nil {
		return err
	}
	if role != roles.Login || leftover != "" {
		return fmt.Errorf("pooled connection carries role %q and user %q", role, leftover)
	}
	st := db.Stat()
	say("8. pool: %d connections open (max %d), %d acquired in all; the next borrower sees role %s and no identity",
		st.TotalConns(), st.MaxConns(), st.AcquireCount(), role)
	say("demo finished in %v", time.Since(start).Round(time.Millisecond))
	return nil
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

// adminURL renders cfg as a pgx connection string for another database.
func adminURL(cfg config.Config, database string) string {
	s := "host=" + kv(cfg.Host) + " port=" + strconv.Itoa(cfg.Port) + " dbname=" + kv(database) +
		" user=" + kv(cfg.User) + " sslmode=" + kv(cfg.SSLMode)
	if cfg.Password != "" {
		s += " password=" + kv(cfg.Password.Reveal())
	}
	return s
}

func kv(v string) string {
	b := []byte{'\''}
	for i := 0; i < len(v); i++ {
		if v[i] == '\'' || v[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, v[i])
	}
	return string(append(b, '\''))
}

package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/internal/progress"
	"github.com/uno-db/uno/migrate"
	"github.com/uno-db/uno/migrate/gogen"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/quote"
)

// errNoModels is returned by the commands that need models when the App
// has none (the stock `uno` binary).
var errNoModels = errors.New("this command has no models (the stock uno binary knows none): " +
	"build your own command around your models with cli.App, see 'go doc github.com/uno-db/uno/cli'")

// noModelsHint is printed in help pages when the App has no models.
const noModelsHint = `This command knows no models. Build your own command around them with package cli:

	app := &cli.App{Name: "shop-db", Models: []any{Customer{}, Order{}}}
	os.Exit(app.Main(context.Background(), os.Args[1:]))`

// hasModels reports whether the App has models to work on.
func (a *App) hasModels() bool {
	return len(a.Models) > 0 || (a.Registry != nil && len(a.Registry.Tables()) > 0)
}

// target returns the database config from the flags and environment, and
// the database description with its name and roles.
func (a *App) target(o *options) (config.Config, emit.Database, error) {
	var cfg config.Config
	var err error
	if o.url != "" {
		cfg, err = config.Parse(o.url)
	} else {
		cfg, err = config.FromEnv()
	}
	var fe *config.FieldError
	if errors.As(err, &fe) && fe.Field == "Database" {
		if o.url != "" {
			return config.Config{}, emit.Database{}, &usageError{msg: "--url names no database: add it as the URL's path (postgres://host/DBNAME)"}
		}
		if os.Getenv("DATABASE_URL") == "" {
			return config.Config{}, emit.Database{}, &usageError{
				msg: "no database given: pass --url URL or set DATABASE_URL (or PGDATABASE and the other PG* variables)"}
		}
		return config.Config{}, emit.Database{}, &usageError{msg: "DATABASE_URL names no database: add it as the URL's path (postgres://host/DBNAME)"}
	}
	if err != nil {
		return config.Config{}, emit.Database{}, err
	}
	d := a.Database
	d.Name = cfg.Database
	d.Roles = cfg.Roles
	if pw := os.Getenv("UNO_LOGIN_PASSWORD"); pw != "" {
		d.Password = config.Secret(pw)
	}
	return cfg, d, nil
}

// direct returns the direct connection of --direct-url, else
// DIRECT_DATABASE_URL, for the migrate commands when cfg goes through
// PgBouncer; nil when neither is given. It must name cfg's database.
func (a *App) direct(o *options, cfg config.Config) (*config.Config, error) {
	raw, from := o.directURL, "--direct-url"
	if raw == "" {
		raw, from = os.Getenv("DIRECT_DATABASE_URL"), "DIRECT_DATABASE_URL"
	}
	if raw == "" {
		return nil, nil
	}
	d, err := config.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	if d.Database != cfg.Database {
		return nil, &usageError{msg: fmt.Sprintf("%s names database %q, not %q", from, d.Database, cfg.Database)}
	}
	if d.Pooler == config.PoolerPgBouncer {
		return nil, &usageError{msg: from + " goes through PgBouncer (pooler=pgbouncer): give the server's own address"}
	}
	return &d, nil
}

// sessionHint adds the CLI's way out to an error for a migrator behind
// PgBouncer.
func sessionHint(err error) error {
	if errors.Is(err, migrate.ErrNeedsSession) {
		return fmt.Errorf("%w (give --direct-url or DIRECT_DATABASE_URL)", err)
	}
	return err
}

// registry returns the App's models.
func (a *App) registry() (*model.Registry, error) {
	if a.Registry != nil {
		return a.Registry, nil
	}
	reg := model.NewRegistry()
	if len(a.Models) > 0 {
		if err := reg.Register(a.Models...); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// modelStatements are the statements for the models: tables and every
// model-level emitter.
func (a *App) modelStatements(d emit.Database) ([]emit.Statement, error) {
	reg, err := a.registry()
	if err != nil {
		return nil, err
	}
	tables := reg.Tables()
	if len(tables) == 0 {
		return nil, nil
	}
	return emit.NewRegistry(d.Options()).Emit(tables...)
}

func (a *App) setupStatements(d emit.Database) ([]emit.Statement, error) {
	var r emit.Runner
	return r.Generate(d.SetupEmitters()...)
}

// maintenance returns cfg pointed at the server's maintenance database.
func maintenance(cfg config.Config) config.Config {
	cfg.Database = "postgres"
	return cfg
}

func connect(ctx context.Context, cfg config.Config) (*pgx.Conn, error) {
	conn, err := cfg.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Key(), dberr.Classify(err))
	}
	return conn, nil
}

func (a *App) dbCreate(ctx context.Context, o *options, _ []string) error {
	cfg, d, err := a.target(o)
	if err != nil {
		return err
	}
	runner := emit.Runner{}
	mconn, err := connect(ctx, maintenance(cfg))
	if err != nil {
		return err
	}
	defer mconn.Close(context.WithoutCancel(ctx))
	takes, err := rightsToTake(ctx, mconn, cfg, d)
	if err != nil {
		return err
	}
	if len(takes) > 0 {
		verb := "took"
		if !o.takeRights {
			d.KeepRights = true
			verb = "left alone"
			fmt.Fprintf(a.errw(), "database %s exists; db create takes no rights away without --take-rights, so it leaves alone:\n", d.Name)
		} else {
			fmt.Fprintf(a.errw(), "database %s exists; --take-rights:\n", d.Name)
		}
		for _, t := range takes {
			fmt.Fprintf(a.errw(), "  %s: %s\n", verb, t)
		}
	}
	if _, err := runner.Run(ctx, mconn, d.ClusterEmitters()...); err != nil {
		return err
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	stmts, err := runner.Run(ctx, conn, d.SetupEmitters()...)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.errw(), "database %s ready: roles %s, %s, %s, %s, %s; %d set-up statements\n",
		d.Name, d.Roles.Login, d.Roles.Reader, d.Roles.Writer, d.Roles.Admin, d.Roles.Base, len(stmts))
	return nil
}

// rightsToTake returns, for a database that exists already, what db
// create would take away from others there: the ownership of the database
// and of its schemas (public excepted, which uno leaves to the database
// owner), and PUBLIC's rights on the database and the schemas. Nothing
// for a new database, or one uno set up before.
func rightsToTake(ctx context.Context, mconn *pgx.Conn, cfg config.Config, d emit.Database) ([]string, error) {
	admin := d.Roles.Admin
	var owner, public string
	err := mconn.QueryRow(ctx, `SELECT pg_catalog.pg_get_userbyid(datdba)::text,
		coalesce((SELECT string_agg(privilege_type, ', ' ORDER BY privilege_type)
			FROM pg_catalog.aclexplode(coalesce(datacl, pg_catalog.acldefault('d', datdba))) WHERE grantee = 0), '')
		FROM pg_catalog.pg_database WHERE datname = $1`, d.Name).Scan(&owner, &public)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("db create: read database %s: %w", d.Name, dberr.Classify(err))
	}
	var takes []string
	if owner != admin {
		takes = append(takes, fmt.Sprintf("database %s is owned by %s (--take-rights makes %s its owner)",
			quote.Ident(d.Name), quote.Ident(owner), quote.Ident(admin)))
	}
	if public != "" {
		takes = append(takes, fmt.Sprintf("PUBLIC has %s on database %s (--take-rights revokes it)", public, quote.Ident(d.Name)))
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	schemas := append([]string{"public"}, d.Schemas...)
	if d.FunctionSchema != "" {
		schemas = append(schemas, d.FunctionSchema)
	}
	rows, err := conn.Query(ctx, `SELECT nspname::text, pg_catalog.pg_get_userbyid(nspowner)::text,
		coalesce((SELECT string_agg(privilege_type, ', ' ORDER BY privilege_type)
			FROM pg_catalog.aclexplode(coalesce(nspacl, pg_catalog.acldefault('n', nspowner))) WHERE grantee = 0), '')
		FROM pg_catalog.pg_namespace WHERE nspname = ANY($1) ORDER BY nspname`, schemas)
	if err != nil {
		return nil, fmt.Errorf("db create: read the schemas of %s: %w", d.Name, dberr.Classify(err))
	}
	for rows.Next() {
		var name, owner, public string
		if err := rows.Scan(&name, &owner, &public); err != nil {
			return nil, fmt.Errorf("db create: read the schemas of %s: %w", d.Name, dberr.Classify(err))
		}
		if name != "public" && owner != admin {
			takes = append(takes, fmt.Sprintf("schema %s is owned by %s (--take-rights makes %s its owner)",
				quote.Ident(name), quote.Ident(owner), quote.Ident(admin)))
		}
		if public != "" {
			takes = append(takes, fmt.Sprintf("PUBLIC has %s on schema %s (--take-rights revokes it)", public, quote.Ident(name)))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db create: read the schemas of %s: %w", d.Name, dberr.Classify(err))
	}
	return takes, nil
}

func (a *App) dbDrop(ctx context.Context, o *options, _ []string) error {
	cfg, d, err := a.target(o)
	if err != nil {
		return err
	}
	if !o.yes {
		if err := a.confirmDrop(d); err != nil {
			return err
		}
	}
	mconn, err := connect(ctx, maintenance(cfg))
	if err != nil {
		return err
	}
	defer mconn.Close(context.WithoutCancel(ctx))
	var runner emit.Runner
	if _, err := runner.Run(ctx, mconn, emit.DropDatabase(d)); err != nil {
		return err
	}
	fmt.Fprintf(a.errw(), "database %s and its roles dropped\n", d.Name)
	return nil
}

// confirmDrop asks for the database's name on a terminal; without one it
// refuses as bad usage (the caller must say --yes).
func (a *App) confirmDrop(d emit.Database) error {
	in := a.in()
	if !isTerminal(in) {
		return &usageError{msg: fmt.Sprintf("db drop: not dropping database %s without --yes (no terminal to confirm on)", d.Name),
			cmd: a.lookup("db drop")}
	}
	fmt.Fprintf(a.errw(), "This drops database %s and the roles %s, %s, %s, %s, %s with everything in them.\n"+
		"Type the database name to confirm: ", d.Name, d.Roles.Login, d.Roles.Reader, d.Roles.Writer, d.Roles.Admin, d.Roles.Base)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("%w: db drop: no confirmation read (%v): database %s kept", errRefused, err, d.Name)
	}
	if strings.TrimRight(line, "\r\n") != d.Name {
		return fmt.Errorf("%w: db drop: the typed name does not match: database %s kept", errRefused, d.Name)
	}
	return nil
}

func (a *App) emit(_ context.Context, o *options, _ []string) error {
	_, d, err := a.target(o)
	if err != nil {
		return err
	}
	var runner emit.Runner
	cluster, err := runner.Generate(d.ClusterEmitters()...)
	if err != nil {
		return err
	}
	setup, err := a.setupStatements(d)
	if err != nil {
		return err
	}
	models, err := a.modelStatements(d)
	if err != nil {
		return err
	}
	parts := []struct {
		title string
		stmts []emit.Statement
	}{
		{"on the maintenance database, as a superuser", cluster},
		{"in database " + d.Name + ", as a superuser", setup},
	}
	if a.hasModels() {
		parts = append(parts, struct {
			title string
			stmts []emit.Statement
		}{"in database " + d.Name + ", as " + d.Roles.Admin, models})
	} else {
		fmt.Fprintf(a.errw(), "%s: emit: no models: printing the database's set-up only; "+
			"build your own command around your models with package cli for their tables\n", a.name())
	}
	w := a.out()
	for _, part := range parts {
		fmt.Fprintf(w, "-- %s\n\n", part.title)
		for _, s := range part.stmts {
			fmt.Fprintf(w, "-- %s %s\n%s;\n\n", s.Kind, s.Name, s.Display())
		}
	}
	return nil
}

func (a *App) schema(_ context.Context, _ *options, _ []string) error {
	reg, err := a.registry()
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(a.out(), Mermaid(reg.Tables()))
	return err
}

func (a *App) demo(ctx context.Context, _ *options, _ []string) error {
	return a.Demo(ctx, a.out())
}

// plan computes the plan from the live database to the models, and the
// reverse plan for a down migration, with migrate.PlanLive: the models'
// DDL runs as <db>_admin in a scratch database (where that role may create
// schemas, so models with schema: plan as they apply), and the live
// database is only read, in a read-only transaction.
func (a *App) plan(ctx context.Context, o *options) (up, down migrate.Plan, err error) {
	cfg, d, err := a.target(o)
	if err != nil {
		return up, down, err
	}
	setup, err := a.setupStatements(d)
	if err != nil {
		return up, down, err
	}
	models, err := a.modelStatements(d)
	if err != nil {
		return up, down, err
	}
	// The scratch database is made and read on the server itself.
	direct, err := a.direct(o, cfg)
	if err != nil {
		return up, down, err
	}
	if direct != nil {
		cfg = *direct
	}
	return migrate.PlanLive(ctx, migrate.Target{Config: cfg, Setup: setup, Models: models, Role: d.Roles.Admin},
		migrate.Options{Concurrent: o.concurrent})
}

func (a *App) migrateDiff(ctx context.Context, o *options, _ []string) error {
	up, _, err := a.plan(ctx, o)
	if err != nil {
		return err
	}
	w := a.out()
	if up.Empty() {
		fmt.Fprintln(w, "-- no differences: the database matches the models")
		return nil
	}
	fmt.Fprint(w, up.SQL())
	for _, warn := range up.Warnings {
		fmt.Fprintln(w, "-- warning:", warn)
	}
	if err := up.Check(o.destructive); err != nil {
		fmt.Fprintln(w, "--", err)
	}
	if o.check {
		return fmt.Errorf("%w: the database differs from the models (%d changes)", errRefused, len(up.Changes))
	}
	return nil
}

func (a *App) migrateNew(ctx context.Context, o *options, args []string) error {
	if err := checkDir(o.dir, true); err != nil {
		return err
	}
	// A broken directory fails before the (slow) plan is made.
	if _, err := migrate.ReadDir(os.DirFS(o.dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return dirError(o.dir, err)
	}
	up, down, err := a.plan(ctx, o)
	if err != nil {
		return err
	}
	if err := up.Check(o.destructive); err != nil {
		return err
	}
	path, err := migrate.WriteNext(o.dir, args[0], up, down)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path != "." {
			return err // os.WriteFile and MkdirAll name the whole path
		}
		return dirError(o.dir, err)
	}
	fmt.Fprintf(a.errw(), "wrote %s (%d changes)\n", path, len(up.Changes))
	for _, l := range up.Lints() {
		fmt.Fprintln(a.errw(), "lint:", l)
	}
	return nil
}

// displayDir spells a relative directory as ./dir, so a message shows it
// is a path.
func displayDir(dir string) string {
	if filepath.IsAbs(dir) || dir == "." || dir == ".." || strings.HasPrefix(dir, "./") || strings.HasPrefix(dir, "../") {
		return dir
	}
	return "./" + dir
}

// dirError names the migrations directory in an error from reading it
// through os.DirFS (whose paths are relative to it).
func dirError(dir string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		where := ""
		if pe.Path != "." {
			where = " " + pe.Path
		}
		return fmt.Errorf("migrations directory %s: %s%s: %w", displayDir(dir), pe.Op, where, pe.Err)
	}
	return fmt.Errorf("migrations directory %s: %w", displayDir(dir), err)
}

// errNoDir reports a missing migrations directory.
var errNoDir = errors.New("no migrations yet")

// checkDir returns errNoDir (naming the directory) when dir does not exist
// (and missingOK is false), and an error naming it when it is not a
// directory or cannot be read.
func checkDir(dir string, missingOK bool) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if missingOK {
			return nil
		}
		return fmt.Errorf("%w in %s", errNoDir, displayDir(dir))
	case err != nil:
		return dirError(dir, err)
	case !st.IsDir():
		return fmt.Errorf("migrations directory %s is not a directory", displayDir(dir))
	}
	return nil
}

// migrator reads the migrations directory and returns a migrator for the
// database.
func (a *App) migrator(o *options) (*migrate.Migrator, []migrate.Migration, error) {
	if err := checkDir(o.dir, false); err != nil {
		if errors.Is(err, errNoDir) {
			err = fmt.Errorf("%w (write one with 'migrate new NAME', or give --dir)", err)
		}
		return nil, nil, err
	}
	cfg, d, err := a.target(o)
	if err != nil {
		return nil, nil, err
	}
	migs, err := migrate.ReadDir(os.DirFS(o.dir))
	if err != nil {
		return nil, nil, dirError(o.dir, err)
	}
	direct, err := a.direct(o, cfg)
	if err != nil {
		return nil, nil, err
	}
	return &migrate.Migrator{Config: cfg, Direct: direct, Role: d.Roles.Admin}, migs, nil
}

// count parses the optional N of migrate up and down.
func (a *App) count(cmd string, args []string) (int, error) {
	if len(args) == 0 {
		return 0, nil
	}
	v, err := strconv.Atoi(args[0])
	if err != nil || v < 1 {
		return 0, &usageError{msg: fmt.Sprintf("migrate %s: N must be a positive number, not %q", cmd, args[0]), cmd: a.lookup("migrate " + cmd)}
	}
	return v, nil
}

func (a *App) migrateUp(ctx context.Context, o *options, args []string) error {
	n, err := a.count("up", args)
	if err != nil {
		return err
	}
	m, migs, err := a.migrator(o)
	if err != nil {
		return err
	}
	var bar *progress.Reporter
	m.Progress = func(done, total int, mg migrate.Migration) {
		if bar == nil {
			bar = progress.New(a.errw(), "migrate up", int64(total))
		}
		bar.Set(int64(done))
	}
	done, err := m.Up(ctx, migs, n)
	if bar != nil {
		bar.Finish()
	}
	for _, mg := range done {
		fmt.Fprintf(a.errw(), "applied %04d_%s\n", mg.Version, mg.Name)
	}
	if err == nil && len(done) == 0 {
		fmt.Fprintln(a.errw(), "nothing to apply")
	}
	return err
}

func (a *App) migrateDown(ctx context.Context, o *options, args []string) error {
	n, err := a.count("down", args)
	if err != nil {
		return err
	}
	m, migs, err := a.migrator(o)
	if err != nil {
		return err
	}
	done, err := m.Down(ctx, migs, n)
	for _, mg := range done {
		fmt.Fprintf(a.errw(), "reverted %04d_%s\n", mg.Version, mg.Name)
	}
	return err
}

func (a *App) migrateRedo(ctx context.Context, o *options, _ []string) error {
	m, migs, err := a.migrator(o)
	if err != nil {
		return err
	}
	if err := m.Redo(ctx, migs); err != nil {
		return err
	}
	fmt.Fprintln(a.errw(), "redone the last migration")
	return nil
}

func (a *App) migrateStatus(ctx context.Context, o *options, _ []string) error {
	if errors.Is(checkDir(o.dir, false), errNoDir) {
		fmt.Fprintf(a.out(), "no migrations yet in %s\n", displayDir(o.dir))
		return nil
	}
	m, migs, err := a.migrator(o)
	if err != nil {
		return err
	}
	st, err := m.Status(ctx, migs)
	if err != nil {
		return err
	}
	modified := false
	for _, s := range st {
		line := fmt.Sprintf("%04d_%-30s %s", s.Version, s.Name, s.State)
		if s.Applied != nil {
			line += "  " + s.Applied.AppliedAt.Format("2006-01-02 15:04:05")
		}
		fmt.Fprintln(a.out(), line)
		modified = modified || s.State == migrate.StateModified
	}
	if len(st) == 0 {
		fmt.Fprintf(a.out(), "no migrations yet in %s\n", displayDir(o.dir))
	}
	if modified {
		return fmt.Errorf("%w: an applied migration was edited", migrate.ErrModified)
	}
	return nil
}

func (a *App) migrateBaseline(ctx context.Context, o *options, args []string) error {
	var version int64
	if len(args) == 1 {
		v, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || v < 1 {
			return &usageError{msg: fmt.Sprintf("migrate baseline: VERSION must be a positive number, not %q", args[0])}
		}
		version = v
	}
	if err := checkDir(o.dir, true); err != nil {
		return err
	}
	migs, err := migrate.ReadDir(os.DirFS(o.dir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return dirError(o.dir, err)
	}
	if len(migs) == 0 {
		if version > 0 {
			return fmt.Errorf("migrate baseline: no migration %d in %s: the directory is empty", version, displayDir(o.dir))
		}
		cfg, _, err := a.target(o)
		if err != nil {
			return err
		}
		live, err := migrate.InspectLive(ctx, cfg)
		if err != nil {
			return err
		}
		live.Tables = slices.DeleteFunc(live.Tables, func(t *catalog.Table) bool { return t.Name == migrate.DefaultTable })
		path, err := migrate.WriteNext(o.dir, "baseline", migrate.BaselinePlan(live), migrate.Plan{})
		if err != nil {
			return dirError(o.dir, err)
		}
		fmt.Fprintf(a.errw(), "wrote %s from the live database (no down file)\n", path)
	}
	m, migs, err := a.migrator(o)
	if err != nil {
		return err
	}
	if version > 0 && !slices.ContainsFunc(migs, func(mg migrate.Migration) bool { return mg.Version == version }) {
		return fmt.Errorf("migrate baseline: no migration %d in %s", version, displayDir(o.dir))
	}
	done, err := m.Baseline(ctx, migs, version)
	if err != nil {
		return err
	}
	for _, mg := range done {
		fmt.Fprintf(a.errw(), "recorded %04d_%s as applied (nothing run)\n", mg.Version, mg.Name)
	}
	if len(done) == 0 {
		fmt.Fprintln(a.errw(), "nothing to record: those migrations are applied")
	}
	return nil
}

func (a *App) modelsGenerate(ctx context.Context, o *options, args []string) error {
	cfg, _, err := a.target(o)
	if err != nil {
		return err
	}
	var schemas []string
	if o.schema != "" {
		schemas = []string{o.schema}
	}
	live, err := migrate.InspectLive(ctx, cfg, schemas...)
	if err != nil {
		return err
	}
	live.Tables = slices.DeleteFunc(live.Tables, func(t *catalog.Table) bool { return t.Name == migrate.DefaultTable })
	res, err := gogen.Generate(live, gogen.Options{Package: o.pkg, Tables: args})
	if err != nil {
		return fmt.Errorf("models generate: %w", err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(a.errw(), "unmanaged:", w)
	}
	if o.out == "" {
		_, err := a.out().Write(res.Source)
		return err
	}
	if err := os.WriteFile(o.out, res.Source, 0o644); err != nil {
		return fmt.Errorf("models generate: %w", err)
	}
	fmt.Fprintf(a.errw(), "wrote %s\n", o.out)
	return nil
}

// Package cli is the `uno` command as a library, so an application can
// build the same command around its own models in its own binary:
//
//	func main() {
//		app := &cli.App{Models: []any{Customer{}, Order{}}}
//		os.Exit(app.Main(context.Background(), os.Args[1:]))
//	}
//
// Commands:
//
//	uno db create              roles, database, schemas, extensions, uno's functions, privileges
//	uno db drop                drop the database and its roles
//	uno emit                   print all SQL for the database and the models (dry run)
//	uno migrate diff [--check] print the plan from the live database to the models
//	uno migrate new NAME       write the next migration files from that plan
//	uno migrate up [N]         apply pending migrations
//	uno migrate down [N]       revert the last N migrations (default 1)
//	uno migrate redo           revert and re-apply the last migration
//	uno migrate status         list migrations and their state
//	uno demo                   the demo, when the App has one
//
// The database comes from --url, else DATABASE_URL, else the PG* variables.
// The URL names a superuser (or a role that may create databases and roles)
// and the application's database; uno derives the roles <db>_login,
// _reader, _writer, _admin and _base_role from the database name. DDL runs as
// <db>_admin. Exit codes: 0 success, 1 failure, 2 bad usage, 3 refused
// (destructive changes without --allow-destructive, an edited applied
// migration, or drift found by `migrate diff --check`).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
	"github.com/uno-db/uno/model"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailed  = 1
	ExitUsage   = 2
	ExitRefused = 3
)

// App is one `uno` command: the models it knows and the database shape.
type App struct {
	// Name is the command's name in help text; default "uno".
	Name string
	// Models are model values (or pointers) to register, in one batch.
	Models []any
	// Registry, when set, is used instead of registering Models.
	Registry *model.Registry
	// Database describes the application's schemas and extensions; its
	// Name and Roles come from the URL.
	Database emit.Database
	// Demo, when set, is run by `uno demo`.
	Demo func(ctx context.Context, out io.Writer) error
	// Stdout and Stderr default to the process's.
	Stdout, Stderr io.Writer
}

// errUsage marks bad usage; errRefused marks a refusal (exit 3).
var (
	errUsage   = errors.New("usage")
	errRefused = errors.New("refused")
)

func (a *App) name() string {
	if a.Name == "" {
		return "uno"
	}
	return a.Name
}

func (a *App) out() io.Writer {
	if a.Stdout == nil {
		return os.Stdout
	}
	return a.Stdout
}

func (a *App) errw() io.Writer {
	if a.Stderr == nil {
		return os.Stderr
	}
	return a.Stderr
}

func (a *App) usage() string {
	return fmt.Sprintf(`usage: %[1]s [--url URL] <command> [flags]

commands:
  db create                  create the roles, the database, its schemas and extensions,
                             uno's functions and privileges (safe to run twice)
  db drop                    drop the database and its roles
  emit                       print every SQL statement for the database and the models
  migrate diff [--check]     print the plan from the live database to the models
                             (--check: exit 3 if there is any difference)
  migrate new NAME           write the next migration (up and down files) from that plan
  migrate up [N]             apply the pending migrations (at most N)
  migrate down [N]           revert the last N applied migrations (default 1)
  migrate redo               revert and re-apply the last migration
  migrate status             list the migrations and their state
  demo                       run the demo

flags:
  --url URL                  database URL (default DATABASE_URL, else the PG* variables);
                             a superuser and the application's database
  --dir DIR                  migrations directory (default "migrations")
  --allow-destructive        let plans drop tables and columns or narrow types
  --concurrent               build new indexes on existing tables CONCURRENTLY

environment:
  DATABASE_URL, PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE
  UNO_LOGIN_PASSWORD         password given to <db>_login by db create (default: none)

exit codes: 0 success, 1 failure, 2 bad usage, 3 refused
`, a.name())
}

// options are the parsed global flags.
type options struct {
	url         string
	dir         string
	destructive bool
	concurrent  bool
	check       bool
}

// Main runs the command line args (without the program name) and returns
// the exit code.
func (a *App) Main(ctx context.Context, args []string) int {
	err := a.run(ctx, args)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(a.errw(), a.usage())
		return ExitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(a.errw(), "%s: %v\n\n%s", a.name(), err, a.usage())
		return ExitUsage
	case errors.Is(err, errRefused), errors.Is(err, migrate.ErrDestructive), errors.Is(err, migrate.ErrModified),
		errors.Is(err, migrate.ErrNothingApplied):
		fmt.Fprintf(a.errw(), "%s: %v\n", a.name(), err)
		return ExitRefused
	default:
		fmt.Fprintf(a.errw(), "%s: %v\n", a.name(), err)
		return ExitFailed
	}
}

func (a *App) run(ctx context.Context, args []string) error {
	var o options
	fs := flag.NewFlagSet(a.name(), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.url, "url", "", "database URL")
	fs.StringVar(&o.dir, "dir", "migrations", "migrations directory")
	fs.BoolVar(&o.destructive, "allow-destructive", false, "allow destructive changes")
	fs.BoolVar(&o.concurrent, "concurrent", false, "build indexes concurrently")
	fs.BoolVar(&o.check, "check", false, "exit 3 when migrate diff finds differences")
	// Flags may come before or after the command words.
	var words []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(words) == 0 {
		return fmt.Errorf("%w: no command", errUsage)
	}
	cmd := strings.Join(words[:min(2, len(words))], " ")
	switch {
	case words[0] == "help":
		return flag.ErrHelp
	case words[0] == "demo":
		if a.Demo == nil {
			return fmt.Errorf("%w: this command has no demo", errUsage)
		}
		return a.Demo(ctx, a.out())
	case cmd == "db create":
		return a.dbCreate(ctx, o)
	case cmd == "db drop":
		return a.dbDrop(ctx, o)
	case words[0] == "emit":
		return a.emit(o)
	case cmd == "migrate diff":
		return a.migrateDiff(ctx, o)
	case cmd == "migrate new":
		if len(words) != 3 {
			return fmt.Errorf("%w: migrate new needs a NAME", errUsage)
		}
		return a.migrateNew(ctx, o, words[2])
	case cmd == "migrate up", cmd == "migrate down":
		n := 0
		if len(words) == 3 {
			v, err := strconv.Atoi(words[2])
			if err != nil || v < 1 {
				return fmt.Errorf("%w: %s: N must be a positive number, not %q", errUsage, cmd, words[2])
			}
			n = v
		} else if len(words) > 3 {
			return fmt.Errorf("%w: too many arguments", errUsage)
		}
		if words[1] == "up" {
			return a.migrateUp(ctx, o, n)
		}
		return a.migrateDown(ctx, o, n)
	case cmd == "migrate redo":
		return a.migrateRedo(ctx, o)
	case cmd == "migrate status":
		return a.migrateStatus(ctx, o)
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, strings.Join(words, " "))
}

// target returns the database config from the flags and environment, and
// the database description with its name and roles.
func (a *App) target(o options) (config.Config, emit.Database, error) {
	var cfg config.Config
	var err error
	if o.url != "" {
		cfg, err = config.Parse(o.url)
	} else {
		cfg, err = config.FromEnv()
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

func (a *App) dbCreate(ctx context.Context, o options) error {
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
	fmt.Fprintf(a.out(), "database %s ready: roles %s, %s, %s, %s, %s; %d set-up statements\n",
		d.Name, d.Roles.Login, d.Roles.Reader, d.Roles.Writer, d.Roles.Admin, d.Roles.Base, len(stmts))
	return nil
}

func (a *App) dbDrop(ctx context.Context, o options) error {
	cfg, d, err := a.target(o)
	if err != nil {
		return err
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
	fmt.Fprintf(a.out(), "database %s and its roles dropped\n", d.Name)
	return nil
}

func (a *App) emit(o options) error {
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
	w := a.out()
	for _, part := range []struct {
		title string
		stmts []emit.Statement
	}{
		{"on the maintenance database, as a superuser", cluster},
		{"in database " + d.Name + ", as a superuser", setup},
		{"in database " + d.Name + ", as " + d.Roles.Admin, models},
	} {
		fmt.Fprintf(w, "-- %s\n\n", part.title)
		for _, s := range part.stmts {
			fmt.Fprintf(w, "-- %s %s\n%s;\n\n", s.Kind, s.Name, s.Display())
		}
	}
	return nil
}

// plan computes the plan from the live database to the models, and the
// reverse plan for a down migration.
func (a *App) plan(ctx context.Context, o options) (up, down migrate.Plan, err error) {
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
	want, err := migrate.DesiredWith(ctx, cfg, func(ctx context.Context, conn *pgx.Conn) error {
		if err := emit.Exec(ctx, conn, setup); err != nil {
			return err
		}
		r := emit.Runner{Role: d.Roles.Admin}
		return r.Exec(ctx, conn, models)
	})
	if err != nil {
		return up, down, err
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return up, down, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	live, err := catalog.Inspect(ctx, conn)
	if err != nil {
		return up, down, err
	}
	// The migration history is the migrator's, not the models'.
	live.Tables = slices.DeleteFunc(live.Tables, func(t *catalog.Table) bool { return t.Name == migrate.DefaultTable })
	opts := migrate.Options{Concurrent: o.concurrent}
	up = migrate.Diff(live, want, opts)
	// The down plan undoes what the up plan does: it only concerns the
	// objects the models have (others were left alone by up).
	touched := *live
	touched.Tables = slices.DeleteFunc(slices.Clone(live.Tables), func(t *catalog.Table) bool { return want.Table(t.Schema, t.Name) == nil })
	touched.Enums = slices.DeleteFunc(slices.Clone(live.Enums), func(e catalog.Enum) bool {
		return !slices.ContainsFunc(want.Enums, func(w catalog.Enum) bool { return w.Schema == e.Schema && w.Name == e.Name })
	})
	touched.Functions = slices.DeleteFunc(slices.Clone(live.Functions), func(f catalog.Function) bool {
		return !slices.ContainsFunc(want.Functions, func(w catalog.Function) bool {
			return w.Schema == f.Schema && w.Name == f.Name && w.Args == f.Args
		})
	})
	down = migrate.Diff(want, &touched, migrate.Options{DropUnknown: true})
	return up, down, nil
}

func (a *App) migrateDiff(ctx context.Context, o options) error {
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

func (a *App) migrateNew(ctx context.Context, o options, name string) error {
	up, down, err := a.plan(ctx, o)
	if err != nil {
		return err
	}
	if err := up.Check(o.destructive); err != nil {
		return err
	}
	path, err := migrate.WriteNext(o.dir, name, up, down)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out(), "wrote %s (%d changes)\n", path, len(up.Changes))
	for _, l := range up.Lints() {
		fmt.Fprintln(a.out(), "lint:", l)
	}
	return nil
}

func (a *App) migrator(o options) (*migrate.Migrator, []migrate.Migration, error) {
	cfg, d, err := a.target(o)
	if err != nil {
		return nil, nil, err
	}
	migs, err := migrate.ReadDir(os.DirFS(o.dir))
	if err != nil {
		return nil, nil, err
	}
	return &migrate.Migrator{Config: cfg, Role: d.Roles.Admin}, migs, nil
}

func (a *App) migrateUp(ctx context.Context, o options, n int) error {
	m, migs, err := a.migrator(o)
	if err != nil {
		return err
	}
	var bar *progress.Reporter
	m.Progress = func(done, total int, mg migrate.Migration) {
		if bar == nil {
			bar = progress.New(a.out(), "migrate up", int64(total))
		}
		bar.Set(int64(done))
	}
	done, err := m.Up(ctx, migs, n)
	if bar != nil {
		bar.Finish()
	}
	for _, mg := range done {
		fmt.Fprintf(a.out(), "applied %04d_%s\n", mg.Version, mg.Name)
	}
	if err == nil && len(done) == 0 {
		fmt.Fprintln(a.out(), "nothing to apply")
	}
	return err
}

func (a *App) migrateDown(ctx context.Context, o options, n int) error {
	m, migs, err := a.migrator(o)
	if err != nil {
		return err
	}
	done, err := m.Down(ctx, migs, n)
	for _, mg := range done {
		fmt.Fprintf(a.out(), "reverted %04d_%s\n", mg.Version, mg.Name)
	}
	return err
}

func (a *App) migrateRedo(ctx context.Context, o options) error {
	m, migs, err := a.migrator(o)
	if err != nil {
		return err
	}
	if err := m.Redo(ctx, migs); err != nil {
		return err
	}
	fmt.Fprintln(a.out(), "redone the last migration")
	return nil
}

func (a *App) migrateStatus(ctx context.Context, o options) error {
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
		fmt.Fprintln(a.out(), "no migrations")
	}
	if modified {
		return fmt.Errorf("%w: an applied migration was edited", migrate.ErrModified)
	}
	return nil
}

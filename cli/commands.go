package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// defaultDir is the migrations directory when --dir is not given.
const defaultDir = "migrations"

// options are the parsed flags of one command.
type options struct {
	url         string
	dir         string
	destructive bool
	concurrent  bool
	check       bool
	yes         bool
	takeRights  bool
	schema      string
	pkg         string
	out         string
	directURL   string
}

// flagDef is one flag a command may have.
type flagDef struct {
	name, value, usage string // value: the placeholder in help, "" for a bool
	define             func(fs *flag.FlagSet, o *options)
}

var (
	flagURL = flagDef{"url", "URL", "the database URL (default DATABASE_URL, else the PG* variables):\n" +
		"a superuser (or a role that may create databases and roles)\nand the application's database",
		func(fs *flag.FlagSet, o *options) { fs.StringVar(&o.url, "url", o.url, "") }}
	flagDir = flagDef{"dir", "DIR", `the migrations directory (default "` + defaultDir + `")`,
		func(fs *flag.FlagSet, o *options) { fs.StringVar(&o.dir, "dir", o.dir, "") }}
	flagDestructive = flagDef{"allow-destructive", "", "let the plan drop tables and columns or narrow types",
		func(fs *flag.FlagSet, o *options) { fs.BoolVar(&o.destructive, "allow-destructive", false, "") }}
	flagConcurrent = flagDef{"concurrent", "", "build new indexes on existing tables CONCURRENTLY",
		func(fs *flag.FlagSet, o *options) { fs.BoolVar(&o.concurrent, "concurrent", false, "") }}
	flagCheck = flagDef{"check", "", "exit 3 when the database differs from the models (for CI)",
		func(fs *flag.FlagSet, o *options) { fs.BoolVar(&o.check, "check", false, "") }}
	flagTakeRights = flagDef{"take-rights", "", "on an existing database, also take rights away: make <db>_admin\n" +
		"the owner of the database and its schemas and revoke PUBLIC's rights",
		func(fs *flag.FlagSet, o *options) { fs.BoolVar(&o.takeRights, "take-rights", false, "") }}
	flagDirectURL = flagDef{"direct-url", "URL", "a direct URL of the same database (default DIRECT_DATABASE_URL),\n" +
		"used instead of --url when that goes through PgBouncer\n(pooler=pgbouncer): the migration lock needs a session",
		func(fs *flag.FlagSet, o *options) { fs.StringVar(&o.directURL, "direct-url", "", "") }}
	flagSchema = flagDef{"schema", "NAME", "read this schema only (default: every schema)",
		func(fs *flag.FlagSet, o *options) { fs.StringVar(&o.schema, "schema", "", "") }}
	flagPackage = flagDef{"package", "NAME", `the Go package name (default "models")`,
		func(fs *flag.FlagSet, o *options) { fs.StringVar(&o.pkg, "package", "", "") }}
	flagOut = flagDef{"out", "FILE", "write the Go file there (default: stdout)",
		func(fs *flag.FlagSet, o *options) { fs.StringVar(&o.out, "out", "", "") }}
	flagYes = flagDef{"yes", "", "drop without asking; without it, db drop asks on a terminal\n" +
		"for the database name and refuses (exit 2) when there is no terminal",
		func(fs *flag.FlagSet, o *options) { fs.BoolVar(&o.yes, "yes", false, "") }}
)

// command is one command: its words, arguments, help and handler.
type command struct {
	path             string // the command words, e.g. "migrate up"
	args             string // the arguments in the usage line, e.g. "[N]"
	minArgs, maxArgs int
	summary          string // one line for the command list
	help             string // the help page's text
	flags            []flagDef
	needsModels      bool // the command says so when the App has no models
	run              func(a *App, ctx context.Context, o *options, args []string) error
}

// groups are the command words that only group commands.
var groups = []struct{ name, summary string }{
	{"db", "create or drop the application's database and roles"},
	{"migrate", "plan, write, apply and revert migrations"},
	{"models", "write Go models from a live schema"},
}

func isGroup(word string) bool {
	for _, g := range groups {
		if g.name == word {
			return true
		}
	}
	return false
}

// allCommands are every command, in help order. They are set in init
// because the handlers look commands up (for their usage lines).
var allCommands []*command

func init() {
	allCommands = []*command{
		{
			path: "db create", summary: "create the roles, the database and everything uno needs in it",
			help: `Creates the roles <db>_login, _reader, _writer, _admin and _base_role, the
database, its schemas and extensions, uno's functions (generate_ulid(), the
record-status and audit triggers) and the privileges. Safe to run twice.
UNO_LOGIN_PASSWORD, when set, is given to <db>_login as its password.

A new database belongs to <db>_admin, and PUBLIC has no rights on it or its
schemas. On a database that exists already, db create takes no rights
away unless --take-rights is given: it lists on stderr what it leaves
alone (the owner of the database and of its schemas, PUBLIC's CONNECT and
TEMPORARY on it, PUBLIC's rights on the schemas), grants <db>_admin what it
needs instead, and sets up the rest.`,
			flags: []flagDef{flagURL, flagTakeRights}, run: (*App).dbCreate,
		},
		{
			path: "db drop", summary: "drop the database and its roles",
			help: `Drops the database and its roles. It asks for the database name on a
terminal unless --yes is given; with neither --yes nor a terminal it refuses.`,
			flags: []flagDef{flagURL, flagYes}, run: (*App).dbDrop,
		},
		{
			path: "emit", summary: "print every SQL statement for the database and the models",
			help: `Prints, without running anything, the SQL that db create and the models'
migration would run: on the maintenance database, in the database as a
superuser, and in the database as <db>_admin. Only SQL goes to stdout.
The URL is used for the database and role names only; nothing connects.`,
			flags: []flagDef{flagURL}, run: (*App).emit,
		},
		{
			path: "schema", summary: "print the models as a Mermaid ER diagram",
			help: `Prints the models as a Mermaid entity-relationship diagram: every table with
its columns and types, primary (PK), foreign (FK) and unique (UK) keys, and a
relationship for every foreign key. Paste it into Markdown inside a
` + "```mermaid" + ` block. Needs no database.`,
			needsModels: true, run: (*App).schema,
		},
		{
			path: "migrate diff", summary: "print the plan from the live database to the models",
			help: `Builds the models in a scratch database (their DDL runs as <db>_admin, as
migrate up runs it), reads the live database in a read-only transaction and
prints the SQL that would bring the database to the models. It changes
nothing on the server. Objects the models do not know, and what the models
do not declare on their tables (policies, triggers, grants, …), are left
alone.`,
			flags: []flagDef{flagURL, flagDirectURL, flagCheck, flagDestructive, flagConcurrent}, needsModels: true, run: (*App).migrateDiff,
		},
		{
			path: "migrate new", args: "NAME", minArgs: 1, maxArgs: 1,
			summary: "write the next migration (up and down files) from that plan",
			help: `Writes NNNN_NAME.up.sql and NNNN_NAME.down.sql into the migrations directory
from the plan migrate diff prints. NAME is lower-case letters, digits and _.`,
			flags: []flagDef{flagURL, flagDirectURL, flagDir, flagDestructive, flagConcurrent}, needsModels: true, run: (*App).migrateNew,
		},
		{
			path: "migrate up", args: "[N]", maxArgs: 1, summary: "apply the pending migrations (at most N)",
			help: `Applies the pending migrations in order, each in its own transaction, under
an advisory lock. It refuses when an applied migration was edited.`,
			flags: []flagDef{flagURL, flagDirectURL, flagDir}, run: (*App).migrateUp,
		},
		{
			path: "migrate down", args: "[N]", maxArgs: 1, summary: "revert the last N applied migrations (default 1)",
			help:  `Reverts the last N applied migrations (default 1) with their down files.`,
			flags: []flagDef{flagURL, flagDirectURL, flagDir}, run: (*App).migrateDown,
		},
		{
			path: "migrate redo", summary: "revert and re-apply the last migration",
			help:  `Reverts the last applied migration and applies it again.`,
			flags: []flagDef{flagURL, flagDirectURL, flagDir}, run: (*App).migrateRedo,
		},
		{
			path: "migrate status", summary: "list the migrations and their state",
			help: `Lists the migrations in the directory and in the database with their state
(applied, pending, modified, missing). Exit 3 when an applied migration was
edited.`,
			flags: []flagDef{flagURL, flagDirectURL, flagDir}, run: (*App).migrateStatus,
		},
		{
			path: "migrate baseline", args: "[VERSION]", maxArgs: 1,
			summary: "record an existing database as the starting point, running nothing",
			help: `Adopts an existing database: records the migrations of the directory up to
VERSION (default: all) as applied, without running them. When the directory
holds no migrations yet, it first writes NNNN_baseline.up.sql from the live
database (its schemas, tables, enums and functions, to build new
environments; views, domains and composite types are not in it) with an
empty down file, and records that. It refuses when an applied migration was
edited or is partly applied (exit 3).`,
			flags: []flagDef{flagURL, flagDirectURL, flagDir}, run: (*App).migrateBaseline,
		},
		{
			path: "models generate", args: "[TABLE…]", maxArgs: 1 << 16,
			summary: "write Go model structs with uno tags from the live database",
			help: `Reads the live database (in a read-only transaction) and writes Go model
structs with uno tags for its tables, or for the TABLEs given (as
schema.table, or table for public), and Models() returning them all: build
your command with cli.App{Models: models.Models()}. A migrate diff right
after generating is empty. What the tags cannot say (triggers, policies,
exclusion constraints, expression indexes, serial defaults, …) is left to
the database and listed on stderr; plans leave it alone.`,
			flags: []flagDef{flagURL, flagSchema, flagPackage, flagOut}, run: (*App).modelsGenerate,
		},
		{
			path: "demo", summary: "run the demo on DATABASE_URL or a throwaway PostgreSQL",
			help: `Walks through uno on a throwaway database and fails if any step does not
behave as it says. Without DATABASE_URL or PGHOST it starts its own server.`,
			run: (*App).demo,
		},
	}
}

// commands are the App's commands: demo only when the App has one.
func (a *App) commands() []*command {
	var cmds []*command
	for _, c := range allCommands {
		if c.path == "demo" && a.Demo == nil {
			continue
		}
		cmds = append(cmds, c)
	}
	return cmds
}

func (a *App) lookup(path string) *command {
	for _, c := range a.commands() {
		if c.path == path {
			return c
		}
	}
	return nil
}

func (a *App) usageLine(c *command) string {
	line := a.name() + " " + c.path
	if len(c.flags) > 0 {
		line += " [flags]"
	}
	if c.args != "" {
		line += " " + c.args
	}
	return line
}

// listCommands writes one line per command of the group ("" for all).
func (a *App) listCommands(w io.Writer, group string) {
	for _, c := range a.commands() {
		if group != "" && !strings.HasPrefix(c.path, group+" ") {
			continue
		}
		name := c.path
		if c.args != "" {
			name += " " + c.args
		}
		fmt.Fprintf(w, "  %-26s %s\n", name, c.summary)
	}
}

// printHelp writes the help page of a command, a group, or the program.
func (a *App) printHelp(w io.Writer, c *command, group string) {
	switch {
	case c != nil:
		fmt.Fprintf(w, "usage: %s\n\n%s\n", a.usageLine(c), c.help)
		if len(c.flags) > 0 {
			fmt.Fprintln(w, "\nflags:")
			for _, f := range c.flags {
				name := "--" + f.name
				if f.value != "" {
					name += " " + f.value
				}
				fmt.Fprintf(w, "  %-22s %s\n", name, strings.ReplaceAll(f.usage, "\n", "\n"+strings.Repeat(" ", 25)))
			}
		}
		if c.needsModels && !a.hasModels() {
			fmt.Fprintf(w, "\n%s\n", noModelsHint)
		}
	case group != "":
		fmt.Fprintf(w, "usage: %s %s <command> [flags]\n\n", a.name(), group)
		for _, g := range groups {
			if g.name == group {
				fmt.Fprintf(w, "%s %s: %s.\n\n", a.name(), g.name, g.summary)
			}
		}
		fmt.Fprintln(w, "commands:")
		a.listCommands(w, group)
		fmt.Fprintf(w, "\nRun '%s %s <command> --help' for a command's flags.\n", a.name(), group)
	default:
		fmt.Fprintf(w, "usage: %s <command> [flags] [arguments]\n\ncommands:\n", a.name())
		a.listCommands(w, "")
		fmt.Fprintf(w, `
Run '%[1]s <command> --help' (or '%[1]s help <command>') for a command's flags.

environment:
  DATABASE_URL, PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE
  UNO_LOGIN_PASSWORD         password given to <db>_login by db create (default: none)
  DIRECT_DATABASE_URL        a direct URL for the migrate commands when DATABASE_URL goes
                             through PgBouncer (pooler=pgbouncer)

exit codes: 0 success, 1 failure, 2 bad usage, 3 refused
`, a.name())
		if !a.hasModels() {
			fmt.Fprintf(w, "\n%s\n", noModelsHint)
		}
	}
}

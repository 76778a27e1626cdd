// Package cli is the `uno` command as a library. The stock `uno` binary
// knows no models: an application builds the same command around its own
// models in its own binary, usually cmd/<app>-db/main.go:
//
//	func main() {
//		app := &cli.App{Name: "shop-db", Models: []any{Customer{}, Order{}}}
//		os.Exit(app.Main(context.Background(), os.Args[1:]))
//	}
//
// Commands:
//
//	uno db create              roles, database, schemas, extensions, uno's functions, privileges
//	                           (on an existing database it takes no rights away without --take-rights)
//	uno db drop --yes          drop the database and its roles
//	uno emit                   print all SQL for the database and the models (dry run)
//	uno schema                 print the models as a Mermaid ER diagram
//	uno migrate diff [--check] print the plan from the live database to the models
//	uno migrate new NAME       write the next migration files from that plan
//	uno migrate up [N]         apply pending migrations
//	uno migrate down [N]       revert the last N migrations (default 1)
//	uno migrate redo           revert and re-apply the last migration
//	uno migrate status         list migrations and their state
//	uno migrate baseline [V]   record an existing database as the start, running nothing
//	uno models generate [T…]   write Go models with uno tags from the live database
//	uno demo                   the demo, when the App has one
//
// Every command has its own flags and help page (`uno migrate up --help`,
// or `uno help migrate up`), written to stdout; `uno migrate` alone lists
// the migrate commands. A command's product (SQL, the diagram, the status
// table) goes to stdout and everything else (progress, what was done,
// errors) to stderr, so `uno emit > schema.sql` writes only SQL.
//
// The database comes from --url, else DATABASE_URL, else the PG* variables.
// The URL names a superuser (or a role that may create databases and roles)
// and the application's database; uno derives the roles <db>_login,
// _reader, _writer, _admin and _base_role from the database name. DDL runs as
// <db>_admin. Exit codes: 0 success, 1 failure, 2 bad usage (also: db drop
// without --yes and without a terminal to confirm on), 3 refused
// (destructive changes without --allow-destructive, an edited applied
// migration, drift found by `migrate diff --check`, a wrong confirmation).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/uno-db/uno/emit"
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
	// Stdin defaults to the process's; `db drop` reads its typed
	// confirmation from it when it is a terminal.
	Stdin io.Reader
}

// errRefused marks a refusal (exit 3).
var errRefused = errors.New("refused")

// usageError is bad usage (exit 2): the message, and the command or group
// whose usage line follows it.
type usageError struct {
	msg   string
	cmd   *command // the command, or nil
	group string   // the group, when cmd is nil; "" for the whole program
}

func (e *usageError) Error() string { return e.msg }

// helpRequest asks Main to print a help page on stdout and exit 0.
type helpRequest struct {
	cmd   *command
	group string
}

func (h *helpRequest) Error() string { return "help requested" }

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

func (a *App) in() io.Reader {
	if a.Stdin == nil {
		return os.Stdin
	}
	return a.Stdin
}

// Main runs the command line args (without the program name) and returns
// the exit code.
func (a *App) Main(ctx context.Context, args []string) int {
	err := a.run(ctx, args)
	var help *helpRequest
	var usage *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &help):
		a.printHelp(a.out(), help.cmd, help.group)
		return ExitOK
	case errors.As(err, &usage):
		a.printUsageError(usage)
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

// run finds the command named by the leading words of args, parses its
// flags and arguments and runs it.
func (a *App) run(ctx context.Context, args []string) error {
	// Flags before the command words: only the ones every database
	// command shares (--url) and help.
	var pre options
	top := flag.NewFlagSet(a.name(), flag.ContinueOnError)
	top.SetOutput(io.Discard)
	top.StringVar(&pre.url, "url", "", "")
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &helpRequest{}
		}
		return &usageError{msg: err.Error()}
	}
	words := top.Args()
	if len(words) == 0 {
		return &usageError{msg: "no command given"}
	}
	first := words[0]
	switch {
	case first == "help":
		return a.helpFor(words[1:])
	case isGroup(first):
		if len(words) == 1 {
			return &usageError{msg: fmt.Sprintf("%q needs a command", first), group: first}
		}
		sub := words[1]
		if sub == "-h" || sub == "-help" || sub == "--help" {
			return &helpRequest{group: first}
		}
		cmd := a.lookup(first + " " + sub)
		if cmd == nil && strings.HasPrefix(sub, "-") {
			return &usageError{msg: fmt.Sprintf("%s: the command comes before its flags (%s %s <command> %s …)", first, a.name(), first, sub), group: first}
		}
		if cmd == nil {
			return &usageError{msg: fmt.Sprintf("unknown command %q", first+" "+sub), group: first}
		}
		return a.runCommand(ctx, cmd, pre, words[2:])
	}
	cmd := a.lookup(first)
	if cmd == nil {
		return &usageError{msg: fmt.Sprintf("unknown command %q", first)}
	}
	return a.runCommand(ctx, cmd, pre, words[1:])
}

// helpFor answers `uno help [words]`.
func (a *App) helpFor(words []string) error {
	path := strings.Join(words, " ")
	switch {
	case path == "":
		return &helpRequest{}
	case isGroup(path):
		return &helpRequest{group: path}
	}
	if cmd := a.lookup(path); cmd != nil {
		return &helpRequest{cmd: cmd}
	}
	return &usageError{msg: fmt.Sprintf("help: unknown command %q", path)}
}

// runCommand parses the command's flags, which may come before, between or
// after its arguments (everything after "--" is an argument), checks the
// number of arguments and runs it.
func (a *App) runCommand(ctx context.Context, cmd *command, pre options, args []string) error {
	if pre.url != "" && !slices.ContainsFunc(cmd.flags, func(f flagDef) bool { return f.name == "url" }) {
		return &usageError{msg: cmd.path + ": takes no --url", cmd: cmd}
	}
	o := pre
	o.dir = defaultDir
	fs := flag.NewFlagSet(a.name()+" "+cmd.path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, f := range cmd.flags {
		f.define(fs, &o)
	}
	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return &helpRequest{cmd: cmd}
			}
			return &usageError{msg: cmd.path + ": " + err.Error(), cmd: cmd}
		}
		consumed := len(rest) - fs.NArg()
		if fs.NArg() == 0 {
			break
		}
		if consumed > 0 && rest[consumed-1] == "--" {
			positional = append(positional, fs.Args()...)
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	switch {
	case len(positional) < cmd.minArgs:
		return &usageError{msg: fmt.Sprintf("%s: missing %s", cmd.path, cmd.args), cmd: cmd}
	case len(positional) > cmd.maxArgs:
		extra := positional[cmd.maxArgs:]
		return &usageError{msg: fmt.Sprintf("%s: unexpected argument %q", cmd.path, strings.Join(extra, " ")), cmd: cmd}
	}
	if cmd.needsModels && !a.hasModels() {
		return fmt.Errorf("%s: %w", cmd.path, errNoModels)
	}
	err := sessionHint(cmd.run(a, ctx, &o, positional))
	var usage *usageError
	if errors.As(err, &usage) && usage.cmd == nil && usage.group == "" {
		usage.cmd = cmd
	}
	return err
}

// printUsageError writes a usage error and the usage line of the command or
// group to stderr.
func (a *App) printUsageError(u *usageError) {
	w := a.errw()
	fmt.Fprintf(w, "%s: %s\n", a.name(), u.msg)
	switch {
	case u.cmd != nil:
		fmt.Fprintf(w, "usage: %s\nRun '%s %s --help' for its flags.\n", a.usageLine(u.cmd), a.name(), u.cmd.path)
	case u.group != "":
		fmt.Fprintf(w, "usage: %s %s <command> [flags]\n\ncommands:\n", a.name(), u.group)
		a.listCommands(w, u.group)
	default:
		fmt.Fprintf(w, "usage: %s <command> [flags]\nRun '%s help' for the commands.\n", a.name(), a.name())
	}
}

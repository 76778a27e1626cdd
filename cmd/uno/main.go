// Command uno is uno for Go's command-line tool: database lifecycle, DDL
// emission, migrations and the demo. The stock binary knows no models, so
// it never plans tables that are not yours: build the same command around
// your own models with package cli (see its example), and use this one for
// `db create`, `db drop`, the migrations you wrote, and `uno demo`.
//
// Run `uno help` for the commands, and `uno <command> --help` for a
// command's flags.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/uno-db/uno/cli"
	"github.com/uno-db/uno/internal/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	app := &cli.App{Demo: demo.Run}
	code := app.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

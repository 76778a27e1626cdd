// Command uno is uno for Go's command-line tool: database lifecycle, DDL
// emission, migrations and the demo, for the demo models. Build the same
// command around your own models with package cli.
//
// Run `uno help` for the commands, flags and exit codes.
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
	app := &cli.App{Models: demo.Models(), Demo: demo.Run}
	code := app.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

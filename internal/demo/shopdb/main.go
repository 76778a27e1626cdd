// Command shopdb is the uno command built around the demo's models, the
// way an application builds its own with package cli. The command tests
// run it for everything that needs models (emit, schema, migrate diff and
// new); `uno demo` uses the same App in-process.
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
	app := &cli.App{Name: "shopdb", Models: demo.Models()}
	code := app.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Command salesdb is an uno command whose models live in their own schema
// (schema:), with names that need quoting; the command tests build it to
// plan and apply such models (issue 13, item 3).
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/cli"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

// Region is a table in schema "sales ops".
type Region struct {
	uno.Model `uno:"table:region,schema:sales ops" doc:"Where we sell."`
	model.ULIDKey
	Name types.String255 `uno:"name,unique"`
}

// Order is a table named "order" in schema "sales ops", with a foreign key
// to Region in the same schema.
type Order struct {
	uno.Model `uno:"table:order,schema:sales ops"`
	model.ULIDKey
	RegionID types.String26 `uno:"region_id,fk:region.id,index"`
	Note     *string        `uno:"note"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	app := &cli.App{Name: "salesdb", Models: []any{Region{}, Order{}}}
	code := app.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

package engine_test

import (
	"context"
	"fmt"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
)

// Open a pool through the factory and run a transaction with a
// transaction-local identity, as row-level security policies see it.
func ExampleDB_WithTx() {
	url, err := pgtest.ServerURL() // in an application: config.FromEnv()
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, err := config.Parse(url)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	factory, err := engine.NewFactory(engine.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer factory.Close(ctx)
	db, err := factory.Open(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	again, _ := factory.Open(ctx, cfg)
	fmt.Println("same pool:", again == db)

	err = db.WithTx(ctx, engine.TxOptions{Identity: engine.Identity{UserID: "u1", TenantID: "acme"}},
		func(ctx context.Context, tx *engine.Tx) error {
			var user, tenant string
			err := tx.QueryRow(ctx, `SELECT current_setting('rls_var.user_id'), current_setting('rls_var.tenant_id')`).
				Scan(&user, &tenant)
			fmt.Println("inside:", user, tenant)
			return err
		})
	if err != nil {
		fmt.Println(err)
		return
	}
	var after string
	_ = db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		return c.QueryRow(ctx, `SELECT coalesce(current_setting('rls_var.user_id', true), '')`).Scan(&after)
	})
	fmt.Printf("after: %q\n", after)
	// Output:
	// same pool: true
	// inside: u1 acme
	// after: ""
}

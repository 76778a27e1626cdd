package engine_test

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
)

// Run a database/sql transaction with a transaction-local identity, as
// row-level security policies see it. With Role: engine.RoleWriter this is
// the seed's sync_connection(db_role="writer"); the plain *sql.DB of
// db.SQL() runs as the login role and keeps no identity.
func ExampleDB_SQLTx() {
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
	opts := engine.TxOptions{Identity: engine.Identity{UserID: "u1", TenantID: "acme"}}
	err = db.SQLTx(ctx, opts, func(ctx context.Context, tx *sql.Tx) error {
		var user, tenant string
		err := tx.QueryRowContext(ctx, `SELECT current_setting('rls_var.user_id'), current_setting('rls_var.tenant_id')`).
			Scan(&user, &tenant)
		fmt.Println("inside:", user, tenant)
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var after string
	if err := db.SQL().QueryRowContext(ctx, `SELECT coalesce(current_setting('rls_var.user_id', true), '')`).Scan(&after); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("after: %q\n", after)
	// Output:
	// inside: u1 acme
	// after: ""
}

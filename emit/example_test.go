package emit_test

import (
	"fmt"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

// Customer is the seed's CustomerModel.
type Customer struct {
	uno.Model `uno:"table:customer" doc:"People who buy."`
	ID        types.String26  `uno:"id,pk,default:generate_ulid()"`
	Name      types.String255 `uno:"name"`
	Email     types.String255 `uno:"email,unique" doc:"Where receipts go."`
}

// Declare a model, register it, and emit its DDL.
func ExampleTableEmitter() {
	reg := model.NewRegistry()
	if err := reg.Register(Customer{}); err != nil {
		fmt.Println(err)
		return
	}
	table, _ := model.TableOf[Customer](reg)
	stmts, err := emit.NewTableEmitter(table).Emit()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(emit.Script(stmts))
	// Output:
	// CREATE TABLE IF NOT EXISTS "customer" (
	//     "id" VARCHAR(26) DEFAULT generate_ulid() NOT NULL,
	//     "name" VARCHAR(255) NOT NULL,
	//     "email" VARCHAR(255) NOT NULL,
	//     CONSTRAINT "pk_customer" PRIMARY KEY ("id"),
	//     CONSTRAINT "uq_customer_email" UNIQUE ("email")
	// );
	//
	// COMMENT ON TABLE "customer" IS 'People who buy.';
	//
	// COMMENT ON COLUMN "customer"."email" IS 'Where receipts go.';
}

package emit_test

import (
	"context"
	"fmt"
	"strings"

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

// Account is a tenant model that keeps its history.
type Account struct {
	uno.Model `uno:"table:account"`
	model.ULIDKey
	model.Tenant
	model.RecordStatus
	Email types.String255 `uno:"email,unique"`
}

func (Account) SQLConfig() model.SQLConfig { return model.SQLConfig{History: true} }

// Everything for a model in one call: the registry picks the emitters the
// model wants from its columns and SQL configuration; a dry run prints
// what would run.
func ExampleRegistry() {
	reg := model.NewRegistry()
	if err := reg.Register(Account{}); err != nil {
		fmt.Println(err)
		return
	}
	account, _ := model.TableOf[Account](reg)
	db := emit.Database{Name: "shop"}
	emitters, err := emit.NewRegistry(db.Options()).ForModels(account)
	if err != nil {
		fmt.Println(err)
		return
	}
	runner := emit.Runner{DryRun: true}
	stmts, err := runner.Run(context.Background(), nil, emitters...)
	if err != nil {
		fmt.Println(err)
		return
	}
	var names []string
	for _, e := range emitters {
		names = append(names, e.Name())
	}
	fmt.Println(strings.Join(names, ", "))
	for _, s := range stmts {
		if first, _, _ := strings.Cut(s.SQL, "\n"); strings.HasPrefix(first, "CREATE OR REPLACE TRIGGER") || strings.HasPrefix(first, "CREATE POLICY") {
			fmt.Println(first)
		}
	}
	fmt.Println(len(stmts), "statements")
	// Output:
	// table, grants, record_status, tenant_rls, history
	// CREATE OR REPLACE TRIGGER "uno_record_status"
	// CREATE POLICY "uno_tenant_select" ON "account"
	// CREATE POLICY "uno_tenant_insert" ON "account"
	// CREATE POLICY "uno_tenant_update" ON "account"
	// CREATE POLICY "uno_tenant_delete" ON "account"
	// CREATE POLICY "uno_tenant_select" ON "account_history"
	// CREATE POLICY "uno_tenant_insert" ON "account_history"
	// CREATE OR REPLACE TRIGGER "uno_history"
	// 39 statements
}

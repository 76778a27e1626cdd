package model_test

import (
	"fmt"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

// Invoice is declared as a reader of the seed would expect.
type Invoice struct {
	uno.Model `uno:"table:invoice,schema:billing" doc:"Bills sent to customers."`
	model.ULIDKey
	model.RecordStatus
	Number types.String26 `uno:"number,unique"`
	Amount types.Decimal  `uno:"amount,type:NUMERIC(12,2),check:amount >= 0"`
	Memo   *string        `uno:"memo"`
}

// Declare a model and read its metadata: what a repository uses to build
// SQL once and scan rows without reflection by name.
func ExampleRegistry_Register() {
	reg := model.NewRegistry()
	if err := reg.Register(Invoice{}); err != nil {
		fmt.Println(err)
		return
	}
	t, _ := model.TableOf[Invoice](reg)
	fmt.Println("table:", t.QuotedName, "soft delete:", t.SoftDelete)
	for _, c := range t.Columns {
		fmt.Printf("%-12s %-13s nullable=%-5v field=%s\n", c.Name, c.SQLType, c.Nullable, c.Field)
	}
	fmt.Print("primary key: ", t.PrimaryKey.Name, "; returning:")
	for _, c := range t.Generated {
		fmt.Print(" ", c.Name)
	}
	fmt.Println()

	// Scan targets for a row: typed pointers into the struct.
	var inv Invoice
	addrs, _ := t.Addrs(&inv, nil)
	*addrs[6].(*types.String26) = "INV-1"
	fmt.Println("number:", inv.Number)

	// A unique violation names uq_invoice_number: back to the field.
	c, _ := reg.Constraint("billing", "uq_invoice_number")
	fmt.Println(c.Kind, c.Table.GoName(), c.Columns[0].Field, c.Where)
	// Output:
	// table: "billing"."invoice" soft delete: true
	// id           VARCHAR(26)   nullable=false field=ULIDKey.ID
	// is_active    BOOLEAN       nullable=false field=RecordStatus.IsActive
	// is_deleted   BOOLEAN       nullable=false field=RecordStatus.IsDeleted
	// created_at   TIMESTAMPTZ   nullable=false field=RecordStatus.CreatedAt
	// modified_at  TIMESTAMPTZ   nullable=false field=RecordStatus.ModifiedAt
	// deleted_at   TIMESTAMPTZ   nullable=true  field=RecordStatus.DeletedAt
	// number       VARCHAR(26)   nullable=false field=Number
	// amount       NUMERIC(12,2) nullable=false field=Amount
	// memo         TEXT          nullable=true  field=Memo
	// primary key: pk_invoice; returning: id is_active is_deleted created_at modified_at
	// number: INV-1
	// UNIQUE model_test.Invoice Number NOT "is_deleted"
}

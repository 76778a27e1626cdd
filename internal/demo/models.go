// Package demo holds the models and the walk-through of `uno demo`: a small
// multi-tenant shop in the spirit of uno's examples (tenant, user, customer,
// product, order, order line).
package demo

import (
	"time"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

// Tenant is a customer of the service; every other table belongs to one.
type Tenant struct {
	uno.Model `uno:"table:tenant" doc:"Organisations using the shop."`
	model.ULIDKey
	model.RecordStatus
	Name types.String255 `uno:"name,unique"`
}

// User is a person who signs in; its id fills the audit columns.
type User struct {
	uno.Model `uno:"table:user" doc:"People who sign in."`
	model.ULIDKey
	model.RecordStatus
	model.Tenant
	Email types.String255 `uno:"email,unique"`
	Name  types.String255 `uno:"name"`
}

// Customer buys from a tenant.
type Customer struct {
	uno.Model `uno:"table:customer" doc:"People who buy."`
	model.ULIDKey
	model.RecordStatus
	model.UserAudit
	model.Tenant
	Name  types.String255 `uno:"name"`
	Email types.String255 `uno:"email,unique" doc:"Where receipts go."`
	City  *string         `uno:"city"`
}

// Product is something to sell.
type Product struct {
	uno.Model `uno:"table:product"`
	model.ULIDKey
	model.Tenant
	SKU   types.String64  `uno:"sku,unique"`
	Name  types.String255 `uno:"name"`
	Price types.Decimal   `uno:"price,check:price >= 0"`
	Stock int32           `uno:"stock,default:0"`
}

// OrderStatus is where an order is in its life.
type OrderStatus string

// EnumValues lists the order states in order.
func (OrderStatus) EnumValues() []string { return []string{"new", "paid", "shipped", "cancelled"} }

// EnumName names the PostgreSQL enum type.
func (OrderStatus) EnumName() string { return "order_status" }

// Order is a customer's order; its table name is a reserved word.
type Order struct {
	uno.Model `uno:"table:order" doc:"Orders placed by customers."`
	model.ULIDKey
	model.RecordStatus
	model.UserAudit
	model.Tenant
	CustomerID types.String26 `uno:"customer_id,fk:customer.id,ondelete:cascade,index"`
	Reference  types.String64 `uno:"reference,unique"`
	Status     OrderStatus    `uno:"status,default:'new'"`
	Total      types.Decimal  `uno:"total,default:0"`
	PlacedAt   time.Time      `uno:"placed_at,default:now()"`
}

// OrderLine is one product on an order.
type OrderLine struct {
	uno.Model `uno:"table:order_line"`
	model.ULIDKey
	model.Tenant
	OrderID   types.String26 `uno:"order_id,fk:order.id,ondelete:cascade,index"`
	ProductID types.String26 `uno:"product_id,fk:product.id"`
	Qty       int32          `uno:"qty,check:qty > 0"`
	Price     types.Decimal  `uno:"price"`
}

// Models returns the demo's models, ready to register in one batch.
func Models() []any {
	return []any{Tenant{}, User{}, Customer{}, Product{}, Order{}, OrderLine{}}
}

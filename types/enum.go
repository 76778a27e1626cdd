package types

// Enum is implemented by a Go string type whose values form a PostgreSQL
// enum type. A model field of that type becomes a column of the enum type,
// emitted as CREATE TYPE … AS ENUM (values in the order given):
//
//	type OrderStatus string
//
//	func (OrderStatus) EnumValues() []string { return []string{"new", "paid", "shipped"} }
//
// The enum type is named after the Go type in snake case (order_status)
// unless the type also implements [EnumNamer], and lives in the schema of
// the model that uses it.
type Enum interface {
	EnumValues() []string
}

// EnumNamer is implemented by an [Enum] type that chooses its own
// PostgreSQL type name.
type EnumNamer interface {
	EnumName() string
}

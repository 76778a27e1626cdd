// Package schema holds the ent schemas of the bench tables. The tables are
// created from uno's models (bench.Registry); these schemas only map ent's
// generated code onto them. Regenerate with go generate ./ent from bench/.
package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// rowFields are the columns every bench table has.
func rowFields() []ent.Field {
	return []ent.Field{
		field.Int64("id"),
		field.String("sku"),
		field.String("name"),
		field.Int32("qty"),
		field.Int64("price"),
		field.Time("created_at").Optional().Immutable(),
	}
}

// scopedFields are the columns of the tenant tables.
func scopedFields() []ent.Field {
	return append(rowFields(),
		field.String("tenant_id"),
		field.String("created_by").Optional().Immutable(),
	)
}

func table(name string) []schema.Annotation {
	return []schema.Annotation{entsql.Annotation{Table: name}}
}

// Item is bench_item, the 100,000-row read table.
type Item struct{ ent.Schema }

// Fields of Item.
func (Item) Fields() []ent.Field { return rowFields() }

// Annotations of Item.
func (Item) Annotations() []schema.Annotation { return table("bench_item") }

// Write is bench_write, where inserts and upserts go.
type Write struct{ ent.Schema }

// Fields of Write.
func (Write) Fields() []ent.Field { return rowFields() }

// Annotations of Write.
func (Write) Annotations() []schema.Annotation { return table("bench_write") }

// Bulk is bench_bulk, emptied before each bulk load.
type Bulk struct{ ent.Schema }

// Fields of Bulk.
func (Bulk) Fields() []ent.Field { return rowFields() }

// Annotations of Bulk.
func (Bulk) Annotations() []schema.Annotation { return table("bench_bulk") }

// Scoped is bench_scoped, the tenant read table under row-level security.
type Scoped struct{ ent.Schema }

// Fields of Scoped.
func (Scoped) Fields() []ent.Field { return scopedFields() }

// Annotations of Scoped.
func (Scoped) Annotations() []schema.Annotation { return table("bench_scoped") }

// ScopedWrite is bench_scoped_write, the tenant insert table under
// row-level security.
type ScopedWrite struct{ ent.Schema }

// Fields of ScopedWrite.
func (ScopedWrite) Fields() []ent.Field { return scopedFields() }

// Annotations of ScopedWrite.
func (ScopedWrite) Annotations() []schema.Annotation { return table("bench_scoped_write") }

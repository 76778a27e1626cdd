package gogen_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/migrate/gogen"
)

func sample() *catalog.Database {
	return &catalog.Database{
		Schemas: []string{"public", `we"ird`},
		Enums:   []catalog.Enum{{Schema: "public", Name: "mood", Values: []string{"happy", "it's"}}},
		Tables: []*catalog.Table{
			{Schema: "public", Name: "order", Comment: "Orders", Columns: []catalog.Column{
				{Name: "id", Type: "bigint", NotNull: true, Identity: "always"},
				{Name: "code", Type: "character varying(26)", NotNull: true},
				{Name: "note", Type: "text"},
				{Name: "price", Type: "numeric(12,2)", NotNull: true, Default: "0"},
				{Name: "m", Type: "public.mood", Default: "'happy'::public.mood", Comment: "How it went"},
				{Name: "tags", Type: "text[]", NotNull: true, Default: "'{}'::text[]"},
			}, Constraints: []catalog.Constraint{
				{Name: "order_pkey", Type: "p", Def: "PRIMARY KEY (id)"},
				{Name: "order_code_key", Type: "u", Def: "UNIQUE (code)"},
				{Name: "price_ok", Type: "c", Def: "CHECK (price >= 0::numeric)"},
			}, Indexes: []catalog.Index{
				{Name: "order_note_idx", Def: "CREATE INDEX order_note_idx ON public.\"order\" USING btree (note)"},
				{Name: "order_lower", Def: "CREATE INDEX order_lower ON public.\"order\" USING btree (lower(note))"},
				{Name: "order_desc", Def: "CREATE INDEX order_desc ON public.\"order\" USING btree (note DESC)"},
				{Name: "order_part", Def: "CREATE UNIQUE INDEX order_part ON public.\"order\" USING btree (code, \"m\") WHERE (note IS NOT NULL)"},
			}},
			{Schema: `we"ird`, Name: "line", Columns: []catalog.Column{
				{Name: "order_id", Type: "bigint", NotNull: true},
				{Name: "n;o", Type: "integer", NotNull: true},
			}, Constraints: []catalog.Constraint{
				{Name: "line_pkey", Type: "p", Def: `PRIMARY KEY (order_id, "n;o")`},
				{Name: "line_fk", Type: "f", Def: "FOREIGN KEY (order_id) REFERENCES public.\"order\"(id) ON DELETE CASCADE",
					RefSchema: "public", RefTable: "order"},
				{Name: "line_no", Type: "x", Def: `EXCLUDE USING gist ("n;o" WITH =) WHERE (("n;o" > 0))`},
				{Name: "line_def", Type: "u", Def: `UNIQUE ("n;o") DEFERRABLE INITIALLY DEFERRED`},
			}},
		},
	}
}

// TestGenerate: every column, key, check, foreign key and plain index
// becomes a tag; what tags cannot say is a warning; hostile names are
// escaped.
func TestGenerate(t *testing.T) {
	t.Parallel()
	res, err := gogen.Generate(sample(), gogen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := string(res.Source)
	for _, want := range []string{
		"package models",
		"type Mood string",
		`uno:"table:order" doc:"Orders"`,
		`uno:"id,identity:always,pk"`,
		`uno:"code,unique"`,
		`uno:"note,index"`,
		`uno:"price,type:numeric(12,2),default:0,check:price >= 0::numeric"`,
		`uno:"m,default:'happy'::public.mood" doc:"How it went"`,
		`uno:"tags,notnull,default:'{}'::text[]"`,
		`uno:"table:line,schema:we\"ird"`,
		`uno:"order_id,pk,fk:public.order.id,ondelete:cascade"`,
		`uno:"n;o,pk"`,
		"return []any{&Order{}, &Line{}}",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("missing %s in\n%s", want, src)
		}
	}
	for _, re := range []string{`\tID\s+int64 `, `\tNote\s+\*string `, `\tPrice\s+types\.Decimal `, `\tM\s+\*Mood `, `\tTags\s+\[\]string `, `\tNO\s+int32 `} {
		if !regexp.MustCompile(re).MatchString(src) {
			t.Errorf("no field matching %s in\n%s", re, src)
		}
	}
	for _, want := range []string{
		`{Name: "order_lower", Expressions: []string{"lower(note)"}}`,
		`{Name: "order_part", Columns: []string{"code", "m"}, Unique: true, Where: "note IS NOT NULL"}`,
		`{Name: "line_no", Elements: []string{"\"n;o\" WITH ="}, Where: "(\"n;o\" > 0)"}`,
		`{Name: "line_def", Columns: []string{"n;o"}, InitiallyDeferred: true}`,
		"func (Order) TableDef() model.TableDef {",
		"func (Line) TableDef() model.TableDef {",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("missing %s in\n%s", want, src)
		}
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "order_desc") {
		t.Errorf("warnings %q", res.Warnings)
	}
	if _, err := gogen.Generate(sample(), gogen.Options{Tables: []string{"nope"}}); !errors.Is(err, gogen.ErrUnknownTable) {
		t.Fatalf("unknown table: %v", err)
	}
	one, err := gogen.Generate(sample(), gogen.Options{Tables: []string{"order"}, Package: "shop"})
	if err != nil || !strings.Contains(string(one.Source), "package shop") || strings.Contains(string(one.Source), "type Line") {
		t.Fatalf("one table: %v\n%s", err, one.Source)
	}
}

// Generate writes a model for a table of an inspected database.
func ExampleGenerate() {
	db := &catalog.Database{Tables: []*catalog.Table{{Schema: "public", Name: "customer", Columns: []catalog.Column{
		{Name: "id", Type: "character varying(26)", NotNull: true, Default: "generate_ulid()"},
		{Name: "email", Type: "character varying(255)", NotNull: true},
	}, Constraints: []catalog.Constraint{{Name: "customer_pkey", Type: "p", Def: "PRIMARY KEY (id)"}}}}}
	res, err := gogen.Generate(db, gogen.Options{Package: "shop"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(res.Source))
	// Output:
	// // Code generated by uno's model generator (package migrate/gogen) from a live schema.
	//
	// package shop
	//
	// import (
	// 	"github.com/uno-db/uno/model"
	// 	"github.com/uno-db/uno/types"
	// )
	//
	// // Customer is the table public.customer.
	// type Customer struct {
	// 	model.BaseModel `uno:"table:customer"`
	// 	ID              types.String26  `uno:"id,default:generate_ulid(),pk"`
	// 	Email           types.String255 `uno:"email"`
	// }
	//
	// // Models returns one value of each model, for model.Registry.Register.
	// func Models() []any {
	// 	return []any{&Customer{}}
	// }
}

package emit_test

import (
	"strings"
	"testing"

	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

// weeks is a domain declared by its Go type.
type weeks int32

func (weeks) DomainDef() model.DomainDef {
	return model.DomainDef{Name: `we"eks`, Type: "INTEGER", NotNull: true, Default: "1", Check: "VALUE BETWEEN 1 AND 52"}
}

type lease struct {
	model.BaseModel `uno:"table:le;ase,schema:re\"nt"`
	ID              int16          `uno:"id,pk,serial"`
	Tenant          string         `uno:"te\"nant,collate:de-DE-x-icu,unique,deferrable:deferred"`
	Rent            types.Decimal  `uno:"rent,type:numeric(10,2)"`
	Weeks           weeks          `uno:"weeks"`
	Total           *types.Decimal `uno:"total,type:numeric(12,2),generated:\"rent\" * \"weeks\""`
	Flat            int32          `uno:"flat"`
	During          *string        `uno:"during,type:daterange"`
	PrevID          *int16         `uno:"prev_id,fk:le;ase.id,deferrable"`
}

func (lease) TableDef() model.TableDef {
	return model.TableDef{
		Indexes:  []model.IndexDef{{Name: `ix_le;ase "lower"`, Columns: []string{"flat"}, Expressions: []string{`lower("te""nant")`}, Where: `"flat" > 0`}},
		Excludes: []model.ExcludeDef{{Name: "ex_le;ase_flat", Using: "gist", Elements: []string{`"flat" WITH =`, `"during" WITH &&`}}},
	}
}

// TestEmitNewTagOptions: serial, collation, generated columns, domains,
// deferrable keys, exclusion constraints and expression indexes in the
// table emitter's DDL, every identifier quoted.
func TestEmitNewTagOptions(t *testing.T) {
	t.Parallel()
	reg := model.NewRegistry()
	if err := reg.Register(lease{}); err != nil {
		t.Fatal(err)
	}
	stmts, err := emit.NewTableEmitter(reg.Tables()...).Emit()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range stmts {
		b.WriteString(s.SQL + ";\n")
	}
	got := b.String()
	for _, want := range []string{
		`CREATE SCHEMA IF NOT EXISTS "re""nt"`,
		`IF to_regtype('"re""nt"."we""eks"') IS NULL THEN
        CREATE DOMAIN "re""nt"."we""eks" AS INTEGER DEFAULT 1 NOT NULL CHECK (VALUE BETWEEN 1 AND 52);`,
		`"id" SMALLSERIAL NOT NULL`,
		`"te""nant" TEXT COLLATE "de-DE-x-icu" NOT NULL`,
		`"weeks" "re""nt"."we""eks" NOT NULL`,
		`"total" numeric(12,2) GENERATED ALWAYS AS ("rent" * "weeks") STORED,`,
		`CONSTRAINT "uq_le;ase_te""nant" UNIQUE ("te""nant") DEFERRABLE INITIALLY DEFERRED`,
		`CONSTRAINT "ex_le;ase_flat" EXCLUDE USING "gist" ("flat" WITH =, "during" WITH &&)`,
		`CONSTRAINT "fk_le;ase_prev_id" FOREIGN KEY ("prev_id") REFERENCES "re""nt"."le;ase" ("id") DEFERRABLE` + "\n)",
		`CREATE INDEX IF NOT EXISTS "ix_le;ase ""lower""" ON "re""nt"."le;ase" ("flat", (lower("te""nant"))) WHERE "flat" > 0`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("DDL lacks\n%s\nin\n%s", want, got)
		}
	}
	if strings.Index(got, "CREATE DOMAIN") > strings.Index(got, "CREATE TABLE") {
		t.Errorf("the domain comes after the table:\n%s", got)
	}
}

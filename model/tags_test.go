package model_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

type moreTags struct {
	model.BaseModel `uno:"table:more"`
	ID              int32          `uno:"id,pk,serial"`
	Name            string         `uno:"name,collate:en_US.utf8,unique,deferrable"`
	Code            string         `uno:"code,collate:\"s\"\"x\".\"c,d\""`
	Total           *types.Decimal `uno:"total,type:numeric(12,2),generated:price * (1, 2)[1]"`
	Price           types.Decimal  `uno:"price"`
	Cents           *moreCents     `uno:"cents"`
	ParentID        *int32         `uno:"parent_id,fk:more.id,deferrable:deferred"`
}

type moreCents int64

func (*moreCents) DomainDef() model.DomainDef {
	return model.DomainDef{Type: "BIGINT", Check: "VALUE >= 0"}
}

func (moreTags) TableDef() model.TableDef {
	return model.TableDef{
		Indexes:  []model.IndexDef{{Name: "lower_name", Columns: []string{"code"}, Expressions: []string{"lower(name)"}, Where: "price > 0"}},
		Excludes: []model.ExcludeDef{{Name: "ex_more_code", Elements: []string{"code WITH ="}}},
		ForeignKeys: []model.ForeignKeyDef{{Name: "fk_more_self", Columns: []string{"parent_id"}, RefTable: "more",
			InitiallyDeferred: true}},
	}
}

// TestMoreTags: serial, collate, generated, deferrable, expression indexes
// and exclusion constraints land in the table's metadata.
func TestMoreTags(t *testing.T) {
	t.Parallel()
	reg := model.NewRegistry()
	if err := reg.Register(moreTags{}); err != nil {
		t.Fatal(err)
	}
	tb, err := model.TableOf[moreTags](reg)
	if err != nil {
		t.Fatal(err)
	}
	col := func(n string) *model.Column {
		c, ok := tb.Column(n)
		if !ok {
			t.Fatalf("no column %s", n)
		}
		return c
	}
	if id := col("id"); !id.Serial || id.SerialType() != "SERIAL" || id.SQLType != "INTEGER" || !id.Generated() || !id.Insertable() {
		t.Errorf("serial id: %+v", id)
	}
	if c := col("name").Collation; c != `"en_US.utf8"` {
		t.Errorf("collation %s", c)
	}
	if c := col("code").Collation; c != `"s""x"."c,d"` {
		t.Errorf("quoted collation %s", c)
	}
	total := col("total")
	if total.Expression != "price * (1, 2)[1]" || !total.Generated() || total.Insertable() || !total.Nullable {
		t.Errorf("generated total: %+v", total)
	}
	if c := col("cents"); c.Domain == nil || c.SQLType != `"more_cents"` || !c.Nullable || len(tb.Domains) != 1 || tb.Domains[0].Def.Check != "VALUE >= 0" {
		t.Errorf("domain column %+v", c)
	}
	if len(tb.Generated) != 2 {
		t.Errorf("RETURNING columns %d, want id and total", len(tb.Generated))
	}
	if u := tb.Uniques[0]; !u.Deferrable || u.InitiallyDeferred || u.AsIndex {
		t.Errorf("deferrable unique %+v", u)
	}
	if len(tb.ForeignKeys) != 2 || !tb.ForeignKeys[0].InitiallyDeferred || !tb.ForeignKeys[1].InitiallyDeferred {
		t.Errorf("deferred foreign keys %+v", tb.ForeignKeys)
	}
	if ix := tb.Indexes[0]; ix.Name != "lower_name" || len(ix.Columns) != 1 || ix.Expressions[0] != "lower(name)" || ix.Where != "price > 0" {
		t.Errorf("expression index %+v", ix)
	}
	if x := tb.Exclusions[0]; x.Name != "ex_more_code" || x.Kind != model.Exclusion || x.Using != "gist" || x.Elements[0] != "code WITH =" {
		t.Errorf("exclusion %+v", x)
	}
	if c, ok := reg.Constraint("", "ex_more_code"); !ok || c.Kind != model.Exclusion {
		t.Errorf("exclusion not found by name: %v", c)
	}
}

type serialText struct {
	ID string `uno:"id,pk,serial"`
}
type serialDefault struct {
	ID int64 `uno:"id,pk,serial,default:1"`
}
type generatedIdentity struct {
	ID int64 `uno:"id,pk,identity,generated:1"`
}
type deferrableAlone struct {
	ID int64 `uno:"id,pk,deferrable"`
}
type deferrableBad struct {
	ID int64  `uno:"id,pk"`
	A  string `uno:"a,unique,deferrable:later"`
}
type deferrableSoft struct {
	model.ULIDKey
	model.RecordStatus
	A string `uno:"a,unique,deferrable"`
}
type badCollate struct {
	ID int64  `uno:"id,pk"`
	A  string `uno:"a,collate:\"x\"y"`
}
type unnamedExpr struct {
	ID int64 `uno:"id,pk"`
}

func (unnamedExpr) TableDef() model.TableDef {
	return model.TableDef{Indexes: []model.IndexDef{{Expressions: []string{"lower(x)"}}}}
}

type emptyExclude struct {
	ID int64 `uno:"id,pk"`
}

func (emptyExclude) TableDef() model.TableDef {
	return model.TableDef{Excludes: []model.ExcludeDef{{Name: "x"}}}
}

type typelessDomain string

func (typelessDomain) DomainDef() model.DomainDef { return model.DomainDef{} }

type typelessDomainUse struct {
	ID int64          `uno:"id,pk"`
	D  typelessDomain `uno:"d"`
}

type deferredTarget struct {
	ID int64  `uno:"id,pk"`
	A  string `uno:"a,unique,deferrable"`
}
type refDeferred struct {
	ID int64  `uno:"id,pk"`
	A  string `uno:"a,fk:deferred_target.a"`
}

// TestMoreTagsErrors: misuse of the new options fails registration with
// ErrBadTag (or ErrUnknownReference), naming the field.
func TestMoreTagsErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		models []any
		want   error
		text   string
	}{
		{[]any{serialText{}}, model.ErrBadTag, "serial on non-integer"},
		{[]any{serialDefault{}}, model.ErrBadTag, "both default and serial"},
		{[]any{generatedIdentity{}}, model.ErrBadTag, "both identity and generated"},
		{[]any{deferrableAlone{}}, model.ErrBadTag, "deferrable without unique or fk"},
		{[]any{deferrableBad{}}, model.ErrBadTag, "deferrable:later"},
		{[]any{deferrableSoft{}}, model.ErrBadTag, "cannot be deferrable"},
		{[]any{badCollate{}}, model.ErrBadTag, "collate:"},
		{[]any{unnamedExpr{}}, model.ErrBadTag, "needs a Name"},
		{[]any{emptyExclude{}}, model.ErrBadTag, "needs a name and elements"},
		{[]any{deferredTarget{}, refDeferred{}}, model.ErrUnknownReference, "deferrable uniques cannot be referenced"},
		{[]any{typelessDomainUse{}}, model.ErrBadTag, "domain typeless_domain"},
	} {
		err := model.NewRegistry().Register(c.models...)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%T: %v, want %v with %q", c.models[len(c.models)-1], err, c.want, c.text)
		}
	}
}

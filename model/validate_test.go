package model_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

type Target struct {
	ID   int64  `uno:"id,pk"`
	Code string `uno:"code,unique"`
	Free string `uno:"free"`
}

type SoftTarget struct {
	model.ULIDKey
	model.RecordStatus
	Code string `uno:"code,unique"`
}

type IndexTarget struct {
	ID   int64  `uno:"id,pk"`
	Code string `uno:"code,unique,using:btree"`
}

type PanickyDef struct {
	ID int64 `uno:"id,pk"`
}

func (PanickyDef) TableDef() model.TableDef { panic("no") }

type UnknownColumnDef struct {
	ID int64 `uno:"id,pk"`
}

func (*UnknownColumnDef) TableDef() model.TableDef {
	return model.TableDef{Indexes: []model.IndexDef{{Columns: []string{"nope"}}}}
}

type ClashDef struct {
	ID int64  `uno:"id,pk"`
	A  string `uno:"a"`
}

func (ClashDef) TableDef() model.TableDef {
	return model.TableDef{Uniques: []model.UniqueDef{{Name: "pk_clash_def", Columns: []string{"a"}}}}
}

type BadCheckDef struct {
	ID int64 `uno:"id,pk"`
}

func (BadCheckDef) TableDef() model.TableDef {
	return model.TableDef{Checks: []model.CheckDef{{Name: "x"}}}
}

func TestRegisterErrors(t *testing.T) {
	t.Parallel()
	type (
		BadTag struct {
			ID int64 `uno:"id,pk,bogus"`
		}
		UnknownType struct {
			ID int64  `uno:"id,pk"`
			U  uint64 `uno:"u"`
		}
		UnknownStruct struct {
			ID int64 `uno:"id,pk"`
			S  struct{ A int }
		}
		ChanType struct {
			ID int64 `uno:"id,pk"`
			C  chan int
		}
		PtrSlice struct {
			ID int64     `uno:"id,pk"`
			P  *[]string `uno:"p"`
		}
		NoPK struct {
			Name string `uno:"name"`
		}
		NoColumns struct{}
		DupColumn struct {
			ID    int64  `uno:"id,pk"`
			Name  string `uno:"name"`
			Name2 string `uno:"name"`
		}
		DupViaMixin struct {
			model.ULIDKey
			ID2 string `uno:"id"`
		}
		FKUnknownTable struct {
			ID int64 `uno:"id,pk"`
			X  int64 `uno:"x,fk:nowhere.id"`
		}
		FKUnknownColumn struct {
			ID int64 `uno:"id,pk"`
			X  int64 `uno:"x,fk:target.nope"`
		}
		FKNotKey struct {
			ID int64  `uno:"id,pk"`
			X  string `uno:"x,fk:target.free"`
		}
		FKSoftUnique struct {
			ID int64  `uno:"id,pk"`
			X  string `uno:"x,fk:soft_target.code"`
		}
		FKUniqueIndex struct {
			ID int64  `uno:"id,pk"`
			X  string `uno:"x,fk:index_target.code"`
		}
		FKBadForm struct {
			ID int64 `uno:"id,pk"`
			X  int64 `uno:"x,fk:a.b.c.d"`
		}
		BelongsUnregistered struct {
			ID       int64 `uno:"id,pk"`
			NoPKID   int64 `uno:"no_pk_id"`
			Customer *NoPK `uno:",belongs_to:no_pk_id"`
		}
		BelongsNoColumn struct {
			ID     int64   `uno:"id,pk"`
			Target *Target `uno:",belongs_to"`
		}
		HasManyNoFK struct {
			ID      int64    `uno:"id,pk"`
			Targets []Target `uno:",has_many:free"`
		}
		HasManyNoColumn struct {
			ID      int64    `uno:"id,pk"`
			Targets []Target `uno:",has_many"`
		}
		ManyUnknown struct {
			ID      int64    `uno:"id,pk"`
			Targets []Target `uno:",many_to_many:nowhere"`
		}
		HasManyNotSlice struct {
			ID     int64  `uno:"id,pk"`
			Target Target `uno:",has_many"`
		}
		RelNotModel struct {
			ID int64 `uno:"id,pk"`
			X  []int `uno:",has_many"`
		}
		RelWithName struct {
			ID     int64   `uno:"id,pk"`
			Target *Target `uno:"target,belongs_to"`
		}
		RelTwoKinds struct {
			ID     int64    `uno:"id,pk"`
			Target []Target `uno:",has_many,many_to_many:x"`
		}
		RelOption struct {
			ID     int64   `uno:"id,pk"`
			Target *Target `uno:",belongs_to,unique"`
		}
		RelOnColumn struct {
			ID int64 `uno:"id,pk,belongs_to"`
		}
		EnumNoValues struct {
			ID int64    `uno:"id,pk"`
			E  NoValues `uno:"e"`
		}
		EnumDup struct {
			ID int64     `uno:"id,pk"`
			E  DupValues `uno:"e"`
		}
		EnumPanics struct {
			ID int64   `uno:"id,pk"`
			E  Panicky `uno:"e"`
		}
		EnumConflict struct {
			ID int64       `uno:"id,pk"`
			A  Status      `uno:"a"`
			B  StatusAgain `uno:"b"`
		}
		NullOnString struct {
			ID int64  `uno:"id,pk"`
			S  string `uno:"s,null"`
		}
		NullAndNotNull struct {
			ID int64   `uno:"id,pk"`
			S  *string `uno:"s,null,notnull"`
		}
		PKNull struct {
			ID *int64 `uno:"id,pk,null"`
		}
		IdentityString struct {
			ID string `uno:"id,pk,identity"`
		}
		IdentityTypeText struct {
			ID int64 `uno:"id,pk,identity,type:TEXT"`
		}
		IdentityDefault struct {
			ID int64 `uno:"id,pk,identity,default:1"`
		}
		IdentityBad struct {
			ID int64 `uno:"id,pk,identity:sometimes"`
		}
		UsingAlone struct {
			ID int64          `uno:"id,pk"`
			J  map[string]any `uno:"j,using:gin"`
		}
		OnDeleteAlone struct {
			ID int64 `uno:"id,pk"`
			X  int64 `uno:"x,ondelete:cascade"`
		}
		SetNullNotNull struct {
			ID int64 `uno:"id,pk"`
			X  int64 `uno:"x,fk:target.id,ondelete:setnull"`
		}
		BadAction struct {
			ID int64 `uno:"id,pk"`
			X  int64 `uno:"x,fk:target.id,ondelete:explode"`
		}
		LongTable struct {
			uno.Model `uno:"table:a_table_name_that_is_much_longer_than_sixty_three_bytes_allowed_by_pg"`
			ID        int64 `uno:"id,pk"`
		}
		LongColumn struct {
			ID int64 `uno:"a_column_name_that_is_much_longer_than_sixty_three_bytes_allowed_by_pg,pk"`
		}
		BadTableTag struct {
			uno.Model `uno:"name:x"`
			ID        int64 `uno:"id,pk"`
		}
		EmbeddedPtr struct {
			*model.ULIDKey
		}
		EmbeddedTagged struct {
			model.ULIDKey `uno:"x"`
		}
		UnexportedTagged struct {
			ID int64  `uno:"id,pk"`
			x  string `uno:"x"`
		}
		SameTableA struct {
			uno.Model `uno:"table:same"`
			ID        int64 `uno:"id,pk"`
		}
		SameTableB struct {
			uno.Model `uno:"table:same"`
			ID        int64 `uno:"id,pk"`
		}
		IndexTableClash struct {
			uno.Model `uno:"table:ix_index_table_clash_x"`
			ID        int64 `uno:"id,pk"`
		}
		IndexTable struct {
			uno.Model `uno:"table:index_table_clash"`
			ID        int64 `uno:"id,pk"`
			X         int64 `uno:"x,index"`
		}
	)
	_ = UnexportedTagged{}.x
	for _, tc := range []struct {
		name   string
		models []any
		want   error
		strct  string // Go type named in the error
		field  string
	}{
		{"not a struct", []any{42}, model.ErrNotStruct, "int", ""},
		{"nil", []any{nil}, model.ErrNotStruct, "<nil>", ""},
		{"bad tag", []any{BadTag{}}, model.ErrBadTag, "BadTag", "ID"},
		{"bad table tag", []any{BadTableTag{}}, model.ErrBadTag, "BadTableTag", "Model"},
		{"unknown type uint64", []any{UnknownType{}}, model.ErrUnknownType, "UnknownType", "U"},
		{"unknown type struct", []any{UnknownStruct{}}, model.ErrUnknownType, "UnknownStruct", "S"},
		{"unknown type chan", []any{ChanType{}}, model.ErrUnknownType, "ChanType", "C"},
		{"pointer to slice", []any{PtrSlice{}}, model.ErrUnknownType, "PtrSlice", "P"},
		{"no primary key", []any{NoPK{}}, model.ErrNoPrimaryKey, "NoPK", ""},
		{"no columns", []any{NoColumns{}}, model.ErrNoPrimaryKey, "NoColumns", ""},
		{"duplicate column", []any{DupColumn{}}, model.ErrDuplicateColumn, "DupColumn", "Name2"},
		{"duplicate column via mixin", []any{DupViaMixin{}}, model.ErrDuplicateColumn, "DupViaMixin", "ID2"},
		{"fk unknown table", []any{FKUnknownTable{}}, model.ErrUnknownReference, "FKUnknownTable", "X"},
		{"fk unknown column", []any{Target{}, FKUnknownColumn{}}, model.ErrUnknownReference, "FKUnknownColumn", "X"},
		{"fk to non-key column", []any{Target{}, FKNotKey{}}, model.ErrUnknownReference, "FKNotKey", "X"},
		{"fk to soft-delete unique", []any{SoftTarget{}, FKSoftUnique{}}, model.ErrUnknownReference, "FKSoftUnique", "X"},
		{"fk to unique index", []any{IndexTarget{}, FKUniqueIndex{}}, model.ErrUnknownReference, "FKUniqueIndex", "X"},
		{"fk bad form", []any{FKBadForm{}}, model.ErrBadTag, "FKBadForm", "X"},
		{"belongs_to unregistered model", []any{BelongsUnregistered{}}, model.ErrUnknownReference, "BelongsUnregistered", "Customer"},
		{"belongs_to without join column", []any{Target{}, BelongsNoColumn{}}, model.ErrUnknownColumn, "BelongsNoColumn", "Target"},
		{"has_many without foreign key", []any{Target{}, HasManyNoFK{}}, model.ErrUnknownReference, "HasManyNoFK", "Targets"},
		{"has_many without join column", []any{Target{}, HasManyNoColumn{}}, model.ErrUnknownColumn, "HasManyNoColumn", "Targets"},
		{"many_to_many unknown table", []any{Target{}, ManyUnknown{}}, model.ErrUnknownReference, "ManyUnknown", "Targets"},
		{"has_many not a slice", []any{HasManyNotSlice{}}, model.ErrBadTag, "HasManyNotSlice", "Target"},
		{"relation to non-model", []any{RelNotModel{}}, model.ErrBadTag, "RelNotModel", "X"},
		{"relation with column name", []any{RelWithName{}}, model.ErrBadTag, "RelWithName", "Target"},
		{"relation of two kinds", []any{RelTwoKinds{}}, model.ErrBadTag, "RelTwoKinds", "Target"},
		{"relation with column option", []any{RelOption{}}, model.ErrBadTag, "RelOption", "Target"},
		{"relation option on column", []any{RelOnColumn{}}, model.ErrBadTag, "RelOnColumn", "ID"},
		{"enum without values", []any{EnumNoValues{}}, model.ErrBadEnum, "EnumNoValues", "E"},
		{"enum duplicate values", []any{EnumDup{}}, model.ErrBadEnum, "EnumDup", "E"},
		{"enum values panic", []any{EnumPanics{}}, model.ErrBadEnum, "EnumPanics", "E"},
		{"enum redeclared", []any{EnumConflict{}}, model.ErrBadEnum, "EnumConflict", ""},
		{"null on string", []any{NullOnString{}}, model.ErrNullability, "NullOnString", "S"},
		{"null and notnull", []any{NullAndNotNull{}}, model.ErrBadTag, "NullAndNotNull", "S"},
		{"null primary key", []any{PKNull{}}, model.ErrBadTag, "PKNull", "ID"},
		{"identity on string", []any{IdentityString{}}, model.ErrBadTag, "IdentityString", "ID"},
		{"identity on a text type override", []any{IdentityTypeText{}}, model.ErrBadTag, "IdentityTypeText", "ID"},
		{"identity with default", []any{IdentityDefault{}}, model.ErrBadTag, "IdentityDefault", "ID"},
		{"identity bad value", []any{IdentityBad{}}, model.ErrBadTag, "IdentityBad", "ID"},
		{"using without index", []any{UsingAlone{}}, model.ErrBadTag, "UsingAlone", "J"},
		{"ondelete without fk", []any{OnDeleteAlone{}}, model.ErrBadTag, "OnDeleteAlone", "X"},
		{"set null on not null", []any{Target{}, SetNullNotNull{}}, model.ErrBadTag, "SetNullNotNull", "X"},
		{"bad action", []any{BadAction{}}, model.ErrBadTag, "BadAction", "X"},
		{"table name too long", []any{LongTable{}}, model.ErrName, "LongTable", ""},
		{"column name too long", []any{LongColumn{}}, model.ErrName, "LongColumn", "ID"},
		{"embedded pointer", []any{EmbeddedPtr{}}, model.ErrUnknownType, "EmbeddedPtr", "ULIDKey"},
		{"embedded with tag", []any{EmbeddedTagged{}}, model.ErrBadTag, "EmbeddedTagged", "ULIDKey"},
		{"unexported with tag", []any{UnexportedTagged{}}, model.ErrBadTag, "UnexportedTagged", "x"},
		{"same table twice", []any{SameTableA{}, SameTableB{}}, model.ErrName, "SameTableB", ""},
		{"index named like a table", []any{IndexTableClash{}, IndexTable{}}, model.ErrName, "IndexTable", ""},
		{"TableDef panics", []any{PanickyDef{}}, model.ErrBadTag, "PanickyDef", ""},
		{"TableDef unknown column", []any{UnknownColumnDef{}}, model.ErrUnknownColumn, "UnknownColumnDef", ""},
		{"TableDef name clash", []any{ClashDef{}}, model.ErrName, "ClashDef", ""},
		{"TableDef check without expression", []any{BadCheckDef{}}, model.ErrBadTag, "BadCheckDef", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := model.NewRegistry()
			err := r.Register(tc.models...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			var me *model.Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v is not a *model.Error", err)
			}
			if !strings.HasSuffix(me.Struct, tc.strct) || me.Field != tc.field {
				t.Errorf("error names struct %q field %q, want %q %q (%v)", me.Struct, me.Field, tc.strct, tc.field, err)
			}
			if tc.field != "" && !strings.Contains(err.Error(), "field "+tc.field) {
				t.Errorf("message %q does not name the field", err)
			}
			// Nothing of a failed batch is registered.
			if n := len(r.Tables()); n != 0 {
				t.Errorf("%d tables registered after a failed batch", n)
			}
		})
	}
}

// TestRegisterReportsAll checks that one call reports every problem.
func TestRegisterReportsAll(t *testing.T) {
	t.Parallel()
	type Two struct {
		ID int64  `uno:"id,pk"`
		A  uint   `uno:"a"`
		B  string `uno:"b,wat"`
	}
	err := model.NewRegistry().Register(Two{})
	if !errors.Is(err, model.ErrUnknownType) || !errors.Is(err, model.ErrBadTag) {
		t.Fatalf("error = %v, want both problems", err)
	}
}

// TestRegisterAcrossBatches checks references to earlier batches and that
// a later batch cannot reference what is not registered.
func TestRegisterAcrossBatches(t *testing.T) {
	t.Parallel()
	type Child struct {
		ID       int64  `uno:"id,pk"`
		TargetID int64  `uno:"target_id,fk:target"`
		Target   Target `uno:",belongs_to"`
	}
	r := model.NewRegistry()
	if err := r.Register(Child{}); !errors.Is(err, model.ErrUnknownReference) {
		t.Fatalf("child before target: %v", err)
	}
	if err := r.Register(Target{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(Child{}); err != nil {
		t.Fatal(err)
	}
	c, _ := model.TableOf[Child](r)
	if len(c.ForeignKeys) != 1 || c.ForeignKeys[0].RefColumns[0].Name != "id" || len(c.Relations) != 1 {
		t.Errorf("fk: %+v relations %d", c.ForeignKeys, len(c.Relations))
	}
}

// TestCustomNaming checks an overridden naming convention and the
// shortening of long generated names.
func TestCustomNaming(t *testing.T) {
	t.Parallel()
	type ALongTableNameThatKeepsGoingAndGoingOnAndOn struct {
		ID                              int64  `uno:"id,pk"`
		AnotherQuiteLongColumnNameForIt string `uno:"another_quite_long_column_name_for_it,unique,index"`
	}
	r := model.NewRegistryWithNaming(upperNaming{})
	if err := r.Register(ALongTableNameThatKeepsGoingAndGoingOnAndOn{}); err != nil {
		t.Fatal(err)
	}
	tb, _ := model.TableOf[ALongTableNameThatKeepsGoingAndGoingOnAndOn](r)
	if tb.PrimaryKey.Name != "PK_a_long_table_name_that_keeps_going_and_going_on_and_on" {
		t.Errorf("pk name %q", tb.PrimaryKey.Name)
	}
	for _, n := range []string{tb.PrimaryKey.Name, tb.Uniques[0].Name, tb.Indexes[0].Name} {
		if len(n) > model.MaxNameLen || !strings.HasPrefix(n, strings.ToUpper(n[:2])) {
			t.Errorf("name %q", n)
		}
		if _, ok := r.Constraint("", n); !ok && n != tb.Indexes[0].Name {
			t.Errorf("constraint %q not found", n)
		}
	}
	if tb.Uniques[0].Name == tb.Indexes[0].Name {
		t.Error("unique and index names collide")
	}
	_ = types.String26("")
}

type upperNaming struct{ model.DefaultNaming }

func (upperNaming) PrimaryKey(t string) string         { return "PK_" + t }
func (upperNaming) Unique(t string, c []string) string { return "UQ_" + t + "_" + strings.Join(c, "_") }
func (upperNaming) Index(t string, c []string) string  { return "IX_" + t + "_" + strings.Join(c, "_") }

type IndexNameA struct {
	ID int64 `uno:"id,pk"`
	X  int64 `uno:"x"`
}

func (IndexNameA) TableDef() model.TableDef {
	return model.TableDef{Indexes: []model.IndexDef{{Name: "shared_ix", Columns: []string{"x"}}}}
}

type IndexNameB struct {
	ID int64 `uno:"id,pk"`
	Y  int64 `uno:"y"`
}

func (IndexNameB) TableDef() model.TableDef {
	return model.TableDef{Indexes: []model.IndexDef{{Name: "shared_ix", Columns: []string{"y"}}}}
}

type IndexNameC struct {
	uno.Model `uno:"schema:other"`
	ID        int64 `uno:"id,pk"`
	Y         int64 `uno:"y"`
}

func (IndexNameC) TableDef() model.TableDef {
	return model.TableDef{Indexes: []model.IndexDef{{Name: "shared_ix", Columns: []string{"y"}}}}
}

// TestIndexNamesPerSchema checks that index names clash within a schema,
// across models and batches, but not across schemas.
func TestIndexNamesPerSchema(t *testing.T) {
	t.Parallel()
	r := model.NewRegistry()
	if err := r.Register(IndexNameA{}, IndexNameC{}); err != nil {
		t.Fatal(err)
	}
	err := r.Register(IndexNameB{})
	var me *model.Error
	if !errors.Is(err, model.ErrName) || !errors.As(err, &me) || !strings.HasSuffix(me.Struct, "IndexNameB") {
		t.Fatalf("error = %v", err)
	}
}

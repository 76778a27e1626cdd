package model_test

import (
	"encoding/json"
	"testing"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

type accessed struct {
	uno.Model `uno:"table:accessed"`
	ID        int64           `uno:"id,pk"`
	Name      types.String255 `uno:"name"`
	Raw       json.RawMessage `uno:"raw"`
	Doc       map[string]int  `uno:"doc"`
	Note      *string         `uno:"note"`
	Dec       types.Decimal   `uno:"dec"`
	Flag      *bool           `uno:"flag"`
}

func TestRowAccessors(t *testing.T) {
	reg := model.NewRegistry()
	if err := reg.Register((*accessed)(nil), (*other)(nil)); err != nil {
		t.Fatal(err)
	}
	tbl, _ := model.TableOf[accessed](reg)
	col := func(name string) *model.Column { c, _ := tbl.Column(name); return c }
	v := &accessed{ID: 7, Name: "n", Dec: "1.5"}
	row, err := tbl.Row(v)
	if err != nil {
		t.Fatal(err)
	}
	// Nil slices, maps and pointers are NULL (a nil interface), not a
	// typed value that an encoder would turn into JSON null.
	for _, name := range []string{"raw", "doc", "note", "flag"} {
		if a := row.Arg(col(name)); a != nil {
			t.Errorf("%s: Arg of nil field = %#v, want nil", name, a)
		}
		if !row.IsZero(col(name)) {
			t.Errorf("%s: not zero", name)
		}
	}
	if row.Value(col("note")) != nil || row.Value(col("flag")) != nil {
		t.Error("Value of a nil pointer is not nil")
	}
	if a, ok := row.Arg(col("id")).(int64); !ok || a != 7 {
		t.Errorf("id: %#v", row.Arg(col("id")))
	}
	if a, ok := row.Arg(col("name")).(string); !ok || a != "n" {
		t.Errorf("name: %#v", row.Arg(col("name")))
	}
	if a, ok := row.Arg(col("dec")).(*types.Decimal); !ok || a != &v.Dec {
		t.Errorf("dec: %#v, want the field's address", row.Arg(col("dec")))
	}
	v.Raw, v.Doc = json.RawMessage(`{}`), map[string]int{}
	yes := true
	v.Flag = &yes
	if row.Arg(col("raw")) == nil || row.Arg(col("doc")) == nil || !row.Bool(col("flag")) {
		t.Error("set fields read as NULL")
	}
	if s, ok := row.String(col("name")); !ok || s != "n" {
		t.Errorf("String = %q, %v", s, ok)
	}
	if _, ok := row.String(col("dec")); ok {
		t.Error("String of a Decimal (a type with methods)")
	}
	addrs := row.AppendAddrs(nil)
	if len(addrs) != len(tbl.Columns) || addrs[0] != any(&v.ID) {
		t.Errorf("addrs %v", addrs)
	}
	if _, err := tbl.Row(&other{}); err == nil {
		t.Error("Row of another type")
	}
	if _, err := tbl.Row((*accessed)(nil)); err == nil {
		t.Error("Row of a nil pointer")
	}
	ot, _ := model.TableOf[other](reg)
	defer func() {
		if recover() == nil {
			t.Error("a column of another table did not panic")
		}
	}()
	row.Arg(ot.Columns[0])
}

type other struct {
	uno.Model `uno:"table:other"`
	ID        int64 `uno:"id,pk"`
}

// TestRowRefsDoNotAllocate checks that reading a row's values by
// reference, as CopyFrom does for every row, allocates nothing.
func TestRowRefsDoNotAllocate(t *testing.T) {
	reg := model.NewRegistry()
	if err := reg.Register((*accessed)(nil)); err != nil {
		t.Fatal(err)
	}
	tbl, _ := model.TableOf[accessed](reg)
	note := "n"
	v := &accessed{ID: 1, Name: "x", Raw: json.RawMessage(`{}`), Note: &note, Dec: "2"}
	buf := make([]any, 0, len(tbl.Columns))
	allocs := testing.AllocsPerRun(100, func() {
		row, _ := tbl.Row(v)
		buf = row.AppendRefs(buf[:0], tbl.Columns)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per row", allocs)
	}
	row, _ := tbl.Row(v)
	refs := row.AppendRefs(nil, tbl.Columns)
	if refs[0] != any(&v.ID) || refs[4] != any(v.Note) || refs[3] != nil || refs[6] != nil {
		t.Errorf("refs %v", refs)
	}
}

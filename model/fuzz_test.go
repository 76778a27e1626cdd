package model_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

var fuzzFieldTypes = []reflect.Type{
	reflect.TypeFor[int64](), reflect.TypeFor[string](), reflect.TypeFor[*string](), reflect.TypeFor[types.String26](),
	reflect.TypeFor[types.Decimal](), reflect.TypeFor[[]int64](), reflect.TypeFor[map[string]any](),
	reflect.TypeFor[time.Time](), reflect.TypeFor[Status](), reflect.TypeFor[struct{ A int }](), reflect.TypeFor[uint](),
	reflect.TypeFor[*Target](), reflect.TypeFor[[]Target](),
}

// FuzzRegister registers a struct built at run time with a fuzzed tag on
// its second field: registration returns a *model.Error or succeeds, and
// never panics.
func FuzzRegister(f *testing.F) {
	for _, s := range []string{
		"x", "x,unique", "x,index:g,using:gin", "x,default:'a,b'", "x,check:x > 0", "x,fk:target.id", "x,fk:target.code,ondelete:setnull",
		",belongs_to", ",has_many", ",many_to_many:target", "x,pk", "x,null", "x,identity", "x,type:NUMERIC(1,0)", "-", "x,fk:target",
	} {
		for i := range fuzzFieldTypes {
			f.Add(s, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, tag string, typ uint8) {
		ft := fuzzFieldTypes[int(typ)%len(fuzzFieldTypes)]
		st := reflect.StructOf([]reflect.StructField{
			{Name: "Model", Type: reflect.TypeFor[model.BaseModel](), Tag: `uno:"table:fuzzed"`, Anonymous: true},
			{Name: "ID", Type: reflect.TypeFor[int64](), Tag: `uno:"id,pk"`},
			{Name: "X", Type: ft, Tag: reflect.StructTag(`uno:"` + strings.NewReplacer(`"`, `'`, "\\", "/").Replace(tag) + `"`)},
		})
		r := model.NewRegistry()
		err := r.Register(Target{}, reflect.New(st).Interface())
		if err != nil {
			var me *model.Error
			if !errors.As(err, &me) {
				t.Fatalf("tag %q type %s: error %v is not a *model.Error", tag, ft, err)
			}
			return
		}
		tb, ok := r.Table(st)
		if !ok {
			t.Fatal("registered type not found")
		}
		v := reflect.New(st).Interface()
		if addrs, err := tb.Addrs(v, nil); err != nil || len(addrs) != len(tb.Columns) {
			t.Fatalf("Addrs: %v", err)
		}
		stmts, err := emit.NewTableEmitter(r.Tables()...).Emit()
		if err != nil || len(stmts) < 2 {
			t.Fatalf("Emit: %d statements, %v", len(stmts), err)
		}
	})
}

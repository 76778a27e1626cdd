package repo

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

type goldenUser struct {
	uno.Model `uno:"table:user"`
	model.ULIDKey
	model.RecordStatus
	Email   types.String255 `uno:"email,unique"`
	Name    string          `uno:"na\"me"`
	Version int64           `uno:"version,default:1"`
}

// TestGeneratedSQL checks the SQL text built for a soft-deleting model on a
// reserved-word table with a hostile column name against a golden file.
func TestGeneratedSQL(t *testing.T) {
	reg := model.NewRegistry()
	if err := reg.Register((*goldenUser)(nil)); err != nil {
		t.Fatal(err)
	}
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	db, err := f.Open(context.Background(), config.Config{Host: "127.0.0.1", Port: 1, Database: "golden", SSLMode: "disable"}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	r, err := New[goldenUser](db, reg, Options{Version: "version"})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	add := func(name, sql string) {
		out.WriteString("-- " + name + "\n" + sql + "\n\n")
	}
	add("insert", r.s.insertZero)
	add("insert with id", r.s.insertFor(1))
	add("select by key", r.s.selectPK)
	add("select by key, deleted included", r.s.selectPKAll)
	add("update", r.s.updateAll)
	add("delete (soft)", r.s.deleteSoft)
	add("delete (hard)", r.s.deleteHard)
	q, _, err := r.buildSelect(Filter{
		Where: []Cond{{Field: "na\"me", Lookup: LookupIContains, Value: "x"}, {Field: "email", Lookup: LookupIn, Value: []string{"a"}},
			{Field: "created_at", Lookup: LookupRange, Value: Range{1, 2}}, {Field: "deleted_at", Lookup: LookupNull}},
		OrderBy: []Order{{Field: "created_at", Desc: true}}, After: []any{1, 2}, Limit: 10, Offset: 5}, false)
	if err != nil {
		t.Fatal(err)
	}
	add("filter", q)
	p, err := r.mergePlan(MergeOptions{On: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	add("merge on email", r.mergeSQL(p, valuesInput(p.insert, 2, true)))
	path := filepath.Join("testdata", "sql.golden")
	if *update {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Fatalf("generated SQL differs from %s (run with -update after checking):\n%s", path, out.String())
	}
}

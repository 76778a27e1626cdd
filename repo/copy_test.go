package repo_test

import (
	"context"
	"math"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// Label is a named string kind without methods.
type Label string

// Scalars has a plain field of each kind COPY passes by reference without
// boxing (strings, integers, bools, in text, varchar, integer and boolean
// columns), next to plain fields in columns whose codecs take the value
// itself (a string in JSONB and in CHAR, an int64 in NUMERIC), under
// hostile column names.
type Scalars struct {
	uno.Model `uno:"table:scalars"`
	ID        int64           `uno:"id,pk"`
	Text      string          `uno:"te\"xt"`
	Short     types.String26  `uno:"sh'ort"`
	Label     Label           `uno:"label"`
	I16       int16           `uno:"i16"`
	I32       int32           `uno:"i32"`
	I         int             `uno:"i"`
	Narrow    int64           `uno:"narrow,type:INTEGER"`
	Flag      bool            `uno:"flag"`
	Doc       string          `uno:"doc,type:JSONB"`
	Padded    string          `uno:"padded,type:CHAR(4)"`
	Big       int64           `uno:"big,type:NUMERIC(30)"`
	Raw       types.String255 `uno:"raw"`
}

func scalarsRepo(t *testing.T, e *env) *repo.Repository[Scalars] {
	t.Helper()
	reg := model.NewRegistry()
	if err := reg.Register((*Scalars)(nil)); err != nil {
		t.Fatal(err)
	}
	stmts, err := emit.NewTableEmitter(reg.Tables()...).Emit()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := emit.Exec(ctx, conn, stmts); err != nil {
		t.Fatal(err)
	}
	r, err := repo.New[Scalars](e.db, reg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCopyScalarsByReference loads rows with CopyFrom and MergeCopy and
// reads them back equal, extremes and zero values included; an int64 out
// of its INTEGER column's range is refused, not cut; and a JSONB string is
// stored as the JSON it holds.
func TestCopyScalarsByReference(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := scalarsRepo(t, e)
	ctx := context.Background()
	rows := []Scalars{
		{ID: 1, Text: "plain", Short: "x'y\"z", Label: "lab", I16: math.MinInt16, I32: math.MaxInt32, I: math.MinInt64,
			Narrow: math.MaxInt32, Flag: true, Doc: `{"a": [1, "two"]}`, Padded: "ab  ", Big: math.MaxInt64, Raw: "r\\n"},
		{ID: 2, Doc: `null`, Padded: "abcd"}, // zero values
		{ID: 3, Text: "ünïcode ✓", I16: math.MaxInt16, I32: math.MinInt32, I: math.MaxInt64, Narrow: math.MinInt32,
			Doc: `"s"`, Padded: "z   ", Big: math.MinInt64},
	}
	n, err := r.CopyFrom(ctx, rows)
	if err != nil || n != 3 {
		t.Fatalf("copy: %d %v", n, err)
	}
	for _, want := range rows {
		got, err := r.Get(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("row %d read back as\n%+v\nwant\n%+v", want.ID, *got, want)
		}
	}
	if doc := scalarText(t, e, `SELECT doc->'a'->>1 FROM scalars WHERE id = 1`); doc != "two" {
		t.Fatalf("JSONB string stored as %q", doc)
	}

	// Out of range for INTEGER: an error, and nothing loaded.
	if _, err := r.CopyFrom(ctx, []Scalars{{ID: 9, Narrow: math.MaxInt32 + 1, Doc: "1"}}); err == nil {
		t.Fatal("an int64 over INTEGER's range was loaded")
	}
	if e.count("scalars") != 3 {
		t.Fatal("a failed copy loaded rows")
	}

	// MergeCopy feeds its staging table the same way.
	merged := []Scalars{{ID: 2, Text: "now set", I16: 7, Flag: true, Doc: "[]", Padded: "abcd"}, {ID: 4, Label: "new", Doc: "{}", Padded: "q"}}
	res, err := r.MergeCopy(ctx, merged, repo.MergeOptions{})
	if err != nil || res.Updated != 1 || res.Inserted != 1 {
		t.Fatalf("merge copy: %+v %v", res, err)
	}
	for _, id := range []int64{2, 4} {
		got, err := r.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := merged[0]
		if id == 4 {
			want = merged[1]
		}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("merged row %d read back as\n%+v\nwant\n%+v", id, *got, want)
		}
	}
}

func scalarText(t *testing.T, e *env, sql string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(context.Background(), sql).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestArgsInEveryExecMode merges and creates rows with plain string and
// integer fields, which are passed to pgx by reference where pgx knows the
// parameter types, in each query mode, "exec" (types inferred from the Go
// values, so passed as values) included, and reads them back equal.
func TestArgsInEveryExecMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for k, mode := range []string{"cache_statement", "cache_describe", "describe_exec", "exec"} {
		cfg := e.cfg
		cfg.QueryExecMode = mode
		f, err := engine.NewFactory(engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close(context.Background()) })
		db, err := f.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		items, err := repo.New[Item](db, e.reg)
		if err != nil {
			t.Fatal(err)
		}
		base := int64(100 * (k + 1))
		in := []Item{{ID: base + 1, Name: "o'ne " + mode, Qty: math.MaxInt64}, {ID: base + 2, Name: "", Qty: -7}}
		res, err := items.Merge(ctx, in, repo.MergeOptions{})
		if err != nil || res.Inserted != 2 {
			t.Fatalf("%s: merge %+v %v", mode, res, err)
		}
		in[1].Name = "two"
		if res, err = items.Merge(ctx, in, repo.MergeOptions{}); err != nil || res.Updated != 1 || res.Unchanged != 1 {
			t.Fatalf("%s: second merge %+v %v", mode, res, err)
		}
		created := []Item{{ID: base + 3, Name: "th\"ree", Qty: math.MinInt64}}
		if err := items.CreateMany(ctx, created); err != nil {
			t.Fatalf("%s: create: %v", mode, err)
		}
		for _, want := range append(in, created...) {
			got, err := items.Get(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != want.Name || got.Qty != want.Qty {
				t.Fatalf("%s: row %d read back as %q %d, want %q %d", mode, want.ID, got.Name, got.Qty, want.Name, want.Qty)
			}
		}
	}
}

package repo_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// Mood is an enum of its own, so the nullable model emits its own type.
type Mood string

// EnumValues lists the labels.
func (Mood) EnumValues() []string { return []string{"calm", "busy"} }

// NamedDoc is a named map type, a JSONB column.
type NamedDoc map[string]int

// Payload is the value of a JSONB[T] column.
type Payload struct{ A int }

// Nullable has a nullable column of every supported kind of Go type.
type Nullable struct {
	uno.Model `uno:"table:nullable"`
	ID        int64                 `uno:"id,pk"`
	Raw       json.RawMessage       `uno:"raw"`
	RawAlias  types.RawJSON         `uno:"raw_alias"`
	Doc       map[string]any        `uno:"doc"`
	Named     NamedDoc              `uno:"named"`
	Box       *types.JSONB[Payload] `uno:"box"`
	AnyDoc    any                   `uno:"any_doc,type:JSONB"`
	Bytes     []byte                `uno:"bytes"`
	Tags      []string              `uno:"tags"`
	Nums      []int64               `uno:"nums"`
	Str       *string               `uno:"str"`
	Short     *types.String26       `uno:"short"`
	I64       *int64                `uno:"i64"`
	I32       *int32                `uno:"i32"`
	I16       *int16                `uno:"i16"`
	F64       *float64              `uno:"f64"`
	F32       *float32              `uno:"f32"`
	Bool      *bool                 `uno:"bool"`
	Dec       *types.Decimal        `uno:"dec"`
	Date      *types.Date           `uno:"date"`
	Clock     *types.Time           `uno:"clock"`
	Span      *types.Interval       `uno:"span"`
	At        *time.Time            `uno:"at"`
	UUID      *types.UUID           `uno:"uuid"`
	Mood      *Mood                 `uno:"mood"`
	NStr      sql.NullString        `uno:"n_str"`
	NInt      sql.NullInt64         `uno:"n_int"`
	NTime     sql.NullTime          `uno:"n_time"`
	NGen      sql.Null[int32]       `uno:"n_gen"`
	PText     pgtype.Text           `uno:"p_text"`
	PNum      pgtype.Numeric        `uno:"p_num"`
	PUUID     pgtype.UUID           `uno:"p_uuid"`
	PTs       pgtype.Timestamptz    `uno:"p_ts"`
	PDate     pgtype.Date           `uno:"p_date"`
	PInt      pgtype.Int4           `uno:"p_int"`
}

// nullableRepo creates the nullable table in e's database and returns its
// repository (plain login, whose grants the test database gives).
func nullableRepo(t *testing.T, e *env) *repo.Repository[Nullable] {
	t.Helper()
	reg := model.NewRegistry()
	if err := reg.Register((*Nullable)(nil)); err != nil {
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
	r, err := repo.New[Nullable](e.db, reg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestNilIsNull stores a row whose every field holds its NULL form through
// each way in, and checks that every column is SQL NULL in the table (not
// JSON null), that null filters find the row, and that it reads back as it
// was written.
func TestNilIsNull(t *testing.T) {
	e := newEnv(t)
	r := nullableRepo(t, e)
	ctx := context.Background()
	cols := r.Table().Columns
	conn, err := pgx.Connect(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	probe := "SELECT ARRAY["
	for i, c := range cols {
		if i > 0 {
			probe += ", "
		}
		probe += c.QuotedName + " IS NULL"
	}
	probe += "] FROM nullable WHERE id = $1"
	check := func(t *testing.T, id int64) {
		t.Helper()
		var isNull []bool
		if err := conn.QueryRow(ctx, probe, id).Scan(&isNull); err != nil {
			t.Fatalf("row %d: %v", id, err)
		}
		for i, c := range cols {
			if c.PrimaryKey || isNull[i] {
				continue
			}
			var text string
			if err := conn.QueryRow(ctx, "SELECT "+c.QuotedName+"::text FROM nullable WHERE id = $1", id).Scan(&text); err != nil {
				t.Fatal(err)
			}
			t.Errorf("row %d column %s (%s): stored %s, want SQL NULL", id, c.Name, c.GoType, text)
		}
		if id == 1 {
			for _, c := range cols[1:] {
				got, err := r.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: "id", Value: id}, {Field: c.Name, Lookup: repo.LookupNull}}})
				if err != nil || len(got) != 1 {
					t.Errorf("row %d: %s__null finds %d rows, %v", id, c.Name, len(got), err)
				}
			}
		}
		back, err := r.Get(ctx, id)
		if err != nil {
			t.Fatalf("row %d: get: %v", id, err)
		}
		if want := (Nullable{ID: id}); !reflect.DeepEqual(*back, want) {
			t.Errorf("row %d read back as %+v, want %+v", id, *back, want)
		}
	}
	t.Run("Create", func(t *testing.T) {
		v := Nullable{ID: 1}
		if err := r.Create(ctx, &v); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(v, Nullable{ID: 1}) {
			t.Errorf("filled back as %+v", v)
		}
		check(t, 1)
	})
	t.Run("CreateMany", func(t *testing.T) {
		rows := []Nullable{{ID: 2}, {ID: 3}}
		if err := r.CreateMany(ctx, rows); err != nil {
			t.Fatal(err)
		}
		check(t, 2)
		check(t, 3)
	})
	t.Run("CopyFrom", func(t *testing.T) {
		if n, err := r.CopyFrom(ctx, []Nullable{{ID: 4}, {ID: 5}}); err != nil || n != 2 {
			t.Fatal(n, err)
		}
		check(t, 4)
		check(t, 5)
	})
	t.Run("Merge", func(t *testing.T) {
		res, err := r.Merge(ctx, []Nullable{{ID: 6}, {ID: 1}}, repo.MergeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcomes[0] != repo.Inserted || res.Outcomes[1] != repo.Unchanged {
			t.Errorf("outcomes %v", res.Outcomes)
		}
		check(t, 6)
		check(t, 1)
	})
	t.Run("MergeCopy", func(t *testing.T) {
		if _, err := r.MergeCopy(ctx, []Nullable{{ID: 7}}, repo.MergeOptions{}); err != nil {
			t.Fatal(err)
		}
		check(t, 7)
	})
	t.Run("Update", func(t *testing.T) {
		s, n := "x", int64(5)
		v := Nullable{ID: 8, Raw: json.RawMessage(`{"a":1}`), Doc: map[string]any{"a": 1.0}, Str: &s, I64: &n, Tags: []string{"t"}}
		if err := r.Create(ctx, &v); err != nil {
			t.Fatal(err)
		}
		v = Nullable{ID: 8}
		if err := r.Update(ctx, &v); err != nil {
			t.Fatal(err)
		}
		check(t, 8)
	})
}

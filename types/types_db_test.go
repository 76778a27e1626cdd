package types_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/types"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var tableSeq atomic.Int64

// roundTrip stores each value in a fresh column of sqlType, reads it back
// into a new T and compares; then does the same through *T, with NULL.
func roundTrip[T any](t *testing.T, conn *pgx.Conn, sqlType string, vals []T, eq func(a, b T) bool) {
	t.Helper()
	ctx := context.Background()
	if eq == nil {
		eq = func(a, b T) bool { return reflect.DeepEqual(a, b) }
	}
	table := fmt.Sprintf("rt_%d", tableSeq.Add(1))
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (id serial PRIMARY KEY, v %s)", table, sqlType)); err != nil {
		t.Fatalf("%s: create: %v", sqlType, err)
	}
	for i, v := range vals {
		var id int
		if err := conn.QueryRow(ctx, "INSERT INTO "+table+" (v) VALUES ($1) RETURNING id", v).Scan(&id); err != nil {
			t.Fatalf("%s value %d (%#v): insert: %v", sqlType, i, v, err)
		}
		var got T
		if err := conn.QueryRow(ctx, "SELECT v FROM "+table+" WHERE id = $1", id).Scan(&got); err != nil {
			t.Fatalf("%s value %d (%#v): select: %v", sqlType, i, v, err)
		}
		if !eq(got, v) {
			t.Errorf("%s value %d: stored %#v, read back %#v", sqlType, i, v, got)
		}
		if nilable[T]() {
			continue // a nil T is NULL; checked below
		}
		// Through a pointer, and NULL.
		for _, p := range []*T{&vals[i], nil} {
			if err := conn.QueryRow(ctx, "INSERT INTO "+table+" (v) VALUES ($1) RETURNING id", p).Scan(&id); err != nil {
				t.Fatalf("%s pointer %v: insert: %v", sqlType, p != nil, err)
			}
			var gp *T
			if err := conn.QueryRow(ctx, "SELECT v FROM "+table+" WHERE id = $1", id).Scan(&gp); err != nil {
				t.Fatalf("%s pointer %v: select: %v", sqlType, p != nil, err)
			}
			switch {
			case p == nil && gp != nil:
				t.Errorf("%s: NULL read back as %#v", sqlType, *gp)
			case p != nil && gp == nil:
				t.Errorf("%s: %#v read back as NULL", sqlType, *p)
			case p != nil && !eq(*gp, *p):
				t.Errorf("%s: pointer to %#v read back as %#v", sqlType, *p, *gp)
			}
		}
	}
	if nilable[T]() {
		// A nil slice or map is NULL, and NULL reads back as nil.
		var null, got T
		var id int
		if err := conn.QueryRow(ctx, "INSERT INTO "+table+" (v) VALUES ($1) RETURNING id", null).Scan(&id); err != nil {
			t.Fatalf("%s nil: insert: %v", sqlType, err)
		}
		var isNull bool
		if err := conn.QueryRow(ctx, "SELECT v IS NULL FROM "+table+" WHERE id = $1", id).Scan(&isNull); err != nil || !isNull {
			t.Errorf("%s: nil stored as non-NULL (%v)", sqlType, err)
		}
		if err := conn.QueryRow(ctx, "SELECT v FROM "+table+" WHERE id = $1", id).Scan(&got); err != nil || !reflect.ValueOf(got).IsNil() {
			t.Errorf("%s: NULL read back as %#v (%v)", sqlType, got, err)
		}
		return
	}
	// A NULL read into a non-pointer value is an error, never a silent zero.
	if _, err := conn.Exec(ctx, "INSERT INTO "+table+" (id, v) VALUES (-1, NULL)"); err != nil {
		t.Fatal(err)
	}
	var got T
	if err := conn.QueryRow(ctx, "SELECT v FROM "+table+" WHERE id = -1").Scan(&got); err == nil {
		t.Errorf("%s: NULL scanned into %T without error, got %#v", sqlType, got, got)
	}
}

// nilable reports whether T can represent NULL itself (slices, maps).
func nilable[T any]() bool {
	switch reflect.TypeFor[T]().Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		return true
	}
	return false
}

func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

type Mood string

func (Mood) EnumValues() []string {
	return []string{"happy", "sad", "it's complicated", `"quoted"`, "ünïcödé", "with space"}
}

type Address struct {
	Street string   `json:"street"`
	Lines  []string `json:"lines"`
	Geo    struct {
		Lat, Lng float64
	} `json:"geo"`
	Zip *string `json:"zip"`
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	conn := connect(t)
	ctx := context.Background()
	// The session time zone must not change instants.
	if _, err := conn.Exec(ctx, "SET TIME ZONE 'Asia/Kathmandu'"); err != nil {
		t.Fatal(err)
	}
	hostile := []string{"", "it's", `a"b`, `back\slash`, "ünïcödé ✓", "'); DROP TABLE x; --"}

	t.Run("String12", func(t *testing.T) {
		roundTrip(t, conn, "VARCHAR(12)", []types.String12{"", "twelve chars", "it's"}, nil)
	})
	t.Run("String26", func(t *testing.T) {
		roundTrip(t, conn, "VARCHAR(26)", []types.String26{"01ARZ3NDEKTSV4RRFFQ69G5FAV", "ünïcödé"}, nil)
	})
	t.Run("String63", func(t *testing.T) {
		roundTrip(t, conn, "VARCHAR(63)", []types.String63{types.String63(strings.Repeat("x", 63))}, nil)
	})
	t.Run("String64", func(t *testing.T) {
		roundTrip(t, conn, "VARCHAR(64)", []types.String64{types.String64(strings.Repeat("é", 64))}, nil)
	})
	t.Run("String128", func(t *testing.T) {
		roundTrip(t, conn, "VARCHAR(128)", []types.String128{types.String128(strings.Repeat("y", 128))}, nil)
	})
	t.Run("String255", func(t *testing.T) {
		vals := []types.String255{types.String255(strings.Repeat("z", 255))}
		for _, h := range hostile {
			vals = append(vals, types.String255(h))
		}
		roundTrip(t, conn, "VARCHAR(255)", vals, nil)
	})
	t.Run("Text", func(t *testing.T) {
		roundTrip(t, conn, "TEXT", append([]types.Text{strings.Repeat("long ", 10000)}, hostile...), nil)
	})
	t.Run("UUID", func(t *testing.T) {
		u, err := types.ParseUUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, conn, "UUID", []types.UUID{u, {}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, nil)
		var s string
		if err := conn.QueryRow(ctx, "SELECT $1::uuid::text", u).Scan(&s); err != nil || s != u.String() {
			t.Errorf("UUID as text: %q (%v), want %q", s, err, u.String())
		}
	})
	t.Run("BigInt", func(t *testing.T) {
		roundTrip(t, conn, "BIGINT", []types.BigInt{0, 1, -1, 1<<63 - 1, -1 << 63}, nil)
	})
	t.Run("Decimal", func(t *testing.T) {
		vals := []types.Decimal{
			"12345678901234567890123456789012345678",
			"-98765432109876543210987654321098765432",
			"1234567890123456789.0123456789012345678",
			"0.00000000000000000000000000000000000001",
			"1.50", "0", "-0.5", "100", "NaN", "Infinity", "-Infinity",
		}
		roundTrip(t, conn, "NUMERIC", vals, nil)
		roundTrip(t, conn, "NUMERIC(38,0)", []types.Decimal{"99999999999999999999999999999999999999"}, nil)
		// The server sees the exact value.
		var s string
		if err := conn.QueryRow(ctx, "SELECT ($1::numeric + 1)::text", vals[0]).Scan(&s); err != nil || s != "12345678901234567890123456789012345679" {
			t.Errorf("decimal arithmetic on server: %q (%v)", s, err)
		}
		if _, err := types.ParseDecimal("12abc"); err == nil {
			t.Error("ParseDecimal accepted 12abc")
		}
		if _, err := conn.Exec(ctx, "SELECT $1::numeric", types.Decimal("1; DROP")); err == nil {
			t.Error("invalid Decimal was sent")
		}
	})
	t.Run("Boolean", func(t *testing.T) {
		roundTrip(t, conn, "BOOLEAN", []types.Boolean{true, false}, nil)
	})
	t.Run("Timestamp", func(t *testing.T) {
		ny, _ := time.LoadLocation("America/New_York")
		vals := []types.Timestamp{
			time.Date(2024, 3, 10, 2, 30, 0, 123456000, time.UTC),
			time.Date(2024, 11, 3, 1, 30, 0, 0, ny), // ambiguous hour in New York
			time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.FixedZone("odd", 5*3600+45*60)),
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		}
		roundTrip(t, conn, "TIMESTAMPTZ", vals, func(a, b time.Time) bool { return a.Equal(b) })
		var s string
		if err := conn.QueryRow(ctx, "SELECT ($1::timestamptz AT TIME ZONE 'UTC')::text", vals[1]).Scan(&s); err != nil || s != "2024-11-03 05:30:00" {
			t.Errorf("server saw %q (%v), want 2024-11-03 05:30:00", s, err)
		}
	})
	t.Run("Date", func(t *testing.T) {
		vals := []types.Date{{2024, time.February, 29}, {1, time.January, 1}, {9999, time.December, 31}, {1970, time.January, 1}}
		roundTrip(t, conn, "DATE", vals, nil)
		var s string
		if err := conn.QueryRow(ctx, "SELECT $1::date::text", vals[0]).Scan(&s); err != nil || s != "2024-02-29" {
			t.Errorf("server saw %q (%v)", s, err)
		}
		var d types.Date
		if err := conn.QueryRow(ctx, "SELECT 'infinity'::date").Scan(&d); err == nil {
			t.Error("infinity scanned into types.Date")
		}
	})
	t.Run("Time", func(t *testing.T) {
		vals := []types.Time{{0, 0, 0, 0}, {23, 59, 59, 999999}, {12, 34, 56, 7}, {24, 0, 0, 0}}
		roundTrip(t, conn, "TIME", vals, nil)
		var s string
		if err := conn.QueryRow(ctx, "SELECT $1::time::text", vals[2]).Scan(&s); err != nil || s != "12:34:56.000007" {
			t.Errorf("server saw %q (%v)", s, err)
		}
		if _, err := conn.Exec(ctx, "SELECT $1::time", types.Time{Hour: 25}); err == nil {
			t.Error("hour 25 was sent")
		}
	})
	t.Run("Interval", func(t *testing.T) {
		vals := []types.Interval{
			{Months: 14, Days: 3, Microseconds: 4*3600e6 + 5*60e6 + 6e6 + 7},
			{Months: -1, Days: 40, Microseconds: -1},
			{Months: 1},
			{},
		}
		roundTrip(t, conn, "INTERVAL", vals, nil)
		var s string
		if err := conn.QueryRow(ctx, "SELECT $1::interval::text", vals[0]).Scan(&s); err != nil || s != "1 year 2 mons 3 days 04:05:06.000007" {
			t.Errorf("server saw %q (%v)", s, err)
		}
		// One month is not thirty days on the server either.
		var ts time.Time
		if err := conn.QueryRow(ctx, "SELECT '2024-01-31 00:00:00+00'::timestamptz + $1::interval", types.Interval{Months: 1}).Scan(&ts); err != nil ||
			!ts.Equal(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("Jan 31 + 1 month = %v (%v)", ts.UTC(), err)
		}
	})
	t.Run("ByteA", func(t *testing.T) {
		roundTrip(t, conn, "BYTEA", []types.ByteA{{0, 1, 2, 0xff, '\'', '\\'}, {}}, func(a, b []byte) bool {
			return string(a) == string(b) && (a == nil) == (b == nil)
		})
	})
	t.Run("JSONB map", func(t *testing.T) {
		v := types.JSONB[map[string]any]{V: map[string]any{
			"name": "it's \"quoted\"", "n": 1.5, "nested": map[string]any{"list": []any{1.0, "two", nil, map[string]any{"deep": true}}},
		}}
		roundTrip(t, conn, "JSONB", []types.JSONB[map[string]any]{v, {V: map[string]any{}}}, nil)
		var deep bool
		if err := conn.QueryRow(ctx, "SELECT ($1::jsonb #>> '{nested,list,3,deep}')::boolean", v).Scan(&deep); err != nil || !deep {
			t.Errorf("server path query: %v (%v)", deep, err)
		}
	})
	t.Run("JSONB struct", func(t *testing.T) {
		zip := "12345"
		a := Address{Street: "Main St", Lines: []string{"a", "b"}, Zip: &zip}
		a.Geo.Lat, a.Geo.Lng = 1.25, -3.5
		roundTrip(t, conn, "JSONB", []types.JSONB[Address]{{V: a}, {}}, nil)
	})
	t.Run("JSONB raw", func(t *testing.T) {
		raw := []types.RawJSON{types.RawJSON(`{"a": [1, {"b": null}], "c": "d"}`), types.RawJSON(`[]`), types.RawJSON(`"str"`)}
		roundTrip(t, conn, "JSONB", raw, func(a, b json.RawMessage) bool {
			var x, y any
			return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
		})
	})
	t.Run("Array", func(t *testing.T) {
		roundTrip(t, conn, "BIGINT[]", [][]int64{{}, {1, 2, 3}, {-1 << 63}}, nil)
		roundTrip(t, conn, "BIGINT[]", [][][]int64{{{1, 2}, {3, 4}}, {{5}, {6}}}, nil)
		roundTrip(t, conn, "TEXT[]", [][]string{hostile, {}, {"NULL", "{}", ","}}, nil)
		roundTrip(t, conn, "VARCHAR(26)[]", [][]types.String26{{"a", "b"}}, nil)
		roundTrip(t, conn, "BOOLEAN[]", [][]bool{{true, false}}, nil)
		roundTrip(t, conn, "NUMERIC[]", [][]types.Decimal{{"12345678901234567890123456789012345678", "1.50"}}, nil)
		roundTrip(t, conn, "UUID[]", [][]types.UUID{{{1}, {2}}}, nil)
		roundTrip(t, conn, "DATE[]", [][]types.Date{{{2024, 2, 29}}}, nil)
		roundTrip(t, conn, "TIMESTAMPTZ[]", [][]time.Time{{time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC)}}, func(a, b []time.Time) bool {
			return len(a) == len(b) && a[0].Equal(b[0])
		})
		roundTrip(t, conn, "TEXT[]", [][][]string{{{"a", "b"}, {"c", "d"}}}, nil)
		var dims string
		if err := conn.QueryRow(ctx, "SELECT array_dims($1::bigint[])", [][]int64{{1, 2, 3}, {4, 5, 6}}).Scan(&dims); err != nil || dims != "[1:2][1:3]" {
			t.Errorf("array_dims: %q (%v)", dims, err)
		}
	})
	t.Run("Enum", func(t *testing.T) {
		var vals []Mood
		var labels []string
		for _, v := range Mood("").EnumValues() {
			vals = append(vals, Mood(v))
			labels = append(labels, "'"+strings.ReplaceAll(v, "'", "''")+"'")
		}
		if _, err := conn.Exec(ctx, "CREATE TYPE mood AS ENUM ("+strings.Join(labels, ", ")+")"); err != nil {
			t.Fatal(err)
		}
		roundTrip(t, conn, "mood", vals, nil)
		if _, err := conn.Exec(ctx, "SELECT $1::mood", Mood("angry")); err == nil {
			t.Error("a value outside the enum was accepted")
		}
	})
}

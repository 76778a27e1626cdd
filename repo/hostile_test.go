package repo_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// hostile is input meant to break out of SQL text: quotes, terminators,
// comments, dollar quoting, NUL bytes, odd Unicode, LIKE wildcards, and
// very long strings.
var hostile = []string{
	`'`, `''`, `"`, `""`, `\`, `\'`, `'; DROP TABLE canary; --`, `"; DROP TABLE canary; --`,
	`name; DROP TABLE canary`, `1 OR 1=1`, `' OR '1'='1`, `') OR ('1'='1`, `name" = name OR "x`,
	`/* comment */`, `*/ DROP TABLE canary; /*`, `-- comment`, "x\n-- y\nDROP TABLE canary",
	`$$`, `$$; DROP TABLE canary; $$`, `$f$ DROP TABLE canary $f$`, `$1`, `$1; DELETE FROM canary`,
	"a\x00b", "\x00", "\x00'; DROP TABLE canary; --",
	"ünïcødé", "名前", "🦀🔥", "\u202eevil", "\ufeffbom", "e\u0301", "\xff\xfe",
	`%`, `_`, `%%`, `__`, `50%`, `a_b`, `%_%`, `\%`, `\_`,
	strings.Repeat("x", 10*1024), strings.Repeat("'", 10*1024), strings.Repeat("%_", 5*1024),
	`name__contains`, `limit`, `order_by`, `-name`, `name,email`, `name DESC; DROP TABLE canary`,
	`SELECT pg_sleep(10)`, `current_user`, `id) OR (1=1`, `canary`, `"canary"`,
}

func TestHostileInput(t *testing.T) {
	t.Parallel()
	if len(hostile) < 40 {
		t.Fatalf("only %d hostile inputs", len(hostile))
	}
	e := newEnv(t)
	ctx := context.Background()
	// Hostile values up to 10240 characters must flow as parameters:
	// lift the text cap, which TestFilterValueLimits checks.
	customers := repoOf[Customer](e, repo.Options{MaxTextValue: -1})
	canaryBefore := e.count("canary")

	// Store each storable hostile string literally in notes.
	storable := func(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
	for i, s := range hostile {
		if !storable(s) {
			continue
		}
		c := Customer{Name: types.String255(fmt.Sprintf("h%d", i)), Email: types.String255(fmt.Sprintf("h%d@x", i)), Notes: ptr(s)}
		if err := customers.Create(ctx, &c); err != nil {
			t.Fatalf("store %q: %v", s, err)
		}
	}
	// literal checks that every row has s in notes, exactly (equal) or as
	// a substring (contains).
	literal := func(rows []Customer, s string, exact bool) error {
		if len(rows) == 0 {
			return errors.New("no rows")
		}
		for _, r := range rows {
			if r.Notes == nil || (exact && *r.Notes != s) || (!exact && !strings.Contains(*r.Notes, s)) {
				return fmt.Errorf("row %s does not match literally", r.Name)
			}
		}
		return nil
	}

	for i, s := range hostile {
		name := fmt.Sprintf("%d:%.20q", i, s)
		// As a field name: Filter, order_by, GetBy, the parser.
		if _, err := customers.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: s, Value: "x"}}}); !errors.Is(err, repo.ErrUnknownField) {
			t.Errorf("%s: filter field: %v", name, err)
		}
		if _, err := customers.Filter(ctx, repo.Filter{OrderBy: []repo.Order{{Field: s}}}); !errors.Is(err, repo.ErrUnknownField) {
			t.Errorf("%s: order field: %v", name, err)
		}
		if _, err := customers.GetBy(ctx, repo.Eq{s: "x"}); !errors.Is(err, repo.ErrUnknownField) {
			t.Errorf("%s: get-by field: %v", name, err)
		}
		probe := Customer{Name: "p", Email: "p@x"}
		if err := customers.Update(ctx, &probe, s); !errors.Is(err, repo.ErrUnknownField) {
			t.Errorf("%s: update column: %v", name, err)
		}
		if _, err := customers.CreateOrGet(ctx, &probe, s); !errors.Is(err, repo.ErrUnknownField) {
			t.Errorf("%s: create-or-get key: %v", name, err)
		}
		if _, err := customers.Merge(ctx, []Customer{probe}, repo.MergeOptions{On: []string{s}}); !errors.Is(err, repo.ErrUnknownField) {
			t.Errorf("%s: merge key: %v", name, err)
		}
		if _, err := customers.Merge(ctx, []Customer{probe}, repo.MergeOptions{On: []string{"email"}, Columns: []string{s}}); !errors.Is(err, repo.ErrUnknownField) {
			t.Errorf("%s: merge column: %v", name, err)
		}
		if err := customers.Load(ctx, []Customer{probe}, s); !errors.Is(err, repo.ErrUnknownField) {
			t.Errorf("%s: relation: %v", name, err)
		}
		if _, err := customers.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: "notes", Lookup: s, Value: "x"}}}); !errors.Is(err, repo.ErrUnknownLookup) {
			t.Errorf("%s: lookup: %v", name, err)
		}
		// A few hostile strings are valid parameters; the rest must fail
		// with a FieldError.
		var fe *repo.FieldError
		if _, err := customers.ParseValues(url.Values{s: {"x"}}); !errors.As(err, &fe) && (err != nil || s != "name__contains") {
			t.Errorf("%s: parsed field: %v", name, err)
		}
		if _, err := customers.ParseValues(url.Values{"order_by": {s}}); !errors.As(err, &fe) && (err != nil || (s != "-name" && s != "name,email")) {
			t.Errorf("%s: parsed order_by: %v", name, err)
		}
		if _, err := customers.ParseValues(url.Values{"notes__" + s: {"x"}}); !errors.As(err, &fe) {
			t.Errorf("%s: parsed lookup: %v", name, err)
		}
		if _, err := customers.ParseValues(url.Values{"limit": {s}}); !errors.Is(err, repo.ErrBadLimit) {
			t.Errorf("%s: parsed limit: %v", name, err)
		}

		// As a value: a literal match, or a clear error when PostgreSQL
		// cannot hold the text (NUL, invalid UTF-8).
		for _, lk := range []string{"equal", "contains", "i_contains", "starts_with", "ends_with", "not_contains"} {
			rows, err := customers.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: "notes", Lookup: lk, Value: s}}, Limit: 1000})
			if !storable(s) {
				if err == nil && len(rows) > 0 {
					t.Errorf("%s %s: unstorable value matched %d rows", name, lk, len(rows))
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %s: %v", name, lk, err)
				continue
			}
			switch lk {
			case "equal":
				err = literal(rows, s, true)
			case "contains", "starts_with", "ends_with":
				err = literal(rows, s, false)
			case "not_contains":
				for _, r := range rows {
					if r.Notes != nil && strings.Contains(*r.Notes, s) {
						err = fmt.Errorf("row %s contains it", r.Name)
					}
				}
			}
			if err != nil {
				t.Errorf("%s %s: %v", name, lk, err)
			}
		}
		f, err := customers.ParseValues(url.Values{"notes__contains": {s}, "limit": {"1000"}})
		if storable(s) {
			if err != nil {
				t.Errorf("%s: parse value: %v", name, err)
			} else if rows, err := customers.Filter(ctx, f); err != nil || literal(rows, s, false) != nil {
				t.Errorf("%s: parsed contains: %d rows %v", name, len(rows), err)
			}
		} else if !errors.Is(err, repo.ErrBadValue) {
			t.Errorf("%s: unstorable parsed value: %v", name, err)
		}
		got, err := customers.GetBy(ctx, repo.Eq{"notes": s})
		if storable(s) {
			if err != nil || got.Notes == nil || *got.Notes != s {
				t.Errorf("%s: get-by value: %v", name, err)
			}
		} else if err == nil {
			t.Errorf("%s: unstorable get-by value found a row", name)
		}
	}
	if e.count("canary") != canaryBefore {
		t.Fatal("canary row count changed")
	}
	if n := pgtest.Scalar[int64](t, e.url, "SELECT count(*) FROM customer"); n == 0 {
		t.Fatal("customers gone")
	}
}

// fuzzRepo returns a repository over a DB that is never connected: the
// parser needs only the metadata.
func fuzzRepo(f *testing.F) *repo.Repository[Customer] {
	reg := model.NewRegistry()
	if err := reg.Register((*Customer)(nil), (*Order)(nil), (*Item)(nil), (*Author)(nil), (*Book)(nil), (*Canary)(nil)); err != nil {
		f.Fatal(err)
	}
	fac, err := engine.NewFactory(engine.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = fac.Close(context.Background()) })
	cfg := config.Config{Host: "127.0.0.1", Port: 1, Database: "fuzz", SSLMode: "disable"}.WithDefaults()
	db, err := fac.Open(context.Background(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	r, err := repo.New[Customer](db, reg)
	if err != nil {
		f.Fatal(err)
	}
	return r
}

func FuzzParseQuery(f *testing.F) {
	r := fuzzRepo(f)
	for _, s := range []string{
		"name__i_contains=john&limit=10&order_by=-joined",
		"age__in=1,2,3&age__range=1,5&score__null=true",
		"joined__after=2024-01-01T00:00:00Z&vip=false&offset=3",
		"born=2024-02-29&balance__gte=1.50&name__not_in=a,b",
		"order_by=name,-email,+age&limit=1000",
		"name=%00&age=1e9&limit=0", "%zz", "a=b=c&&&", "name__=x", "__=x", "name____contains=x",
		"order_by=,,,", "limit=99999999999999999999", "age__range=,", "name__in=",
		"after=WyIxIiwiMDFIWlpaWlpaWlpaWlpaWlpaWlpaWlpaWloiXQ&order_by=age", "after=WyJ4Il0", "after=&after=",
	} {
		f.Add(s)
	}
	for _, s := range hostile {
		f.Add("notes__contains=" + url.QueryEscape(s))
		f.Add(url.QueryEscape(s) + "=1")
	}
	f.Fuzz(func(t *testing.T, q string) {
		flt, err := r.ParseQuery(q)
		if err != nil {
			var fe *repo.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%q: error is %T, not a FieldError: %v", q, err, err)
			}
			if len(err.Error()) > 1024 {
				t.Fatalf("%q: message of %d bytes", q, len(err.Error()))
			}
			return
		}
		for _, c := range flt.Where {
			if _, ok := r.Table().Column(c.Field); !ok {
				t.Fatalf("%q: accepted unknown field %q", q, c.Field)
			}
			if s, ok := c.Value.(string); ok && (!utf8.ValidString(s) || strings.ContainsRune(s, 0)) {
				t.Fatalf("%q: accepted a value PostgreSQL cannot hold", q)
			}
		}
		if flt.Limit < 0 || flt.Limit > repo.DefaultMaxLimit || flt.Offset < 0 {
			t.Fatalf("%q: limit %d offset %d", q, flt.Limit, flt.Offset)
		}
	})
}

// FuzzParseValues feeds decoded values directly, including empty and
// repeated value lists that a query string cannot produce.
func FuzzParseValues(f *testing.F) {
	r := fuzzRepo(f)
	f.Add("name__in", "a", "b", uint8(0))
	f.Add("age__range", "1,2", "", uint8(1))
	f.Add("limit", "5", "6", uint8(2))
	f.Add("order_by", "-name", "age", uint8(2))
	f.Add("score__null", "", "", uint8(0))
	f.Add("joined__after", "2024-01-01", "x", uint8(2))
	f.Fuzz(func(t *testing.T, key, a, b string, n uint8) {
		vals := []string{a, b}[:n%3]
		flt, err := r.ParseValues(url.Values{key: vals})
		if err != nil {
			if !errors.As(err, new(*repo.FieldError)) {
				t.Fatalf("%q %q: %T %v", key, vals, err, err)
			}
			return
		}
		for _, c := range flt.Where {
			if _, ok := r.Table().Column(c.Field); !ok {
				t.Fatalf("accepted unknown field %q", c.Field)
			}
		}
	})
}

package repo_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// seedCustomers inserts n customers: name "c<i>", email "c<i>@x",
// age i%10, score i/2 for even i (NULL otherwise), vip for i%3 == 0,
// joined i hours after 2024-01-01 UTC.
func seedCustomers(t *testing.T, customers *repo.Repository[Customer], n int) []Customer {
	t.Helper()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]Customer, n)
	for i := range rows {
		rows[i] = Customer{Name: types.String255(fmt.Sprintf("c%d", i)), Email: types.String255(fmt.Sprintf("c%d@x", i)),
			Age: int64(i % 10), VIP: i%3 == 0, Joined: base.Add(time.Duration(i) * time.Hour),
			Balance: types.Decimal(fmt.Sprintf("%d.5", i))}
		if i%2 == 0 {
			rows[i].Score = ptr(float64(i) / 2)
		}
	}
	if err := customers.CreateMany(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func names(rows []Customer) string {
	var s []string
	for _, r := range rows {
		s = append(s, string(r.Name))
	}
	return strings.Join(s, ",")
}

func TestFilterLookups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	seedCustomers(t, customers, 30)
	extra := []Customer{
		{Name: "50% off_sale", Email: "p@x", Age: 100},
		{Name: "500 offXsale", Email: "q@x", Age: 100},
		{Name: `back\slash`, Email: "r@x", Age: 100},
	}
	for i := range extra {
		if err := customers.Create(ctx, &extra[i]); err != nil {
			t.Fatal(err)
		}
	}
	at := func(h int) time.Time { return time.Date(2024, 1, 1, h, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		cond repo.Cond
		want int64
	}{
		{repo.Cond{Field: "name", Value: "c1"}, 1},
		{repo.Cond{Field: "name", Lookup: "not_equal", Value: "c1"}, 32},
		{repo.Cond{Field: "name", Lookup: "contains", Value: "c1"}, 11},
		{repo.Cond{Field: "name", Lookup: "i_contains", Value: "C1"}, 11},
		{repo.Cond{Field: "name", Lookup: "not_contains", Value: "c1"}, 22},
		{repo.Cond{Field: "name", Lookup: "not_i_contains", Value: "C1"}, 22},
		{repo.Cond{Field: "name", Lookup: "starts_with", Value: "c2"}, 11},
		{repo.Cond{Field: "name", Lookup: "i_starts_with", Value: "C2"}, 11},
		{repo.Cond{Field: "name", Lookup: "ends_with", Value: "9"}, 3},
		{repo.Cond{Field: "name", Lookup: "i_ends_with", Value: "SALE"}, 2},
		{repo.Cond{Field: "name", Lookup: "contains", Value: "50%"}, 1},
		{repo.Cond{Field: "name", Lookup: "contains", Value: "off_sale"}, 1},
		{repo.Cond{Field: "name", Lookup: "contains", Value: `\`}, 1},
		{repo.Cond{Field: "name", Lookup: "contains", Value: "%"}, 1},
		{repo.Cond{Field: "name", Lookup: "in", Value: []string{"c1", "c2", "zz"}}, 2},
		{repo.Cond{Field: "name", Lookup: "not_in", Value: []string{"c1", "c2"}}, 31},
		{repo.Cond{Field: "notes", Lookup: "null"}, 33},
		{repo.Cond{Field: "notes", Lookup: "not_null"}, 0},
		{repo.Cond{Field: "age", Lookup: "gt", Value: 8}, 6},
		{repo.Cond{Field: "age", Lookup: "gte", Value: 8}, 9},
		{repo.Cond{Field: "age", Lookup: "lt", Value: 1}, 3},
		{repo.Cond{Field: "age", Lookup: "lte", Value: 1}, 6},
		{repo.Cond{Field: "age", Lookup: "in", Value: []int64{1, 2}}, 6},
		{repo.Cond{Field: "age", Lookup: "range", Value: repo.Range{From: 2, To: 4}}, 9},
		{repo.Cond{Field: "score", Lookup: "null"}, 18},
		{repo.Cond{Field: "score", Lookup: "gte", Value: 10.0}, 5},
		{repo.Cond{Field: "balance", Lookup: "gt", Value: types.Decimal("28")}, 2},
		{repo.Cond{Field: "vip", Value: true}, 10},
		{repo.Cond{Field: "vip", Lookup: "not_equal", Value: true}, 23},
		{repo.Cond{Field: "joined", Lookup: "after", Value: at(27)}, 5}, // the extras joined now
		{repo.Cond{Field: "joined", Lookup: "at_or_after", Value: at(27)}, 6},
		{repo.Cond{Field: "joined", Lookup: "before", Value: at(2)}, 2},
		{repo.Cond{Field: "joined", Lookup: "at_or_before", Value: at(2)}, 3},
		{repo.Cond{Field: "joined", Lookup: "range", Value: repo.Range{From: at(1), To: at(3)}}, 3},
		{repo.Cond{Field: "joined", Lookup: "in", Value: []time.Time{at(1), at(5)}}, 2},
	} {
		f := repo.Filter{Where: []repo.Cond{tc.cond}, Limit: 100}
		got, err := customers.Filter(ctx, f)
		if err != nil {
			t.Fatalf("%+v: %v", tc.cond, err)
		}
		if int64(len(got)) != tc.want {
			t.Errorf("%+v: %d rows, want %d (%s)", tc.cond, len(got), tc.want, names(got))
		}
		n, err := customers.Count(ctx, f)
		if err != nil || n != tc.want {
			t.Errorf("count %+v: %d %v, want %d", tc.cond, n, err, tc.want)
		}
	}
	for _, tc := range []struct {
		cond repo.Cond
		want error
	}{
		{repo.Cond{Field: "nope"}, repo.ErrUnknownField},
		{repo.Cond{Field: "name", Lookup: "nope", Value: "x"}, repo.ErrUnknownLookup},
		{repo.Cond{Field: "name", Lookup: "gt", Value: "x"}, repo.ErrLookupType},
		{repo.Cond{Field: "age", Lookup: "contains", Value: "1"}, repo.ErrLookupType},
		{repo.Cond{Field: "vip", Lookup: "in", Value: []bool{true}}, repo.ErrLookupType},
		{repo.Cond{Field: "joined", Lookup: "gt", Value: time.Now()}, repo.ErrLookupType},
		{repo.Cond{Field: "name", Lookup: "in", Value: "x"}, repo.ErrBadValue},
		{repo.Cond{Field: "name", Lookup: "contains", Value: 5}, repo.ErrBadValue},
		{repo.Cond{Field: "name", Lookup: "equal"}, repo.ErrBadValue},
		{repo.Cond{Field: "age", Lookup: "range", Value: 5}, repo.ErrBadValue},
	} {
		_, err := customers.Filter(ctx, repo.Filter{Where: []repo.Cond{tc.cond}})
		var fe *repo.FieldError
		if !errors.Is(err, tc.want) || !errors.As(err, &fe) {
			t.Errorf("%+v: got %v, want %v", tc.cond, err, tc.want)
		}
	}
}

func TestFilterPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e, repo.Options{MaxLimit: 50})
	seedCustomers(t, customers, 60)

	page, err := customers.Filter(ctx, repo.Filter{})
	if err != nil || len(page) != repo.DefaultLimit {
		t.Fatalf("default page: %d %v", len(page), err)
	}
	if _, err := customers.Filter(ctx, repo.Filter{Limit: 51}); !errors.Is(err, repo.ErrBadLimit) {
		t.Fatalf("above max: %v", err)
	}
	if _, err := customers.Filter(ctx, repo.Filter{Limit: -1}); !errors.Is(err, repo.ErrBadLimit) {
		t.Fatalf("negative: %v", err)
	}
	if _, err := customers.Filter(ctx, repo.Filter{Offset: -1}); !errors.Is(err, repo.ErrBadLimit) {
		t.Fatalf("negative offset: %v", err)
	}
	// Multi-column order with directions.
	order := []repo.Order{{Field: "age", Desc: true}, {Field: "joined"}}
	page, err = customers.Filter(ctx, repo.Filter{OrderBy: order, Limit: 4, Offset: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(page); got != "c19,c29,c39,c49" {
		t.Fatalf("ordered page %s", got)
	}
	// Keyset: walk every row in pages of 7 and compare with one big page.
	all, err := customers.Filter(ctx, repo.Filter{OrderBy: order, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	rest, err := customers.Filter(ctx, repo.Filter{OrderBy: order, Limit: 50, Offset: 50})
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, rest...)
	var walked []Customer
	f := repo.Filter{OrderBy: order, Limit: 7}
	for {
		page, err := customers.Filter(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, page...)
		if len(page) < f.Limit {
			break
		}
		if f.After, err = customers.Cursor(f, &page[len(page)-1]); err != nil {
			t.Fatal(err)
		}
	}
	if names(walked) != names(all) || len(walked) != 60 {
		t.Fatalf("keyset walk\n%s\nwant\n%s", names(walked), names(all))
	}
	// Keyset on a descending text column with a condition.
	f = repo.Filter{Where: []repo.Cond{{Field: "vip", Value: true}}, OrderBy: []repo.Order{{Field: "name", Desc: true}}, Limit: 3}
	first, err := customers.Filter(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	f.After, _ = customers.Cursor(f, &first[2])
	second, err := customers.Filter(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if names(first)+"|"+names(second) != "c9,c6,c57|c54,c51,c48" {
		t.Fatalf("desc keyset: %s|%s", names(first), names(second))
	}
	// Cursor errors.
	if _, err := customers.Filter(ctx, repo.Filter{OrderBy: order, After: []any{1}}); !errors.Is(err, repo.ErrBadCursor) {
		t.Fatalf("short cursor: %v", err)
	}
	if _, err := customers.Filter(ctx, repo.Filter{OrderBy: []repo.Order{{Field: "score"}}, After: []any{1.0, "x"}}); !errors.Is(err, repo.ErrBadCursor) {
		t.Fatalf("nullable order column: %v", err)
	}
	if _, err := customers.Filter(ctx, repo.Filter{OrderBy: []repo.Order{{Field: "nope"}}}); !errors.Is(err, repo.ErrUnknownField) {
		t.Fatalf("unknown order: %v", err)
	}
	if _, err := customers.Filter(ctx, repo.Filter{OrderBy: []repo.Order{{Field: "age"}, {Field: "age"}}}); !errors.Is(err, repo.ErrBadOrder) {
		t.Fatalf("twice: %v", err)
	}
	if n, err := customers.Count(ctx, repo.Filter{Where: []repo.Cond{{Field: "age", Value: 3}}, Limit: 1}); err != nil || n != 6 {
		t.Fatalf("count ignores limit: %d %v", n, err)
	}
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	seedCustomers(t, customers, 30)
	for _, tc := range []struct {
		q    string
		want string
	}{
		{"name__i_contains=C2&order_by=-name", "c29,c28,c27,c26,c25,c24,c23,c22,c21,c20,c2"},
		{"name=c3", "c3"},
		{"name__equal=c3", "c3"},
		{"age=3&order_by=joined", "c3,c13,c23"},
		{"age__in=3,4&limit=2&offset=1&order_by=name", "c14,c23"},
		{"age__in=3&age__in=4&limit=2&order_by=name", "c13,c14"},
		{"age__range=8,9&vip=true&order_by=name", "c18,c9"},
		{"score__null=true&age__lt=2&order_by=name", "c1,c11,c21"},
		{"score__null=false&age__lt=1&order_by=name", "c0,c10,c20"},
		{"score__not_null=&age__lte=0&order_by=-name", "c20,c10,c0"},
		{"score__gte=13.5&order_by=name", "c28"},
		{"balance__gt=27.5&order_by=name", "c28,c29"},
		{"joined__before=2024-01-01T02:00:00Z&order_by=name", "c0,c1"},
		{"joined__at_or_after=2024-01-02T04:00:00%2B01:00&order_by=name", "c27,c28,c29"},
		{"joined__after=2024-01-02&order_by=name", "c25,c26,c27,c28,c29"},
		{"name__starts_with=c1&name__ends_with=5", "c15"},
		{"name__not_in=c1,c2&age=1&order_by=name", "c11,c21"},
		{"name__contains=%25", ""},
		{"name__contains=_", ""},
	} {
		f, err := customers.ParseQuery(tc.q)
		if err != nil {
			t.Errorf("%s: %v", tc.q, err)
			continue
		}
		got, err := customers.Filter(ctx, f)
		if err != nil {
			t.Errorf("%s: filter: %v", tc.q, err)
			continue
		}
		if names(got) != tc.want {
			t.Errorf("%s: got %s, want %s", tc.q, names(got), tc.want)
		}
	}
	f, err := customers.ParseQuery("name__i_contains=john&limit=10&order_by=-joined,name&offset=5")
	if err != nil || f.Limit != 10 || f.Offset != 5 || len(f.OrderBy) != 2 || !f.OrderBy[0].Desc || f.OrderBy[1].Field != "name" {
		t.Fatalf("parsed %+v %v", f, err)
	}
	for _, tc := range []struct {
		q    string
		want error
	}{
		{"nope=1", repo.ErrUnknownField},
		{"nope__contains=1", repo.ErrUnknownField},
		{"name__nope=1", repo.ErrUnknownLookup},
		{"name__gt=1", repo.ErrLookupType},
		{"age__contains=1", repo.ErrLookupType},
		{"vip__in=true", repo.ErrLookupType},
		{"joined__gt=2024-01-01", repo.ErrLookupType},
		{"age=x", repo.ErrBadValue},
		{"age=99999999999999999999", repo.ErrBadValue},
		{"score=NaN", repo.ErrBadValue},
		{"balance=1e", repo.ErrBadValue},
		{"vip=maybe", repo.ErrBadValue},
		{"joined__after=yesterday", repo.ErrBadValue},
		{"born=2024-13-01", repo.ErrBadValue},
		{"age__range=1", repo.ErrBadValue},
		{"age__range=1,x", repo.ErrBadValue},
		{"age__in=1,,2", repo.ErrBadValue},
		{"score__null=perhaps", repo.ErrBadValue},
		{"name=a%00b", repo.ErrBadValue},
		{"name=%ff", repo.ErrBadValue},
		{"limit=0", repo.ErrBadLimit},
		{"limit=1001", repo.ErrBadLimit},
		{"limit=-1", repo.ErrBadLimit},
		{"limit=ten", repo.ErrBadLimit},
		{"limit=1&limit=2", repo.ErrBadLimit},
		{"offset=-5", repo.ErrBadLimit},
		{"order_by=nope", repo.ErrUnknownField},
		{"order_by=-", repo.ErrUnknownField},
		{"order_by=name,-name", repo.ErrBadOrder},
		{"order_by=tags", repo.ErrUnknownField},
		{"%zz", repo.ErrBadValue},
	} {
		_, err := customers.ParseQuery(tc.q)
		var fe *repo.FieldError
		if !errors.Is(err, tc.want) || !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want %v", tc.q, err, tc.want)
		}
	}
	for _, v := range []url.Values{{"name__in": {}}, {"name": {}}, {"limit": {}}, {"score__null": {}}, {"age__range": {}}, {"order_by": {}}} {
		f, err := customers.ParseValues(v)
		if err != nil && !errors.As(err, new(*repo.FieldError)) {
			t.Errorf("%v: %v", v, err)
		}
		if err == nil && len(f.Where) != 0 {
			t.Errorf("%v: conditions without values: %+v", v, f.Where)
		}
	}
	var many []string
	for i := range 70 {
		many = append(many, fmt.Sprintf("name=%d", i))
	}
	if _, err := customers.ParseQuery(strings.Join(many, "&")); !errors.Is(err, repo.ErrBadValue) {
		t.Fatalf("70 distinct parameters: %v", err)
	}
	// The error names what was wrong.
	_, err = customers.ParseQuery("age__gt=abc")
	if err == nil || !strings.Contains(err.Error(), `"age"`) || !strings.Contains(err.Error(), `"gt"`) || !strings.Contains(err.Error(), `"abc"`) {
		t.Fatalf("message %v", err)
	}
	_, err = customers.ParseQuery("name__gt=" + strings.Repeat("x", 10000))
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("long input echoed in full: %d bytes", len(err.Error()))
	}
}

func TestFilterOnEveryKind(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	items := repoOf[Item](e)
	if err := items.CreateMany(ctx, []Item{{ID: 1, Name: "a", Tags: []string{"x"}}, {ID: 2, Name: "b"}}); err != nil {
		t.Fatal(err)
	}
	got, err := items.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: "tags", Lookup: "null"}}})
	if err != nil || len(got) != 1 || got[0].ID != 2 {
		t.Fatalf("array null: %v %v", got, err)
	}
	if _, err := items.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: "tags", Lookup: "contains", Value: "x"}}}); !errors.Is(err, repo.ErrLookupType) {
		t.Fatalf("array contains: %v", err)
	}
	if _, err := items.ParseQuery("tags=x"); !errors.Is(err, repo.ErrBadValue) {
		t.Fatalf("array from text: %v", err)
	}
	if !slices.Equal(got[0].Tags, nil) {
		t.Fatal("tags")
	}
}

func TestFilterEnum(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	orders := repoOf[Order](e)
	for i, st := range []OrderStatus{"", "paid", "shipped", "50%_off"} {
		o := Order{Code: types.String64(fmt.Sprint("o", i)), Status: st}
		if err := orders.Create(ctx, &o); err != nil {
			t.Fatal(err)
		}
		if st == "" && o.Status != "new" {
			t.Fatalf("default status %q", o.Status)
		}
	}
	for q, want := range map[string]string{
		"status=paid":                    "o1",
		"status__in=paid,shipped":        "o1,o2",
		"status__not_in=new":             "o1,o2,o3",
		"status__i_starts_with=SH":       "o2",
		"status__contains=%25_":          "o3",
		"status__not_equal=new&limit=10": "o1,o2,o3",
	} {
		f, err := orders.ParseQuery(q + "&order_by=code")
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		got, err := orders.Filter(ctx, f)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var codes []string
		for _, o := range got {
			codes = append(codes, string(o.Code))
		}
		if strings.Join(codes, ",") != want {
			t.Errorf("%s: %v, want %s", q, codes, want)
		}
	}
	// A value outside the enum is the database's error, not a panic.
	if _, err := orders.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: "status", Value: "bogus"}}}); err == nil {
		t.Fatal("bogus enum value accepted")
	}
}

func TestPageTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	seedCustomers(t, customers, 40)
	for _, order := range []string{"-age,joined", "balance", "-name", "-vip,email", ""} {
		all, err := customers.ParseQuery("order_by=" + order + "&limit=100")
		if order == "" {
			all, err = customers.ParseQuery("limit=100")
		}
		if err != nil {
			t.Fatal(err)
		}
		want, err := customers.Filter(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		var walked []Customer
		q := "limit=6"
		if order != "" {
			q += "&order_by=" + order
		}
		token := ""
		for range 20 {
			qq := q
			if token != "" {
				qq += "&after=" + token
			}
			f, err := customers.ParseQuery(qq)
			if err != nil {
				t.Fatalf("%s: %v", qq, err)
			}
			page, err := customers.Filter(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, page...)
			if len(page) < 6 {
				break
			}
			if token, err = customers.PageToken(f, &page[len(page)-1]); err != nil {
				t.Fatal(err)
			}
		}
		if names(walked) != names(want) {
			t.Fatalf("order %q: walked\n%s\nwant\n%s", order, names(walked), names(want))
		}
	}
	good, err := customers.PageToken(repo.Filter{}, &Customer{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"after=%%%", "after=" + strings.Repeat("A", 5000), "after=bm90IGpzb24", "after=WyJhIiwiYiJd",
		"after=" + good + "&after=" + good, "after=" + good + "&order_by=age", "after=WzFd&order_by=nope",
		"after=WyJ4IiwiMDEiXQ&order_by=age",
	} {
		_, err := customers.ParseQuery(q)
		var fe *repo.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%.40s: %v", q, err)
		}
	}
	if _, err := customers.ParseQuery("order_by=score&after=WyIxIiwiYSJd"); !errors.Is(err, repo.ErrBadCursor) {
		t.Fatalf("nullable order column: %v", err)
	}
}

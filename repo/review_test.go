package repo_test

import (
	"context"
	"strings"
	"testing"

	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// TestMergeOverlongKeyRejected: a merge key longer than its VARCHAR(64)
// column is rejected by the column (22001), not cut to 64 characters and
// matched against the existing row it then equals.
func TestMergeOverlongKeyRejected(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	orders := repoOf[Order](e)
	code := strings.Repeat("A", 64)
	if err := orders.Create(ctx, &Order{Code: types.String64(code), Title: "orig"}); err != nil {
		t.Fatal(err)
	}
	for name, merge := range map[string]func(rows []Order) error{
		"Merge": func(rows []Order) error {
			_, err := orders.Merge(ctx, rows, repo.MergeOptions{On: []string{"code"}})
			return err
		},
		"MergeCopy": func(rows []Order) error {
			_, err := orders.MergeCopy(ctx, rows, repo.MergeOptions{On: []string{"code"}})
			return err
		},
	} {
		err := merge([]Order{{Code: types.String64(code + "evil"), Title: "evil"}})
		if dberr.Code(err) != "22001" {
			t.Fatalf("%s of an over-long code: %v, want SQLSTATE 22001", name, err)
		}
	}
	if got := scalar[string](t, e.url, `SELECT string_agg(title, ',') FROM "order"`); got != "orig" {
		t.Fatalf("titles after the rejected merges: %q, want orig", got)
	}
	if n := e.count("order"); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
}

// TestFilterInOverlongValue: code__in with a value longer than the column
// matches nothing (it is not cut to a value that matches), and not_in keeps
// the row.
func TestFilterInOverlongValue(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	orders := repoOf[Order](e)
	code := strings.Repeat("A", 64)
	if err := orders.Create(ctx, &Order{Code: types.String64(code), Title: "t"}); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{
		"code__in=" + code + "zzz":     0,
		"code__in=" + code + ",x":      1,
		"code__not_in=" + code + "zzz": 1,
		"code__not_in=" + code:         0,
	} {
		f, err := orders.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := orders.Filter(ctx, f)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if len(rows) != want {
			t.Fatalf("%s: %d rows, want %d", q, len(rows), want)
		}
	}
}

package repo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// TestFilterValueLimits checks that text filter values longer than a
// VARCHAR(n) column's n, or than Options.MaxTextValue, are *FieldErrors
// before any SQL, from code and from a query string.
func TestFilterValueLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	if err := customers.Create(ctx, &Customer{Name: types255(strings.Repeat("é", 255)), Email: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 256) // 256 characters, 512 bytes
	bad := []repo.Cond{
		{Field: "name", Value: long},
		{Field: "name", Lookup: repo.LookupIContains, Value: long},
		{Field: "name", Lookup: repo.LookupIn, Value: []string{"x", long}},
		{Field: "email", Lookup: repo.LookupStartsWith, Value: long},
	}
	for _, c := range bad {
		_, err := customers.Filter(ctx, repo.Filter{Where: []repo.Cond{c}})
		var fe *repo.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, repo.ErrBadValue) || fe.Field != c.Field {
			t.Errorf("%s %s of 256 characters: %v", c.Field, c.Lookup, err)
		}
	}
	for _, q := range []string{"name__i_contains=" + long, "email=" + long} {
		f, err := customers.ParseQuery(q)
		if err == nil {
			_, err = customers.Filter(ctx, f)
		}
		if !errors.Is(err, repo.ErrBadValue) {
			t.Errorf("%.30s…: %v", q, err)
		}
	}
	// 255 characters fit and match.
	got, err := customers.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: "name", Value: strings.Repeat("é", 255)}}})
	if err != nil || len(got) != 1 {
		t.Fatalf("a value of the column's width: %d rows, %v", len(got), err)
	}
	// TEXT has no width, but the cap applies: 1024 by default, settable.
	notes := strings.Repeat("n", 1025)
	_, err = customers.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: "notes", Lookup: repo.LookupContains, Value: notes}}})
	if !errors.Is(err, repo.ErrBadValue) {
		t.Errorf("TEXT value over the default cap: %v", err)
	}
	roomy := repoOf[Customer](e, repo.Options{MaxTextValue: 4096})
	if _, err := roomy.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: "notes", Lookup: repo.LookupContains, Value: notes}}}); err != nil {
		t.Errorf("TEXT value under a raised cap: %v", err)
	}
	tight := repoOf[Customer](e, repo.Options{MaxTextValue: 3})
	if _, err := tight.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: "notes", Value: "four"}}}); !errors.Is(err, repo.ErrBadValue) {
		t.Errorf("TEXT value over a lowered cap: %v", err)
	}
}

func types255(s string) types.String255 { return types.String255(s) }

// TestReadTimeout checks that reads are bounded by Options.ReadTimeout:
// a read that outlasts it is canceled on the server and reported as
// ErrReadTimeout; a caller's own earlier deadline stays the caller's.
func TestReadTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	items := repoOf[Item](e, repo.Options{ReadTimeout: 2 * time.Second})
	if err := items.Create(ctx, &Item{ID: 1}); err != nil {
		t.Fatal(err)
	}
	slow := "SELECT id, name, qty, tags, touched FROM item WHERE pg_sleep(30) IS NOT NULL"
	_, err := items.Query(ctx, slow)
	if !errors.Is(err, repo.ErrReadTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow read: %v", err)
	}
	// The table is still readable afterwards.
	running := e.count("item") // a fresh query works
	if running != 1 {
		t.Fatal(running)
	}
	// Writes are not bounded; quick reads are unaffected.
	if _, err := items.Get(ctx, int64(1)); err != nil {
		t.Fatal(err)
	}
	// A caller's earlier deadline is reported as the caller's.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = items.Query(short, slow)
	if errors.Is(err, repo.ErrReadTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller's deadline: %v", err)
	}
	// A negative ReadTimeout means no bound: a read under a second runs.
	unbounded := repoOf[Item](e, repo.Options{ReadTimeout: -1})
	if _, err := unbounded.Query(ctx, "SELECT id, name, qty, tags, touched FROM item WHERE pg_sleep(0.3) IS NOT NULL"); err != nil {
		t.Errorf("unbounded read: %v", err)
	}
}

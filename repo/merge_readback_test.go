package repo_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// sameAsTable fails unless every merged struct equals its row as Get reads
// it: a merge reads back only the columns the database changed, and this
// proves it did not miss one.
func sameAsTable[T any](t *testing.T, r *repo.Repository[T], rows []T, key func(T) any) {
	t.Helper()
	for i, v := range rows {
		got, err := r.Get(context.Background(), key(v))
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if !reflect.DeepEqual(*got, v) {
			t.Fatalf("row %d: the struct after the merge\n%+v\ndiffers from the row\n%+v", i, v, *got)
		}
	}
}

// TestMergeReadsBackWhatTheDatabaseChanged: text, integer and bool
// columns are sent back only when the row differs from the input, so a
// trigger that rewrites them, an existing row's value the merge does not
// write, and a VARCHAR's trailing spaces cut to fit all reach the struct,
// for inserted, updated and unchanged rows, through Merge and MergeCopy.
func TestMergeReadsBackWhatTheDatabaseChanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pgtest.Exec(t, e.url,
		`CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.name LIKE 'loud%' THEN
				NEW.name := upper(NEW.name);
				NEW.qty := NEW.qty + 1000;
			END IF;
			RETURN NEW;
		END $$`,
		`CREATE TRIGGER shout BEFORE INSERT OR UPDATE ON item FOR EACH ROW EXECUTE FUNCTION shout()`)
	items := repoOf[Item](e)
	itemKey := func(v Item) any { return v.ID }

	in := []Item{{ID: 1, Name: "quiet", Qty: 1}, {ID: 2, Name: "loud one", Qty: 2}, {ID: 3, Name: "quiet", Qty: 3}}
	res, err := items.Merge(ctx, in, repo.MergeOptions{})
	if err != nil || res.Inserted != 3 {
		t.Fatalf("insert: %+v %v", res, err)
	}
	if in[1].Name != "LOUD ONE" || in[1].Qty != 1002 || in[0].Name != "quiet" {
		t.Fatalf("trigger's values not read back on insert: %+v", in)
	}
	sameAsTable(t, items, in, itemKey)

	// Updated rows, one rewritten by the trigger; an unchanged row; and
	// a merge of qty only, whose unchanged and updated rows keep the
	// table's names, not the input's.
	again := []Item{{ID: 1, Name: "loud now", Qty: 1}, {ID: 2, Name: "LOUD ONE", Qty: 1002}, {ID: 3, Name: "quiet", Qty: 30}}
	res, err = items.Merge(ctx, again, repo.MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []repo.Outcome{repo.Updated, repo.Unchanged, repo.Updated}; !reflect.DeepEqual(res.Outcomes, want) {
		t.Fatalf("outcomes %v, want %v", res.Outcomes, want)
	}
	if again[0].Name != "LOUD NOW" || again[0].Qty != 1001 {
		t.Fatalf("trigger's values not read back on update: %+v", again[0])
	}
	sameAsTable(t, items, again, itemKey)
	qtyOnly := []Item{{ID: 1, Name: "ignored", Qty: 1001}, {ID: 3, Name: "ignored", Qty: 31}, {ID: 4, Name: "new", Qty: 4}}
	res, err = items.Merge(ctx, qtyOnly, repo.MergeOptions{Columns: []string{"qty"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []repo.Outcome{repo.Unchanged, repo.Updated, repo.Inserted}; !reflect.DeepEqual(res.Outcomes, want) {
		t.Fatalf("qty-only outcomes %v, want %v", res.Outcomes, want)
	}
	if qtyOnly[0].Name != "LOUD NOW" || qtyOnly[1].Name != "quiet" || qtyOnly[2].Name != "new" {
		t.Fatalf("names not read back from the table: %+v", qtyOnly)
	}
	sameAsTable(t, items, qtyOnly, itemKey)

	// The same through MergeCopy.
	copied := []Item{{ID: 4, Name: "loud four", Qty: 4}, {ID: 5, Name: "loud five", Qty: 5}, {ID: 3, Name: "quiet", Qty: 31}}
	res, err = items.MergeCopy(ctx, copied, repo.MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []repo.Outcome{repo.Updated, repo.Inserted, repo.Unchanged}; !reflect.DeepEqual(res.Outcomes, want) {
		t.Fatalf("copy outcomes %v, want %v", res.Outcomes, want)
	}
	sameAsTable(t, items, copied, itemKey)

	// VARCHAR(255): spaces past the width are cut to fit by the INSERT and
	// by the UPDATE; the struct gets the stored value.
	customers := repoOf[Customer](e)
	long := types.String255(strings.Repeat("n", 255) + "   ")
	cs := []Customer{{Name: long, Email: "a@x"}, {Name: "plain", Email: "b@x"}}
	if _, err := customers.Merge(ctx, cs, repo.MergeOptions{On: []string{"email"}}); err != nil {
		t.Fatal(err)
	}
	if len(cs[0].Name) != 255 {
		t.Fatalf("inserted name of %d bytes, want the stored 255", len(cs[0].Name))
	}
	customerKey := func(v Customer) any { return v.ID }
	sameAsTable(t, customers, cs, customerKey)
	cs2 := []Customer{{Name: "plain", Email: "a@x"}, {Name: long, Email: "b@x"}}
	res, err = customers.Merge(ctx, cs2, repo.MergeOptions{On: []string{"email"}})
	if err != nil || res.Updated != 2 {
		t.Fatalf("update: %+v %v", res, err)
	}
	if len(cs2[1].Name) != 255 {
		t.Fatalf("updated name of %d bytes, want the stored 255", len(cs2[1].Name))
	}
	sameAsTable(t, customers, cs2, customerKey)
	// Merged again with the long value, the row is unchanged (equal once
	// cut), and the struct still gets the stored value.
	cs3 := []Customer{{Name: long, Email: "b@x"}}
	res, err = customers.Merge(ctx, cs3, repo.MergeOptions{On: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs3[0].Name) != 255 {
		t.Fatalf("%v row: name of %d bytes, want the stored 255", res.Outcomes[0], len(cs3[0].Name))
	}
	sameAsTable(t, customers, cs3, customerKey)
}

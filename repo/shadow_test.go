package repo_test

import (
	"context"
	"testing"

	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/repo"
)

// TestTempTableCannotShadow plants temporary tables (and a temporary enum
// type) named like the models' on the connection the repository then
// uses: every read and write must reach the real tables in public.
func TestTempTableCannotShadow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	items := repoOf[Item](e, repo.Options{Roles: repo.RolesLogin})
	orders := repoOf[Order](e, repo.Options{Roles: repo.RolesLogin})
	authors := repoOf[Author](e, repo.Options{Roles: repo.RolesLogin})
	books := repoOf[Book](e, repo.Options{Roles: repo.RolesLogin})
	if err := items.Create(ctx, &Item{ID: 1, Name: "real"}); err != nil {
		t.Fatal(err)
	}
	err := e.db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		for _, sql := range []string{
			"CREATE TEMP TABLE item (LIKE public.item INCLUDING ALL)",
			"INSERT INTO pg_temp.item (id, name, qty) VALUES (1, 'decoy', 0), (2, 'decoy', 0)",
			`CREATE TEMP TABLE "order" (LIKE public."order" INCLUDING ALL)`,
			"CREATE TEMP TABLE author (LIKE public.author INCLUDING ALL)",
			"CREATE TEMP TABLE book (LIKE public.book INCLUDING ALL)",
			"CREATE TYPE pg_temp.order_status AS ENUM ('decoy')",
		} {
			if _, err := c.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		got, err := items.Get(ctx, int64(1))
		if err != nil || got.Name != "real" {
			t.Errorf("get read %+v, %v", got, err)
		}
		if n, err := items.Count(ctx, repo.Filter{}); err != nil || n != 1 {
			t.Errorf("count %d, %v", n, err)
		}
		if err := items.Create(ctx, &Item{ID: 3, Name: "new"}); err != nil {
			t.Error(err)
		}
		if err := items.CreateMany(ctx, []Item{{ID: 4}, {ID: 5}}); err != nil {
			t.Error(err)
		}
		if _, err := items.CopyFrom(ctx, []Item{{ID: 6}}); err != nil {
			t.Error(err)
		}
		if _, err := items.Merge(ctx, []Item{{ID: 7}, {ID: 1, Name: "real2"}}, repo.MergeOptions{}); err != nil {
			t.Error(err)
		}
		if _, err := items.MergeCopy(ctx, []Item{{ID: 8}}, repo.MergeOptions{}); err != nil {
			t.Error(err)
		}
		if err := items.Update(ctx, &Item{ID: 3, Name: "updated"}); err != nil {
			t.Error(err)
		}
		if err := items.DeleteKey(ctx, int64(8)); err != nil {
			t.Error(err)
		}
		o := Order{Code: "c1", Title: "t", Status: "paid"}
		if err := orders.Create(ctx, &o); err != nil {
			t.Error(err)
		}
		if _, err := orders.Merge(ctx, []Order{o}, repo.MergeOptions{}); err != nil {
			t.Errorf("merge casting to the enum: %v", err)
		}
		if err := authors.Create(ctx, &Author{ID: 1, Name: "a"}); err != nil {
			t.Error(err)
		}
		if err := books.Create(ctx, &Book{ID: 1, AuthorID: 1, Title: "b"}); err != nil {
			t.Error(err)
		}
		list := []Book{{ID: 1, AuthorID: 1}}
		if err := books.Load(ctx, list, "Author"); err != nil || list[0].Author == nil {
			t.Errorf("load: %v", err)
		}
		// Nothing reached the temporary tables.
		for _, tbl := range []string{"item", `"order"`, "author", "book"} {
			var n int64
			if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_temp."+tbl).Scan(&n); err != nil {
				t.Fatal(err)
			}
			want := int64(0)
			if tbl == "item" {
				want = 2
			}
			if n != want {
				t.Errorf("temporary %s holds %d rows, want %d", tbl, n, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := pgtest.Scalar[int64](t, e.url, "SELECT count(*) FROM public.item"); n != 6 {
		t.Errorf("public.item holds %d rows, want 6", n)
	}
	if name := pgtest.Scalar[string](t, e.url, "SELECT name FROM public.item WHERE id = 3"); name != "updated" {
		t.Errorf("update reached %q", name)
	}
}

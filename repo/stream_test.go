package repo_test

import (
	"context"
	"errors"
	"testing"

	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/repo"
)

// TestStreamLoopUsesTransaction updates every row a Stream reads from
// inside the loop, in the same transaction: more rows than one cursor
// fetch, all updated, and a rollback undoes them all.
func TestStreamLoopUsesTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	items := repoOf[Item](e, repo.Options{Roles: repo.RolesLogin})
	const n = 600
	rows := make([]Item, n)
	for i := range rows {
		rows[i] = Item{ID: int64(i + 1), Name: "x"}
	}
	if _, err := items.CopyFrom(ctx, rows); err != nil {
		t.Fatal(err)
	}
	f := repo.Filter{OrderBy: []repo.Order{{Field: "id"}}}
	seen := 0
	err := e.db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, _ *engine.Tx) error {
		for it, err := range items.Stream(ctx, f) {
			if err != nil {
				return err
			}
			seen++
			it.Qty = it.ID * 2
			if err := items.Update(ctx, &it, "qty"); err != nil {
				return err
			}
			if _, err := items.Get(ctx, it.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || seen != n {
		t.Fatalf("stream with updates in the loop: %d rows, %v", seen, err)
	}
	if got := e.count("item"); got != n {
		t.Fatalf("%d rows", got)
	}
	var wrong int64
	for it, err := range items.Stream(ctx, f) {
		if err != nil {
			t.Fatal(err)
		}
		if it.Qty != it.ID*2 {
			wrong++
		}
	}
	if wrong != 0 {
		t.Errorf("%d rows not updated", wrong)
	}
	// Breaking out early closes the cursor; the transaction goes on.
	err = e.db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, _ *engine.Tx) error {
		for range items.Stream(ctx, f) {
			break
		}
		for range items.Stream(ctx, f) {
			break
		}
		_, err := items.Count(ctx, repo.Filter{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStreamOnHeldConnection checks that a repository call on a
// connection still reading a Stream fails with ErrConnBusy, saying what to
// do, instead of pgx's bare "conn busy", and that the stream goes on.
func TestStreamOnHeldConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	items := repoOf[Item](e, repo.Options{Roles: repo.RolesLogin})
	if err := items.CreateMany(ctx, []Item{{ID: 1}, {ID: 2}, {ID: 3}}); err != nil {
		t.Fatal(err)
	}
	seen := 0
	err := e.db.WithConn(ctx, func(ctx context.Context, _ *engine.Conn) error {
		for it, err := range items.Stream(ctx, repo.Filter{}) {
			if err != nil {
				return err
			}
			seen++
			_, gerr := items.Get(ctx, it.ID)
			if !errors.Is(gerr, repo.ErrConnBusy) {
				t.Errorf("Get inside the loop: %v, want ErrConnBusy", gerr)
			}
			if err := items.CreateMany(ctx, []Item{{ID: 100 + it.ID}}); !errors.Is(err, repo.ErrConnBusy) {
				t.Errorf("CreateMany inside the loop: %v, want ErrConnBusy", err)
			}
		}
		return nil
	})
	if err != nil || seen != 3 {
		t.Fatalf("%d rows, %v", seen, err)
	}
}

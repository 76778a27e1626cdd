package repo_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/repo"
)

// onePrefix fails unless err's message carries one package prefix: no
// "repo: … repo: …" or "repo: … uno: …" stutter.
func onePrefix(t *testing.T, what string, err error) {
	t.Helper()
	msg := err.Error()
	if n := strings.Count(msg, "repo: ") + strings.Count(msg, "uno: "); n != 1 {
		t.Errorf("%s: %d package prefixes in %q", what, n, msg)
	}
}

// TestNotFoundEverywhere checks that every operation that finds no row
// returns an error matching dberr.ErrNotFound, sql.ErrNoRows and
// pgx.ErrNoRows, on the pool and in a transaction, with one prefix.
func TestNotFoundEverywhere(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, opts := range []repo.Options{{}, {Version: "version"}} {
		orders := repoOf[Order](e, opts)
		items := repoOf[Item](e)
		missing := Order{Code: "gone", Title: "t", Status: "new"}
		missing.ID = "01HZZZZZZZZZZZZZZZZZZZZZZZ"
		ops := map[string]func(ctx context.Context) error{
			"Get":       func(ctx context.Context) error { _, err := orders.Get(ctx, missing.ID); return err },
			"GetBy":     func(ctx context.Context) error { _, err := orders.GetBy(ctx, repo.Eq{"code": "gone"}); return err },
			"Update":    func(ctx context.Context) error { v := missing; return orders.Update(ctx, &v) },
			"UpdateCol": func(ctx context.Context) error { v := missing; return orders.Update(ctx, &v, "title") },
			"Patch":     func(ctx context.Context) error { v := missing; return orders.Patch(ctx, &v, "title") },
			"Delete":    func(ctx context.Context) error { v := missing; return orders.Delete(ctx, &v) },
			"DeleteKey": func(ctx context.Context) error { return orders.DeleteKey(ctx, missing.ID) },
			"Purge":     func(ctx context.Context) error { return orders.Purge(ctx, missing.ID) },
			"ItemGet":   func(ctx context.Context) error { _, err := items.Get(ctx, int64(404)); return err },
			"ItemPatch": func(ctx context.Context) error { return items.Patch(ctx, &Item{ID: 404}) },
			"QueueGet": func(ctx context.Context) error {
				b := repo.NewBatch()
				var dst Item
				items.QueueGet(b, &dst, int64(404))
				return b.Send(ctx)
			},
			"QueueDelete": func(ctx context.Context) error {
				b := repo.NewBatch()
				items.QueueDelete(b, &Item{ID: 404})
				return b.Send(ctx)
			},
		}
		for name, op := range ops {
			check := func(where string, err error) {
				if err == nil {
					t.Errorf("%s %s (version %q): no error", name, where, opts.Version)
					return
				}
				for _, target := range []error{dberr.ErrNotFound, sql.ErrNoRows, pgx.ErrNoRows} {
					if !errors.Is(err, target) {
						t.Errorf("%s %s (version %q): %v does not match %v", name, where, opts.Version, err, target)
					}
				}
				onePrefix(t, name+" "+where, err)
			}
			check("on the pool", op(ctx))
			var inTx error
			_ = e.db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, _ *engine.Tx) error {
				inTx = op(ctx)
				return nil
			})
			check("in a transaction", inTx)
		}
	}
}

// TestErrorPrefixOnce checks the messages of constraint, field and batch
// errors.
func TestErrorPrefixOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	c := Customer{Name: "a", Email: "dup@example.com"}
	if err := customers.Create(ctx, &c); err != nil {
		t.Fatal(err)
	}
	d := Customer{Name: "b", Email: "dup@example.com"}
	err := customers.Create(ctx, &d)
	if !errors.Is(err, dberr.ErrUniqueViolation) {
		t.Fatal(err)
	}
	onePrefix(t, "unique violation", err)
	_, err = customers.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: "nope"}}})
	if !errors.Is(err, repo.ErrUnknownField) {
		t.Fatal(err)
	}
	onePrefix(t, "unknown field", err)
	b := repo.NewBatch()
	customers.QueueCreate(b, &d)
	err = b.Send(ctx)
	if !errors.Is(err, dberr.ErrUniqueViolation) {
		t.Fatal(err)
	}
	onePrefix(t, "batch", err)
	if !strings.Contains(err.Error(), "batch operation 0") || !strings.Contains(err.Error(), "uq_customer_email") {
		t.Errorf("batch error %q does not name the operation and constraint", err)
	}
}

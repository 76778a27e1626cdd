package repo_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// Priced has a NUMERIC(8,2) column.
type Priced struct {
	uno.Model `uno:"table:priced"`
	ID        int64         `uno:"id,pk"`
	Price     types.Decimal `uno:"price,type:NUMERIC(8,2)"`
}

// TestHugeDecimalRejected checks that decimals a NUMERIC column cannot
// hold are *FieldErrors from ParseQuery, before any SQL, and that the
// largest values it can hold reach the server and filter.
func TestHugeDecimalRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := repoOf[Customer](e)
	huge := strings.Repeat("9", 200000)
	for _, q := range []string{
		"balance=" + huge,
		"balance__gt=1" + strings.Repeat("0", 131072),
		"balance__in=1," + huge,
		"balance__lt=0." + strings.Repeat("1", 16384),
		"balance=1e200000",
	} {
		_, err := customers.ParseQuery(q)
		var fe *repo.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, repo.ErrBadValue) || fe.Field != "balance" {
			t.Errorf("%.40s…: %v", q, err)
		}
	}
	// At the limits the server takes the value: no 22003.
	for _, q := range []string{"balance__lt=1" + strings.Repeat("0", 131071), "balance__gt=-0." + strings.Repeat("1", 16383)} {
		f, err := customers.ParseQuery(q)
		if err != nil {
			t.Fatalf("%.40s…: %v", q, err)
		}
		if _, err := customers.Filter(ctx, f); err != nil {
			t.Errorf("%.40s…: %v", q, err)
		}
	}

	reg := model.NewRegistry()
	if err := reg.Register((*Priced)(nil)); err != nil {
		t.Fatal(err)
	}
	priced, err := repo.New[Priced](e.db, reg)
	if err != nil {
		t.Fatal(err)
	}
	for q, ok := range map[string]bool{
		"price=999999.99":    true,
		"price=999999.994":   true, // rounds to 999999.99
		"price=-999999.99":   true,
		"price=0.001":        true,
		"price=999999.995":   false, // rounds to 1000000.00
		"price=1000000":      false,
		"price__gt=1e6":      false,
		"price__lt=12345678": false,
	} {
		_, err := priced.ParseQuery(q)
		if ok && err != nil {
			t.Errorf("%s: %v", q, err)
		}
		if !ok && !errors.Is(err, repo.ErrBadValue) {
			t.Errorf("%s: %v, want ErrBadValue", q, err)
		}
	}
	// A Filter built in code is checked too.
	_, err = customers.Filter(ctx, repo.Filter{Where: []repo.Cond{{Field: "balance", Value: types.Decimal(huge)}}})
	if !errors.Is(err, repo.ErrBadValue) || errors.Is(err, dberr.ErrQueryCanceled) {
		t.Errorf("filter in code with a huge decimal: %v", err)
	}
}

package repo_test

import (
	"context"
	"errors"
	"testing"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// Memo is a tenant model: row-level security keeps each tenant to its rows.
type Memo struct {
	uno.Model `uno:"table:memo"`
	model.ULIDKey
	model.Tenant
	Text types.String255 `uno:"text"`
	Num  int64           `uno:"num,unique"`
}

// TestTenantFromIdentity checks that the tenant column of a tenant model
// is filled from the transaction's identity when the struct leaves it
// empty, through every way in, and that a row naming another tenant is
// refused before any SQL.
func TestTenantFromIdentity(t *testing.T) {
	u := newUnoDB(t, (*Memo)(nil))
	ctx := context.Background()
	const acme, globex = "01HACME0000000000000000000", "01HGL0BEX00000000000000000"
	memos, err := repo.New[Memo](u.db, u.reg, repo.Options{Identity: engine.Identity{TenantID: acme}})
	if err != nil {
		t.Fatal(err)
	}
	tenantOfRow := func(num int64) string {
		t.Helper()
		return pgtest.Scalar[string](t, u.url, "SELECT tenant_id FROM memo WHERE num = $1", num)
	}
	m := Memo{Text: "a", Num: 1}
	if err := memos.Create(ctx, &m); err != nil {
		t.Fatal(err)
	}
	if m.TenantID != acme || tenantOfRow(1) != acme {
		t.Errorf("create: struct %q, row %q; want %q", m.TenantID, tenantOfRow(1), acme)
	}
	if _, err := memos.CreateOrGet(ctx, &Memo{Text: "b", Num: 2}); err != nil {
		t.Fatal(err)
	}
	many := []Memo{{Text: "c", Num: 3}, {Text: "d", Num: 4}}
	if err := memos.CreateMany(ctx, many); err != nil {
		t.Fatal(err)
	}
	// PostgreSQL refuses COPY FROM into a table with row-level security
	// (0A000) to anyone but its owner, so CopyFrom is checked on the
	// refusal below only; MergeCopy copies into a staging table.
	if err := memos.Create(ctx, &Memo{Text: "e", Num: 5}); err != nil {
		t.Fatal(err)
	}
	merged := []Memo{{Text: "f", Num: 6}}
	merged[0].ID = "01HMERGE000000000000000000"
	if _, err := memos.Merge(ctx, merged, repo.MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	staged := []Memo{{Text: "g", Num: 7}}
	staged[0].ID = "01HSTAGE000000000000000000"
	if _, err := memos.MergeCopy(ctx, staged, repo.MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	for n := int64(2); n <= 7; n++ {
		if got := tenantOfRow(n); got != acme {
			t.Errorf("row %d: tenant %q, want %q", n, got, acme)
		}
	}
	if many[1].TenantID != acme || merged[0].TenantID != acme {
		t.Errorf("bulk structs not filled: %q %q", many[1].TenantID, merged[0].TenantID)
	}
	// An update of a struct that lost its tenant keeps the row's.
	m.TenantID = ""
	m.Text = "a2"
	if err := memos.Update(ctx, &m); err != nil || tenantOfRow(1) != acme {
		t.Fatalf("update: %v, tenant %q", err, tenantOfRow(1))
	}

	// A plain repository inside a transaction acting for globex takes
	// globex from the transaction.
	plain, err := repo.New[Memo](u.db, u.reg)
	if err != nil {
		t.Fatal(err)
	}
	err = u.db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{TenantID: globex}},
		func(ctx context.Context, _ *engine.Tx) error { return plain.Create(ctx, &Memo{Text: "x", Num: 8}) })
	if err != nil || tenantOfRow(8) != globex {
		t.Fatalf("in a transaction: %v, tenant %q", err, tenantOfRow(8))
	}

	// A row naming another tenant is refused, and nothing is written.
	before := pgtest.Scalar[int64](t, u.url, "SELECT count(*) FROM memo")
	wrong := Memo{Text: "w", Num: 9}
	wrong.TenantID = globex
	var fe *repo.FieldError
	for name, err := range map[string]error{
		"Create":     memos.Create(ctx, &wrong),
		"CreateMany": memos.CreateMany(ctx, []Memo{{Text: "ok", Num: 10}, wrong}),
		"Merge":      func() error { _, err := memos.Merge(ctx, []Memo{wrong}, repo.MergeOptions{}); return err }(),
		"CopyFrom":   func() error { _, err := memos.CopyFrom(ctx, []Memo{wrong}); return err }(),
		"Update":     memos.Update(ctx, &wrong),
	} {
		if !errors.Is(err, repo.ErrTenantMismatch) || !errors.As(err, &fe) || fe.Field != "tenant_id" {
			t.Errorf("%s with another tenant: %v", name, err)
		}
	}
	if after := pgtest.Scalar[int64](t, u.url, "SELECT count(*) FROM memo"); after != before {
		t.Errorf("%d rows written by refused calls", after-before)
	}
}

package repo

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/uno-db/uno/model"
)

// ErrTenantMismatch is returned, inside a *FieldError naming the tenant
// column, when a row written by a tenant model's repository names another
// tenant than the transaction's identity.
var ErrTenantMismatch = errors.New("repo: the row's tenant is not the transaction's tenant")

// tenantOf returns the tenant the call acts for: the Identity.TenantID of
// the transaction ctx carries for the repository's DB, else, when the
// repository switches roles, that of Options.Identity; "" when there is
// none or the model has no tenant column.
func (r *Repository[T]) tenantOf(ctx context.Context) string {
	if r.s.table.TenantColumn == nil {
		return ""
	}
	if tx, ok := r.s.db.TxFromContext(ctx); ok {
		return tx.Options().Identity.TenantID
	}
	if r.s.switchRoles {
		return r.s.opts.Identity.TenantID
	}
	return ""
}

// stampTenant fills the tenant column of row with tenant when the field
// is empty, and refuses a row that names another tenant. i numbers the row
// in a bulk call (-1 for a single row).
func (r *Repository[T]) stampTenant(row model.Row, tenant string, i int) error {
	if tenant == "" {
		return nil
	}
	c := r.s.table.TenantColumn
	var have string
	switch v := row.Value(c); {
	case v == nil:
	case reflect.ValueOf(v).Kind() == reflect.String:
		have = reflect.ValueOf(v).String()
	default:
		// A tenant column of another type is the caller's to fill.
		return nil
	}
	if have == "" {
		row.SetString(c, tenant)
		return nil
	}
	if have != tenant {
		reason := fmt.Sprintf("the transaction acts for tenant %q", cut(tenant))
		if i >= 0 {
			reason = fmt.Sprintf("row %d: %s", i, reason)
		}
		return &FieldError{Field: c.Name, Value: have, Err: ErrTenantMismatch, Reason: reason}
	}
	return nil
}

// stampTenants is stampTenant for every row.
func (r *Repository[T]) stampTenants(ctx context.Context, rows []model.Row) error {
	tenant := r.tenantOf(ctx)
	if tenant == "" {
		return nil
	}
	for i, row := range rows {
		if err := r.stampTenant(row, tenant, i); err != nil {
			return err
		}
	}
	return nil
}

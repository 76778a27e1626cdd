package demo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/cli"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/identity"
	"github.com/uno-db/uno/internal/progress"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// tenantsAndUsers creates the tenants Acme and Globex (the tenant table
// has no tenant column) and Acme's user Ada, and the customer repository
// acting for Acme as Ada.
func (t *tour) tenantsAndUsers() error {
	tenants, err := repo.New[Tenant](t.db, t.reg, repo.Options{Roles: repo.RolesSwitch})
	if err != nil {
		return err
	}
	t.acme, t.globex = Tenant{Name: "Acme"}, Tenant{Name: "Globex"}
	for _, tn := range []*Tenant{&t.acme, &t.globex} {
		if err := tenants.Create(t.ctx, tn); err != nil {
			return err
		}
	}
	t.ada = User{Email: "ada@acme.test", Name: "Ada"}
	t.ada.TenantID = t.acme.ID
	users, err := repo.New[User](t.db, t.reg, asTenant(t.acme, ""))
	if err != nil {
		return err
	}
	if err := users.Create(t.ctx, &t.ada); err != nil {
		return err
	}
	t.customers, err = repo.New[Customer](t.db, t.reg, asTenant(t.acme, string(t.ada.ID)))
	return err
}

// acmeCustomer is a customer of Acme.
func (t *tour) acmeCustomer(name, email string) Customer {
	c := Customer{Name: types.String255(name), Email: types.String255(email)}
	c.TenantID = t.acme.ID
	return c
}

// crud is step 4: create, read back, update.
func (t *tour) crud() error {
	t.grace = t.acmeCustomer("Grace Hopper", "grace@navy.test")
	c := &t.grace
	if err := t.customers.Create(t.ctx, c); err != nil {
		return err
	}
	if len(c.ID) != 26 || c.CreatedAt.IsZero() || !c.IsActive {
		return failf("4", "create did not fill the generated columns: %+v", *c)
	}
	got, err := t.customers.Get(t.ctx, c.ID)
	if err != nil || got.Email != c.Email {
		return failf("4", "get by id: %v", err)
	}
	got.Name = "Rear Admiral Grace Hopper"
	if err := t.customers.Update(t.ctx, got, "name"); err != nil {
		return err
	}
	t.renamed = got
	t.say("4. CRUD: created customer %s (ULID from generate_ulid(), created_at %s), read it back, renamed it to %q",
		c.ID, c.CreatedAt.Format(time.RFC3339), got.Name)
	return nil
}

// auditColumns is step 5: the audit columns, filled by the trigger from
// rls_var.user_id.
func (t *tour) auditColumns() error {
	ada := t.ada.ID
	if got := t.renamed; got.CreatedByID == nil || *got.CreatedByID != ada {
		return failf("5", "created_by_id = %v, want %s", got.CreatedByID, ada)
	}
	again, err := t.customers.Get(t.ctx, t.grace.ID)
	if err != nil || again.ModifiedByID == nil || *again.ModifiedByID != ada || !again.ModifiedAt.After(t.grace.CreatedAt) {
		return failf("5", "after update: modified_by_id %v, modified_at %v (%v)", again.ModifiedByID, again.ModifiedAt, err)
	}
	t.say("5. audit columns: created_by_id and modified_by_id = %s (the acting user), modified_at advanced", ada)
	return nil
}

// createOrGet is step 6: create-or-get on the natural key (tenant_id,
// email).
func (t *tour) createOrGet() error {
	dup := t.acmeCustomer("Someone else", "grace@navy.test")
	created, err := t.customers.CreateOrGet(t.ctx, &dup, "tenant_id", "email")
	if err != nil || created || dup.ID != t.grace.ID {
		return failf("6", "create-or-get: created=%v id=%s (%v)", created, dup.ID, err)
	}
	t.say("6. create-or-get with an existing email: created=false, returned the existing row %s", dup.ID)
	return nil
}

// naturalKey is step 7: get by natural key; a unique violation names its
// constraint and fields.
func (t *tour) naturalKey() error {
	byEmail, err := t.customers.GetBy(t.ctx, repo.Eq{"email": "grace@navy.test"})
	if err != nil || byEmail.ID != t.grace.ID {
		return failf("7", "get by email: %v", err)
	}
	clash := t.acmeCustomer("Clash", "grace@navy.test")
	err = t.customers.Create(t.ctx, &clash)
	var ce *repo.ConstraintError
	if !errors.Is(err, dberr.ErrUniqueViolation) || !errors.As(err, &ce) {
		return failf("7", "duplicate email: want a unique violation, got %v", err)
	}
	t.say("7. get by email found %s; a duplicate email is refused: constraint %s on fields %v", byEmail.ID, ce.Constraint, ce.Fields)
	return nil
}

// filters is step 8: filters with uno's lookups, from a query string.
func (t *tour) filters() error {
	for _, n := range []string{"Alan Turing", "Ada Lovelace", "Barbara Liskov", "Edsger Dijkstra"} {
		x := t.acmeCustomer(n, strings.ToLower(strings.Fields(n)[1])+"@example.test")
		if err := t.customers.Create(t.ctx, &x); err != nil {
			return err
		}
	}
	f, err := t.customers.ParseQuery("name__i_contains=a&email__ends_with=example.test&order_by=-name&limit=2")
	if err != nil {
		return err
	}
	page, err := t.customers.Filter(t.ctx, f)
	if err != nil || len(page) != 2 || page[0].Name != "Edsger Dijkstra" {
		return failf("8", "filter: %d rows (%v)", len(page), err)
	}
	total, err := t.customers.Count(t.ctx, f)
	if err != nil || total != 4 {
		return failf("8", "count %d (%v)", total, err)
	}
	_, err = t.customers.ParseQuery("name__gt=x&price__bogus=1")
	if err == nil {
		return failf("8", "a bad query was accepted")
	}
	t.say("8. filter name__i_contains=a&email__ends_with=example.test&order_by=-name&limit=2: %s, %s (of %d); a bad query is a 400: %v",
		page[0].Name, page[1].Name, total, err)
	return nil
}

// products is the product repository acting for Acme as Ada.
func (t *tour) products() (*repo.Repository[Product], error) {
	return repo.New[Product](t.db, t.reg, asTenant(t.acme, string(t.ada.ID)))
}

// acmeProduct is a product of Acme.
func (t *tour) acmeProduct(sku, name, price string) Product {
	p := Product{SKU: types.String64(sku), Name: types.String255(name), Price: types.Decimal(price)}
	p.TenantID = t.acme.ID
	return p
}

// merge is step 9: merge, one round trip, an outcome per row.
func (t *tour) merge() error {
	products, err := t.products()
	if err != nil {
		return err
	}
	opts := repo.MergeOptions{On: []string{"tenant_id", "sku"}, Columns: []string{"name", "price"}}
	if _, err := products.Merge(t.ctx, []Product{t.acmeProduct("P-1", "Pencil", "1.50"), t.acmeProduct("P-2", "Pen", "3.00")}, opts); err != nil {
		return err
	}
	res, err := products.Merge(t.ctx, []Product{t.acmeProduct("P-1", "Pencil", "1.50"), t.acmeProduct("P-2", "Pen", "3.25"),
		t.acmeProduct("P-3", "Paper", "0.10")}, opts)
	if err != nil || res.Inserted != 1 || res.Updated != 1 || res.Unchanged != 1 {
		return failf("9", "merge: %+v (%v)", res, err)
	}
	t.say("9. merge of P-1 (same), P-2 (new price), P-3 (new): %v, %v, %v", res.Outcomes[0], res.Outcomes[1], res.Outcomes[2])
	return nil
}

// bulkCopy is step 10: a bulk load with COPY, with progress.
func (t *tour) bulkCopy() error {
	products, err := t.products()
	if err != nil {
		return err
	}
	const bulk, chunk = 20000, 2000
	bar := progress.New(indent{t.out}, "COPY product", bulk)
	rows := make([]Product, 0, chunk)
	for i := 0; i < bulk; i += chunk {
		rows = rows[:0]
		for j := i; j < i+chunk; j++ {
			rows = append(rows, t.acmeProduct(fmt.Sprintf("B-%05d", j), "Bulk item "+strconv.Itoa(j), "9.99"))
		}
		res, err := products.MergeCopy(t.ctx, rows, repo.MergeOptions{On: []string{"tenant_id", "sku"}})
		if err != nil {
			return err
		}
		bar.Add(int64(res.Inserted))
	}
	bar.Finish()
	if n, err := products.Count(t.ctx, repo.Filter{Where: []repo.Cond{{Field: "sku", Lookup: repo.LookupStartsWith, Value: "B-"}}}); err != nil || n != bulk {
		return failf("10", "%d bulk rows (%v)", n, err)
	}
	t.say("10. COPY loaded %d products", bulk)
	return nil
}

// rollback is step 11: a transaction that fails leaves nothing behind.
func (t *tour) rollback() error {
	before, err := t.customers.Count(t.ctx, repo.Filter{})
	if err != nil {
		return err
	}
	t.customersBefore = before
	boom := errors.New("payment declined")
	err = t.db.WithTx(t.ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{TenantID: string(t.acme.ID), UserID: string(t.ada.ID)}},
		func(ctx context.Context, tx *engine.Tx) error {
			x := t.acmeCustomer("Temporary", "temp@example.test")
			if err := t.customers.Create(ctx, &x); err != nil {
				return err
			}
			return boom
		})
	after, cerr := t.customers.Count(t.ctx, repo.Filter{})
	if !errors.Is(err, boom) || cerr != nil || after != before {
		return failf("11", "rolled-back transaction: %v; %d customers before, %d after (%v)", err, before, after, cerr)
	}
	t.say("11. a transaction that created a customer and then failed (%v) rolled back: still %d customers", boom, after)
	return nil
}

// readerCannotWrite is step 12: the reader role may not write.
func (t *tour) readerCannotWrite() error {
	err := t.db.WithTx(t.ctx, engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{TenantID: string(t.acme.ID)}},
		func(ctx context.Context, tx *engine.Tx) error {
			x := t.acmeCustomer("Sneaky", "sneaky@example.test")
			return t.customers.Create(ctx, &x)
		})
	if !errors.Is(err, dberr.ErrPermissionDenied) {
		return failf("12", "reader write: want permission denied, got %v", err)
	}
	t.say("12. an INSERT as %s is refused: SQLSTATE %s", t.target.Roles.Reader, dberr.Code(err))
	return nil
}

// tenantIsolation is step 13: tenant isolation under row-level security.
func (t *tour) tenantIsolation() error {
	globexCustomers, err := repo.New[Customer](t.db, t.reg, asTenant(t.globex, ""))
	if err != nil {
		return err
	}
	t.hank = Customer{Name: "Hank Scorpio", Email: "hank@globex.test"}
	t.hank.TenantID = t.globex.ID
	if err := globexCustomers.Create(t.ctx, &t.hank); err != nil {
		return err
	}
	if err := t.globexSeesOnlyItsOwn(globexCustomers); err != nil {
		return err
	}
	all, err := t.noTenantAndSuperuser()
	if err != nil {
		return err
	}
	if err := emit.CheckRLS(t.ctx, t.db.Pool(), emit.Options{Roles: t.target.Roles}); err != nil {
		return failf("13", "RLS audit: %v", err)
	}
	t.say("13. row-level security: Globex sees 1 customer and cannot read, update, delete or insert Acme's rows; no tenant set sees 0; the superuser setting sees %d; the RLS audit passes", all)
	return nil
}

// globexSeesOnlyItsOwn checks that Globex sees its one customer and can
// neither read, update, delete nor insert Acme's rows.
func (t *tour) globexSeesOnlyItsOwn(globexCustomers *repo.Repository[Customer]) error {
	seen, err := globexCustomers.Count(t.ctx, repo.Filter{})
	if err != nil || seen != 1 {
		return failf("13", "globex sees %d customers (%v)", seen, err)
	}
	if _, err := globexCustomers.Get(t.ctx, t.grace.ID); !errors.Is(err, dberr.ErrNotFound) {
		return failf("13", "globex read acme's customer: %v", err)
	}
	// The repository refuses a row whose tenant is not the transaction's
	// (ErrTenantMismatch) before any SQL; give the row Globex's tenant so
	// that row-level security is what hides Acme's row.
	steal := *t.renamed
	steal.Name = "stolen"
	if err := globexCustomers.Update(t.ctx, &steal, "name"); !errors.Is(err, repo.ErrTenantMismatch) {
		return failf("13", "globex's repository accepted acme's row: %v", err)
	}
	steal.TenantID = t.globex.ID
	if err := globexCustomers.Update(t.ctx, &steal, "name"); !errors.Is(err, dberr.ErrNotFound) {
		return failf("13", "globex updated acme's customer: %v", err)
	}
	if err := globexCustomers.Delete(t.ctx, &steal); !errors.Is(err, dberr.ErrNotFound) {
		return failf("13", "globex deleted acme's customer: %v", err)
	}
	planted := t.acmeCustomer("Planted", "planted@acme.test") // Globex's session writing into Acme
	if err := globexCustomers.Create(t.ctx, &planted); !errors.Is(err, repo.ErrTenantMismatch) {
		return failf("13", "globex inserted a row for acme: %v", err)
	}
	return nil
}

// noTenantAndSuperuser checks that a session with no tenant sees no
// customer and one with the superuser setting sees them all; it returns
// how many that is.
func (t *tour) noTenantAndSuperuser() (int64, error) {
	nobody, err := repo.New[Customer](t.db, t.reg, repo.Options{Roles: repo.RolesSwitch})
	if err != nil {
		return 0, err
	}
	if n, err := nobody.Count(t.ctx, repo.Filter{}); err != nil || n != 0 {
		return 0, failf("13", "no tenant set: saw %d customers (%v)", n, err)
	}
	super, err := repo.New[Customer](t.db, t.reg, repo.Options{Roles: repo.RolesSwitch, Identity: engine.Identity{Superuser: true}})
	if err != nil {
		return 0, err
	}
	all, err := super.Count(t.ctx, repo.Filter{})
	if err != nil || all != t.customersBefore+1 {
		return 0, failf("13", "superuser saw %d customers, want %d (%v)", all, t.customersBefore+1, err)
	}
	return all, nil
}

// softDelete is step 14: a deleted row is gone from reads but kept.
func (t *tour) softDelete() error {
	if err := t.customers.Delete(t.ctx, t.renamed); err != nil {
		return err
	}
	if _, err := t.customers.Get(t.ctx, t.grace.ID); !errors.Is(err, dberr.ErrNotFound) {
		return failf("14", "soft-deleted row still read: %v", err)
	}
	kept, err := t.customers.WithDeleted().Get(t.ctx, t.grace.ID)
	if err != nil || !kept.IsDeleted || kept.DeletedAt == nil {
		return failf("14", "soft-deleted row: %+v (%v)", kept, err)
	}
	t.say("14. soft delete: %s is gone from reads but kept with is_deleted=true, deleted_at=%s", t.grace.ID, kept.DeletedAt.Format(time.RFC3339))
	return nil
}

// migrateAddColumn is step 15: a migration adding a column, from a changed
// model, and a write to the new column.
func (t *tour) migrateAddColumn() error {
	v2 := &cli.App{Models: []any{Tenant{}, User{}, CustomerV2{}, Product{}, Order{}, OrderLine{}}}
	t.say("15. the Customer model gains a Phone field: uno migrate diff")
	if err := t.uno(v2, "migrate", "diff"); err != nil {
		return err
	}
	if err := t.uno(v2, "migrate", "new", "add_phone", "--dir", t.dir); err != nil {
		return err
	}
	if err := t.uno(v2, "migrate", "up", "--dir", t.dir); err != nil {
		return err
	}
	if err := t.uno(v2, "migrate", "diff", "--check"); err != nil {
		return failf("15", "drift after the migration: %v", err)
	}
	reg2 := model.NewRegistry()
	if err := reg2.Register(v2.Models...); err != nil {
		return err
	}
	customers2, err := repo.New[CustomerV2](t.db, reg2, asTenant(t.globex, ""))
	if err != nil {
		return err
	}
	phone := "+1 555 0100"
	g2, err := customers2.Get(t.ctx, t.hank.ID)
	if err != nil {
		return err
	}
	g2.Phone = &phone
	if err := customers2.Update(t.ctx, g2, "phone"); err != nil {
		return failf("15", "write the new column: %v", err)
	}
	t.say("15. migrated: customer.phone exists, no drift left, and %s's phone is %s", g2.Name, phone)
	return nil
}

// signedIdentity is step 16: a forged set_config of rls_var.tenant_id
// inside a transaction. With plain settings it shows Globex Acme's
// customers; after switching the database to the signed mode (the same
// emitters `uno db create` runs, with SignedIdentity) the forgery is
// ignored: Globex still sees only its own customer, and the parameter
// where the verified claims live refuses SQL (42501).
func (t *tour) signedIdentity() error {
	globex := engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{TenantID: string(t.globex.ID)}}
	// forged runs Globex's transaction: its own count, then the count
	// of Acme's customers after forging the tenant and superuser settings.
	forged := func() (own, acme int64, verified *string, err error) {
		err = t.db.WithTx(t.ctx, globex, func(ctx context.Context, tx *engine.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM customer`).Scan(&own); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `SELECT set_config('rls_var.tenant_id', $1, true), set_config('rls_var.is_superuser', 'true', true)`,
				string(t.acme.ID)); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT count(*), (SELECT `+quote.Qualified("public", emit.FuncTenantID)+`()) FROM customer WHERE tenant_id = $1`,
				string(t.acme.ID)).Scan(&acme, &verified)
		})
		return own, acme, verified, err
	}
	own, leaked, _, err := forged()
	if err != nil {
		return err
	}
	if own != 1 || leaked == 0 {
		return failf("16", "plain settings: Globex saw %d of its own and %d of Acme's customers after the forgery, want 1 and some", own, leaked)
	}
	t.say("16. plain rls_var settings: inside Globex's transaction, SELECT set_config('rls_var.tenant_id', <Acme>, true) shows Globex %d of Acme's customers", leaked)

	// The signed mode: uno_sign_in and the verified functions, the
	// shared secret, and the tenant policies on uno_tenant_id().
	d := emit.Database{Name: t.target.Database, Roles: t.target.Roles, SignedIdentity: true}
	var emitters []emit.Emitter
	emitters = append(emitters, emit.Functions(d), emit.IdentitySecret(d, t.secret()))
	for _, tbl := range t.reg.Tables() {
		if tbl.TenantColumn != nil {
			emitters = append(emitters, emit.TenantRLS(tbl, d.Options()))
		}
	}
	super, err := pgx.Connect(t.ctx, t.dsn)
	if err != nil {
		return err
	}
	defer super.Close(context.WithoutCancel(t.ctx))
	var r emit.Runner
	if _, err := r.Run(t.ctx, super, emitters...); err != nil {
		return err
	}
	signer, err := identity.NewSigner(t.secret())
	if err != nil {
		return err
	}
	t.db.SignIdentities(signer, "")

	own, leaked, verified, err := forged()
	if err != nil {
		return err
	}
	if own != 1 || leaked != 0 || verified == nil || *verified != string(t.globex.ID) {
		return failf("16", "signed: Globex saw %d of its own and %d of Acme's customers after the forgery (verified tenant %v), want 1 and 0", own, leaked, verified)
	}
	// Writing where the verified claims live is refused by PostgreSQL.
	err = t.db.WithTx(t.ctx, globex, func(ctx context.Context, tx *engine.Tx) error {
		_, err := tx.Exec(ctx, `SELECT set_config($1, 'uno_1_' || $2::text, true)`, emit.SignedParameter, hexOf(string(t.acme.ID))+"__1_7b7d")
		return err
	})
	if dberr.Code(err) != "42501" {
		return failf("16", "setting %s from the transaction: %v, want SQLSTATE 42501", emit.SignedParameter, err)
	}
	if err := emit.CheckRLS(t.ctx, t.db.Pool(), d.Options()); err != nil {
		return failf("16", "RLS audit in the signed mode: %v", err)
	}
	t.say("16. signed identity (uno_sign_in in the BEGIN batch, policies on uno_tenant_id()): the same forgery is ignored: Globex sees %d of Acme's customers and still its own %d; setting %s from SQL fails with SQLSTATE %s; the RLS audit passes",
		leaked, own, emit.SignedParameter, dberr.Code(err))
	return nil
}

// secret is the demo's signed-identity secret, made once.
func (t *tour) secret() []byte {
	if t.identitySecret == nil {
		t.identitySecret = identity.NewSecret()
	}
	return t.identitySecret
}

func hexOf(s string) string { return fmt.Sprintf("%x", s) }

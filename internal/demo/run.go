package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/cli"
	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgcluster"
	"github.com/uno-db/uno/internal/progress"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// CustomerV2 is Customer after a change: a phone column, added by a
// migration in step 14.
type CustomerV2 struct {
	uno.Model `uno:"table:customer" doc:"People who buy."`
	model.ULIDKey
	model.RecordStatus
	model.UserAudit
	model.Tenant
	Name  types.String255 `uno:"name"`
	Email types.String255 `uno:"email,unique" doc:"Where receipts go."`
	City  *string         `uno:"city"`
	Phone *string         `uno:"phone" doc:"Added by the demo's second migration."`
}

// failf reports a step that did not behave as the demo says.
func failf(step string, format string, args ...any) error {
	return fmt.Errorf("step %s: %s", step, fmt.Sprintf(format, args...))
}

// Run is `uno demo`: it walks through uno on a throwaway database and fails
// if any step does not behave as it says.
func Run(ctx context.Context, out io.Writer) (err error) {
	start := time.Now()
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	server, cleanupServer, err := demoServer(ctx, say)
	if err != nil {
		return err
	}
	defer cleanupServer()

	// 1. Roles and database, with the same code as `uno db create`.
	dbName := "uno_demo_" + strconv.Itoa(os.Getpid())
	target := server
	target.Database = dbName
	target.Roles = config.DefaultRoles(dbName)
	u := url.URL{Scheme: "postgres", User: url.User(target.User), Host: net.JoinHostPort(target.Host, strconv.Itoa(target.Port)),
		Path: "/" + dbName, RawQuery: "sslmode=" + url.QueryEscape(target.SSLMode)}
	if server.Password != "" {
		u.User = url.UserPassword(target.User, server.Password.Reveal())
	}
	dsn := u.String()
	env := func(app *cli.App, args ...string) error {
		app.Stdout, app.Stderr = indent{out}, indent{out}
		if code := app.Main(ctx, append([]string{"--url", dsn}, args...)); code != cli.ExitOK {
			return fmt.Errorf("uno %s: exit %d", strings.Join(args, " "), code)
		}
		return nil
	}
	app := &cli.App{Models: Models()}
	say("1. uno db create: roles %s, %s, %s, %s, %s and database %s", target.Roles.Login, target.Roles.Reader,
		target.Roles.Writer, target.Roles.Admin, target.Roles.Base, dbName)
	if err := env(app, "db", "create"); err != nil {
		return err
	}
	defer func() {
		if derr := env(&cli.App{}, "db", "drop", "--yes"); derr != nil && err == nil {
			err = derr
		}
	}()

	// 2. The schema, as a migration generated from the models.
	dir, err := os.MkdirTemp("", "uno-demo-migrations")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	say("2. uno migrate new init && uno migrate up: the demo models' tables, triggers, grants and policies")
	if err := env(app, "migrate", "new", "init", "--dir", dir); err != nil {
		return err
	}
	if err := env(app, "migrate", "up", "--dir", dir); err != nil {
		return err
	}

	// 3. The factory: one pool per server, database and login role.
	factory, err := engine.NewFactory(engine.Options{})
	if err != nil {
		return err
	}
	defer factory.Close(context.Background())
	login := target
	login.User, login.Password = target.Roles.Login, ""
	if pw := os.Getenv("UNO_LOGIN_PASSWORD"); pw != "" {
		login.Password = config.Secret(pw)
	}
	db, err := factory.Open(ctx, login)
	if err != nil {
		return err
	}
	if again, err := factory.Open(ctx, login); err != nil || again != db {
		return failf("3", "the factory did not hand back the cached pool (%v)", err)
	}
	reg := model.NewRegistry()
	if err := reg.Register(Models()...); err != nil {
		return err
	}
	say("3. connected as %s through the DatabaseFactory (asking again returns the same pool)", login.User)

	// Tenants and their users: the tenant table has no tenant column.
	tenants, err := repo.New[Tenant](db, reg, repo.Options{SwitchRoles: true})
	if err != nil {
		return err
	}
	acme, globex := Tenant{Name: "Acme"}, Tenant{Name: "Globex"}
	for _, t := range []*Tenant{&acme, &globex} {
		if err := tenants.Create(ctx, t); err != nil {
			return err
		}
	}
	asTenant := func(t Tenant, userID string) repo.Options {
		return repo.Options{SwitchRoles: true, Identity: engine.Identity{TenantID: string(t.ID), UserID: userID}}
	}
	ada := User{Email: "ada@acme.test", Name: "Ada"}
	ada.TenantID = acme.ID
	users, err := repo.New[User](db, reg, asTenant(acme, ""))
	if err != nil {
		return err
	}
	if err := users.Create(ctx, &ada); err != nil {
		return err
	}
	customers, err := repo.New[Customer](db, reg, asTenant(acme, string(ada.ID)))
	if err != nil {
		return err
	}

	// 4. CRUD.
	c := Customer{Name: "Grace Hopper", Email: "grace@navy.test"}
	c.TenantID = acme.ID
	if err := customers.Create(ctx, &c); err != nil {
		return err
	}
	if len(c.ID) != 26 || c.CreatedAt.IsZero() || !c.IsActive {
		return failf("4", "create did not fill the generated columns: %+v", c)
	}
	got, err := customers.Get(ctx, c.ID)
	if err != nil || got.Email != c.Email {
		return failf("4", "get by id: %v", err)
	}
	got.Name = "Rear Admiral Grace Hopper"
	if err := customers.Update(ctx, got, "name"); err != nil {
		return err
	}
	say("4. CRUD: created customer %s (ULID from generate_ulid(), created_at %s), read it back, renamed it to %q",
		c.ID, c.CreatedAt.Format(time.RFC3339), got.Name)

	// 5. Audit columns, filled by the trigger from rls_var.user_id.
	if got.CreatedByID == nil || *got.CreatedByID != ada.ID {
		return failf("5", "created_by_id = %v, want %s", got.CreatedByID, ada.ID)
	}
	again, err := customers.Get(ctx, c.ID)
	if err != nil || again.ModifiedByID == nil || *again.ModifiedByID != ada.ID || !again.ModifiedAt.After(c.CreatedAt) {
		return failf("5", "after update: modified_by_id %v, modified_at %v (%v)", again.ModifiedByID, again.ModifiedAt, err)
	}
	say("5. audit columns: created_by_id and modified_by_id = %s (the acting user), modified_at advanced", ada.ID)

	// 6. Create-or-get on the natural key (tenant_id, email).
	dup := Customer{Name: "Someone else", Email: "grace@navy.test"}
	dup.TenantID = acme.ID
	created, err := customers.CreateOrGet(ctx, &dup, "tenant_id", "email")
	if err != nil || created || dup.ID != c.ID {
		return failf("6", "create-or-get: created=%v id=%s (%v)", created, dup.ID, err)
	}
	say("6. create-or-get with an existing email: created=false, returned the existing row %s", dup.ID)

	// 7. Get by natural key; a unique violation names its constraint and fields.
	byEmail, err := customers.GetBy(ctx, repo.Eq{"email": "grace@navy.test"})
	if err != nil || byEmail.ID != c.ID {
		return failf("7", "get by email: %v", err)
	}
	clash := Customer{Name: "Clash", Email: "grace@navy.test"}
	clash.TenantID = acme.ID
	err = customers.Create(ctx, &clash)
	var ce *repo.ConstraintError
	if !errors.Is(err, dberr.ErrUniqueViolation) || !errors.As(err, &ce) {
		return failf("7", "duplicate email: want a unique violation, got %v", err)
	}
	say("7. get by email found %s; a duplicate email is refused: constraint %s on fields %v", byEmail.ID, ce.Constraint, ce.Fields)

	// 8. Filters with uno's lookups, from a query string.
	for _, n := range []string{"Alan Turing", "Ada Lovelace", "Barbara Liskov", "Edsger Dijkstra"} {
		x := Customer{Name: types.String255(n), Email: types.String255(strings.ToLower(strings.Fields(n)[1]) + "@example.test")}
		x.TenantID = acme.ID
		if err := customers.Create(ctx, &x); err != nil {
			return err
		}
	}
	f, err := customers.ParseQuery("name__i_contains=a&email__ends_with=example.test&order_by=-name&limit=2")
	if err != nil {
		return err
	}
	page, err := customers.Filter(ctx, f)
	if err != nil || len(page) != 2 || page[0].Name != "Edsger Dijkstra" {
		return failf("8", "filter: %d rows (%v)", len(page), err)
	}
	total, err := customers.Count(ctx, f)
	if err != nil || total != 4 {
		return failf("8", "count %d (%v)", total, err)
	}
	if _, err := customers.ParseQuery("name__gt=x&price__bogus=1"); err == nil {
		return failf("8", "a bad query was accepted")
	} else {
		say("8. filter name__i_contains=a&email__ends_with=example.test&order_by=-name&limit=2: %s, %s (of %d); a bad query is a 400: %v",
			page[0].Name, page[1].Name, total, err)
	}

	// 9. Merge: one round trip, an outcome per row.
	products, err := repo.New[Product](db, reg, asTenant(acme, string(ada.ID)))
	if err != nil {
		return err
	}
	mk := func(sku, name, price string) Product {
		p := Product{SKU: types.String64(sku), Name: types.String255(name), Price: types.Decimal(price)}
		p.TenantID = acme.ID
		return p
	}
	if _, err := products.Merge(ctx, []Product{mk("P-1", "Pencil", "1.50"), mk("P-2", "Pen", "3.00")},
		repo.MergeOptions{On: []string{"tenant_id", "sku"}, Columns: []string{"name", "price"}}); err != nil {
		return err
	}
	res, err := products.Merge(ctx, []Product{mk("P-1", "Pencil", "1.50"), mk("P-2", "Pen", "3.25"), mk("P-3", "Paper", "0.10")},
		repo.MergeOptions{On: []string{"tenant_id", "sku"}, Columns: []string{"name", "price"}})
	if err != nil || res.Inserted != 1 || res.Updated != 1 || res.Unchanged != 1 {
		return failf("9", "merge: %+v (%v)", res, err)
	}
	say("9. merge of P-1 (same), P-2 (new price), P-3 (new): %v, %v, %v", res.Outcomes[0], res.Outcomes[1], res.Outcomes[2])

	// 10. Bulk load with COPY, with progress.
	const bulk, chunk = 20000, 2000
	bar := progress.New(indent{out}, "COPY product", bulk)
	rows := make([]Product, 0, chunk)
	for i := 0; i < bulk; i += chunk {
		rows = rows[:0]
		for j := i; j < i+chunk; j++ {
			rows = append(rows, mk(fmt.Sprintf("B-%05d", j), "Bulk item "+strconv.Itoa(j), "9.99"))
		}
		res, err := products.MergeCopy(ctx, rows, repo.MergeOptions{On: []string{"tenant_id", "sku"}})
		if err != nil {
			return err
		}
		bar.Add(int64(res.Inserted))
	}
	bar.Finish()
	if n, err := products.Count(ctx, repo.Filter{Where: []repo.Cond{{Field: "sku", Lookup: repo.LookupStartsWith, Value: "B-"}}}); err != nil || n != bulk {
		return failf("10", "%d bulk rows (%v)", n, err)
	}
	say("10. COPY loaded %d products", bulk)

	// 11. A transaction that fails leaves nothing behind.
	before, err := customers.Count(ctx, repo.Filter{})
	if err != nil {
		return err
	}
	boom := errors.New("payment declined")
	err = db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{TenantID: string(acme.ID), UserID: string(ada.ID)}},
		func(ctx context.Context, tx *engine.Tx) error {
			x := Customer{Name: "Temporary", Email: "temp@example.test"}
			x.TenantID = acme.ID
			if err := customers.Create(ctx, &x); err != nil {
				return err
			}
			return boom
		})
	after, cerr := customers.Count(ctx, repo.Filter{})
	if !errors.Is(err, boom) || cerr != nil || after != before {
		return failf("11", "rolled-back transaction: %v; %d customers before, %d after (%v)", err, before, after, cerr)
	}
	say("11. a transaction that created a customer and then failed (%v) rolled back: still %d customers", boom, after)

	// 12. The reader role may not write.
	err = db.WithTx(ctx, engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{TenantID: string(acme.ID)}},
		func(ctx context.Context, tx *engine.Tx) error {
			x := Customer{Name: "Sneaky", Email: "sneaky@example.test"}
			x.TenantID = acme.ID
			return customers.Create(ctx, &x)
		})
	if !errors.Is(err, dberr.ErrPermissionDenied) {
		return failf("12", "reader write: want permission denied, got %v", err)
	}
	say("12. an INSERT as %s is refused: SQLSTATE %s", target.Roles.Reader, dberr.Code(err))

	// 13. Tenant isolation under row-level security.
	globexCustomers, err := repo.New[Customer](db, reg, asTenant(globex, ""))
	if err != nil {
		return err
	}
	g := Customer{Name: "Hank Scorpio", Email: "hank@globex.test"}
	g.TenantID = globex.ID
	if err := globexCustomers.Create(ctx, &g); err != nil {
		return err
	}
	seen, err := globexCustomers.Count(ctx, repo.Filter{})
	if err != nil || seen != 1 {
		return failf("13", "globex sees %d customers (%v)", seen, err)
	}
	if _, err := globexCustomers.Get(ctx, c.ID); !errors.Is(err, dberr.ErrNotFound) {
		return failf("13", "globex read acme's customer: %v", err)
	}
	steal := *got
	steal.Name = "stolen"
	if err := globexCustomers.Update(ctx, &steal, "name"); !errors.Is(err, dberr.ErrNotFound) {
		return failf("13", "globex updated acme's customer: %v", err)
	}
	if err := globexCustomers.Delete(ctx, &steal); !errors.Is(err, dberr.ErrNotFound) {
		return failf("13", "globex deleted acme's customer: %v", err)
	}
	planted := Customer{Name: "Planted", Email: "planted@acme.test"}
	planted.TenantID = acme.ID // Globex's session writing into Acme
	if err := globexCustomers.Create(ctx, &planted); !errors.Is(err, dberr.ErrPermissionDenied) {
		return failf("13", "globex inserted a row for acme: %v", err)
	}
	nobody, err := repo.New[Customer](db, reg, repo.Options{SwitchRoles: true})
	if err != nil {
		return err
	}
	if n, err := nobody.Count(ctx, repo.Filter{}); err != nil || n != 0 {
		return failf("13", "no tenant set: saw %d customers (%v)", n, err)
	}
	super, err := repo.New[Customer](db, reg, repo.Options{SwitchRoles: true, Identity: engine.Identity{Superuser: true}})
	if err != nil {
		return err
	}
	all, err := super.Count(ctx, repo.Filter{})
	if err != nil || all != before+1 {
		return failf("13", "superuser saw %d customers, want %d (%v)", all, before+1, err)
	}
	if err := emit.CheckRLS(ctx, db.Pool(), emit.Options{Roles: target.Roles}); err != nil {
		return failf("13", "RLS audit: %v", err)
	}
	say("13. row-level security: Globex sees 1 customer and cannot read, update, delete or insert Acme's rows; no tenant set sees 0; the superuser setting sees %d; the RLS audit passes", all)

	// 14. Soft delete.
	if err := customers.Delete(ctx, got); err != nil {
		return err
	}
	if _, err := customers.Get(ctx, c.ID); !errors.Is(err, dberr.ErrNotFound) {
		return failf("14", "soft-deleted row still read: %v", err)
	}
	kept, err := customers.WithDeleted().Get(ctx, c.ID)
	if err != nil || !kept.IsDeleted || kept.DeletedAt == nil {
		return failf("14", "soft-deleted row: %+v (%v)", kept, err)
	}
	say("14. soft delete: %s is gone from reads but kept with is_deleted=true, deleted_at=%s", c.ID, kept.DeletedAt.Format(time.RFC3339))

	// 15. A migration adding a column, from a changed model.
	v2 := &cli.App{Models: []any{Tenant{}, User{}, CustomerV2{}, Product{}, Order{}, OrderLine{}}}
	say("15. the Customer model gains a Phone field: uno migrate diff")
	if err := env(v2, "migrate", "diff"); err != nil {
		return err
	}
	if err := env(v2, "migrate", "new", "add_phone", "--dir", dir); err != nil {
		return err
	}
	if err := env(v2, "migrate", "up", "--dir", dir); err != nil {
		return err
	}
	if err := env(v2, "migrate", "diff", "--check"); err != nil {
		return failf("15", "drift after the migration: %v", err)
	}
	reg2 := model.NewRegistry()
	if err := reg2.Register(v2.Models...); err != nil {
		return err
	}
	customers2, err := repo.New[CustomerV2](db, reg2, asTenant(globex, ""))
	if err != nil {
		return err
	}
	phone := "+1 555 0100"
	g2, err := customers2.Get(ctx, g.ID)
	if err != nil {
		return err
	}
	g2.Phone = &phone
	if err := customers2.Update(ctx, g2, "phone"); err != nil {
		return failf("15", "write the new column: %v", err)
	}
	say("15. migrated: customer.phone exists, no drift left, and %s's phone is %s", g2.Name, phone)

	st := db.Stat()
	say("pool: %d connections open (max %d), %d borrows; demo finished in %v",
		st.TotalConns(), st.MaxConns(), st.AcquireCount(), time.Since(start).Round(time.Millisecond))
	return nil
}

// indent prefixes every line written by the CLI inside the demo.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	s := strings.TrimRight(string(p), "\n")
	if s == "" {
		return len(p), nil
	}
	_, err := io.WriteString(i.w, "     "+strings.ReplaceAll(s, "\n", "\n     ")+"\n")
	return len(p), err
}

// demoServer returns a superuser config: from DATABASE_URL or the PG*
// variables when given, else from a throwaway cluster it starts.
func demoServer(ctx context.Context, say func(string, ...any)) (config.Config, func(), error) {
	if os.Getenv("DATABASE_URL") != "" || os.Getenv("PGHOST") != "" {
		cfg, err := config.FromEnv()
		if err != nil {
			return config.Config{}, nil, err
		}
		say("0. using the server in DATABASE_URL/PG*: %s", cfg)
		return cfg, func() {}, nil
	}
	say("0. no DATABASE_URL: starting a throwaway PostgreSQL from the local binaries")
	c, err := pgcluster.New()
	if err != nil {
		return config.Config{}, nil, err
	}
	cfg, err := config.Parse(c.URL("postgres"))
	if err != nil {
		c.Destroy()
		return config.Config{}, nil, err
	}
	if err := ctx.Err(); err != nil {
		c.Destroy()
		return config.Config{}, nil, err
	}
	return cfg, c.Destroy, nil
}

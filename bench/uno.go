package bench

import (
	"context"
	"errors"
	"sync"

	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
)

// Uno is uno's repository on uno's pool: a DatabaseFactory with default
// settings and Repository[T] without role switching for the unscoped
// workloads (one round trip per call, no BEGIN), and repositories with
// SwitchRoles and an Identity for the scoped ones (each call a transaction
// as the reader or writer role with the identity set).
type Uno struct {
	factory *engine.Factory
	db      *engine.DB
	reg     *model.Registry
	items   *repo.Repository[UnoItem]
	writes  *repo.Repository[UnoWrite]
	bulk    *repo.Repository[UnoBulk]
	upsert  repo.MergeOptions
	scoped  sync.Map // [2]string{user id, tenant id} → *unoScoped
}

// unoScoped are the repositories of one identity. The identity of a
// repository is fixed when it is made, so a service keeps one per
// identity (or makes one per request); the bench makes them once.
type unoScoped struct {
	items  *repo.Repository[UnoScoped]
	writes *repo.Repository[UnoScopedWrite]
}

// NewUno opens a factory and the three repositories.
func NewUno(ctx context.Context, e *Env) (*Uno, error) {
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		return nil, err
	}
	cfg := e.Config
	cfg.Pool.MaxConns = PoolSize
	db, err := f.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	reg, err := Registry()
	if err != nil {
		return nil, err
	}
	u := &Uno{factory: f, db: db, reg: reg, upsert: repo.MergeOptions{On: []string{"sku"}, Columns: []string{"name", "qty", "price"}}}
	if u.items, err = repo.New[UnoItem](db, reg); err != nil {
		return nil, err
	}
	if u.writes, err = repo.New[UnoWrite](db, reg); err != nil {
		return nil, err
	}
	if u.bulk, err = repo.New[UnoBulk](db, reg); err != nil {
		return nil, err
	}
	return u, nil
}

// Name implements Contender.
func (u *Uno) Name() string { return "uno" }

// InsertOne implements Contender.
func (u *Uno) InsertOne(ctx context.Context, r Row) (int64, error) {
	v := UnoWrite{SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	err := u.writes.Create(ctx, &v)
	return v.ID, err
}

func writes(rows []Row) []UnoWrite {
	out := make([]UnoWrite, len(rows))
	for i, r := range rows {
		out[i] = UnoWrite{SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	}
	return out
}

// InsertMany implements Contender.
func (u *Uno) InsertMany(ctx context.Context, rows []Row) (int, error) {
	vs := writes(rows)
	if err := u.writes.CreateMany(ctx, vs); err != nil {
		return 0, err
	}
	n := 0
	for _, v := range vs {
		if v.ID > 0 {
			n++
		}
	}
	return n, nil
}

// UpdateQty implements Contender with Patch: like the other contenders'
// updates it writes without reading the row back (Update would also fill
// the struct from RETURNING).
func (u *Uno) UpdateQty(ctx context.Context, id int64, qty int32) (int64, error) {
	v := UnoItem{ID: id, Qty: qty}
	err := u.items.Patch(ctx, &v, "qty")
	if errors.Is(err, dberr.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return 1, nil
}

// ReadOne implements Contender.
func (u *Uno) ReadOne(ctx context.Context, id int64) (Row, error) {
	v, err := u.items.Get(ctx, id)
	if err != nil {
		return Row{}, err
	}
	return Row{ID: v.ID, SKU: v.SKU, Name: v.Name, Qty: v.Qty, Price: v.Price}, nil
}

// ReadPage implements Contender.
func (u *Uno) ReadPage(ctx context.Context, afterID int64) (int, int64, error) {
	rows, err := u.items.Filter(ctx, repo.Filter{
		Where:   []repo.Cond{{Field: "id", Lookup: repo.LookupGT, Value: afterID}},
		OrderBy: []repo.Order{{Field: "id"}},
		Limit:   100,
	})
	if err != nil || len(rows) == 0 {
		return 0, 0, err
	}
	return len(rows), rows[len(rows)-1].ID, nil
}

// Filter implements Contender.
func (u *Uno) Filter(ctx context.Context, minQty int32, minPrice int64) (int, int32, error) {
	rows, err := u.items.Filter(ctx, qtyPriceFilter(minQty, minPrice))
	if err != nil || len(rows) == 0 {
		return 0, 0, err
	}
	return len(rows), rows[0].Qty, nil
}

// Upsert implements Contender.
func (u *Uno) Upsert(ctx context.Context, rows []Row) error {
	res, err := u.writes.Merge(ctx, writes(rows), u.upsert)
	if err == nil && res.Inserted+res.Updated+res.Unchanged != len(rows) {
		err = errors.New("merge outcomes do not add up")
	}
	return err
}

// PrepareBulk implements Contender.
func (u *Uno) PrepareBulk(rows []Row) any {
	vs := make([]UnoBulk, len(rows))
	for i, r := range rows {
		vs[i] = UnoBulk{SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	}
	return vs
}

// BulkLoad implements Contender.
func (u *Uno) BulkLoad(ctx context.Context, prepared any) (int64, error) {
	return u.bulk.CopyFrom(ctx, prepared.([]UnoBulk))
}

// scope returns the repositories of s's identity, made on first use.
func (u *Uno) scope(s Scope) (*unoScoped, error) {
	key := [2]string{s.UserID, s.TenantID}
	if v, ok := u.scoped.Load(key); ok {
		return v.(*unoScoped), nil
	}
	opts := repo.Options{Roles: repo.RolesSwitch, Identity: engine.Identity{UserID: s.UserID, TenantID: s.TenantID}}
	items, err := repo.New[UnoScoped](u.db, u.reg, opts)
	if err != nil {
		return nil, err
	}
	writes, err := repo.New[UnoScopedWrite](u.db, u.reg, opts)
	if err != nil {
		return nil, err
	}
	v, _ := u.scoped.LoadOrStore(key, &unoScoped{items: items, writes: writes})
	return v.(*unoScoped), nil
}

// ReadOneScoped implements Contender with Get as the reader role.
func (u *Uno) ReadOneScoped(ctx context.Context, s Scope, id int64) (Row, error) {
	sc, err := u.scope(s)
	if err != nil {
		return Row{}, err
	}
	v, err := sc.items.Get(ctx, id)
	if errors.Is(err, dberr.ErrNotFound) {
		return Row{}, ErrNotFound
	}
	if err != nil {
		return Row{}, err
	}
	return Row{ID: v.ID, SKU: v.SKU, Name: v.Name, Qty: v.Qty, Price: v.Price, TenantID: v.TenantID, CreatedBy: v.CreatedBy}, nil
}

// InsertOneScoped implements Contender with Create as the writer role.
func (u *Uno) InsertOneScoped(ctx context.Context, s Scope, r Row) (int64, error) {
	sc, err := u.scope(s)
	if err != nil {
		return 0, err
	}
	v := UnoScopedWrite{TenantID: r.TenantID, SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	err = sc.writes.Create(ctx, &v)
	return v.ID, err
}

// FilterScoped implements Contender with Filter as the reader role.
func (u *Uno) FilterScoped(ctx context.Context, s Scope, minQty int32, minPrice int64) (int, int32, int, error) {
	sc, err := u.scope(s)
	if err != nil {
		return 0, 0, 0, err
	}
	rows, err := sc.items.Filter(ctx, qtyPriceFilter(minQty, minPrice))
	if err != nil || len(rows) == 0 {
		return 0, 0, 0, err
	}
	return len(rows), rows[0].Qty, foreign(s, len(rows), func(i int) string { return rows[i].TenantID }), nil
}

// Close implements Contender.
func (u *Uno) Close() { _ = u.factory.Close(context.Background()) }

// qtyPriceFilter is the filter workload's query: qty at least minQty, price
// over minPrice, ordered by qty, one page of 25.
func qtyPriceFilter(minQty int32, minPrice int64) repo.Filter {
	return repo.Filter{
		Where: []repo.Cond{
			{Field: "qty", Lookup: repo.LookupGTE, Value: minQty},
			{Field: "price", Lookup: repo.LookupGT, Value: minPrice},
		},
		OrderBy: []repo.Order{{Field: "qty"}},
		Limit:   25,
	}
}

package bench

import (
	"context"
	"database/sql"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/uno-db/uno/bench/ent"
	"github.com/uno-db/uno/bench/ent/item"
	"github.com/uno-db/uno/bench/ent/scoped"
	"github.com/uno-db/uno/bench/ent/write"
)

// Ent is ent's generated client (bench/ent, from bench/ent/schema) over
// pgx's database/sql driver in its default mode (extended protocol with
// the statement cache: ent sends $n parameters, so each statement text is
// prepared once per connection), a pool of PoolSize connections.
type Ent struct {
	client *ent.Client
	db     *sql.DB
}

// NewEnt opens ent.
func NewEnt(ctx context.Context, e *Env) (*Ent, error) {
	sqlDB := stdlib.OpenDB(*mustConnConfig(e))
	sqlDB.SetMaxOpenConns(PoolSize)
	sqlDB.SetMaxIdleConns(PoolSize)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return &Ent{client: ent.NewClient(ent.Driver(entsql.OpenDB(dialect.Postgres, sqlDB))), db: sqlDB}, nil
}

// Name implements Contender.
func (x *Ent) Name() string { return "ent" }

// InsertOne implements Contender.
func (x *Ent) InsertOne(ctx context.Context, r Row) (int64, error) {
	v, err := x.client.Write.Create().SetSku(r.SKU).SetName(r.Name).SetQty(r.Qty).SetPrice(r.Price).Save(ctx)
	if err != nil {
		return 0, err
	}
	return v.ID, nil
}

func (x *Ent) writeBuilders(rows []Row) []*ent.WriteCreate {
	bs := make([]*ent.WriteCreate, len(rows))
	for i, r := range rows {
		bs[i] = x.client.Write.Create().SetSku(r.SKU).SetName(r.Name).SetQty(r.Qty).SetPrice(r.Price)
	}
	return bs
}

// InsertMany implements Contender.
func (x *Ent) InsertMany(ctx context.Context, rows []Row) (int, error) {
	vs, err := x.client.Write.CreateBulk(x.writeBuilders(rows)...).Save(ctx)
	if err != nil {
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

// UpdateQty implements Contender with an update by predicate, which
// reports the rows changed without reading the row back.
func (x *Ent) UpdateQty(ctx context.Context, id int64, qty int32) (int64, error) {
	n, err := x.client.Item.Update().Where(item.ID(id)).SetQty(qty).Save(ctx)
	return int64(n), err
}

// ReadOne implements Contender.
func (x *Ent) ReadOne(ctx context.Context, id int64) (Row, error) {
	v, err := x.client.Item.Get(ctx, id)
	if ent.IsNotFound(err) {
		return Row{}, ErrNotFound
	}
	if err != nil {
		return Row{}, err
	}
	return Row{ID: v.ID, SKU: v.Sku, Name: v.Name, Qty: v.Qty, Price: v.Price}, nil
}

// ReadPage implements Contender.
func (x *Ent) ReadPage(ctx context.Context, afterID int64) (int, int64, error) {
	vs, err := x.client.Item.Query().Where(item.IDGT(afterID)).Order(item.ByID()).Limit(100).All(ctx)
	if err != nil || len(vs) == 0 {
		return 0, 0, err
	}
	return len(vs), vs[len(vs)-1].ID, nil
}

// Filter implements Contender.
func (x *Ent) Filter(ctx context.Context, minQty int32, minPrice int64) (int, int32, error) {
	vs, err := x.client.Item.Query().Where(item.QtyGTE(minQty), item.PriceGT(minPrice)).Order(item.ByQty()).Limit(25).All(ctx)
	if err != nil || len(vs) == 0 {
		return 0, 0, err
	}
	return len(vs), vs[0].Qty, nil
}

// Upsert implements Contender with ent's upsert (feature sql/upsert).
func (x *Ent) Upsert(ctx context.Context, rows []Row) error {
	return x.client.Write.CreateBulk(x.writeBuilders(rows)...).
		OnConflictColumns(write.FieldSku).
		Update(func(u *ent.WriteUpsert) { u.UpdateName().UpdateQty().UpdatePrice() }).
		Exec(ctx)
}

// PrepareBulk implements Contender.
func (x *Ent) PrepareBulk(rows []Row) any { return rows }

// BulkLoad implements Contender: ent's CreateBulk in batches of 5,000
// (ent has no COPY).
func (x *Ent) BulkLoad(ctx context.Context, prepared any) (int64, error) {
	rows := prepared.([]Row)
	var total int64
	for i := 0; i < len(rows); i += 5000 {
		batch := rows[i:min(i+5000, len(rows))]
		bs := make([]*ent.BulkCreate, len(batch))
		for j, r := range batch {
			bs[j] = x.client.Bulk.Create().SetSku(r.SKU).SetName(r.Name).SetQty(r.Qty).SetPrice(r.Price)
		}
		vs, err := x.client.Bulk.CreateBulk(bs...).Save(ctx)
		if err != nil {
			return total, err
		}
		total += int64(len(vs))
	}
	return total, nil
}

// scoped runs fn in an ent transaction as s: BeginTx, set_config for the
// role and the identity (ExecContext, feature sql/execquery), fn, Commit.
func (x *Ent) scoped(ctx context.Context, s Scope, readOnly bool, fn func(tx *ent.Tx) error) error {
	tx, err := x.client.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, ScopeSettingsSQL, s.Role, s.UserID, s.TenantID); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ReadOneScoped implements Contender.
func (x *Ent) ReadOneScoped(ctx context.Context, s Scope, id int64) (Row, error) {
	var v *ent.Scoped
	err := x.scoped(ctx, s, true, func(tx *ent.Tx) (err error) {
		v, err = tx.Scoped.Get(ctx, id)
		return err
	})
	if ent.IsNotFound(err) {
		return Row{}, ErrNotFound
	}
	if err != nil {
		return Row{}, err
	}
	return Row{ID: v.ID, SKU: v.Sku, Name: v.Name, Qty: v.Qty, Price: v.Price, TenantID: v.TenantID, CreatedBy: v.CreatedBy}, nil
}

// InsertOneScoped implements Contender.
func (x *Ent) InsertOneScoped(ctx context.Context, s Scope, r Row) (int64, error) {
	var id int64
	err := x.scoped(ctx, s, false, func(tx *ent.Tx) error {
		v, err := tx.ScopedWrite.Create().SetTenantID(r.TenantID).SetSku(r.SKU).SetName(r.Name).SetQty(r.Qty).SetPrice(r.Price).Save(ctx)
		if err == nil {
			id = v.ID
		}
		return err
	})
	return id, err
}

// FilterScoped implements Contender.
func (x *Ent) FilterScoped(ctx context.Context, s Scope, minQty int32, minPrice int64) (int, int32, int, error) {
	var vs []*ent.Scoped
	err := x.scoped(ctx, s, true, func(tx *ent.Tx) (err error) {
		vs, err = tx.Scoped.Query().Where(scoped.QtyGTE(minQty), scoped.PriceGT(minPrice)).Order(scoped.ByQty()).Limit(25).All(ctx)
		return err
	})
	if err != nil || len(vs) == 0 {
		return 0, 0, 0, err
	}
	return len(vs), vs[0].Qty, foreign(s, len(vs), func(i int) string { return vs[i].TenantID }), nil
}

// Close implements Contender.
func (x *Ent) Close() { _ = x.client.Close() }

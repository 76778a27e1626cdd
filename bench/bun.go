package bench

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

type bunItem struct {
	bun.BaseModel `bun:"table:bench_item,alias:i"`
	ID            int64     `bun:"id,pk,autoincrement"`
	SKU           string    `bun:"sku"`
	Name          string    `bun:"name"`
	Qty           int32     `bun:"qty"`
	Price         int64     `bun:"price"`
	CreatedAt     time.Time `bun:"created_at,nullzero,notnull,default:now()"`
}

type bunWrite struct {
	bun.BaseModel `bun:"table:bench_write,alias:w"`
	ID            int64     `bun:"id,pk,autoincrement"`
	SKU           string    `bun:"sku"`
	Name          string    `bun:"name"`
	Qty           int32     `bun:"qty"`
	Price         int64     `bun:"price"`
	CreatedAt     time.Time `bun:"created_at,nullzero,notnull,default:now()"`
}

type bunBulk struct {
	bun.BaseModel `bun:"table:bench_bulk,alias:b"`
	ID            int64     `bun:"id,pk,autoincrement"`
	SKU           string    `bun:"sku"`
	Name          string    `bun:"name"`
	Qty           int32     `bun:"qty"`
	Price         int64     `bun:"price"`
	CreatedAt     time.Time `bun:"created_at,nullzero,notnull,default:now()"`
}

// bunScoped is bench_scoped; created_by is filled by the database from
// the transaction's user id, so bun only scans it.
type bunScoped struct {
	bun.BaseModel `bun:"table:bench_scoped,alias:s"`
	ID            int64     `bun:"id,pk,autoincrement"`
	TenantID      string    `bun:"tenant_id"`
	SKU           string    `bun:"sku"`
	Name          string    `bun:"name"`
	Qty           int32     `bun:"qty"`
	Price         int64     `bun:"price"`
	CreatedBy     string    `bun:"created_by,scanonly"`
	CreatedAt     time.Time `bun:"created_at,nullzero,notnull,default:now()"`
}

// bunScopedWrite is bench_scoped_write.
type bunScopedWrite struct {
	bun.BaseModel `bun:"table:bench_scoped_write,alias:sw"`
	ID            int64     `bun:"id,pk,autoincrement"`
	TenantID      string    `bun:"tenant_id"`
	SKU           string    `bun:"sku"`
	Name          string    `bun:"name"`
	Qty           int32     `bun:"qty"`
	Price         int64     `bun:"price"`
	CreatedBy     string    `bun:"created_by,scanonly"`
	CreatedAt     time.Time `bun:"created_at,nullzero,notnull,default:now()"`
}

// Bun is bun with its PostgreSQL dialect on pgx's database/sql driver in
// the simple protocol, as bun's PostgreSQL page shows for pgx: bun writes
// the arguments into the SQL text itself, so each call is one Query
// message (in pgx's default statement-cache mode every distinct text would
// be prepared, used once and evicted). Pool of PoolSize connections, idle
// connections kept (bun's "Running Bun in production").
type Bun struct {
	db *bun.DB
}

func mustConnConfig(e *Env) *pgx.ConnConfig {
	cc, err := e.Config.ConnConfig()
	if err != nil {
		panic(err)
	}
	return cc
}

// NewBun opens bun.
func NewBun(ctx context.Context, e *Env) (*Bun, error) {
	cc := mustConnConfig(e)
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	sqlDB := stdlib.OpenDB(*cc)
	sqlDB.SetMaxOpenConns(PoolSize)
	sqlDB.SetMaxIdleConns(PoolSize)
	return &Bun{db: bun.NewDB(sqlDB, pgdialect.New())}, sqlDB.PingContext(ctx)
}

// Name implements Contender.
func (b *Bun) Name() string { return "bun" }

// InsertOne implements Contender.
func (b *Bun) InsertOne(ctx context.Context, r Row) (int64, error) {
	v := bunWrite{SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	_, err := b.db.NewInsert().Model(&v).Returning("id").Exec(ctx)
	return v.ID, err
}

// InsertMany implements Contender.
func (b *Bun) InsertMany(ctx context.Context, rows []Row) (int, error) {
	vs := make([]bunWrite, len(rows))
	for i, r := range rows {
		vs[i] = bunWrite{SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	}
	if _, err := b.db.NewInsert().Model(&vs).Returning("id").Exec(ctx); err != nil {
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

// UpdateQty implements Contender.
func (b *Bun) UpdateQty(ctx context.Context, id int64, qty int32) (int64, error) {
	res, err := b.db.NewUpdate().Model((*bunItem)(nil)).Set("qty = ?", qty).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ReadOne implements Contender.
func (b *Bun) ReadOne(ctx context.Context, id int64) (Row, error) {
	var v bunItem
	if err := b.db.NewSelect().Model(&v).Where("id = ?", id).Scan(ctx); err != nil {
		return Row{}, err
	}
	return Row{ID: v.ID, SKU: v.SKU, Name: v.Name, Qty: v.Qty, Price: v.Price}, nil
}

// ReadPage implements Contender.
func (b *Bun) ReadPage(ctx context.Context, afterID int64) (int, int64, error) {
	var vs []bunItem
	if err := b.db.NewSelect().Model(&vs).Where("id > ?", afterID).Order("id").Limit(100).Scan(ctx); err != nil || len(vs) == 0 {
		return 0, 0, err
	}
	return len(vs), vs[len(vs)-1].ID, nil
}

// Filter implements Contender.
func (b *Bun) Filter(ctx context.Context, minQty int32, minPrice int64) (int, int32, error) {
	var vs []bunItem
	if err := b.db.NewSelect().Model(&vs).Where("qty >= ?", minQty).Where("price > ?", minPrice).Order("qty").Limit(25).Scan(ctx); err != nil || len(vs) == 0 {
		return 0, 0, err
	}
	return len(vs), vs[0].Qty, nil
}

// Upsert implements Contender.
func (b *Bun) Upsert(ctx context.Context, rows []Row) error {
	vs := make([]bunWrite, len(rows))
	for i, r := range rows {
		vs[i] = bunWrite{SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	}
	_, err := b.db.NewInsert().Model(&vs).
		On("CONFLICT (sku) DO UPDATE").
		Set("name = EXCLUDED.name, qty = EXCLUDED.qty, price = EXCLUDED.price").
		Exec(ctx)
	return err
}

// PrepareBulk implements Contender.
func (b *Bun) PrepareBulk(rows []Row) any {
	vs := make([]bunBulk, len(rows))
	for i, r := range rows {
		vs[i] = bunBulk{SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	}
	return vs
}

// BulkLoad implements Contender: bun's multi-row INSERT in batches. bun
// writes the generated ids back, so each load gets a fresh copy.
func (b *Bun) BulkLoad(ctx context.Context, prepared any) (int64, error) {
	vs := append([]bunBulk(nil), prepared.([]bunBulk)...)
	for i := range vs {
		vs[i].ID = 0
	}
	var total int64
	for i := 0; i < len(vs); i += 5000 {
		batch := vs[i:min(i+5000, len(vs))]
		res, err := b.db.NewInsert().Model(&batch).Exec(ctx)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// scoped runs fn in bun's RunInTx as s: set_config for the role and the
// identity, then fn.
func (b *Bun) scoped(ctx context.Context, s Scope, readOnly bool, fn func(ctx context.Context, tx bun.Tx) error) error {
	return b.db.RunInTx(ctx, &sql.TxOptions{ReadOnly: readOnly}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, ScopeSettingsSQLQ, s.Role, s.UserID, s.TenantID); err != nil {
			return err
		}
		return fn(ctx, tx)
	})
}

// ReadOneScoped implements Contender.
func (b *Bun) ReadOneScoped(ctx context.Context, s Scope, id int64) (Row, error) {
	var v bunScoped
	err := b.scoped(ctx, s, true, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewSelect().Model(&v).Where("id = ?", id).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Row{}, ErrNotFound
	}
	if err != nil {
		return Row{}, err
	}
	return Row{ID: v.ID, SKU: v.SKU, Name: v.Name, Qty: v.Qty, Price: v.Price, TenantID: v.TenantID, CreatedBy: v.CreatedBy}, nil
}

// InsertOneScoped implements Contender.
func (b *Bun) InsertOneScoped(ctx context.Context, s Scope, r Row) (int64, error) {
	v := bunScopedWrite{TenantID: r.TenantID, SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	err := b.scoped(ctx, s, false, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(&v).Returning("id").Exec(ctx)
		return err
	})
	return v.ID, err
}

// FilterScoped implements Contender.
func (b *Bun) FilterScoped(ctx context.Context, s Scope, minQty int32, minPrice int64) (int, int32, int, error) {
	var vs []bunScoped
	err := b.scoped(ctx, s, true, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewSelect().Model(&vs).Where("qty >= ?", minQty).Where("price > ?", minPrice).Order("qty").Limit(25).Scan(ctx)
	})
	if err != nil || len(vs) == 0 {
		return 0, 0, 0, err
	}
	return len(vs), vs[0].Qty, foreign(s, len(vs), func(i int) string { return vs[i].TenantID }), nil
}

// Close implements Contender.
func (b *Bun) Close() { _ = b.db.Close() }

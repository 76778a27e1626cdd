package bench

import (
	"context"
	"database/sql"
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

// Bun is bun with its PostgreSQL dialect on pgx's database/sql driver, a
// pool of PoolSize connections.
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
	var sqlDB *sql.DB = stdlib.OpenDB(*mustConnConfig(e))
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

// Close implements Contender.
func (b *Bun) Close() { _ = b.db.Close() }

package bench

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

type gormItem struct {
	ID        int64 `gorm:"primaryKey"`
	SKU       string
	Name      string
	Qty       int32
	Price     int64
	CreatedAt time.Time `gorm:"default:now()"`
}

func (gormItem) TableName() string { return "bench_item" }

type gormWrite gormItem

func (gormWrite) TableName() string { return "bench_write" }

type gormBulk gormItem

func (gormBulk) TableName() string { return "bench_bulk" }

// gormScoped is bench_scoped and, as gormScopedWrite, bench_scoped_write.
// created_by is read-only here (the database fills it from the
// transaction's user id).
type gormScoped struct {
	ID        int64 `gorm:"primaryKey"`
	TenantID  string
	SKU       string
	Name      string
	Qty       int32
	Price     int64
	CreatedBy string    `gorm:"->"`
	CreatedAt time.Time `gorm:"default:now()"`
}

func (gormScoped) TableName() string { return "bench_scoped" }

type gormScopedWrite gormScoped

func (gormScopedWrite) TableName() string { return "bench_scoped_write" }

// ScopeSettingsSQLQ is ScopeSettingsSQL with ? placeholders, for GORM and
// bun.
const ScopeSettingsSQLQ = "SELECT set_config('role', ?, true), set_config('rls_var.user_id', ?, true), set_config('rls_var.tenant_id', ?, true)"

// Gorm is GORM with its PostgreSQL driver (on pgx), in the settings its
// performance guide recommends: SkipDefaultTransaction, PrepareStmt, and a
// silent logger.
type Gorm struct {
	db *gorm.DB
}

// NewGorm opens GORM on a pgx-backed database/sql pool of PoolSize.
func NewGorm(ctx context.Context, e *Env) (*Gorm, error) {
	sqlDB := stdlib.OpenDB(*mustConnConfig(e))
	sqlDB.SetMaxOpenConns(PoolSize)
	sqlDB.SetMaxIdleConns(PoolSize)
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{
		SkipDefaultTransaction: true,
		PrepareStmt:            true,
		Logger:                 logger.Discard,
	})
	if err != nil {
		return nil, err
	}
	return &Gorm{db: db.WithContext(ctx)}, nil
}

// Name implements Contender.
func (g *Gorm) Name() string { return "gorm" }

// InsertOne implements Contender.
func (g *Gorm) InsertOne(ctx context.Context, r Row) (int64, error) {
	v := gormWrite{SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	err := g.db.WithContext(ctx).Create(&v).Error
	return v.ID, err
}

// InsertMany implements Contender.
func (g *Gorm) InsertMany(ctx context.Context, rows []Row) (int, error) {
	vs := make([]gormWrite, len(rows))
	for i, r := range rows {
		vs[i] = gormWrite{SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	}
	if err := g.db.WithContext(ctx).Create(&vs).Error; err != nil {
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
func (g *Gorm) UpdateQty(ctx context.Context, id int64, qty int32) (int64, error) {
	res := g.db.WithContext(ctx).Model(&gormItem{ID: id}).Update("qty", qty)
	return res.RowsAffected, res.Error
}

// ReadOne implements Contender.
func (g *Gorm) ReadOne(ctx context.Context, id int64) (Row, error) {
	var v gormItem
	if err := g.db.WithContext(ctx).Take(&v, id).Error; err != nil {
		return Row{}, err
	}
	return Row{ID: v.ID, SKU: v.SKU, Name: v.Name, Qty: v.Qty, Price: v.Price}, nil
}

// ReadPage implements Contender.
func (g *Gorm) ReadPage(ctx context.Context, afterID int64) (int, int64, error) {
	var vs []gormItem
	if err := g.db.WithContext(ctx).Where("id > ?", afterID).Order("id").Limit(100).Find(&vs).Error; err != nil || len(vs) == 0 {
		return 0, 0, err
	}
	return len(vs), vs[len(vs)-1].ID, nil
}

// Filter implements Contender.
func (g *Gorm) Filter(ctx context.Context, minQty int32, minPrice int64) (int, int32, error) {
	var vs []gormItem
	if err := g.db.WithContext(ctx).Where("qty >= ? AND price > ?", minQty, minPrice).Order("qty").Limit(25).Find(&vs).Error; err != nil || len(vs) == 0 {
		return 0, 0, err
	}
	return len(vs), vs[0].Qty, nil
}

// Upsert implements Contender.
func (g *Gorm) Upsert(ctx context.Context, rows []Row) error {
	vs := make([]gormWrite, len(rows))
	for i, r := range rows {
		vs[i] = gormWrite{SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	}
	return g.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "sku"}},
		DoUpdates: clause.AssignmentColumns([]string{"name", "qty", "price"}),
	}).Create(&vs).Error
}

// PrepareBulk implements Contender.
func (g *Gorm) PrepareBulk(rows []Row) any {
	vs := make([]gormBulk, len(rows))
	for i, r := range rows {
		vs[i] = gormBulk{SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	}
	return vs
}

// BulkLoad implements Contender: GORM's batched multi-row INSERT. GORM
// writes the generated ids back, so each load gets a fresh copy.
func (g *Gorm) BulkLoad(ctx context.Context, prepared any) (int64, error) {
	vs := append([]gormBulk(nil), prepared.([]gormBulk)...)
	for i := range vs {
		vs[i].ID = 0
	}
	res := g.db.WithContext(ctx).CreateInBatches(&vs, 5000)
	return res.RowsAffected, res.Error
}

// scoped runs fn in a GORM transaction as s: set_config for the role
// and the identity, then fn.
func (g *Gorm) scoped(ctx context.Context, s Scope, readOnly bool, fn func(tx *gorm.DB) error) error {
	return g.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(ScopeSettingsSQLQ, s.Role, s.UserID, s.TenantID).Error; err != nil {
			return err
		}
		return fn(tx)
	}, &sql.TxOptions{ReadOnly: readOnly})
}

// ReadOneScoped implements Contender.
func (g *Gorm) ReadOneScoped(ctx context.Context, s Scope, id int64) (Row, error) {
	var v gormScoped
	err := g.scoped(ctx, s, true, func(tx *gorm.DB) error { return tx.Take(&v, id).Error })
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Row{}, ErrNotFound
	}
	if err != nil {
		return Row{}, err
	}
	return Row{ID: v.ID, SKU: v.SKU, Name: v.Name, Qty: v.Qty, Price: v.Price, TenantID: v.TenantID, CreatedBy: v.CreatedBy}, nil
}

// InsertOneScoped implements Contender.
func (g *Gorm) InsertOneScoped(ctx context.Context, s Scope, r Row) (int64, error) {
	v := gormScopedWrite{TenantID: r.TenantID, SKU: r.SKU, Name: r.Name, Qty: r.Qty, Price: r.Price}
	err := g.scoped(ctx, s, false, func(tx *gorm.DB) error { return tx.Create(&v).Error })
	return v.ID, err
}

// FilterScoped implements Contender.
func (g *Gorm) FilterScoped(ctx context.Context, s Scope, minQty int32, minPrice int64) (int, int32, int, error) {
	var vs []gormScoped
	err := g.scoped(ctx, s, true, func(tx *gorm.DB) error {
		return tx.Where("qty >= ? AND price > ?", minQty, minPrice).Order("qty").Limit(25).Find(&vs).Error
	})
	if err != nil || len(vs) == 0 {
		return 0, 0, 0, err
	}
	return len(vs), vs[0].Qty, foreign(s, len(vs), func(i int) string { return vs[i].TenantID }), nil
}

// Close implements Contender.
func (g *Gorm) Close() {
	if sqlDB, err := g.db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

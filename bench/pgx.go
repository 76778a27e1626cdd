package bench

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pgx is the floor: hand-written SQL on pgxpool with pgx's defaults
// (extended protocol, automatic statement cache).
type Pgx struct {
	pool      *pgxpool.Pool
	insert100 string
	upsert100 string
}

// NewPgx opens a pgxpool of PoolSize connections.
func NewPgx(ctx context.Context, e *Env) (*Pgx, error) {
	pc, err := e.Config.PoolConfig()
	if err != nil {
		return nil, err
	}
	pc.MaxConns = PoolSize
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	return &Pgx{pool: pool, insert100: multiInsert(100, " RETURNING id"),
		upsert100: multiInsert(100, " ON CONFLICT (sku) DO UPDATE SET name = excluded.name, qty = excluded.qty, price = excluded.price")}, nil
}

// multiInsert writes INSERT INTO bench_write … VALUES ($1,…),… for n rows.
func multiInsert(n int, tail string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO bench_write (sku, name, qty, price) VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		p := 4*i + 1
		b.WriteString("($" + strconv.Itoa(p) + ", $" + strconv.Itoa(p+1) + ", $" + strconv.Itoa(p+2) + ", $" + strconv.Itoa(p+3) + ")")
	}
	b.WriteString(tail)
	return b.String()
}

func rowArgs(rows []Row) []any {
	args := make([]any, 0, 4*len(rows))
	for _, r := range rows {
		args = append(args, r.SKU, r.Name, r.Qty, r.Price)
	}
	return args
}

// Name implements Contender.
func (p *Pgx) Name() string { return "pgx" }

// InsertOne implements Contender.
func (p *Pgx) InsertOne(ctx context.Context, r Row) (int64, error) {
	var id int64
	err := p.pool.QueryRow(ctx, "INSERT INTO bench_write (sku, name, qty, price) VALUES ($1, $2, $3, $4) RETURNING id",
		r.SKU, r.Name, r.Qty, r.Price).Scan(&id)
	return id, err
}

// InsertMany implements Contender.
func (p *Pgx) InsertMany(ctx context.Context, rows []Row) (int, error) {
	sql := p.insert100
	if len(rows) != 100 {
		sql = multiInsert(len(rows), " RETURNING id")
	}
	out, err := p.pool.Query(ctx, sql, rowArgs(rows)...)
	if err != nil {
		return 0, err
	}
	n := 0
	for out.Next() {
		n++
	}
	return n, out.Err()
}

// UpdateQty implements Contender.
func (p *Pgx) UpdateQty(ctx context.Context, id int64, qty int32) (int64, error) {
	tag, err := p.pool.Exec(ctx, "UPDATE bench_item SET qty = $1 WHERE id = $2", qty, id)
	return tag.RowsAffected(), err
}

// ReadOne implements Contender.
func (p *Pgx) ReadOne(ctx context.Context, id int64) (Row, error) {
	var r Row
	err := p.pool.QueryRow(ctx, "SELECT id, sku, name, qty, price FROM bench_item WHERE id = $1", id).
		Scan(&r.ID, &r.SKU, &r.Name, &r.Qty, &r.Price)
	return r, err
}

func (p *Pgx) collect(ctx context.Context, sql string, args ...any) ([]Row, error) {
	rows, err := p.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out := make([]Row, 0, 100)
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.ID, &r.SKU, &r.Name, &r.Qty, &r.Price); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReadPage implements Contender.
func (p *Pgx) ReadPage(ctx context.Context, afterID int64) (int, int64, error) {
	rows, err := p.collect(ctx, "SELECT id, sku, name, qty, price FROM bench_item WHERE id > $1 ORDER BY id LIMIT 100", afterID)
	if err != nil || len(rows) == 0 {
		return 0, 0, err
	}
	return len(rows), rows[len(rows)-1].ID, nil
}

// Filter implements Contender.
func (p *Pgx) Filter(ctx context.Context, minQty int32, minPrice int64) (int, int32, error) {
	rows, err := p.collect(ctx, "SELECT id, sku, name, qty, price FROM bench_item WHERE qty >= $1 AND price > $2 ORDER BY qty LIMIT 25", minQty, minPrice)
	if err != nil || len(rows) == 0 {
		return 0, 0, err
	}
	return len(rows), rows[0].Qty, nil
}

// Upsert implements Contender.
func (p *Pgx) Upsert(ctx context.Context, rows []Row) error {
	sql := p.upsert100
	if len(rows) != 100 {
		sql = multiInsert(len(rows), " ON CONFLICT (sku) DO UPDATE SET name = excluded.name, qty = excluded.qty, price = excluded.price")
	}
	_, err := p.pool.Exec(ctx, sql, rowArgs(rows)...)
	return err
}

// PrepareBulk implements Contender.
func (p *Pgx) PrepareBulk(rows []Row) any { return rows }

// BulkLoad implements Contender.
func (p *Pgx) BulkLoad(ctx context.Context, prepared any) (int64, error) {
	rows := prepared.([]Row)
	return p.pool.CopyFrom(ctx, pgx.Identifier{"bench_bulk"}, []string{"sku", "name", "qty", "price"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := rows[i]
			return []any{r.SKU, r.Name, r.Qty, r.Price}, nil
		}))
}

// scoped runs fn in a transaction as s, the way a careful pgx user writes
// it: BeginTx, set_config for the role and the identity, fn, Commit (four
// round trips).
func (p *Pgx) scoped(ctx context.Context, s Scope, readOnly bool, fn func(tx pgx.Tx) error) error {
	opts := pgx.TxOptions{}
	if readOnly {
		opts.AccessMode = pgx.ReadOnly
	}
	tx, err := p.pool.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, ScopeSettingsSQL, s.Role, s.UserID, s.TenantID); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// ReadOneScoped implements Contender.
func (p *Pgx) ReadOneScoped(ctx context.Context, s Scope, id int64) (Row, error) {
	var r Row
	err := p.scoped(ctx, s, true, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT id, sku, name, qty, price, tenant_id, created_by FROM bench_scoped WHERE id = $1", id).
			Scan(&r.ID, &r.SKU, &r.Name, &r.Qty, &r.Price, &r.TenantID, &r.CreatedBy)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Row{}, ErrNotFound
	}
	return r, err
}

// InsertOneScoped implements Contender.
func (p *Pgx) InsertOneScoped(ctx context.Context, s Scope, r Row) (int64, error) {
	var id int64
	err := p.scoped(ctx, s, false, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "INSERT INTO bench_scoped_write (tenant_id, sku, name, qty, price) VALUES ($1, $2, $3, $4, $5) RETURNING id",
			r.TenantID, r.SKU, r.Name, r.Qty, r.Price).Scan(&id)
	})
	return id, err
}

// FilterScoped implements Contender.
func (p *Pgx) FilterScoped(ctx context.Context, s Scope, minQty int32, minPrice int64) (int, int32, int, error) {
	var out []Row
	err := p.scoped(ctx, s, true, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT id, sku, name, qty, price, tenant_id, created_by FROM bench_scoped WHERE qty >= $1 AND price > $2 ORDER BY qty LIMIT 25", minQty, minPrice)
		if err != nil {
			return err
		}
		out = make([]Row, 0, 25)
		for rows.Next() {
			var r Row
			if err := rows.Scan(&r.ID, &r.SKU, &r.Name, &r.Qty, &r.Price, &r.TenantID, &r.CreatedBy); err != nil {
				rows.Close()
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil || len(out) == 0 {
		return 0, 0, 0, err
	}
	return len(out), out[0].Qty, foreign(s, len(out), func(i int) string { return out[i].TenantID }), nil
}

// foreign counts the n rows whose tenant (tenant(i)) is not s's.
func foreign(s Scope, n int, tenant func(i int) string) int {
	f := 0
	for i := 0; i < n; i++ {
		if tenant(i) != s.TenantID {
			f++
		}
	}
	return f
}

// Close implements Contender.
func (p *Pgx) Close() { p.pool.Close() }

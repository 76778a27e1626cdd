// Package bench measures uno against raw pgx, GORM and bun on the same
// workloads, tables and data, against one real PostgreSQL. It is its own Go
// module so users of uno never download GORM or bun.
//
// Each contender implements [Contender] in its recommended production
// settings (see docs/PERFORMANCE.md). A workload is one operation that also
// checks its result, so no contender can measure a no-op.
package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/internal/pgcluster"
	"github.com/uno-db/uno/model"
)

// Row is the data of one item, as every contender writes and reads it.
type Row struct {
	ID    int64
	SKU   string
	Name  string
	Qty   int32
	Price int64
}

// Contender is one way of talking to PostgreSQL.
type Contender interface {
	Name() string
	// InsertOne inserts r into bench_write and returns its generated id.
	InsertOne(ctx context.Context, r Row) (int64, error)
	// InsertMany inserts rows into bench_write in one call and returns how
	// many ids came back.
	InsertMany(ctx context.Context, rows []Row) (int, error)
	// UpdateQty sets the qty of bench_item row id and returns the rows changed.
	UpdateQty(ctx context.Context, id int64, qty int32) (int64, error)
	// ReadOne reads bench_item row id.
	ReadOne(ctx context.Context, id int64) (Row, error)
	// ReadPage reads the 100 bench_item rows after id, in id order, and
	// returns their count and the last id.
	ReadPage(ctx context.Context, afterID int64) (n int, lastID int64, err error)
	// Filter reads at most 25 bench_item rows with qty >= minQty and
	// price > minPrice, ordered by qty (indexed), and returns their count
	// and the smallest qty seen.
	Filter(ctx context.Context, minQty int32, minPrice int64) (n int, firstQty int32, err error)
	// Upsert inserts or updates rows in bench_write on sku, in one call.
	Upsert(ctx context.Context, rows []Row) error
	// PrepareBulk turns rows into the contender's own representation,
	// before the timer starts.
	PrepareBulk(rows []Row) any
	// BulkLoad loads prepared rows into bench_bulk as fast as the
	// contender can.
	BulkLoad(ctx context.Context, prepared any) (int64, error)
	Close()
}

// ItemRows is the size of the bench_item table.
const ItemRows = 100_000

// Env is the server and the data every contender works on.
type Env struct {
	Config  config.Config // superuser config of the bench database
	URL     string
	Pool    *pgxpool.Pool // for set-up and checks only
	cluster *pgcluster.Cluster
	seq     atomic.Int64
}

// Models are the uno models of the three tables; the other contenders map
// their own structs to the same tables.
type (
	// UnoItem is bench_item, the 100,000-row read table.
	UnoItem struct {
		model.BaseModel `uno:"table:bench_item"`
		ID              int64     `uno:"id,pk,identity"`
		SKU             string    `uno:"sku,unique,type:VARCHAR(64)"`
		Name            string    `uno:"name,type:VARCHAR(255)"`
		Qty             int32     `uno:"qty"`
		Price           int64     `uno:"price"`
		CreatedAt       time.Time `uno:"created_at,default:now()"`
	}
	// UnoWrite is bench_write, where inserts and upserts go.
	UnoWrite struct {
		model.BaseModel `uno:"table:bench_write"`
		ID              int64     `uno:"id,pk,identity"`
		SKU             string    `uno:"sku,unique,type:VARCHAR(64)"`
		Name            string    `uno:"name,type:VARCHAR(255)"`
		Qty             int32     `uno:"qty"`
		Price           int64     `uno:"price"`
		CreatedAt       time.Time `uno:"created_at,default:now()"`
	}
	// UnoBulk is bench_bulk, emptied before each bulk load.
	UnoBulk struct {
		model.BaseModel `uno:"table:bench_bulk"`
		ID              int64     `uno:"id,pk,identity"`
		SKU             string    `uno:"sku,type:VARCHAR(64)"`
		Name            string    `uno:"name,type:VARCHAR(255)"`
		Qty             int32     `uno:"qty"`
		Price           int64     `uno:"price"`
		CreatedAt       time.Time `uno:"created_at,default:now()"`
	}
)

// TableDef indexes qty together with the primary key: uno's filters order
// by the requested columns and then the primary key (so pages are stable),
// and an index ending with the key serves that order directly. Every
// contender uses the same index.
func (UnoItem) TableDef() model.TableDef {
	return model.TableDef{Indexes: []model.IndexDef{{Columns: []string{"qty", "id"}}}}
}

// Registry returns the registry of the bench models.
func Registry() (*model.Registry, error) {
	reg := model.NewRegistry()
	return reg, reg.Register(UnoItem{}, UnoWrite{}, UnoBulk{})
}

// NewEnv starts a throwaway cluster (or uses url when not empty), creates
// the tables from the uno models and loads bench_item.
func NewEnv(ctx context.Context, url string) (*Env, error) {
	e := &Env{}
	if url == "" {
		c, err := pgcluster.New()
		if err != nil {
			return nil, err
		}
		e.cluster = c
		url = c.URL("postgres")
	}
	cfg, err := config.Parse(url)
	if err != nil {
		e.Close()
		return nil, err
	}
	e.Config, e.URL = cfg, url
	e.Pool, err = cfg.NewPool(ctx)
	if err != nil {
		e.Close()
		return nil, err
	}
	reg, err := Registry()
	if err != nil {
		e.Close()
		return nil, err
	}
	stmts, err := emit.NewTableEmitter(reg.Tables()...).Emit()
	if err != nil {
		e.Close()
		return nil, err
	}
	if _, err := e.Pool.Exec(ctx, "DROP TABLE IF EXISTS bench_item, bench_write, bench_bulk"); err != nil {
		e.Close()
		return nil, err
	}
	if err := emit.Exec(ctx, e.Pool, stmts); err != nil {
		e.Close()
		return nil, err
	}
	r := rand.New(rand.NewPCG(1, 2))
	rows := make([][]any, ItemRows)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("item-%06d", i), "Item number " + strconv.Itoa(i), int32(r.IntN(1000)), int64(r.IntN(100_000))}
	}
	if _, err := e.Pool.CopyFrom(ctx, pgx.Identifier{"bench_item"}, []string{"sku", "name", "qty", "price"}, pgx.CopyFromRows(rows)); err != nil {
		e.Close()
		return nil, err
	}
	if _, err := e.Pool.Exec(ctx, "VACUUM ANALYZE bench_item"); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Close stops the cluster the env started.
func (e *Env) Close() {
	if e.Pool != nil {
		e.Pool.Close()
	}
	if e.cluster != nil {
		e.cluster.Destroy()
	}
}

// NextSKU returns a sku no one has used.
func (e *Env) NextSKU(prefix string) string {
	return prefix + "-" + strconv.FormatInt(e.seq.Add(1), 36)
}

// PoolSize is the connection pool size every contender uses.
const PoolSize = 16

// Contenders opens every contender on e, raw pgx first.
func Contenders(ctx context.Context, e *Env) ([]Contender, error) {
	var out []Contender
	for _, open := range []func(context.Context, *Env) (Contender, error){
		func(ctx context.Context, e *Env) (Contender, error) { return NewPgx(ctx, e) },
		func(ctx context.Context, e *Env) (Contender, error) { return NewUno(ctx, e) },
		func(ctx context.Context, e *Env) (Contender, error) { return NewGorm(ctx, e) },
		func(ctx context.Context, e *Env) (Contender, error) { return NewBun(ctx, e) },
	} {
		c, err := open(ctx, e)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Package bench measures uno against raw pgx, GORM, bun and ent on the same
// workloads, tables and data, against one real PostgreSQL. It is its own Go
// module so users of uno never download GORM, bun or ent.
//
// Each contender implements [Contender] in its recommended production
// settings (see docs/PERFORMANCE.md). A workload is one operation that also
// checks its result, so no contender can measure a no-op.
package bench

import (
	"context"
	"errors"
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
// TenantID and CreatedBy are used by the scoped workloads only.
type Row struct {
	ID        int64
	SKU       string
	Name      string
	Qty       int32
	Price     int64
	TenantID  string
	CreatedBy string
}

// Scope is who a scoped call acts for: it runs as the reader role (reads)
// or the writer role (writes) of the bench database, with rls_var.user_id
// and rls_var.tenant_id set for its transaction, so the tenant policy of
// bench_scoped and bench_scoped_write decides what it sees and may write.
type Scope struct {
	Role     string // the role name: Env.Config.Roles.Reader or .Writer
	UserID   string
	TenantID string
}

// ErrNotFound is what every contender returns when a read finds no row
// (its own not-found error is mapped to it).
var ErrNotFound = errors.New("bench: row not found")

// Tenants is the number of tenants bench_scoped's rows are spread over:
// row id belongs to tenant (id-1) % Tenants.
const Tenants = 10

// TenantID returns the id of tenant n. It holds a quote on purpose, so
// every contender must bind or escape it.
func TenantID(n int) string { return "o'tenant-" + strconv.Itoa(n) }

// UserID is the user the scoped workloads act for (quote included).
const UserID = "o'user-42"

// ReaderScope and WriterScope are the scopes of the scoped workloads, for
// tenant n.
func (e *Env) ReaderScope(n int) Scope {
	return Scope{Role: e.Config.Roles.Reader, UserID: UserID, TenantID: TenantID(n)}
}

// WriterScope is ReaderScope for writes.
func (e *Env) WriterScope(n int) Scope {
	return Scope{Role: e.Config.Roles.Writer, UserID: UserID, TenantID: TenantID(n)}
}

// ScopeSettingsSQL sets the role and the identity of a scope for the
// current transaction, as a careful hand-written caller does it: one
// statement, three bind parameters (role, user id, tenant id).
const ScopeSettingsSQL = "SELECT set_config('role', $1, true), set_config('rls_var.user_id', $2, true), set_config('rls_var.tenant_id', $3, true)"

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
	// ReadOneScoped reads bench_scoped row id as s, in a read-only
	// transaction; ErrNotFound when the row is not visible to s.
	ReadOneScoped(ctx context.Context, s Scope, id int64) (Row, error)
	// InsertOneScoped inserts r (whose TenantID is s's) into
	// bench_scoped_write as s and returns its generated id.
	InsertOneScoped(ctx context.Context, s Scope, r Row) (int64, error)
	// FilterScoped is Filter on bench_scoped as s, in a read-only
	// transaction; foreign counts the rows returned whose tenant is not
	// s's (0 when row-level security holds).
	FilterScoped(ctx context.Context, s Scope, minQty int32, minPrice int64) (n int, firstQty int32, foreign int, err error)
	Close()
}

// ItemRows is the size of the bench_item and bench_scoped tables in a
// full run.
const ItemRows = 100_000

// Sizes are the data sizes of an Env and its workloads.
type Sizes struct {
	ItemRows   int // rows of bench_item and of bench_scoped (a multiple of Tenants, at least 10,000)
	BulkRows   int // rows of one bulk load
	UpsertKeys int // existing keys an upsert_100 op draws its 50 updates from (a multiple of 1,000)
}

// FullSizes are the sizes of make bench; TestSizes keep the workload
// checks of make test to seconds.
var (
	FullSizes = Sizes{ItemRows: ItemRows, BulkRows: 100_000, UpsertKeys: 50_000}
	TestSizes = Sizes{ItemRows: 10_000, BulkRows: 2_000, UpsertKeys: 1_000}
)

// Env is the server and the data every contender works on.
type Env struct {
	Sizes   Sizes
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
	// UnoScoped is bench_scoped, the 100,000-row tenant table under
	// row-level security, read and filtered by the scoped workloads.
	// created_by defaults to the transaction's user id and may not be
	// NULL, so a write without an identity fails.
	UnoScoped struct {
		model.BaseModel `uno:"table:bench_scoped"`
		ID              int64     `uno:"id,pk,identity"`
		TenantID        string    `uno:"tenant_id,notnull,type:VARCHAR(26)"`
		SKU             string    `uno:"sku,type:VARCHAR(64)"`
		Name            string    `uno:"name,type:VARCHAR(255)"`
		Qty             int32     `uno:"qty"`
		Price           int64     `uno:"price"`
		CreatedBy       string    `uno:"created_by,notnull,type:VARCHAR(26),default:nullif(current_setting('rls_var.user_id', true), '')"`
		CreatedAt       time.Time `uno:"created_at,default:now()"`
	}
	// UnoScopedWrite is bench_scoped_write, where scoped inserts go.
	UnoScopedWrite struct {
		model.BaseModel `uno:"table:bench_scoped_write"`
		ID              int64     `uno:"id,pk,identity"`
		TenantID        string    `uno:"tenant_id,notnull,type:VARCHAR(26)"`
		SKU             string    `uno:"sku,type:VARCHAR(64)"`
		Name            string    `uno:"name,type:VARCHAR(255)"`
		Qty             int32     `uno:"qty"`
		Price           int64     `uno:"price"`
		CreatedBy       string    `uno:"created_by,notnull,type:VARCHAR(26),default:nullif(current_setting('rls_var.user_id', true), '')"`
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

// TableDef gives bench_scoped the same (qty, id) index as bench_item.
func (UnoScoped) TableDef() model.TableDef {
	return model.TableDef{Indexes: []model.IndexDef{{Columns: []string{"qty", "id"}}}}
}

// Registry returns the registry of the bench models.
func Registry() (*model.Registry, error) {
	reg := model.NewRegistry()
	return reg, reg.Register(UnoItem{}, UnoWrite{}, UnoBulk{}, UnoScoped{}, UnoScopedWrite{})
}

// NewEnv starts a throwaway cluster (or uses url when not empty), creates
// uno's roles and the tables from the uno models, and loads bench_item
// and bench_scoped with sizes.ItemRows rows each.
func NewEnv(ctx context.Context, url string, sizes Sizes) (*Env, error) {
	if sizes.ItemRows < 10_000 || sizes.ItemRows%Tenants != 0 || sizes.BulkRows < 1 || sizes.UpsertKeys < 1000 || sizes.UpsertKeys%1000 != 0 {
		return nil, fmt.Errorf("bench: sizes %+v out of range", sizes)
	}
	e := &Env{Sizes: sizes}
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
	if err := e.createTables(ctx, reg); err != nil {
		e.Close()
		return nil, err
	}
	r := rand.New(rand.NewPCG(1, 2))
	rows := make([][]any, sizes.ItemRows)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("item-%06d", i), "Item number " + strconv.Itoa(i), int32(r.IntN(1000)), int64(r.IntN(100_000))}
	}
	if _, err := e.Pool.CopyFrom(ctx, pgx.Identifier{"bench_item"}, []string{"sku", "name", "qty", "price"}, pgx.CopyFromRows(rows)); err != nil {
		e.Close()
		return nil, err
	}
	for i := range rows {
		rows[i] = append(rows[i], TenantID(i%Tenants), "loader")
	}
	if _, err := e.Pool.CopyFrom(ctx, pgx.Identifier{"bench_scoped"}, []string{"sku", "name", "qty", "price", "tenant_id", "created_by"}, pgx.CopyFromRows(rows)); err != nil {
		e.Close()
		return nil, err
	}
	if _, err := e.Pool.Exec(ctx, "VACUUM ANALYZE bench_item, bench_scoped"); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// createTables creates uno's roles of the bench database (reader and
// writer, which the scoped workloads switch to) and the tables from the
// uno models; the scoped tables get uno's grants and tenant policy.
func (e *Env) createTables(ctx context.Context, reg *model.Registry) error {
	db := emit.Database{Name: e.Config.Database, Roles: e.Config.Roles}
	roles, err := emit.CreateRoles(db).Emit()
	if err != nil {
		return err
	}
	stmts, err := emit.NewTableEmitter(reg.Tables()...).Emit()
	if err != nil {
		return err
	}
	for _, t := range reg.Tables() {
		if t.TenantColumn == nil {
			continue
		}
		for _, em := range []emit.Emitter{emit.Grants(t, db.Options()), emit.TenantRLS(t, db.Options())} {
			s, err := em.Emit()
			if err != nil {
				return err
			}
			stmts = append(stmts, s...)
		}
	}
	if _, err := e.Pool.Exec(ctx, "DROP TABLE IF EXISTS bench_item, bench_write, bench_bulk, bench_scoped, bench_scoped_write"); err != nil {
		return err
	}
	return emit.Exec(ctx, e.Pool, append(roles, stmts...))
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
		func(ctx context.Context, e *Env) (Contender, error) { return NewEnt(ctx, e) },
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

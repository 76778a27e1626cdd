package emit_test

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/uno-db/uno"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

// The models below cover every column and table option, named after uno's
// own examples (user, order) and with hostile names on purpose.

type Status string

func (Status) EnumValues() []string { return []string{"new", "paid", "shipped", "it's done"} }

type Mood string

func (Mood) EnumValues() []string { return []string{"happy", "$uno$", "a\"b"} }
func (Mood) EnumName() string     { return "mood" }

// User is soft-deleting: its unique email becomes a partial unique index.
type User struct {
	uno.Model `uno:"table:user" doc:"Accounts. It's a reserved word."`
	model.ULIDKey
	model.RecordStatus
	model.UserAudit
	Email types.String255 `uno:"email,unique" doc:"Login; unique among live users."`
	Name  types.String128 `uno:"name,default:''"`
}

// Order lives in its own schema, with a tenant, an enum, a GIN index and a
// foreign key to user.
type Order struct {
	uno.Model `uno:"table:order,schema:shop" doc:"Orders placed by users."`
	model.ULIDKey
	model.Tenant
	UserID   types.String26              `uno:"user_id,fk:public.user.id,ondelete:cascade,onupdate:cascade"`
	Status   Status                      `uno:"status,default:'new'"`
	Total    types.Decimal               `uno:"total,type:NUMERIC(12,2),default:0,check:total >= 0"`
	PlacedAt time.Time                   `uno:"placed_at,default:now()"`
	Data     types.JSONB[map[string]any] `uno:"data,default:'{}',index,using:gin" doc:"Free-form attributes."`
	Tags     []string                    `uno:"tags,notnull,default:'{}'"`
	User     *User                       `uno:",belongs_to"`
	Lines    []OrderLine                 `uno:",has_many"`
}

// OrderLine has a composite primary key.
type OrderLine struct {
	uno.Model `uno:"table:order_line,schema:shop"`
	OrderID   types.String26 `uno:"order_id,pk,fk:order.id,ondelete:cascade"`
	Line      int32          `uno:"line,pk"`
	Qty       int32          `uno:"qty,check:qty > 0"`
	Price     types.Decimal  `uno:"price"`
}

// Product has an always-identity key, composite unique and index groups,
// and table-level options.
type Product struct {
	uno.Model `uno:"table:product"`
	ID        int64           `uno:"id,pk,identity:always"`
	SKU       types.String64  `uno:"sku,unique"`
	Ref       types.UUID      `uno:"ref,default:gen_random_uuid()"`
	Vendor    types.String63  `uno:"vendor,unique:vendor_code,index:vendor_name"`
	Code      types.String12  `uno:"code,unique:vendor_code"`
	Name      types.String255 `uno:"name,index:vendor_name"`
	Price     types.Decimal   `uno:"price"`
	Active    bool            `uno:"active,default:true"`
	Tags      []Tag           `uno:",many_to_many:product_tag"`
}

// TableDef declares what tags cannot: a partial index, a partial unique
// index with a method and a named check.
func (Product) TableDef() model.TableDef {
	return model.TableDef{
		Indexes: []model.IndexDef{
			{Columns: []string{"price"}, Where: "active"},
			{Name: "ux_product_lower_name", Columns: []string{"name"}, Unique: true, Using: "btree", Where: "active"},
		},
		Checks: []model.CheckDef{{Name: "price_positive", Expr: "price > 0"}},
	}
}

type Tag struct {
	uno.Model `uno:"table:tag"`
	ID        int64  `uno:"id,pk,identity"`
	Label     string `uno:"label,unique,using:btree"`
}

// ProductTag is the association table of Product.Tags.
type ProductTag struct {
	uno.Model `uno:"table:product_tag"`
	ProductID int64 `uno:"product_id,pk,fk:product.id,ondelete:cascade"`
	TagID     int64 `uno:"tag_id,pk,fk:tag,ondelete:restrict"`
}

// Category references itself.
type Category struct {
	uno.Model `uno:"table:category"`
	ID        int64      `uno:"id,pk,identity"`
	ParentID  *int64     `uno:"parent_id,fk:category.id,ondelete:setnull"`
	Parent    *Category  `uno:",belongs_to"`
	Children  []Category `uno:",has_many:parent_id"`
}

// Department and Employee reference each other: a cycle.
type Department struct {
	uno.Model `uno:"table:department"`
	ID        int64  `uno:"id,pk"`
	ManagerID *int64 `uno:"manager_id,fk:employee.id,ondelete:setnull"`
}

type Employee struct {
	uno.Model    `uno:"table:employee"`
	ID           int64 `uno:"id,pk"`
	DepartmentID int64 `uno:"department_id,default:1,fk:department.id,ondelete:setdefault,onupdate:noaction"`
}

// TypeZoo has a column of every standard type.
type TypeZoo struct {
	uno.Model `uno:"table:type_zoo"`
	ID        types.UUID                   `uno:"id,pk,default:gen_random_uuid()"`
	S12       types.String12               `uno:"s12"`
	S26       types.String26               `uno:"s26"`
	S63       types.String63               `uno:"s63"`
	S64       types.String64               `uno:"s64"`
	S128      types.String128              `uno:"s128"`
	S255      types.String255              `uno:"s255"`
	Text      types.Text                   `uno:"text"`
	Big       types.BigInt                 `uno:"big"`
	Int       int32                        `uno:"int"`
	Small     int16                        `uno:"small"`
	Dec       types.Decimal                `uno:"dec"`
	Bool      types.Boolean                `uno:"bool"`
	At        types.Timestamp              `uno:"at"`
	Day       types.Date                   `uno:"day"`
	Clock     types.Time                   `uno:"clock"`
	Span      types.Interval               `uno:"span"`
	Bytes     types.ByteA                  `uno:"bytes"`
	Doc       types.JSONB[struct{ A int }] `uno:"doc"`
	Raw       json.RawMessage              `uno:"raw"`
	Map       map[string]any               `uno:"map"`
	Ints      []int64                      `uno:"ints"`
	Grid      [][]float64                  `uno:"grid"`
	Moods     []Mood                       `uno:"moods"`
	Mood      *Mood                        `uno:"mood"`
	F32       float32                      `uno:"f32"`
	OptText   *string                      `uno:"opt_text,null"`
	NullStr   sql.NullString               `uno:"null_str"`
	PgInt     pgtype.Int4                  `uno:"pg_int"`
	LineOrder *types.String26              `uno:"line_order"`
	LineNo    *int32                       `uno:"line_no"`
}

func (TypeZoo) TableDef() model.TableDef {
	return model.TableDef{ForeignKeys: []model.ForeignKeyDef{{
		Columns: []string{"line_order", "line_no"}, RefTable: "shop.order_line", RefColumns: []string{"order_id", "line"},
		OnDelete: model.SetNull,
	}}}
}

// Weird has hostile names everywhere.
type Weird struct {
	uno.Model `uno:"table:we\"ird; DROP TABLE x; --,schema:odd \"schema\"" doc:"it's \"weird\"; DROP TABLE x; -- $uno$ \\ back"`
	ID        int64   `uno:"select,pk"`
	Quote     string  `uno:"it's \"quoted\",default:'it''s',unique" doc:"O'Reilly"`
	Space     *string `uno:"with space,index"`
	Mood      Mood    `uno:"mood,default:'happy'"`
}

var allModels = []any{
	User{}, Order{}, OrderLine{}, Product{}, Tag{}, ProductTag{}, Category{}, Department{}, Employee{}, TypeZoo{}, Weird{},
}

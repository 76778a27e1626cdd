package model_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/uno-db/uno"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

type Status string

func (Status) EnumValues() []string { return []string{"new", "paid", "shipped"} }

type NoValues string

func (NoValues) EnumValues() []string { return nil }

type DupValues string

func (DupValues) EnumValues() []string { return []string{"a", "a"} }

type Panicky string

func (Panicky) EnumValues() []string { panic("boom") }

// StatusAgain declares the enum "status" again with other values.
type StatusAgain string

func (StatusAgain) EnumValues() []string { return []string{"x"} }
func (StatusAgain) EnumName() string     { return "status" }

type Customer struct {
	uno.Model `uno:"table:customer" doc:"People who buy."`
	model.ULIDKey
	Name    types.String255 `uno:"name"`
	Email   types.String255 `uno:"email,unique"`
	Notes   *string         `uno:"notes"`
	Tags    []string        `uno:"tags,notnull,default:'{}'"`
	Balance types.Decimal   `uno:"balance,type:NUMERIC(12,2),default:0,check:balance >= 0"`
	Orders  []Order         `uno:",has_many"`
	Extra   map[string]any  `uno:"extra"`
	Raw     json.RawMessage `uno:"raw"`
	Seen    sql.Null[time.Time]
	Score   pgtype.Float8
	private int // unexported fields are not columns
}

type Order struct {
	uno.Model `uno:"table:order"`
	model.ULIDKey
	model.RecordStatus
	CustomerID types.String26 `uno:"customer_id,fk:customer.id,ondelete:cascade"`
	Number     int64          `uno:"number,unique"`
	Status     Status         `uno:"status,default:'new'"`
	Customer   *Customer      `uno:",belongs_to"`
	Lines      []OrderLine    `uno:",has_many"`
}

type OrderLine struct {
	uno.Model `uno:"table:order_line"`
	OrderID   types.String26 `uno:"order_id,pk"`
	Line      int32          `uno:"line,pk"`
	Qty       int32          `uno:"qty,check:qty > 0"`
	Order     Order          `uno:",belongs_to"`
}

func register(t *testing.T, models ...any) *model.Registry {
	t.Helper()
	r := model.NewRegistry()
	if err := r.Register(models...); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return r
}

func TestRegisterMetadata(t *testing.T) {
	t.Parallel()
	r := register(t, Customer{private: 1}, &Order{}, (*OrderLine)(nil))
	c, err := model.TableOf[Customer](r)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "customer" || c.QuotedName != `"customer"` || c.Comment != "People who buy." || c.GoName() != "model_test.Customer" {
		t.Errorf("customer table: %q %q %q %q", c.Name, c.QuotedName, c.Comment, c.GoName())
	}
	type col struct {
		name, typ, field string
		nullable, gen    bool
	}
	var got []col
	for _, k := range c.Columns {
		got = append(got, col{k.Name, k.SQLType, k.Field, k.Nullable, k.Generated()})
	}
	want := []col{
		{"id", "VARCHAR(26)", "ULIDKey.ID", false, true},
		{"name", "VARCHAR(255)", "Name", false, false},
		{"email", "VARCHAR(255)", "Email", false, false},
		{"notes", "TEXT", "Notes", true, false},
		{"tags", "TEXT[]", "Tags", false, true},
		{"balance", "NUMERIC(12,2)", "Balance", false, true},
		{"extra", "JSONB", "Extra", true, false},
		{"raw", "JSONB", "Raw", true, false},
		{"seen", "TIMESTAMPTZ", "Seen", true, false},
		{"score", "DOUBLE PRECISION", "Score", true, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("columns:\n got %v\nwant %v", got, want)
	}
	for i, k := range c.Columns {
		if k.Ordinal != i || k.QuotedName != `"`+k.Name+`"` || k.Table != c {
			t.Errorf("column %s: ordinal %d quoted %s", k.Name, k.Ordinal, k.QuotedName)
		}
		f := reflect.TypeFor[Customer]().FieldByIndex(k.Index)
		if f.Type != k.GoType {
			t.Errorf("column %s: index path gives %s, GoType %s", k.Name, f.Type, k.GoType)
		}
	}
	if c.PrimaryKey.Name != "pk_customer" || len(c.PrimaryKey.Columns) != 1 || c.PrimaryKey.Columns[0].Name != "id" {
		t.Errorf("pk: %+v", c.PrimaryKey)
	}
	if len(c.Uniques) != 1 || c.Uniques[0].Name != "uq_customer_email" || c.Uniques[0].AsIndex {
		t.Errorf("uniques: %+v", c.Uniques)
	}
	if len(c.Checks) != 1 || c.Checks[0].Name != "ck_customer_balance" || c.Checks[0].Check != "balance >= 0" {
		t.Errorf("checks: %+v", c.Checks)
	}
	if names(c.Generated) != "id,tags,balance" {
		t.Errorf("generated: %s", names(c.Generated))
	}
	if c.SoftDelete || c.TenantColumn != nil {
		t.Error("customer is not soft-deleting nor tenant-scoped")
	}

	o, _ := model.TableOf[Order](r)
	if !o.SoftDelete || o.DeletedColumn == nil || o.DeletedColumn.Name != "is_deleted" {
		t.Error("order should be soft-deleting")
	}
	if len(o.Uniques) != 1 || !o.Uniques[0].AsIndex || o.Uniques[0].Where != `NOT "is_deleted"` || o.Uniques[0].Name != "uq_order_number" {
		t.Errorf("order uniques: %+v", o.Uniques[0])
	}
	if o.Columns[1].Name != "is_active" || o.Columns[5].Name != "deleted_at" || !o.Columns[5].Nullable {
		t.Errorf("record status columns: %s", names(o.Columns))
	}
	st := o.Columns[8]
	if st.Name != "status" || st.Enum == nil || st.SQLType != `"status"` || strings.Join(st.Enum.Values, ",") != "new,paid,shipped" {
		t.Errorf("status column: %+v", st)
	}
	if len(o.Enums) != 1 || o.Enums[0] != st.Enum {
		t.Errorf("order enums: %v", o.Enums)
	}
	if len(o.ForeignKeys) != 1 || o.ForeignKeys[0].Name != "fk_order_customer_id" || o.ForeignKeys[0].RefTable != c ||
		o.ForeignKeys[0].OnDelete != model.Cascade {
		t.Errorf("order fks: %+v", o.ForeignKeys)
	}

	ol, _ := model.TableOf[OrderLine](r)
	if names(ol.PrimaryKey.Columns) != "order_id,line" {
		t.Errorf("composite pk: %s", names(ol.PrimaryKey.Columns))
	}
	// belongs_to created the foreign key the has_many of Order needs.
	if len(ol.ForeignKeys) != 1 || ol.ForeignKeys[0].Name != "fk_order_line_order_id" || ol.ForeignKeys[0].RefTable != o {
		t.Errorf("order_line fks: %+v", ol.ForeignKeys)
	}
	rels := map[string]*model.Relation{}
	for _, tb := range []*model.Table{c, o, ol} {
		for _, rel := range tb.Relations {
			rels[tb.Name+"."+rel.Field] = rel
		}
	}
	if rel := rels["customer.Orders"]; rel == nil || rel.Kind != model.HasMany || rel.Target != o || rel.ForeignKey != o.ForeignKeys[0] {
		t.Errorf("customer.Orders: %+v", rel)
	}
	if rel := rels["order.Customer"]; rel == nil || rel.Kind != model.BelongsTo || rel.Target != c || rel.ForeignKey != o.ForeignKeys[0] {
		t.Errorf("order.Customer: %+v", rel)
	}
	if rel := rels["order.Lines"]; rel == nil || rel.Kind != model.HasMany || rel.ForeignKey != ol.ForeignKeys[0] {
		t.Errorf("order.Lines: %+v", rel)
	}

	// Constraint names lead back to the model and its fields.
	for name, wantTable := range map[string]*model.Table{
		"pk_customer": c, "uq_customer_email": c, "ck_customer_balance": c, "uq_order_number": o,
		"fk_order_customer_id": o, "pk_order_line": ol, "ck_order_line_qty": ol,
	} {
		k, ok := r.Constraint("", name)
		if !ok || k.Table != wantTable {
			t.Errorf("Constraint(%q) = %+v, %v", name, k, ok)
			continue
		}
		if k2, ok := r.Constraint("public", name); !ok || k2 != k {
			t.Errorf("Constraint(public, %q) differs", name)
		}
		if k3, ok := wantTable.Constraint(name); !ok || k3 != k {
			t.Errorf("Table.Constraint(%q) differs", name)
		}
	}
	if k, _ := r.Constraint("", "uq_order_number"); k.Columns[0].Field != "Number" {
		t.Errorf("uq_order_number field = %s", k.Columns[0].Field)
	}
	if _, ok := r.Constraint("", "nope"); ok {
		t.Error("unknown constraint found")
	}
	if tb, ok := r.TableNamed("public", "order"); !ok || tb != o {
		t.Error("TableNamed(public, order)")
	}
	if tb, ok := r.Table(reflect.TypeFor[*Order]()); !ok || tb != o {
		t.Error("Table(*Order)")
	}
	if got := strings.Join(r.EnumTypeNames(), ","); got != "_status,status" {
		t.Errorf("EnumTypeNames: %s", got)
	}
	if len(r.Tables()) != 3 {
		t.Errorf("Tables: %d", len(r.Tables()))
	}
	if _, err := model.TableOf[struct{ X int }](r); !errors.Is(err, model.ErrNotRegistered) {
		t.Errorf("TableOf unregistered: %v", err)
	}
	// Registering again is a no-op.
	if err := r.Register(Customer{}); err != nil {
		t.Error(err)
	}
	if c2, _ := model.TableOf[Customer](r); c2 != c {
		t.Error("re-registration replaced the table")
	}
}

func names(cols []*model.Column) string {
	var s []string
	for _, c := range cols {
		s = append(s, c.Name)
	}
	return strings.Join(s, ",")
}

func TestAddrs(t *testing.T) {
	t.Parallel()
	r := register(t, Customer{}, Order{}, OrderLine{})
	tb, _ := model.TableOf[Order](r)
	var o Order
	addrs, err := tb.Addrs(&o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != len(tb.Columns) {
		t.Fatalf("%d addresses for %d columns", len(addrs), len(tb.Columns))
	}
	*addrs[0].(*types.String26) = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	*addrs[2].(*bool) = true
	*addrs[5].(**time.Time) = &time.Time{}
	*addrs[8].(*Status) = "paid"
	if o.ID != "01ARZ3NDEKTSV4RRFFQ69G5FAV" || !o.IsDeleted || o.DeletedAt == nil || o.Status != "paid" {
		t.Errorf("writes through Addrs did not land: %+v", o)
	}
	for i, c := range tb.Columns {
		want := reflect.ValueOf(&o).Elem().FieldByIndex(c.Index).Addr().Interface()
		if addrs[i] != want {
			t.Errorf("column %s: address %v, want %v", c.Name, addrs[i], want)
		}
		a, err := c.Addr(&o)
		if err != nil || a != want {
			t.Errorf("Column.Addr(%s) = %v, %v", c.Name, a, err)
		}
	}
	if _, err := tb.Addrs(o, nil); !errors.Is(err, model.ErrWrongType) {
		t.Errorf("Addrs(non-pointer) = %v", err)
	}
	if _, err := tb.Addrs(&Customer{}, nil); !errors.Is(err, model.ErrWrongType) {
		t.Errorf("Addrs(other type) = %v", err)
	}
	if _, err := tb.Addrs((*Order)(nil), nil); !errors.Is(err, model.ErrWrongType) {
		t.Errorf("Addrs(nil) = %v", err)
	}
}

func TestIdentityColumns(t *testing.T) {
	t.Parallel()
	type Counter struct {
		ID  int64 `uno:"id,pk,identity:always"`
		Seq int32 `uno:"seq,identity,type:integer"`
		N   int64 `uno:"n"`
	}
	r := register(t, Counter{})
	tb, _ := model.TableOf[Counter](r)
	id, seq, n := tb.Columns[0], tb.Columns[1], tb.Columns[2]
	if id.Identity != "ALWAYS" || id.Insertable() || !id.Generated() {
		t.Errorf("id: %+v", id)
	}
	if seq.Identity != "BY DEFAULT" || !seq.Insertable() || !seq.Generated() || seq.Nullable {
		t.Errorf("seq: %+v", seq)
	}
	if n.Generated() || !n.Insertable() || names(tb.Generated) != "id,seq" {
		t.Errorf("n: %+v, generated %s", n, names(tb.Generated))
	}
}

// TestConcurrentUse registers batches while other goroutines look models
// up; run with -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	r := model.NewRegistry()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if tb, err := model.TableOf[Customer](r); err == nil && tb.Name != "customer" {
					t.Error("torn read")
					return
				}
				_, _ = r.Constraint("", "pk_order")
				_ = r.Tables()
			}
		}()
	}
	var regs sync.WaitGroup
	for _, batch := range [][]any{{Target{}}, {Customer{}, Order{}, OrderLine{}}, {SoftTarget{}}, {OrderLine{}, Order{}, Customer{}}} {
		regs.Add(1)
		go func() {
			defer regs.Done()
			if err := r.Register(batch...); err != nil {
				t.Error(err)
			}
		}()
	}
	regs.Wait()
	close(done)
	wg.Wait()
	if n := len(r.Tables()); n != 5 {
		t.Errorf("%d tables, want 5", n)
	}
}

// Broken models for TestRegisterReportsEverything, each with one problem.
type badTagModel struct {
	uno.Model `uno:"table:bad_tag"`
	ID        int64 `uno:"id,pk,frobnicate"`
}

type danglingFK struct {
	uno.Model `uno:"table:dangling"`
	ID        int64 `uno:"id,pk"`
	Other     int64 `uno:"other,fk:nowhere"`
}

type badRelation struct {
	uno.Model `uno:"table:bad_relation"`
	ID        int64       `uno:"id,pk"`
	Items     []Unrelated `uno:",has_many"`
}

// Unrelated is never registered.
type Unrelated struct {
	uno.Model `uno:"table:unrelated"`
	ID        int64 `uno:"id,pk"`
}

type pointsAtBadTag struct {
	uno.Model `uno:"table:points_at_bad"`
	ID        int64 `uno:"id,pk"`
	Bad       int64 `uno:"bad,fk:bad_tag"`
}

// TestRegisterReportsEverything checks that one Register call reports the
// problem of every model in it, whatever the phase that finds it, without
// noise about a reference to a model that failed for its own reason, and
// registers nothing.
func TestRegisterReportsEverything(t *testing.T) {
	r := model.NewRegistry()
	err := r.Register(badTagModel{}, danglingFK{}, badRelation{}, pointsAtBadTag{})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"badTagModel", "danglingFK", "badRelation"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not report %s:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "pointsAtBadTag") {
		t.Errorf("a reference to a model that failed on its own is reported too:\n%s", msg)
	}
	if !errors.Is(err, model.ErrBadTag) || !errors.Is(err, model.ErrUnknownReference) {
		t.Errorf("error does not match every sentinel: %v", err)
	}
	if n := len(r.Tables()); n != 0 {
		t.Errorf("%d tables registered from a failed batch", n)
	}
}

package model_test

import (
	"reflect"
	"testing"

	"github.com/uno-db/uno/model"
)

func benchRegistry(b testing.TB) *model.Registry {
	r := model.NewRegistry()
	if err := r.Register(Customer{}, Order{}, OrderLine{}); err != nil {
		b.Fatal(err)
	}
	return r
}

func TestLookupDoesNotAllocate(t *testing.T) {
	r := benchRegistry(t)
	typ := reflect.TypeFor[Order]()
	var o Order
	tb, _ := model.TableOf[Order](r)
	buf := make([]any, 0, len(tb.Columns))
	for name, f := range map[string]func(){
		"TableOf":  func() { _, _ = model.TableOf[Order](r) },
		"Table":    func() { _, _ = r.Table(typ) },
		"Addrs":    func() { _, _ = tb.Addrs(&o, buf[:0]) },
		"Column":   func() { _, _ = tb.Column("status") },
		"TableCon": func() { _, _ = tb.Constraint("uq_order_number") },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

func BenchmarkTableOf(b *testing.B) {
	r := benchRegistry(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := model.TableOf[Order](r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRegistryTable(b *testing.B) {
	r := benchRegistry(b)
	typ := reflect.TypeFor[Order]()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := r.Table(typ); !ok {
			b.Fatal("not found")
		}
	}
}

func BenchmarkAddrs(b *testing.B) {
	r := benchRegistry(b)
	tb, _ := model.TableOf[Order](r)
	var o Order
	buf := make([]any, 0, len(tb.Columns))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = tb.Addrs(&o, buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRegister(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		benchRegistry(b)
	}
}

package demo_test

import (
	"testing"

	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/internal/demo"
	"github.com/uno-db/uno/model"
)

func TestModelsRegister(t *testing.T) {
	reg := model.NewRegistry()
	if err := reg.Register(demo.Models()...); err != nil {
		t.Fatal(err)
	}
	if n := len(reg.Tables()); n != 6 {
		t.Fatalf("%d tables", n)
	}
	if _, err := emit.NewTableEmitter(reg.Tables()...).Emit(); err != nil {
		t.Fatal(err)
	}
}

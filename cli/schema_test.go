package cli_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/cli"
	"github.com/uno-db/uno/internal/demo"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("%s differs (go test ./cli -run %s -update rewrites it); got:\n%s", path, t.Name(), got)
	}
}

func register(t *testing.T, models ...any) []*model.Table {
	t.Helper()
	reg := model.NewRegistry()
	if err := reg.Register(models...); err != nil {
		t.Fatal(err)
	}
	return reg.Tables()
}

func TestMermaidDemo(t *testing.T) {
	golden(t, "demo_schema.mmd", cli.Mermaid(register(t, demo.Models()...)))
}

// Hostile names: a quote, a percent sign and spaces in table and column
// names, a schema, a one-to-one and an identifying, nullable and composite
// foreign key.
type hostileParent struct {
	uno.Model `uno:"table:we\"ird % parent,schema:odd schema"`
	model.ULIDKey
	Label types.String64 `uno:"my label,unique" doc:"a \"quoted\" doc, 100%% sure"`
}

type hostileProfile struct {
	uno.Model `uno:"table:profile"`
	model.ULIDKey
	ParentID types.String26  `uno:"parent_id,unique,fk:odd schema.we\"ird % parent.id"`
	Backup   *types.String26 `uno:"backup_id,fk:odd schema.we\"ird % parent.id"`
}

type hostileLink struct {
	uno.Model `uno:"table:link"`
	ParentID  types.String26 `uno:"parent_id,pk,fk:odd schema.we\"ird % parent.id"`
	ProfileID types.String26 `uno:"profile_id,pk,fk:profile.id"`
	Weight    float64        `uno:"weight"`
	Amount    types.Decimal  `uno:"amount,type:numeric(12,2)"`
	When      time.Time      `uno:"2when"`
}

func TestMermaidHostileNames(t *testing.T) {
	got := cli.Mermaid(register(t, hostileParent{}, hostileProfile{}, hostileLink{}))
	golden(t, "hostile_schema.mmd", got)
	for _, bad := range []string{`we"ird`, "% parent", `"quoted"`, "%%"} {
		if strings.Contains(got, bad) {
			t.Fatalf("%q reached the diagram:\n%s", bad, got)
		}
	}
}

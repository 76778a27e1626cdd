package model_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

type TenantAccount struct {
	model.ULIDKey
	model.Tenant
	Email types.String255 `uno:"email,unique"`
	Code  string          `uno:"code,unique:tc"`
	Kind  string          `uno:"kind,unique:tc"`
}

type GlobalAccount struct {
	model.ULIDKey
	model.Tenant
	Email types.String255 `uno:"email,unique"`
}

func (GlobalAccount) TableDef() model.TableDef { return model.TableDef{UniqueAcrossTenants: true} }

type ConfiguredNote struct {
	model.ULIDKey
	model.RecordStatus
	model.UserAudit
	Body string `uno:"body"`
}

func (*ConfiguredNote) SQLConfig() model.SQLConfig {
	return model.SQLConfig{Emitters: []string{"table", "grants"}, DeleteSoftly: true, RequireUser: true, History: true}
}

type BadSoftly struct {
	ID int64 `uno:"id,pk"`
}

func (BadSoftly) SQLConfig() model.SQLConfig { return model.SQLConfig{DeleteSoftly: true} }

type BadRequireUser struct {
	ID int64 `uno:"id,pk"`
}

func (BadRequireUser) SQLConfig() model.SQLConfig { return model.SQLConfig{RequireUser: true} }

type BadEmitterNames struct {
	ID int64 `uno:"id,pk"`
}

func (BadEmitterNames) SQLConfig() model.SQLConfig {
	return model.SQLConfig{Emitters: []string{"grants", "", "grants"}}
}

type PanickyConfig struct {
	ID int64 `uno:"id,pk"`
}

func (PanickyConfig) SQLConfig() model.SQLConfig { panic("boom") }

func columnsOf(c *model.Constraint) []string {
	var out []string
	for _, col := range c.Columns {
		out = append(out, col.Name)
	}
	return out
}

func TestTenantUniquesIncludeTenant(t *testing.T) {
	t.Parallel()
	r := model.NewRegistry()
	if err := r.Register(TenantAccount{}, GlobalAccount{}); err != nil {
		t.Fatal(err)
	}
	ta, _ := model.TableOf[TenantAccount](r)
	var got [][]string
	for _, u := range ta.Uniques {
		got = append(got, columnsOf(u))
	}
	want := [][]string{{"tenant_id", "code", "kind"}, {"tenant_id", "email"}}
	slices.SortFunc(got, func(a, b []string) int { return strings.Compare(strings.Join(a, ","), strings.Join(b, ",")) })
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("tenant uniques = %v, want %v", got, want)
	}
	if len(ta.PrimaryKey.Columns) != 1 {
		t.Errorf("primary key changed: %v", columnsOf(ta.PrimaryKey))
	}
	ga, _ := model.TableOf[GlobalAccount](r)
	if got := columnsOf(ga.Uniques[0]); !slices.Equal(got, []string{"email"}) {
		t.Errorf("UniqueAcrossTenants uniques = %v", got)
	}
}

func TestSQLConfig(t *testing.T) {
	t.Parallel()
	r := model.NewRegistry()
	if err := r.Register(ConfiguredNote{}, Target{}); err != nil {
		t.Fatal(err)
	}
	n, _ := model.TableOf[ConfiguredNote](r)
	want := model.SQLConfig{Emitters: []string{"table", "grants"}, DeleteSoftly: true, RequireUser: true, History: true}
	if !slices.Equal(n.SQL.Emitters, want.Emitters) || n.SQL.DeleteSoftly != want.DeleteSoftly ||
		n.SQL.RequireUser != want.RequireUser || n.SQL.History != want.History {
		t.Errorf("SQL = %+v, want %+v", n.SQL, want)
	}
	tg, _ := model.TableOf[Target](r)
	if tg.SQL.Emitters != nil || tg.SQL.DeleteSoftly || tg.SQL.RequireUser || tg.SQL.History {
		t.Errorf("default SQL config = %+v", tg.SQL)
	}
	for _, tc := range []struct {
		model any
		want  string
	}{
		{BadSoftly{}, "DeleteSoftly needs"},
		{BadRequireUser{}, "RequireUser needs"},
		{BadEmitterNames{}, "empty name"},
		{BadEmitterNames{}, `repeats "grants"`},
		{PanickyConfig{}, "SQLConfig panicked: boom"},
	} {
		err := model.NewRegistry().Register(tc.model)
		var me *model.Error
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &me) || !errors.Is(err, model.ErrBadTag) {
			t.Errorf("%T: error = %v, want one containing %q", tc.model, err, tc.want)
		}
	}
}

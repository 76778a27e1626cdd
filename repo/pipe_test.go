package repo_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/repo"
)

// TestTxSettingsBehindPgBouncer: behind PgBouncer, Schema and
// StatementTimeout cannot be startup parameters; a repository call's
// transaction sets them for itself (config.Config.TxSettings), and the
// statement sees them.
func TestTxSettingsBehindPgBouncer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := config.DefaultRoles(e.cfg.Database)
	pgtest.Exec(t, e.url, `CREATE SCHEMA "app ' x"`, `GRANT USAGE ON SCHEMA "app ' x" TO `+quote.Ident(r.Base))
	host, port, err := net.SplitHostPort(pgtest.PgBouncer(t).Addr())
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Host = host
	cfg.Port, _ = strconv.Atoi(port)
	cfg.Pooler = config.PoolerPgBouncer
	cfg.Schema = "app ' x"
	cfg.StatementTimeout = 2345 * time.Millisecond
	db, err := e.f.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, opts := range []repo.Options{{Roles: repo.RolesSwitch, Identity: engine.Identity{UserID: "u-1"}}, {}} {
		items, err := repo.New[Item](db, e.reg, opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := items.QueryMaps(ctx, "SELECT current_setting('search_path') AS sp, current_setting('statement_timeout') AS st,"+
			" current_user::text AS who")
		if err != nil {
			t.Fatalf("%v: %v", opts.Roles, err)
		}
		if len(got) != 1 || got[0]["sp"] != `"app ' x", public` || got[0]["st"] != "2345ms" || got[0]["who"] != r.Reader {
			t.Fatalf("%v: inside the call: %v", opts.Roles, got)
		}
	}
}

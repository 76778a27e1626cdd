package engine_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgproxy"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

// TestCommitLookupSameHost: with a host list of a streaming standby and its
// primary where target_session_attrs=read-write picks the primary, a
// COMMIT lost with its connection is resolved by asking the server the
// transaction ran on, and no other host of the list: the standby, first in
// the list, sees no connection while the outcome is looked up (a pooled
// connection would try it first). Both doors: WithTx and SQLTx.
func TestCommitLookupSameHost(t *testing.T) {
	t.Parallel()
	primary, standby, err := pgtest.Replicated()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := fmt.Sprintf("uno_samehost_%d", time.Now().UnixNano())
	pgtest.Exec(t, primary.URL("postgres"), "CREATE DATABASE "+quote.Ident(name))
	t.Cleanup(func() {
		pgtest.Exec(t, primary.URL("postgres"), "DROP DATABASE IF EXISTS "+quote.Ident(name)+" WITH (FORCE)")
	})
	pgtest.Exec(t, primary.URL(name), "CREATE TABLE item (id int PRIMARY KEY)")
	// Wait until the standby has replayed the table, so it is a healthy
	// candidate that target_session_attrs turns down.
	for {
		c, err := pgx.Connect(ctx, standby.URL(name))
		if err == nil {
			var ok bool
			err = c.QueryRow(ctx, "SELECT to_regclass('item') IS NOT NULL").Scan(&ok)
			c.Close(ctx)
			if err == nil && ok {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("the standby never replayed the table: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	toStandby := newProxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(standby.Port())))
	toPrimary := newProxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(primary.Port())))
	cfg, err := config.Parse(fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d dbname=%s user=postgres sslmode=disable"+
		" target_session_attrs=read-write", toStandby.Port(), toPrimary.Port(), name))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Pool.MaxConns = 1
	cfg.Retry = config.Retry{InitialDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}
	f, err := engine.NewFactory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(ctx)
	db, err := f.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	doors := []struct {
		name string
		run  func(id int) error
	}{
		{"WithTx", func(id int) error {
			return db.WithTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
				_, err := tx.Exec(ctx, "INSERT INTO item VALUES ($1)", id)
				return err
			})
		}},
		{"SQLTx", func(id int) error {
			return db.SQLTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO item VALUES ($1)", id)
				return err
			})
		}},
	}
	for i, door := range doors {
		id := i + 1
		// Warm up: the pool's one connection is on the primary.
		if err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
			_, err := c.Exec(ctx, "SELECT 1")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		standbyConns, primaryConns := toStandby.Conns(), toPrimary.Conns()
		toPrimary.SetRule(pgproxy.Once(pgproxy.Message.IsCommit, pgproxy.CutAfter))
		if err := door.run(id); err != nil {
			t.Fatalf("%s: %v", door.name, err)
		}
		toPrimary.SetRule(nil)
		if toPrimary.Cuts() != id {
			t.Fatalf("%s: the proxy cut %d connections, want %d", door.name, toPrimary.Cuts(), id)
		}
		if n := toStandby.Conns() - standbyConns; n != 0 {
			t.Fatalf("%s: the outcome lookup made %d connections to the standby, another host of the list", door.name, n)
		}
		if n := toPrimary.Conns() - primaryConns; n < 1 {
			t.Fatalf("%s: no lookup connection reached the primary", door.name)
		}
		if got := pgtest.Scalar[int64](t, primary.URL(name), "SELECT count(*) FROM item WHERE id = $1", id); got != 1 {
			t.Fatalf("%s: %d rows, want the committed one", door.name, got)
		}
	}
}

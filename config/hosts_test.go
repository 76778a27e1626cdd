package config_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/internal/pgcluster"
	"github.com/uno-db/uno/internal/pgtest"
)

// TestSeveralHosts: host=a,b with target_session_attrs picks the right
// server of a real primary and streaming standby, in either order.
func TestSeveralHosts(t *testing.T) {
	t.Parallel()
	primary, standby, err := pgtest.Replicated()
	if err != nil {
		t.Fatal(err)
	}
	// A port nothing listens on: a server that is down.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx := context.Background()
	list := func(cs ...*pgcluster.Cluster) (hosts, ports string) {
		for i, c := range cs {
			if i > 0 {
				hosts += ","
				ports += ","
			}
			hosts += "127.0.0.1"
			port := downPort
			if c != nil {
				port = c.Port()
			}
			ports += fmt.Sprint(port)
		}
		return hosts, ports
	}
	for _, tc := range []struct {
		attrs       string
		order       []*pgcluster.Cluster // nil: the server that is down
		wantStandby bool
	}{
		{"read-write", []*pgcluster.Cluster{standby, primary}, false},
		{"primary", []*pgcluster.Cluster{standby, primary}, false},
		{"primary", []*pgcluster.Cluster{nil, primary}, false},
		{"standby", []*pgcluster.Cluster{primary, standby}, true},
		{"read-only", []*pgcluster.Cluster{primary, standby}, true},
		{"prefer-standby", []*pgcluster.Cluster{primary, standby}, true},
		{"prefer-standby", []*pgcluster.Cluster{primary, nil}, false},
		{"any", []*pgcluster.Cluster{standby, primary}, true},
		{"any", []*pgcluster.Cluster{nil, primary}, false},
	} {
		hosts, ports := list(tc.order...)
		dsn := fmt.Sprintf("host=%s port=%s dbname=postgres user=postgres sslmode=disable target_session_attrs=%s", hosts, ports, tc.attrs)
		t.Run(fmt.Sprintf("%s %s", tc.attrs, ports), func(t *testing.T) {
			c, err := config.Parse(dsn)
			if err != nil {
				t.Fatal(err)
			}
			// Through a pool, as the engine connects.
			pool, err := c.NewPool(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			var inRecovery bool
			if err := pool.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
				t.Fatal(err)
			}
			if inRecovery != tc.wantStandby {
				t.Fatalf("pg_is_in_recovery() = %v, want %v", inRecovery, tc.wantStandby)
			}
		})
	}
	t.Run("no server matches", func(t *testing.T) {
		hosts, ports := list(standby, nil)
		c, err := config.Parse(fmt.Sprintf("host=%s port=%s dbname=postgres user=postgres sslmode=disable target_session_attrs=read-write", hosts, ports))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Connect(ctx)
		var ce *pgconn.ConnectError
		if !errors.As(err, &ce) {
			t.Fatalf("want *pgconn.ConnectError, got %v", err)
		}
	})
}

// TestConnConfigAt: a configuration pinned to the server a connection
// reached goes back to that server, whatever the host list and
// target_session_attrs say.
func TestConnConfigAt(t *testing.T) {
	t.Parallel()
	primary, standby, err := pgtest.Replicated()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, attrs := range []string{"any", "read-write"} {
		c, err := config.Parse(fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d dbname=postgres user=postgres sslmode=prefer target_session_attrs=%s",
			standby.Port(), primary.Port(), attrs))
		if err != nil {
			t.Fatal(err)
		}
		first, err := c.Connect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var wantRecovery bool
		if err := first.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&wantRecovery); err != nil {
			t.Fatal(err)
		}
		addr := first.PgConn().Conn().RemoteAddr()
		first.Close(ctx)
		cc, err := c.ConnConfigAt(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if len(cc.Fallbacks) != 1 || cc.Fallbacks[0].Host != cc.Host || cc.ValidateConnect != nil {
			t.Fatalf("pinned: %s:%d %+v", cc.Host, cc.Port, cc.Fallbacks)
		}
		again, err := pgx.ConnectConfig(ctx, cc)
		if err != nil {
			t.Fatal(err)
		}
		var inRecovery bool
		if err := again.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
			t.Fatal(err)
		}
		if got := again.PgConn().Conn().RemoteAddr().String(); got != addr.String() || inRecovery != wantRecovery {
			t.Fatalf("%s: reached %s (recovery %v), want %s (recovery %v)", attrs, got, inRecovery, addr, wantRecovery)
		}
		again.Close(ctx)
		if wantRecovery != (attrs == "any") {
			t.Fatalf("%s landed on the wrong server", attrs)
		}
	}
	c, _ := config.Parse(fmt.Sprintf("host=127.0.0.1 port=%d dbname=postgres sslmode=disable", primary.Port()))
	other := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: standby.Port()}
	var fe *config.FieldError
	if _, err := c.ConnConfigAt(ctx, other); !errors.As(err, &fe) || fe.Field != "Host" {
		t.Fatalf("an address of no host: %v", err)
	}
}

package config_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

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
	down := pgtest.StartCluster(t)
	downPort := down.Port()
	if err := down.Stop(); err != nil {
		t.Fatal(err)
	}
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

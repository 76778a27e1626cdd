package config_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/config"
)

func TestReplicasParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dsn  string
		want []config.Replica
		lag  time.Duration
		wait time.Duration
	}{
		{"none", "postgres://u@h/d", nil, 5 * time.Second, 100 * time.Millisecond},
		{"hosts and ports", "postgres://u@h/d?replicas=r1:5433,r2,[::1]:5434,/var/run/pg&replica_max_lag=2s&replica_wait_budget=30ms&replica_check_period=200ms",
			[]config.Replica{{Host: "r1", Port: 5433, Weight: 1}, {Host: "r2", Weight: 1}, {Host: "::1", Port: 5434, Weight: 1},
				{Host: "/var/run/pg", Weight: 1}}, 2 * time.Second, 30 * time.Millisecond},
		// replica_weights before and after replicas: map order must not matter.
		{"weights first", "host=h dbname=d replica_weights=3,1 replicas=r1:1,r2:2",
			[]config.Replica{{Host: "r1", Port: 1, Weight: 3}, {Host: "r2", Port: 2, Weight: 1}}, 5 * time.Second, 100 * time.Millisecond},
		{"weights last", "host=h dbname=d replicas=r1:1,r2:2 replica_weights=1,4",
			[]config.Replica{{Host: "r1", Port: 1, Weight: 1}, {Host: "r2", Port: 2, Weight: 4}}, 5 * time.Second, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse(tc.dsn)
			if err != nil {
				t.Fatal(err)
			}
			r := c.Replicas
			if len(r.Servers) != len(tc.want) {
				t.Fatalf("servers %+v, want %+v", r.Servers, tc.want)
			}
			for i := range tc.want {
				if r.Servers[i] != tc.want[i] {
					t.Errorf("server %d = %+v, want %+v", i, r.Servers[i], tc.want[i])
				}
			}
			if r.MaxLag != tc.lag || r.WaitBudget != tc.wait {
				t.Errorf("lag %v wait %v, want %v %v", r.MaxLag, r.WaitBudget, tc.lag, tc.wait)
			}
			if _, ok := c.RuntimeParams["replicas"]; ok {
				t.Error("replicas went to the server as a runtime parameter")
			}
		})
	}
}

func TestReplicasInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dsn, field, key string
	}{
		{"postgres://u@h/d?replicas=r1:0", "Replicas.Servers", "replicas"},
		{"postgres://u@h/d?replicas=r1:x", "Replicas.Servers", "replicas"},
		{"postgres://u@h/d?replicas=r1,,r2", "Replicas.Servers", "replicas"},
		{"postgres://u@h/d?replicas=r1,r2&replica_weights=1", "Replicas.Servers", ""},
		{"postgres://u@h/d?replica_weights=1", "Replicas.Servers", ""},
		{"postgres://u@h/d?replicas=r1&replica_weights=0", "Replicas.Servers", "replica_weights"},
		{"postgres://u@h/d?replicas=r1&replica_weights=x", "Replicas.Servers", "replica_weights"},
		{"postgres://u@h/d?replicas=r1:5,r1:5", "Replicas.Servers[1]", ""},
		{"postgres://u@h/d?replica_max_lag=soon", "Replicas.MaxLag", "replica_max_lag"},
		{"postgres://u@h/d?replica_wait_budget=-1s", "Replicas.WaitBudget", ""},
		{"postgres://u@h/d?replicas=r1&replica_max_lag=1s&replica_check_period=800ms", "Replicas.CheckPeriod", ""},
	} {
		_, err := config.Parse(tc.dsn)
		var fe *config.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, config.ErrInvalid) {
			t.Errorf("%s: err = %v, want a FieldError", tc.dsn, err)
			continue
		}
		if !strings.HasPrefix(fe.Field, tc.field) || (tc.key != "" && fe.Key != tc.key) {
			t.Errorf("%s: field %q key %q, want %q %q (%v)", tc.dsn, fe.Field, fe.Key, tc.field, tc.key, err)
		}
	}
}

func TestForReplica(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("postgres://app:secret@primary:5432/shop?sslmode=disable&target_session_attrs=read-write&replicas=r1:6000,r2")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"r1:6000", "r2:5432"} {
		rc, err := c.ForReplica(i)
		if err != nil {
			t.Fatal(err)
		}
		if len(rc.Replicas.Servers) != 0 || rc.Database != "shop" || rc.User != "app" || rc.Password.Reveal() != "secret" {
			t.Errorf("replica %d config %v", i, rc)
		}
		cc, err := rc.ConnConfig()
		if err != nil {
			t.Fatal(err)
		}
		if got := cc.Host + ":" + strconv.Itoa(int(cc.Port)); got != want {
			t.Errorf("replica %d connects to %s, want %s", i, got, want)
		}
		if cc.ValidateConnect != nil {
			t.Errorf("replica %d keeps target_session_attrs=read-write, which a standby fails", i)
		}
	}
	if _, err := c.ForReplica(2); !errors.Is(err, config.ErrInvalid) {
		t.Errorf("ForReplica(2) = %v", err)
	}
	// Several primary candidates (target_session_attrs picks the
	// writable one; a replica may be listed among them): the replica
	// takes the first host's settings, every TLS variant retargeted.
	multi, err := config.Parse("postgres://u@a:1,b:2/d?sslmode=prefer&target_session_attrs=read-write&replicas=r:3")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := multi.ForReplica(0)
	if err != nil {
		t.Fatalf("ForReplica of a multi-host primary: %v", err)
	}
	cc, err := rc.ConnConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cc.Host != "r" || cc.Port != 3 || cc.ValidateConnect != nil || len(cc.Fallbacks) == 0 {
		t.Errorf("replica of a multi-host primary: %s:%d, %d fallbacks", cc.Host, cc.Port, len(cc.Fallbacks))
	}
	for _, f := range cc.Fallbacks {
		if f.Host != "r" || f.Port != 3 {
			t.Errorf("replica of a multi-host primary falls back to %s:%d", f.Host, f.Port)
		}
	}
}

package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Replica is one streaming standby of the primary that read-only
// transactions may use. It is reached with the primary's settings
// (database, login role, password, TLS files, runtime parameters) on
// another host and port.
type Replica struct {
	Host   string // host name, IP address or socket directory
	Port   int    // 0: the primary's Port
	Weight int    // share of the reads relative to the other replicas; default 1
}

// Replicas are the read replicas beside the primary and how uno uses them.
// With no Servers, every transaction runs on the primary.
type Replicas struct {
	Servers []Replica
	// MaxLag is the most a replica may lag behind the primary and stay in
	// rotation, and the staleness bound of a bounded-staleness read.
	// Default 5s.
	MaxLag time.Duration
	// WaitBudget is how long a read-your-writes read waits for a replica
	// to replay the caller's last commit before it runs on the primary
	// instead. Default 100ms.
	WaitBudget time.Duration
	// CheckPeriod is how often the health checker samples the primary's
	// WAL position and each replica's recovery state and replay position.
	// It must be well under MaxLag (at most half). Default 500ms.
	CheckPeriod time.Duration

	weights []int // replica_weights parsed before replicas
}

// withDefaults fills the unset replica settings.
func (r Replicas) withDefaults() Replicas {
	if r.MaxLag == 0 {
		r.MaxLag = 5 * time.Second
	}
	if r.WaitBudget == 0 {
		r.WaitBudget = 100 * time.Millisecond
	}
	if r.CheckPeriod == 0 {
		r.CheckPeriod = 500 * time.Millisecond
	}
	if len(r.Servers) > 0 {
		r.Servers = append([]Replica(nil), r.Servers...)
		for i := range r.Servers {
			if r.Servers[i].Weight == 0 {
				r.Servers[i].Weight = 1
			}
		}
	}
	return r
}

// validate reports the first invalid replica setting, as a *FieldError.
func (r Replicas) validate() error {
	switch {
	case len(r.weights) > 0:
		return fieldErr("Replicas.Servers", "replica_weights lists %d weights but no replicas are given", len(r.weights))
	case r.MaxLag < 0:
		return fieldErr("Replicas.MaxLag", "must not be negative")
	case r.WaitBudget < 0:
		return fieldErr("Replicas.WaitBudget", "must not be negative")
	case r.CheckPeriod < 0:
		return fieldErr("Replicas.CheckPeriod", "must not be negative")
	case len(r.Servers) > 0 && r.CheckPeriod > r.MaxLag/2:
		return fieldErr("Replicas.CheckPeriod", "%v must be at most half of Replicas.MaxLag %v", r.CheckPeriod, r.MaxLag)
	}
	seen := map[string]int{}
	for i, s := range r.Servers {
		field := "Replicas.Servers[" + strconv.Itoa(i) + "]"
		switch {
		case strings.TrimSpace(s.Host) == "":
			return fieldErr(field+".Host", "must not be empty")
		case strings.ContainsAny(s.Host, ",\x00"):
			return fieldErr(field+".Host", "holds a comma or NUL byte: give one host per replica")
		case s.Port < 0 || s.Port > 65535:
			return fieldErr(field+".Port", "%d is outside 1..65535 (0: the primary's port)", s.Port)
		case s.Weight < 1:
			return fieldErr(field+".Weight", "%d must be at least 1", s.Weight)
		case s.Weight > 1000:
			return fieldErr(field+".Weight", "%d is more than 1000", s.Weight)
		}
		k := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
		if j, ok := seen[k]; ok {
			return fieldErr(field, "%s is also Replicas.Servers[%d]", k, j)
		}
		seen[k] = i
	}
	return nil
}

// setReplicaKey applies one replica key of a connection string.
func (c *Config) setReplicaKey(key, val, from string) error {
	fe := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Key: from, Reason: fmt.Sprintf(format, args...)}
	}
	r := &c.Replicas
	switch key {
	case "replicas":
		servers, err := ParseReplicaHosts(val)
		if err != nil {
			return fe("Replicas.Servers", "%v", err)
		}
		r.Servers = servers
	case "replica_weights":
		var ws []int
		for _, part := range strings.Split(val, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil || n < 1 {
				return fe("Replicas.Servers", "weight %q is not a number of at least 1", part)
			}
			ws = append(ws, n)
		}
		r.weights = ws
	case "replica_max_lag":
		return setDuration(&r.MaxLag, fe, "Replicas.MaxLag", val)
	case "replica_wait_budget":
		return setDuration(&r.WaitBudget, fe, "Replicas.WaitBudget", val)
	case "replica_check_period":
		return setDuration(&r.CheckPeriod, fe, "Replicas.CheckPeriod", val)
	}
	if len(r.weights) > 0 && len(r.Servers) > 0 {
		if len(r.weights) != len(r.Servers) {
			return fe("Replicas.Servers", "replica_weights lists %d weights for %d replicas", len(r.weights), len(r.Servers))
		}
		for i, w := range r.weights {
			r.Servers[i].Weight = w
		}
		r.weights = nil
	}
	return nil
}

// ParseReplicaHosts reads a comma-separated list of replicas, each a host
// (the primary's port), host:port, [ipv6]:port or socket directory, as in
// the "replicas" connection-string key.
func ParseReplicaHosts(s string) ([]Replica, error) {
	var out []Replica
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("replica %d is empty", i+1)
		}
		var r Replica
		switch {
		case strings.HasPrefix(part, "/"):
			r.Host = part
		case strings.HasPrefix(part, "[") || strings.Count(part, ":") == 1:
			host, port, err := net.SplitHostPort(part)
			if err != nil {
				return nil, fmt.Errorf("replica %d: %q is not host:port", i+1, part)
			}
			n, err := strconv.Atoi(port)
			if err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("replica %d: port %q is not a number in 1..65535", i+1, port)
			}
			r.Host, r.Port = host, n
		default:
			r.Host = part // a bare host, or an IPv6 address without port
		}
		out = append(out, r)
	}
	return out, nil
}

// ForReplica returns the settings for connecting to replica i of
// c.Replicas.Servers: c's settings on the replica's host and port (the
// primary's port when the replica gives none), without replicas of its own
// and without a target_session_attrs check (a standby is read-only). Of a
// primary parsed with several hosts, the first host's settings are used.
func (c Config) ForReplica(i int) (Config, error) {
	c = c.WithDefaults()
	if i < 0 || i >= len(c.Replicas.Servers) {
		return Config{}, fieldErr("Replicas.Servers", "no replica %d", i)
	}
	s := c.Replicas.Servers[i]
	if c.pg != nil {
		c.pg = c.pg.Copy()
		c.pg.ValidateConnect = nil
		if len(endpoints(&c.pg.Config)) > 1 {
			// Several primary candidates (a standby may be one): keep
			// the first host's settings only (its TLS variants), to be
			// moved to the replica's host and port below.
			first := c.pg.Fallbacks[:0:0]
			for _, f := range c.pg.Fallbacks {
				if f.Host == c.pg.Host && f.Port == c.pg.Port {
					first = append(first, f)
				}
			}
			c.pg.Fallbacks = first
		}
	}
	c.Host = s.Host
	if s.Port != 0 {
		c.Port = s.Port
	}
	c.Replicas = Replicas{}
	return c, nil
}

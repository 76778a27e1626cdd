package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Parse builds a Config from a URL (postgres://user:password@host:port/db?…)
// or a libpq keyword/value string (host=… port=… dbname=…), fills defaults
// and validates it. Errors name the field and never echo the password.
//
// Besides libpq's own keys (host, port, dbname, user, password, sslmode,
// application_name, connect_timeout in seconds) it understands uno's:
// schema, statement_timeout (a Go duration or milliseconds),
// default_query_exec_mode, pool_max_conns, pool_min_conns,
// pool_max_conn_lifetime, pool_max_conn_idle_time, pool_health_check_period,
// pool_acquire_timeout, retry_max_attempts, and the role overrides
// login_role, reader_role, writer_role, admin_role, base_role. Any other key
// becomes a runtime parameter sent to the server.
func Parse(dsn string) (Config, error) {
	var c Config
	if err := c.apply(dsn); err != nil {
		return Config{}, err
	}
	return finish(c)
}

// FromEnv builds a Config from the environment: the libpq variables PGHOST,
// PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE, PGAPPNAME and
// PGCONNECT_TIMEOUT first, then DATABASE_URL, whose settings win where both
// say something. Host defaults to "localhost".
func FromEnv() (Config, error) {
	var c Config
	pairs := []struct{ env, key string }{
		{"PGHOST", "host"}, {"PGPORT", "port"}, {"PGDATABASE", "dbname"}, {"PGUSER", "user"},
		{"PGPASSWORD", "password"}, {"PGSSLMODE", "sslmode"}, {"PGAPPNAME", "application_name"},
		{"PGCONNECT_TIMEOUT", "connect_timeout"},
	}
	for _, p := range pairs {
		if v, ok := os.LookupEnv(p.env); ok && v != "" {
			if err := c.set(p.key, v); err != nil {
				return Config{}, fmt.Errorf("%w (from %s)", err, p.env)
			}
		}
	}
	if dsn := os.Getenv("DATABASE_URL"); dsn != "" {
		if err := c.apply(dsn); err != nil {
			return Config{}, fmt.Errorf("%w (from DATABASE_URL)", err)
		}
	}
	if c.Host == "" {
		c.Host = "localhost"
	}
	return finish(c)
}

func finish(c Config) (Config, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// apply parses dsn over c.
func (c *Config) apply(dsn string) error {
	dsn = strings.TrimSpace(dsn)
	if dsn == "" {
		return fieldErr("DSN", "is empty")
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return c.applyURL(dsn)
	}
	if strings.Contains(dsn, "://") {
		return fieldErr("DSN", "URL scheme must be postgres or postgresql")
	}
	return c.applyKeywords(dsn)
}

func (c *Config) applyURL(dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		// url.Error repeats the whole URL, password included: never show it.
		return fieldErr("DSN", "does not parse as a URL (check that special characters in the user or password are percent-encoded)")
	}
	if u.User != nil {
		if name := u.User.Username(); name != "" {
			c.User = name
		}
		if pw, ok := u.User.Password(); ok {
			c.Password = Secret(pw)
		}
	}
	if u.Host != "" {
		if strings.Contains(u.Host, ",") {
			return fieldErr("Host", "several hosts are not supported")
		}
		host, port := u.Host, ""
		if h, p, err := net.SplitHostPort(u.Host); err == nil {
			host, port = h, p
		} else if strings.HasSuffix(host, "]") {
			host = strings.Trim(host, "[]")
		}
		if host != "" {
			c.Host = host
		}
		if port != "" {
			if err := c.set("port", port); err != nil {
				return err
			}
		}
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		c.Database = db
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fieldErr("DSN", "query string does not parse")
	}
	for k, vs := range q {
		if len(vs) == 0 {
			continue
		}
		if err := c.set(k, vs[len(vs)-1]); err != nil {
			return err
		}
	}
	return nil
}

// applyKeywords parses libpq's keyword/value form: key=value pairs separated
// by spaces, values optionally in single quotes with \' and \\ escapes.
func (c *Config) applyKeywords(dsn string) error {
	s := dsn
	for {
		s = strings.TrimLeft(s, " \t\n\r")
		if s == "" {
			return nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return fieldErr("DSN", "expected key=value")
		}
		key := strings.TrimSpace(s[:eq])
		if strings.ContainsAny(key, " \t") {
			return fieldErr("DSN", "expected key=value near %q", firstWord(key))
		}
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val strings.Builder
		if strings.HasPrefix(s, "'") {
			s = s[1:]
			closed := false
			for i := 0; i < len(s); i++ {
				switch s[i] {
				case '\\':
					if i+1 < len(s) {
						i++
						val.WriteByte(s[i])
					}
				case '\'':
					s = s[i+1:]
					closed = true
				default:
					val.WriteByte(s[i])
					continue
				}
				if closed {
					break
				}
			}
			if !closed {
				return fieldErr("DSN", "unterminated quoted value for %q", key)
			}
		} else {
			end := strings.IndexAny(s, " \t\n\r")
			if end < 0 {
				end = len(s)
			}
			raw := s[:end]
			s = s[end:]
			for i := 0; i < len(raw); i++ {
				if raw[i] == '\\' && i+1 < len(raw) {
					i++
				}
				val.WriteByte(raw[i])
			}
		}
		if err := c.set(key, val.String()); err != nil {
			return err
		}
	}
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i]
	}
	return s
}

// set applies one key. Errors for the password never include its value.
func (c *Config) set(key, val string) error {
	var err error
	switch key {
	case "host":
		if strings.Contains(val, ",") {
			return fieldErr("Host", "several hosts are not supported")
		}
		c.Host = val
	case "port":
		c.Port, err = strconv.Atoi(val)
		if err != nil {
			return fieldErr("Port", "%q is not a number", val)
		}
		if c.Port < 1 || c.Port > 65535 {
			return fieldErr("Port", "%d is outside 1..65535", c.Port)
		}
	case "dbname", "database":
		c.Database = val
	case "user":
		c.User = val
	case "password":
		c.Password = Secret(val)
	case "sslmode":
		c.SSLMode = val
	case "application_name":
		c.ApplicationName = val
	case "schema", "search_path":
		c.Schema = val
	case "connect_timeout":
		c.ConnectTimeout, err = parseDuration(val, time.Second)
		if err != nil {
			return fieldErr("ConnectTimeout", "%q is not seconds or a duration", val)
		}
	case "statement_timeout":
		c.StatementTimeout, err = parseDuration(val, time.Millisecond)
		if err != nil {
			return fieldErr("StatementTimeout", "%q is not milliseconds or a duration", val)
		}
	case "default_query_exec_mode":
		c.QueryExecMode = val
	case "pool_max_conns":
		return setInt(&c.Pool.MaxConns, "Pool.MaxConns", val)
	case "pool_min_conns":
		return setInt(&c.Pool.MinConns, "Pool.MinConns", val)
	case "retry_max_attempts":
		return setInt(&c.Retry.MaxAttempts, "Retry.MaxAttempts", val)
	case "pool_max_conn_lifetime":
		return setDuration(&c.Pool.MaxConnLifetime, "Pool.MaxConnLifetime", val)
	case "pool_max_conn_idle_time":
		return setDuration(&c.Pool.MaxConnIdleTime, "Pool.MaxConnIdleTime", val)
	case "pool_health_check_period":
		return setDuration(&c.Pool.HealthCheckPeriod, "Pool.HealthCheckPeriod", val)
	case "pool_acquire_timeout":
		return setDuration(&c.Pool.AcquireTimeout, "Pool.AcquireTimeout", val)
	case "login_role":
		c.Roles.Login = val
	case "reader_role":
		c.Roles.Reader = val
	case "writer_role":
		c.Roles.Writer = val
	case "admin_role":
		c.Roles.Admin = val
	case "base_role":
		c.Roles.Base = val
	default:
		if c.RuntimeParams == nil {
			c.RuntimeParams = map[string]string{}
		}
		c.RuntimeParams[key] = val
	}
	return nil
}

func setInt(dst *int, field, val string) error {
	n, err := strconv.Atoi(val)
	if err != nil {
		return fieldErr(field, "%q is not a number", val)
	}
	*dst = n
	return nil
}

func setDuration(dst *time.Duration, field, val string) error {
	d, err := time.ParseDuration(val)
	if err != nil {
		return fieldErr(field, "%q is not a duration such as 30s", val)
	}
	*dst = d
	return nil
}

// parseDuration reads a Go duration, or a bare number in unit.
func parseDuration(val string, unit time.Duration) (time.Duration, error) {
	if n, err := strconv.Atoi(val); err == nil {
		return time.Duration(n) * unit, nil
	}
	return time.ParseDuration(val)
}

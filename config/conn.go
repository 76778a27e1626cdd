package config

import (
	"context"
	"crypto/tls"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgpassfile"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uno-db/uno/quote"
)

// Setting is one server setting, by name.
type Setting struct {
	Name  string
	Value string
}

// pgbouncerTracked are the startup parameters PgBouncer keeps per client
// and accepts in the startup message; it refuses any other.
var pgbouncerTracked = map[string]bool{
	"application_name": true, "client_encoding": true, "datestyle": true, "timezone": true,
	"standard_conforming_strings": true,
}

// SearchPath is the search_path uno sets when Schema is given: the schema,
// quoted, then public. Empty when Schema is empty.
func (c Config) SearchPath() string {
	if c.Schema == "" {
		return ""
	}
	return quote.Ident(c.Schema) + ", public"
}

// serverSettings returns every server setting of c: RuntimeParams, then
// search_path and statement_timeout from Schema and StatementTimeout.
func (c Config) settings() map[string]string {
	out := maps.Clone(c.RuntimeParams)
	if out == nil {
		out = map[string]string{}
	}
	if sp := c.SearchPath(); sp != "" {
		out["search_path"] = sp
	}
	if c.StatementTimeout > 0 {
		out["statement_timeout"] = strconv.FormatInt(c.StatementTimeout.Milliseconds(), 10)
	}
	return out
}

// TxSettings returns the server settings that cannot go in the startup
// message and must be applied at the start of every transaction with
// set_config(name, value, true). Behind PgBouncer (Pooler "pgbouncer") these
// are search_path (from Schema), statement_timeout (from StatementTimeout)
// and every RuntimeParams entry PgBouncer does not track; for a direct
// connection there are none (they are sent at connect). Sorted by name.
func (c Config) TxSettings() []Setting {
	if c.Pooler != PoolerPgBouncer {
		return nil
	}
	var out []Setting
	for k, v := range c.settings() {
		if !pgbouncerTracked[strings.ToLower(k)] {
			out = append(out, Setting{Name: k, Value: v})
		}
	}
	slices.SortFunc(out, func(a, b Setting) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// StartupParams returns the server settings sent in the startup message:
// application_name and, for a direct connection, every other setting
// (RuntimeParams, search_path, statement_timeout); behind PgBouncer only
// those it tracks (see [Config.TxSettings] for the rest).
func (c Config) StartupParams() map[string]string {
	out := map[string]string{}
	for k, v := range c.settings() {
		if c.Pooler != PoolerPgBouncer || pgbouncerTracked[strings.ToLower(k)] {
			out[k] = v
		}
	}
	if c.ApplicationName != "" {
		out["application_name"] = c.ApplicationName
	}
	return out
}

// Hosts returns the host:port pairs c connects to, in the order they are
// tried.
func (c Config) Hosts() []string {
	if c.pg != nil && c.Host == c.pgHost && c.Port == c.pgPort {
		return endpoints(&c.pg.Config)
	}
	var out []string
	for _, h := range strings.Split(c.Host, ",") {
		out = append(out, net.JoinHostPort(h, strconv.Itoa(c.Port)))
	}
	return out
}

// ConnConfig returns a fresh pgx connection configuration for c, for
// pgx.ConnectConfig, with defaults filled in: a deep copy of the parsed
// settings with c's fields applied over them (see [Config]), and the
// startup parameters of [Config.StartupParams]. When Password is empty the
// password file is consulted for the final host, port, database and user,
// as libpq does. It does not connect. Errors are *FieldError values.
func (c Config) ConnConfig() (*pgx.ConnConfig, error) {
	c = c.WithDefaults()
	var cc *pgx.ConnConfig
	if c.pg != nil {
		if c.SSLMode != c.tlsMode {
			return nil, fieldErr("SSLMode", "changed from %q after parsing, but the TLS settings were built for it: parse a connection string with the new sslmode", c.tlsMode)
		}
		cc = c.pg.Copy()
		if c.Host != c.pgHost || c.Port != c.pgPort {
			if len(endpoints(&c.pg.Config)) > 1 {
				return nil, fieldErr("Host", "changed after parsing several hosts: parse a connection string with the new hosts")
			}
			retarget(&cc.Config, c.Host, uint16(c.Port))
		}
	} else {
		// A Config built in code: pgx builds the TLS settings for its
		// sslmode, host and port, with libpq's environment (PGSSLROOTCERT,
		// …) under them, as libpq would.
		var err error
		cc, err = pgx.ParseConfig("host=" + kwQuote(c.Host) + " port=" + strconv.Itoa(c.Port) + " sslmode=" + kwQuote(c.SSLMode))
		if err != nil {
			return nil, pgxError(err)
		}
		cc.Password = os.Getenv("PGPASSWORD")
	}
	cc.Database = c.Database
	cc.User = c.User
	if c.Password != "" {
		cc.Password = c.Password.Reveal()
	} else if c.pg != nil {
		cc.Password = c.pg.Password
	}
	if cc.Password == "" {
		cc.Password = c.passwordFromFile(cc)
	}
	cc.ConnectTimeout = c.ConnectTimeout
	cc.RuntimeParams = c.StartupParams()
	cc.DefaultQueryExecMode = execMode(c.QueryExecMode)
	return cc, nil
}

// PoolConfig returns a fresh pgxpool configuration for c: [Config.ConnConfig]
// and the pool sizes and lifetimes of c.Pool. The caller may set hooks
// (AfterConnect, BeforeAcquire, …) before pgxpool.NewWithConfig.
func (c Config) PoolConfig() (*pgxpool.Config, error) {
	c = c.WithDefaults()
	cc, err := c.ConnConfig()
	if err != nil {
		return nil, err
	}
	// pgxpool only accepts a configuration made by its ParseConfig. Parse a
	// placeholder (a socket directory, so no TLS file is read), then put
	// the real connection configuration in.
	pc, err := pgxpool.ParseConfig("host=/nonexistent sslmode=disable")
	if err != nil {
		return nil, pgxError(err)
	}
	pc.ConnConfig = cc
	pc.MaxConns = int32(c.Pool.MaxConns)
	pc.MinConns = int32(c.Pool.MinConns)
	pc.MaxConnLifetime = c.Pool.MaxConnLifetime
	pc.MaxConnIdleTime = c.Pool.MaxConnIdleTime
	pc.HealthCheckPeriod = c.Pool.HealthCheckPeriod
	return pc, nil
}

// retarget points a single-host configuration at another host and port,
// keeping its TLS variants (sslmode prefer and allow try two), and the
// name verify-full checks.
func retarget(pc *pgconn.Config, host string, port uint16) {
	oldHost := pc.Host
	pc.Host, pc.Port = host, port
	if pc.TLSConfig != nil && pc.TLSConfig.ServerName == oldHost {
		pc.TLSConfig.ServerName = host
	}
	for _, f := range pc.Fallbacks {
		f.Host, f.Port = host, port
		if f.TLSConfig != nil && f.TLSConfig.ServerName == oldHost {
			f.TLSConfig.ServerName = host
		}
	}
}

// passwordFromFile looks the password up in libpq's password file.
func (c Config) passwordFromFile(cc *pgx.ConnConfig) string {
	path := c.passfile
	if path == "" {
		path = os.Getenv("PGPASSFILE")
	}
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		path = filepath.Join(home, ".pgpass")
	}
	pf, err := pgpassfile.ReadPassfile(path)
	if err != nil {
		return ""
	}
	host := cc.Host
	if network, _ := pgconn.NetworkAddress(cc.Host, cc.Port); network == "unix" {
		host = "localhost"
	}
	return pf.FindPassword(host, strconv.Itoa(int(cc.Port)), cc.Database, cc.User)
}

// kwQuote quotes a value for a libpq keyword/value string.
func kwQuote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

func execMode(s string) pgx.QueryExecMode {
	switch s {
	case "cache_describe":
		return pgx.QueryExecModeCacheDescribe
	case "describe_exec":
		return pgx.QueryExecModeDescribeExec
	case "exec":
		return pgx.QueryExecModeExec
	}
	return pgx.QueryExecModeCacheStatement
}

// Connect opens one pgx connection with [Config.ConnConfig].
func (c Config) Connect(ctx context.Context) (*pgx.Conn, error) {
	cc, err := c.ConnConfig()
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cc)
}

// NewPool opens a plain pgx pool with [Config.PoolConfig]; uno's engine
// adds its own hooks and should be preferred.
func (c Config) NewPool(ctx context.Context) (*pgxpool.Pool, error) {
	pc, err := c.PoolConfig()
	if err != nil {
		return nil, err
	}
	return pgxpool.NewWithConfig(ctx, pc)
}

// ConnConfigAt returns a fresh pgx connection configuration like
// [Config.ConnConfig], pinned to the one server a connection of c reached:
// addr is that connection's remote address (pgconn's
// PgConn().Conn().RemoteAddr()). Host names of c are resolved with pgx's
// resolver to find which host addr belongs to; the result connects to addr
// itself, with that host's TLS settings (verify-full still checks the
// host's name) and no target_session_attrs check, so it reaches the same
// server even if its role changed. Use it for a question only that server
// can answer, such as the outcome of a transaction it ran. The error is a
// *FieldError when addr matches no host of c.
func (c Config) ConnConfigAt(ctx context.Context, addr net.Addr) (*pgx.ConnConfig, error) {
	cc, err := c.ConnConfig()
	if err != nil {
		return nil, err
	}
	type endpoint struct {
		host string
		port uint16
		tls  *tls.Config
	}
	all := []endpoint{{cc.Host, cc.Port, cc.TLSConfig}}
	for _, f := range cc.Fallbacks {
		all = append(all, endpoint{f.Host, f.Port, f.TLSConfig})
	}
	var match []endpoint
	var matched endpoint // the host of c that addr belongs to
	want := addr.String()
	for _, e := range all {
		if len(match) > 0 {
			// The TLS variants of the matched host (sslmode prefer, allow).
			if e.host == matched.host && e.port == matched.port {
				match = append(match, endpoint{match[0].host, e.port, e.tls})
			}
			continue
		}
		network, a := pgconn.NetworkAddress(e.host, e.port)
		if network == "unix" {
			if addr.Network() == "unix" && a == want {
				match, matched = append(match, e), e
			}
			continue
		}
		if addr.Network() != "tcp" {
			continue
		}
		ips := []string{e.host}
		if net.ParseIP(e.host) == nil {
			if ips, err = cc.LookupFunc(ctx, e.host); err != nil {
				continue
			}
		}
		for _, ip := range ips {
			if net.JoinHostPort(ip, strconv.Itoa(int(e.port))) == want {
				match, matched = append(match, endpoint{ip, e.port, e.tls}), e
				break
			}
		}
	}
	if len(match) == 0 {
		return nil, fieldErr("Host", "%s is not an address of %s", want, strings.Join(c.Hosts(), ","))
	}
	cc.Host, cc.Port, cc.TLSConfig = match[0].host, match[0].port, match[0].tls
	cc.Fallbacks = nil
	for _, e := range match[1:] {
		cc.Fallbacks = append(cc.Fallbacks, &pgconn.FallbackConfig{Host: e.host, Port: e.port, TLSConfig: e.tls})
	}
	cc.ValidateConnect = nil
	return cc, nil
}

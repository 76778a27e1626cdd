package config

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgservicefile"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Parse builds a Config from a URL (postgres://user:password@host:port/db?…)
// or a libpq keyword/value string (host=… port=… dbname=…), fills defaults
// and validates it. The connection settings are parsed by pgx
// (pgx.ParseConfig), so every key and environment variable libpq and pgx
// accept works, with libpq's precedence: the string over the service file
// over the PG* environment variables. Errors are *FieldError values naming
// the field and the key; they never echo the password, and every check of
// the input (key names, ports, sslmode, target_session_attrs, certificate
// and key files) happens before any connection is tried.
//
// Besides libpq's and pgx's keys it understands uno's own: schema (or
// search_path), statement_timeout (milliseconds or a Go duration), pooler,
// pool_max_conns, pool_min_conns, pool_max_conn_lifetime,
// pool_max_conn_idle_time, pool_health_check_period, pool_acquire_timeout,
// retry_max_attempts, and the role overrides login_role, reader_role,
// writer_role, admin_role, base_role. Any other key must be a server
// setting a client may send at connect (such as timezone or work_mem, or a
// custom setting with a dot in its name); it is sent as a runtime parameter.
// An unknown key is an error.
//
// A host is required: in the string, in PGHOST or in a service.
func Parse(dsn string) (Config, error) {
	if strings.TrimSpace(dsn) == "" {
		return Config{}, fieldErr("DSN", "is empty")
	}
	c, err := parse(dsn, "")
	if err != nil {
		return Config{}, err
	}
	if c.Host == "" {
		return Config{}, fieldErr("Host", "must not be empty")
	}
	return finish(c)
}

// FromEnv builds a Config from the environment: DATABASE_URL when set, over
// libpq's variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD,
// PGSSLMODE, PGSSLROOTCERT, PGSERVICE, PGTARGETSESSIONATTRS, …), which fill
// what the URL leaves out. Without any host, libpq's default applies (the
// local socket directory when it exists, else localhost).
func FromEnv() (Config, error) {
	dsn := os.Getenv("DATABASE_URL")
	c, err := parse(dsn, "DATABASE_URL")
	if err != nil {
		return Config{}, err
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

// setting is one key=value of a connection string, with where it came from
// (the key itself, or an environment variable, for error messages).
type setting struct {
	key, val, from string
}

// libpqKeys are the connection-string keys pgconn and pgx understand.
var libpqKeys = map[string]bool{
	"host": true, "port": true, "database": true, "dbname": true, "user": true, "password": true,
	"passfile": true, "connect_timeout": true, "sslmode": true, "sslkey": true, "sslcert": true,
	"sslcertmode": true, "sslrootcert": true, "sslnegotiation": true, "sslpassword": true, "sslsni": true,
	"krbspn": true, "krbsrvname": true, "target_session_attrs": true, "service": true, "servicefile": true,
	"min_protocol_version": true, "max_protocol_version": true, "channel_binding": true, "require_auth": true,
	"application_name": true, "fallback_application_name": true, "options": true,
	"default_query_exec_mode": true, "statement_cache_capacity": true, "description_cache_capacity": true,
}

// unoKeys are uno's own keys; pgx never sees them as runtime parameters.
var unoKeys = map[string]bool{
	"schema": true, "search_path": true, "statement_timeout": true, "pooler": true,
	"pool_max_conns": true, "pool_min_conns": true, "pool_max_conn_lifetime": true,
	"pool_max_conn_idle_time": true, "pool_health_check_period": true, "pool_acquire_timeout": true,
	"retry_max_attempts": true, "login_role": true, "reader_role": true, "writer_role": true,
	"admin_role": true, "base_role": true,
	"replicas": true, "replica_weights": true, "replica_max_lag": true, "replica_wait_budget": true, "replica_check_period": true,
}

// unsupportedKeys are libpq keys pgx does not implement; sending them to
// the server would fail the connection with a less helpful message.
var unsupportedKeys = map[string]bool{
	"hostaddr": true, "keepalives": true, "keepalives_idle": true, "keepalives_interval": true,
	"keepalives_count": true, "tcp_user_timeout": true, "gssencmode": true, "gsslib": true,
	"gssdelegation": true, "sslcompression": true, "sslcrl": true, "sslcrldir": true,
	"ssl_min_protocol_version": true, "ssl_max_protocol_version": true, "requirepeer": true,
	"replication": true, "load_balance_hosts": true, "requiressl": true, "scram_client_key": true,
}

// envKeys maps libpq's environment variables to their keys, as pgconn reads
// them.
var envKeys = []struct{ env, key string }{
	{"PGHOST", "host"}, {"PGPORT", "port"}, {"PGDATABASE", "database"}, {"PGUSER", "user"},
	{"PGPASSWORD", "password"}, {"PGPASSFILE", "passfile"}, {"PGAPPNAME", "application_name"},
	{"PGCONNECT_TIMEOUT", "connect_timeout"}, {"PGSSLMODE", "sslmode"}, {"PGSSLKEY", "sslkey"},
	{"PGSSLCERT", "sslcert"}, {"PGSSLCERTMODE", "sslcertmode"}, {"PGSSLSNI", "sslsni"},
	{"PGSSLROOTCERT", "sslrootcert"}, {"PGSSLPASSWORD", "sslpassword"}, {"PGSSLNEGOTIATION", "sslnegotiation"},
	{"PGTARGETSESSIONATTRS", "target_session_attrs"}, {"PGSERVICE", "service"}, {"PGSERVICEFILE", "servicefile"},
	{"PGTZ", "timezone"}, {"PGOPTIONS", "options"}, {"PGMINPROTOCOLVERSION", "min_protocol_version"},
	{"PGMAXPROTOCOLVERSION", "max_protocol_version"}, {"PGCHANNELBINDING", "channel_binding"},
	{"PGREQUIREAUTH", "require_auth"},
}

var targetSessionAttrs = []string{"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}

// parse reads dsn (which may be empty) with libpq's environment and service
// file under it, checks every setting, and builds the Config from pgx's
// parse. source names where dsn came from, for messages ("DATABASE_URL").
func parse(dsn, source string) (Config, error) {
	wrap := func(err error) error {
		var fe *FieldError
		if source == "" || os.Getenv(source) == "" || errors.As(err, &fe) && strings.HasPrefix(fe.Key, "PG") {
			return err // not from source: the key names the variable
		}
		return fmt.Errorf("%w (from %s)", err, source)
	}
	var fromString []setting
	if strings.TrimSpace(dsn) != "" {
		var err error
		if fromString, err = splitDSN(dsn); err != nil {
			return Config{}, wrap(err)
		}
	}
	for i, s := range fromString {
		if err := checkKey(s); err != nil {
			if i > 0 && strings.HasSuffix(fromString[i-1].key, "password") && !strings.HasPrefix(dsn, "postgres") {
				// Most likely the rest of an unquoted password with a space:
				// do not show it.
				return Config{}, wrap(&FieldError{Field: "DSN", Reason: "unknown key after " +
					fromString[i-1].key + " (quote a value that holds spaces)"})
			}
			return Config{}, wrap(err)
		}
	}
	given := map[string]setting{}
	for _, e := range envKeys {
		if v := os.Getenv(e.env); v != "" {
			given[e.key] = setting{key: e.key, val: v, from: e.env}
		}
	}
	put := func(list []setting) {
		for _, s := range list {
			k := s.key
			if k == "dbname" {
				k = "database"
			}
			s.key = k
			given[k] = s
		}
	}
	put(fromString)
	if svc, ok := given["service"]; ok {
		list, err := serviceSettings(given, svc)
		if err != nil {
			return Config{}, wrap(err)
		}
		for _, s := range list {
			if err := checkKey(s); err != nil {
				return Config{}, wrap(err)
			}
		}
		put(list)
		put(fromString) // the string wins over the service
	}
	if err := checkValues(given); err != nil {
		return Config{}, wrap(err)
	}

	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return Config{}, wrap(pgxError(err))
	}
	var c Config
	for _, s := range given {
		if err := c.setUno(s); err != nil {
			return Config{}, wrap(err)
		}
	}
	// Settings pgx sent to RuntimeParams that are uno's, or libpq's
	// fallback_application_name, never go to the server as such.
	for k := range cc.RuntimeParams {
		if unoKeys[k] || k == "fallback_application_name" {
			delete(cc.RuntimeParams, k)
		}
	}
	c.ApplicationName = cc.RuntimeParams["application_name"]
	if c.ApplicationName == "" {
		c.ApplicationName = given["fallback_application_name"].val
	}
	delete(cc.RuntimeParams, "application_name")
	if _, ok := given["user"]; !ok {
		cc.User = "" // uno's default is the database's login role, not the OS user
	}
	if _, ok := given["password"]; !ok {
		cc.Password = "" // looked up in the password file for the final user, at connect
	}
	if _, ok := given["host"]; ok || source != "" {
		c.Host = hostList(cc) // FromEnv without a host: libpq's default
	}
	c.Port = int(cc.Port)
	c.Database = cc.Database
	c.User = cc.User
	c.Password = Secret(cc.Password)
	c.SSLMode = given["sslmode"].val
	if c.SSLMode == "" {
		c.SSLMode = "prefer"
	}
	if given["sslrootcert"].val == "system" {
		c.SSLMode = "verify-full"
	}
	c.ConnectTimeout = cc.ConnectTimeout
	if m, ok := given["default_query_exec_mode"]; ok {
		c.QueryExecMode = m.val
	}
	if len(cc.RuntimeParams) > 0 {
		c.RuntimeParams = make(map[string]string, len(cc.RuntimeParams))
		for k, v := range cc.RuntimeParams {
			c.RuntimeParams[k] = v
		}
	}
	c.pg = cc
	c.tlsMode = c.SSLMode
	c.pgHost = c.Host
	c.pgPort = c.Port
	c.passfile = given["passfile"].val
	c.src = fingerprint(dsn, given)
	return c, nil
}

// hostList is the host setting as libpq writes it: the host of each
// endpoint (host and port) of cc and its fallbacks, in order, joined by
// commas.
func hostList(cc *pgx.ConnConfig) string {
	var hosts []string
	for _, e := range endpoints(&cc.Config) {
		h, _, _ := net.SplitHostPort(e)
		hosts = append(hosts, h)
	}
	return strings.Join(hosts, ",")
}

// endpoints are the distinct host:port pairs of pc and its fallbacks, in
// the order pgconn tries them.
func endpoints(pc *pgconn.Config) []string {
	out := []string{net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port)))}
	for _, f := range pc.Fallbacks {
		if e := net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port))); !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// fingerprintKey keys the settings fingerprint with a secret of this
// process, so the fingerprint (which covers the password) cannot be used to
// guess the password offline.
var fingerprintKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}()

// fingerprint identifies the parsed settings, for Equal.
func fingerprint(dsn string, given map[string]setting) [32]byte {
	h := hmac.New(sha256.New, fingerprintKey)
	h.Write([]byte(dsn))
	keys := make([]string, 0, len(given))
	for k := range given {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "\x00%s=%s", k, given[k].val)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// pgxError turns a pgconn parse error into a FieldError without the
// connection string pgconn quotes (redacted only on a best-effort basis).
func pgxError(err error) error {
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		if inner := pce.Unwrap(); inner != nil {
			return &FieldError{Field: "DSN", Reason: "rejected by pgx: " + inner.Error(), Err: inner}
		}
		return &FieldError{Field: "DSN", Reason: "rejected by pgx"}
	}
	return &FieldError{Field: "DSN", Reason: "rejected by pgx", Err: err}
}

// checkKey refuses keys that neither libpq, pgx, uno nor the server know.
func checkKey(s setting) error {
	k := s.key
	switch {
	case libpqKeys[k], unoKeys[k], serverSettings[k]:
		return nil
	case unsupportedKeys[k]:
		return &FieldError{Field: "DSN", Key: s.from, Reason: "libpq's " + strconv.Quote(k) + " is not supported by pgx"}
	case strings.Contains(k, ".") && validSettingName(k):
		return nil // a custom setting, such as app.tenant
	}
	return &FieldError{Field: "DSN", Key: s.from, Reason: "unknown key " + strconv.Quote(k)}
}

func validSettingName(k string) bool {
	if k == "" || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// checkValues checks the libpq settings pgx would otherwise refuse with a
// message that does not name the key, or accept and fail at connect.
func checkValues(given map[string]setting) error {
	bad := func(key, field, format string, args ...any) error {
		return &FieldError{Field: field, Key: given[key].from, Reason: fmt.Sprintf(format, args...)}
	}
	if h, ok := given["host"]; ok {
		if strings.ContainsRune(h.val, 0) {
			return bad("host", "Host", "contains a NUL byte")
		}
	}
	if p, ok := given["port"]; ok {
		hosts := 1
		if h, ok := given["host"]; ok {
			hosts = len(strings.Split(h.val, ","))
		}
		ports := strings.Split(p.val, ",")
		if len(ports) != 1 && len(ports) != hosts {
			return bad("port", "Port", "%d ports for %d hosts", len(ports), hosts)
		}
		for _, ps := range ports {
			if ps == "" && len(ports) > 1 {
				continue
			}
			n, err := strconv.Atoi(ps)
			if err != nil {
				return bad("port", "Port", "%q is not a number", ps)
			}
			if n < 1 || n > 65535 {
				return bad("port", "Port", "%d is outside 1..65535", n)
			}
		}
	}
	mode := given["sslmode"].val
	if s, ok := given["sslmode"]; ok && !slices.Contains(sslModes, s.val) {
		return bad("sslmode", "SSLMode", "%q is not one of %s", s.val, strings.Join(sslModes, ", "))
	}
	if s, ok := given["target_session_attrs"]; ok && !slices.Contains(targetSessionAttrs, s.val) {
		return bad("target_session_attrs", "target_session_attrs", "%q is not one of %s", s.val, strings.Join(targetSessionAttrs, ", "))
	}
	if s, ok := given["default_query_exec_mode"]; ok && !slices.Contains(execModes, s.val) {
		if s.val == "simple_protocol" {
			return bad("default_query_exec_mode", "QueryExecMode", "simple_protocol interpolates values on the client; uno refuses it")
		}
		return bad("default_query_exec_mode", "QueryExecMode", "%q is not one of %s", s.val, strings.Join(execModes, ", "))
	}
	if s, ok := given["connect_timeout"]; ok {
		if n, err := strconv.Atoi(s.val); err != nil || n < 0 {
			return bad("connect_timeout", "ConnectTimeout", "%q is not a whole number of seconds", s.val)
		}
	}
	if mode == "disable" {
		return nil
	}
	if s, ok := given["sslrootcert"]; ok && s.val != "system" {
		b, err := readFile(s.val)
		if err != nil {
			return bad("sslrootcert", "sslrootcert", "%v", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return bad("sslrootcert", "sslrootcert", "%s holds no PEM certificate", s.val)
		}
	}
	if given["sslcertmode"].val == "disable" {
		return nil
	}
	cert, hasCert := given["sslcert"]
	key, hasKey := given["sslkey"]
	var certPEM, keyPEM []byte
	var err error
	if hasCert {
		if certPEM, err = readFile(cert.val); err != nil {
			return bad("sslcert", "sslcert", "%v", err)
		}
		if b, _ := pem.Decode(certPEM); b == nil {
			return bad("sslcert", "sslcert", "%s holds no PEM certificate", cert.val)
		}
	}
	if hasKey {
		if keyPEM, err = readFile(key.val); err != nil {
			return bad("sslkey", "sslkey", "%v", err)
		}
		b, _ := pem.Decode(keyPEM)
		if b == nil {
			return bad("sslkey", "sslkey", "%s holds no PEM key", key.val)
		}
		//lint:ignore SA1019 libpq's encrypted keys use this legacy PEM format, as pgconn does.
		encrypted := x509.IsEncryptedPEMBlock(b) //nolint:staticcheck
		if hasCert && !encrypted {
			if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
				return bad("sslkey", "sslkey", "does not match sslcert or does not parse: %v", err)
			}
		}
	}
	if hasCert != hasKey {
		if hasCert {
			return bad("sslcert", "sslkey", "sslcert is set without sslkey")
		}
		return bad("sslkey", "sslcert", "sslkey is set without sslcert")
	}
	return nil
}

// readFile reads a certificate or key file and says why it cannot.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("file %q does not exist", path)
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("file %q cannot be read: permission denied", path)
	case err != nil:
		return nil, fmt.Errorf("file %q cannot be read: %w", path, err)
	}
	return b, nil
}

// serviceSettings reads the settings of the service named in given from
// the service file, as pgconn does.
func serviceSettings(given map[string]setting, svc setting) ([]setting, error) {
	path := given["servicefile"].val
	if path == "" {
		if home, err := os.UserHomeDir(); err == nil {
			path = filepath.Join(home, ".pg_service.conf")
		}
	}
	sf, err := pgservicefile.ReadServicefile(path)
	if err != nil {
		return nil, &FieldError{Field: "DSN", Key: svc.from, Reason: fmt.Sprintf("service file %q cannot be read", path), Err: err}
	}
	s, err := sf.GetService(svc.val)
	if err != nil {
		return nil, &FieldError{Field: "DSN", Key: svc.from, Reason: fmt.Sprintf("service %q is not in %q", svc.val, path)}
	}
	out := make([]setting, 0, len(s.Settings))
	for k, v := range s.Settings {
		if k == "dbname" {
			k = "database"
		}
		out = append(out, setting{key: k, val: v, from: "service " + svc.val})
	}
	slices.SortFunc(out, func(a, b setting) int { return strings.Compare(a.key, b.key) })
	return out, nil
}

// splitDSN reads a URL or keyword/value string into its settings, in order.
// Errors never include values.
func splitDSN(dsn string) ([]setting, error) {
	dsn = strings.TrimSpace(dsn)
	if strings.ContainsRune(dsn, 0) {
		return nil, fieldErr("DSN", "contains a NUL byte")
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return splitURL(dsn)
	}
	if strings.Contains(dsn, "://") {
		return nil, fieldErr("DSN", "URL scheme must be postgres or postgresql")
	}
	return splitKeywords(dsn)
}

// splitURL reads a postgres:// URL the way libpq (and pgconn) do: user and
// password before the last '@' ahead of the path, a comma-separated list of
// host[:port] (IPv6 in brackets), the database as the path, then
// &-separated query pairs; every part percent-decoded ('+' stays '+').
func splitURL(dsn string) ([]setting, error) {
	var out []setting
	add := func(k, v string) { out = append(out, setting{key: k, val: v, from: k}) }
	decode := func(part, what string) (string, error) {
		v, err := url.PathUnescape(part)
		if err != nil {
			// Never show the text: it may be (part of) the password.
			return "", fieldErr("DSN", "the %s in the URL is not valid percent-encoding", what)
		}
		return v, nil
	}
	p, ok := strings.CutPrefix(dsn, "postgresql://")
	if !ok {
		p, _ = strings.CutPrefix(dsn, "postgres://")
	}
	if i := strings.IndexAny(p, "@/"); i >= 0 && p[i] == '@' {
		user, password, hasPassword := strings.Cut(p[:i], ":")
		p = p[i+1:]
		if user != "" {
			v, err := decode(user, "user")
			if err != nil {
				return nil, err
			}
			add("user", v)
		}
		if hasPassword && password != "" {
			v, err := decode(password, "password")
			if err != nil {
				return nil, err
			}
			add("password", v)
		}
	}
	var hosts, ports []string
	anyHost, anyPort := false, false
	for {
		var host, port string
		if strings.HasPrefix(p, "[") {
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return nil, fieldErr("DSN", "an IPv6 host in the URL lacks its closing ]")
			}
			host, p = p[1:end], p[end+1:]
			if p != "" && !strings.ContainsRune(":/?,", rune(p[0])) {
				return nil, fieldErr("DSN", "unexpected character after an IPv6 host in the URL")
			}
		} else {
			i := strings.IndexAny(p, ":/?,")
			if i < 0 {
				i = len(p)
			}
			host, p = p[:i], p[i:]
		}
		if strings.HasPrefix(p, ":") {
			i := strings.IndexAny(p[1:], "/?,")
			if i < 0 {
				i = len(p) - 1
			}
			port, p = p[1:i+1], p[i+1:]
			anyPort = anyPort || port != ""
		}
		anyHost = anyHost || host != ""
		hosts, ports = append(hosts, host), append(ports, port)
		if !strings.HasPrefix(p, ",") {
			break
		}
		p = p[1:]
	}
	if anyHost {
		v, err := decode(strings.Join(hosts, ","), "host")
		if err != nil {
			return nil, err
		}
		add("host", v)
	}
	if anyPort {
		v, err := decode(strings.Join(ports, ","), "port")
		if err != nil {
			return nil, err
		}
		add("port", v)
	}
	if strings.HasPrefix(p, "/") {
		db, rest, _ := strings.Cut(p[1:], "?")
		p = ""
		if rest != "" || strings.Contains(dsn, "?") {
			p = "?" + rest
		}
		if db != "" {
			v, err := decode(db, "database name")
			if err != nil {
				return nil, err
			}
			add("database", v)
		}
	}
	if strings.HasPrefix(p, "?") {
		for _, pair := range strings.Split(p[1:], "&") {
			if pair == "" {
				continue
			}
			rk, rv, found := strings.Cut(pair, "=")
			if !found || strings.Contains(rv, "=") {
				return nil, fieldErr("DSN", "a URL query parameter is not key=value")
			}
			k, err := decode(rk, "query key")
			if err != nil {
				return nil, err
			}
			v, err := decode(rv, "value of "+strconv.Quote(k))
			if err != nil {
				return nil, err
			}
			if k == "ssl" && v == "true" {
				k, v = "sslmode", "require"
			}
			add(k, v)
		}
	} else if p != "" {
		return nil, fieldErr("DSN", "unexpected text after the hosts in the URL")
	}
	return out, nil
}

// splitKeywords parses libpq's keyword/value form: key=value pairs
// separated by spaces, values optionally in single quotes with \' and \\
// escapes.
func splitKeywords(dsn string) ([]setting, error) {
	var out []setting
	s := dsn
	for {
		s = strings.TrimLeft(s, " \t\n\r\f\v")
		if s == "" {
			return out, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fieldErr("DSN", "expected key=value")
		}
		key := strings.TrimSpace(s[:eq])
		if key == "" || strings.ContainsAny(key, " \t\n\r\f\v'\\") {
			return nil, fieldErr("DSN", "expected key=value (after %d settings)", len(out))
		}
		s = strings.TrimLeft(s[eq+1:], " \t\n\r\f\v")
		var val strings.Builder
		if strings.HasPrefix(s, "'") {
			s = s[1:]
			closed := false
			for i := 0; i < len(s) && !closed; i++ {
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
				}
			}
			if !closed {
				return nil, &FieldError{Field: "DSN", Key: key, Reason: "unterminated quoted value for " + strconv.Quote(key)}
			}
		} else {
			// Up to the first space not escaped by a backslash, as libpq.
			end := 0
			for ; end < len(s) && !strings.ContainsRune(" \t\n\r\f\v", rune(s[end])); end++ {
				if s[end] == '\\' {
					end++
					if end == len(s) {
						break // a trailing backslash is dropped
					}
				}
				val.WriteByte(s[end])
			}
			s = s[min(end, len(s)):]
		}
		if key == "user" && val.Len() == 0 {
			continue // libpq ignores an empty user
		}
		out = append(out, setting{key: key, val: val.String(), from: key})
	}
}

// setUno applies one of uno's keys (others are pgx's and ignored here).
func (c *Config) setUno(s setting) error {
	fe := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Key: s.from, Reason: fmt.Sprintf(format, args...)}
	}
	var err error
	val := s.val
	switch s.key {
	case "schema", "search_path":
		c.Schema = val
	case "statement_timeout":
		c.StatementTimeout, err = parseDuration(val, time.Millisecond)
		if err != nil {
			return fe("StatementTimeout", "%q is not milliseconds or a duration", val)
		}
	case "pooler":
		c.Pooler = val
	case "pool_max_conns":
		return setInt(&c.Pool.MaxConns, fe, "Pool.MaxConns", val)
	case "pool_min_conns":
		return setInt(&c.Pool.MinConns, fe, "Pool.MinConns", val)
	case "retry_max_attempts":
		return setInt(&c.Retry.MaxAttempts, fe, "Retry.MaxAttempts", val)
	case "pool_max_conn_lifetime":
		return setDuration(&c.Pool.MaxConnLifetime, fe, "Pool.MaxConnLifetime", val)
	case "pool_max_conn_idle_time":
		return setDuration(&c.Pool.MaxConnIdleTime, fe, "Pool.MaxConnIdleTime", val)
	case "pool_health_check_period":
		return setDuration(&c.Pool.HealthCheckPeriod, fe, "Pool.HealthCheckPeriod", val)
	case "pool_acquire_timeout":
		return setDuration(&c.Pool.AcquireTimeout, fe, "Pool.AcquireTimeout", val)
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
	case "replicas", "replica_weights", "replica_max_lag", "replica_wait_budget", "replica_check_period":
		return c.setReplicaKey(s.key, val, s.from)
	}
	return nil
}

func setInt(dst *int, fe func(string, string, ...any) error, field, val string) error {
	n, err := strconv.Atoi(val)
	if err != nil {
		return fe(field, "%q is not a number", val)
	}
	*dst = n
	return nil
}

func setDuration(dst *time.Duration, fe func(string, string, ...any) error, field, val string) error {
	d, err := time.ParseDuration(val)
	if err != nil {
		return fe(field, "%q is not a duration such as 30s", val)
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

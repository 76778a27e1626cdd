package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Secret is a string that never prints: fmt, slog and encoding/json all show
// it as "********" (or "" when empty). Use [Secret.Reveal] to read it.
//
// fmt cannot call these methods on a value in an unexported struct field
// (it prints such fields raw): a type that keeps a Secret or a [Config] in
// an unexported field must redact itself with String, Format and LogValue
// methods of its own.
type Secret string

const redacted = "********"

// Reveal returns the secret text.
func (s Secret) Reveal() string { return string(s) }

// String returns a redacted form.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns a redacted form for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format redacts the secret for every fmt verb.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		_, _ = f.Write([]byte(strconv.Quote(s.String())))
		return
	}
	_, _ = f.Write([]byte(s.String()))
}

// LogValue redacts the secret in log/slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts the secret in encoding/json and similar encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Roles are the uno roles of one database. The application logs in as Login
// (the only LOGIN role, NOINHERIT) and switches, per transaction, to Reader,
// Writer or Admin. Base is the role the others are members of.
type Roles struct {
	Login  string
	Reader string
	Writer string
	Admin  string
	Base   string
}

// DefaultRoles derives uno's role names from a database name:
// <db>_login, <db>_reader, <db>_writer, <db>_admin and <db>_base_role.
func DefaultRoles(database string) Roles {
	return Roles{
		Login:  database + "_login",
		Reader: database + "_reader",
		Writer: database + "_writer",
		Admin:  database + "_admin",
		Base:   database + "_base_role",
	}
}

// Pool holds the connection pool settings.
type Pool struct {
	MaxConns          int           // most connections open at once; default max(4, GOMAXPROCS)
	MinConns          int           // connections kept open when idle; default 0
	MaxConnLifetime   time.Duration // a connection older than this is closed; default 1h
	MaxConnIdleTime   time.Duration // an idle connection older than this is closed; default 30m
	HealthCheckPeriod time.Duration // how often idle connections are checked; default 1m
	AcquireTimeout    time.Duration // how long borrowing may wait, retries included; 0: only the caller's ctx
}

// Retry is the policy for retrying transient failures: connecting (always)
// and whole transactions (only where the caller opts in).
type Retry struct {
	MaxAttempts  int           // attempts in all, the first included; default 4
	InitialDelay time.Duration // delay before the second attempt; default 25ms
	MaxDelay     time.Duration // largest delay between attempts; default 1s
	Multiplier   float64       // growth of the delay per attempt; default 2
	// MaxElapsed is the retry budget as a time: connecting (borrowing a
	// connection, or starting a transaction on one found dead) is retried
	// until it has taken this long, and a transaction with Retry set is
	// not run again once this long has passed since its first attempt.
	// The caller's context bounds it further. Default 10s, long enough to
	// ride out a fast server restart.
	MaxElapsed time.Duration
	// ResolveBudget bounds the lookup of a transaction's outcome after the
	// connection was lost with COMMIT in flight: the lookup retries, with
	// backoff, while the server refuses connections or starts up, and
	// answers "unknown" when this long has passed. Default 10s.
	ResolveBudget time.Duration
}

// Delay returns the backoff before attempt n (n ≥ 2: the second attempt
// waits InitialDelay), before jitter, capped at MaxDelay.
func (r Retry) Delay(n int) time.Duration {
	d := float64(r.InitialDelay)
	for i := 2; i < n; i++ {
		d *= r.Multiplier
		if d >= float64(r.MaxDelay) {
			return r.MaxDelay
		}
	}
	if time.Duration(d) > r.MaxDelay {
		return r.MaxDelay
	}
	return time.Duration(d)
}

// SSL modes accepted in [Config.SSLMode], as in libpq.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// Query execution modes accepted in [Config.QueryExecMode]. pgx's
// "simple_protocol" mode is refused: it interpolates values into the SQL text
// on the client.
var execModes = []string{"cache_statement", "cache_describe", "describe_exec", "exec"}

// PoolerPgBouncer is the [Config.Pooler] value for PgBouncer in transaction
// mode.
const PoolerPgBouncer = "pgbouncer"

// Config is uno's ConnectionConfig: libpq's connection settings, parsed by
// pgx, and uno's own settings beside them. The zero value is not usable;
// start from [Parse], [FromEnv] or a struct literal passed through
// [Config.WithDefaults].
//
// A Config is a value and copies safely: the parsed pgx configuration it
// holds is never changed after parsing, and [Config.ConnConfig] hands out a
// fresh deep copy. RuntimeParams is a map, shared by copies: replace it
// rather than editing it in place.
//
// Host, Port, Database, User, Password, SSLMode, ApplicationName and
// ConnectTimeout are views of the parsed settings that may be changed:
// [Config.ConnConfig] applies them over the parsed configuration (a
// changed Host or Port retargets a single-host configuration, TLS server
// name included). Settings without a field here (sslrootcert, sslcert,
// sslkey, passfile, service, target_session_attrs, several hosts, …) come
// only from parsing. Changing Database does not change the role names
// derived from the old one: use [Config.ForDatabase], or [Config.Validate]
// reports it.
type Config struct {
	// Host is libpq's host setting: one host name, IP address or socket
	// directory, or several separated by commas (tried in order, see
	// target_session_attrs).
	Host            string
	Port            int // of the first host; default 5432
	Database        string
	User            string // the login role; default Roles.Login (<db>_login)
	Password        Secret // empty: libpq's password file (passfile, PGPASSFILE, ~/.pgpass)
	Schema          string // first entry of search_path; empty keeps the server's
	SSLMode         string // libpq sslmode; default "prefer"
	ApplicationName string // shown in pg_stat_activity; default "uno"

	ConnectTimeout   time.Duration // per connection attempt; default 10s
	StatementTimeout time.Duration // server-side statement_timeout; 0: server default

	// QueryExecMode is pgx's default query execution mode; default
	// "cache_statement", or "cache_describe" behind PgBouncer (it works on
	// every version; "cache_statement" needs PgBouncer 1.21 or later with
	// max_prepared_statements set). "simple_protocol" is refused.
	QueryExecMode string

	// RuntimeParams are extra server settings sent at connect, such as
	// "timezone". Keys are setting names.
	RuntimeParams map[string]string

	// Pooler says what sits between uno and the server: "" for a direct
	// connection, or "pgbouncer" for PgBouncer in transaction mode, where
	// only the settings PgBouncer tracks go in the startup message and the
	// others are applied per transaction (see [Config.TxSettings]).
	Pooler string

	Roles    Roles // default DefaultRoles(Database)
	Pool     Pool
	Retry    Retry
	Replicas Replicas // read replicas beside the primary; see replicas.go

	pg          *pgx.ConnConfig // pgx's parse; never changed afterwards, so copies may share it
	src         [32]byte        // fingerprint of the parsed settings, for Equal
	tlsMode     string          // the sslmode pg's TLS settings were built for
	pgHost      string          // Host and Port as parsed, to see changes
	pgPort      int
	passfile    string // the passfile setting, when given
	rolesFrom   string // the database WithDefaults derived role names from
	userDerived bool   // WithDefaults set User to the derived login role
}

// FieldError reports an invalid configuration field. It matches
// [ErrInvalid] under errors.Is.
type FieldError struct {
	Field  string // the Config field, such as "Port" or "Pool.MaxConns", or a libpq key without a field, such as "sslrootcert"
	Key    string // the connection-string key, environment variable or service the value came from; empty for a field set in code
	Reason string
	Err    error // the underlying error, if any
}

// ErrInvalid is matched by every validation error.
var ErrInvalid = errors.New("config: invalid configuration")

func (e *FieldError) Error() string {
	msg := "config: " + e.Field
	if e.Key != "" && e.Key != e.Field {
		msg += " (" + e.Key + ")"
	}
	return msg + ": " + e.Reason
}

// Is reports whether target is ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// WithDefaults returns c with every unset field given its default. It does
// not validate.
func (c Config) WithDefaults() Config {
	if c.Port == 0 {
		c.Port = 5432
	}
	if c.SSLMode == "" {
		c.SSLMode = "prefer"
	}
	if c.ApplicationName == "" {
		c.ApplicationName = "uno"
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.QueryExecMode == "" {
		c.QueryExecMode = "cache_statement"
		if c.Pooler == PoolerPgBouncer {
			c.QueryExecMode = "cache_describe"
		}
	}
	def := DefaultRoles(c.Database)
	derived := false
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
			derived = true
		}
	}
	fill(&c.Roles.Login, def.Login)
	fill(&c.Roles.Reader, def.Reader)
	fill(&c.Roles.Writer, def.Writer)
	fill(&c.Roles.Admin, def.Admin)
	fill(&c.Roles.Base, def.Base)
	if derived && c.rolesFrom == "" {
		c.rolesFrom = c.Database
	}
	if c.User == "" {
		c.User = c.Roles.Login
		c.userDerived = c.Roles.Login == DefaultRoles(c.rolesFrom).Login && c.rolesFrom != ""
	}
	if c.Pool.MaxConns == 0 {
		c.Pool.MaxConns = max(4, runtime.GOMAXPROCS(0))
	}
	if c.Pool.MaxConnLifetime == 0 {
		c.Pool.MaxConnLifetime = time.Hour
	}
	if c.Pool.MaxConnIdleTime == 0 {
		c.Pool.MaxConnIdleTime = 30 * time.Minute
	}
	if c.Pool.HealthCheckPeriod == 0 {
		c.Pool.HealthCheckPeriod = time.Minute
	}
	if c.Retry.MaxAttempts == 0 {
		c.Retry.MaxAttempts = 4
	}
	if c.Retry.InitialDelay == 0 {
		c.Retry.InitialDelay = 25 * time.Millisecond
	}
	if c.Retry.MaxDelay == 0 {
		c.Retry.MaxDelay = time.Second
	}
	if c.Retry.Multiplier == 0 {
		c.Retry.Multiplier = 2
	}
	if c.Retry.MaxElapsed == 0 {
		c.Retry.MaxElapsed = 10 * time.Second
	}
	if c.Retry.ResolveBudget == 0 {
		c.Retry.ResolveBudget = 10 * time.Second
	}
	c.Replicas = c.Replicas.withDefaults()
	return c
}

// ForDatabase returns c for another database on the same server: Database
// is name, every role name that was derived from the old database name is
// derived from name instead (names given explicitly stay), and so is User
// when it was the derived login role. The parsed connection settings are
// deep-copied.
func (c Config) ForDatabase(name string) Config {
	c = c.WithDefaults()
	from := c.rolesFrom
	if from == "" {
		from = c.Database
	}
	old, def := DefaultRoles(from), DefaultRoles(name)
	swap := func(dst *string, o, n string) {
		if *dst == o {
			*dst = n
		}
	}
	swap(&c.Roles.Login, old.Login, def.Login)
	swap(&c.Roles.Reader, old.Reader, def.Reader)
	swap(&c.Roles.Writer, old.Writer, def.Writer)
	swap(&c.Roles.Admin, old.Admin, def.Admin)
	swap(&c.Roles.Base, old.Base, def.Base)
	if c.userDerived && c.User == old.Login {
		c.User = c.Roles.Login
	}
	c.Database = name
	c.rolesFrom = name
	if c.pg != nil {
		c.pg = c.pg.Copy()
	}
	if c.RuntimeParams != nil {
		c.RuntimeParams = maps.Clone(c.RuntimeParams)
	}
	return c
}

// Equal reports whether c and o hold the same settings: the same fields and
// the same parsed connection settings (parsed from the same string and
// environment).
func (c Config) Equal(o Config) bool {
	if c.src != o.src || (c.pg == nil) != (o.pg == nil) {
		return false
	}
	c.pg, o.pg = nil, nil
	return reflect.DeepEqual(c, o)
}

// reservedRoles are names PostgreSQL gives a meaning of their own.
var reservedRoles = []string{"public", "none", "current_user", "session_user", "current_role"}

// Validate reports the first invalid field, as a *FieldError.
func (c Config) Validate() error {
	switch {
	case strings.TrimSpace(c.Host) == "":
		return fieldErr("Host", "must not be empty")
	case strings.ContainsRune(c.Host, 0):
		return fieldErr("Host", "contains a NUL byte")
	case c.Port < 1 || c.Port > 65535:
		return fieldErr("Port", "%d is outside 1..65535", c.Port)
	case c.Database == "":
		return fieldErr("Database", "must not be empty")
	case c.User == "":
		return fieldErr("User", "must not be empty")
	case !slices.Contains(sslModes, c.SSLMode):
		return fieldErr("SSLMode", "%q is not one of %s", c.SSLMode, strings.Join(sslModes, ", "))
	case c.pg != nil && c.SSLMode != c.tlsMode:
		return fieldErr("SSLMode", "changed from %q after parsing, but the TLS settings were built for it: parse a connection string with the new sslmode", c.tlsMode)
	case c.pg != nil && c.Host != c.pgHost && len(endpoints(&c.pg.Config)) > 1:
		return fieldErr("Host", "changed after parsing several hosts: parse a connection string with the new hosts")
	case c.QueryExecMode == "simple_protocol":
		return fieldErr("QueryExecMode", "simple_protocol interpolates values on the client; uno refuses it")
	case !slices.Contains(execModes, c.QueryExecMode):
		return fieldErr("QueryExecMode", "%q is not one of %s", c.QueryExecMode, strings.Join(execModes, ", "))
	case c.Pooler != "" && c.Pooler != PoolerPgBouncer:
		return fieldErr("Pooler", "%q is not \"\" or %q", c.Pooler, PoolerPgBouncer)
	case c.ConnectTimeout < 0:
		return fieldErr("ConnectTimeout", "must not be negative")
	case c.StatementTimeout < 0:
		return fieldErr("StatementTimeout", "must not be negative")
	case c.Pool.MaxConns < 1:
		return fieldErr("Pool.MaxConns", "%d must be at least 1", c.Pool.MaxConns)
	case c.Pool.MaxConns > 1<<20:
		return fieldErr("Pool.MaxConns", "%d is too large", c.Pool.MaxConns)
	case c.Pool.MinConns < 0:
		return fieldErr("Pool.MinConns", "%d must not be negative", c.Pool.MinConns)
	case c.Pool.MinConns > c.Pool.MaxConns:
		return fieldErr("Pool.MinConns", "%d exceeds Pool.MaxConns %d", c.Pool.MinConns, c.Pool.MaxConns)
	case c.Pool.MaxConnLifetime < 0:
		return fieldErr("Pool.MaxConnLifetime", "must not be negative")
	case c.Pool.MaxConnIdleTime < 0:
		return fieldErr("Pool.MaxConnIdleTime", "must not be negative")
	case c.Pool.HealthCheckPeriod < 0:
		return fieldErr("Pool.HealthCheckPeriod", "must not be negative")
	case c.Pool.AcquireTimeout < 0:
		return fieldErr("Pool.AcquireTimeout", "must not be negative")
	case c.Retry.MaxAttempts < 1:
		return fieldErr("Retry.MaxAttempts", "%d must be at least 1", c.Retry.MaxAttempts)
	case c.Retry.InitialDelay < 0:
		return fieldErr("Retry.InitialDelay", "must not be negative")
	case c.Retry.MaxDelay < c.Retry.InitialDelay:
		return fieldErr("Retry.MaxDelay", "must be at least Retry.InitialDelay")
	case c.Retry.Multiplier < 1:
		return fieldErr("Retry.Multiplier", "%v must be at least 1", c.Retry.Multiplier)
	case c.Retry.MaxElapsed < 0:
		return fieldErr("Retry.MaxElapsed", "must not be negative")
	case c.Retry.ResolveBudget < 0:
		return fieldErr("Retry.ResolveBudget", "must not be negative")
	}
	for _, r := range []struct{ field, name string }{
		{"Roles.Login", c.Roles.Login}, {"Roles.Reader", c.Roles.Reader}, {"Roles.Writer", c.Roles.Writer},
		{"Roles.Admin", c.Roles.Admin}, {"Roles.Base", c.Roles.Base},
	} {
		if r.name == "" {
			return fieldErr(r.field, "must not be empty")
		}
		if len(r.name) > 63 {
			return fieldErr(r.field, "%q is longer than PostgreSQL's 63-byte limit", r.name)
		}
		if strings.ContainsRune(r.name, 0) {
			return fieldErr(r.field, "contains a NUL byte")
		}
		lower := strings.ToLower(r.name)
		if slices.Contains(reservedRoles, lower) || strings.HasPrefix(lower, "pg_") {
			return fieldErr(r.field, "%q is a name PostgreSQL reserves", r.name)
		}
	}
	if from := c.rolesFrom; from != "" && from != c.Database {
		old := DefaultRoles(from)
		if c.Roles.Login == old.Login || c.Roles.Reader == old.Reader || c.Roles.Writer == old.Writer ||
			c.Roles.Admin == old.Admin || c.Roles.Base == old.Base || (c.userDerived && c.User == old.Login) {
			return fieldErr("Database", "changed from %q, but the role names (and login) derived from it were kept: use ForDatabase", from)
		}
	}
	for k := range c.RuntimeParams {
		if k == "" || strings.ContainsAny(k, " ='\\\x00") {
			return fieldErr("RuntimeParams", "%q is not a setting name", k)
		}
		if k == "default_query_exec_mode" && c.RuntimeParams[k] == "simple_protocol" {
			return fieldErr("RuntimeParams", "simple_protocol interpolates values on the client; uno refuses it")
		}
	}
	return c.Replicas.validate()
}

// Key identifies the pool a Config selects: server, database and login
// role. Two configs with the same Key share one pool in a factory.
type Key struct {
	Host     string // the host, or every host:port when there are several
	Port     int
	Database string
	User     string
}

// Key returns the pool key of c.
func (c Config) Key() Key {
	host := c.Host
	if c.pg != nil && c.Host == c.pgHost {
		if eps := endpoints(&c.pg.Config); len(eps) > 1 {
			host = strings.Join(eps, ",")
		}
	}
	return Key{Host: host, Port: c.Port, Database: c.Database, User: c.User}
}

// String describes the key as user@host:port/database.
func (k Key) String() string {
	if strings.Contains(k.Host, ",") {
		return fmt.Sprintf("%s@%s/%s", k.User, k.Host, k.Database)
	}
	return fmt.Sprintf("%s@%s/%s", k.User, net.JoinHostPort(k.Host, strconv.Itoa(k.Port)), k.Database)
}

// String describes c without its password.
func (c Config) String() string {
	pooler := ""
	if c.Pooler != "" {
		pooler = "&pooler=" + c.Pooler
	}
	host := c.Key().Host
	if !strings.Contains(host, ",") {
		host = net.JoinHostPort(host, strconv.Itoa(c.Port))
	}
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=%s&application_name=%s%s (password %s)",
		c.User, host, c.Database, c.SSLMode, c.ApplicationName, pooler, passwordState(c.Password))
}

// GoString describes c without its password, for %#v.
func (c Config) GoString() string { return "config.Config{" + c.String() + "}" }

// Format describes c without its password, for every fmt verb.
func (c Config) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue describes c in log/slog output without its password.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", c.Key().Host), slog.Int("port", c.Port), slog.String("database", c.Database),
		slog.String("user", c.User), slog.String("password", passwordState(c.Password)),
		slog.String("sslmode", c.SSLMode), slog.String("application_name", c.ApplicationName),
		slog.String("pooler", c.Pooler), slog.Int("max_conns", c.Pool.MaxConns),
	)
}

func passwordState(s Secret) string {
	if s == "" {
		return "unset"
	}
	return redacted
}

// ConnString renders the connection part of c (host, port, database, user,
// password, sslmode, application name) as a libpq keyword/value string. It
// holds the password in clear: pass it to pgx, never to a log.
//
// Deprecated: a string loses every setting it does not list (TLS files,
// target_session_attrs, runtime parameters, …). Use [Config.ConnConfig]
// for pgx.ConnectConfig and [Config.PoolConfig] for pgxpool.
func (c Config) ConnString() string {
	var b strings.Builder
	kv := func(k, v string) {
		b.WriteString(k)
		b.WriteString("='")
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' || v[i] == '\'' {
				b.WriteByte('\\')
			}
			b.WriteByte(v[i])
		}
		b.WriteString("' ")
	}
	kv("host", c.Host)
	kv("port", strconv.Itoa(c.Port))
	kv("dbname", c.Database)
	kv("user", c.User)
	if c.Password != "" {
		kv("password", c.Password.Reveal())
	}
	kv("sslmode", c.SSLMode)
	kv("application_name", c.ApplicationName)
	return strings.TrimSpace(b.String())
}

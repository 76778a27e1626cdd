package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/internal/pgcluster"
)

// hostilePW is a password that must never appear in any output.
const hostilePW = `Zq'9 "pw\x\\ ; --=,@`

func pki(t *testing.T) *pgcluster.PKI {
	t.Helper()
	p, err := pgcluster.NewPKI(t.TempDir(), "app", "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func kw(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// TestLibpqKeys: keys libpq knows and the old hand-written parser did not
// reach pgx's configuration instead of the server's runtime parameters.
func TestLibpqKeys(t *testing.T) {
	t.Parallel()
	p := pki(t)
	dsn := "host=db1.example,db2.example port=5433,5434 dbname=shop user=app password=" + kw(hostilePW) +
		" sslmode=verify-full sslrootcert=" + kw(p.CACert) + " sslcert=" + kw(p.ClientCert) + " sslkey=" + kw(p.ClientKey) +
		" target_session_attrs=read-write connect_timeout=7 timezone=UTC app.tenant=t1 pool_max_conns=9 schema=app"
	c, err := config.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "db1.example,db2.example" || c.Port != 5433 || c.Database != "shop" || c.User != "app" ||
		c.Password.Reveal() != hostilePW || c.SSLMode != "verify-full" || c.ConnectTimeout != 7*time.Second ||
		c.Pool.MaxConns != 9 || c.Schema != "app" {
		t.Fatalf("parsed: %+v", c)
	}
	if got := c.Hosts(); len(got) != 2 || got[0] != "db1.example:5433" || got[1] != "db2.example:5434" {
		t.Fatalf("Hosts() = %v", got)
	}
	if k := c.Key(); k.Host != "db1.example:5433,db2.example:5434" {
		t.Fatalf("Key() = %v", k)
	}
	cc, err := c.ConnConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cc.Host != "db1.example" || cc.Port != 5433 || len(cc.Fallbacks) != 1 || cc.Fallbacks[0].Host != "db2.example" ||
		cc.Fallbacks[0].Port != 5434 {
		t.Fatalf("hosts: %s:%d %+v", cc.Host, cc.Port, cc.Fallbacks)
	}
	if cc.TLSConfig == nil || cc.TLSConfig.ServerName != "db1.example" || cc.TLSConfig.RootCAs == nil ||
		cc.TLSConfig.GetClientCertificate == nil && len(cc.TLSConfig.Certificates) == 0 {
		t.Fatalf("TLS: %+v", cc.TLSConfig)
	}
	if cc.Fallbacks[0].TLSConfig == nil || cc.Fallbacks[0].TLSConfig.ServerName != "db2.example" {
		t.Fatal("second host without verify-full TLS")
	}
	if cc.ValidateConnect == nil {
		t.Fatal("target_session_attrs=read-write did not set ValidateConnect")
	}
	if cc.ConnectTimeout != 7*time.Second || cc.Database != "shop" || cc.User != "app" || cc.Password != hostilePW {
		t.Fatalf("conn config: %s %s", cc.Database, cc.User)
	}
	want := map[string]string{"timezone": "UTC", "app.tenant": "t1", "application_name": "uno", "search_path": `"app", public`}
	for k, v := range want {
		if cc.RuntimeParams[k] != v {
			t.Errorf("RuntimeParams[%s] = %q, want %q", k, cc.RuntimeParams[k], v)
		}
	}
	for _, k := range []string{"pool_max_conns", "schema", "sslrootcert", "target_session_attrs", "connect_timeout"} {
		if _, ok := cc.RuntimeParams[k]; ok {
			t.Errorf("%s sent to the server as a runtime parameter", k)
		}
	}
	// A fresh deep copy every time: changing one leaves c and the next alone.
	cc.RuntimeParams["timezone"] = "X"
	cc.Fallbacks[0].Host = "evil"
	cc.TLSConfig.ServerName = "evil"
	again, err := c.ConnConfig()
	if err != nil {
		t.Fatal(err)
	}
	if again.RuntimeParams["timezone"] != "UTC" || again.Fallbacks[0].Host != "db2.example" || again.TLSConfig.ServerName != "db1.example" {
		t.Fatal("ConnConfig handed out shared state")
	}
	assertRedacted(t, c, hostilePW)
}

func TestURLSeveralHosts(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("postgres://u@a:6001,b:6002/d?target_session_attrs=prefer-standby&sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := c.ConnConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cc.Host != "a" || cc.Port != 6001 || len(cc.Fallbacks) != 1 || cc.Fallbacks[0].Host != "b" || cc.ValidateConnect == nil {
		t.Fatalf("%s:%d %+v", cc.Host, cc.Port, cc.Fallbacks)
	}
}

// TestPassfileAndService: libpq's password file and service file work,
// and the password file is read for the derived login role.
func TestPassfileAndService(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "pgpass")
	if err := os.WriteFile(pass, []byte("h:5432:shop:shop_login:from-file\n*:*:*:other:other-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := filepath.Join(dir, "services")
	if err := os.WriteFile(svc, []byte("[billing]\nhost=svc.example\nport=6543\ndbname=bill\nuser=other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("host=h dbname=shop sslmode=disable passfile=" + kw(pass))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := c.ConnConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "shop_login" || cc.User != "shop_login" || cc.Password != "from-file" {
		t.Fatalf("user %q password from file %v", cc.User, cc.Password == "from-file")
	}
	if strings.Contains(fmt.Sprintf("%+v %v %#v", c, c, c), "from-file") {
		t.Fatal("password file content printed")
	}
	t.Setenv("PGSERVICEFILE", svc)
	t.Setenv("PGPASSFILE", pass)
	c, err = config.Parse("service=billing sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cc, err = c.ConnConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "svc.example" || c.Port != 6543 || c.Database != "bill" || c.User != "other" || cc.Password != "other-pw" {
		t.Fatalf("service: %+v", c)
	}
}

// TestBadInput: each bad setting is a *FieldError naming the key, found
// before any connection is tried, and no error shows the password.
func TestBadInput(t *testing.T) {
	t.Parallel()
	p := pki(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a pem file "+hostilePW), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.crt")
	pw := " password=" + kw(hostilePW)
	for _, tc := range []struct {
		name, dsn, field, key string
	}{
		{"unterminated quote", "host=h dbname=d password='s3cret never closed", "DSN", "password"},
		{"no equals", "host=h dbname=d " + hostilePW, "DSN", ""},
		{"bad URL", "postgres://u:" + hostilePW + "@h/d", "DSN", ""},
		{"unknown key", "host=h dbname=d sslrootcrt=x" + pw, "DSN", "sslrootcrt"},
		{"unknown URL key", "postgres://u:pw@h/d?tagret_session_attrs=primary", "DSN", "tagret_session_attrs"},
		{"unsupported libpq key", "host=h dbname=d hostaddr=127.0.0.1" + pw, "DSN", "hostaddr"},
		{"missing root cert", "host=h dbname=d sslmode=verify-full sslrootcert=" + kw(missing) + pw, "sslrootcert", "sslrootcert"},
		{"root cert not PEM", "host=h dbname=d sslmode=verify-ca sslrootcert=" + kw(garbage) + pw, "sslrootcert", "sslrootcert"},
		{"missing client cert", "host=h dbname=d sslmode=require sslcert=" + kw(missing) + " sslkey=" + kw(p.ClientKey) + pw, "sslcert", "sslcert"},
		{"unreadable key (a directory)", "host=h dbname=d sslmode=require sslcert=" + kw(p.ClientCert) + " sslkey=" + kw(dir) + pw, "sslkey", "sslkey"},
		{"key not PEM", "host=h dbname=d sslmode=require sslcert=" + kw(p.ClientCert) + " sslkey=" + kw(garbage) + pw, "sslkey", "sslkey"},
		{"key of another cert", "host=h dbname=d sslmode=require sslcert=" + kw(p.ClientCert) + " sslkey=" + kw(p.ServerKey) + pw, "sslkey", "sslkey"},
		{"cert without key", "host=h dbname=d sslmode=require sslcert=" + kw(p.ClientCert) + pw, "sslkey", "sslcert"},
		{"bad target_session_attrs", "host=h dbname=d target_session_attrs=master" + pw, "target_session_attrs", "target_session_attrs"},
		{"bad sslmode", "host=h dbname=d sslmode=always" + pw, "SSLMode", "sslmode"},
		{"bad port list", "host=a,b,c port=1,2" + pw + " dbname=d", "Port", "port"},
		{"bad connect_timeout", "host=h dbname=d connect_timeout=soon" + pw, "ConnectTimeout", "connect_timeout"},
		{"bad exec mode", "host=h dbname=d default_query_exec_mode=fastest" + pw, "QueryExecMode", "default_query_exec_mode"},
		{"bad pooler", "host=h dbname=d pooler=pgpool" + pw, "Pooler", ""},
		{"reserved role", "host=h dbname=d admin_role=public" + pw, "Roles.Admin", ""},
		{"pg_ role", "host=h dbname=d reader_role=pg_read_all_data" + pw, "Roles.Reader", ""},
		{"bad channel_binding (pgx's own check)", "host=h dbname=d channel_binding=sometimes" + pw, "DSN", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse(tc.dsn)
			var fe *config.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("want *FieldError, got %T %v", err, err)
			}
			if fe.Field != tc.field || fe.Key != tc.key {
				t.Fatalf("field %q key %q, want %q %q: %v", fe.Field, fe.Key, tc.field, tc.key, err)
			}
			if tc.key != "" && !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("message does not name %s: %v", tc.key, err)
			}
			for _, frag := range []string{hostilePW, "Zq'9", `pw\x`, "s3cret"} {
				if strings.Contains(err.Error(), frag) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), frag) {
					t.Fatalf("error shows the password: %v", err)
				}
			}
		})
	}
}

// TestEnvBadInput: a bad value from the environment names the variable.
func TestEnvBadInput(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://u@h/d")
	t.Setenv("PGSSLROOTCERT", filepath.Join(t.TempDir(), "nope.crt"))
	t.Setenv("PGSSLMODE", "verify-full")
	_, err := config.FromEnv()
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Key != "PGSSLROOTCERT" || !strings.Contains(err.Error(), "PGSSLROOTCERT") {
		t.Fatalf("got %v", err)
	}
	t.Setenv("PGSSLMODE", "")
	t.Setenv("PGSSLROOTCERT", "")
	t.Setenv("PGTARGETSESSIONATTRS", "leader")
	if _, err := config.FromEnv(); !errors.As(err, &fe) || fe.Key != "PGTARGETSESSIONATTRS" {
		t.Fatalf("got %v", err)
	}
}

// TestForDatabase: derived names follow the database, explicit ones stay,
// and the parsed settings are not shared.
func TestForDatabase(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("postgres://h/shop?sslmode=disable&admin_role=boss&timezone=UTC")
	if err != nil {
		t.Fatal(err)
	}
	o := c.ForDatabase("billing")
	if o.Database != "billing" || o.User != "billing_login" || o.Roles.Login != "billing_login" ||
		o.Roles.Reader != "billing_reader" || o.Roles.Writer != "billing_writer" || o.Roles.Base != "billing_base_role" ||
		o.Roles.Admin != "boss" {
		t.Fatalf("ForDatabase: %+v %+v", o, o.Roles)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Database != "shop" || c.User != "shop_login" || c.Roles.Reader != "shop_reader" {
		t.Fatal("ForDatabase changed the original")
	}
	o.RuntimeParams["timezone"] = "Europe/Paris"
	if c.RuntimeParams["timezone"] != "UTC" {
		t.Fatal("ForDatabase shares RuntimeParams")
	}
	cc, err := o.ConnConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cc.Database != "billing" || cc.User != "billing_login" {
		t.Fatalf("conn config %s %s", cc.Database, cc.User)
	}
	// An explicit login user stays.
	e, _ := config.Parse("postgres://admin@h/shop?sslmode=disable")
	if e.ForDatabase("other").User != "admin" {
		t.Fatal("explicit user replaced")
	}
}

// TestDatabaseChangedTheOldWay: copying a Config and assigning Database
// keeps the old database's role names; Validate reports it.
func TestDatabaseChangedTheOldWay(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("postgres://h/shop?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	copied := c
	copied.Database = "billing"
	err = copied.WithDefaults().Validate()
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Field != "Database" || !strings.Contains(err.Error(), "ForDatabase") {
		t.Fatalf("got %v", err)
	}
	// Setting every name by hand is fine.
	copied.Roles = config.DefaultRoles("billing")
	copied.User = "billing_login"
	if err := copied.Validate(); err != nil {
		t.Fatal(err)
	}
	// A config built in code, too.
	lit := config.Config{Host: "h", Database: "a"}.WithDefaults()
	lit.Database = "b"
	if err := lit.Validate(); !errors.As(err, &fe) || fe.Field != "Database" {
		t.Fatalf("literal: %v", err)
	}
}

// TestFieldsOverParsed: fields changed after parsing win over the parsed
// settings, and a single host can be moved (the TLS name follows).
func TestFieldsOverParsed(t *testing.T) {
	t.Parallel()
	p := pki(t)
	c, err := config.Parse("host=db.example port=5432 dbname=d user=u sslmode=verify-full sslrootcert=" + kw(p.CACert))
	if err != nil {
		t.Fatal(err)
	}
	c.Host, c.Port, c.User, c.Password, c.ApplicationName = "127.0.0.1", 7777, "v", "pw2", "api"
	cc, err := c.ConnConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cc.Host != "127.0.0.1" || cc.Port != 7777 || cc.User != "v" || cc.Password != "pw2" ||
		cc.RuntimeParams["application_name"] != "api" || cc.TLSConfig.ServerName != "127.0.0.1" {
		t.Fatalf("%s:%d %s %q", cc.Host, cc.Port, cc.User, cc.TLSConfig.ServerName)
	}
	c.SSLMode = "disable"
	var fe *config.FieldError
	if _, err := c.ConnConfig(); !errors.As(err, &fe) || fe.Field != "SSLMode" {
		t.Fatalf("sslmode changed after parse: %v", err)
	}
	if err := c.Validate(); !errors.As(err, &fe) || fe.Field != "SSLMode" {
		t.Fatalf("Validate: %v", err)
	}
	m, _ := config.Parse("host=a,b dbname=d sslmode=disable")
	m.Host = "c"
	if err := m.Validate(); !errors.As(err, &fe) || fe.Field != "Host" {
		t.Fatalf("several hosts changed: %v", err)
	}
}

func TestEqual(t *testing.T) {
	t.Parallel()
	dsn := "postgres://u@h/d?sslmode=disable&timezone=UTC"
	a, _ := config.Parse(dsn)
	b, _ := config.Parse(dsn)
	if !a.Equal(b) || !a.Equal(a) {
		t.Fatal("same string, not Equal")
	}
	c, _ := config.Parse(dsn + "&target_session_attrs=primary")
	if a.Equal(c) {
		t.Fatal("different libpq settings Equal")
	}
	b.Pool.MaxConns++
	if a.Equal(b) {
		t.Fatal("different pool sizes Equal")
	}
}

// TestPgBouncerSettings: behind PgBouncer only tracked parameters go in
// the startup message; the rest are per-transaction settings.
func TestPgBouncerSettings(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("postgres://u@h/d?sslmode=disable&pooler=pgbouncer&schema=app&statement_timeout=2s&timezone=UTC&work_mem=8MB")
	if err != nil {
		t.Fatal(err)
	}
	if c.QueryExecMode != "cache_describe" {
		t.Fatalf("exec mode %q", c.QueryExecMode)
	}
	cc, err := c.ConnConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cc.DefaultQueryExecMode != pgx.QueryExecModeCacheDescribe {
		t.Fatalf("pgx exec mode %v", cc.DefaultQueryExecMode)
	}
	if len(cc.RuntimeParams) != 2 || cc.RuntimeParams["timezone"] != "UTC" || cc.RuntimeParams["application_name"] != "uno" {
		t.Fatalf("startup params %v", cc.RuntimeParams)
	}
	got := fmt.Sprint(c.TxSettings())
	if want := `[{search_path "app", public} {statement_timeout 2000} {work_mem 8MB}]`; got != want {
		t.Fatalf("TxSettings = %s, want %s", got, want)
	}
	c.Pooler = ""
	if c.TxSettings() != nil || c.StartupParams()["search_path"] != `"app", public` {
		t.Fatal("direct connection")
	}
}

// TestNoPasswordAnywhere: every printed form of configs and errors built
// from hostile passwords, grepped.
func TestNoPasswordAnywhere(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	for _, pw := range []string{hostilePW, "s3cr3t-plain", "p@ss:w/rd?#", "' OR 1=1 --", "half xyzzy=1"} {
		for _, dsn := range []string{
			"host=h dbname=d sslmode=disable password=" + kw(pw),
			"host=h dbname=d password=" + kw(pw) + " bogus_key=1",
			"host=h dbname=d password='" + pw,
			"host=h dbname=d password=" + pw + " sslmode=disable",
			"postgres://u:" + pw + "@h/d",
			"host=h dbname=d password=" + pw + " sslmode=disable",
			"postgres://u:" + pw + "@h:99999/d",
			"host=h port=nope dbname=d password=" + kw(pw),
		} {
			c, err := config.Parse(dsn)
			log.Info("parse", "config", c, "err", err)
			js, _ := json.Marshal(c)
			fmt.Fprintf(&out, "%v|%+v|%#v|%s|%v|%+v|%s\n", c, c, c, js, err, err, c.Key())
			if err == nil {
				cc, err := c.ConnConfig()
				fmt.Fprintf(&out, "%v %v\n", err, c.Hosts())
				if err == nil && cc.Password != "" && cc.Password != pw {
					t.Errorf("password %q parsed as something else", pw)
				}
			}
		}
		for _, frag := range append(strings.FieldsFunc(pw, func(r rune) bool { return r == ' ' || r == '=' }), pw) {
			if len(frag) >= 4 && strings.Contains(out.String(), frag) {
				t.Fatalf("password %q (%q) printed:\n%s", pw, frag, out.String())
			}
		}
	}
}

// Example of verify-full: the server's name is checked against the CA.
func ExampleConfig_ConnConfig() {
	c, err := config.Parse("host=db.example dbname=shop sslmode=verify-full sslrootcert=system target_session_attrs=read-write")
	if err != nil {
		fmt.Println(err)
		return
	}
	cc, err := c.ConnConfig()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.SSLMode, cc.TLSConfig.ServerName, cc.User)
	// Output: verify-full db.example shop_login
}

// TestURLLikeLibpq: uno reads URLs as pgx (and libpq) do, so its checks
// look at the values pgx will use.
func TestURLLikeLibpq(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"postgres://u@[::1]:6001,[::2]:6002/d?application_name=a+b&sslmode=disable",
		"postgresql://us%40er:p%2Bw@h%2Dx:5433/d%20b?sslmode=disable",
		"postgres://u:p@w@h/d?sslmode=disable",
		"postgres://u@h1,h2:7000/d?sslmode=disable",
		"postgres://u@h/d?sslmode=disable&application_name=x%3Dy",
	} {
		c, err := config.Parse(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		pc, err := pgx.ParseConfig(u)
		if err != nil {
			t.Fatal(err)
		}
		cc, err := c.ConnConfig()
		if err != nil {
			t.Fatal(err)
		}
		if cc.Host != pc.Host || cc.Port != pc.Port || cc.Database != pc.Database || cc.User != pc.User ||
			cc.Password != pc.Password || len(cc.Fallbacks) != len(pc.Fallbacks) ||
			pc.RuntimeParams["application_name"] != "" && cc.RuntimeParams["application_name"] != pc.RuntimeParams["application_name"] {
			t.Errorf("%s: uno %s:%d/%s %s app %q, pgx %s:%d/%s %s app %q", u, cc.Host, cc.Port, cc.Database, cc.User,
				cc.RuntimeParams["application_name"], pc.Host, pc.Port, pc.Database, pc.User, pc.RuntimeParams["application_name"])
		}
	}
}

// TestKeywordsLikeLibpq: keyword/value strings read as pgx reads them.
func TestKeywordsLikeLibpq(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		`host=h dbname=d user=u password=a\ b\'c sslmode=disable`,
		`host = h   dbname =d user= 'u s\\er' password='' sslmode=disable`,
		`host=h dbname=d user='' password=x\ y sslmode=disable`,
		"host=h\tdbname=d\nuser=u sslmode=disable application_name=a\\\\b",
	} {
		c, err := config.Parse(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		pc, err := pgx.ParseConfig(s)
		if err != nil {
			t.Fatal(err)
		}
		cc, err := c.ConnConfig()
		if err != nil {
			t.Fatal(err)
		}
		user := pc.User
		if !strings.Contains(s, "user=u") && !strings.Contains(s, "'u s") {
			user = "d_login" // uno's default login, where pgx takes the OS user
		}
		if cc.Host != pc.Host || cc.Database != pc.Database || cc.User != user || cc.Password != pc.Password ||
			pc.RuntimeParams["application_name"] != "" && cc.RuntimeParams["application_name"] != pc.RuntimeParams["application_name"] {
			t.Errorf("%s: uno %s/%s %q %q, pgx %s/%s %q %q", s, cc.Host, cc.Database, cc.User, cc.Password, pc.Host, pc.Database, pc.User, pc.Password)
		}
	}
}

// TestRedactedInsideStructs: a Config in an exported field of another
// value is still redacted by fmt, slog and encoding/json.
func TestRedactedInsideStructs(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("host=h dbname=d sslmode=disable password=" + kw(hostilePW))
	if err != nil {
		t.Fatal(err)
	}
	type holder struct {
		Name   string
		Config config.Config
		Ptr    *config.Config
	}
	h := holder{Name: "x", Config: c, Ptr: &c}
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("h", "holder", h, "ptr", &h)
	slog.New(slog.NewTextHandler(&out, nil)).Info("h", "holder", h, "cfg", &c)
	js, _ := json.Marshal(h)
	fmt.Fprintf(&out, "%v %+v %#v %s %v %+v", h, h, h, js, &h, []config.Config{c})
	if strings.Contains(out.String(), hostilePW) || strings.Contains(out.String(), "Zq'9") {
		t.Fatalf("password shown:\n%s", out.String())
	}
}

package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/config"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dsn  string
		want func(c config.Config) bool
	}{
		{"url", "postgres://app:pw@db.example:6543/shop?sslmode=require&application_name=api",
			func(c config.Config) bool {
				return c.Host == "db.example" && c.Port == 6543 && c.Database == "shop" && c.User == "app" &&
					c.Password.Reveal() == "pw" && c.SSLMode == "require" && c.ApplicationName == "api"
			}},
		{"defaults", "postgresql://h/shop", func(c config.Config) bool {
			return c.Port == 5432 && c.User == "shop_login" && c.Roles == config.DefaultRoles("shop") &&
				c.SSLMode == "prefer" && c.Pool.MaxConns >= 4 && c.Retry.MaxAttempts == 4 &&
				c.QueryExecMode == "cache_statement"
		}},
		{"keywords", `host=h port=7000 dbname=shop user=u password='a b\'c\\d' sslmode=disable`,
			func(c config.Config) bool {
				return c.Host == "h" && c.Port == 7000 && c.Database == "shop" && c.Password.Reveal() == `a b'c\d`
			}},
		{"pool and timeouts", "postgres://u@h/d?pool_max_conns=7&pool_min_conns=2&pool_max_conn_lifetime=5m" +
			"&pool_acquire_timeout=2s&connect_timeout=3&statement_timeout=1500&schema=app&retry_max_attempts=2",
			func(c config.Config) bool {
				return c.Pool.MaxConns == 7 && c.Pool.MinConns == 2 && c.Pool.MaxConnLifetime == 5*time.Minute &&
					c.Pool.AcquireTimeout == 2*time.Second && c.ConnectTimeout == 3*time.Second &&
					c.StatementTimeout == 1500*time.Millisecond && c.Schema == "app" && c.Retry.MaxAttempts == 2
			}},
		{"role overrides", "postgres://u@h/d?reader_role=ro&admin_role=boss", func(c config.Config) bool {
			return c.Roles.Reader == "ro" && c.Roles.Admin == "boss" && c.Roles.Writer == "d_writer"
		}},
		{"runtime params", "postgres://u@h/d?timezone=UTC", func(c config.Config) bool {
			return c.RuntimeParams["timezone"] == "UTC"
		}},
		{"ipv6", "postgres://u@[::1]:5433/d", func(c config.Config) bool { return c.Host == "::1" && c.Port == 5433 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse(tc.dsn)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !tc.want(c) {
				t.Fatalf("unexpected config: %+v", c)
			}
		})
	}
}

func TestHostilePasswords(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{"p%ss", "p@ss", "it's", "with space", `back\slash`, "a:b/c?d#e", "ünï", "' OR 1=1 --"} {
		u := url.URL{Scheme: "postgres", User: url.UserPassword("u", pw), Host: "h:5432", Path: "/d"}
		c, err := config.Parse(u.String())
		if err != nil {
			t.Fatalf("password %q: %v", pw, err)
		}
		if c.Password.Reveal() != pw {
			t.Fatalf("password %q parsed as %q", pw, c.Password.Reveal())
		}
		kw := "host=h dbname=d user=u password='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw) + "'"
		c, err = config.Parse(kw)
		if err != nil || c.Password.Reveal() != pw {
			t.Fatalf("keyword password %q: %q, %v", pw, c.Password.Reveal(), err)
		}
		assertRedacted(t, c, pw)
	}
	// A raw, unencoded % in a URL password does not parse; the error must not
	// show it.
	_, err := config.Parse("postgres://u:se%cret@h/d")
	if err == nil || strings.Contains(err.Error(), "se%cret") {
		t.Fatalf("bad URL error %v", err)
	}
}

func assertRedacted(t *testing.T, c config.Config, pw string) {
	t.Helper()
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "config", c, "password", c.Password)
	js, _ := json.Marshal(c)
	for _, s := range []string{
		fmt.Sprint(c), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", c),
		fmt.Sprintf("%q", c.Password), fmt.Sprintf("%#v", c.Password), fmt.Sprintf("%x", c.Password),
		c.String(), logs.String(), string(js),
	} {
		if strings.Contains(s, pw) {
			t.Fatalf("password %q shown in %q", pw, s)
		}
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	base := func() config.Config { return config.Config{Host: "h", Database: "d"}.WithDefaults() }
	for _, tc := range []struct {
		field string
		edit  func(*config.Config)
	}{
		{"Host", func(c *config.Config) { c.Host = "" }},
		{"Host", func(c *config.Config) { c.Host = "  " }},
		{"Port", func(c *config.Config) { c.Port = -1 }},
		{"Port", func(c *config.Config) { c.Port = 70000 }},
		{"Database", func(c *config.Config) { c.Database = "" }},
		{"SSLMode", func(c *config.Config) { c.SSLMode = "sometimes" }},
		{"QueryExecMode", func(c *config.Config) { c.QueryExecMode = "simple_protocol" }},
		{"QueryExecMode", func(c *config.Config) { c.QueryExecMode = "fast" }},
		{"Pool.MaxConns", func(c *config.Config) { c.Pool.MaxConns = -3 }},
		{"Pool.MinConns", func(c *config.Config) { c.Pool.MinConns = -1 }},
		{"Pool.MinConns", func(c *config.Config) { c.Pool.MinConns = c.Pool.MaxConns + 1 }},
		{"Pool.MaxConnLifetime", func(c *config.Config) { c.Pool.MaxConnLifetime = -time.Second }},
		{"Pool.AcquireTimeout", func(c *config.Config) { c.Pool.AcquireTimeout = -time.Second }},
		{"ConnectTimeout", func(c *config.Config) { c.ConnectTimeout = -time.Second }},
		{"Retry.MaxAttempts", func(c *config.Config) { c.Retry.MaxAttempts = -1 }},
		{"Retry.Multiplier", func(c *config.Config) { c.Retry.Multiplier = 0.5 }},
		{"Roles.Reader", func(c *config.Config) { c.Roles.Reader = strings.Repeat("r", 64) }},
		{"RuntimeParams", func(c *config.Config) { c.RuntimeParams = map[string]string{"a b": "x"} }},
		{"RuntimeParams", func(c *config.Config) {
			c.RuntimeParams = map[string]string{"default_query_exec_mode": "simple_protocol"}
		}},
	} {
		c := base()
		tc.edit(&c)
		err := c.Validate()
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, config.ErrInvalid) {
			t.Errorf("want error on %s, got %v", tc.field, err)
		}
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dsn, field string }{
		{"", "DSN"},
		{"mysql://h/d", "DSN"},
		{"postgres://h:0/d", "Port"},
		{"postgres://h:70000/d", "Port"},
		{"postgres://h:abc/d", "Port"},
		{"host=h port=x dbname=d", "Port"},
		{"postgres://h/d?sslmode=sometimes", "SSLMode"},
		{"postgres://h/d?pool_max_conns=-1", "Pool.MaxConns"},
		{"postgres://h/d?pool_max_conns=many", "Pool.MaxConns"},
		{"postgres://h/d?pool_max_conn_lifetime=forever", "Pool.MaxConnLifetime"},
		{"postgres://h/d?default_query_exec_mode=simple_protocol", "QueryExecMode"},
		{"host=h dbname=d password='unterminated", "DSN"},
		{"just words", "DSN"},
		{"postgres://h/", "Database"},
		{"postgres:///d", "Host"},
	} {
		_, err := config.Parse(tc.dsn)
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Parse(%q): want error on %s, got %v", tc.dsn, tc.field, err)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("PGHOST", "envhost")
	t.Setenv("PGPORT", "6000")
	t.Setenv("PGDATABASE", "envdb")
	t.Setenv("PGUSER", "envuser")
	t.Setenv("PGPASSWORD", "env'pw")
	t.Setenv("PGSSLMODE", "disable")
	t.Setenv("DATABASE_URL", "")
	c, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "envhost" || c.Port != 6000 || c.Database != "envdb" || c.User != "envuser" ||
		c.Password.Reveal() != "env'pw" || c.SSLMode != "disable" {
		t.Fatalf("from PG*: %+v", c)
	}
	t.Setenv("DATABASE_URL", "postgres://urluser@urlhost/urldb")
	c, err = config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "urlhost" || c.Database != "urldb" || c.User != "urluser" || c.Port != 6000 ||
		c.Password.Reveal() != "env'pw" {
		t.Fatalf("DATABASE_URL over PG*: %+v", c)
	}
	t.Setenv("PGPORT", "99999")
	if _, err := config.FromEnv(); err == nil || !strings.Contains(err.Error(), "PGPORT") {
		t.Fatalf("bad PGPORT: %v", err)
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	r := config.Retry{InitialDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond, Multiplier: 2}
	for n, want := range map[int]time.Duration{2: 10 * time.Millisecond, 3: 20 * time.Millisecond,
		4: 40 * time.Millisecond, 5: 50 * time.Millisecond, 30: 50 * time.Millisecond} {
		if got := r.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
}

func ExampleParse() {
	c, err := config.Parse("postgres://app:s3cret@localhost:5432/shop?pool_max_conns=8")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c)
	fmt.Println(c.Roles.Reader, c.Pool.MaxConns)
	// Output:
	// postgres://app@localhost:5432/shop?sslmode=prefer&application_name=uno (password ********)
	// shop_reader 8
}

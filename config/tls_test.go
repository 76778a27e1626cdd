package config_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// sslInUse reports pg_stat_ssl.ssl and current_user for conn's backend.
func sslInUse(t *testing.T, conn *pgx.Conn) (bool, string) {
	t.Helper()
	var ssl bool
	var user string
	if err := conn.QueryRow(context.Background(),
		"SELECT ssl, current_user FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &user); err != nil {
		t.Fatal(err)
	}
	return ssl, user
}

func connect(t *testing.T, dsn string) (*pgx.Conn, error) {
	t.Helper()
	c, err := config.Parse(dsn)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	conn, err := c.Connect(context.Background())
	if err == nil {
		t.Cleanup(func() { conn.Close(context.Background()) })
	}
	return conn, err
}

// TestTLS runs against a real server with ssl=on and a CA, server and
// client certificates generated for this run.
func TestTLS(t *testing.T) {
	t.Parallel()
	cl, p, err := pgtest.TLSServer()
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(cl.Port())
	base := "port=" + port + " dbname=postgres "

	t.Run("verify-full with the right CA", func(t *testing.T) {
		for _, host := range []string{"localhost"} {
			conn, err := connect(t, base+"host="+host+" user=postgres sslmode=verify-full sslrootcert="+kw(p.CACert))
			if err != nil {
				t.Fatalf("%s: %v", host, err)
			}
			if ssl, user := sslInUse(t, conn); !ssl || user != "postgres" {
				t.Fatalf("%s: ssl %v as %s", host, ssl, user)
			}
		}
	})
	t.Run("verify-full with a wrong CA", func(t *testing.T) {
		_, err := connect(t, base+"host=localhost user=postgres sslmode=verify-full sslrootcert="+kw(p.OtherCA))
		var ua x509.UnknownAuthorityError
		var ce *pgconn.ConnectError
		if !errors.As(err, &ua) || !errors.As(err, &ce) {
			t.Fatalf("want x509.UnknownAuthorityError in a *pgconn.ConnectError, got %T %v", err, err)
		}
		if !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Fatalf("message does not say why: %v", err)
		}
	})
	t.Run("verify-full with a wrong host name", func(t *testing.T) {
		// 127.0.0.1 is the same server, but the certificate names only localhost.
		_, err := connect(t, "host=127.0.0.1 "+base+"user=postgres sslmode=verify-full sslrootcert="+kw(p.CACert))
		var he x509.HostnameError
		var cve *tls.CertificateVerificationError
		if !errors.As(err, &he) || !errors.As(err, &cve) || he.Host != "127.0.0.1" {
			t.Fatalf("want x509.HostnameError, got %T %v", err, err)
		}
	})
	t.Run("verify-ca ignores the host name", func(t *testing.T) {
		conn, err := connect(t, "host=127.0.0.1 "+base+"user=postgres sslmode=verify-ca sslrootcert="+kw(p.CACert))
		if err != nil {
			t.Fatal(err)
		}
		if ssl, _ := sslInUse(t, conn); !ssl {
			t.Fatal("no TLS")
		}
	})
	t.Run("client certificate authenticates under hostssl cert", func(t *testing.T) {
		conn, err := connect(t, base+"host=localhost user="+pgtest.CertUser+" sslmode=verify-full sslrootcert="+kw(p.CACert)+
			" sslcert="+kw(p.ClientCert)+" sslkey="+kw(p.ClientKey))
		if err != nil {
			t.Fatal(err)
		}
		if ssl, user := sslInUse(t, conn); !ssl || user != pgtest.CertUser {
			t.Fatalf("ssl %v as %s", ssl, user)
		}
		var dn string
		if err := conn.QueryRow(context.Background(), "SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&dn); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(dn, pgtest.CertUser) {
			t.Fatalf("client_dn %q", dn)
		}
	})
	t.Run("cert rule without a client certificate fails", func(t *testing.T) {
		_, err := connect(t, base+"host=localhost user="+pgtest.CertUser+" sslmode=verify-full sslrootcert="+kw(p.CACert))
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "28000" {
			t.Fatalf("want 28000 (invalid authorization), got %v", err)
		}
	})
	t.Run("pinned to the address keeps verify-full on the host name", func(t *testing.T) {
		c, err := config.Parse(base + "host=localhost user=postgres sslmode=verify-full sslrootcert=" + kw(p.CACert))
		if err != nil {
			t.Fatal(err)
		}
		conn, err := c.Connect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		addr := conn.PgConn().Conn().RemoteAddr()
		conn.Close(context.Background())
		cc, err := c.ConnConfigAt(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		if cc.Host == "localhost" || cc.TLSConfig == nil || cc.TLSConfig.ServerName != "localhost" {
			t.Fatalf("pinned to %s with TLS name %v", cc.Host, cc.TLSConfig)
		}
		again, err := pgx.ConnectConfig(context.Background(), cc)
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close(context.Background())
		if ssl, _ := sslInUse(t, again); !ssl {
			t.Fatal("no TLS")
		}
	})
	t.Run("a config built in code gets TLS from SSLMode", func(t *testing.T) {
		c := config.Config{Host: "127.0.0.1", Port: cl.Port(), Database: "postgres", User: "postgres", SSLMode: "require"}
		conn, err := c.Connect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if ssl, _ := sslInUse(t, conn); !ssl {
			t.Fatal("sslmode=require without TLS")
		}
	})
}

// TestRequireWithoutTLS: sslmode=require against a server without TLS
// fails, saying the server refused TLS, and never falls back to plain text.
func TestRequireWithoutTLS(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	c, err := config.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"require", "verify-full"} {
		u := strings.Replace(db.URL, "sslmode=disable", "sslmode="+mode, 1)
		if mode == "verify-full" {
			u += "&sslrootcert=system"
		}
		_, err := connect(t, u)
		var ce *pgconn.ConnectError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "refused TLS") {
			t.Fatalf("%s: want a connect error saying the server refused TLS, got %v", mode, err)
		}
	}
	// prefer falls back to plain text, as in libpq.
	u := strings.Replace(db.URL, "sslmode=disable", "sslmode=prefer", 1)
	conn, err := connect(t, u)
	if err != nil {
		t.Fatal(err)
	}
	if ssl, _ := sslInUse(t, conn); ssl || c.SSLMode != "disable" {
		t.Fatal("TLS on a server without it")
	}
}

// Example_verifyFull connects with sslmode=verify-full: the server's
// certificate must be signed by the CA in sslrootcert and name the host.
// The test harness generated the CA and the server certificate.
func Example_verifyFull() {
	cl, pki, err := pgtest.TLSServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	dsn := fmt.Sprintf("host=localhost port=%d dbname=postgres user=postgres sslmode=verify-full sslrootcert='%s'",
		cl.Port(), pki.CACert)
	cfg, err := config.Parse(dsn)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	conn, err := cfg.Connect(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close(ctx)
	var ssl bool
	var version string
	err = conn.QueryRow(ctx, "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &version)
	fmt.Println(ssl, strings.HasPrefix(version, "TLSv1."), err)
	// Output: true true <nil>
}

package emit_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/identity"
	"github.com/uno-db/uno/internal/pgtest"
)

// startPgBouncer runs pgbouncer in transaction mode with one server
// connection per database and user, in front of the test server, and
// returns its port. It is stopped (by its process) when the test ends.
func startPgBouncer(t *testing.T, users ...string) int {
	t.Helper()
	bin, err := osexec.LookPath("pgbouncer")
	if err != nil {
		t.Fatalf("pgbouncer is not installed: %v", err)
	}
	server, err := url.Parse(pgtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var auth string
	for _, u := range users {
		auth += strconv.Quote(u) + ` ""` + "\n"
	}
	authFile := filepath.Join(dir, "users.txt")
	cfg := fmt.Sprintf(`[databases]
* = host=%s port=%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = 1
max_client_conn = 20
ignore_startup_parameters = extra_float_digits
`, server.Hostname(), server.Port(), port, authFile)
	cfgFile := filepath.Join(dir, "pgbouncer.ini")
	for path, text := range map[string]string{authFile: auth, cfgFile: cfg} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{cfgFile}
	if os.Geteuid() == 0 {
		args = []string{"-u", "nobody", cfgFile}
	}
	cmd := osexec.Command(bin, args...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			return port
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("pgbouncer did not start: %s", out.String())
		}
	}
}

// TestSignedIdentityThroughPgBouncer: behind PgBouncer in transaction mode
// with one server connection, two clients' transactions run on the same
// backend; each signs in and sees its own tenant, and one trying to
// replay the other's verified claims on that backend is refused (42501)
// and keeps its own.
func TestSignedIdentityThroughPgBouncer(t *testing.T) {
	t.Parallel()
	u := setUpMode(t, true, Note{})
	ctx := context.Background()
	direct := newSignedConn(t, u)
	port := startPgBouncer(t, direct.roles.Login)
	client := func() *signedConn {
		cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable",
			url.PathEscape(direct.roles.Login), port, url.PathEscape(u.pg.Name)))
		if err != nil {
			t.Fatal(err)
		}
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec // no named statements across pooled backends
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		c := *direct
		c.conn = conn
		return &c
	}
	one, two := client(), client()
	alice := identity.Claims{TenantID: "tenant-a", UserID: "alice"}
	bob := identity.Claims{TenantID: "tenant-b", UserID: "bob"}
	for _, w := range []struct {
		c      *signedConn
		claims identity.Claims
	}{{one, alice}, {two, bob}, {one, alice}} {
		if err := w.c.tx(w.c.roles.Writer, w.claims, func(conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, `INSERT INTO shop.note (tenant_id, title) VALUES ($1, generate_ulid())`, w.claims.TenantID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var pidA, pidB int
	var captured string
	if err := one.tx(one.roles.Reader, alice, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT pg_backend_pid(), current_setting('`+emit.SignedParameter+`')`).Scan(&pidA, &captured)
	}); err != nil {
		t.Fatal(err)
	}
	err := two.tx(two.roles.Reader, bob, func(conn *pgx.Conn) error {
		var n int
		var tenant string
		if err := conn.QueryRow(ctx, `SELECT pg_backend_pid(), uno_tenant_id(), (SELECT count(*) FROM shop.note)`).Scan(&pidB, &tenant, &n); err != nil {
			return err
		}
		if tenant != "tenant-b" || n != 1 {
			t.Errorf("client two as B: tenant %q, %d notes, want tenant-b and 1", tenant, n)
		}
		// Replaying A's claims on the same backend: PostgreSQL refuses
		// to set the parameter (42501); B's claims stay.
		if _, err := exec(conn, `SELECT set_config('`+emit.SignedParameter+`', $1, true)`, captured); sqlState(err) != "42501" {
			t.Errorf("client two replaying A's claims: %v, want 42501", err)
		}
		if err := conn.QueryRow(ctx, `SELECT uno_tenant_id()`).Scan(&tenant); err != nil || tenant != "tenant-b" {
			t.Errorf("client two after the replay: tenant %q (%v), want tenant-b", tenant, err)
		}
		if _, err := conn.Exec(ctx, `SELECT set_config('rls_var.tenant_id', 'tenant-a', true)`); err != nil {
			return err
		}
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM shop.note`).Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			t.Errorf("client two after forging and replaying A's identity on the same backend sees %d notes, want B's 1", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if pidA != pidB {
		t.Errorf("the clients ran on backends %d and %d; the test wants one shared backend", pidA, pidB)
	}
	if n := scalarOn[int](t, u.super, `SELECT count(*) FROM shop.note WHERE tenant_id = 'tenant-a'`); n != 2 {
		t.Errorf("tenant A has %d notes, want 2", n)
	}
}

// lockedBuffer collects a process's output safely.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

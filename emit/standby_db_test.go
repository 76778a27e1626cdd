package emit_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	osexec "os/exec"

	"github.com/uno-db/uno/identity"
	"github.com/uno-db/uno/internal/pgcluster"
	"github.com/uno-db/uno/internal/pgtest"
)

// TestSignedIdentityOnStandby: a streaming hot standby of a signed-mode
// database verifies signed identities (nothing is written to sign in) and
// ignores forged settings.
func TestSignedIdentityOnStandby(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primary := pgtest.StartCluster(t)
	pgtest.Exec(t, primary.URL("postgres"), "CREATE DATABASE app")
	u := setUpOn(t, primary.URL("postgres"), pgtest.Database{Name: "app", URL: primary.URL("app")}, true, Note{})
	c := newSignedConn(t, u)
	alice := identity.Claims{TenantID: "tenant-a", UserID: "alice"}
	bob := identity.Claims{TenantID: "tenant-b", UserID: "bob"}
	for _, who := range []identity.Claims{alice, bob, bob} {
		if err := c.tx(c.roles.Writer, who, func(conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, `INSERT INTO shop.note (tenant_id, title) VALUES ($1, generate_ulid())`, who.TenantID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}

	// The standby: a base backup of the primary, run by pg_ctl in a
	// directory of its own (owned by nobody when the tests run as root).
	bin, err := pgcluster.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "uno-standby-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(nobody.Uid)
		gid, _ := strconv.Atoi(nobody.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := osexec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("%s: %v\n%s\n%s", name, err, out, log)
		}
	}
	data := filepath.Join(dir, "data")
	run("pg_basebackup", "-D", data, "-R", "-X", "stream", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.Port()),
		"-U", "postgres", "--no-sync", "--checkpoint=fast")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60",
		"-o", "-p "+strconv.Itoa(port)+" -h 127.0.0.1 -k "+dir+" -c max_connections=300 -c shared_buffers=64MB", "start")
	t.Cleanup(func() {
		cmd := osexec.Command(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		_ = cmd.Run()
	})
	standbyURL := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/app?sslmode=disable", port)
	// A row written after the backup reaches the standby by streaming.
	if err := c.tx(c.roles.Writer, alice, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `INSERT INTO shop.note (tenant_id, title) VALUES ('tenant-a', 'after backup')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	super := superConn(t, standbyURL)
	for start := time.Now(); scalarOn[int](t, super, "SELECT count(*) FROM shop.note WHERE title = 'after backup'") == 0; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > time.Minute {
			t.Fatal("the standby did not replay the primary's row")
		}
	}
	if !scalarOn[bool](t, super, "SELECT pg_is_in_recovery()") {
		t.Fatal("not a standby")
	}

	s := signedConnTo(t, u, standbyURL)
	err = s.tx(s.roles.Reader, alice, func(conn *pgx.Conn) error {
		var n int
		var tenant string
		if err := conn.QueryRow(ctx, `SELECT uno_tenant_id(), (SELECT count(*) FROM shop.note)`).Scan(&tenant, &n); err != nil {
			return err
		}
		if tenant != "tenant-a" || n != 2 {
			t.Errorf("on the standby as A: tenant %q, %d notes, want tenant-a and 2", tenant, n)
		}
		if _, err := conn.Exec(ctx, `SELECT set_config('rls_var.tenant_id', 'tenant-b', true), set_config('rls_var.is_superuser', 'true', true),
			set_config('uno.tenant_id', 'tenant-b', true)`); err != nil {
			return err
		}
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM shop.note`).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("forged settings on the standby show %d notes", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

package pgcluster

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// bouncerPrefix names the temporary directories of harness PgBouncers, so
// a later run can stop the PgBouncers of test binaries that died.
const bouncerPrefix = "uno-pgbouncer-"

// pgbouncerHint is appended to errors that come from a missing pgbouncer.
const pgbouncerHint = "install PgBouncer (Debian: apt-get install pgbouncer; `make test` runs scripts/ensure-postgres.sh, which does it as root)"

// Bouncer is a PgBouncer process in front of a cluster, owned by this
// process: transaction pooling, listening on 127.0.0.1 only on a free
// port, trusting every user the server knows (looked up with auth_query as
// the superuser "postgres"), run as "nobody" when run as root.
type Bouncer struct {
	dir     string
	port    int
	cmd     *exec.Cmd
	done    chan struct{}
	version [3]int
	log     string
}

// BouncerOptions adjusts a new Bouncer.
type BouncerOptions struct {
	// PoolSize is default_pool_size: server connections per user and
	// database; default 10.
	PoolSize int
	// Settings are extra [pgbouncer] section lines, name = value.
	Settings []string
}

// FindPgBouncer returns the path of the pgbouncer binary.
func FindPgBouncer() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/usr/local/bin/pgbouncer"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("pgcluster: pgbouncer not found: %s", pgbouncerHint)
}

var versionRE = regexp.MustCompile(`PgBouncer (\d+)\.(\d+)\.(\d+)`)

// PgBouncerVersion returns the installed PgBouncer's version as
// major, minor, patch.
func PgBouncerVersion() ([3]int, error) {
	bin, err := FindPgBouncer()
	if err != nil {
		return [3]int{}, err
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return [3]int{}, fmt.Errorf("pgcluster: pgbouncer --version: %w", err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return [3]int{}, fmt.Errorf("pgcluster: pgbouncer --version printed no version: %q", out)
	}
	var v [3]int
	for i := range v {
		v[i], _ = strconv.Atoi(string(m[i+1]))
	}
	return v, nil
}

// StartPgBouncer starts PgBouncer in transaction mode in front of c.
func StartPgBouncer(c *Cluster, o BouncerOptions) (*Bouncer, error) {
	return startPgBouncer(c.Port(), c.cred, o)
}

// StartPgBouncerAt starts PgBouncer in transaction mode in front of the
// server listening on 127.0.0.1:port, which must trust the superuser
// "postgres" from there.
func StartPgBouncerAt(port int, o BouncerOptions) (*Bouncer, error) {
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root.
		var err error
		if cred, err = unprivileged(); err != nil {
			return nil, err
		}
	}
	return startPgBouncer(port, cred, o)
}

func startPgBouncer(port int, cred *syscall.Credential, o BouncerOptions) (*Bouncer, error) {
	bin, err := FindPgBouncer()
	if err != nil {
		return nil, err
	}
	v, err := PgBouncerVersion()
	if err != nil {
		return nil, err
	}
	reapBouncers()
	dir, err := os.MkdirTemp("", bouncerPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	b := &Bouncer{dir: dir, version: v, log: filepath.Join(dir, "pgbouncer.log")}
	if o.PoolSize == 0 {
		o.PoolSize = 10
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if b.port, err = freePort(); err != nil {
			b.Destroy()
			return nil, err
		}
		if lastErr = b.start(bin, port, cred, o); lastErr == nil {
			return b, nil
		}
		logText, _ := os.ReadFile(b.log)
		if !bytes.Contains(logText, []byte("Address already in use")) {
			break
		}
	}
	b.Destroy()
	return nil, lastErr
}

func (b *Bouncer) start(bin string, server int, cred *syscall.Credential, o BouncerOptions) error {
	ini := fmt.Sprintf(`[databases]
* = host=127.0.0.1 port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
pool_mode = transaction
auth_type = trust
auth_file = %s
auth_user = postgres
default_pool_size = %d
max_client_conn = 1000
logfile = %s
pidfile = %s
admin_users = postgres
`, server, b.port, filepath.Join(b.dir, "userlist.txt"), o.PoolSize, b.log, filepath.Join(b.dir, "pgbouncer.pid"))
	ini += strings.Join(o.Settings, "\n") + "\n"
	files := map[string]string{"pgbouncer.ini": ini, "userlist.txt": `"postgres" ""` + "\n"}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(text), 0o644); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	_ = os.Remove(b.log)
	cmd := exec.Command(bin, filepath.Join(b.dir, "pgbouncer.ini"))
	cmd.Dir = b.dir
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if err := os.Chown(b.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgcluster: start pgbouncer: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", b.Addr(), time.Second)
		if err == nil {
			conn.Close()
			b.cmd, b.done = cmd, done
			return nil
		}
		select {
		case <-done:
			logText, _ := os.ReadFile(b.log)
			return fmt.Errorf("pgcluster: pgbouncer exited: %s\n%s", out.String(), tail(logText, 2000))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return errors.New("pgcluster: pgbouncer did not listen within 30s")
		}
	}
}

// Port is the port PgBouncer listens on, on 127.0.0.1.
func (b *Bouncer) Port() int { return b.port }

// Addr is host:port of PgBouncer.
func (b *Bouncer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// Version is the running PgBouncer's version: major, minor, patch.
func (b *Bouncer) Version() [3]int { return b.version }

// AtLeast reports whether the version is at least major.minor.
func (b *Bouncer) AtLeast(major, minor int) bool {
	return b.version[0] > major || b.version[0] == major && b.version[1] >= minor
}

// URL is a connection URL through PgBouncer for the superuser "postgres"
// and the named database.
func (b *Bouncer) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", b.Addr(), database)
}

// Log returns what PgBouncer logged so far.
func (b *Bouncer) Log() string {
	text, _ := os.ReadFile(b.log)
	return string(text)
}

// Destroy stops PgBouncer and removes its directory.
func (b *Bouncer) Destroy() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.done:
		case <-time.After(10 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.done
		}
		b.cmd = nil
	}
	_ = os.RemoveAll(b.dir)
}

// reapBouncers stops the PgBouncers whose owning process is gone (it was
// killed before it could clean up) and removes their directories.
func reapBouncers() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), bouncerPrefix+"*"))
	for _, dir := range dirs {
		if !ownerGone(dir) {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, "pgbouncer.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
		}
		_ = os.RemoveAll(dir)
	}
}

// ownerGone reports whether the process named in dir/owner.pid is another
// process that no longer exists.
func ownerGone(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid == os.Getpid() {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err != nil && !errors.Is(err, syscall.EPERM)
}

// Package pgcluster creates, starts, stops and destroys throwaway
// PostgreSQL clusters from the local server binaries (initdb and pg_ctl):
// in a temporary directory, listening on 127.0.0.1 only, on a free port, with
// trust authentication, and as the user "nobody" when run as root, since
// PostgreSQL refuses to run as root. The test harness and `uno demo` use it.
//
// Beside plain clusters it builds what connectivity tests need: TLS with a
// CA, server and client certificates generated on the spot ([NewPKI],
// [Options].TLS), streaming standbys ([NewStandby], with replay pause, WAL
// receiver cut and promotion), and PgBouncer in transaction mode in front
// of a cluster ([StartPgBouncer]).
package pgcluster

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// installHint is appended to every error that comes from missing binaries.
const installHint = "install the PostgreSQL server binaries (Debian: apt-get install postgresql), " +
	"put initdb and pg_ctl on PATH, or set UNO_TEST_DATABASE_URL to a server where the tests may create databases and roles"

// clusterPrefix names the temporary directories of harness clusters, so a
// later run can find and stop the clusters of test binaries that died.
const clusterPrefix = "uno-pgcluster-"

// Cluster is a throwaway PostgreSQL cluster owned by this process. It
// listens on 127.0.0.1 only, trusts every local connection and keeps no data
// after [Cluster.Destroy].
type Cluster struct {
	dir      string // temporary directory holding data, socket and log
	bin      string // directory of initdb and pg_ctl
	port     int
	cred     *syscall.Credential // non-nil when running the server as another user
	settings []string            // extra server settings, name=value
	conninfo string              // a standby's primary_conninfo, kept by CutReceiver
}

// Options adjusts a new cluster.
type Options struct {
	// Settings are server run-time settings as name=value, passed with -c
	// after the defaults, so they override them (for example
	// "synchronous_commit=on" for crash drills: the default is off).
	Settings []string

	// TLS, when set, turns ssl on with the PKI's server certificate and
	// key, and its CA as ssl_ca_file (for client certificates). The files
	// are copied into the data directory, owned by the server's user.
	TLS *PKI

	// HBA lines are put at the top of pg_hba.conf, before initdb's trust
	// lines, for example "hostssl all app 127.0.0.1/32 cert".
	HBA []string
}

// FindBinaries returns the directory holding initdb and pg_ctl, looking on
// PATH first and then under /usr/lib/postgresql/*/bin (newest version first).
func FindBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if resolved, err := filepath.EvalSymlinks(p); err == nil {
			dir = filepath.Dir(resolved)
		}
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	for _, m := range matches {
		dir := filepath.Dir(m)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("pgcluster: initdb and pg_ctl not found: %s", installHint)
}

func versionOf(initdbPath string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdbPath))))
	return v
}

// New creates and starts a cluster in a new temporary directory.
func New() (*Cluster, error) { return NewWith(Options{}) }

// NewWith creates and starts a cluster with the given options.
func NewWith(o Options) (*Cluster, error) {
	reapOrphans()
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", clusterPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	c := &Cluster{dir: dir, bin: bin, settings: append([]string(nil), o.Settings...)}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		c.Destroy()
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			c.Destroy()
			return nil, err
		}
		c.cred = cred
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			c.Destroy()
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		c.Destroy()
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if out, err := c.run("initdb", "-D", c.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C", "--no-sync"); err != nil {
		c.Destroy()
		return nil, fmt.Errorf("pgcluster: initdb failed: %w\n%s", err, out)
	}
	if err := c.configure(o); err != nil {
		c.Destroy()
		return nil, err
	}
	if err := c.Start(); err != nil {
		c.Destroy()
		return nil, err
	}
	return c, nil
}

// configure writes the TLS files and pg_hba.conf lines of o into the data
// directory, before the first start.
func (c *Cluster) configure(o Options) error {
	if o.TLS != nil {
		for _, f := range []struct{ from, to string }{
			{o.TLS.ServerCert, "server.crt"}, {o.TLS.ServerKey, "server.key"}, {o.TLS.CACert, "root.crt"},
		} {
			if err := c.copyIn(f.from, f.to); err != nil {
				return err
			}
		}
		c.settings = append([]string{"ssl=on", "ssl_cert_file=server.crt", "ssl_key_file=server.key",
			"ssl_ca_file=root.crt"}, c.settings...)
	}
	if len(o.HBA) > 0 {
		path := filepath.Join(c.dataDir(), "pg_hba.conf")
		old, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if err := os.WriteFile(path, append([]byte(strings.Join(o.HBA, "\n")+"\n"), old...), 0o600); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	return nil
}

// copyIn copies a file into the data directory with mode 0600, owned by
// the server's user.
func (c *Cluster) copyIn(from, name string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	to := filepath.Join(c.dataDir(), name)
	if err := os.WriteFile(to, b, 0o600); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(to, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	return nil
}

// unprivileged returns the credentials of the user "nobody", under which the
// server runs when the tests run as root.
func unprivileged() (*syscall.Credential, error) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root and no user \"nobody\" to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.Bytes(), err
}

// Start starts the server, on the port it had before if it ran before, or on
// a free port.
func (c *Cluster) Start() error {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if c.port == 0 || attempt > 0 {
			p, err := freePort()
			if err != nil {
				return err
			}
			c.port = p
		}
		args := []string{
			"-p", strconv.Itoa(c.port),
			"-h", "127.0.0.1",
			"-k", c.dir,
			"-F",
			"-c", "max_connections=300",
			"-c", "shared_buffers=64MB",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "max_prepared_transactions=0",
		}
		for _, s := range c.settings {
			args = append(args, "-c", s)
		}
		opts := strings.Join(args, " ")
		out, err := c.run("pg_ctl", "-D", c.dataDir(), "-l", filepath.Join(c.dir, "server.log"),
			"-w", "-t", "60", "-o", opts, "start")
		if err == nil {
			return nil
		}
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		lastErr = fmt.Errorf("pgcluster: pg_ctl start failed: %w\n%s\n%s", err, out, tail(log, 2000))
		if !bytes.Contains(log, []byte("could not bind")) && !bytes.Contains(log, []byte("Address already in use")) {
			break
		}
	}
	return lastErr
}

// Shutdown modes of pg_ctl stop and restart.
const (
	Smart     = "smart"     // wait for clients to disconnect
	Fast      = "fast"      // roll back open transactions, disconnect, checkpoint
	Immediate = "immediate" // crash: no checkpoint, crash recovery at the next start
)

// Stop stops the server with an immediate shutdown; the data stays, so
// [Cluster.Start] can bring it back.
func (c *Cluster) Stop() error { return c.StopMode(Immediate) }

// StopMode stops the server with the given shutdown mode ([Fast],
// [Immediate] or [Smart]).
func (c *Cluster) StopMode(mode string) error {
	if out, err := c.run("pg_ctl", "-D", c.dataDir(), "-m", mode, "-w", "stop"); err != nil {
		return fmt.Errorf("pgcluster: pg_ctl stop -m %s failed: %w\n%s", mode, err, out)
	}
	return nil
}

// Restart stops the server with the given mode and starts it again on the
// same port, like pg_ctl restart -m mode.
func (c *Cluster) Restart(mode string) error {
	if err := c.StopMode(mode); err != nil {
		return err
	}
	return c.Start()
}

// DataDir is the cluster's data directory.
func (c *Cluster) DataDir() string { return c.dataDir() }

// Dir is the cluster's temporary directory (data, socket directory, log).
func (c *Cluster) Dir() string { return c.dir }

// Destroy stops the server if it runs and removes its directory.
func (c *Cluster) Destroy() {
	if _, err := os.Stat(filepath.Join(c.dataDir(), "postmaster.pid")); err == nil {
		_ = c.Stop()
	}
	_ = os.RemoveAll(c.dir)
}

// Port is the TCP port the server listens on, on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// URL is a connection URL for the superuser "postgres" and the named
// database, without TLS.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, database)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: no free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// reapOrphans stops and removes clusters whose owning test process is gone,
// for example because it was killed before it could clean up.
func reapOrphans() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), clusterPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue // owner still alive
		}
		bin, err := FindBinaries()
		if err != nil {
			return
		}
		c := &Cluster{dir: dir, bin: bin}
		if os.Geteuid() == 0 {
			c.cred, _ = unprivileged()
		}
		done := make(chan struct{})
		go func() { c.Destroy(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
	}
}

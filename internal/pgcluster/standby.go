package pgcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/quote"
)

// NewStandby builds a streaming standby of primary with pg_basebackup -R
// (which writes primary_conninfo and standby.signal), in a new temporary
// directory, with the primary's settings (max_connections included, which
// a hot standby needs at least as high as its primary's), on a free
// loopback port, and starts it. The primary must run.
func NewStandby(primary *Cluster) (*Cluster, error) {
	dir, err := os.MkdirTemp("", clusterPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	c := &Cluster{dir: dir, bin: primary.bin, cred: primary.cred, settings: append([]string(nil), primary.settings...)}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		c.Destroy()
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			c.Destroy()
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		c.Destroy()
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if out, err := c.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.port), "-U", "postgres",
		"-D", c.dataDir(), "-R", "-X", "stream", "--no-sync", "-c", "fast"); err != nil {
		c.Destroy()
		return nil, fmt.Errorf("pgcluster: pg_basebackup failed: %w\n%s", err, out)
	}
	if err := c.Start(); err != nil {
		c.Destroy()
		return nil, err
	}
	if err := c.waitStreaming(primary); err != nil {
		c.Destroy()
		return nil, err
	}
	return c, nil
}

// waitStreaming waits until the primary reports this standby as streaming.
func (c *Cluster) waitStreaming(primary *Cluster) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		var n int
		err := primary.query(ctx, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'", &n)
		if err == nil && n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: standby on port %d is not streaming (last error: %v)", c.port, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// query runs one query as the superuser on the postgres database and scans
// its single row into dest.
func (c *Cluster) query(ctx context.Context, sql string, dest ...any) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if len(dest) == 0 {
		_, err = conn.Exec(ctx, sql)
		return err
	}
	return conn.QueryRow(ctx, sql).Scan(dest...)
}

// PauseReplay pauses WAL replay on a standby (pg_wal_replay_pause): it
// keeps receiving WAL but its data stops advancing.
func (c *Cluster) PauseReplay(ctx context.Context) error {
	return c.query(ctx, "SELECT pg_wal_replay_pause()")
}

// ResumeReplay resumes WAL replay on a standby.
func (c *Cluster) ResumeReplay(ctx context.Context) error {
	return c.query(ctx, "SELECT pg_wal_replay_resume()")
}

// CutReceiver stops a standby's WAL receiver by clearing primary_conninfo
// and reloading: the standby stays up, read-only, and falls behind.
// [Cluster.RestoreReceiver] undoes it.
func (c *Cluster) CutReceiver(ctx context.Context) error {
	var conninfo string
	if err := c.query(ctx, "SELECT current_setting('primary_conninfo')", &conninfo); err != nil {
		return err
	}
	if conninfo != "" {
		c.conninfo = conninfo
	}
	if err := c.query(ctx, "ALTER SYSTEM SET primary_conninfo = ''"); err != nil {
		return err
	}
	return c.query(ctx, "SELECT pg_reload_conf()")
}

// RestoreReceiver undoes [Cluster.CutReceiver]: the primary_conninfo
// pg_basebackup -R wrote applies again and the WAL receiver restarts.
func (c *Cluster) RestoreReceiver(ctx context.Context) error {
	if c.conninfo == "" {
		return fmt.Errorf("pgcluster: RestoreReceiver without CutReceiver")
	}
	if err := c.query(ctx, "ALTER SYSTEM SET primary_conninfo = "+quote.Literal(c.conninfo)); err != nil {
		return err
	}
	return c.query(ctx, "SELECT pg_reload_conf()")
}

// Promote promotes a standby to a primary (pg_ctl promote, waiting until
// it accepts writes).
func (c *Cluster) Promote() error {
	if out, err := c.run("pg_ctl", "-D", c.dataDir(), "-w", "promote"); err != nil {
		return fmt.Errorf("pgcluster: pg_ctl promote failed: %w\n%s", err, out)
	}
	return nil
}

// InRecovery reports pg_is_in_recovery() of the server: true on a standby.
func (c *Cluster) InRecovery(ctx context.Context) (bool, error) {
	var r bool
	err := c.query(ctx, "SELECT pg_is_in_recovery()", &r)
	return r, err
}

package engine_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/quote"
)

// TestDebugQueryLog reads the debug query log line by line: a query that
// succeeds is logged as "uno: query" with the backend's pid, one that
// fails as "uno: query failed" with the server's message, and a failing
// statement that sets a password with its SQLSTATE only, since the
// server's message quotes the offending token (here the password).
func TestDebugQueryLog(t *testing.T) {
	t.Parallel()
	const secret = "pw-Token-3f8a"
	var out bytes.Buffer
	w := &lockedWriter{w: &out, mu: new(sync.Mutex)}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, engine.Options{Logger: logger})
	db := e.open(nil)
	ctx := context.Background()
	var pid uint32
	err := db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		pid = c.Raw().PgConn().PID()
		if _, err := c.Exec(ctx, "SELECT 'mut-ok-marker'"); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, "SELECT 1/0, 'mut-fail-marker'"); err == nil {
			t.Error("1/0 succeeded")
		}
		// A syntax error whose message quotes the password token.
		if _, err := c.Exec(ctx, "ALTER ROLE "+quote.Ident(e.cfg.Roles.Login)+" PASSWORD 'x' "+quote.Literal(secret)); err == nil {
			t.Error("bad ALTER ROLE succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	got := out.String()
	w.mu.Unlock()
	line := func(marker string) string {
		for _, l := range strings.Split(got, "\n") {
			if strings.Contains(l, marker) {
				return l
			}
		}
		t.Fatalf("no log line with %q in:\n%s", marker, got)
		return ""
	}
	ok := line("mut-ok-marker")
	if !strings.Contains(ok, `msg="uno: query"`) || strings.Contains(ok, "err=") ||
		!strings.Contains(ok, "pid="+strconv.FormatUint(uint64(pid), 10)) {
		t.Errorf("successful query logged as %s", ok)
	}
	fail := line("mut-fail-marker")
	if !strings.Contains(fail, `msg="uno: query failed"`) || !strings.Contains(fail, "division by zero") ||
		!strings.Contains(fail, "pid="+strconv.FormatUint(uint64(pid), 10)) {
		t.Errorf("failed query logged as %s", fail)
	}
	if strings.Contains(got, secret) {
		t.Fatalf("password in the log:\n%s", got)
	}
	pw := line("PASSWORD")
	if !strings.Contains(pw, `msg="uno: query failed"`) || !strings.Contains(pw, "err=\"SQLSTATE 42601\"") {
		t.Errorf("failed password statement logged as %s", pw)
	}
}

package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/quote"
)

// TestNoPasswordInOutput captures every output of a DB with a password
// (fmt in every verb, slog in text and JSON, the debug query log of
// statements that set passwords, their errors) and greps it for the
// passwords.
func TestNoPasswordInOutput(t *testing.T) {
	t.Parallel()
	const (
		login   = "pw-Login-7b1e"
		altered = "pw-Altered-c4d9"
		esc     = "pw-Escaped-91fa"
		dollar  = "pw-Dollar-55aa"
	)
	var out bytes.Buffer
	w := &lockedWriter{w: &out, mu: new(sync.Mutex)}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, engine.Options{Logger: logger})
	db := e.open(func(c *config.Config) { c.Password = login })
	ctx := context.Background()
	role := quote.Ident(e.cfg.Roles.Login)
	var errs []error
	errs = append(errs, db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		for _, sql := range []string{
			"ALTER ROLE " + role + " PASSWORD " + quote.Literal(altered),
			"ALTER ROLE " + role + " PASSWORD E'" + esc + "\\''",
			"ALTER ROLE " + role + " PASSWORD $pw$" + dollar + "$pw$",
		} {
			if _, err := c.Exec(ctx, sql); err != nil {
				return err
			}
		}
		return nil
	}))
	// A failing one: its error goes to the debug log too.
	errs = append(errs, db.WithConn(ctx, func(ctx context.Context, c *engine.Conn) error {
		_, err := c.Exec(ctx, "ALTER ROLE no_such_role_x PASSWORD "+quote.Literal(altered))
		return err
	}))
	if errs[0] != nil || errs[1] == nil {
		t.Fatalf("setup: %v", errs)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(w, verb+"\n", db)
	}
	fmt.Fprintf(w, "%+v %#v\n", db.Config(), db.Config())
	for _, err := range errs {
		fmt.Fprintf(w, "%v %+v\n", err, err)
	}
	logger.Info("db", "db", db, "cfg", db.Config())
	slog.New(slog.NewJSONHandler(w, nil)).Info("db", "db", db, "cfg", db.Config())
	w.mu.Lock()
	got := out.String()
	w.mu.Unlock()
	for _, pw := range []string{login, altered, esc, dollar} {
		if strings.Contains(got, pw) {
			t.Fatalf("password %q in the output:\n%s", pw, got)
		}
	}
	if !strings.Contains(got, "ALTER ROLE") || !strings.Contains(got, e.cfg.Key().String()) {
		t.Fatalf("the output lacks what it should show:\n%s", got)
	}
}

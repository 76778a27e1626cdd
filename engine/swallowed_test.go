package engine_test

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgproxy"
)

// TestSwallowedErrorCommitLost: fn swallows an error (the transaction is
// failed) and returns nil; the proxy would cut the COMMIT. WithTx must not
// report success: the row is not there.
func TestSwallowedErrorCommitLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, engine.Options{})
	proxy := newProxy(t, net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)))
	db := e.open(func(c *config.Config) { c.Port = proxy.Port() })
	proxy.SetRule(pgproxy.Once(pgproxy.Message.IsCommit, pgproxy.CutBefore))
	err := db.WithTx(context.Background(), engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		if err := insertItem(ctx, tx, 1); err != nil {
			return err
		}
		_, _ = tx.Exec(ctx, "SELECT 1/0") // swallowed
		return nil
	})
	t.Logf("WithTx returned %v; %d rows; %d cuts", err, countItems(t, e), proxy.Cuts())
	if err == nil || countItems(t, e) != 0 {
		t.Errorf("a rolled-back transaction was reported committed: %v, %d rows", err, countItems(t, e))
	}
}

package replicatest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgproxy"
	"github.com/uno-db/uno/internal/pgtest"
)

const (
	ejectedLog  = "uno: replica taken out of rotation"
	admittedLog = "uno: replica back in rotation"
)

// TestReplicaReadmittedLoggedOnce: a replica taken out of rotation (its
// connection lost at a read's BEGIN) is put back by the next health check,
// and each change is logged once: the checks after it, which find the
// replica in rotation already, log nothing.
func TestReplicaReadmittedLoggedOnce(t *testing.T) {
	p := newProxied(t, standby.Port(), false, func(c *config.Config) { c.Replicas.CheckPeriod = 20 * time.Millisecond })
	ctx := engine.TrackWrites(context.Background())
	p.primaryWrite(ctx, 1)
	p.setRule(pgproxy.Once(isReplayCheck, pgproxy.CutBefore))
	if r, err := p.read(ctx, engine.ReadYourWrites, 1, "a"); err != nil || !r.found {
		t.Fatalf("read with the replica lost at BEGIN: %+v, %v", r, err)
	}
	waitFor(t, "the replica back in rotation", func() bool { return p.stat().Healthy })
	// Three more health checks sent: at least two of them answered and
	// judged after the replica was back.
	sent := p.health.Load()
	waitFor(t, "three more health checks", func() bool { return p.health.Load() >= sent+3 })
	if st := p.stat(); !st.Healthy || st.Ejections != 1 || p.logs.count(ejectedLog) != 1 || p.logs.count(admittedLog) != 1 {
		t.Errorf("after the replica came back: %+v; logged %d ejections, %d admissions, want 1 each",
			st, p.logs.count(ejectedLog), p.logs.count(admittedLog))
	}
}

// TestCommitPositionRefused: the login role may not read the primary's WAL
// position (EXECUTE on pg_current_wal_insert_lsn revoked), so the
// position query sent with COMMIT fails after the COMMIT succeeded: the
// call reports the commit, the row is there, the token stays where it
// was, and the connection, whose release guard did not run, is discarded.
func TestCommitPositionRefused(t *testing.T) {
	p := newProxied(t, standby.Port(), false, nil)
	pgtest.Exec(t, primary.URL(p.name), "REVOKE EXECUTE ON FUNCTION pg_current_wal_insert_lsn() FROM PUBLIC")
	ctx := engine.TrackWrites(context.Background())
	p.primaryWrite(ctx, 1)
	if tok := engine.TokenFromContext(ctx); !tok.IsZero() {
		t.Errorf("token %v without a position", tok)
	}
	if n := pgtest.Scalar[int](t, primary.URL(p.name), "SELECT count(*) FROM item WHERE id = 1"); n != 1 || p.db.Discards() != 1 {
		t.Errorf("%d rows, %d discards", n, p.db.Discards())
	}
}

// TestCommitRefusedWithReplicas: with replicas, a COMMIT the server
// refuses (a deferred foreign key) answers with its error alone (no
// position, no guard): the call fails with the violation, the token stays,
// and the connection serves the next transaction.
func TestCommitRefusedWithReplicas(t *testing.T) {
	p := newProxied(t, standby.Port(), false, func(c *config.Config) { c.Pool.MaxConns = 1 })
	pgtest.Exec(t, primary.URL(p.name),
		"CREATE TABLE parent (id int PRIMARY KEY)",
		"CREATE TABLE kid (id int PRIMARY KEY, parent_id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED)",
		"GRANT SELECT, INSERT ON parent, kid TO "+`"`+p.cfg.Roles.Writer+`"`)
	ctx := engine.TrackWrites(context.Background())
	err := p.db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, tx *engine.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO kid VALUES (1, 99)")
		return err
	})
	if !errors.Is(err, dberr.ErrForeignKeyViolation) || !engine.TokenFromContext(ctx).IsZero() {
		t.Fatalf("deferred violation at COMMIT: %v, token %v", err, engine.TokenFromContext(ctx))
	}
	p.primaryWrite(ctx, 1)
	if engine.TokenFromContext(ctx).IsZero() || p.db.Discards() != 0 {
		t.Errorf("after the refused COMMIT: token %v, %d discards", engine.TokenFromContext(ctx), p.db.Discards())
	}
}

// TestPromotedTimelineRecordedLater: a replica a read found promoted at
// BEGIN, before the checker saw it, is checked once more by the checker,
// which records its new timeline; the promotion is logged once. (The
// checker's first check is held while the read runs, then cut, so the
// timeline comes from the next check.)
func TestPromotedTimelineRecordedLater(t *testing.T) {
	p := newProxied(t, primary.Port(), true, func(c *config.Config) { c.Replicas.CheckPeriod = 5 * time.Second })
	if _, err := p.read(context.Background(), engine.ReadYourWrites, 1, "a"); err != nil {
		t.Fatal(err)
	}
	if st := p.stat(); !st.Promoted || st.Timeline != 0 {
		t.Fatalf("after the read: %+v", st)
	}
	p.let.Do(func() { p.held.CutBefore() })
	waitFor(t, "the checker to record the promoted server's timeline", func() bool { return p.stat().Timeline != 0 })
	if st := p.stat(); !st.Promoted || st.Healthy || p.logs.count(promotedLog) != 1 {
		t.Errorf("after the next check: %+v, promotion logged %d times", st, p.logs.count(promotedLog))
	}
}

// TestReadOnReplicaCheckBeforeExec: a read outside a transaction whose
// first call is not a query (Exec, SendBatch) runs the replay check on its
// own first. On a replica that has replayed the token it serves the read
// there; on one behind it (replay paused) the read falls back to the
// primary and sees the write.
func TestReadOnReplicaCheckBeforeExec(t *testing.T) {
	p := newProxied(t, standby.Port(), false, func(c *config.Config) { c.User = "postgres" })
	ctx := engine.TrackWrites(context.Background())
	p.primaryWrite(ctx, 1)
	// seen records what each run of the function read: it may run more
	// than once, but never on a replica behind the token.
	type sight struct{ onReplica, found bool }
	var seen []sight
	read := func(ctx context.Context, execFirst bool) (onReplica, found bool, err error) {
		seen = nil
		err = p.db.ReadOnReplica(ctx, engine.ReadYourWrites, func(ctx context.Context, q engine.Querier) error {
			if execFirst {
				if _, err := q.Exec(ctx, "SELECT 1"); err != nil {
					return err
				}
			}
			b := &pgx.Batch{}
			b.Queue("SELECT pg_is_in_recovery(), EXISTS (SELECT 1 FROM item WHERE id = 2)")
			br := q.SendBatch(ctx, b)
			defer br.Close()
			if err := br.QueryRow().Scan(&onReplica, &found); err != nil {
				return err
			}
			seen = append(seen, sight{onReplica, found})
			return nil
		})
		return onReplica, found, err
	}
	waitFor(t, "a read on the replica", func() bool { on, _, err := read(ctx, true); return err == nil && on })
	if err := standby.PauseReplay(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := standby.ResumeReplay(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	p.primaryWrite(ctx, 2)
	for _, execFirst := range []bool{true, false} {
		if on, found, err := read(ctx, execFirst); err != nil || on || !found || len(seen) != 1 {
			t.Fatalf("read with the replica behind (Exec first %v): on it %v, found %v, %v; the function saw %+v",
				execFirst, on, found, err, seen)
		}
	}
}

package replicatest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/repo"
)

// Item is the model of the test table "item" (row-level security by
// tenant_id, which the column default fills from the identity).
type Item struct {
	uno.Model `uno:"table:item"`
	ID        int32  `uno:"id,pk"`
	TenantID  string `uno:"tenant_id,default:current_setting('rls_var.tenant_id', true)"`
	Name      string `uno:"name"`
}

func itemRepo(t testing.TB, db *engine.DB, opts repo.Options) *repo.Repository[Item] {
	t.Helper()
	reg := model.NewRegistry()
	if err := reg.Register((*Item)(nil)); err != nil {
		t.Fatal(err)
	}
	r, err := repo.New[Item](db, reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRepositoryReads checks repository reads asking for a replica: a
// repository with Options.Consistency, and per call with
// engine.WithConsistency. Reads run on the replica (by the stats and by
// pg_is_in_recovery() in the read itself), writes on the primary; row-level
// security and the reader role hold there; and 200 create-then-get cycles
// with the token of the preceding repository write see every write.
func TestRepositoryReads(t *testing.T) {
	e := newEnv(t, nil)
	items := itemRepo(t, e.db, repo.Options{Roles: repo.RolesSwitch, Identity: engine.Identity{TenantID: "a"},
		Consistency: engine.ReadYourWrites})
	replicaReads := func() int64 { return e.stat().Reads }

	t.Run("ReadYourWrites200", func(t *testing.T) {
		ctx := engine.TrackWrites(context.Background())
		before, primaryBefore := replicaReads(), e.db.ReplicaStats().PrimaryReads
		stale := 0
		for i := int32(1); i <= 200; i++ {
			tok := engine.TokenFromContext(ctx)
			if err := items.Create(ctx, &Item{ID: i, Name: fmt.Sprint("item ", i)}); err != nil {
				t.Fatalf("cycle %d: %v", i, err)
			}
			if !engine.TokenFromContext(ctx).After(tok) {
				t.Fatalf("cycle %d: the repository write left the token at %v", i, tok)
			}
			got, err := items.Get(ctx, i)
			switch {
			case errors.Is(err, dberr.ErrNotFound):
				stale++
			case err != nil:
				t.Fatalf("cycle %d: %v", i, err)
			case got.Name != fmt.Sprint("item ", i) || got.TenantID != "a":
				t.Fatalf("cycle %d: got %+v", i, got)
			}
		}
		onReplica := replicaReads() - before
		onPrimary := e.db.ReplicaStats().PrimaryReads - primaryBefore
		t.Logf("200 cycles: %d stale, %d reads on the replica, %d on the primary", stale, onReplica, onPrimary)
		if stale != 0 {
			t.Errorf("%d stale reads under read-your-writes", stale)
		}
		if onReplica+onPrimary != 200 || onReplica <= 100 {
			t.Errorf("%d reads on the replica and %d on the primary, want 200 in all and most on the replica", onReplica, onPrimary)
		}
	})

	t.Run("EveryRead", func(t *testing.T) {
		ctx := engine.TrackWrites(context.Background())
		if err := items.Create(ctx, &Item{ID: 1000, Name: "filtered"}); err != nil {
			t.Fatal(err)
		}
		f := repo.Filter{Where: []repo.Cond{{Field: "name", Lookup: repo.LookupEqual, Value: "filtered"}}}
		before := replicaReads()
		if rows, err := items.Filter(ctx, f); err != nil || len(rows) != 1 || rows[0].ID != 1000 {
			t.Errorf("Filter: %+v, %v", rows, err)
		}
		if n, err := items.Count(ctx, f); err != nil || n != 1 {
			t.Errorf("Count: %d, %v", n, err)
		}
		if got, err := items.GetBy(ctx, repo.Eq{"name": "filtered"}); err != nil || got.ID != 1000 {
			t.Errorf("GetBy: %+v, %v", got, err)
		}
		n := 0
		for v, err := range items.Stream(ctx, f) {
			if err != nil || v.ID != 1000 {
				t.Errorf("Stream: %+v, %v", v, err)
			}
			n++
		}
		if n != 1 {
			t.Errorf("Stream yielded %d rows, want 1", n)
		}
		// Query runs as a read: it sees where it runs and as whom.
		m, err := items.QueryMaps(ctx, "SELECT pg_is_in_recovery() AS standby, current_user::text AS usr, "+
			"current_setting('transaction_read_only') AS ro")
		if err != nil || len(m) != 1 || m[0]["standby"] != true || m[0]["usr"] != e.cfg.Roles.Reader || m[0]["ro"] != "on" {
			t.Errorf("QueryMaps on the replica: %v, %v", m, err)
		}
		if got := replicaReads() - before; got != 5 {
			t.Errorf("%d of 5 reads ran on the replica", got)
		}
	})

	t.Run("IdentityAndRLS", func(t *testing.T) {
		ctx := engine.TrackWrites(context.Background())
		hostile := itemRepo(t, e.db, repo.Options{Roles: repo.RolesSwitch, Identity: engine.Identity{TenantID: hostileTenant},
			Consistency: engine.ReadYourWrites})
		if err := hostile.Create(ctx, &Item{ID: 2000, Name: "hostile"}); err != nil {
			t.Fatal(err)
		}
		before := replicaReads()
		rows, err := hostile.Query(ctx, "SELECT id, tenant_id, name FROM item")
		if err != nil || len(rows) != 1 || rows[0].ID != 2000 || rows[0].TenantID != hostileTenant {
			t.Errorf("the hostile tenant sees %+v, %v", rows, err)
		}
		if _, err := hostile.Get(ctx, int32(1)); !errors.Is(err, dberr.ErrNotFound) {
			t.Errorf("the hostile tenant reads tenant a's row: %v", err)
		}
		if n, err := items.Count(ctx, repo.Filter{Where: []repo.Cond{{Field: "id", Lookup: repo.LookupEqual, Value: 2000}}}); err != nil || n != 0 {
			t.Errorf("tenant a counts %d of the hostile tenant's rows, %v", n, err)
		}
		if got := replicaReads() - before; got != 3 {
			t.Errorf("%d of 3 reads ran on the replica", got)
		}
	})

	t.Run("PerCall", func(t *testing.T) {
		ctx := engine.TrackWrites(context.Background())
		strong := itemRepo(t, e.db, repo.Options{Roles: repo.RolesSwitch, Identity: engine.Identity{TenantID: "a"}})
		// The write ignores the consistency: on a replica it would fail
		// (read-only transaction).
		wctx := engine.WithConsistency(ctx, engine.ReadYourWrites)
		if err := strong.Create(wctx, &Item{ID: 3000, Name: "per call"}); err != nil {
			t.Fatal(err)
		}
		before := replicaReads()
		if _, err := strong.Get(ctx, int32(3000)); err != nil {
			t.Fatal(err)
		}
		if got := replicaReads() - before; got != 0 {
			t.Errorf("a Strong repository read ran on the replica (%d)", got)
		}
		if _, err := strong.Get(wctx, int32(3000)); err != nil {
			t.Fatal(err)
		}
		if got := replicaReads() - before; got != 1 {
			t.Errorf("WithConsistency(ReadYourWrites): %d reads on the replica, want 1", got)
		}
		if _, err := items.Get(engine.WithConsistency(ctx, engine.Strong), int32(3000)); err != nil {
			t.Fatal(err)
		}
		if got := replicaReads() - before; got != 1 {
			t.Errorf("WithConsistency(Strong) on a replica repository ran on the replica")
		}
		// Bounded staleness per call: served by the replica once the
		// checker has a sample it has replayed.
		bctx := engine.WithConsistency(context.Background(), engine.BoundedStaleness)
		f := repo.Filter{Where: []repo.Cond{{Field: "id", Lookup: repo.LookupEqual, Value: 3000}}}
		waitFor(t, "a bounded-staleness repository read on the replica", func() bool {
			r := replicaReads()
			n, err := strong.Count(bctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return n == 1 && replicaReads() == r+1
		})
		// Inside the caller's transaction the transaction decides.
		err := e.db.WithTx(wctx, engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{TenantID: "a"}},
			func(ctx context.Context, _ *engine.Tx) error {
				m, err := items.QueryMaps(ctx, "SELECT pg_is_in_recovery() AS standby")
				if err == nil && m[0]["standby"] != false {
					err = fmt.Errorf("a read in the caller's primary transaction saw standby = %v", m[0]["standby"])
				}
				return err
			})
		if err != nil {
			t.Error(err)
		}
	})
}

// TestRepositoryLoginRole covers a repository that runs as the login user
// (no role switching), whose writes run without a transaction of their
// own: with a context that tracks writes they run in one so their commit
// raises the token, and reads then run on the replica and see them.
func TestRepositoryLoginRole(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.User = "postgres" })
	items := itemRepo(t, e.db, repo.Options{Roles: repo.RolesLogin, Consistency: engine.ReadYourWrites})
	ctx := engine.TrackWrites(context.Background())
	before := e.stat().Reads
	for i := int32(1); i <= 20; i++ {
		tok := engine.TokenFromContext(ctx)
		if err := items.Create(ctx, &Item{ID: i, TenantID: "x", Name: "login"}); err != nil {
			t.Fatal(err)
		}
		if !engine.TokenFromContext(ctx).After(tok) {
			t.Fatalf("write %d as the login role left the token at %v", i, tok)
		}
		if _, err := items.Get(ctx, i); err != nil {
			t.Fatalf("read %d after its write: %v", i, err)
		}
	}
	if got := e.stat().Reads - before; got < 11 {
		t.Errorf("%d of 20 reads ran on the replica", got)
	}
	m, err := items.QueryMaps(ctx, "SELECT pg_is_in_recovery() AS standby, current_user::text AS usr, "+
		"current_setting('transaction_read_only') AS ro")
	if err != nil || m[0]["standby"] != true || m[0]["usr"] != "postgres" {
		t.Errorf("login-role read: %v, %v", m, err)
	}
	// A query error on the replica is the caller's, typed, and no
	// fallback.
	fallbacks := e.stat().Fallbacks
	if _, err := items.QueryMaps(ctx, "SELECT no_such_column FROM item"); err == nil || e.stat().Fallbacks != fallbacks {
		t.Errorf("bad query on the replica: %v, fallbacks %d → %d", err, fallbacks, e.stat().Fallbacks)
	}
	if _, err := items.Get(ctx, int32(999)); !errors.Is(err, dberr.ErrNotFound) {
		t.Errorf("missing row on the replica: %v", err)
	}

	// Replay paused: the read after a write falls back to the primary
	// once the wait budget is spent, and sees the write.
	if err := standby.PauseReplay(context.Background()); err != nil {
		t.Fatal(err)
	}
	paused := true
	defer func() {
		if paused {
			_ = standby.ResumeReplay(context.Background())
		}
	}()
	if err := items.Create(ctx, &Item{ID: 100, TenantID: "x", Name: "paused"}); err != nil {
		t.Fatal(err)
	}
	st := e.db.ReplicaStats()
	got, err := items.Get(ctx, int32(100))
	if err != nil || got.Name != "paused" {
		t.Fatalf("read with replay paused: %+v, %v", got, err)
	}
	if after := e.db.ReplicaStats(); after.PrimaryReads != st.PrimaryReads+1 || after.Replicas[0].Fallbacks != st.Replicas[0].Fallbacks+1 {
		t.Errorf("read with replay paused: stats %+v → %+v, want one fallback to the primary", st, after)
	}
	if err := standby.ResumeReplay(context.Background()); err != nil {
		t.Fatal(err)
	}
	paused = false
}

// TestRepositoryLoginRepeatableRead covers a login whose sessions default
// to REPEATABLE READ: a read outside a transaction would share one
// snapshot between the replica's check and the query, so uno checks
// before a read-only transaction instead (three round trips, not one);
// reads still run on the replica and see the writes.
func TestRepositoryLoginRepeatableRead(t *testing.T) {
	e, counter := replicaBehind(t, true, func(c *config.Config) {
		c.RuntimeParams["default_transaction_isolation"] = "repeatable read"
	})
	items := itemRepo(t, e.db, repo.Options{Roles: repo.RolesLogin, Consistency: engine.ReadYourWrites})
	ctx := engine.TrackWrites(context.Background())
	before := e.stat().Reads
	for i := int32(1); i <= 10; i++ {
		if err := items.Create(ctx, &Item{ID: i, TenantID: "x", Name: "rr"}); err != nil {
			t.Fatal(err)
		}
		if _, err := items.Get(ctx, i); err != nil {
			t.Fatalf("read %d after its write: %v", i, err)
		}
	}
	if got := e.stat().Reads - before; got < 6 {
		t.Errorf("%d of 10 reads ran on the replica", got)
	}
	trips := counter.trips.Load()
	if _, err := items.Get(ctx, int32(1)); err != nil {
		t.Fatal(err)
	}
	if got := counter.trips.Load() - trips; got != 3 {
		t.Errorf("a repeatable-read login read took %d round trips on the replica, want 3 (a read-only transaction)", got)
	}
	m, err := items.QueryMaps(ctx, "SELECT pg_is_in_recovery() AS standby, current_setting('transaction_isolation') AS iso, "+
		"current_setting('transaction_read_only') AS ro")
	if err != nil || m[0]["standby"] != true || m[0]["iso"] != "repeatable read" || m[0]["ro"] != "on" {
		t.Errorf("repeatable-read login read: %v, %v", m, err)
	}
}

package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/dberr"
)

var (
	suiteOnce sync.Once
	shared    *Suite
	sharedErr error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

// testSuite returns the package's suite (short form), started on first use.
func testSuite(t *testing.T) *Suite {
	t.Helper()
	suiteOnce.Do(func() { shared, sharedErr = Start(context.Background(), true) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// TestTallyCountsTruth plants each kind of wrong outcome in the table and
// in the recorded calls, and checks that the counting sees every one.
func TestTallyCountsTruth(t *testing.T) {
	ctx := context.Background()
	s := testSuite(t)
	c, err := Uno.Open(ctx, Target{Host: "127.0.0.1", Port: s.Port(), Roles: s.Roles()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := &Run{Suite: s, Client: c, ID: "self-test/tally", calls: map[int64]error{}}
	for i := 0; i < 6; i++ {
		if err := r.Call(ctx, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	// 1: acknowledged, row removed: lost. 2: a second row: duplicated.
	// 3: reported failed, row present. 4: reported unknown, row present.
	// 5: reported failed, row removed: a true failure. 6: untouched.
	for _, stmt := range []string{
		"DELETE FROM public.attempt WHERE run = $1 AND id IN (1, 5)",
		"INSERT INTO public.attempt (run, id) VALUES ($1, 2)",
	} {
		if err := s.superExec(ctx, stmt, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	r.calls[3] = errors.New("injected failure")
	r.calls[4] = &dberr.Error{Kind: dberr.ErrCommitUnknown, Err: errors.New("injected")}
	r.calls[5] = errors.New("injected failure")
	var res Result
	if err := r.tally(ctx, &res); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("attempted %d acked %d lost %d duplicated %d failed+present %d unknown %d/%d errors %d",
		res.Attempted, res.Acked, res.Lost, res.Duplicated, res.FailedPresent, res.Unknown, res.UnknownPresent, res.Errors)
	const want = "attempted 6 acked 3 lost 1 duplicated 1 failed+present 1 unknown 1/1 errors 2"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestStateSQLSeesLeftovers plants every kind of session state the leak
// check looks for on one connection and checks that each is reported,
// and that a fresh connection is reported clean.
func TestStateSQLSeesLeftovers(t *testing.T) {
	ctx := context.Background()
	s := testSuite(t)
	conn, err := pgx.Connect(ctx, loginURL("127.0.0.1", s.Port(), s.Roles()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left string
	if err := conn.QueryRow(ctx, stateSQL).Scan(&left); err != nil || left != "" {
		t.Fatalf("fresh connection: %q, %v", left, err)
	}
	for _, stmt := range []string{
		"SET ROLE " + pgx.Identifier{s.Roles().Writer}.Sanitize(),
		"CREATE TEMPORARY TABLE attempt (id bigint)",
		"SET search_path = pg_temp, public",
		"SELECT pg_advisory_lock(42)",
		"LISTEN drill",
		"PREPARE planted AS SELECT 1",
		"SELECT set_config('rls_var.org', 'other-org', false)",
		"BEGIN",
		"SELECT pg_current_xact_id()",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := conn.QueryRow(ctx, stateSQL).Scan(&left); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"role " + s.Roles().Writer, "settings rls_var.org=other-org", "search_path",
		"temporary tables", "advisory locks", "listening", "prepared statements", "open transaction"} {
		if !strings.Contains(left, want) {
			t.Errorf("state %q does not name %q", left, want)
		}
	}
}

// TestDrillsShort runs every drill for a few seconds with uno's engine
// (WithTx, and Single for the drills of one statement a call) and
// fails when uno loses or duplicates a transaction, reports a landed
// commit as failed without ErrCommitUnknown, or breaks another requirement
// of a drill. Requirements listed in Pending (they wait for a fix in the
// engine) are reported in the log, not failed.
func TestDrillsShort(t *testing.T) {
	ctx := context.Background()
	s := testSuite(t)
	results, err := s.Run(ctx, Drills, []Kind{Uno, UnoSingle})
	var table strings.Builder
	_ = Print(&table, results)
	t.Log("\n" + table.String())
	if err != nil {
		t.Fatal(err)
	}
	want := len(Drills)
	for _, d := range Drills {
		if d.OneStatement {
			want++
		}
	}
	if len(results) != want {
		t.Fatalf("%d results for %d drills and clients", len(results), want)
	}
	for _, r := range results {
		if r.Attempted == 0 || r.Acked == 0 {
			t.Errorf("%s with %s: %d calls attempted, %d acknowledged: the drill did not exercise uno", r.Drill, r.Client, r.Attempted, r.Acked)
		}
		for _, c := range r.Failed() {
			t.Errorf("%s: %s: %s", r.Drill, c.Name, c.Detail)
		}
		for _, c := range r.Checks {
			switch {
			case !c.OK && c.Pending != "":
				t.Logf("PENDING %s: %s: %s (%s)", r.Drill, c.Name, c.Detail, c.Pending)
			case c.Pending != "":
				t.Logf("%s: %s passes now: remove it from Pending so that it is enforced", r.Drill, c.Name)
			}
		}
	}
}

// TestFailedHoldsOnlyUno: a failed check fails the suite for uno unless it
// is pending; a baseline's checks never do.
func TestFailedHoldsOnlyUno(t *testing.T) {
	checks := []Check{{Name: "a", OK: true}, {Name: "b"}, {Name: "c", Pending: "an engine fix"}}
	if got := (Result{Held: true, Checks: checks}).Failed(); len(got) != 1 || got[0].Name != "b" {
		t.Fatalf("held: %+v", got)
	}
	if got := (Result{Checks: checks}).Failed(); len(got) != 0 {
		t.Fatalf("baseline: %+v", got)
	}
}

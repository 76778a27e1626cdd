package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/internal/pgcluster"
	"github.com/uno-db/uno/internal/pgproxy"
)

// Drill is one fault scenario. Every drill is bounded in calls and in
// time and stops by itself.
type Drill struct {
	Name  string
	About string // one line: what the drill does
	// Proxy puts a pgproxy between the client and the server.
	Proxy bool
	// Pool adjusts the client's pool settings.
	Pool func(t *Target)
	// Run makes the calls and injects the fault; it returns when the drill
	// is over and the server is up.
	Run func(ctx context.Context, r *Run) error
	// Check adds the drill's own requirements once the rows are counted.
	Check func(ctx context.Context, r *Run, res *Result) error
	// OneStatement tells that every call of the drill is one INSERT, so
	// the one-statement clients ([Kind.OneStatement]) run it too.
	OneStatement bool
}

// maxCalls bounds the calls of one writer in any drill.
const maxCalls = 100_000

// Drills are the suite's drills, in the order they run.
var Drills = []Drill{
	{Name: "fast restarts", About: "16 writers; pg_ctl restart -m fast 3 s after the server is back, again and again",
		Run: restarts(pgcluster.Fast), Check: zeroFailed, OneStatement: true},
	{Name: "crash restarts", About: "16 writers; pg_ctl restart -m immediate (a crash) 3 s after the server is back, again and again",
		Run: restarts(pgcluster.Immediate), OneStatement: true},
	{Name: "terminate backends", About: "16 writers; pg_terminate_backend on every client backend every 500 ms",
		Run: terminate, OneStatement: true},
	{Name: "cut before COMMIT", About: "16 writers through a proxy that drops 10 % of COMMITs and the connection",
		Proxy: true, Run: cut(pgproxy.CutBefore), OneStatement: true},
	{Name: "cut after COMMIT", About: "16 writers through a proxy that forwards 10 % of COMMITs, then cuts the connection",
		Proxy: true, Run: cut(pgproxy.CutAfter), OneStatement: true},
	{Name: "pool exhaustion", About: "64 writers on 4 connections, each holding one 50 ms; waits bounded at 250 ms",
		Pool: func(t *Target) { t.MaxConns = 4; t.AcquireTimeout = 250 * time.Millisecond },
		Run:  exhaustion, Check: typedPoolTimeout},
	{Name: "serializable contention", About: "16 writers incrementing one counter (read, then write) in SERIALIZABLE",
		Run: contention, Check: counterMatches},
	{Name: "cancellations", About: "200 calls canceled 0-100 ms after they start, then a leak check",
		Run: cancellations},
	{Name: "session state left", About: "8 writers; one call in 4 leaves session state behind (a setting, search_path, a temporary table, an advisory lock, LISTEN, PREPARE), then the leak check",
		Run: plantState},
	{Name: "recovery time", About: "16 writers; one pg_ctl restart -m fast; time to the first acknowledged call",
		Run: recovery, OneStatement: true},
}

// insertOnly is the plain drill call: a transaction inserting its row.
func insertOnly(r *Run) func(ctx context.Context) error {
	return func(ctx context.Context) error { return r.Call(ctx, "", nil) }
}

// restarts restarts the server with mode under 16 writers, 3 s after it
// came back each time.
func restarts(mode string) func(context.Context, *Run) error {
	return func(ctx context.Context, r *Run) error {
		ctx, cancel := context.WithTimeout(ctx, r.Len(9*time.Second, 20*time.Second))
		defer cancel()
		var (
			wg    sync.WaitGroup
			n     int
			worst time.Duration
			rerr  error
		)
		wg.Go(func() {
			Every(ctx, 3*time.Second, func() {
				if rerr != nil {
					return
				}
				took, err := r.Suite.Restart(mode)
				n++
				worst = max(worst, took)
				rerr = err
			})
		})
		r.Writers(ctx, 16, maxCalls, insertOnly(r))
		wg.Wait()
		r.Note("%d restarts -m %s, the longest %v", n, mode, worst.Round(time.Millisecond))
		r.Check("fault injected", n > 0, fmt.Sprintf("%d restarts", n))
		return rerr
	}
}

// zeroFailed requires that no call failed: a restart is ridden out.
func zeroFailed(_ context.Context, _ *Run, res *Result) error {
	res.check("zero failed calls", res.Errors+res.Unknown == 0,
		fmt.Sprintf("%d of %d calls failed", res.Errors+res.Unknown, res.Attempted))
	return nil
}

// terminate ends every backend of the login role every 500 ms.
func terminate(ctx context.Context, r *Run) error {
	ctx, cancel := context.WithTimeout(ctx, r.Len(4*time.Second, 10*time.Second))
	defer cancel()
	conn, err := r.Suite.admin(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var (
		wg     sync.WaitGroup
		killed int
		terr   error
	)
	wg.Go(func() {
		Every(ctx, 500*time.Millisecond, func() {
			qctx, qcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer qcancel()
			n, err := r.Suite.terminate(qctx, conn)
			killed += n
			if terr == nil {
				terr = err
			}
		})
	})
	r.Writers(ctx, 16, maxCalls, insertOnly(r))
	wg.Wait()
	r.Note("%d backends terminated", killed)
	r.Check("fault injected", killed > 0, fmt.Sprintf("%d backends terminated", killed))
	return terr
}

// cut makes the proxy act on 10 % of the messages that commit: COMMIT, or
// the Sync of a one-round-trip call (pgproxy.CommitPoints).
func cut(act pgproxy.Action) func(context.Context, *Run) error {
	return func(ctx context.Context, r *Run) error {
		ctx, cancel := context.WithTimeout(ctx, r.Len(4*time.Second, 10*time.Second))
		defer cancel()
		var commits pgproxy.CommitPoints
		r.Proxy.SetRule(func(m pgproxy.Message) pgproxy.Action {
			if commits.Is(m) && rand.IntN(10) == 0 {
				return act
			}
			return pgproxy.Forward
		})
		r.Writers(ctx, 16, maxCalls, insertOnly(r))
		r.Proxy.SetRule(nil)
		r.Note("%d connections cut", r.Proxy.Cuts())
		r.Check("fault injected", r.Proxy.Cuts() > 0, fmt.Sprintf("%d connections cut", r.Proxy.Cuts()))
		return nil
	}
}

// exhaustion runs 64 writers on a pool of 4, each call holding its
// connection 50 ms.
func exhaustion(ctx context.Context, r *Run) error {
	ctx, cancel := context.WithTimeout(ctx, r.Len(3*time.Second, 10*time.Second))
	defer cancel()
	r.Writers(ctx, 64, maxCalls, func(ctx context.Context) error {
		return r.Call(ctx, "", func(ctx context.Context, q Querier) error {
			_, err := q.Exec(ctx, "SELECT pg_sleep(0.05)")
			return err
		})
	})
	return nil
}

// typedPoolTimeout requires every failure to be uno's typed pool timeout:
// dberr.ErrPoolTimeout, still matching context.DeadlineExceeded, so a
// caller can tell it from its own deadline and still treat it as one.
func typedPoolTimeout(_ context.Context, r *Run, res *Result) error {
	untyped := 0
	var sample error
	for _, err := range r.Errs() {
		if !errors.Is(err, dberr.ErrPoolTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			untyped++
			if sample == nil {
				sample = err
			}
		}
	}
	failed := res.Errors + res.Unknown
	detail := fmt.Sprintf("%d failures, %d of them not dberr.ErrPoolTimeout matching context.DeadlineExceeded", failed, untyped)
	if sample != nil {
		detail += fmt.Sprintf(" (e.g. %q)", sample.Error())
	}
	res.check("typed pool timeout", untyped == 0 && failed > 0, detail)
	return nil
}

// contention increments one counter per run from 16 writers, reading it
// and writing it back in SERIALIZABLE transactions.
func contention(ctx context.Context, r *Run) error {
	if err := r.Suite.superExec(ctx, "INSERT INTO public.counter (run, n) VALUES ($1, 0)", r.ID); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.Len(3*time.Second, 10*time.Second))
	defer cancel()
	r.Writers(ctx, 16, maxCalls, func(ctx context.Context) error {
		return r.Call(ctx, pgx.Serializable, func(ctx context.Context, q Querier) error {
			var n int64
			if err := q.QueryRow(ctx, "SELECT n FROM public.counter WHERE run = $1", r.ID).Scan(&n); err != nil {
				return err
			}
			_, err := q.Exec(ctx, "UPDATE public.counter SET n = $2 WHERE run = $1", r.ID, n+1)
			return err
		})
	})
	return nil
}

// counterMatches requires the final counter to equal the acknowledged
// calls (plus those reported unknown that did commit).
func counterMatches(ctx context.Context, r *Run, res *Result) error {
	n, err := superScalar[int64](ctx, r.Suite, "SELECT n FROM public.counter WHERE run = $1", r.ID)
	if err != nil {
		return err
	}
	want := int64(res.Acked + res.UnknownPresent)
	res.Notes = append(res.Notes, fmt.Sprintf("final counter %d", n))
	res.check("final counter equals acknowledged calls", n == want,
		fmt.Sprintf("counter %d, acknowledged %d, unknown but committed %d", n, res.Acked, res.UnknownPresent))
	return nil
}

// cancellations makes 200 calls, each canceled 0-100 ms after it starts
// (before, during or after its statements and COMMIT), then one plain call,
// then checks the pool for leaks.
func cancellations(ctx context.Context, r *Run) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	r.Writers(ctx, 8, 25, func(ctx context.Context) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		t := time.AfterFunc(time.Duration(rand.IntN(100_000))*time.Microsecond, cancel)
		defer t.Stop()
		return r.Call(ctx, "", func(ctx context.Context, q Querier) error {
			_, err := q.Exec(ctx, "SELECT pg_sleep(0.01)")
			return err
		})
	})
	canceled := len(r.Errs())
	r.Check("fault injected", canceled > 0, fmt.Sprintf("%d calls ended by their cancellation", canceled))
	if err := insertOnly(r)(ctx); err != nil {
		return fmt.Errorf("faults: a plain call after the cancellations failed: %w", err)
	}
	return leakCheck(ctx, r)
}

// plants are statements a transaction body can run that leave session
// state behind after COMMIT.
var plants = []string{
	"SELECT set_config('rls_var.org', 'planted', false)",
	"SET search_path = pg_temp, public",
	"CREATE TEMPORARY TABLE IF NOT EXISTS planted (id int)",
	"SELECT pg_try_advisory_lock(7)",
	"LISTEN planted",
	"PREPARE planted_%d AS SELECT 1",
}

// plantState runs 8 writers whose every fourth call (at random) leaves one
// kind of session state on its connection, then checks the pool for leaks:
// the release guard must reset such state or destroy the connection.
func plantState(ctx context.Context, r *Run) error {
	ctx, cancel := context.WithTimeout(ctx, r.Len(3*time.Second, 10*time.Second))
	defer cancel()
	var planted atomic.Int64
	r.Writers(ctx, 8, maxCalls, func(ctx context.Context) error {
		return r.Call(ctx, "", func(ctx context.Context, q Querier) error {
			if rand.IntN(4) != 0 {
				return nil
			}
			planted.Add(1)
			plant := plants[rand.IntN(len(plants))]
			if strings.Contains(plant, "%d") {
				plant = fmt.Sprintf(plant, r.next.Load()) // a name of its own
			}
			_, err := q.Exec(ctx, plant)
			return err
		})
	})
	r.Check("fault injected", planted.Load() > 0, fmt.Sprintf("%d calls left state behind", planted.Load()))
	return leakCheck(context.Background(), r)
}

// stateSQL names what a connection still carries that the next borrower
// could see: a role, the drill's identity settings (placeholder settings
// such as rls_var.* are not listed in pg_settings, so each is asked for by
// name), a changed search_path, temporary tables, advisory locks, LISTEN,
// statements prepared with PREPARE (not pgx's own), an open transaction.
// Empty means clean.
const stateSQL = `SELECT concat_ws(', ',
  CASE WHEN current_user <> session_user THEN 'role ' || current_user END,
  (SELECT 'settings ' || string_agg(n || '=' || v, ' ') FROM (SELECT n, current_setting(n, true) AS v
     FROM unnest(ARRAY['rls_var.user_id', 'rls_var.tenant_id', 'rls_var.is_superuser', 'rls_var.org']) AS n) s WHERE v <> ''),
  CASE WHEN current_setting('search_path') <> (SELECT reset_val FROM pg_settings WHERE name = 'search_path') THEN 'search_path' END,
  (SELECT 'temporary tables' FROM pg_class WHERE relnamespace = pg_my_temp_schema() LIMIT 1),
  (SELECT 'advisory locks' FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' LIMIT 1),
  (SELECT 'listening' FROM pg_listening_channels() LIMIT 1),
  (SELECT 'prepared statements' FROM pg_prepared_statements WHERE from_sql LIMIT 1),
  CASE WHEN pg_current_xact_id_if_assigned() IS NOT NULL THEN 'open transaction' END)`

// leakCheck waits (up to 15 s) for the pool to settle, then requires that
// the pool holds as many connections as the server has backends for the
// login role, and that no idle connection carries session state.
func leakCheck(ctx context.Context, r *Run) error {
	conn, err := r.Suite.admin(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	pool := r.Client.Pool()
	var total, idle int32
	var backends int
	for i := 0; ; i++ {
		st := pool.Stat()
		total, idle = st.TotalConns(), st.IdleConns()
		if backends, err = r.Suite.backends(ctx, conn); err != nil {
			return err
		}
		if (total == idle && int(total) == backends) || i == 300 {
			break
		}
		sleep(ctx, 50*time.Millisecond)
	}
	r.Check("pool size equals server backends", total == idle && int(total) == backends,
		fmt.Sprintf("pool %d connections (%d idle), server %d backends", total, idle, backends))
	var left []string
	conns := pool.AcquireAllIdle(ctx)
	for _, c := range conns {
		var s string
		if err := c.QueryRow(ctx, stateSQL).Scan(&s); err != nil {
			left = append(left, "check failed: "+err.Error())
		} else if s != "" {
			left = append(left, s)
		}
		c.Release()
	}
	r.Check("no session state left", len(left) == 0 && len(conns) > 0,
		fmt.Sprintf("%d idle connections checked%s", len(conns), prefixed(": ", strings.Join(left, "; "))))
	return nil
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// recovery restarts the server once (-m fast) under 16 writers and notes
// how long after the restart the first call was acknowledged.
func recovery(ctx context.Context, r *Run) error {
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.Writers(wctx, 16, maxCalls, insertOnly(r)) })
	defer func() { stop(); wg.Wait() }()
	if !sleep(ctx, time.Second) {
		return ctx.Err()
	}
	stopped := time.Now()
	took, err := r.Suite.Restart(pgcluster.Fast)
	if err != nil {
		return err
	}
	ready := time.Now()
	var first time.Time
	for i := 0; i < 600; i++ { // up to 30 s
		var ok bool
		if first, ok = r.FirstAckAfter(ready); ok {
			break
		}
		sleep(ctx, 50*time.Millisecond)
	}
	sleep(ctx, 500*time.Millisecond)
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + " ms" }
	if first.IsZero() {
		r.Note("restart took %s; no call acknowledged within 30 s after it", ms(took))
		return nil
	}
	r.Note("restart took %s; first acknowledged call %s after the server was ready, %s after the stop began",
		ms(took), ms(first.Sub(ready)), ms(first.Sub(stopped)))
	return nil
}

// check adds a requirement to the result.
func (res *Result) check(name string, ok bool, detail string) {
	res.Checks = append(res.Checks, Check{Name: name, OK: ok, Detail: detail})
}

// Run runs each drill with each kind of client, in order, and returns the
// results. It stops at the first drill that cannot run (the server did not
// come back, the table cannot be read); a requirement that does not hold
// is in the results, not an error.
func (s *Suite) Run(ctx context.Context, drills []Drill, kinds []Kind) ([]Result, error) {
	var out []Result
	for _, d := range drills {
		for _, k := range kinds {
			if k.OneStatement && !d.OneStatement {
				continue
			}
			if s.Log != nil {
				fmt.Fprintf(s.Log, "faults: %s with %s\n", d.Name, k.Name)
			}
			res, err := s.runOne(ctx, d, k)
			if err != nil {
				return out, fmt.Errorf("faults: drill %q with %s: %w", d.Name, k.Name, err)
			}
			out = append(out, res)
		}
	}
	return out, nil
}

func (s *Suite) runOne(ctx context.Context, d Drill, k Kind) (Result, error) {
	t := Target{Host: "127.0.0.1", Port: s.Port(), Roles: s.roles}
	var proxy *pgproxy.Proxy
	if d.Proxy {
		p, err := pgproxy.New(net.JoinHostPort(t.Host, strconv.Itoa(t.Port)))
		if err != nil {
			return Result{}, err
		}
		defer p.Close()
		proxy, t.Port = p, p.Port()
	}
	if d.Pool != nil {
		d.Pool(&t)
	}
	c, err := k.Open(ctx, t)
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	id := d.Name + "/" + k.Name + "/" + strconv.FormatInt(s.runs.Add(1), 10)
	r := &Run{Suite: s, Client: c, Target: t, ID: id, Proxy: proxy, calls: map[int64]error{}}
	if err := d.Run(ctx, r); err != nil {
		return Result{}, err
	}
	res := Result{Drill: d.Name, Client: k.Name, Held: k.Held}
	if err := r.tally(ctx, &res); err != nil {
		return Result{}, err
	}
	truth := []Check{
		{Name: "nothing lost", OK: res.Lost == 0, Detail: fmt.Sprintf("%d acknowledged calls without their row", res.Lost)},
		{Name: "nothing duplicated", OK: res.Duplicated == 0, Detail: fmt.Sprintf("%d attempts with more than one row", res.Duplicated)},
		{Name: "no failure reported for a commit that landed", OK: res.FailedPresent == 0,
			Detail: fmt.Sprintf("%d calls failed (not ErrCommitUnknown) with their row present", res.FailedPresent)},
	}
	res.Checks = append(truth, res.Checks...)
	if d.Check != nil {
		if err := d.Check(ctx, r, &res); err != nil {
			return Result{}, err
		}
	}
	for i := range res.Checks {
		res.Checks[i].Pending = Pending[d.Name+"/"+res.Checks[i].Name]
	}
	return res, nil
}

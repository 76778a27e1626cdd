package faults

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/internal/pgproxy"
)

// callTimeout bounds one call of a drill, whatever the drill does.
const callTimeout = time.Minute

// Result is what one drill did with one client, counted against the table.
//
// Every call is one attempt with its own id; its transaction inserts one
// row with that id. Afterwards the rows are counted per id:
// Attempted = Acked + Unknown + Errors; Lost counts acknowledged calls
// whose row is missing; Duplicated counts ids with more than one row;
// FailedPresent counts calls that returned an error other than
// ErrCommitUnknown although their row is there.
type Result struct {
	Drill, Client  string
	Held           bool // the requirements apply to this client
	Attempted      int
	Acked          int // returned nil
	Lost           int // acknowledged, row missing
	Duplicated     int // attempt ids with more than one row
	FailedPresent  int // returned an error (not ErrCommitUnknown), row present
	Unknown        int // returned dberr.ErrCommitUnknown
	UnknownPresent int // of those, row present
	Errors         int // returned another error
	Notes          []string
	Checks         []Check
	// Samples holds one error message per error kind of the notes.
	Samples map[string]string
}

// Check is one requirement a drill holds uno to.
type Check struct {
	Name   string
	OK     bool
	Detail string
	// Pending names the engine fix a failing check waits for (from
	// [Pending]); a pending failure is reported, not fatal.
	Pending string
}

// Failed returns the checks of r that failed and are not pending, for a
// client the requirements apply to (none for a baseline).
func (r Result) Failed() []Check {
	if !r.Held {
		return nil
	}
	var out []Check
	for _, c := range r.Checks {
		if !c.OK && c.Pending == "" {
			out = append(out, c)
		}
	}
	return out
}

// Pending lists the checks ("drill/check") that wait for a fix in the
// engine, with the issue item. Such a check is still run and reported; it
// fails the suite only once removed from here, which the engine fix should
// do. The truth checks (nothing lost, nothing duplicated, no failure
// reported for a commit that landed) are never pending.
var Pending = map[string]string{}

// Run is one drill running with one client. Drills make calls through it.
type Run struct {
	Suite  *Suite
	Client Client
	Target Target
	// ID keys the run's rows in the tables: "<drill>/<client>/<n>".
	ID string
	// Proxy is the proxy between client and server, for drills that set
	// Drill.Proxy; nil otherwise.
	Proxy *pgproxy.Proxy

	next  atomic.Int64
	mu    sync.Mutex
	calls map[int64]error
	acks  []time.Time
	notes []string
	check []Check
}

// Len returns short or full, by the suite's mode.
func (r *Run) Len(short, full time.Duration) time.Duration {
	if r.Suite.Short {
		return short
	}
	return full
}

// Call makes one attempt: a transaction that inserts the attempt's row
// and then runs body (nil for none), with isolation iso.
func (r *Run) Call(ctx context.Context, iso pgx.TxIsoLevel, body func(ctx context.Context, q Querier) error) error {
	id := r.next.Add(1)
	err := r.Client.Tx(ctx, iso, func(ctx context.Context, q Querier) error {
		if _, err := q.Exec(ctx, "INSERT INTO public.attempt (run, id) VALUES ($1, $2)", r.ID, id); err != nil {
			return err
		}
		if body != nil {
			return body(ctx, q)
		}
		return nil
	})
	r.mu.Lock()
	r.calls[id] = err
	if err == nil {
		r.acks = append(r.acks, time.Now())
	}
	r.mu.Unlock()
	return err
}

// Writers runs n goroutines, each calling call until ctx ends or it made
// max calls, and waits for them. A call gets its own context, bounded by
// callTimeout, so the end of the drill does not cancel calls in flight.
// After a failed call a writer pauses 10 ms.
func (r *Run) Writers(ctx context.Context, n, max int, call func(ctx context.Context) error) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for i := 0; i < max && ctx.Err() == nil; i++ {
				cctx, cancel := context.WithTimeout(context.Background(), callTimeout)
				err := call(cctx)
				cancel()
				if err != nil {
					sleep(ctx, 10*time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
}

// Every runs f every interval until ctx ends; it returns after f's last
// run.
func Every(ctx context.Context, interval time.Duration, f func()) {
	for sleep(ctx, interval) {
		f()
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Note adds a figure to the run's result.
func (r *Run) Note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// Check records a requirement and whether it held.
func (r *Run) Check(name string, ok bool, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.check = append(r.check, Check{Name: name, OK: ok, Detail: detail})
}

// Errs returns the errors the calls returned, in call order.
func (r *Run) Errs() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]int64, 0, len(r.calls))
	for id, err := range r.calls {
		if err != nil {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]error, len(ids))
	for i, id := range ids {
		out[i] = r.calls[id]
	}
	return out
}

// FirstAckAfter returns the time of the first acknowledged call after t.
func (r *Run) FirstAckAfter(t time.Time) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.acks {
		if a.After(t) {
			return a, true
		}
	}
	return time.Time{}, false
}

// tally counts the run's rows against its calls.
func (r *Run) tally(ctx context.Context, res *Result) error {
	rows, err := r.Suite.rows(ctx, r.ID)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	kinds := map[string]int{}
	for id, err := range r.calls {
		n := rows[id]
		res.Attempted++
		if n > 1 {
			res.Duplicated++
		}
		switch {
		case err == nil:
			res.Acked++
			if n == 0 {
				res.Lost++
			}
		case errors.Is(err, dberr.ErrCommitUnknown):
			res.Unknown++
			if n > 0 {
				res.UnknownPresent++
			}
		default:
			res.Errors++
			if n > 0 {
				res.FailedPresent++
			}
		}
		if err != nil {
			k := errorKind(err)
			kinds[k]++
			if _, ok := res.Samples[k]; !ok {
				if res.Samples == nil {
					res.Samples = map[string]string{}
				}
				res.Samples[k] = err.Error()
			}
		}
	}
	for id := range rows {
		if _, ok := r.calls[id]; !ok {
			return fmt.Errorf("faults: run %s: a row with id %d that no call made", r.ID, id)
		}
	}
	if res.Unknown > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("commit unknown: %d, of which %d committed", res.Unknown, res.UnknownPresent))
	}
	if len(kinds) > 0 {
		res.Notes = append(res.Notes, "errors: "+topKinds(kinds, 4))
	}
	if d := r.Client.Discards(); d > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("connections discarded by the release guard: %d", d))
	}
	res.Notes = append(res.Notes, r.notes...)
	res.Checks = append(res.Checks, r.check...)
	return nil
}

// errorKind names the kind of a call's error for the notes: uno's sentinel,
// the SQLSTATE, or the context error.
func errorKind(err error) string {
	err = dberr.Classify(err) // the same labels for uno's and pgx's errors
	for _, k := range []struct {
		err  error
		name string
	}{
		{dberr.ErrCommitUnknown, "commit unknown"},
		{dberr.ErrPoolTimeout, "pool timeout"},
		{dberr.ErrSerializationFailure, "serialization failure"},
		{dberr.ErrDeadlock, "deadlock"},
		{dberr.ErrQueryCanceled, "query canceled"},
		{dberr.ErrConnection, "connection"},
		{dberr.ErrClosed, "closed"},
		{context.Canceled, "context canceled"},
		{context.DeadlineExceeded, "deadline exceeded"},
	} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	if code := dberr.Code(err); code != "" {
		return "SQLSTATE " + code
	}
	msg := err.Error()
	if len(msg) > 60 {
		msg = msg[:60] + "…"
	}
	return msg
}

// topKinds formats the most frequent error kinds, most frequent first.
func topKinds(kinds map[string]int, n int) string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if kinds[names[i]] != kinds[names[j]] {
			return kinds[names[i]] > kinds[names[j]]
		}
		return names[i] < names[j]
	})
	var parts []string
	for i, k := range names {
		if i == n {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, k+" "+strconv.Itoa(kinds[k]))
	}
	return strings.Join(parts, ", ")
}

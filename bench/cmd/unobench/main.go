// Command unobench runs every workload for every contender in one process,
// interleaved (each round visits the contenders in a rotated order, so a
// drift of the machine hits all alike), and writes bench/results.json and a
// Markdown table of medians and spreads (min–max over the rounds).
//
// The verdict column compares each contender with raw pgx: a ratio between
// 1/1.15 and 1.15 whose spread overlaps pgx's is a tie, never a win or a
// loss. A full run is at least 5 rounds; BENCH_QUICK=1 runs one short
// round, to check that everything works (its numbers mean nothing).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/bench"
)

// Result is one contender on one workload.
type Result struct {
	NsPerOp     float64    `json:"ns_per_op"`
	NsSpread    [2]float64 `json:"ns_spread"`
	BytesPerOp  int64      `json:"bytes_per_op"`
	AllocsPerOp int64      `json:"allocs_per_op"`
	RatioToPgx  float64    `json:"ratio_to_pgx"`
	RowsPerSec  float64    `json:"rows_per_sec,omitempty"`
}

// Report is results.json.
type Report struct {
	Workloads map[string]map[string]*Result `json:"workloads"`
	Rounds    int                           `json:"rounds"`
	Benchtime string                        `json:"benchtime"`
	When      string                        `json:"when"`
	Machine   string                        `json:"machine"`
}

func main() {
	testing.Init()
	rounds := flag.Int("rounds", 5, "rounds over every workload and contender (at least 5 in a full run)")
	benchtime := flag.String("benchtime", "1s", "time per measurement, as go test -benchtime")
	out := flag.String("out", "results.json", "where to write the JSON results")
	only := flag.String("only", "", "comma-separated workloads to run (default all)")
	flag.Parse()
	if os.Getenv("BENCH_QUICK") != "" {
		*rounds, *benchtime = 1, "300ms"
	}
	if *rounds < 5 && os.Getenv("BENCH_QUICK") == "" {
		fmt.Fprintf(os.Stderr, "unobench: %d rounds: a full run needs at least 5 for medians and spreads to mean anything\n", *rounds)
	}
	if err := flag.Set("test.benchtime", *benchtime); err != nil {
		fail(err)
	}
	ctx := context.Background()
	start := time.Now()
	fmt.Fprintln(os.Stderr, "unobench: starting PostgreSQL and loading data")
	env, err := bench.NewEnv(ctx, os.Getenv("BENCH_DATABASE_URL"), bench.FullSizes)
	if err != nil {
		fail(err)
	}
	defer env.Close()
	contenders, err := bench.Contenders(ctx, env)
	if err != nil {
		fail(err)
	}
	defer func() {
		for _, c := range contenders {
			c.Close()
		}
	}()
	workloads := bench.Workloads(env.Sizes)
	if *only != "" {
		names := strings.Split(*only, ",")
		workloads = slices.DeleteFunc(workloads, func(w bench.Workload) bool { return !slices.Contains(names, w.Name) })
	}
	samples := map[string]map[string][]testing.BenchmarkResult{}
	for round := 0; round < *rounds; round++ {
		for _, w := range workloads {
			if samples[w.Name] == nil {
				samples[w.Name] = map[string][]testing.BenchmarkResult{}
			}
			for i := range contenders {
				c := contenders[(i+round)%len(contenders)]
				res := testing.Benchmark(bench.Bench(ctx, env, w, c))
				if res.N == 0 {
					fail(fmt.Errorf("%s/%s failed", w.Name, c.Name()))
				}
				samples[w.Name][c.Name()] = append(samples[w.Name][c.Name()], res)
				fmt.Fprintf(os.Stderr, "round %d %-17s %-5s %12.0f ns/op %8d B/op %6d allocs/op\n", round+1, w.Name, c.Name(),
					float64(res.T.Nanoseconds())/float64(res.N), res.AllocedBytesPerOp(), res.AllocsPerOp())
			}
		}
	}
	rep := Report{Workloads: map[string]map[string]*Result{}, Rounds: *rounds, Benchtime: *benchtime,
		When: time.Now().UTC().Format(time.RFC3339), Machine: machine()}
	for _, w := range workloads {
		rep.Workloads[w.Name] = map[string]*Result{}
		for name, rs := range samples[w.Name] {
			var ns []float64
			var bytes, allocs int64
			for _, r := range rs {
				ns = append(ns, float64(r.T.Nanoseconds())/float64(r.N))
				bytes += r.AllocedBytesPerOp()
				allocs += r.AllocsPerOp()
			}
			sort.Float64s(ns)
			res := &Result{NsPerOp: ns[len(ns)/2], NsSpread: [2]float64{ns[0], ns[len(ns)-1]},
				BytesPerOp: bytes / int64(len(rs)), AllocsPerOp: allocs / int64(len(rs))}
			if w.RowsPerOp > 0 {
				res.RowsPerSec = float64(w.RowsPerOp) * 1e9 / res.NsPerOp
			}
			rep.Workloads[w.Name][name] = res
		}
		base := rep.Workloads[w.Name]["pgx"]
		for _, r := range rep.Workloads[w.Name] {
			if w.RowsPerOp > 0 {
				r.RatioToPgx = r.RowsPerSec / base.RowsPerSec
			} else {
				r.RatioToPgx = r.NsPerOp / base.NsPerOp
			}
		}
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out, append(js, '\n'), 0o644); err != nil {
		fail(err)
	}
	markdown(os.Stdout, rep, workloads, contenders)
	targets(os.Stdout, rep)
	fmt.Fprintf(os.Stderr, "unobench: done in %v; wrote %s\n", time.Since(start).Round(time.Second), *out)
}

// TieRatio is the ratio below which (and above whose inverse) a
// difference whose spreads overlap is reported as a tie.
const TieRatio = 1.15

// verdictOf compares r with pgx's result base on workload wl.
func verdictOf(wl bench.Workload, r, base *Result) string {
	if r == base {
		return "baseline"
	}
	overlap := r.NsSpread[0] <= base.NsSpread[1] && base.NsSpread[0] <= r.NsSpread[1]
	if overlap && r.RatioToPgx < TieRatio && r.RatioToPgx > 1/TieRatio {
		return "tie"
	}
	better := r.RatioToPgx < 1
	if wl.RowsPerOp > 0 {
		better = r.RatioToPgx > 1
	}
	if better {
		return "faster"
	}
	return "slower"
}

func markdown(w io.Writer, rep Report, workloads []bench.Workload, contenders []bench.Contender) {
	fmt.Fprintf(w, "| workload | contender | ns/op (median) | spread | B/op | allocs/op | rows/s | ratio to pgx | verdict |\n")
	fmt.Fprintf(w, "|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, wl := range workloads {
		for _, c := range contenders {
			r := rep.Workloads[wl.Name][c.Name()]
			if r == nil {
				continue
			}
			rows := ""
			if r.RowsPerSec > 0 {
				rows = fmt.Sprintf("%.0f", r.RowsPerSec)
			}
			verdict := ""
			if base := rep.Workloads[wl.Name]["pgx"]; base != nil {
				verdict = verdictOf(wl, r, base)
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %.0f–%.0f | %d | %d | %s | %.2f× | %s |\n", wl.Name, c.Name(), r.NsPerOp,
				r.NsSpread[0], r.NsSpread[1], r.BytesPerOp, r.AllocsPerOp, rows, r.RatioToPgx, verdict)
		}
	}
}

// targets prints issue 14's targets for the scoped calls: uno's scoped
// call against the hand-written scoped pgx baseline (target ≤ 0.6×) and
// against raw pgx's unscoped read_one (target ≤ 1.15×).
func targets(w io.Writer, rep Report) {
	one := rep.Workloads[bench.ReadOne]["pgx"]
	var lines []string
	for _, name := range []string{bench.ReadOneScoped, bench.InsertScoped, bench.FilterScoped} {
		uno, base := rep.Workloads[name]["uno"], rep.Workloads[name]["pgx"]
		if uno == nil || base == nil {
			continue
		}
		line := fmt.Sprintf("| %s | %.2f× | ", name, uno.NsPerOp/base.NsPerOp)
		if one != nil {
			line += fmt.Sprintf("%.2f× |", uno.NsPerOp/one.NsPerOp)
		} else {
			line += "– |"
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\n| scoped workload | uno / scoped pgx (target ≤ 0.60×) | uno / pgx read_one unscoped (target ≤ 1.15×) |\n|---|---:|---:|\n")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

func machine() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if i := strings.IndexByte(line, ':'); i >= 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return "unknown"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "unobench:", err)
	os.Exit(1)
}

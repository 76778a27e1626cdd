package faults

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// columns are the table's figures, in order.
var columns = []string{"attempted", "acked", "lost", "duplicated", "failed+present", "unknown", "errors"}

func (r Result) figures() []string {
	out := make([]string, 0, len(columns))
	for _, n := range []int{r.Attempted, r.Acked, r.Lost, r.Duplicated, r.FailedPresent, r.Unknown, r.Errors} {
		out = append(out, strconv.Itoa(n))
	}
	return out
}

// status is PASS, FAIL or PENDING for a check of a client held to it, and
// "(baseline) yes/no" for a baseline.
func status(r Result, c Check) string {
	switch {
	case !r.Held && c.OK:
		return "holds"
	case !r.Held:
		return "does not hold"
	case c.OK && c.Pending != "":
		return "PASS (still listed as pending: remove it from faults.Pending)"
	case c.OK:
		return "PASS"
	case c.Pending != "":
		return "PENDING (" + c.Pending + ")"
	}
	return "FAIL"
}

// Print writes the results as a table, one row per drill and client, and
// then, per row, its other figures and its checks.
func Print(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "drill\tclient\t"+strings.Join(columns, "\t")+"\t")
	for _, r := range results {
		fmt.Fprintln(tw, r.Drill+"\t"+r.Client+"\t"+strings.Join(r.figures(), "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		fmt.Fprintf(w, "\n%s, %s:\n", r.Drill, r.Client)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
		for _, k := range sortedKeys(r.Samples) {
			fmt.Fprintf(w, "  e.g. %s: %s\n", k, r.Samples[k])
		}
		for _, c := range r.Checks {
			if c.OK && !r.Held {
				continue
			}
			fmt.Fprintf(w, "  %s: %s — %s\n", status(r, c), c.Name, c.Detail)
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

// Markdown writes the results as a Markdown table, then one line per row
// with its notes and the checks it broke (for uno: "all N checks pass"
// when none), for docs/RELIABILITY.md.
func Markdown(w io.Writer, results []Result) error {
	fmt.Fprintln(w, "| drill | client | "+strings.Join(columns, " | ")+" |")
	fmt.Fprintln(w, "|---|---|"+strings.Repeat("---:|", len(columns)))
	for _, r := range results {
		fmt.Fprintln(w, "| "+r.Drill+" | "+r.Client+" | "+strings.Join(r.figures(), " | ")+" |")
	}
	fmt.Fprintln(w)
	for _, r := range results {
		line := strings.Join(r.Notes, "; ")
		var broken []string
		for _, c := range r.Checks {
			if !c.OK {
				broken = append(broken, status(r, c)+": "+c.Name)
			}
		}
		switch {
		case len(broken) > 0:
			line += prefixed("; ", strings.Join(broken, "; "))
		case r.Held:
			line += prefixed("; ", fmt.Sprintf("all %d checks pass", len(r.Checks)))
		}
		line = strings.TrimPrefix(line, "; ")
		fmt.Fprintf(w, "- **%s, %s**: %s.\n", r.Drill, r.Client, line)
	}
	_, err := fmt.Fprintln(w)
	return err
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Command faults runs uno's fault drills against a private PostgreSQL
// cluster it starts, restarts and destroys, with uno's engine and with
// plain pgxpool beside it, and prints per drill: attempted, acknowledged,
// lost, duplicated, failed but present, commit unknown and other errors.
// It exits with status 1 when a requirement on uno fails. `make faults`
// runs it.
//
//	go run ./internal/faults/cmd [-short] [-drill name] [-clients uno,pgx,pgx+retry] [-markdown file] [-list]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/uno-db/uno/internal/faults"
)

func main() {
	short := flag.Bool("short", false, "run each drill for a few seconds only")
	drill := flag.String("drill", "", "run only the drills whose name contains this text")
	clients := flag.String("clients", "uno,uno single,pgx,pgx+retry", "client kinds, comma-separated: uno, uno single, pgx, pgx+retry")
	markdown := flag.String("markdown", "", "also write the table as Markdown to this file")
	list := flag.Bool("list", false, "list the drills and exit")
	flag.Parse()
	if *list {
		for _, d := range faults.Drills {
			fmt.Printf("%-24s %s\n", d.Name, d.About)
		}
		return
	}
	os.Exit(run(*short, *drill, *clients, *markdown))
}

func run(short bool, only, clients, markdown string) int {
	var drills []faults.Drill
	for _, d := range faults.Drills {
		if strings.Contains(d.Name, only) {
			drills = append(drills, d)
		}
	}
	var kinds []faults.Kind
	for _, name := range strings.Split(clients, ",") {
		found := false
		for _, k := range faults.Kinds {
			if k.Name == strings.TrimSpace(name) {
				kinds = append(kinds, k)
				found = true
			}
		}
		if !found {
			fmt.Fprintf(os.Stderr, "faults: unknown client %q (uno, uno single, pgx, pgx+retry)\n", name)
			return 2
		}
	}
	if len(drills) == 0 {
		fmt.Fprintf(os.Stderr, "faults: no drill name contains %q\n", only)
		return 2
	}
	ctx := context.Background()
	s, err := faults.Start(ctx, short)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	s.Log = os.Stderr
	results, err := s.Run(ctx, drills, kinds)
	_ = faults.Print(os.Stdout, results)
	if markdown != "" {
		var b strings.Builder
		_ = faults.Markdown(&b, results)
		if werr := os.WriteFile(markdown, []byte(b.String()), 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := 0
	for _, r := range results {
		for _, c := range r.Failed() {
			fmt.Fprintf(os.Stderr, "FAIL %s, %s: %s: %s\n", r.Drill, r.Client, c.Name, c.Detail)
			code = 1
		}
	}
	return code
}

// Command uno is uno for Go's command-line tool.
//
//	uno demo    connect through the DatabaseFactory and show the connection
//	            layer at work, on DATABASE_URL or on a throwaway PostgreSQL
//	            started from the local binaries
//
// Exit codes: 0 success, 1 a step failed, 2 bad usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("uno", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: uno <command> [flags]

commands:
  demo   show uno's connection layer at work. Uses DATABASE_URL (a superuser
         URL, or the PG* variables when DATABASE_URL is unset but PGHOST is
         set); otherwise starts a throwaway PostgreSQL from the local server
         binaries and removes it afterwards.

exit codes: 0 success, 1 a step failed, 2 bad usage`)
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch fs.Arg(0) {
	case "demo":
		dfs := flag.NewFlagSet("uno demo", flag.ContinueOnError)
		dfs.SetOutput(stderr)
		timeout := dfs.Duration("timeout", 2*time.Minute, "give up after this long")
		if err := dfs.Parse(fs.Args()[1:]); err != nil {
			return 2
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		if err := demo(ctx, stdout); err != nil {
			fmt.Fprintln(stderr, "uno demo failed:", err)
			return 1
		}
		return 0
	case "help", "-h", "--help":
		fs.Usage()
		return 0
	default:
		fmt.Fprintf(stderr, "uno: unknown command %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
}

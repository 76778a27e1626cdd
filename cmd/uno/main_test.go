package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"demo", "--no-such-flag"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 {
			t.Errorf("uno %v: exit %d, want 2", args, code)
		}
		if !strings.Contains(errOut.String(), "usage") && !strings.Contains(errOut.String(), "flag provided but not defined") {
			t.Errorf("uno %v: no help on stderr: %q", args, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"help"}, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "demo") {
		t.Errorf("uno help: exit %d, %q", code, errOut.String())
	}
}

// TestDemo runs `uno demo` on a throwaway cluster of its own: every step
// checks its outcome, so exit 0 means each behaved as printed.
func TestDemo(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	t.Setenv("PGHOST", "")
	var out, errOut bytes.Buffer
	if code := run([]string{"demo"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"SQLSTATE 42501", "uq_order_reference", "same pool", "demo finished"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

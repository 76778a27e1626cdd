package demo_test

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"

	"github.com/uno-db/uno/internal/demo"
)

// TestRunSignedIdentityStep runs the whole demo (every step checks its own
// outcome and fails the run otherwise) and reads step 16's report: with
// plain settings the forged set_config shows Globex some of Acme's
// customers; in the signed mode it shows none and Globex keeps its one.
func TestRunSignedIdentityStep(t *testing.T) {
	var out bytes.Buffer
	if err := demo.Run(context.Background(), &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	plain := regexp.MustCompile(`16\. plain rls_var settings: .*shows Globex (\d+) of Acme's customers`).FindSubmatch(out.Bytes())
	signed := regexp.MustCompile(`16\. signed identity .*Globex sees (\d+) of Acme's customers and still its own (\d+); setting backtrace_functions from SQL fails with SQLSTATE 42501`).FindSubmatch(out.Bytes())
	if plain == nil || signed == nil {
		t.Fatalf("step 16 missing from the demo's output:\n%s", out.String())
	}
	t.Logf("%s\n%s", plain[0], signed[0])
	if n, _ := strconv.Atoi(string(plain[1])); n == 0 {
		t.Errorf("plain settings: the forgery showed no rows, so the demo shows nothing:\n%s", out.String())
	}
	if string(signed[1]) != "0" || string(signed[2]) != "1" {
		t.Errorf("signed: Globex sees %s of Acme's and %s of its own, want 0 and 1", signed[1], signed[2])
	}
}

package progress_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/uno-db/uno/internal/progress"
)

func TestPlainLines(t *testing.T) {
	var b bytes.Buffer
	r := progress.New(&b, "load", 100)
	for i := 0; i < 100; i++ {
		r.Add(1)
	}
	r.Finish()
	r.Finish()
	out := b.String()
	if strings.Contains(out, "\r") {
		t.Fatalf("bar drawn on a non-terminal: %q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "load: 0/100") || !strings.HasPrefix(lines[len(lines)-1], "load: 100/100") {
		t.Fatalf("lines %q", lines)
	}
}

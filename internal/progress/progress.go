// Package progress reports the progress of long work: a bar redrawn in
// place on a terminal, plain lines otherwise (logs, pipes, CI).
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Reporter prints progress for one piece of work of known size.
type Reporter struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	total    int64
	done     int64
	tty      bool
	start    time.Time
	lastLine time.Time
	finished bool
}

// IsTerminal reports whether w is a terminal (a character device).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// New starts a reporter for total units of work labelled label.
func New(w io.Writer, label string, total int64) *Reporter {
	r := &Reporter{w: w, label: label, total: total, tty: IsTerminal(w), start: time.Now()}
	r.draw(true)
	return r
}

// Set records that done units are finished.
func (r *Reporter) Set(done int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = done
	r.draw(false)
}

// Add records n more finished units.
func (r *Reporter) Add(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done += n
	r.draw(false)
}

// Finish prints the final state once.
func (r *Reporter) Finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	r.finished = true
	r.done = max(r.done, 0)
	r.draw(true)
	if r.tty {
		fmt.Fprintln(r.w)
	}
}

const width = 30

func (r *Reporter) draw(force bool) {
	now := time.Now()
	if r.tty {
		if !force && now.Sub(r.lastLine) < 50*time.Millisecond && r.done < r.total {
			return
		}
		r.lastLine = now
		frac := 0.0
		if r.total > 0 {
			frac = min(float64(r.done)/float64(r.total), 1)
		}
		filled := int(frac * width)
		fmt.Fprintf(r.w, "\r%s [%s%s] %d/%d %3.0f%%", r.label, strings.Repeat("#", filled),
			strings.Repeat(".", width-filled), r.done, r.total, frac*100)
		return
	}
	// Plain lines: the start, the end, and at most one a second between.
	if !force && now.Sub(r.lastLine) < time.Second {
		return
	}
	r.lastLine = now
	fmt.Fprintf(r.w, "%s: %d/%d (%v)\n", r.label, r.done, r.total, now.Sub(r.start).Round(time.Millisecond))
}

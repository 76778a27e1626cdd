package engine

import (
	"strings"
	"testing"
	"time"
)

// TestJudgeAbortedReason: an aborted verdict says whether the server's
// history changed since the id was taken, since on a changed history the
// id may not even be ours. (Found unchecked by scripts/mutate: both
// branches give outcomeAborted.)
func TestJudgeAbortedReason(t *testing.T) {
	tl := "00000001"
	r1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r2 := r1.Add(time.Hour)
	at := r1.Add(time.Minute)
	then := history{sysID: "7", timeline: &tl, started: r1, statsReset: &r1, at: at}
	crash := history{sysID: "7", timeline: &tl, started: r1, statsReset: &r2}
	aborted := "aborted"
	v, why := judge(1000, then, then, &aborted, false, 2000, at.Add(time.Second), tl)
	if v != outcomeAborted || strings.Contains(why, "crash") {
		t.Errorf("same history: %v %q", v, why)
	}
	v, why = judge(1000, then, crash, &aborted, false, 2000, at.Add(time.Second), tl)
	if v != outcomeAborted || !strings.Contains(why, "after a crash or failover") {
		t.Errorf("after a crash: %v %q", v, why)
	}
}

package engine

import (
	"testing"
	"time"

	"github.com/uno-db/uno/config"
)

// TestAddSampleKeepsWindow pins how the primary's WAL samples are pruned:
// samples older than twice MaxLag before the newest go, the newest always
// stays, and at most 1024 are kept. (Found unchecked by scripts/mutate.)
func TestAddSampleKeepsWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rs := &replicaSet{cfg: config.Replicas{MaxLag: time.Second}}
	for i := range 5 {
		rs.addSample(walSample{at: t0.Add(time.Duration(i) * time.Second), lsn: uint64(100 + i)})
	}
	// The newest is t0+4s: keep from t0+2s on.
	if len(rs.samples) != 3 || rs.samples[0].lsn != 102 || rs.samples[2].lsn != 104 {
		t.Fatalf("window: %+v", rs.samples)
	}
	// A sample far later leaves only itself.
	rs.addSample(walSample{at: t0.Add(time.Hour), lsn: 200})
	if len(rs.samples) != 1 || rs.samples[0].lsn != 200 {
		t.Fatalf("after a gap: %+v", rs.samples)
	}

	// All within the window: the count bound keeps the newest 1024.
	rs = &replicaSet{cfg: config.Replicas{MaxLag: time.Hour}}
	for i := range 1030 {
		rs.addSample(walSample{at: t0.Add(time.Duration(i) * time.Millisecond), lsn: uint64(i)})
	}
	if len(rs.samples) != 1024 || rs.samples[0].lsn != 6 || rs.samples[1023].lsn != 1029 {
		t.Fatalf("bound: %d samples, first %d", len(rs.samples), rs.samples[0].lsn)
	}
}

// TestLagAndBound: a replica that replayed the newest sample is not
// behind; one that replayed an older sample is as stale as that sample;
// one that replayed none is unknown. boundFor names the oldest sample
// within MaxLag.
func TestLagAndBound(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rs := &replicaSet{cfg: config.Replicas{MaxLag: 10 * time.Second}}
	for i := range 4 { // lsn 100, 110, 120, 130 at t0, +1s, +2s, +3s
		rs.addSample(walSample{at: t0.Add(time.Duration(i) * time.Second), lsn: uint64(100 + 10*i)})
	}
	now := t0.Add(5 * time.Second)
	for _, tc := range []struct {
		lsn  uint64
		lag  time.Duration
		okay bool
	}{
		{130, 0, true},
		{135, 0, true},
		{125, 3 * time.Second, true}, // replayed the sample at t0+2s
		{100, 5 * time.Second, true},
		{99, 5 * time.Second, true}, // behind every sample, but the oldest is within MaxLag
	} {
		lag, ok := rs.lagOf(tc.lsn, now)
		if lag != tc.lag || ok != tc.okay {
			t.Errorf("lagOf(%d) = %v, %v; want %v, %v", tc.lsn, lag, ok, tc.lag, tc.okay)
		}
	}
	rs.cfg.MaxLag = 4 * time.Second // the oldest sample is now older than MaxLag
	if lag, ok := rs.lagOf(99, now); ok {
		t.Errorf("lagOf(99) = %v with MaxLag 4s; want not ok", lag)
	}
	if lag, ok := rs.lagOf(100, now); lag != 5*time.Second || !ok {
		t.Errorf("lagOf(100) = %v, %v with MaxLag 4s; want 5s, true (it replayed a sample)", lag, ok)
	}
	rs.cfg.MaxLag = 3500 * time.Millisecond // from t0+1.5s on
	if lsn, ok := rs.boundFor(now); lsn != 120 || !ok {
		t.Errorf("boundFor = %d, %v; want 120", lsn, ok)
	}
	rs.cfg.MaxLag = time.Second // from t0+4s: no sample
	if lsn, ok := rs.boundFor(now); ok {
		t.Errorf("boundFor = %d, want none", lsn)
	}
}

// TestParseTokenBounds: ParseToken refuses more than eight hexadecimal
// digits on either side (leading zeros included), and a token is not after
// itself.
func TestParseTokenBounds(t *testing.T) {
	for _, s := range []string{"000000001/1", "1/000000001", "/1", "1/", "11"} {
		if tok, err := ParseToken(s); err == nil {
			t.Errorf("%q parsed as %v", s, tok)
		}
	}
	tok, err := ParseToken("00000001/0000000F")
	if err != nil || tok.String() != "1/f" {
		t.Fatalf("eight digits: %v, %v", tok, err)
	}
	later, _ := ParseToken("1/10")
	if tok.After(tok) || !later.After(tok) || tok.After(later) {
		t.Error("After")
	}
}

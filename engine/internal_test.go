package engine

import (
	"strings"
	"testing"
	"time"
)

// Pure units: the verdict table of commit resolution, claim names, the
// order of settings and SQL redaction. Everything that talks to the server
// is tested against a real one in the engine_test package.

func TestJudge(t *testing.T) {
	tl := "00000001"
	other := "00000002"
	r1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r2 := r1.Add(time.Hour)
	at := r1.Add(time.Minute)
	then := history{sysID: "7", timeline: &tl, started: r1, statsReset: &r1, at: at}
	clean := history{sysID: "7", timeline: &tl, started: r2, statsReset: &r1} // clean restart
	crash := history{sysID: "7", timeline: &tl, started: r1, statsReset: &r2} // crash, same postmaster
	failover := history{sysID: "7", timeline: &other, started: r2, statsReset: &r1}
	alien := history{sysID: "8", timeline: &tl, started: r1, statsReset: &r1}
	str := func(s string) *string { return &s }
	const xid = 1000
	later := at.Add(time.Second)
	for _, tc := range []struct {
		name     string
		now      history
		status   *string
		future   bool
		ckptNext uint64
		ckptTime time.Time
		ckptTL   string
		want     verdict
	}{
		{"same, committed", then, str("committed"), false, 2000, later, tl, outcomeCommitted},
		{"clean restart, committed", clean, str("committed"), false, 2000, later, tl, outcomeCommitted},
		{"same, aborted", then, str("aborted"), false, 2000, later, tl, outcomeAborted},
		{"same, in progress", then, str("in progress"), false, 2000, later, tl, outcomePending},
		{"crash, in progress", crash, str("in progress"), false, 2000, later, tl, outcomePending},
		{"same, NULL", then, nil, false, 2000, later, tl, outcomeUnknown},
		{"same, future", then, nil, true, 2000, later, tl, outcomeUnknown},
		{"crash, future", crash, nil, true, 900, later, tl, outcomeAborted},
		{"crash, aborted", crash, str("aborted"), false, 900, later, tl, outcomeAborted},
		{"failover, aborted", failover, str("aborted"), false, 900, later, other, outcomeAborted},
		{"another cluster", alien, str("committed"), false, 2000, later, tl, outcomeUnknown},
		{"another cluster, aborted", alien, str("aborted"), false, 2000, later, tl, outcomeUnknown},
		{"crash, committed, no proof", crash, str("committed"), false, 2000, later, tl, outcomeUnknown},
		{"crash, committed, reuse proved", crash, str("committed"), false, 1000, later, tl, outcomeAborted},
		{"crash, committed, reuse proved below", crash, str("committed"), false, 999, later, tl, outcomeAborted},
		{"crash, committed, next above", crash, str("committed"), false, 1001, later, tl, outcomeUnknown},
		{"crash, committed, checkpoint not after capture", crash, str("committed"), false, 900, at, tl, outcomeUnknown},
		{"crash, committed, checkpoint on another timeline", crash, str("committed"), false, 900, later, other, outcomeUnknown},
		{"failover, committed", failover, str("committed"), false, 900, later, other, outcomeUnknown},
		{"odd status", then, str("weird"), false, 2000, later, tl, outcomeUnknown},
	} {
		got, why := judge(xid, then, tc.now, tc.status, tc.future, tc.ckptNext, tc.ckptTime, tc.ckptTL)
		if got != tc.want {
			t.Errorf("%s: got %d (%s), want %d", tc.name, got, why, tc.want)
		}
		if got != outcomeCommitted && got != outcomePending && why == "" {
			t.Errorf("%s: no reason given", tc.name)
		}
	}
	// The checkpoint proof needs the capture's own timeline too.
	var recovering history = then
	recovering.timeline = nil
	if got, _ := judge(xid, recovering, crash, str("committed"), false, 900, later, tl); got != outcomeUnknown {
		t.Errorf("capture without timeline: %d", got)
	}
}

func TestHistoryCompare(t *testing.T) {
	a, b := "x", "x"
	c := "y"
	t1 := time.Unix(1, 0)
	t2 := time.Unix(2, 0)
	t1b := time.Unix(1, 0)
	for _, tc := range []struct {
		h, o history
		want bool
	}{
		{history{sysID: "1", timeline: &a, statsReset: &t1}, history{sysID: "1", timeline: &b, statsReset: &t1b}, true},
		{history{sysID: "1"}, history{sysID: "1"}, true},
		{history{sysID: "1"}, history{sysID: "2"}, false},
		{history{sysID: "1", timeline: &a}, history{sysID: "1", timeline: &c}, false},
		{history{sysID: "1", timeline: &a}, history{sysID: "1"}, false},
		{history{sysID: "1"}, history{sysID: "1", timeline: &a}, false},
		{history{sysID: "1", statsReset: &t1}, history{sysID: "1", statsReset: &t2}, false},
		{history{sysID: "1", statsReset: &t1}, history{sysID: "1"}, false},
		{history{sysID: "1"}, history{sysID: "1", statsReset: &t1}, false},
	} {
		if got := tc.h.sameRun(tc.o); got != tc.want {
			t.Errorf("%v vs %v: %v", tc.h, tc.o, got)
		}
	}
	s := history{sysID: "9", started: t1}.String()
	if !strings.Contains(s, "in recovery") || !strings.Contains(s, "never") {
		t.Errorf("String: %s", s)
	}
}

func TestParseNextXid(t *testing.T) {
	for in, want := range map[string]uint64{"0:726": 726, "1:5": 1<<32 | 5, "4294967295:4294967295": 1<<64 - 1} {
		if got, err := parseNextXid(in); err != nil || got != want {
			t.Errorf("%s: %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"726", "x:1", "1:x", "4294967296:0", "0:4294967296"} {
		if _, err := parseNextXid(in); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}

func TestClaimNames(t *testing.T) {
	for _, ok := range []string{"org", "a", "_x", "org_2", "z9", strings.Repeat("a", 63)} {
		if !validClaim(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "Org", "a.b", "a-b", "1x", "9", "a b", "é", "a;b", strings.Repeat("a", 64), "A", "`", "{", "/", ":"} {
		if validClaim(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSettingsOrder(t *testing.T) {
	id := Identity{UserID: "u", TenantID: "t", Superuser: true, Claims: map[string]string{"c": "3", "a": "1", "b": "2", "d": "4"}}
	kv, err := id.settings()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(kv, ",")
	want := "rls_var.user_id,u,rls_var.tenant_id,t,rls_var.is_superuser,true,rls_var.a,1,rls_var.b,2,rls_var.c,3,rls_var.d,4"
	if got != want {
		t.Fatalf("got %s", got)
	}
	if kv, err := (Identity{}).settings(); err != nil || len(kv) != 0 {
		t.Fatalf("zero identity: %v %v", kv, err)
	}
	for _, bad := range []Identity{
		{Claims: map[string]string{"tenant_id": "x"}},
		{Claims: map[string]string{"is_superuser": "x"}},
		{Claims: map[string]string{"user_id": "x"}},
		{UserID: "a\x00b"},
		{Claims: map[string]string{"ok": "v", "zz": "nul\x00"}},
	} {
		if _, err := bad.settings(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if keys := sortedKeys(map[string]string{"b": "", "a": "", "c": ""}); strings.Join(keys, "") != "abc" {
		t.Fatalf("sortedKeys: %v", keys)
	}
}

func TestIdentityEqual(t *testing.T) {
	a := Identity{TenantID: "a"}
	for _, o := range []Identity{{TenantID: "b"}, {TenantID: "a", UserID: "u"}, {TenantID: "a", Superuser: true},
		{TenantID: "a", Claims: map[string]string{"x": "1"}}} {
		if a.equal(o) || o.equal(a) {
			t.Errorf("%+v equals %+v", a, o)
		}
	}
	if !a.equal(Identity{TenantID: "a"}) || !(Identity{}).isZero() || a.isZero() ||
		(Identity{Superuser: true}).isZero() || (Identity{UserID: "u"}).isZero() ||
		(Identity{Claims: map[string]string{"x": ""}}).isZero() {
		t.Fatal("equal or isZero wrong")
	}
}

func TestRedactSQL(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 'x'":                                      "SELECT 'x'",
		"ALTER ROLE a PASSWORD 'sec''ret'":                "ALTER ROLE a PASSWORD '********'",
		"alter role a password E'se\\'c' VALID UNTIL 'x'": "alter role a password E'********' VALID UNTIL '********'",
		"ALTER ROLE a PASSWORD $p$sec$p$":                 "ALTER ROLE a PASSWORD '********'",
		"ALTER ROLE a PASSWORD $$sec$$":                   "ALTER ROLE a PASSWORD '********'",
		"ALTER ROLE a PASSWORD $1":                        "ALTER ROLE a PASSWORD $1",
		"ALTER ROLE a PASSWORD 'open":                     "ALTER ROLE a PASSWORD '********'",
		"ALTER ROLE a PASSWORD $p$open":                   "ALTER ROLE a PASSWORD '********'",
	} {
		if got := redactSQL(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestRoleString(t *testing.T) {
	for r, want := range map[Role]string{RoleLogin: "login", RoleReader: "reader", RoleWriter: "writer", RoleAdmin: "admin", Role(9): "Role(9)"} {
		if r.String() != want {
			t.Errorf("%d: %s", r, r.String())
		}
	}
}

func TestBeginStatement(t *testing.T) {
	for _, tc := range []struct {
		o    TxOptions
		want string
	}{
		{TxOptions{}, "BEGIN"},
		{TxOptions{Isolation: "serializable", ReadOnly: true, Deferrable: true}, "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE"},
		{TxOptions{Isolation: "repeatable read"}, "BEGIN ISOLATION LEVEL REPEATABLE READ"},
		{TxOptions{Isolation: "read committed"}, "BEGIN ISOLATION LEVEL READ COMMITTED"},
		{TxOptions{Isolation: "read uncommitted"}, "BEGIN ISOLATION LEVEL READ UNCOMMITTED"},
	} {
		if got := beginStatement(tc.o); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

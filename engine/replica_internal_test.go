package engine

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/internal/pgtest"
)

// TestBuildWheel checks the weighted round robin: each replica appears as
// often as its weight, never twice in a row when another could come
// between, and pick skips replicas out of rotation.
func TestBuildWheel(t *testing.T) {
	servers := []config.Replica{{Host: "a", Weight: 3}, {Host: "b", Weight: 1}, {Host: "c", Weight: 2}}
	wheel := buildWheel(servers)
	count := map[int]int{}
	for i, w := range wheel {
		count[w]++
		if i > 0 && wheel[i-1] == w && w != 0 {
			t.Errorf("wheel %v repeats %d", wheel, w)
		}
	}
	if len(wheel) != 6 || count[0] != 3 || count[1] != 1 || count[2] != 2 {
		t.Fatalf("wheel %v", wheel)
	}
	rs := &replicaSet{wheel: wheel}
	for range servers {
		r := &replica{}
		r.healthy.Store(true)
		rs.members = append(rs.members, r)
	}
	rs.members[0].healthy.Store(false)
	got := map[*replica]int{}
	for range 600 {
		got[rs.pick()]++
	}
	if got[rs.members[0]] != 0 || got[rs.members[1]] != 200 || got[rs.members[2]] != 400 {
		t.Errorf("picks with the first replica out: %d %d %d", got[rs.members[0]], got[rs.members[1]], got[rs.members[2]])
	}
	for _, r := range rs.members {
		r.healthy.Store(false)
	}
	if rs.pick() != nil {
		t.Error("pick returned a replica out of rotation")
	}
}

// TestTextParams sends the text rendering of every argument type the BEGIN
// batch carries (the signed identity sends NULL, bool, bigint and bytea)
// to a real server and compares with what pgx sends itself.
func TestTextParams(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	mac := []byte{0, 1, 0xfe, '\\', '\'', 0xff}
	args := []any{nil, `it's "x" \ y`, true, int64(-1234567890123), mac, 7}
	params, err := textParams(args)
	if err != nil {
		t.Fatal(err)
	}
	const q = "SELECT ($1::text IS NULL)::text, $2::text, $3::boolean::text, $4::bigint::text, $5::bytea::text, $6::int::text"
	res := conn.PgConn().ExecParams(ctx, q, params, nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var want [6]string
	if err := conn.QueryRow(ctx, q, args...).Scan(&want[0], &want[1], &want[2], &want[3], &want[4], &want[5]); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got := string(res.Rows[0][i]); got != want[i] {
			t.Errorf("argument %d: server read %q from the text rendering, %q from pgx", i+1, got, want[i])
		}
	}
	if _, err := textParams([]any{3.5}); err == nil {
		t.Error("a float was rendered")
	}
}

func TestRecordEnd(t *testing.T) {
	rs := &replicaSet{}
	if got := rs.recordEnd(0x3000028); got != 0x3000028 {
		t.Errorf("sizes unknown: %x", got)
	}
	rs.walBlock.Store(8192)
	rs.walSegment.Store(16 << 20)
	rs.maxAlign.Store(8)
	for _, c := range []struct{ in, want uint64 }{
		{0x3000028, 0x3000000}, // first page of a segment: long header
		{0x3000018, 0x3000018}, // a segment's first page has the long header: unchanged
		{0x3002018, 0x3002000}, // another page: short header
		{0x3002028, 0x3002028}, // 40 bytes into another page: a record's end
		{0x3002020, 0x3002020},
		{0x3002000, 0x3002000},
		{0x4436780, 0x4436780},
	} {
		if got := rs.recordEnd(c.in); got != c.want {
			t.Errorf("recordEnd(%x) = %x, want %x", c.in, got, c.want)
		}
	}
	rs.maxAlign.Store(4) // 20- and 36-byte headers
	if got := rs.recordEnd(0x3002014); got != 0x3002000 {
		t.Errorf("4-byte alignment: %x", got)
	}
	if got := rs.recordEnd(0x3002018); got != 0x3002018 {
		t.Errorf("4-byte alignment, 24 bytes in: %x", got)
	}
}

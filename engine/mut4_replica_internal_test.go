package engine

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/internal/pgtest"
)

// Tests for survivors of the mutation run (scripts/mutate) in replica.go
// and guard.go: the pure functions fed with edge inputs (results built by
// hand, a set without samples, WAL sizes partly unknown), and the replica
// querier's CopyFrom on a real connection.

// liveConn opens a pgx connection to a fresh database of the test server.
func liveConn(t *testing.T) *pgx.Conn {
	t.Helper()
	d := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(context.Background(), d.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// rows builds the rows of a result, one column each.
func rows(vals ...string) [][][]byte {
	out := make([][][]byte, len(vals))
	for i, v := range vals {
		out[i] = [][]byte{[]byte(v)}
	}
	return out
}

// TestJudgeGuardReadsOnlyAnAnswerWithoutError proves judgeGuard calls a
// connection clean only when the guard's last result has no error and is
// exactly one row of one column holding true: a result that carries rows
// and an error (a statement that failed after sending a row), two rows, two
// columns, false, no row or no result at all is dirty, and a closed
// connection is dead.
func TestJudgeGuardReadsOnlyAnAnswerWithoutError(t *testing.T) {
	t.Parallel()
	conn := liveConn(t)
	failed := &pgconn.PgError{Code: "XX000", Message: "failed after a row"}
	ok := &pgconn.Result{CommandTag: pgconn.NewCommandTag("RESET")}
	for _, tc := range []struct {
		name    string
		results []*pgconn.Result
		err     error
		want    guardResult
	}{
		{"true", []*pgconn.Result{ok, {Rows: rows("t")}}, nil, guardClean},
		{"false", []*pgconn.Result{ok, {Rows: rows("f")}}, nil, guardDirty},
		{"true with an error", []*pgconn.Result{ok, {Rows: rows("t"), Err: failed}}, nil, guardDirty},
		{"two rows", []*pgconn.Result{ok, {Rows: rows("t", "t")}}, nil, guardDirty},
		{"two columns", []*pgconn.Result{ok, {Rows: [][][]byte{{[]byte("t"), []byte("t")}}}}, nil, guardDirty},
		{"no row", []*pgconn.Result{ok, {}}, nil, guardDirty},
		{"no result", nil, nil, guardDirty},
		{"message error", []*pgconn.Result{ok, {Rows: rows("t")}}, failed, guardDirty},
	} {
		if got := judgeGuard(conn, tc.results, tc.err); got != tc.want {
			t.Errorf("%s: judgeGuard = %d, want %d", tc.name, got, tc.want)
		}
	}
	if err := conn.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := judgeGuard(conn, []*pgconn.Result{ok, {Rows: rows("t")}}, nil); got != guardDead {
		t.Errorf("closed connection: judgeGuard = %d, want dead", got)
	}
}

// TestRecordEndNeedsEverySize proves recordEnd moves a position just past
// a page header back to the page boundary only when the WAL page size, the
// segment size and the alignment are all known: with any one of them
// still zero (the first check has not read them, or could not) the
// position is returned as it is.
func TestRecordEndNeedsEverySize(t *testing.T) {
	t.Parallel()
	const block, segment, align = 8192, 16 << 20, 8
	set := func(b, s, a uint64) *replicaSet {
		rs := &replicaSet{}
		rs.walBlock.Store(b)
		rs.walSegment.Store(s)
		rs.maxAlign.Store(a)
		return rs
	}
	for _, tc := range []struct {
		name                 string
		block, segment, algn uint64
		lsn, want            uint64
	}{
		{"short header", block, segment, align, 3*block + 24, 3 * block},
		{"long header", block, segment, align, 2*segment + 40, 2 * segment},
		{"short offset on a segment's first page", block, segment, align, 2*segment + 24, 2*segment + 24},
		{"long offset on another page", block, segment, align, 3*block + 40, 3*block + 40},
		{"inside a page", block, segment, align, 3*block + 100, 3*block + 100},
		{"page size unknown", 0, segment, align, 3*block + 24, 3*block + 24},
		{"segment size unknown", block, 0, align, 3*block + 24, 3*block + 24},
		{"segment size unknown, long header", block, 0, align, 2*segment + 40, 2*segment + 40},
		{"alignment unknown", block, segment, 0, 3*block + 24, 3*block + 24},
		{"nothing known", 0, 0, 0, 3*block + 24, 3*block + 24},
	} {
		if got := set(tc.block, tc.segment, tc.algn).recordEnd(tc.lsn); got != tc.want {
			t.Errorf("%s: recordEnd(%d) = %d, want %d", tc.name, tc.lsn, got, tc.want)
		}
	}
}

// TestLagOfWithoutSamples proves that a replica set that holds no sample
// of the primary yet (the checker has not read its position) cannot tell
// a replica's lag: lagOf answers not ok, whatever the position.
func TestLagOfWithoutSamples(t *testing.T) {
	t.Parallel()
	rs := &replicaSet{cfg: config.Replicas{MaxLag: time.Hour}}
	for _, lsn := range []uint64{0, 1 << 40} {
		if lag, ok := rs.lagOf(lsn, time.Now()); ok || lag != 0 {
			t.Errorf("lagOf(%d) without samples = %v, %v; want 0, false", lsn, lag, ok)
		}
	}
}

// TestLagOfBehindOldestAtMaxLag proves the bound on a replica behind every
// sample is inclusive: when the oldest sample is exactly MaxLag old, the
// replica's lag is MaxLag and it is ok; a nanosecond later it is not.
func TestLagOfBehindOldestAtMaxLag(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rs := &replicaSet{cfg: config.Replicas{MaxLag: time.Second}}
	rs.addSample(walSample{at: t0, lsn: 100})
	rs.addSample(walSample{at: t0.Add(time.Millisecond), lsn: 200})
	if lag, ok := rs.lagOf(50, t0.Add(time.Second)); lag != time.Second || !ok {
		t.Errorf("oldest sample exactly MaxLag old: lagOf = %v, %v; want 1s, true", lag, ok)
	}
	if lag, ok := rs.lagOf(50, t0.Add(time.Second+time.Nanosecond)); ok {
		t.Errorf("oldest sample older than MaxLag: lagOf = %v, true; want not ok", lag)
	}
}

// TestNoteCommitPosition proves noteCommitPosition raises the context's
// token to the position read after COMMIT only when COMMIT succeeded (no
// error, tag COMMIT) and the position is one row of one column, and that
// it always drops the position's result, also when the results end right
// after it (two results); without replicas or in a read-only transaction
// the results are untouched.
func TestNoteCommitPosition(t *testing.T) {
	t.Parallel()
	const pos = "0/3000148"
	want, err := ParseToken(pos)
	if err != nil {
		t.Fatal(err)
	}
	commit := &pgconn.Result{CommandTag: pgconn.NewCommandTag("COMMIT")}
	rollback := &pgconn.Result{CommandTag: pgconn.NewCommandTag("ROLLBACK")}
	failed := &pgconn.Result{CommandTag: pgconn.NewCommandTag("COMMIT"), Err: &pgconn.PgError{Code: "40001"}}
	guard := &pgconn.Result{Rows: rows("t")}
	position := func(r [][][]byte, err error) *pgconn.Result { return &pgconn.Result{Rows: r, Err: err} }
	tx := &Tx{db: &DB{replicas: &replicaSet{}}}
	for _, tc := range []struct {
		name    string
		results []*pgconn.Result
		raised  bool
	}{
		{"commit, position, guard", []*pgconn.Result{commit, position(rows(pos), nil), guard}, true},
		{"commit, position", []*pgconn.Result{commit, position(rows(pos), nil)}, true},
		{"rollback", []*pgconn.Result{rollback, position(rows(pos), nil), guard}, false},
		{"commit failed", []*pgconn.Result{failed, position(rows(pos), nil), guard}, false},
		{"position failed", []*pgconn.Result{commit, position(rows(pos), &pgconn.PgError{Code: "42501"}), guard}, false},
		{"two rows", []*pgconn.Result{commit, position(rows(pos, pos), nil), guard}, false},
		{"two columns", []*pgconn.Result{commit, position([][][]byte{{[]byte(pos), []byte(pos)}}, nil), guard}, false},
	} {
		ctx := TrackWrites(context.Background())
		in := append([]*pgconn.Result(nil), tc.results...)
		out := tx.noteCommitPosition(ctx, in)
		wantOut := append([]*pgconn.Result{tc.results[0]}, tc.results[2:]...)
		if len(out) != len(wantOut) {
			t.Errorf("%s: %d results back, want %d", tc.name, len(out), len(wantOut))
		} else {
			for i := range out {
				if out[i] != wantOut[i] {
					t.Errorf("%s: result %d is not the one expected", tc.name, i)
				}
			}
		}
		got := TokenFromContext(ctx)
		if tc.raised && got != want || !tc.raised && !got.IsZero() {
			t.Errorf("%s: token %v, raised %v", tc.name, got, tc.raised)
		}
	}
	// A single result (the connection died after COMMIT's answer) is left
	// as it is.
	ctx := TrackWrites(context.Background())
	if out := tx.noteCommitPosition(ctx, []*pgconn.Result{commit}); len(out) != 1 || out[0] != commit || !TokenFromContext(ctx).IsZero() {
		t.Errorf("one result: %d back, token %v", len(out), TokenFromContext(ctx))
	}
	// Without replicas, or read-only, nothing was asked: nothing is taken.
	for _, tx := range []*Tx{{db: &DB{}}, {db: &DB{replicas: &replicaSet{}}, opts: TxOptions{ReadOnly: true}}} {
		ctx := TrackWrites(context.Background())
		in := []*pgconn.Result{commit, position(rows(pos), nil), guard}
		if out := tx.noteCommitPosition(ctx, in); len(out) != 3 || !TokenFromContext(ctx).IsZero() {
			t.Errorf("no position asked: %d results back, token %v", len(out), TokenFromContext(ctx))
		}
	}
}

// TestReplicaCopyFromAfterCheck proves the replica querier's CopyFrom
// returns the check's verdict without copying when the check failed, and
// copies the rows (they are in the table) once the check passed.
func TestReplicaCopyFromAfterCheck(t *testing.T) {
	t.Parallel()
	conn := liveConn(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE TABLE copied (id int)"); err != nil {
		t.Fatal(err)
	}
	src := func() pgx.CopyFromSource { return pgx.CopyFromRows([][]any{{1}, {2}}) }
	behind := &replicaQuerier{r: &replica{name: "r"}, conn: conn, verdict: errReplicaBehind}
	if n, err := behind.CopyFrom(ctx, pgx.Identifier{"copied"}, []string{"id"}, src()); !errors.Is(err, errReplicaBehind) || n != 0 {
		t.Errorf("CopyFrom after a failed check: %d, %v; want 0, %v", n, err, errReplicaBehind)
	}
	passed := &replicaQuerier{r: &replica{name: "r"}, conn: conn, checked: true}
	if n, err := passed.CopyFrom(ctx, pgx.Identifier{"copied"}, []string{"id"}, src()); err != nil || n != 2 {
		t.Errorf("CopyFrom after the check passed: %d, %v; want 2 rows", n, err)
	}
	var count int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM copied").Scan(&count); err != nil || count != 2 {
		t.Errorf("rows in the table: %d, %v; want 2", count, err)
	}
}

// hideFailedTx starts a relay on 127.0.0.1 in front of target that
// forwards both streams as they are, except that every ReadyForQuery the
// server sends with the status of a failed transaction ('E') reaches the
// client as in a transaction ('T'): the client no longer learns from the
// status that its transaction failed. It returns the relay's port and
// stops with the test.
func hideFailedTx(t *testing.T, target string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				_ = client.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, client, server)
			mu.Unlock()
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(server, client)
				_ = server.Close()
			}()
			go func() {
				defer wg.Done()
				defer client.Close()
				r := bufio.NewReader(server)
				head := make([]byte, 5)
				for {
					if _, err := io.ReadFull(r, head); err != nil {
						return
					}
					body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
					if _, err := io.ReadFull(r, body); err != nil {
						return
					}
					if head[0] == 'Z' && len(body) == 1 && body[0] == 'E' {
						body[0] = 'T'
					}
					if _, err := client.Write(append(head, body...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestCommitAnsweredRollback proves that when COMMIT answers ROLLBACK
// without an error (the transaction had failed, and the client was not told
// by the transaction status, which a relay hides), the commit is reported
// as rolled back (pgx.ErrTxCommitRollback), not as a success, and the
// connection, which the guard sent with COMMIT found clean, goes back to
// the pool: the next transaction runs on the same backend.
func TestCommitAnsweredRollback(t *testing.T) {
	t.Parallel()
	d := pgtest.NewDatabase(t)
	u, err := url.Parse(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	port := hideFailedTx(t, u.Host)
	db := openInternal(t, u.String(), func(c *config.Config) {
		c.Host, c.Port = "127.0.0.1", port
		c.Pool.MaxConns = 1
	})
	ctx := context.Background()
	var status byte
	var first uint32
	err = db.WithTx(ctx, TxOptions{ReadOnly: true}, func(ctx context.Context, tx *Tx) error {
		first = tx.conn.PgConn().PID()
		if _, err := tx.Exec(ctx, "SELECT 1/0"); dberrCode(err) != "22012" {
			t.Errorf("the failing statement: %v", err)
		}
		status = tx.conn.PgConn().TxStatus()
		return nil // swallowed
	})
	if status != 'T' {
		t.Fatalf("the relay let the client see status %q", status)
	}
	if !errors.Is(err, pgx.ErrTxCommitRollback) {
		t.Fatalf("COMMIT answered ROLLBACK: WithTx returned %v, want %v", err, pgx.ErrTxCommitRollback)
	}
	var pid uint32
	if err := db.WithTx(ctx, TxOptions{ReadOnly: true}, func(ctx context.Context, tx *Tx) error {
		return tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid)
	}); err != nil || pid != first {
		t.Fatalf("the next transaction: backend %d (the first ran on %d), %v", pid, first, err)
	}
}

// dberrCode is the SQLSTATE of err, "" without one.
func dberrCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

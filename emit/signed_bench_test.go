package emit_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/identity"
	"github.com/uno-db/uno/model"
)

// Doc is the benchmark's tenant model: row-level security, no triggers.
type Doc struct {
	uno.Model `uno:"table:doc"`
	model.ULIDKey
	model.Tenant
	Title string `uno:"title"`
	Body  string `uno:"body"`
}

// benchDB is a database with 100,000 docs, half of them tenant A's, and a
// connection as the login role.
func benchDB(b *testing.B, signed bool) (*signedConn, string) {
	b.Helper()
	u := setUpMode(b, signed, Doc{})
	ctx := context.Background()
	if _, err := u.super.Exec(ctx, `INSERT INTO doc (id, tenant_id, title, body)
		SELECT upper(substr(md5(i::text), 1, 26)), CASE WHEN i % 2 = 0 THEN 'tenant-a' ELSE 'tenant-b' END, 'title ' || i, md5(i::text)
		FROM generate_series(1, 100000) i`); err != nil {
		b.Fatal(err)
	}
	if _, err := u.super.Exec(ctx, "VACUUM ANALYZE doc"); err != nil {
		b.Fatal(err)
	}
	id := scalarOn[string](b, u.super, "SELECT id FROM doc WHERE tenant_id = 'tenant-a' ORDER BY id LIMIT 1 OFFSET 777")
	return newSignedConn(b, u), id
}

// BenchmarkSignedIdentity compares a scoped read of one row and a scoped
// filter over 100,000 rows (a count with a LIKE, so every row passes the
// policy), each a whole transaction as the reader role for tenant A: BEGIN
// batch, query, COMMIT. unsigned sets rls_var.* and the policies read
// them; signed also calls uno_sign_in in the BEGIN batch and the policies
// call the verified functions.
//
// The machine is shared, so each iteration runs the unsigned and the
// signed transaction back to back (in alternating order) and the
// benchmark reports the median of each and their ratio: load that slows
// one slows the other alike.
func BenchmarkSignedIdentity(b *testing.B) {
	type db struct {
		c  *signedConn
		id string
	}
	dbs := map[bool]db{}
	for _, signed := range []bool{false, true} {
		c, id := benchDB(b, signed)
		dbs[signed] = db{c, id}
	}
	ctx := context.Background()
	claims := identity.Claims{TenantID: "tenant-a", UserID: "alice"}
	begin := func(b *testing.B, signed bool) *pgx.Conn {
		c := dbs[signed].c
		batch := &pgx.Batch{}
		batch.Queue("BEGIN")
		sel := "SELECT set_config('role', $1, true), set_config('rls_var.tenant_id', $2, true), set_config('rls_var.user_id', $3, true)"
		args := []any{c.roles.Reader, claims.TenantID, claims.UserID}
		if signed {
			sargs, err := c.signer.Args(claims, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			sel += ", " + identity.SignInCall("public", 4)
			args = append(args, sargs...)
		}
		batch.Queue(sel, args...)
		if err := c.conn.SendBatch(ctx, batch).Close(); err != nil {
			b.Fatal(err)
		}
		return c.conn
	}
	commit := func(b *testing.B, conn *pgx.Conn) {
		if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
			b.Fatal(err)
		}
	}
	workloads := []struct {
		name string
		run  func(b *testing.B, signed bool)
	}{
		{"read_one", func(b *testing.B, signed bool) {
			var title, body string
			conn := begin(b, signed)
			if err := conn.QueryRow(ctx, "SELECT title, body FROM doc WHERE id = $1", dbs[signed].id).Scan(&title, &body); err != nil {
				b.Fatal(err)
			}
			commit(b, conn)
		}},
		{"filter_100k", func(b *testing.B, signed bool) {
			var n int
			conn := begin(b, signed)
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM doc WHERE title LIKE $1", "%9%").Scan(&n); err != nil {
				b.Fatal(err)
			}
			commit(b, conn)
			if n == 0 || n > 50000 {
				b.Fatalf("tenant A counted %d rows", n)
			}
		}},
	}
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) {
			var took [2][]time.Duration
			cpu0, cpuOK0 := backendCPU(dbs[false].c.conn)
			cpu1, cpuOK1 := backendCPU(dbs[true].c.conn)
			i := 0
			for b.Loop() {
				for k := range 2 {
					signed := (i+k)%2 == 1
					start := time.Now()
					w.run(b, signed)
					idx := 0
					if signed {
						idx = 1
					}
					took[idx] = append(took[idx], time.Since(start))
				}
				i++
			}
			u, s := median(took[0]), median(took[1])
			b.ReportMetric(float64(u.Nanoseconds()), "unsigned-ns/tx")
			b.ReportMetric(float64(s.Nanoseconds()), "signed-ns/tx")
			b.ReportMetric(float64(s)/float64(u), "signed/unsigned")
			// The server backends' own CPU time, which waiting for a CPU
			// on a loaded machine does not inflate (Linux, local server).
			cpuU, okU := backendCPU(dbs[false].c.conn)
			cpuS, okS := backendCPU(dbs[true].c.conn)
			if cpuOK0 && cpuOK1 && okU && okS && i > 0 {
				u, s := float64(cpuU-cpu0)/float64(i), float64(cpuS-cpu1)/float64(i)
				b.ReportMetric(u, "unsigned-server-cpu-ns/tx")
				b.ReportMetric(s, "signed-server-cpu-ns/tx")
				b.ReportMetric(s/u, "server-cpu-signed/unsigned")
			}
		})
	}
}

// backendCPU returns the CPU time the server backend of conn has used,
// from /proc/<pid>/schedstat; false when that cannot be read (a remote
// server, not Linux).
func backendCPU(conn *pgx.Conn) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(conn.PgConn().PID())) + "/schedstat")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	return time.Duration(ns), err == nil
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

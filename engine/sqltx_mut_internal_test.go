package engine

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestServerAddrUnknown: serverAddr answers nil, without panicking, for a
// connection it cannot read an address from: none at all, or a pgx.Conn
// that never connected (no PgConn).
func TestServerAddrUnknown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		conn *pgx.Conn
	}{{"nil", nil}, {"never connected", &pgx.Conn{}}} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("serverAddr panicked: %v", p)
				}
			}()
			if a := serverAddr(tc.conn); a != nil {
				t.Fatalf("serverAddr = %v, want nil", a)
			}
		})
	}
}

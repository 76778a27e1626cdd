//go:build linux || darwin || freebsd || netbsd || openbsd

package engine

import (
	"crypto/tls"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// alive tells, without waiting and without sending, whether an idle
// connection may still be used: false when the server has closed it (end
// of stream) or, on a plain connection, has sent an error message since
// (the FATAL a server sends to its clients when it shuts down). A
// pipelined call (single.go) checks this before sending, so a connection
// the server closed while it sat in the pool is replaced instead of
// leaving the outcome of a statement unknown.
func alive(pg *pgconn.PgConn) bool {
	c := pg.Conn()
	plain := true
	if t, ok := c.(*tls.Conn); ok {
		c, plain = t.NetConn(), false
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	ok = true
	// Control, not Read: pgconn's background reader may have a read
	// pending on the connection, which holds the read lock until data
	// comes; the peek neither waits nor takes bytes away from it.
	_ = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n == 0 && err == nil:
			ok = false // end of stream
		case n > 0 && plain && b[0] == 'E':
			ok = false // an ErrorResponse on an idle connection: the server is closing it
		}
	})
	return ok
}

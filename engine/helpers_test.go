package engine_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is one test's database with uno's roles, and a factory.
type env struct {
	t       *testing.T
	db      pgtest.Database
	cfg     config.Config // logs in as <db>_login
	factory *engine.Factory
}

// newEnv creates a database, uno's five roles for it, and a table "item"
// the writer may write. cfg logs in as the login role.
func newEnv(t *testing.T, opts engine.Options) *env {
	t.Helper()
	db := pgtest.NewDatabase(t)
	r := config.DefaultRoles(db.Name)
	pgtest.Exec(t, db.URL,
		"CREATE ROLE "+quote.Ident(r.Base)+" NOLOGIN",
		"CREATE ROLE "+quote.Ident(r.Reader)+" NOLOGIN IN ROLE "+quote.Ident(r.Base),
		"CREATE ROLE "+quote.Ident(r.Writer)+" NOLOGIN IN ROLE "+quote.Ident(r.Base),
		"CREATE ROLE "+quote.Ident(r.Admin)+" NOLOGIN IN ROLE "+quote.Ident(r.Base),
		"CREATE ROLE "+quote.Ident(r.Login)+" LOGIN NOINHERIT IN ROLE "+
			quote.Ident(r.Reader)+", "+quote.Ident(r.Writer)+", "+quote.Ident(r.Admin),
		"CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL, n int NOT NULL DEFAULT 0)",
		"CREATE TABLE child (id int PRIMARY KEY, item_id int NOT NULL REFERENCES item(id))",
		"GRANT USAGE ON SCHEMA public TO "+quote.Ident(r.Base),
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+quote.Ident(r.Reader),
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "+quote.Ident(r.Writer)+", "+quote.Ident(r.Login),
		"GRANT ALL ON ALL TABLES IN SCHEMA public TO "+quote.Ident(r.Admin),
	)
	u, _ := url.Parse(db.URL)
	port, _ := strconv.Atoi(u.Port())
	cfg := config.Config{Host: u.Hostname(), Port: port, Database: db.Name, SSLMode: "disable",
		Retry: config.Retry{InitialDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}}.WithDefaults()
	f, err := engine.NewFactory(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	return &env{t: t, db: db, cfg: cfg, factory: f}
}

// open opens cfg (edited by edit, if given) through the env's factory.
func (e *env) open(edit func(*config.Config)) *engine.DB {
	e.t.Helper()
	cfg := e.cfg
	if edit != nil {
		edit(&cfg)
	}
	db, err := e.factory.Open(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return db
}

// cutProxy is a TCP proxy between the client and PostgreSQL that, once
// armed, cuts the connection that sends a simple-protocol COMMIT: before
// forwarding it (cutBefore) or right after (cutAfter).
type cutProxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int32
	cuts   atomic.Int32
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

const (
	cutOff int32 = iota
	cutBefore
	cutAfter
)

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(client, server); client.Close() }()
		go func() { defer p.wg.Done(); p.forward(client, server); server.Close(); client.Close() }()
	}
}

// forward copies client messages to the server, watching for COMMIT.
func (p *cutProxy) forward(client, server net.Conn) {
	// The startup message has no type byte.
	var lenBuf [4]byte
	if _, err := io.ReadFull(client, lenBuf[:]); err != nil {
		return
	}
	n := binary.BigEndian.Uint32(lenBuf[:])
	body := make([]byte, n-4)
	if _, err := io.ReadFull(client, body); err != nil {
		return
	}
	if _, err := server.Write(append(lenBuf[:], body...)); err != nil {
		return
	}
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(client, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		body := make([]byte, n-4)
		if _, err := io.ReadFull(client, body); err != nil {
			return
		}
		isCommit := hdr[0] == 'Q' && bytes.HasPrefix(bytes.ToUpper(body), []byte("COMMIT"))
		if isCommit {
			switch p.mode.Load() {
			case cutBefore:
				if p.mode.CompareAndSwap(cutBefore, cutOff) {
					p.cuts.Add(1)
					return
				}
			case cutAfter:
				if p.mode.CompareAndSwap(cutAfter, cutOff) {
					p.cuts.Add(1)
					_, _ = server.Write(append(hdr[:], body...))
					return
				}
			}
		}
		if _, err := server.Write(append(hdr[:], body...)); err != nil {
			return
		}
	}
}

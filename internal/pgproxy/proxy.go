// Package pgproxy is a TCP proxy for fault tests: it sits between a client
// and a PostgreSQL server on 127.0.0.1, reads the client's stream as
// protocol messages, and lets the test decide, message by message, whether
// to forward it, cut the connection before or after forwarding it, or hold
// it until the test releases it. Nothing depends on timing: a held message
// waits for the test.
package pgproxy

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
)

// Action is what the proxy does with one client message.
type Action int

const (
	// Forward sends the message on.
	Forward Action = iota
	// CutBefore closes both sides of the connection without sending the
	// message: the server never sees it.
	CutBefore
	// CutAfter sends the message, then closes both sides: the server runs it,
	// the client never sees the reply (the proxy stops relaying the server's
	// bytes before it sends the message, so no reply can slip through).
	CutAfter
	// Hold keeps the message until the test calls Forward, CutBefore or
	// CutAfter on the [Held] value received from [Proxy.Held].
	Hold
)

// Message is one client-to-server protocol message (not the startup
// message, which is always forwarded).
type Message struct {
	Conn int    // the proxy's number for the client connection, from 1
	Type byte   // the message type byte: 'Q' simple query, 'P' parse, …
	Body []byte // the message body after the length
}

// IsCommit reports whether the message is a simple query whose text starts
// with COMMIT (as uno's engine sends it, with the release guard after it),
// or the Parse of an extended-protocol COMMIT (as a pipelined call sends
// it: Parse, Bind, Describe, then the Execute that runs it).
func (m Message) IsCommit() bool {
	body := m.Body
	switch m.Type {
	case 'Q':
	case 'P':
		_, q, ok := bytes.Cut(body, []byte{0}) // after the statement name
		if !ok {
			return false
		}
		body = q
	default:
		return false
	}
	return bytes.HasPrefix(bytes.ToUpper(bytes.TrimLeft(body, " \t\r\n")), []byte("COMMIT"))
}

// CommitPoints tells which messages commit a transaction: COMMIT (as
// [Message.IsCommit]) and the Sync that follows a Flush on the same
// connection, where uno's one-round-trip call (engine.DB.Single) commits
// the pipeline's implicit transaction. It keeps state per client
// connection; give each rule its own.
type CommitPoints struct {
	mu      sync.Mutex
	flushed map[int]bool
}

// Is reports whether m commits a transaction.
func (c *CommitPoints) Is(m Message) bool {
	switch m.Type {
	case 'H', 'S':
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.flushed == nil {
			c.flushed = map[int]bool{}
		}
		if m.Type == 'H' {
			c.flushed[m.Conn] = true
			return false
		}
		was := c.flushed[m.Conn]
		delete(c.flushed, m.Conn)
		return was
	}
	return m.IsCommit()
}

// Rule decides the action for a message. It runs on the connection's
// goroutine; it must not block.
type Rule func(Message) Action

// Once returns a rule that answers act for the first message matching match
// and Forward for every other message.
func Once(match func(Message) bool, act Action) Rule {
	var done atomic.Bool
	return func(m Message) Action {
		if match(m) && done.CompareAndSwap(false, true) {
			return act
		}
		return Forward
	}
}

// Held is a message the proxy holds. Exactly one of its methods must be
// called; the connection's client stream waits until then, and the client
// side of the connection stays open until then even if the server side
// closes (so a test can crash the server and decide later what the client
// sees).
type Held struct {
	Message
	decide chan Action
}

// Forward sends the held message on.
func (h Held) Forward() { h.decide <- Forward }

// CutBefore drops the held message and closes the connection.
func (h Held) CutBefore() { h.decide <- CutBefore }

// CutAfter sends the held message, then closes the connection.
func (h Held) CutAfter() { h.decide <- CutAfter }

// Proxy forwards connections to one target. Make it with [New].
type Proxy struct {
	ln     net.Listener
	target string
	rule   atomic.Pointer[Rule]
	held   chan Held
	cuts   atomic.Int32
	nconn  atomic.Int32
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[int][2]net.Conn
	closed bool
}

// New starts a proxy on a free port of 127.0.0.1 in front of target
// (host:port). Every message is forwarded until [Proxy.SetRule] says
// otherwise.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, held: make(chan Held, 64), conns: map[int][2]net.Conn{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Host is the address the proxy listens on.
func (p *Proxy) Host() string { return "127.0.0.1" }

// Port is the port the proxy listens on.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Addr is host:port of the proxy.
func (p *Proxy) Addr() string { return net.JoinHostPort(p.Host(), strconv.Itoa(p.Port())) }

// SetRule sets the rule for every later message of every connection; nil
// forwards everything.
func (p *Proxy) SetRule(r Rule) {
	if r == nil {
		p.rule.Store(nil)
		return
	}
	p.rule.Store(&r)
}

// Held delivers the messages a [Hold] rule holds, in the order they arrived.
func (p *Proxy) Held() <-chan Held { return p.held }

// Cuts is the number of connections the proxy has cut on a rule's word.
func (p *Proxy) Cuts() int { return int(p.cuts.Load()) }

// Conns is the number of client connections the proxy has accepted.
func (p *Proxy) Conns() int { return int(p.nconn.Load()) }

// CutAll closes every open connection at once, as a network failure would.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, c := range p.conns {
		c[0].Close()
		c[1].Close()
		delete(p.conns, id)
	}
}

// Close stops listening, closes every connection and waits for the proxy's
// goroutines. Messages still held are cut.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.CutAll()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	for {
		select {
		case h := <-p.held:
			h.decide <- CutBefore
		case <-done:
			return
		}
	}
}

func (p *Proxy) serve() {
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
		id := int(p.nconn.Add(1))
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns[id] = [2]net.Conn{client, server}
		p.mu.Unlock()
		p.wg.Add(2)
		holding := new(sync.Mutex)
		mute := new(atomic.Bool)
		go func() {
			defer p.wg.Done()
			relay(client, server, mute)
			// Wait for the test's decision on a held message, if any.
			holding.Lock()
			p.drop(id)
			holding.Unlock()
		}()
		go func() {
			defer p.wg.Done()
			p.forward(id, client, server, holding, mute)
			p.drop(id)
		}()
	}
}

func (p *Proxy) drop(id int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[id]; ok {
		c[0].Close()
		c[1].Close()
		delete(p.conns, id)
	}
}

// relay copies the server's bytes to the client until mute is set.
func relay(client, server net.Conn, mute *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 && !mute.Load() {
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// forward copies client messages to the server, asking the rule about
// each. holding is locked while a message is held, until the test decides;
// mute stops the relay of replies before a CutAfter message is sent.
func (p *Proxy) forward(id int, client, server net.Conn, holding *sync.Mutex, mute *atomic.Bool) {
	// The startup message (and an SSLRequest or GSSENCRequest before it) has
	// no type byte. The proxy does not speak TLS, so clients use
	// sslmode=disable (or prefer, which the server then refuses).
	for {
		var lenBuf [4]byte
		if _, err := io.ReadFull(client, lenBuf[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(lenBuf[:])
		if n < 8 || n > 1<<20 {
			return
		}
		body := make([]byte, n-4)
		if _, err := io.ReadFull(client, body); err != nil {
			return
		}
		if _, err := server.Write(append(lenBuf[:], body...)); err != nil {
			return
		}
		code := binary.BigEndian.Uint32(body[:4])
		if code != 80877103 && code != 80877104 { // not SSLRequest or GSSENCRequest
			break
		}
		// The server answers such a request with one byte, relayed by the
		// other direction; the real startup message follows.
	}
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(client, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n < 4 {
			return
		}
		body := make([]byte, n-4)
		if _, err := io.ReadFull(client, body); err != nil {
			return
		}
		msg := Message{Conn: id, Type: hdr[0], Body: body}
		act := Forward
		if r := p.rule.Load(); r != nil {
			act = (*r)(msg)
		}
		if act == Hold {
			holding.Lock()
			h := Held{Message: msg, decide: make(chan Action, 1)}
			p.held <- h
			act = <-h.decide
			holding.Unlock()
		}
		switch act {
		case CutBefore:
			p.cuts.Add(1)
			return
		case CutAfter:
			mute.Store(true)
			_, _ = server.Write(append(hdr[:], body...))
			p.cuts.Add(1)
			return
		}
		if _, err := server.Write(append(hdr[:], body...)); err != nil {
			return
		}
	}
}

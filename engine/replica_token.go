package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// Token is a read-your-writes token: the WAL position (LSN) that makes a
// commit visible. A replica that has replayed WAL up to the token shows
// the commit and everything committed before it. The zero Token asks for
// nothing.
//
// The token is pg_current_wal_insert_lsn() read on the primary right after
// COMMIT, in the same round trip: the commit record was inserted before
// COMMIT returned, so the insert position is at or past its end, whatever
// synchronous_commit says. (The flush position is not: with
// synchronous_commit = off, COMMIT returns before its record is flushed.)
type Token struct{ lsn uint64 }

// IsZero reports whether t asks for nothing.
func (t Token) IsZero() bool { return t.lsn == 0 }

// String renders t as PostgreSQL writes an LSN, such as "0/3000148", for a
// cookie or a header; [ParseToken] reads it back.
func (t Token) String() string {
	return strconv.FormatUint(t.lsn>>32, 16) + "/" + strconv.FormatUint(t.lsn&0xFFFFFFFF, 16)
}

// After reports whether t is later than o.
func (t Token) After(o Token) bool { return t.lsn > o.lsn }

// ParseToken reads a token written by [Token.String] (any LSN in
// PostgreSQL's X/Y hexadecimal form).
func ParseToken(s string) (Token, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || hi == "" || lo == "" || len(hi) > 8 || len(lo) > 8 {
		return Token{}, fmt.Errorf("uno: read-your-writes token %q is not an LSN such as 0/3000148", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return Token{}, fmt.Errorf("uno: read-your-writes token %q is not an LSN such as 0/3000148", s)
	}
	return Token{lsn: h<<32 | l}, nil
}

// tokenBox holds the latest token of a chain of calls; commits made with a
// context carrying it raise it.
type tokenBox struct{ lsn atomic.Uint64 }

func (b *tokenBox) raise(lsn uint64) {
	for {
		old := b.lsn.Load()
		if lsn <= old || b.lsn.CompareAndSwap(old, lsn) {
			return
		}
	}
}

type tokenKey struct{}

// TrackWrites returns ctx with a read-your-writes token holder: every
// read-write transaction committed with the returned context (or one
// derived from it) raises the token, and every read with
// [ReadYourWrites] consistency made with it sees those commits. Read the
// token with [TokenFromContext] to send it to a client.
func TrackWrites(ctx context.Context) context.Context {
	return WithToken(ctx, Token{})
}

// WithToken returns ctx carrying a token holder that starts at t, or at
// the token ctx already carries when that is later: use it with a token
// that came back from a client ([ParseToken]). Commits made with the
// returned context raise the token.
func WithToken(ctx context.Context, t Token) context.Context {
	b := &tokenBox{}
	b.raise(t.lsn)
	if old, ok := ctx.Value(tokenKey{}).(*tokenBox); ok {
		b.raise(old.lsn.Load())
	}
	return context.WithValue(ctx, tokenKey{}, b)
}

// TokenFromContext returns the latest token ctx carries: the one given to
// [WithToken], raised by every read-write commit made with ctx since.
func TokenFromContext(ctx context.Context) Token {
	if b, ok := ctx.Value(tokenKey{}).(*tokenBox); ok {
		return Token{lsn: b.lsn.Load()}
	}
	return Token{}
}

// noteCommit raises the token ctx carries, if any.
func noteCommit(ctx context.Context, t Token) {
	if b, ok := ctx.Value(tokenKey{}).(*tokenBox); ok {
		b.raise(t.lsn)
	}
}

// TracksWrites reports whether ctx carries a read-your-writes token holder
// ([TrackWrites], [WithToken]) that commits made with it raise.
func TracksWrites(ctx context.Context) bool {
	_, ok := ctx.Value(tokenKey{}).(*tokenBox)
	return ok
}

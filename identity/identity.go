// Package identity is the application side of uno's signed identity: the
// claims a transaction acts for (tenant, user, superuser flag), their
// canonical encoding, and the HMAC-SHA256 signature that the database
// function uno_sign_in (created by emit.Functions) checks before it makes
// the claims visible to row-level security policies and triggers. It does
// no I/O.
//
// The application and the database share a secret ([NewSecret], at least
// [MinSecretLen] bytes). For each transaction the application signs the
// claims and the time ([Signer.Sign]) and calls uno_sign_in in the BEGIN
// batch ([SignInCall], [Signer.Args]). The function checks the signature
// and the time, then keeps the verified claims, for this transaction only,
// in a server parameter that only the admin role may set, so SQL running
// inside the transaction can read them but not change them.
// docs/SECURITY.md has the threat model.
package identity

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uno-db/uno/quote"
)

// FuncSignIn is the name of the database function that checks a signature
// and binds the claims to the transaction.
const FuncSignIn = "uno_sign_in"

// Version starts every signed message; a new encoding gets a new version.
// v2 added the named claims ([Claims].Extra).
const Version = "uno-identity-v2"

// MinSecretLen is the shortest secret accepted, in bytes.
const MinSecretLen = 32

// ErrSecret is returned for a secret shorter than [MinSecretLen].
var ErrSecret = errors.New("identity: the secret must be at least 32 bytes")

// ErrClaims is returned for claims that cannot be signed (a NUL byte, an
// empty claim name).
var ErrClaims = errors.New("identity: invalid claims")

// Claims are who a transaction acts for. An empty TenantID or UserID is
// no claim: the database functions return NULL for it. Extra holds named
// claims (name to value), signed like the others and read in the database
// with uno_claim(name).
type Claims struct {
	TenantID  string
	UserID    string
	Superuser bool
	Extra     map[string]string
}

func (c Claims) check() error {
	if strings.IndexByte(c.TenantID, 0) >= 0 {
		return fmt.Errorf("%w: TenantID holds a NUL byte", ErrClaims)
	}
	if strings.IndexByte(c.UserID, 0) >= 0 {
		return fmt.Errorf("%w: UserID holds a NUL byte", ErrClaims)
	}
	for name, v := range c.Extra {
		if name == "" || strings.IndexByte(name, 0) >= 0 {
			return fmt.Errorf("%w: claim name %q is empty or holds a NUL byte", ErrClaims, name)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("%w: claim %q holds a NUL byte", ErrClaims, name)
		}
	}
	return nil
}

// names returns the names of c.Extra sorted by their bytes.
func (c Claims) names() []string {
	return slices.Sorted(maps.Keys(c.Extra))
}

// Message returns the bytes that are signed for claims issued at a time:
//
//	uno-identity-v2 sign-in\n<len>:<tenant>\n<len>:<user>\n<0|1>\n<n>\n
//	<len>:<name>\n<len>:<value>\n   (n times, names sorted by their bytes)
//	<unix ms>
//
// where <len> is the byte length of the value in decimal and <n> the
// number of named claims, so no two claims share an encoding. uno_sign_in
// builds the same bytes (the database must use UTF-8, as Go strings do).
func Message(c Claims, issued time.Time) []byte {
	return message(c, c.names(), issued)
}

func message(c Claims, names []string, issued time.Time) []byte {
	n := len(Version) + len(c.TenantID) + len(c.UserID) + 64
	for k, v := range c.Extra {
		n += len(k) + len(v) + 24
	}
	b := make([]byte, 0, n)
	b = append(b, Version...)
	b = append(b, " sign-in\n"...)
	field := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
		b = append(b, '\n')
	}
	field(c.TenantID)
	field(c.UserID)
	if c.Superuser {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	b = append(b, '\n')
	b = strconv.AppendInt(b, int64(len(names)), 10)
	b = append(b, '\n')
	for _, name := range names {
		field(name)
		field(c.Extra[name])
	}
	return strconv.AppendInt(b, issued.UnixMilli(), 10)
}

// Signer signs claims with the shared secret. It is safe for concurrent
// use. Its String and GoString never show the secret.
type Signer struct {
	secret []byte
}

// NewSigner returns a Signer for secret, which must be at least
// [MinSecretLen] bytes; the Signer keeps its own copy.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, ErrSecret
	}
	return &Signer{secret: append([]byte(nil), secret...)}, nil
}

// NewSecret returns 32 random bytes from crypto/rand.
func NewSecret() []byte {
	b := make([]byte, MinSecretLen)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// String hides the secret.
func (s *Signer) String() string { return "identity.Signer{secret: ***}" }

// GoString hides the secret.
func (s *Signer) GoString() string { return s.String() }

// Sign returns HMAC-SHA256(secret, Message(c, issued)).
func (s *Signer) Sign(c Claims, issued time.Time) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return s.sign(c, c.names(), issued), nil
}

func (s *Signer) sign(c Claims, names []string, issued time.Time) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write(message(c, names, issued))
	return m.Sum(nil)
}

// Args returns the arguments of uno_sign_in for claims signed now, in the
// order of [SignInCall]: tenant (nil when empty), user (nil when empty),
// superuser, the names of the named claims (sorted by their bytes) and
// their values, issued-at in Unix milliseconds and the signature.
func (s *Signer) Args(c Claims, now time.Time) ([]any, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	names := c.names()
	values := make([]string, len(names))
	for i, name := range names {
		values[i] = c.Extra[name]
	}
	if names == nil {
		names = []string{}
	}
	mac := s.sign(c, names, now)
	return []any{nullable(c.TenantID), nullable(c.UserID), c.Superuser, names, values, now.UnixMilli(), mac}, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// SignInCall returns the call of uno_sign_in in schema (default public)
// with its seven parameters numbered from first: for a SELECT list, e.g.
// SignInCall("public", 3) is "public".uno_sign_in($3::text, … $9::bytea).
// It returns true or fails the statement (SQLSTATE 28000).
func SignInCall(schema string, first int) string {
	if schema == "" {
		schema = "public"
	}
	var b strings.Builder
	b.WriteString(quote.Qualified(schema, FuncSignIn))
	b.WriteByte('(')
	for i, typ := range []string{"text", "text", "boolean", "text[]", "text[]", "bigint", "bytea"} {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(first + i))
		b.WriteString("::")
		b.WriteString(typ)
	}
	b.WriteByte(')')
	return b.String()
}

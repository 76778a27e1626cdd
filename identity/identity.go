// Package identity is the application side of uno's signed identity: the
// claims a transaction acts for (tenant, user, superuser flag, named
// claims), their canonical encoding, and the HMAC-SHA256 signature that
// the database function uno_sign_in (created by emit.Functions) checks
// before it makes the claims visible to row-level security policies and
// triggers. It does no I/O.
//
// The application and the database share a secret ([NewSecret], at least
// [MinSecretLen] bytes). For each transaction the application signs the
// claims and the time ([Signer.Sign]) and calls uno_sign_in in the BEGIN
// batch ([SignInCall], [Signer.Args]). The function checks the signature
// and the time, then keeps the encoded claims ([Encode]), for this
// transaction only, in a server parameter that only the admin role may
// set, so SQL running inside the transaction can read them but not change
// them. docs/SECURITY.md has the threat model.
package identity

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uno-db/uno/quote"
)

// FuncSignIn is the name of the database function that checks a signature
// and binds the claims to the transaction.
const FuncSignIn = "uno_sign_in"

// Version starts every signed message; a new encoding gets a new version.
// v2 added the named claims ([Claims].Extra) and signs [Encode]'s text.
const Version = "uno-identity-v2"

// MinSecretLen is the shortest secret accepted, in bytes.
const MinSecretLen = 32

// ErrSecret is returned for a secret shorter than [MinSecretLen].
var ErrSecret = errors.New("identity: the secret must be at least 32 bytes")

// ErrClaims is returned for claims that cannot be signed (a NUL byte, an
// empty claim name, text that is not UTF-8).
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
	bad := func(what, s string) error {
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%w: %s holds a NUL byte", ErrClaims, what)
		}
		if !utf8Valid(s) {
			return fmt.Errorf("%w: %s is not UTF-8", ErrClaims, what)
		}
		return nil
	}
	if err := bad("TenantID", c.TenantID); err != nil {
		return err
	}
	if err := bad("UserID", c.UserID); err != nil {
		return err
	}
	for name, v := range c.Extra {
		if name == "" {
			return fmt.Errorf("%w: an empty claim name", ErrClaims)
		}
		if err := bad("claim name "+strconv.Quote(name), name); err != nil {
			return err
		}
		if err := bad("claim "+strconv.Quote(name), v); err != nil {
			return err
		}
	}
	return nil
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }

// Encode returns the canonical text of claims, which is signed and which
// uno_sign_in keeps for the transaction:
//
//	<hex tenant>_<hex user>_<0|1>_<hex of the named claims as a JSON object>
//
// Hex digits never contain the separator, so no two claims share an
// encoding; the JSON object has its names sorted by their bytes
// (encoding/json sorts map keys), so equal claims encode alike.
func Encode(c Claims) (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	extra := c.Extra
	if extra == nil {
		extra = map[string]string{}
	}
	named, err := json.Marshal(extra)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrClaims, err)
	}
	var b strings.Builder
	b.Grow(2*(len(c.TenantID)+len(c.UserID)+len(named)) + 8)
	b.WriteString(hex.EncodeToString([]byte(c.TenantID)))
	b.WriteByte('_')
	b.WriteString(hex.EncodeToString([]byte(c.UserID)))
	if c.Superuser {
		b.WriteString("_1_")
	} else {
		b.WriteString("_0_")
	}
	b.WriteString(hex.EncodeToString(named))
	return b.String(), nil
}

// Message returns the bytes that are signed for encoded claims (see
// [Encode]) issued at a time:
//
//	uno-identity-v2\n<unix ms>\n<encoded claims>
//
// uno_sign_in builds the same bytes.
func Message(encoded string, issued time.Time) []byte {
	b := make([]byte, 0, len(Version)+len(encoded)+24)
	b = append(b, Version...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, issued.UnixMilli(), 10)
	b = append(b, '\n')
	return append(b, encoded...)
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

// Sign returns HMAC-SHA256(secret, Message(Encode(c), issued)).
func (s *Signer) Sign(c Claims, issued time.Time) ([]byte, error) {
	encoded, err := Encode(c)
	if err != nil {
		return nil, err
	}
	return s.sign(encoded, issued), nil
}

func (s *Signer) sign(encoded string, issued time.Time) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write(Message(encoded, issued))
	return m.Sum(nil)
}

// Args returns the arguments of uno_sign_in for claims signed now, in the
// order of [SignInCall]: issued-at in Unix milliseconds, the encoded
// claims ([Encode]) and the signature.
func (s *Signer) Args(c Claims, now time.Time) ([]any, error) {
	encoded, err := Encode(c)
	if err != nil {
		return nil, err
	}
	return []any{now.UnixMilli(), encoded, s.sign(encoded, now)}, nil
}

// SignInCall returns the call of uno_sign_in in schema (default public)
// with its three parameters numbered from first: for a SELECT list, e.g.
// SignInCall("public", 3) is "public"."uno_sign_in"($3::bigint,
// $4::text, $5::bytea). It returns true or fails the statement (SQLSTATE
// 28000).
func SignInCall(schema string, first int) string {
	if schema == "" {
		schema = "public"
	}
	p := func(i int, typ string) string { return "$" + strconv.Itoa(first+i) + "::" + typ }
	return quote.Qualified(schema, FuncSignIn) + "(" + p(0, "bigint") + ", " + p(1, "text") + ", " + p(2, "bytea") + ")"
}

// KeyBlocks returns the two key blocks of HMAC-SHA256 with secret (RFC
// 2104): the key (hashed first when longer than 64 bytes) zero-padded to
// 64 bytes and XORed with 0x36 (inner) and 0x5c (outer), so that
// HMAC(secret, m) = SHA-256(outer || SHA-256(inner || m)). uno_sign_in
// computes the HMAC that way from the blocks emit.IdentitySecret stores,
// with PostgreSQL's built-in sha256(), which is cheaper than pgcrypto's
// hmac().
func KeyBlocks(secret []byte) (inner, outer []byte) {
	key := secret
	if len(key) > sha256.BlockSize {
		sum := sha256.Sum256(key)
		key = sum[:]
	}
	inner, outer = make([]byte, sha256.BlockSize), make([]byte, sha256.BlockSize)
	copy(inner, key)
	copy(outer, key)
	for i := range inner {
		inner[i] ^= 0x36
		outer[i] ^= 0x5c
	}
	return inner, outer
}

package identity_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/identity"
)

func TestEncodeIsUnambiguous(t *testing.T) {
	got, err := identity.Encode(identity.Claims{TenantID: "t1", UserID: "ü", Superuser: true})
	if err != nil || got != "7431_c3bc_1_7b7d" {
		t.Fatalf("Encode = %q, %v", got, err)
	}
	// Named claims: a JSON object, names sorted by their bytes.
	got, err = identity.Encode(identity.Claims{Extra: map[string]string{"role": "ädmin", "org": "", "Z": "1"}})
	if err != nil || got != "__0_"+fmt.Sprintf("%x", `{"Z":"1","org":"","role":"ädmin"}`) {
		t.Fatalf("Encode = %q, %v", got, err)
	}
	at := time.UnixMilli(1700000000123)
	if m := string(identity.Message("ab_cd_0_7b7d", at)); m != "uno-identity-v2\n1700000000123\nab_cd_0_7b7d" {
		t.Fatalf("Message = %q", m)
	}
	// Claims that would collide under a plain separator do not.
	for _, pair := range [][2]identity.Claims{
		{{TenantID: "a_1", UserID: ""}, {TenantID: "a", UserID: "1"}},
		{{TenantID: "a", UserID: "b"}, {TenantID: "ab"}},
		{{Extra: map[string]string{"a": "x\",\"b\":\"y"}}, {Extra: map[string]string{"a": "x", "b": "y"}}},
		{{Extra: map[string]string{"a": ""}}, {}},
		{{Superuser: true}, {}},
	} {
		a, _ := identity.Encode(pair[0])
		b, _ := identity.Encode(pair[1])
		if a == b {
			t.Fatalf("%+v and %+v share an encoding: %q", pair[0], pair[1], a)
		}
	}
	// Equal claims encode alike, whatever the map's order.
	for range 20 {
		a, _ := identity.Encode(identity.Claims{Extra: map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}})
		if a != "__0_"+fmt.Sprintf("%x", `{"a":"1","b":"2","c":"3","d":"4"}`) {
			t.Fatalf("Encode = %q", a)
		}
	}
	for _, bad := range []identity.Claims{{UserID: "a\x00"}, {TenantID: "\xff"}, {Extra: map[string]string{"": "x"}},
		{Extra: map[string]string{"a\x00": "x"}}, {Extra: map[string]string{"a": "x\x00"}}} {
		if _, err := identity.Encode(bad); !errors.Is(err, identity.ErrClaims) {
			t.Errorf("Encode(%+v): %v, want ErrClaims", bad, err)
		}
	}
}

func TestSigner(t *testing.T) {
	if _, err := identity.NewSigner(make([]byte, 31)); !errors.Is(err, identity.ErrSecret) {
		t.Fatalf("short secret: %v", err)
	}
	secret := []byte(strings.Repeat("k", 32))
	s, err := identity.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	secret[0] = 'x' // the signer keeps its own copy
	at := time.UnixMilli(1)
	m1, _ := s.Sign(identity.Claims{TenantID: "a"}, at)
	m2, _ := s.Sign(identity.Claims{TenantID: "b"}, at)
	m3, _ := s.Sign(identity.Claims{TenantID: "a"}, at.Add(time.Millisecond))
	m4, _ := s.Sign(identity.Claims{TenantID: "a", Extra: map[string]string{"org": "x"}}, at)
	if len(m1) != 32 || bytes.Equal(m1, m2) || bytes.Equal(m1, m3) || bytes.Equal(m1, m4) {
		t.Fatal("signatures do not depend on the claims and the time")
	}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v %#v", s, s)} {
		if strings.Contains(out, "kkkk") {
			t.Fatalf("the secret shows: %s", out)
		}
	}
	if _, err := s.Sign(identity.Claims{UserID: "a\x00"}, at); !errors.Is(err, identity.ErrClaims) {
		t.Fatalf("NUL byte: %v", err)
	}
	if _, err := s.Args(identity.Claims{Extra: map[string]string{"": "x"}}, at); !errors.Is(err, identity.ErrClaims) {
		t.Fatalf("empty claim name: %v", err)
	}
	c := identity.Claims{UserID: "u", Extra: map[string]string{"b": "2", "a": "1"}}
	args, err := s.Args(c, at)
	want, _ := s.Sign(c, at)
	enc, _ := identity.Encode(c)
	if err != nil || len(args) != 3 || args[0] != int64(1) || args[1] != enc || !bytes.Equal(args[2].([]byte), want) {
		t.Fatalf("Args = %#v, %v", args, err)
	}
	if got := identity.SignInCall("", 3); got != `"public"."uno_sign_in"($3::bigint, $4::text, $5::bytea)` {
		t.Fatalf("SignInCall = %s", got)
	}
	if len(identity.NewSecret()) != identity.MinSecretLen {
		t.Fatal("NewSecret length")
	}
}

// TestKeyBlocks: SHA-256(outer || SHA-256(inner || m)) is crypto/hmac's
// HMAC-SHA256, for secrets shorter and longer than the block.
func TestKeyBlocks(t *testing.T) {
	for _, n := range []int{32, 64, 65, 100} {
		secret := bytes.Repeat([]byte{byte(n)}, n)
		secret[0] = 1
		inner, outer := identity.KeyBlocks(secret)
		m := []byte("uno-identity-v2\n1\nab_cd_0_7b7d")
		h := sha256.Sum256(append(append([]byte(nil), inner...), m...))
		got := sha256.Sum256(append(append([]byte(nil), outer...), h[:]...))
		mac := hmac.New(sha256.New, secret)
		mac.Write(m)
		if !bytes.Equal(got[:], mac.Sum(nil)) {
			t.Errorf("%d-byte secret: key blocks do not give HMAC-SHA256", n)
		}
	}
}

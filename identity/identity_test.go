package identity_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/identity"
)

func TestMessageIsUnambiguous(t *testing.T) {
	at := time.UnixMilli(1700000000123)
	got := string(identity.Message(identity.Claims{TenantID: "t1", UserID: "ü", Superuser: true}, at))
	if want := "uno-identity-v2 sign-in\n2:t1\n2:ü\n1\n0\n1700000000123"; got != want {
		t.Fatalf("Message = %q, want %q", got, want)
	}
	// Named claims follow in byte order of their names, each name and
	// value length-prefixed, after their count.
	got = string(identity.Message(identity.Claims{TenantID: "t", Extra: map[string]string{"role": "ädmin", "org": "", "Z": "1"}}, at))
	if want := "uno-identity-v2 sign-in\n1:t\n0:\n0\n3\n1:Z\n1:1\n3:org\n0:\n4:role\n6:ädmin\n1700000000123"; got != want {
		t.Fatalf("Message = %q, want %q", got, want)
	}
	// Values that would collide under a plain separator do not.
	a := identity.Message(identity.Claims{TenantID: "a\n1:b", UserID: ""}, at)
	b := identity.Message(identity.Claims{TenantID: "a", UserID: "b"}, at)
	if bytes.Equal(a, b) {
		t.Fatal("two claims share an encoding")
	}
	for _, pair := range [][2]map[string]string{
		{{"a": "x\n1:b\n1:y"}, {"a": "x", "b": "y"}},
		{{"a": ""}, nil},
		{{"ab": "c"}, {"a": "bc"}},
	} {
		a := identity.Message(identity.Claims{Extra: pair[0]}, at)
		b := identity.Message(identity.Claims{Extra: pair[1]}, at)
		if bytes.Equal(a, b) {
			t.Fatalf("%v and %v share an encoding: %q", pair[0], pair[1], a)
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
	if len(m1) != 32 || bytes.Equal(m1, m2) || bytes.Equal(m1, m3) {
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
	for _, bad := range []map[string]string{{"": "x"}, {"a\x00": "x"}, {"a": "x\x00"}} {
		if _, err := s.Args(identity.Claims{Extra: bad}, at); !errors.Is(err, identity.ErrClaims) {
			t.Errorf("claims %q: %v, want ErrClaims", bad, err)
		}
	}
	args, err := s.Args(identity.Claims{UserID: "u"}, at)
	if err != nil || len(args) != 7 || args[0] != nil || args[1] != "u" || args[2] != false ||
		fmt.Sprint(args[3]) != "[]" || args[3] == nil || fmt.Sprint(args[4]) != "[]" || args[5] != int64(1) {
		t.Fatalf("Args = %#v, %v", args, err)
	}
	// The named claims go as two arrays in the signed order, and the
	// signature is Sign's.
	c := identity.Claims{TenantID: "t", Extra: map[string]string{"b": "2", "a": "1"}}
	args, err = s.Args(c, at)
	want, _ := s.Sign(c, at)
	if err != nil || fmt.Sprint(args[3], args[4]) != "[a b] [1 2]" || !bytes.Equal(args[6].([]byte), want) {
		t.Fatalf("Args = %#v, %v", args, err)
	}
	if got := identity.SignInCall("", 3); got != `"public"."uno_sign_in"($3::text, $4::text, $5::boolean, $6::text[], $7::text[], $8::bigint, $9::bytea)` {
		t.Fatalf("SignInCall = %s", got)
	}
	if len(identity.NewSecret()) != identity.MinSecretLen {
		t.Fatal("NewSecret length")
	}
}

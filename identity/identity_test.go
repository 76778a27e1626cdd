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
	if want := "uno-identity-v1 sign-in\n2:t1\n2:ü\n1\n1700000000123"; got != want {
		t.Fatalf("Message = %q, want %q", got, want)
	}
	// Values that would collide under a plain separator do not.
	a := identity.Message(identity.Claims{TenantID: "a\n1:b", UserID: ""}, at)
	b := identity.Message(identity.Claims{TenantID: "a", UserID: "b"}, at)
	if bytes.Equal(a, b) {
		t.Fatal("two claims share an encoding")
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
	args, err := s.Args(identity.Claims{UserID: "u"}, at)
	if err != nil || args[0] != nil || args[1] != "u" || args[2] != false || args[3] != int64(1) {
		t.Fatalf("Args = %v, %v", args, err)
	}
	if got := identity.SignInCall("", 3); got != `"public"."uno_sign_in"($3::text, $4::text, $5::boolean, $6::bigint, $7::bytea)` {
		t.Fatalf("SignInCall = %s", got)
	}
	if len(identity.NewSecret()) != identity.MinSecretLen {
		t.Fatal("NewSecret length")
	}
}

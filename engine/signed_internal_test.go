package engine

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/identity"
)

// TestAddSignInSignsClaims: the BEGIN batch's SELECT gains the
// uno_sign_in call, and its arguments sign the whole identity, named
// claims included; a zero identity or no signer adds nothing.
func TestAddSignInSignsClaims(t *testing.T) {
	db := &DB{}
	signer, err := identity.NewSigner(bytes.Repeat([]byte{7}, identity.MinSecretLen))
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{TenantID: "t", UserID: "u", Superuser: true, Claims: map[string]string{"org": "acme", "plan": "gold"}}
	add := func(id Identity) (string, []any) {
		t.Helper()
		var b strings.Builder
		b.WriteString("SELECT set_config('role', $1, true)")
		args := []any{"reader"}
		if err := db.addSignIn(&b, &args, id); err != nil {
			t.Fatal(err)
		}
		return b.String(), args
	}
	if sql, args := add(id); sql != "SELECT set_config('role', $1, true)" || len(args) != 1 {
		t.Fatalf("no signer: %s %v", sql, args)
	}
	db.SignIdentities(signer, `fn "s"`)
	if sql, args := add(Identity{}); sql != "SELECT set_config('role', $1, true)" || len(args) != 1 {
		t.Fatalf("zero identity: %s %v", sql, args)
	}
	sql, args := add(id)
	if want := "SELECT set_config('role', $1, true), " + identity.SignInCall(`fn "s"`, 2); sql != want || len(args) != 4 {
		t.Fatalf("signed: %s %v, want %s", sql, args, want)
	}
	claims := identity.Claims{TenantID: "t", UserID: "u", Superuser: true, Extra: id.Claims}
	enc, _ := identity.Encode(claims)
	mac, _ := signer.Sign(claims, time.UnixMilli(args[1].(int64)))
	if args[2] != enc || !bytes.Equal(args[3].([]byte), mac) {
		t.Fatalf("arguments %v do not sign %+v", args, claims)
	}
	db.SignIdentities(nil, "")
	if sql, _ := add(id); strings.Contains(sql, "uno_sign_in") {
		t.Fatalf("signing off: %s", sql)
	}
}

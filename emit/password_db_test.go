package emit_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
)

// TestSCRAMVerifierMatchesPostgreSQL: PostgreSQL hashes a password; the
// verifier computed here with the same salt is identical, so the server
// can be given the verifier instead of the password.
func TestSCRAMVerifierMatchesPostgreSQL(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	conn := superConn(t, db.URL)
	ctx := context.Background()
	for i, pw := range []string{"pencil", "it's a \"pass\\word\" $$ ;", strings.Repeat("x", 200)} {
		role := db.Name + "_scram_" + string(rune('a'+i))
		if _, err := conn.Exec(ctx, "SET password_encryption = 'scram-sha-256'"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE ROLE "+quote.Ident(role)+" PASSWORD "+quote.Literal(pw)); err != nil {
			t.Fatal(err)
		}
		var stored string
		if err := conn.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		// SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>
		parts := strings.SplitN(stored, "$", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[1], "4096:") {
			t.Fatalf("unexpected verifier %q", stored)
		}
		salt, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(parts[1], "4096:"))
		if err != nil {
			t.Fatalf("salt of %q: %v", stored, err)
		}
		got, err := emit.SCRAMVerifier(pw, salt, 4096)
		if err != nil || got != stored {
			t.Fatalf("password %q: verifier %q, server stored %q (%v)", pw, got, stored, err)
		}
	}
	// The role emitter sends a verifier, never the password.
	var r emit.Runner
	stmts, err := r.Generate(emit.CreateRoles(emit.Database{Name: "x", Password: "s3cret pw"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if strings.Contains(s.SQL, "s3cret") {
			t.Fatalf("password sent in clear: %s", s.Display())
		}
		if strings.Contains(s.SQL, "PASSWORD") && !strings.Contains(s.SQL, "SCRAM-SHA-256$4096:") {
			t.Fatalf("no verifier in %s", s.Display())
		}
	}
}

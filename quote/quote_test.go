package quote_test

import (
	"testing"

	"github.com/uno-db/uno/quote"
)

func TestIdent(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"user", `"user"`},
		{`a"b`, `"a""b"`},
		{"x\x00y", `"xy"`},
		{`" tricky, ' } "" \ test user "`, `""" tricky, ' } """" \ test user """`},
		{"", `""`},
	} {
		if got := quote.Ident(tc.in); got != tc.want {
			t.Errorf("Ident(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := quote.Qualified("my schema", "order"); got != `"my schema"."order"` {
		t.Errorf("Qualified = %s", got)
	}
	if got := quote.Qualified("", "order"); got != `"order"` {
		t.Errorf("Qualified = %s", got)
	}
}

func TestLiteral(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", `'plain'`},
		{"it's", `'it''s'`},
		{`back\slash`, ` E'back\\slash'`},
		{"'; DROP TABLE x; --", `'''; DROP TABLE x; --'`},
		{"nul\x00byte", `'nulbyte'`},
	} {
		if got := quote.Literal(tc.in); got != tc.want {
			t.Errorf("Literal(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

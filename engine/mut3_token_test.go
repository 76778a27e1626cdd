package engine_test

import (
	"context"
	"testing"

	"github.com/uno-db/uno/engine"
)

// TestWithTokenKeepsHigher: WithToken over a context that already carries
// a token keeps the later of the two, whichever way round; without one it
// carries the token given. Only a context made by TrackWrites or
// WithToken tracks writes.
func TestWithTokenKeepsHigher(t *testing.T) {
	low, err := engine.ParseToken("0/3000148")
	if err != nil {
		t.Fatal(err)
	}
	high, err := engine.ParseToken("1/10")
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want engine.Token
	}{
		{"low alone", engine.WithToken(bg, low), low},
		{"low over tracking", engine.WithToken(engine.TrackWrites(bg), low), low},
		{"low over high", engine.WithToken(engine.WithToken(bg, high), low), high},
		{"high over low", engine.WithToken(engine.WithToken(bg, low), high), high},
		{"zero over high", engine.TrackWrites(engine.WithToken(bg, high)), high},
	} {
		if got := engine.TokenFromContext(tc.ctx); got != tc.want || !engine.TracksWrites(tc.ctx) {
			t.Errorf("%s: token %v (tracks %v), want %v", tc.name, got, engine.TracksWrites(tc.ctx), tc.want)
		}
	}
	if engine.TracksWrites(bg) || !engine.TokenFromContext(bg).IsZero() {
		t.Error("a plain context tracks writes")
	}
}

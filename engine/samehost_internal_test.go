package engine

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
)

// TestLookupRefusesOtherHosts: with several hosts, an address that is none
// of them (the transaction's server can no longer be told apart) makes the
// lookup give up without connecting anywhere, instead of asking whichever
// host the pool would reach. No server is needed: nothing connects.
func TestLookupRefusesOtherHosts(t *testing.T) {
	cfg, err := config.Parse("host=127.0.0.1,127.0.0.1 port=1,2 dbname=d user=u sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFactory(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	db, err := f.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	err = db.lookupConn(context.Background(), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 3},
		func(*pgx.Conn) error { ran = true; return nil })
	if !errors.Is(err, errOtherHost) || !errors.Is(err, config.ErrInvalid) || ran {
		t.Fatalf("lookup for an address of no host: ran %v, %v; want errOtherHost", ran, err)
	}
	if db.Connects() != 0 {
		t.Fatalf("%d connections opened", db.Connects())
	}
	// The verdict the resolution loop gives: unknown, at once.
	_, err = db.resolve(context.Background(), "1234", history{addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 3}},
		errors.New("cut"))
	if !errors.Is(err, dberr.ErrCommitUnknown) || !strings.Contains(err.Error(), errOtherHost.Error()) {
		t.Fatalf("resolve: %v, want ErrCommitUnknown naming the reason", err)
	}
}

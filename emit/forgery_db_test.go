package emit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/model"
)

// Ticket deletes for real and requires a user for every write.
type Ticket struct {
	uno.Model `uno:"table:ticket"`
	model.ULIDKey
	model.RecordStatus
	model.UserAudit
	Subject string `uno:"subject"`
}

func (Ticket) SQLConfig() model.SQLConfig { return model.SQLConfig{RequireUser: true} }

// TestAuditCannotBeForged: the triggers keep deleted_by_id and is_active
// of a deleted row, and a delete needs a user where writes do.
func TestAuditCannotBeForged(t *testing.T) {
	t.Parallel()
	modes(t, testAuditCannotBeForged)
}

func testAuditCannotBeForged(t *testing.T, signed bool) {
	u := setUpMode(t, signed, Note{}, Ticket{})
	ctx := context.Background()
	run := func(opts engine.TxOptions, sql string, args ...any) (int64, error) {
		var n int64
		err := u.withTx(ctx, opts, func(ctx context.Context, tx *engine.Tx) error {
			tag, err := tx.Exec(ctx, sql, args...)
			n = tag.RowsAffected()
			return err
		})
		return n, err
	}
	var noteID string
	if err := u.withTx(ctx, asWriter("alice", "t1"), func(ctx context.Context, tx *engine.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO shop.note (tenant_id, title) VALUES ('t1', 'n') RETURNING id`).Scan(&noteID)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := run(asWriter("alice", "t1"), `DELETE FROM shop.note WHERE id = $1`, noteID); err != nil {
		t.Fatal(err)
	}
	// Mallory rewrites the deletion's author and reactivates the row.
	if _, err := run(asWriter("mallory", "t1"), `UPDATE shop.note SET deleted_by_id = 'mallory', is_active = true WHERE id = $1`, noteID); err != nil {
		t.Fatal(err)
	}
	var by string
	var active, deleted bool
	if err := u.super.QueryRow(ctx, `SELECT deleted_by_id, is_active, is_deleted FROM shop.note WHERE id = $1`, noteID).
		Scan(&by, &active, &deleted); err != nil {
		t.Fatal(err)
	}
	if by != "alice" || active || !deleted {
		t.Fatalf("deleted row after forgery: deleted_by_id %q, is_active %v, is_deleted %v", by, active, deleted)
	}
	// An insert cannot claim a deleter.
	var forged *string
	if err := u.withTx(ctx, asWriter("bob", "t1"), func(ctx context.Context, tx *engine.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO shop.note (tenant_id, title, deleted_by_id) VALUES ('t1', 'm', 'mallory') RETURNING deleted_by_id`).Scan(&forged)
	}); err != nil || forged != nil {
		t.Fatalf("insert kept deleted_by_id %v (%v)", forged, err)
	}

	// A hard delete without a user is refused like any other write.
	var ticketID string
	if err := u.withTx(ctx, asWriter("alice", ""), func(ctx context.Context, tx *engine.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO ticket (subject) VALUES ('s') RETURNING id`).Scan(&ticketID)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := run(asWriter("", ""), `DELETE FROM ticket WHERE id = $1`, ticketID); !errors.Is(err, dberr.ErrPermissionDenied) {
		t.Fatalf("delete without a user: %v", err)
	}
	if n, err := run(asWriter("alice", ""), `DELETE FROM ticket WHERE id = $1`, ticketID); err != nil || n != 1 {
		t.Fatalf("delete with a user: %d rows, %v", n, err)
	}
}

package migrate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/quote"
)

// Desired returns the state stmts create: it runs them in a scratch
// database made on admin's server (admin needs CREATEDB; the scratch
// database is dropped afterwards) and inspects the given schemas, or every
// schema when none is given. Roles the statements grant to must exist:
// roles belong to the whole server.
func Desired(ctx context.Context, admin config.Config, stmts []emit.Statement, schemas ...string) (*catalog.Database, error) {
	return DesiredWith(ctx, admin, func(ctx context.Context, conn *pgx.Conn) error {
		return emit.Exec(ctx, conn, stmts)
	}, schemas...)
}

// DesiredWith is [Desired] with the scratch database built by apply, for
// statements that must run through an [emit.Runner] (as the admin role, so
// table owners and grants come out as in the real database).
func DesiredWith(ctx context.Context, admin config.Config, apply func(ctx context.Context, conn *pgx.Conn) error, schemas ...string) (*catalog.Database, error) {
	admin = admin.WithDefaults()
	if err := admin.Validate(); err != nil {
		return nil, err
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "uno_scratch_" + hex.EncodeToString(rnd[:])
	conn, err := admin.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: connect to %s: %w", admin.Key(), dberr.Classify(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+quote.Ident(name)+" TEMPLATE template0"); err != nil {
		return nil, fmt.Errorf("migrate: create scratch database: %w", dberr.Classify(err))
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+quote.Ident(name)+" WITH (FORCE)")
	}()
	scratch := admin
	scratch.Database = name
	sc, err := scratch.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: connect to scratch database: %w", dberr.Classify(err))
	}
	defer sc.Close(context.WithoutCancel(ctx))
	if err := apply(ctx, sc); err != nil {
		return nil, fmt.Errorf("migrate: desired state: %w", err)
	}
	return catalog.Inspect(ctx, sc, schemas...)
}

// DesiredIn runs stmts on conn, which must hold an empty database, and
// inspects the result, like [Desired] without creating the database.
func DesiredIn(ctx context.Context, conn *pgx.Conn, stmts []emit.Statement, schemas ...string) (*catalog.Database, error) {
	if err := emit.Exec(ctx, conn, stmts); err != nil {
		return nil, fmt.Errorf("migrate: desired state: %w", err)
	}
	return catalog.Inspect(ctx, conn, schemas...)
}

// Apply runs a plan on conn: the changes that may run in a transaction run
// in one, in order; each change marked NoTx runs on its own, in its place.
// Destructive changes are refused unless allowDestructive is set.
func Apply(ctx context.Context, conn *pgx.Conn, p Plan, allowDestructive bool) error {
	if err := p.Check(allowDestructive); err != nil {
		return err
	}
	var batch []Change
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			for _, c := range batch {
				if _, err := tx.Exec(ctx, c.SQL); err != nil {
					return fmt.Errorf("migrate: %s %s: %w", c.Kind, c.Name, dberr.Classify(err))
				}
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	for _, c := range p.Changes {
		if !c.NoTx {
			batch = append(batch, c)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, c.SQL); err != nil {
			return fmt.Errorf("migrate: %s %s: %w", c.Kind, c.Name, dberr.Classify(err))
		}
	}
	return flush()
}

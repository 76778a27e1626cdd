package engine

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// drainPipeline sends what p has queued, reads every result until none is
// left, hands each (statement descriptions, result readers, syncs, …) to
// each, and closes p. An error the server answered does not stop the
// reading (the results after the next Sync still come); any other error
// does. It returns the first error, from the server, from each or from
// closing p.
func drainPipeline(p *pgconn.Pipeline, each func(res any) error) error {
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if err := p.Flush(); err != nil {
		note(err)
	} else {
		for {
			res, err := p.GetResults()
			if err != nil {
				note(err)
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) {
					break
				}
				continue
			}
			if res == nil {
				break
			}
			note(each(res))
		}
	}
	note(p.Close())
	return firstErr
}

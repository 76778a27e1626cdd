package engine

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/dberr"
)

// logTracer logs every query at debug level with its duration. Arguments
// are not logged: they may hold secrets; so may the literals of a statement
// that sets a password, which are redacted, and its error, of which only
// the SQLSTATE is logged.
type logTracer struct{ log *slog.Logger }

type traceStartKey struct{}

type traceStart struct {
	sql   string
	nargs int
	at    time.Time
}

func (t *logTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceStartKey{}, traceStart{sql: redactSQL(d.SQL), nargs: len(d.Args), at: time.Now()})
}

func (t *logTracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, d pgx.TraceQueryEndData) {
	s, _ := ctx.Value(traceStartKey{}).(traceStart)
	attrs := []any{"sql", s.sql, "args", s.nargs, "duration", time.Since(s.at), "tag", d.CommandTag.String()}
	if conn != nil {
		attrs = append(attrs, "pid", conn.PgConn().PID())
	}
	if d.Err != nil {
		var err any = d.Err
		if s.sql != "" && strings.Contains(s.sql, "'********'") {
			// The server's message may quote the statement.
			err = "SQLSTATE " + dberr.Code(d.Err)
		}
		t.log.DebugContext(ctx, "uno: query failed", append(attrs, "err", err)...)
		return
	}
	t.log.DebugContext(ctx, "uno: query", attrs...)
}

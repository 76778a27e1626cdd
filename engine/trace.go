package engine

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// logTracer logs every query at debug level with its duration. Arguments
// are not logged: they may hold secrets.
type logTracer struct{ log *slog.Logger }

type traceStartKey struct{}

type traceStart struct {
	sql   string
	nargs int
	at    time.Time
}

func (t *logTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceStartKey{}, traceStart{sql: d.SQL, nargs: len(d.Args), at: time.Now()})
}

func (t *logTracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, d pgx.TraceQueryEndData) {
	s, _ := ctx.Value(traceStartKey{}).(traceStart)
	attrs := []any{"sql", s.sql, "args", s.nargs, "duration", time.Since(s.at), "tag", d.CommandTag.String()}
	if conn != nil {
		attrs = append(attrs, "pid", conn.PgConn().PID())
	}
	if d.Err != nil {
		t.log.DebugContext(ctx, "uno: query failed", append(attrs, "err", d.Err)...)
		return
	}
	t.log.DebugContext(ctx, "uno: query", attrs...)
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/dberr"
)

// A transaction id means something only on the server history that issued
// it. After a crash (pg_ctl stop -m immediate, a backend killed by the
// kernel, a power cut) or a failover, the server recovers its next
// transaction id from the WAL; an id whose transaction never reached the
// WAL is handed out again, and pg_xact_status then reports on somebody
// else's transaction. So commit captures, with the id and in the same round
// trip, what identifies the history it runs on, and resolution compares it
// with what the server says when asked.
//
// What each part tells:
//
//   - system identifier: the cluster (initdb). Another cluster at the same
//     address knows nothing of our transaction.
//   - timeline: a promoted standby or a point-in-time recovery starts a new
//     timeline, whose ids after the fork are not ours.
//   - statistics reset time of the background writer: PostgreSQL discards
//     its statistics after every crash recovery and stamps the reset, and
//     keeps them across a clean shutdown. An unchanged stamp proves that no
//     crash happened since the capture. (A superuser's
//     pg_stat_reset_shared('bgwriter') also changes it; that only makes
//     resolution more cautious.)
//   - postmaster start time: tells a clean restart; it is kept for the
//     messages. A clean shutdown writes a checkpoint whose next id is above
//     every id handed out, so ids are never reused across it.
//   - server clock at capture: for the checkpoint proof below.
type history struct {
	sysID      string
	timeline   *string // WAL timeline, 8 hex digits; nil on a server in recovery
	started    time.Time
	statsReset *time.Time
	at         time.Time
	// addr is the remote address of the connection the transaction ran
	// on: the lookup asks that server and no other host of the
	// configuration. Nil when unknown.
	addr net.Addr
}

// sameRun reports whether h and o prove that no crash or failover happened
// between them: the same cluster, timeline and statistics epoch. Clean
// restarts in between are allowed: they never reuse an id.
func (h history) sameRun(o history) bool {
	return h.sysID == o.sysID && eqPtr(h.timeline, o.timeline) && eqTime(h.statsReset, o.statsReset)
}

func (h history) String() string {
	tl := "in recovery"
	if h.timeline != nil {
		tl = *h.timeline
	}
	reset := "never"
	if h.statsReset != nil {
		reset = h.statsReset.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("system %s timeline %s started %s stats reset %s", h.sysID, tl,
		h.started.UTC().Format(time.RFC3339Nano), reset)
}

func eqPtr(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func eqTime(a, b *time.Time) bool { return a == nil && b == nil || a != nil && b != nil && a.Equal(*b) }

// historySQL selects the parts of [history] except the clock. Every
// function it calls may be executed by any role (checked as the login
// role: pg_control_system, pg_walfile_name, pg_current_wal_lsn,
// pg_postmaster_start_time, pg_stat_get_bgwriter_stat_reset_time).
const historySQL = "(SELECT system_identifier::text FROM pg_control_system())," +
	" CASE WHEN pg_is_in_recovery() THEN NULL ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END," +
	" pg_postmaster_start_time(), pg_stat_get_bgwriter_stat_reset_time()"

// captureSQL returns the transaction id, if one was assigned, and the
// history it belongs to. It runs inside the transaction, just before COMMIT.
const captureSQL = "SELECT pg_current_xact_id_if_assigned()::text, " + historySQL + ", clock_timestamp()"

// lookupSQL returns the server's history now and its latest checkpoint: its
// next transaction id (epoch:xid), time and timeline.
const lookupSQL = "SELECT " + historySQL + ", c.next_xid, c.checkpoint_time, c.timeline_id" +
	" FROM pg_control_checkpoint() c"

// verdict is the outcome resolution proved, or could not.
type verdict int

const (
	outcomeUnknown verdict = iota
	outcomeCommitted
	outcomeAborted
	outcomePending // in progress: ask again
)

// errNotProved is the reason given when the server says "committed" on
// another history and nothing proves the id is ours.
var errNotProved = errors.New("the server crashed or failed over since the transaction id was taken: " +
	"the id may have been given to another transaction, and nothing proves the committed one is ours")

// judge decides what the server's answer about xid proves, given the
// history at capture (then) and now. status is pg_xact_status's answer
// (nil for NULL), future tells that the server refused the id as not yet
// issued. ckptNext, ckptTime and ckptTimeline describe the latest
// checkpoint.
func judge(xid uint64, then, now history, status *string, future bool,
	ckptNext uint64, ckptTime time.Time, ckptTimeline string) (verdict, string) {
	if now.sysID != then.sysID {
		return outcomeUnknown, "another cluster (system " + now.sysID + ", was " + then.sysID + ") answers at this address"
	}
	same := then.sameRun(now)
	switch {
	case future:
		if same {
			return outcomeUnknown, "the server reports the transaction id as not yet issued on the same history"
		}
		// Our id is above the next id the server will issue: no record
		// of it, its commit record included, survived the crash.
		return outcomeAborted, "the transaction id was lost in a crash: the server has not issued it again yet"
	case status == nil:
		return outcomeUnknown, "the server no longer knows the transaction"
	case *status == "in progress":
		return outcomePending, ""
	case *status == "aborted":
		if same {
			return outcomeAborted, "the server reports the transaction aborted"
		}
		// On a changed history the id is ours or was reused; if it were
		// ours and committed, its commit record would have kept it from
		// reuse, so ours did not commit on the history the server is on.
		return outcomeAborted, "the server reports the transaction id aborted after a crash or failover"
	case *status == "committed":
		if same {
			return outcomeCommitted, ""
		}
		// A checkpoint that started after the capture records a next id
		// above every id issued before it, unless a crash lost the
		// issue of ours: then our commit never reached the WAL (it would
		// have kept the id from reuse), and the committed transaction is
		// another one's.
		if then.timeline != nil && ckptTimeline == *then.timeline && eqPtr(then.timeline, now.timeline) &&
			ckptTime.After(then.at) && ckptNext <= xid {
			return outcomeAborted, "the transaction id was lost in a crash and issued again: the checkpoint after " +
				"recovery records next id " + strconv.FormatUint(ckptNext, 10)
		}
		return outcomeUnknown, errNotProved.Error()
	}
	return outcomeUnknown, "unexpected transaction status " + strconv.Quote(*status)
}

// parseNextXid turns pg_control_checkpoint's next_xid ("epoch:xid") into a
// full 64-bit transaction id.
func parseNextXid(s string) (uint64, error) {
	epoch, xid, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("next_xid %q is not epoch:xid", s)
	}
	e, err := strconv.ParseUint(epoch, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("next_xid %q: %w", s, err)
	}
	x, err := strconv.ParseUint(xid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("next_xid %q: %w", s, err)
	}
	return e<<32 | x, nil
}

// errRecovering tells that the server is still in recovery (a standby, or
// a crash recovery not yet finished): ask again later.
var errRecovering = errors.New("the server is in recovery")

// lookup asks a fresh connection once about transaction xid, on the server
// the transaction ran on (see [DB.lookupConn]).
func (db *DB) lookup(ctx context.Context, xid uint64, then history) (verdict, string, error) {
	var v verdict
	var why string
	err := db.lookupConn(ctx, then.addr, func(c *pgx.Conn) error {
		var now history
		var next string
		var ckptTime time.Time
		var ckptTL int64
		if err := c.QueryRow(ctx, lookupSQL).Scan(&now.sysID, &now.timeline, &now.started, &now.statsReset,
			&next, &ckptTime, &ckptTL); err != nil {
			return err
		}
		if now.timeline == nil {
			return errRecovering
		}
		ckptNext, err := parseNextXid(next)
		if err != nil {
			return err
		}
		var status *string
		future := false
		if err := c.QueryRow(ctx, "SELECT pg_xact_status($1::xid8)", strconv.FormatUint(xid, 10)).Scan(&status); err != nil {
			if dberr.Code(err) != "22023" { // invalid_parameter_value: "transaction ID … is in the future"
				return err
			}
			future = true
		}
		v, why = judge(xid, then, now, status, future, ckptNext, ckptTime, fmt.Sprintf("%08X", ckptTL))
		return nil
	})
	return v, why, dberr.Classify(err)
}

// errOtherHost is the reason resolution gives up when the server that ran
// the transaction cannot be told apart among the configured hosts.
var errOtherHost = errors.New("the server that ran the transaction is not among the configured hosts; " +
	"no other host is asked")

// lookupConn runs f on a fresh connection to the server at addr, the
// remote address of the connection a transaction ran on: with several
// hosts (host=a,b and target_session_attrs) the pool could reach another
// server, whose answer about a transaction id is about somebody else's
// transaction. The connection is made with config.Config.ConnConfigAt,
// pinned to that address (TLS as configured, no target_session_attrs
// check), and closed afterwards. Without addr, or with one host whose
// names no longer resolve to addr, a pooled connection is used as before;
// with several hosts and no match, f is not run.
func (db *DB) lookupConn(ctx context.Context, addr net.Addr, f func(c *pgx.Conn) error) error {
	var cc *pgx.ConnConfig
	if addr != nil {
		var err error
		if cc, err = db.cfg.ConnConfigAt(ctx, addr); err != nil && len(db.cfg.Hosts()) > 1 {
			return fmt.Errorf("%w: %w", errOtherHost, err)
		}
	}
	if cc == nil {
		return db.WithConn(ctx, func(ctx context.Context, c *Conn) error { return f(c.Raw()) })
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	return f(conn)
}

// resolve finds out whether transaction xid, whose connection was lost with
// COMMIT in flight, committed. It asks fresh connections, with backoff,
// while the server refuses connections, starts up or still runs the
// transaction, within config.Retry.ResolveBudget, and answers
// dberr.ErrCommitUnknown when it cannot prove the outcome.
func (db *DB) resolve(ctx context.Context, xidText string, then history, cause error) (retryable bool, err error) {
	db.log.Warn("uno: connection lost during COMMIT; resolving the outcome", "pool", db.cfg.Key().String(), "xid", xidText)
	unknown := func(why string) error {
		return &dberr.Error{Kind: dberr.ErrCommitUnknown,
			Err: fmt.Errorf("transaction %s: %s (lost connection: %w)", xidText, why, cause)}
	}
	xid, perr := strconv.ParseUint(xidText, 10, 64)
	if perr != nil {
		return false, unknown("unreadable transaction id")
	}
	// The answer is worth waiting for even when the caller's context has
	// ended (it may be why the connection died), within the budget.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), db.cfg.Retry.ResolveBudget)
	defer cancel()
	for attempt := 1; ; attempt++ {
		v, why, err := db.lookup(rctx, xid, then)
		if err == nil {
			switch v {
			case outcomeCommitted:
				db.log.Info("uno: transaction committed before the connection was lost", "xid", xidText)
				return false, nil
			case outcomeAborted:
				return ctx.Err() == nil, &dberr.Error{Kind: dberr.ErrConnection,
					Err: fmt.Errorf("%w (transaction %s: %s): %w", errTxAborted, xidText, why, cause)}
			case outcomeUnknown:
				return false, unknown(why)
			}
			why = "still in progress"
		} else {
			why = err.Error()
			if !errors.Is(err, errRecovering) && !dberr.IsTransientConnect(err) && !errors.Is(err, dberr.ErrConnection) {
				return false, unknown(why)
			}
		}
		if serr := db.sleep(rctx, min(attempt+1, 8)); serr != nil {
			return false, unknown(why + "; gave up after " + db.cfg.Retry.ResolveBudget.String())
		}
	}
}

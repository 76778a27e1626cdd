package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/config"
)

// Consistency is what a read-only transaction needs to see. It decides
// whether a replica ([config.Replicas]) may serve the transaction; only a
// transaction with [TxOptions.ReadOnly] may ask for anything but
// [Strong]. Routing goes by this intent, never by the SQL.
type Consistency int

const (
	// Strong runs on the primary: the zero value, and the only level for
	// read-write transactions, commit resolution, emitters and migrations.
	Strong Consistency = iota
	// ReadYourWrites runs on a replica that has replayed the token the
	// context carries ([TrackWrites], [WithToken]): every commit made
	// with the context, or named by the token, is visible. A replica
	// behind it is waited for up to config.Replicas.WaitBudget, then the
	// primary serves the read. Without a token any healthy replica
	// serves.
	ReadYourWrites
	// BoundedStaleness runs on a replica that has replayed everything the
	// primary had committed config.Replicas.MaxLag ago (by the health
	// checker's samples of the primary's WAL position), else on the
	// primary, without waiting.
	BoundedStaleness
)

// String names the level.
func (c Consistency) String() string {
	switch c {
	case Strong:
		return "strong"
	case ReadYourWrites:
		return "read-your-writes"
	case BoundedStaleness:
		return "bounded-staleness"
	}
	return "Consistency(" + strconv.Itoa(int(c)) + ")"
}

type consistencyKey struct{}

// WithConsistency returns ctx asking the reads made with it for
// consistency c: repository reads (Get, GetBy, Filter, Count, Stream,
// Query, Load) outside a transaction then run as a ReadOnly transaction
// with c, on a replica when c allows it and one can serve. It takes
// precedence over the repository's own setting, so WithConsistency(ctx,
// Strong) keeps a call on the primary. Writes ignore it, and so do
// transactions begun with explicit [TxOptions]: their Consistency field
// decides.
func WithConsistency(ctx context.Context, c Consistency) context.Context {
	return context.WithValue(ctx, consistencyKey{}, c)
}

// ConsistencyFromContext returns the consistency [WithConsistency] put in
// ctx; ok is false when none was.
func ConsistencyFromContext(ctx context.Context) (c Consistency, ok bool) {
	c, ok = ctx.Value(consistencyKey{}).(Consistency)
	return c, ok
}

// HasReplicas reports whether db was opened with replicas
// (config.Replicas.Servers): only then can a read leave the primary.
func (db *DB) HasReplicas() bool { return db.replicas != nil }

// ErrReplicaSerializable is returned, before anything is sent, for a
// transaction that asks for replica consistency with Serializable
// isolation: a hot standby cannot run serializable transactions.
var ErrReplicaSerializable = errors.New("uno: a serializable transaction cannot run on a replica: use Strong consistency or another isolation level")

// ErrReplicaReadWrite is returned, before anything is sent, for a
// transaction that asks for replica consistency without ReadOnly.
var ErrReplicaReadWrite = errors.New("uno: only a read-only transaction may ask for replica consistency")

// ReplicaStat reports one replica.
type ReplicaStat struct {
	Replica   string        // host:port
	Healthy   bool          // in rotation
	Promoted  bool          // seen out of recovery: a primary now, never used as a replica again
	Reads     int64         // transactions it served
	Fallbacks int64         // reads it was chosen for but that ran on the primary (behind, unreachable, promoted)
	Ejections int64         // times it was taken out of rotation
	Lag       time.Duration // staleness at the last check, from the primary's WAL samples
	Replayed  Token         // replay position at the last check
	Timeline  int64         // timeline of its last restartpoint; once promoted, its new timeline
	LastError string        // why the last check failed, if it did
}

// ReplicaStats reports the replicas of a DB.
type ReplicaStats struct {
	// PrimaryReads counts reads asking for a replica that ran on the
	// primary, fallbacks included.
	PrimaryReads int64
	Replicas     []ReplicaStat
}

// ReplicaStats reports the replicas of db (none when it has none).
func (db *DB) ReplicaStats() ReplicaStats {
	rs := db.replicas
	if rs == nil {
		return ReplicaStats{}
	}
	out := ReplicaStats{PrimaryReads: rs.primaryReads.Load()}
	for _, r := range rs.members {
		r.mu.Lock()
		st := ReplicaStat{Replica: r.name, Healthy: r.healthy.Load(), Promoted: r.promoted.Load(),
			Reads: r.reads.Load(), Fallbacks: r.fallbacks.Load(), Ejections: r.ejections.Load(),
			Lag: r.lag, Replayed: r.replayed, Timeline: r.timeline, LastError: r.lastErr}
		r.mu.Unlock()
		out.Replicas = append(out.Replicas, st)
	}
	return out
}

// replicaSet is the replicas of a primary DB and their health checker.
type replicaSet struct {
	primary *DB
	cfg     config.Replicas
	members []*replica
	wheel   []int // member indices, each as often as its weight, interleaved
	next    atomic.Uint64

	primaryReads atomic.Int64

	// txReads is set once a replica session answered that its isolation
	// is not READ COMMITTED: ReadOnReplica then reads in transactions.
	txReads atomic.Bool

	// The primary's WAL page and segment sizes and its maximum data
	// alignment in bytes, learnt by the checker's first check (0 until
	// then), for recordEnd.
	walBlock, walSegment, maxAlign atomic.Uint64

	mu      sync.Mutex
	samples []walSample // the primary's WAL position over the last MaxLag and more

	stop chan struct{}
	done chan struct{}
}

// walSample is the primary's WAL insert position at a time.
type walSample struct {
	at  time.Time
	lsn uint64
}

// replica is one standby with its own pool.
type replica struct {
	name string
	db   *DB

	healthy      atomic.Bool
	promoted     atomic.Bool
	timelineSeen atomic.Bool // the checker recorded its timeline after the promotion

	reads, fallbacks, ejections atomic.Int64

	mu       sync.Mutex
	lag      time.Duration
	replayed Token
	timeline int64
	lastErr  string
}

// openReplicas opens a pool per replica of db's config and starts the
// health checker. The pools connect lazily, as the primary's does.
func (f *Factory) openReplicas(db *DB) error {
	rc := db.cfg.Replicas
	if len(rc.Servers) == 0 {
		return nil
	}
	rs := &replicaSet{primary: db, cfg: rc, stop: make(chan struct{}), done: make(chan struct{})}
	for i, s := range rc.Servers {
		cfg, err := db.cfg.ForReplica(i)
		if err != nil {
			rs.closePools()
			return err
		}
		rdb, err := f.newDB(cfg)
		if err != nil {
			rs.closePools()
			return err
		}
		port := s.Port
		if port == 0 {
			port = db.cfg.Port
		}
		r := &replica{name: net.JoinHostPort(s.Host, strconv.Itoa(port)), db: rdb}
		r.healthy.Store(true) // every read checks recovery and position in its BEGIN round trip anyway
		rs.members = append(rs.members, r)
	}
	rs.wheel = buildWheel(rc.Servers)
	db.replicas = rs
	go rs.check()
	return nil
}

// buildWheel spreads each replica over the wheel as often as its weight,
// interleaved (smooth weighted round robin), so picking is one atomic add.
func buildWheel(servers []config.Replica) []int {
	total := 0
	for _, s := range servers {
		total += s.Weight
	}
	current := make([]int, len(servers))
	wheel := make([]int, 0, total)
	for range total {
		best := 0
		for i, s := range servers {
			current[i] += s.Weight
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		wheel = append(wheel, best)
	}
	return wheel
}

// closeReplicas stops the checker and closes the replica pools.
func (db *DB) closeReplicas() {
	rs := db.replicas
	if rs == nil {
		return
	}
	close(rs.stop)
	<-rs.done
	rs.closePools()
}

func (rs *replicaSet) closePools() {
	for _, r := range rs.members {
		r.db.close()
	}
}

// pick returns the next healthy replica in weighted turn, or nil.
func (rs *replicaSet) pick() *replica {
	n := len(rs.wheel)
	start := rs.next.Add(1)
	for i := range n {
		r := rs.members[rs.wheel[(start+uint64(i))%uint64(n)]]
		if r.healthy.Load() {
			return r
		}
	}
	return nil
}

// eject takes r out of rotation.
func (r *replica) eject(reason string) {
	r.mu.Lock()
	r.lastErr = reason
	r.mu.Unlock()
	if r.healthy.CompareAndSwap(true, false) {
		r.ejections.Add(1)
		r.db.log.Warn("uno: replica taken out of rotation", "replica", r.name, "reason", reason)
	}
}

// admit puts r back in rotation.
func (r *replica) admit() {
	if !r.promoted.Load() && r.healthy.CompareAndSwap(false, true) {
		r.db.log.Info("uno: replica back in rotation", "replica", r.name)
	}
}

// markPromoted records that r left recovery: it is a primary now and never
// serves as a replica again.
func (r *replica) markPromoted() {
	if r.promoted.CompareAndSwap(false, true) {
		r.db.log.Warn("uno: replica was promoted; no longer used as a replica", "replica", r.name)
	}
	r.eject("promoted: out of recovery")
}

// checkSQL is the health check of a replica: whether it is in recovery,
// its replay position and its timeline (of its last restartpoint while in
// recovery; once promoted, of the WAL it writes, which changes at once,
// while the checkpoint's changes only with the next checkpoint).
const checkSQL = "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn()::text, ''), " +
	"CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint())::int8 " +
	"ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int8 END"

// check runs until the set is closed: every CheckPeriod it samples the
// primary's WAL position, then checks each replica in turn. One goroutine
// per set; each query is bounded by the period.
func (rs *replicaSet) check() {
	defer close(rs.done)
	t := time.NewTicker(rs.cfg.CheckPeriod)
	defer t.Stop()
	for {
		rs.checkOnce()
		select {
		case <-rs.stop:
			return
		case <-t.C:
		}
	}
}

func (rs *replicaSet) checkOnce() {
	ctx, cancel := context.WithTimeout(context.Background(), max(rs.cfg.CheckPeriod, time.Second))
	defer cancel()
	go func() {
		select {
		case <-rs.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	if rs.maxAlign.Load() == 0 {
		// Once: a failure (a function the login role may not run) leaves
		// tokens and samples at the insert position, which is safe.
		var block, segment, align int64
		if err := rs.primary.pool.QueryRow(ctx, walSizesSQL).Scan(&block, &segment, &align); err == nil &&
			block > 0 && segment > 0 && align > 0 {
			rs.walBlock.Store(uint64(block))
			rs.walSegment.Store(uint64(segment))
			rs.maxAlign.Store(uint64(align))
		}
	}
	var lsn string
	if err := rs.primary.pool.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err == nil {
		if tok, err := ParseToken(lsn); err == nil {
			rs.addSample(walSample{at: time.Now(), lsn: rs.recordEnd(tok.lsn)})
		}
	}
	for _, r := range rs.members {
		if ctx.Err() != nil {
			return
		}
		rs.checkReplica(ctx, r)
	}
}

// walSizesSQL reads the primary's WAL page and segment sizes and data
// alignment for [replicaSet.recordEnd].
const walSizesSQL = "SELECT current_setting('wal_block_size')::int8, " +
	"(SELECT setting::int8 FROM pg_settings WHERE name = 'wal_segment_size' AND unit = 'B'), " +
	"(SELECT max_data_alignment::int8 FROM pg_control_init())"

// recordEnd turns a WAL insert position into the end of the last record
// inserted before it. They differ when that record ended exactly at a page
// boundary: the insert position then points past the next page's header
// (24 bytes, or 40 on a segment's first page, with 8-byte alignment), and
// a standby's replay position (the end of the last record it replayed)
// reaches it only with the next record, which on a quiet primary may be
// minutes away. Any other position is the end of the last record.
// Unchanged while the sizes are unknown.
func (rs *replicaSet) recordEnd(lsn uint64) uint64 {
	block, segment, align := rs.walBlock.Load(), rs.walSegment.Load(), rs.maxAlign.Load()
	if block == 0 || segment == 0 || align == 0 {
		return lsn
	}
	// SizeOfXLogShortPHD and SizeOfXLogLongPHD: 20 and 36 bytes of
	// header, rounded up to the alignment.
	shortHeader, longHeader := (20+align-1)/align*align, (36+align-1)/align*align
	page := lsn - lsn%block
	switch off := lsn - page; {
	case off == shortHeader && page%segment != 0, off == longHeader && page%segment == 0:
		return page
	}
	return lsn
}

func (rs *replicaSet) addSample(s walSample) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.samples = append(rs.samples, s)
	// Keep twice MaxLag of history, and at most 1024 samples.
	keep := s.at.Add(-2 * rs.cfg.MaxLag)
	i := 0
	for i < len(rs.samples)-1 && (rs.samples[i].at.Before(keep) || len(rs.samples)-i > 1024) {
		i++
	}
	if i > 0 {
		rs.samples = append(rs.samples[:0], rs.samples[i:]...)
	}
}

// lagOf returns how stale a replica that replayed up to lsn is at most: the
// time since the newest primary sample it has replayed (zero when it has
// replayed the newest sample). When it has replayed none of the samples
// held, it is at least as stale as the oldest: while that one is within
// MaxLag (the checker has just started: a replica a few milliseconds
// behind the first sample is not ejected for it) that is its lag, else ok
// is false. Reads verify the replay position in their BEGIN round trip
// anyway.
func (rs *replicaSet) lagOf(lsn uint64, now time.Time) (lag time.Duration, ok bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for i := len(rs.samples) - 1; i >= 0; i-- {
		if rs.samples[i].lsn <= lsn {
			if i == len(rs.samples)-1 {
				return 0, true
			}
			return now.Sub(rs.samples[i].at), true
		}
	}
	if len(rs.samples) > 0 && now.Sub(rs.samples[0].at) <= rs.cfg.MaxLag {
		return now.Sub(rs.samples[0].at), true
	}
	return 0, false
}

// boundFor returns the WAL position a replica must have replayed to be at
// most maxLag stale now: the primary's position at the oldest sample taken
// within maxLag. ok is false without such a sample.
func (rs *replicaSet) boundFor(now time.Time) (lsn uint64, ok bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	from := now.Add(-rs.cfg.MaxLag)
	for _, s := range rs.samples {
		if !s.at.Before(from) {
			return s.lsn, true
		}
	}
	return 0, false
}

func (rs *replicaSet) checkReplica(ctx context.Context, r *replica) {
	if r.promoted.Load() && r.timelineSeen.Load() {
		return
	}
	var inRecovery bool
	var replay string
	var timeline int64
	err := r.db.pool.QueryRow(ctx, checkSQL).Scan(&inRecovery, &replay, &timeline)
	if err != nil {
		r.eject("unreachable: " + err.Error())
		return
	}
	if !inRecovery {
		// Record the new timeline once; a promoted replica is not
		// checked again.
		r.mu.Lock()
		r.timeline = timeline
		r.mu.Unlock()
		r.timelineSeen.Store(true)
		r.markPromoted()
		return
	}
	tok, err := ParseToken(replay)
	if err != nil {
		r.eject("no replay position")
		return
	}
	lag, ok := rs.lagOf(tok.lsn, time.Now())
	r.mu.Lock()
	r.replayed, r.timeline, r.lag = tok, timeline, lag
	if !ok {
		r.lag = rs.cfg.MaxLag * 2
	}
	r.lastErr = ""
	r.mu.Unlock()
	if !ok || lag > rs.cfg.MaxLag {
		r.eject(fmt.Sprintf("lag over Replicas.MaxLag %v", rs.cfg.MaxLag))
		return
	}
	r.admit()
}

// beginReplica starts opts' transaction on a replica when opts asks for
// replica consistency and one can serve it. routed false means: begin on
// the primary. An error is returned with routed true.
func (db *DB) beginReplica(ctx context.Context, opts TxOptions, beginSQL, setSQL string, args []any) (tx *Tx, routed bool, err error) {
	if opts.Consistency == Strong {
		return nil, false, nil
	}
	switch {
	case opts.Consistency != ReadYourWrites && opts.Consistency != BoundedStaleness:
		return nil, true, fmt.Errorf("uno: unknown consistency %v", opts.Consistency)
	case !opts.ReadOnly:
		return nil, true, ErrReplicaReadWrite
	case opts.Isolation == pgx.Serializable:
		return nil, true, ErrReplicaSerializable
	}
	rs := db.replicas
	if rs == nil {
		return nil, false, nil
	}
	var target uint64
	var budget time.Duration
	if opts.Consistency == ReadYourWrites {
		target = TokenFromContext(ctx).lsn
		budget = rs.cfg.WaitBudget
	} else {
		var ok bool
		if target, ok = rs.boundFor(time.Now()); !ok {
			rs.primaryReads.Add(1)
			return nil, false, nil
		}
	}
	textArgs, err := textParams(args)
	if err != nil {
		return nil, true, err
	}
	deadline := time.Now().Add(budget)
	r := rs.pick()
	for wait := 500 * time.Microsecond; ; wait *= 2 {
		if r == nil {
			rs.primaryReads.Add(1)
			return nil, false, nil
		}
		tx, behind, err := r.begin(ctx, opts, Token{lsn: target}, beginSQL, setSQL, textArgs)
		if err == nil && !behind {
			r.reads.Add(1)
			return tx, true, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, true, fmt.Errorf("uno: begin on replica %s: the context ended: %w", r.name, cerr)
		}
		if err != nil && !errors.Is(err, errReplicaDown) {
			return nil, true, err
		}
		if err != nil || r.promoted.Load() {
			// Unreachable or promoted: try another replica, else the primary.
			r.fallbacks.Add(1)
			r = rs.pick()
			continue
		}
		again, err := rs.waitReplay(ctx, r, "begin", deadline, wait)
		if err != nil {
			return nil, true, err
		}
		if !again {
			return nil, false, nil
		}
	}
}

// waitReplay waits before trying replica r again, which is behind the
// position asked for: at most wait, and never past deadline. again is
// false once deadline has passed (the read falls back to the primary and
// is counted so); err is set when ctx ended while waiting.
func (rs *replicaSet) waitReplay(ctx context.Context, r *replica, what string, deadline time.Time, wait time.Duration) (again bool, err error) {
	left := time.Until(deadline)
	if left <= 0 {
		r.fallbacks.Add(1)
		rs.primaryReads.Add(1)
		return false, nil
	}
	t := time.NewTimer(min(wait, left))
	defer t.Stop()
	select {
	case <-t.C:
		return true, nil
	case <-ctx.Done():
		return false, fmt.Errorf("uno: %s on replica %s: the context ended while waiting for replay: %w", what, r.name, ctx.Err())
	}
}

// errReplicaDown marks a replica that could not be reached or lost the
// connection while the transaction began.
var errReplicaDown = errors.New("uno: replica unreachable")

// replicaCheckSQL runs, in its own implicit transaction, before BEGIN in
// the same round trip: whether the server is still a standby and has
// replayed the token. Replay only moves forward, so every snapshot the
// transaction then takes (at its first statement, in any isolation level)
// includes what the check saw.
const replicaCheckSQL = "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)"

// begin borrows a connection of r and, in one round trip, checks recovery
// and replay position, begins and sets role and identity. behind reports a
// replica that has not replayed target (nothing is left open then).
func (r *replica) begin(ctx context.Context, opts TxOptions, target Token, beginSQL, setSQL string, args [][]byte) (tx *Tx, behind bool, err error) {
	actx, cancel := context.WithTimeout(ctx, r.db.cfg.ConnectTimeout)
	pc, err := r.db.pool.Acquire(actx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			r.eject("unreachable: " + err.Error())
		}
		return nil, false, fmt.Errorf("%w: %s: %w", errReplicaDown, r.name, err)
	}
	pg := pc.Conn().PgConn()
	p := pg.StartPipeline(ctx)
	p.SendQueryParams(replicaCheckSQL, [][]byte{[]byte(target.String())}, nil, nil, nil)
	p.SendPipelineSync()
	p.SendQueryParams(beginSQL, nil, nil, nil, nil)
	if setSQL != "" {
		p.SendQueryParams(setSQL, args, nil, nil, nil)
	}
	p.SendPipelineSync()
	var results []*pgconn.Result
	firstErr := drainPipeline(p, func(res any) error {
		if rr, ok := res.(*pgconn.ResultReader); ok {
			got := rr.Read()
			results = append(results, got)
			return got.Err
		}
		return nil
	})
	tx = &Tx{db: r.db, pc: pc, opts: opts}
	tx.queries = queries{conn: pc.Conn(), ended: &tx.ended}
	if pg.IsClosed() {
		tx.release(false)
		if ctx.Err() == nil {
			r.eject("connection lost at BEGIN")
		}
		return nil, false, fmt.Errorf("%w: %s: %w", errReplicaDown, r.name, firstErr)
	}
	if firstErr != nil {
		tx.finish(ctx)
		if opts.Role != RoleLogin {
			return nil, false, fmt.Errorf("uno: begin on replica %s as %s role: %w", r.name, opts.Role, r.db.wrapErr(ctx, firstErr, false))
		}
		return nil, false, fmt.Errorf("uno: begin on replica %s: %w", r.name, r.db.wrapErr(ctx, firstErr, false))
	}
	if len(results) == 0 || len(results[0].Rows) != 1 || len(results[0].Rows[0]) != 2 {
		tx.finish(ctx)
		return nil, false, fmt.Errorf("uno: begin on replica %s: unexpected answer to the replay check", r.name)
	}
	row := results[0].Rows[0]
	if string(row[0]) != "t" {
		tx.finish(ctx)
		r.markPromoted()
		return nil, true, nil
	}
	if string(row[1]) != "t" {
		tx.finish(ctx)
		return nil, true, nil
	}
	return tx, false, nil
}

// commitStatement is the COMMIT sent for tx, followed by guard: with
// replicas and a read-write transaction, it also reads the WAL insert
// position that makes the commit visible, in the same round trip, between
// COMMIT and the guard (whose answer must come last).
func (tx *Tx) commitStatement(guard string) string {
	if !tx.wantsPosition() {
		return "COMMIT; " + guard
	}
	return "COMMIT; SELECT pg_current_wal_insert_lsn()::text; " + guard
}

func (tx *Tx) wantsPosition() bool { return tx.db.replicas != nil && !tx.opts.ReadOnly }

// noteCommitPosition raises the token ctx carries to the position read by
// [Tx.commitStatement] and returns the results without it, as if only
// COMMIT and the guard had run.
func (tx *Tx) noteCommitPosition(ctx context.Context, results []*pgconn.Result) []*pgconn.Result {
	if !tx.wantsPosition() || len(results) < 2 {
		return results
	}
	pos := results[1]
	if results[0].Err == nil && results[0].CommandTag.String() == "COMMIT" && pos.Err == nil &&
		len(pos.Rows) == 1 && len(pos.Rows[0]) == 1 {
		if tok, err := ParseToken(string(pos.Rows[0][0])); err == nil {
			tok.lsn = tx.db.replicas.recordEnd(tok.lsn)
			noteCommit(ctx, tok)
		}
	}
	return append(results[:1:1], results[2:]...)
}

// textParams renders the BEGIN batch's arguments in PostgreSQL's text
// format for the pipelined replica BEGIN: strings, NULL, booleans,
// integers and bytea (the identity signature).
func textParams(args []any) ([][]byte, error) {
	out := make([][]byte, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case nil:
		case string:
			out[i] = []byte(v)
		case bool:
			out[i] = []byte(strconv.FormatBool(v))
		case int64:
			out[i] = strconv.AppendInt(nil, v, 10)
		case int:
			out[i] = strconv.AppendInt(nil, int64(v), 10)
		case []byte:
			out[i] = append([]byte(`\x`), hex.EncodeToString(v)...)
		default:
			return nil, fmt.Errorf("uno: begin on a replica: argument %d of type %T cannot be sent", i+1, a)
		}
	}
	return out, nil
}

// errReplicaBehind and errReplicaLeft are the verdicts of a replica read's
// check (see [DB.ReadOnReplica]): the replica has not replayed the read's
// position, or it left recovery (promoted). errNotReadCommitted: the
// session's isolation is not READ COMMITTED, so the check and the query
// would share a snapshot taken before the check.
var (
	errReplicaBehind    = errors.New("uno: replica behind the read's position")
	errReplicaLeft      = errors.New("uno: replica out of recovery")
	errNotReadCommitted = errors.New("uno: replica session not in READ COMMITTED")
)

// readCheckSQL is [replicaCheckSQL] for a read outside a transaction: it
// runs in the same implicit transaction as the read's first query, sent in
// the same round trip just before it. In READ COMMITTED that query takes
// its snapshot after the check ran, and replay only moves forward, so it
// sees what the check saw; in another isolation level it would share the
// check's snapshot, taken before the replay position was read, so the
// check reports that too.
const readCheckSQL = "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false), " +
	"current_setting('transaction_isolation') = 'read committed'"

// ReadOnReplica runs fn, a read outside any transaction as the login role
// (no role switch, no identity), with consistency c: for [Strong], or
// without replicas, on the primary's pool; otherwise on a connection of a
// replica, whose replay check rides in the round trip of fn's first query
// (a read costs the round trips of its queries and nothing more), and,
// when no replica can serve (behind past the wait budget, unreachable,
// promoted), on the primary's pool. fn may run more than once (once per
// replica tried, then on the primary) and must pass on the errors its
// querier returns (wrapped or not); a read fn does not write, and a
// standby refuses writes. Use [DB.WithTx] with [TxOptions.Consistency] for
// reads that need a role, an identity or several statements in one
// snapshot.
func (db *DB) ReadOnReplica(ctx context.Context, c Consistency, fn func(ctx context.Context, q Querier) error) error {
	rs := db.replicas
	if c == Strong || rs == nil {
		return fn(ctx, db.pool)
	}
	if c != ReadYourWrites && c != BoundedStaleness {
		return fmt.Errorf("uno: unknown consistency %v", c)
	}
	inTx := func() error {
		return db.WithTx(ctx, TxOptions{ReadOnly: true, Consistency: c},
			func(ctx context.Context, tx *Tx) error { return fn(ctx, tx) })
	}
	if rs.txReads.Load() {
		return inTx()
	}
	var target uint64
	var budget time.Duration
	if c == ReadYourWrites {
		target = TokenFromContext(ctx).lsn
		budget = rs.cfg.WaitBudget
	} else {
		var ok bool
		if target, ok = rs.boundFor(time.Now()); !ok {
			rs.primaryReads.Add(1)
			return fn(ctx, db.pool)
		}
	}
	deadline := time.Now().Add(budget)
	r := rs.pick()
	for wait := 500 * time.Microsecond; ; wait *= 2 {
		if r == nil {
			rs.primaryReads.Add(1)
			return fn(ctx, db.pool)
		}
		verdict, err := r.read(ctx, Token{lsn: target}, fn)
		switch {
		case verdict == nil:
			r.reads.Add(1)
			return err
		case errors.Is(verdict, errNotReadCommitted):
			// The sessions' default isolation is not READ COMMITTED
			// (a setting of the DB's login or configuration): from now
			// on a transaction checks before it begins instead.
			rs.txReads.Store(true)
			return inTx()
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("uno: read on replica %s: the context ended: %w", r.name, cerr)
		}
		if !errors.Is(verdict, errReplicaBehind) {
			// Unreachable or promoted: try another replica, else the primary.
			r.fallbacks.Add(1)
			r = rs.pick()
			continue
		}
		again, err := rs.waitReplay(ctx, r, "read", deadline, wait)
		if err != nil {
			return err
		}
		if !again {
			return fn(ctx, db.pool)
		}
	}
}

// read runs fn on a connection of r with the check of target before its
// first query. verdict is non-nil when the check (or borrowing the
// connection) failed: fn's result is then void, and err is fn's error.
func (r *replica) read(ctx context.Context, target Token, fn func(ctx context.Context, q Querier) error) (verdict, err error) {
	actx, cancel := context.WithTimeout(ctx, r.db.cfg.ConnectTimeout)
	pc, err := r.db.pool.Acquire(actx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			r.eject("unreachable: " + err.Error())
		}
		return fmt.Errorf("%w: %s: %w", errReplicaDown, r.name, err), err
	}
	defer pc.Release()
	q := &replicaQuerier{r: r, conn: pc.Conn(), target: target.String()}
	err = fn(ctx, q)
	return q.verdict, err
}

// replicaQuerier is the [Querier] of a read on a replica: its first query
// is sent with the replay check in one batch (one round trip); the rest
// run as they are once the check passed. After a failed check every call
// returns the verdict.
type replicaQuerier struct {
	r       *replica
	conn    *pgx.Conn
	target  string
	checked bool
	verdict error
}

// judge records the check's answer and returns the verdict, nil when the
// replica may serve the read.
func (q *replicaQuerier) judge(ctx context.Context, err error, inRecovery, replayed, readCommitted bool) error {
	switch {
	case err != nil:
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) || ctx.Err() != nil || !q.conn.IsClosed() {
			// The server answered (the error is the query's: a batch
			// prepares every statement first), or the caller gave up:
			// the error is fn's, not the replica's.
			return nil
		}
		q.r.eject("unreachable: " + err.Error())
		q.verdict = fmt.Errorf("%w: %s: %w", errReplicaDown, q.r.name, err)
	case !inRecovery:
		q.r.markPromoted()
		q.verdict = errReplicaLeft
	case !readCommitted:
		q.verdict = errNotReadCommitted
	case !replayed:
		q.verdict = errReplicaBehind
	default:
		q.checked = true
	}
	return q.verdict
}

// check runs the check on its own, for a first call that is not a query.
func (q *replicaQuerier) check(ctx context.Context) error {
	if q.checked || q.verdict != nil {
		return q.verdict
	}
	var rec, replayed, rc bool
	err := q.conn.QueryRow(ctx, readCheckSQL, q.target).Scan(&rec, &replayed, &rc)
	if v := q.judge(ctx, err, rec, replayed, rc); v != nil {
		return v
	}
	return err
}

// Exec runs sql after the check.
func (q *replicaQuerier) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := q.check(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return q.conn.Exec(ctx, sql, args...)
}

// Query runs sql; the first query carries the check in its round trip.
func (q *replicaQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if q.verdict != nil {
		return nil, q.verdict
	}
	if q.checked {
		return q.conn.Query(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(readCheckSQL, q.target)
	b.Queue(sql, args...)
	br := q.conn.SendBatch(ctx, b)
	var rec, replayed, rc bool
	err := br.QueryRow().Scan(&rec, &replayed, &rc)
	if v := q.judge(ctx, err, rec, replayed, rc); v != nil {
		_ = br.Close()
		return nil, v
	}
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// QueryRow runs sql as [replicaQuerier.Query] and reads its one row.
func (q *replicaQuerier) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := q.Query(ctx, sql, args...)
	return &oneRow{rows: rows, err: err}
}

// SendBatch sends b after the check.
func (q *replicaQuerier) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := q.check(ctx); err != nil {
		return errBatch{err}
	}
	return q.conn.SendBatch(ctx, b)
}

// CopyFrom is refused by a standby; it runs after the check like the rest.
func (q *replicaQuerier) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if err := q.check(ctx); err != nil {
		return 0, err
	}
	return q.conn.CopyFrom(ctx, table, columns, src)
}

// batchRows are the rows of a query sent in a batch behind the check;
// closing them ends the batch.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

// Close closes the rows and the batch.
func (b *batchRows) Close() {
	b.Rows.Close()
	_ = b.br.Close()
}

// oneRow is the pgx.Row of a query's rows: the first row, pgx.ErrNoRows
// without one.
type oneRow struct {
	rows pgx.Rows
	err  error
}

// Scan reads the first row into dest and closes the rows.
func (r *oneRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

var _ Querier = (*replicaQuerier)(nil)

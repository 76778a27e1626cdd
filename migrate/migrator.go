package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/quote"
)

// DefaultTable is the name of the history table.
const DefaultTable = "uno_schema_migrations"

// lockKey is the advisory lock every uno migrator takes (in the database it
// migrates; advisory locks are per database).
const lockKey = 0x756e6f6d6967 // "unomig"

// Migrator applies migrations to one database.
type Migrator struct {
	// Config is the database to migrate; the connection needs the rights the
	// migrations need (uno runs them as the admin role or the owner).
	Config config.Config
	// Direct, when set, is used instead of Config for the migrator's
	// connection: a direct connection to the server for a Config that goes
	// through PgBouncer in transaction mode (Pooler "pgbouncer"), where a
	// session advisory lock does not hold. Without it such a Config is
	// refused with [ErrNeedsSession].
	Direct *config.Config
	// Role, when set, is the role the dedicated connection switches to for
	// the whole run (uno runs DDL as <db>_admin, so it owns what it creates).
	Role string
	// Table is the history table; default DefaultTable in the first schema
	// of the search path.
	Table string
	// LockTimeout bounds the wait for another runner's lock; default 1m.
	LockTimeout time.Duration
	// Logger receives one line per migration; nil discards.
	Logger *slog.Logger
	// Progress, when set, is called before each migration with its index
	// and the count in this run.
	Progress func(done, total int, m Migration)
}

// Applied is one row of the history table.
type Applied struct {
	Version   int64
	Name      string
	Checksum  string
	AppliedAt time.Time
	Duration  time.Duration
	// Progress is, for a migration run outside a transaction that stopped
	// part way, the number of its steps that are done (see [Segments]);
	// 0 when it is complete.
	Progress int
}

// State is one migration's status.
type State string

// Migration states reported by [Migrator.Status].
const (
	StatePending  State = "pending"
	StateApplied  State = "applied"
	StateModified State = "modified" // applied, but the file changed since
	StateMissing  State = "missing"  // applied, but the file is gone
	// StatePartial: a migration run outside a transaction stopped part
	// way; Up resumes it at the first step not done.
	StatePartial State = "partial"
)

// Status is one line of [Migrator.Status].
type Status struct {
	Version int64
	Name    string
	State   State
	Applied *Applied
}

// ErrModified is returned by Up when an applied migration's file changed.
var ErrModified = errors.New("migrate: an applied migration was edited")

// ErrNeedsSession is returned when the migrator's connection would go
// through PgBouncer in transaction mode: its advisory lock needs a session
// of its own on the server (set [Migrator.Direct]).
var ErrNeedsSession = errors.New("migrate: the migration lock needs a direct connection, not PgBouncer in transaction mode")

// session is a dedicated connection holding the advisory lock.
type session struct {
	conn  *pgx.Conn
	table string
}

func (m *Migrator) log() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

// lock opens a dedicated connection, takes the advisory lock with
// lock_timeout set, and creates the history table if needed.
func (m *Migrator) lock(ctx context.Context) (*session, error) {
	cfg := m.Config
	if m.Direct != nil {
		cfg = *m.Direct
	}
	if cfg.Pooler == config.PoolerPgBouncer {
		which := "Config"
		if m.Direct != nil {
			which = "Direct"
		}
		return nil, fmt.Errorf("%w: Migrator.%s (%s) has Pooler %q; give a direct connection in Migrator.Direct",
			ErrNeedsSession, which, cfg.Key(), cfg.Pooler)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cc, err := cfg.ConnConfig()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if cfg.Schema != "" {
		cc.RuntimeParams["search_path"] = quote.Ident(cfg.Schema) + ", public"
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("migrate: connect to %s: %w", cfg.Key(), dberr.Classify(err))
	}
	timeout := m.LockTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	table := m.Table
	if table == "" {
		table = DefaultTable
	}
	s := &session{conn: conn, table: quote.Ident(table)}
	fail := func(err error) (*session, error) {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if _, err := conn.Exec(ctx, "SELECT set_config('lock_timeout', $1, false)", fmt.Sprintf("%dms", timeout.Milliseconds())); err != nil {
		return fail(fmt.Errorf("migrate: %w", dberr.Classify(err)))
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(lockKey)); err != nil {
		return fail(fmt.Errorf("migrate: another migration holds the lock (waited %v): %w", timeout, dberr.Classify(err)))
	}
	if _, err := conn.Exec(ctx, "SET lock_timeout = 0"); err != nil {
		return fail(fmt.Errorf("migrate: %w", dberr.Classify(err)))
	}
	if m.Role != "" {
		// Session level on purpose: the connection is the migrator's own and
		// is closed at the end of the run.
		if _, err := conn.Exec(ctx, "SELECT set_config('role', $1, false)", m.Role); err != nil {
			return fail(fmt.Errorf("migrate: run as role %q: %w", m.Role, dberr.Classify(err)))
		}
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.table+` (
		version bigint PRIMARY KEY,
		name text NOT NULL,
		checksum text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now(),
		duration_ms bigint NOT NULL
	)`); err != nil {
		return fail(fmt.Errorf("migrate: history table: %w", dberr.Classify(err)))
	}
	if _, err := conn.Exec(ctx, `ALTER TABLE `+s.table+` ADD COLUMN IF NOT EXISTS progress integer`); err != nil {
		return fail(fmt.Errorf("migrate: history table: %w", dberr.Classify(err)))
	}
	return s, nil
}

func (s *session) close(ctx context.Context) {
	// Closing the connection releases the session lock, also on a crash.
	_ = s.conn.Close(context.WithoutCancel(ctx))
}

func (s *session) applied(ctx context.Context) ([]Applied, error) {
	rows, err := s.conn.Query(ctx, "SELECT version, name, checksum, applied_at, duration_ms, coalesce(progress, 0) FROM "+s.table+" ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("migrate: read history: %w", dberr.Classify(err))
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Applied, error) {
		var a Applied
		var ms int64
		err := r.Scan(&a.Version, &a.Name, &a.Checksum, &a.AppliedAt, &ms, &a.Progress)
		a.Duration = time.Duration(ms) * time.Millisecond
		return a, err
	})
}

// Status reports every migration in migs and every applied one that is
// missing from migs, by version.
func (m *Migrator) Status(ctx context.Context, migs []Migration) ([]Status, error) {
	var out []Status
	err := m.withHistory(ctx, func(_ *session, applied []Applied) error {
		out = status(migs, applied)
		return nil
	})
	return out, err
}

// withHistory takes the lock on a dedicated connection, reads the history
// and runs fn; the lock goes with the connection at the end.
func (m *Migrator) withHistory(ctx context.Context, fn func(s *session, applied []Applied) error) error {
	s, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	applied, err := s.applied(ctx)
	if err != nil {
		return err
	}
	return fn(s, applied)
}

// find returns the migration of version v in migs, or nil.
func find(migs []Migration, v int64) *Migration {
	for i := range migs {
		if migs[i].Version == v {
			return &migs[i]
		}
	}
	return nil
}

func status(migs []Migration, applied []Applied) []Status {
	byVersion := map[int64]*Applied{}
	for i := range applied {
		byVersion[applied[i].Version] = &applied[i]
	}
	var out []Status
	for _, mg := range migs {
		st := Status{Version: mg.Version, Name: mg.Name, State: StatePending}
		if a := byVersion[mg.Version]; a != nil {
			st.Applied, st.State = a, StateApplied
			switch {
			case a.Checksum != mg.Checksum:
				st.State = StateModified
			case a.Progress > 0:
				st.State = StatePartial
			}
			delete(byVersion, mg.Version)
		}
		out = append(out, st)
	}
	for _, a := range applied {
		if byVersion[a.Version] != nil {
			out = append(out, Status{Version: a.Version, Name: a.Name, State: StateMissing, Applied: byVersion[a.Version]})
		}
	}
	return out
}

// Up applies pending migrations in version order, at most n of them (n ≤ 0:
// all), and returns those it applied. It refuses to run while an applied
// migration's file differs from what was applied.
func (m *Migrator) Up(ctx context.Context, migs []Migration, n int) ([]Migration, error) {
	var done []Migration
	err := m.withHistory(ctx, func(s *session, applied []Applied) error {
		var pending []Migration
		for _, st := range status(migs, applied) {
			switch st.State {
			case StateModified:
				sum := st.Applied.Checksum
				if len(sum) > 12 {
					sum = sum[:12]
				}
				return fmt.Errorf("%w: %04d_%s (checksum %s, applied %s)", ErrModified, st.Version, st.Name,
					sum, st.Applied.AppliedAt.Format(time.RFC3339))
			case StatePending, StatePartial:
				pending = append(pending, *find(migs, st.Version))
			}
		}
		if n > 0 && len(pending) > n {
			pending = pending[:n]
		}
		for i, mg := range pending {
			if m.Progress != nil {
				m.Progress(i, len(pending), mg)
			}
			start := time.Now()
			from := 0
			if a := findApplied(applied, mg.Version); a != nil {
				from = a.Progress
			}
			if err := s.ownership(ctx, mg.Up); err != nil {
				return fmt.Errorf("migrate: up %04d_%s: %w", mg.Version, mg.Name, err)
			}
			if err := s.apply(ctx, mg, from); err != nil {
				return fmt.Errorf("migrate: up %04d_%s: %w", mg.Version, mg.Name, err)
			}
			m.log().Info("migrate: applied", "version", mg.Version, "name", mg.Name, "duration", time.Since(start))
			done = append(done, mg)
		}
		if m.Progress != nil && len(pending) > 0 {
			m.Progress(len(pending), len(pending), pending[len(pending)-1])
		}
		return nil
	})
	return done, err
}

// Down reverts the n most recently applied migrations (n ≤ 0: one) with
// their down files and returns them.
func (m *Migrator) Down(ctx context.Context, migs []Migration, n int) ([]Migration, error) {
	if n <= 0 {
		n = 1
	}
	var done []Migration
	err := m.withHistory(ctx, func(s *session, applied []Applied) error {
		for i := len(applied) - 1; i >= 0 && len(done) < n; i-- {
			a := applied[i]
			mg := find(migs, a.Version)
			if mg == nil {
				return fmt.Errorf("migrate: down %04d_%s: its files are missing", a.Version, a.Name)
			}
			if mg.Down == "" {
				return fmt.Errorf("migrate: down %04d_%s: no down file", mg.Version, mg.Name)
			}
			if a.Progress > 0 {
				return fmt.Errorf("migrate: down %04d_%s: it is partly applied (%d steps); run up to finish it first", mg.Version, mg.Name, a.Progress)
			}
			if err := s.ownership(ctx, mg.Down); err != nil {
				return fmt.Errorf("migrate: down %04d_%s: %w", mg.Version, mg.Name, err)
			}
			if err := s.revert(ctx, *mg); err != nil {
				return fmt.Errorf("migrate: down %04d_%s: %w", mg.Version, mg.Name, err)
			}
			m.log().Info("migrate: reverted", "version", mg.Version, "name", mg.Name)
			done = append(done, *mg)
		}
		return nil
	})
	return done, err
}

// ErrNothingApplied is returned by Redo when no migration is applied.
var ErrNothingApplied = errors.New("migrate: no migration is applied")

// Redo reverts the last applied migration and applies that same migration
// again, under one hold of the lock.
func (m *Migrator) Redo(ctx context.Context, migs []Migration) error {
	return m.withHistory(ctx, func(s *session, applied []Applied) error {
		if len(applied) == 0 {
			return ErrNothingApplied
		}
		last := applied[len(applied)-1]
		mg := find(migs, last.Version)
		switch {
		case mg == nil:
			return fmt.Errorf("migrate: redo %04d_%s: its files are missing", last.Version, last.Name)
		case mg.Down == "":
			return fmt.Errorf("migrate: redo %04d_%s: no down file", mg.Version, mg.Name)
		case mg.Checksum != last.Checksum:
			return fmt.Errorf("%w: %04d_%s", ErrModified, mg.Version, mg.Name)
		case last.Progress > 0:
			return fmt.Errorf("migrate: redo %04d_%s: it is partly applied; run up to finish it first", mg.Version, mg.Name)
		}
		if err := s.revert(ctx, *mg); err != nil {
			return fmt.Errorf("migrate: redo %04d_%s, down: %w", mg.Version, mg.Name, err)
		}
		if err := s.apply(ctx, *mg, 0); err != nil {
			return fmt.Errorf("migrate: redo %04d_%s, up: %w", mg.Version, mg.Name, err)
		}
		m.log().Info("migrate: redone", "version", mg.Version, "name", mg.Name)
		return nil
	})
}

func findApplied(applied []Applied, v int64) *Applied {
	for i := range applied {
		if applied[i].Version == v {
			return &applied[i]
		}
	}
	return nil
}

// apply runs mg's up file from step from (see [Segments]) and records it
// in the history.
func (s *session) apply(ctx context.Context, mg Migration, from int) error {
	start := time.Now()
	record := func(ctx context.Context, tx pgx.Tx, progress int) error {
		var p *int
		if progress > 0 {
			p = &progress
		}
		_, err := tx.Exec(ctx, "INSERT INTO "+s.table+" (version, name, checksum, duration_ms, progress) VALUES ($1, $2, $3, $4, $5)"+
			" ON CONFLICT (version) DO UPDATE SET checksum = excluded.checksum, duration_ms = excluded.duration_ms, progress = excluded.progress",
			mg.Version, mg.Name, mg.Checksum, time.Since(start).Milliseconds(), p)
		return err
	}
	if !mg.UpNoTx {
		return s.inTx(ctx, []string{mg.Up}, func(ctx context.Context, tx pgx.Tx) error { return record(ctx, tx, 0) })
	}
	return s.runSegments(ctx, Segments(mg.Up), from, record)
}

// revert runs mg's down file and removes it from the history.
func (s *session) revert(ctx context.Context, mg Migration) error {
	remove := func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "DELETE FROM "+s.table+" WHERE version = $1", mg.Version)
		return err
	}
	if !mg.DownNoTx {
		return s.inTx(ctx, []string{mg.Down}, remove)
	}
	return s.runSegments(ctx, Segments(mg.Down), 0, func(ctx context.Context, tx pgx.Tx, progress int) error {
		if progress > 0 {
			return nil
		}
		return remove(ctx, tx)
	})
}

// inTx runs statements and then record in one transaction.
func (s *session) inTx(ctx context.Context, stmts []string, record func(context.Context, pgx.Tx) error) error {
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		return dberr.Classify(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it does nothing
	for _, sql := range stmts {
		// No arguments: pgx sends the text in one simple-protocol message,
		// so it may hold many statements. Files are trusted SQL.
		if _, err := tx.Exec(ctx, sql); err != nil {
			return dberr.Classify(err)
		}
	}
	if err := record(ctx, tx); err != nil {
		return dberr.Classify(err)
	}
	return dberr.Classify(tx.Commit(ctx))
}

// runSegments runs the segments of a migration from index from: each
// transactional segment in one transaction together with record(i+1),
// each statement that cannot run in a transaction on its own followed by
// record(i+1) in a transaction of its own; the last record is
// record(0), complete. A failure leaves the history saying how far the
// migration got, so a retry resumes at the failed step.
func (s *session) runSegments(ctx context.Context, segs []Segment, from int, record func(context.Context, pgx.Tx, int) error) error {
	for i := from; i < len(segs); i++ {
		progress := i + 1
		if progress == len(segs) {
			progress = 0
		}
		rec := func(ctx context.Context, tx pgx.Tx) error { return record(ctx, tx, progress) }
		seg := segs[i]
		if !seg.NoTx {
			if err := s.inTx(ctx, seg.Statements, rec); err != nil {
				return fmt.Errorf("step %d: %w", i+1, err)
			}
			continue
		}
		if err := s.dropInvalidIndex(ctx, seg.Statements[0]); err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
		if _, err := s.conn.Exec(ctx, seg.Statements[0]); err != nil {
			return fmt.Errorf("step %d: %w", i+1, dberr.Classify(err))
		}
		if err := s.inTx(ctx, nil, rec); err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	if len(segs) == 0 {
		return s.inTx(ctx, nil, func(ctx context.Context, tx pgx.Tx) error { return record(ctx, tx, 0) })
	}
	return nil
}

// Baseline records an existing database as the starting point: every
// migration of migs up to version (all of them when version ≤ 0) that is
// not applied yet is written to the history as applied, without running
// anything, and returned. Use it when adopting a database whose schema
// the first migrations (say, a 0001_baseline generated from it) already
// describe. It refuses a history with an edited or partly applied
// migration.
func (m *Migrator) Baseline(ctx context.Context, migs []Migration, version int64) ([]Migration, error) {
	var done []Migration
	err := m.withHistory(ctx, func(s *session, applied []Applied) error {
		var todo []Migration
		for _, st := range status(migs, applied) {
			switch {
			case st.State == StateModified || st.State == StatePartial:
				return fmt.Errorf("%w: %04d_%s is %s; baseline records only untouched history", ErrModified, st.Version, st.Name, st.State)
			case st.State == StatePending && (version <= 0 || st.Version <= version):
				todo = append(todo, *find(migs, st.Version))
			}
		}
		return s.inTx(ctx, nil, func(ctx context.Context, tx pgx.Tx) error {
			for _, mg := range todo {
				if _, err := tx.Exec(ctx, "INSERT INTO "+s.table+" (version, name, checksum, duration_ms) VALUES ($1, $2, $3, 0)",
					mg.Version, mg.Name, mg.Checksum); err != nil {
					return err
				}
				m.log().Info("migrate: baselined", "version", mg.Version, "name", mg.Name)
			}
			done = todo
			return nil
		})
	})
	return done, err
}

// BaselinePlan returns the plan that creates, in an empty database, the
// tables, enums, functions and schemas of live (with their constraints,
// indexes, triggers, policies and grants): the up file of a baseline
// migration for an adopted database (record it with [Migrator.Baseline]).
// Views, sequences of serial columns and other objects the catalog does
// not read are not in it.
func BaselinePlan(live *catalog.Database) Plan {
	empty := &catalog.Database{Schemas: []string{"public"}}
	return Diff(empty, live, Options{})
}

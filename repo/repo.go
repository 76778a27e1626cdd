package repo

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/model"
)

// Default and maximum page sizes of Filter when Options leaves them unset.
const (
	DefaultLimit    = 25
	DefaultMaxLimit = 1000
)

// DefaultMaxTextValue is the longest text filter value, in characters,
// when Options.MaxTextValue is 0.
const DefaultMaxTextValue = 1024

// DefaultReadTimeout bounds a repository read when Options.ReadTimeout is 0.
const DefaultReadTimeout = 30 * time.Second

// ErrReadTimeout is returned when a read outlasts Options.ReadTimeout; it
// also matches context.DeadlineExceeded.
var ErrReadTimeout = errors.New("repo: read took longer than Options.ReadTimeout")

// RoleMode chooses the role a repository call runs as when it is not
// inside the caller's transaction or connection.
type RoleMode uint8

const (
	// RolesAuto, the default, is RolesSwitch when the DB logs in as the
	// uno login role its configuration names (config.Config.User equals
	// Roles.Login, the default user): that role has no rights of its own
	// in a database set up by uno (uno db create), so every call must run
	// as the reader or the writer. A DB logging in as any other user gets
	// RolesLogin.
	RolesAuto RoleMode = iota
	// RolesSwitch runs each call in a transaction of its own as the reader
	// role (reads, read-only) or the writer role (writes), uno's SET ROLE
	// reader/writer, with Options.Identity.
	RolesSwitch
	// RolesLogin runs each call directly on the pool as the user the DB
	// logs in as, in a single round trip with no BEGIN: for a login that
	// holds the rights itself. Options.Identity is not used.
	RolesLogin
)

// String returns "auto", "switch" or "login".
func (m RoleMode) String() string {
	switch m {
	case RolesAuto:
		return "auto"
	case RolesSwitch:
		return "switch"
	case RolesLogin:
		return "login"
	}
	return "RoleMode(" + strconv.Itoa(int(m)) + ")"
}

// Options shape a Repository. The zero value is usable.
type Options struct {
	// Roles chooses how calls outside the caller's transaction run: as the
	// reader or writer role (RolesSwitch), as the login user (RolesLogin),
	// or, by default, whichever fits the DB's login (RolesAuto).
	Roles RoleMode
	// SwitchRoles is the old spelling of Roles: RolesSwitch, kept so
	// existing callers compile; new code sets Roles. (It is not yet marked
	// Deprecated only because callers in this module still use it.)
	SwitchRoles bool
	// Identity is set for the transactions role switching opens.
	Identity engine.Identity
	// DefaultLimit is Filter's page size when none is given (0: 25).
	DefaultLimit int
	// MaxLimit is the largest page size Filter accepts (0: 1000).
	MaxLimit int
	// MaxTextValue is the longest text value a filter condition takes, in
	// characters: the cost of a LIKE is linear in it (0: 1024; negative:
	// no limit). Independently, a value longer than a VARCHAR(n) column's
	// n is refused, as it cannot match.
	MaxTextValue int
	// ReadTimeout bounds each read whose cost the input decides (GetBy,
	// Filter, Count, Query, QueryMaps, Load; not Get, one primary-key
	// probe, nor Stream, which lasts as long as its loop): the read's context gets this deadline unless
	// it has an earlier one, and pgx then cancels the statement on the
	// server (0: 30s; negative: no bound). The error matches
	// ErrReadTimeout and context.DeadlineExceeded.
	ReadTimeout time.Duration
	// Version names the column used for optimistic concurrency: an integer
	// column that Update increments, or a timestamp column (such as
	// modified_at) that Update sets to clock_timestamp(). Update and Delete
	// then succeed only when the stored value still equals the struct's,
	// and report dberr.ErrConflict otherwise. Empty: no check.
	Version string
	// Consistency: where reads outside a transaction run (engine.Strong, the zero value: the primary); see replica.go.
	Consistency engine.Consistency
}

// Repository is the generic repository of one registered model T: the Go
// form of uno's UnoDB. SQL text for insert, select by key, update and delete
// is built once in New; rows are scanned straight into the struct fields
// through model.Table.Addrs. A Repository is safe for concurrent use.
type Repository[T any] struct {
	s           *shared[T]
	withDeleted bool // reads include soft-deleted rows
}

// shared is the immutable state of a repository and its views.
type shared[T any] struct {
	db    *engine.DB
	reg   *model.Registry
	table *model.Table
	opts  Options
	// switchRoles is Options.Roles resolved for db: calls outside the
	// caller's transaction run as the reader or writer role.
	switchRoles bool

	pk         []*model.Column
	gen        []*model.Column // generated and insertable: left out of INSERT when zero
	version    *model.Column
	versionInt bool
	deletedAt  *model.Column
	// managed are the record-status columns the repository keeps:
	// is_deleted, deleted_at and created_at are left out of an
	// every-column update, and modifiedAt is set to clock_timestamp() by
	// every update.
	managed    []*model.Column
	modifiedAt *model.Column

	selectList string // "a", "b", … every column in order
	returning  string // " RETURNING " + selectList
	selectFrom string // "SELECT cols FROM t"

	insertZero    string // INSERT with every generated column left to the database
	selectPK      string // SELECT … WHERE pk [AND NOT is_deleted]
	selectPKAll   string // SELECT … WHERE pk, deleted rows included
	updateAll     string // UPDATE … SET every updatable column … RETURNING
	updateAllArgs []*model.Column
	deleteHard    string
	deleteSoft    string
	existsPK      string

	insertCache syncMap[uint64, string]
	mergePlans  atomic.Pointer[[]planEntry] // merge plans by options, copied on write
	updateCache syncMap[uint64, *updateStmt]
}

// New returns the repository of the registered model T on db. It fails when
// T is not registered in reg or its metadata cannot be served.
func New[T any](db *engine.DB, reg *model.Registry, opts ...Options) (*Repository[T], error) {
	if db == nil || reg == nil {
		return nil, errors.New("repo: New needs a DB and a registry")
	}
	t, err := model.TableOf[T](reg)
	if err != nil {
		return nil, fmt.Errorf("repo: %w", err)
	}
	if len(opts) > 1 {
		return nil, errors.New("repo: New takes at most one Options")
	}
	var o Options
	if len(opts) == 1 {
		o = opts[0]
	}
	switch {
	case o.SwitchRoles && o.Roles == RolesLogin:
		return nil, fmt.Errorf("repo: %s: SwitchRoles and Roles: RolesLogin contradict each other", t.GoName())
	case o.SwitchRoles:
		o.Roles = RolesSwitch
	case o.Roles > RolesLogin:
		return nil, fmt.Errorf("repo: %s: unknown %v", t.GoName(), o.Roles)
	}
	if o.DefaultLimit == 0 {
		o.DefaultLimit = DefaultLimit
	}
	if o.MaxTextValue == 0 {
		o.MaxTextValue = DefaultMaxTextValue
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.MaxLimit == 0 {
		o.MaxLimit = DefaultMaxLimit
	}
	if o.DefaultLimit < 0 || o.MaxLimit < 0 || o.DefaultLimit > o.MaxLimit {
		return nil, fmt.Errorf("repo: %s: DefaultLimit %d and MaxLimit %d are not 0 < default <= max", t.GoName(), o.DefaultLimit, o.MaxLimit)
	}
	if t.PrimaryKey == nil || len(t.PrimaryKey.Columns) == 0 {
		return nil, fmt.Errorf("repo: %s has no primary key", t.GoName())
	}
	s := &shared[T]{db: db, reg: reg, table: t, opts: o, pk: t.PrimaryKey.Columns, switchRoles: o.Roles == RolesSwitch}
	if o.Roles == RolesAuto {
		cfg := db.Config()
		s.switchRoles = cfg.User == cfg.Roles.Login
	}
	for _, c := range t.Columns {
		if c.Generated() && c.Insertable() {
			s.gen = append(s.gen, c)
		}
	}
	if len(s.gen) > 64 {
		return nil, fmt.Errorf("repo: %s has more than 64 columns with defaults", t.GoName())
	}
	if o.Version != "" {
		c, ok := t.Column(o.Version)
		if !ok {
			return nil, fmt.Errorf("repo: %s: version column %q: %w", t.GoName(), o.Version, ErrUnknownField)
		}
		switch c.GoType.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			s.versionInt = true
		default:
			if c.GoType != reflect.TypeFor[timeType]() {
				return nil, fmt.Errorf("repo: %s: version column %q must be an integer or a time.Time", t.GoName(), o.Version)
			}
		}
		if c.PrimaryKey {
			return nil, fmt.Errorf("repo: %s: version column %q is part of the primary key", t.GoName(), o.Version)
		}
		s.version = c
	}
	if t.SoftDelete {
		s.managed = append(s.managed, t.DeletedColumn)
		if c, ok := t.Column("deleted_at"); ok {
			s.deletedAt = c
			s.managed = append(s.managed, c)
		}
		if c, ok := t.Column("created_at"); ok {
			s.managed = append(s.managed, c)
		}
		if c, ok := t.Column("modified_at"); ok && c.GoType == reflect.TypeFor[timeType]() && c != s.version {
			s.modifiedAt = c
			s.managed = append(s.managed, c)
		}
	}
	s.build()
	return &Repository[T]{s: s}, nil
}

// Table returns the model's metadata.
func (r *Repository[T]) Table() *model.Table { return r.s.table }

// DB returns the database the repository runs on.
func (r *Repository[T]) DB() *engine.DB { return r.s.db }

// WithDeleted returns a view of the repository whose reads (Get, GetBy,
// Filter, Count, Stream) include soft-deleted rows. For models without the
// record-status mixin it is the same as r.
func (r *Repository[T]) WithDeleted() *Repository[T] {
	return &Repository[T]{s: r.s, withDeleted: true}
}

// build prepares the SQL text that never changes.
func (s *shared[T]) build() {
	t := s.table
	var b []byte
	b = appendColumns(b[:0], t.Columns, "")
	s.selectList = string(b)
	s.returning = " RETURNING " + s.selectList
	s.selectFrom = "SELECT " + s.selectList + " FROM " + t.QualifiedName

	s.insertZero = s.insertSQL(0)
	s.insertCache.Store(0, s.insertZero)

	pkWhere, _ := appendKeyWhere(nil, s.pk, 1)
	s.selectPKAll = s.selectFrom + " WHERE " + string(pkWhere)
	s.selectPK = s.selectPKAll
	if t.SoftDelete {
		s.selectPK += " AND NOT " + t.DeletedColumn.QuotedName
	}
	s.existsPK = "SELECT EXISTS (SELECT 1 FROM " + t.QualifiedName + " WHERE " + string(pkWhere) + ")"

	var set []*model.Column
	for _, c := range t.Columns {
		if c.PrimaryKey || !c.Insertable() || c == s.version || slices.Contains(s.managed, c) {
			continue
		}
		set = append(set, c)
	}
	s.updateAll, s.updateAllArgs = s.updateSQL(set)

	s.deleteHard = "DELETE FROM " + t.QualifiedName + " WHERE " + string(pkWhere) + s.returning
	if t.SoftDelete {
		b = b[:0]
		b = append(b, "UPDATE "...)
		b = append(b, t.QualifiedName...)
		b = append(b, " SET "...)
		b = append(b, t.DeletedColumn.QuotedName...)
		b = append(b, " = true"...)
		if s.deletedAt != nil {
			b = append(b, ", "...)
			b = append(b, s.deletedAt.QuotedName...)
			b = append(b, " = now()"...)
		}
		b = append(b, " WHERE "...)
		b = append(b, pkWhere...)
		b = append(b, " AND NOT "...)
		b = append(b, t.DeletedColumn.QuotedName...)
		b = append(b, s.returning...)
		s.deleteSoft = string(b)
	}
}

// insertSQL builds the INSERT that gives a value to every insertable column
// but the generated ones whose bit in mask is clear.
func (s *shared[T]) insertSQL(mask uint64) string {
	cols := s.insertColumns(mask)
	b := make([]byte, 0, 64+32*len(cols))
	b = append(b, "INSERT INTO "...)
	b = append(b, s.table.QualifiedName...)
	if len(cols) == 0 {
		b = append(b, " DEFAULT VALUES"...)
	} else {
		b = append(b, " ("...)
		b = appendColumns(b, cols, "")
		b = append(b, ") VALUES ("...)
		for i := range cols {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendParam(b, i+1)
		}
		b = append(b, ')')
	}
	b = append(b, s.returning...)
	return string(b)
}

// insertColumns lists the columns an INSERT with mask sets.
func (s *shared[T]) insertColumns(mask uint64) []*model.Column {
	var cols []*model.Column
	g := 0
	for _, c := range s.table.Columns {
		if !c.Insertable() {
			continue
		}
		if g < len(s.gen) && s.gen[g] == c {
			bit := mask&(1<<g) != 0
			g++
			if !bit {
				continue
			}
		}
		cols = append(cols, c)
	}
	return cols
}

// updateSQL builds UPDATE … SET set … WHERE pk [AND version] [AND NOT
// deleted] RETURNING every column; args lists the columns whose values the
// statement takes, in parameter order.
//
// With nothing to set (no column and no version) it returns "".
func (s *shared[T]) updateSQL(set []*model.Column) (string, []*model.Column) {
	t := s.table
	if len(set) == 0 && s.version == nil && s.modifiedAt == nil {
		return "", nil
	}
	b := make([]byte, 0, 128+32*len(set))
	b = append(b, "UPDATE "...)
	b = append(b, t.QualifiedName...)
	b = append(b, " SET "...)
	var args []*model.Column
	n := 1
	for i, c := range set {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, c.QuotedName...)
		b = append(b, " = "...)
		b = appendParam(b, n)
		n++
		args = append(args, c)
	}
	b = s.appendAutoSet(b, set, len(set) > 0, "")
	b = append(b, " WHERE "...)
	b, n = appendKeyWhere(b, s.pk, n)
	args = append(args, s.pk...)
	if s.version != nil {
		b = append(b, " AND "...)
		b = append(b, s.version.QuotedName...)
		b = append(b, " = "...)
		b = appendParam(b, n)
		args = append(args, s.version)
	}
	if t.SoftDelete {
		b = append(b, " AND NOT "...)
		b = append(b, t.DeletedColumn.QuotedName...)
	}
	b = append(b, s.returning...)
	return string(b), args
}

// appendAutoSet appends the assignments an update makes on its own: the
// version (incremented, or clock_timestamp()) and modified_at
// (clock_timestamp()) unless set names it. alias qualifies the version's
// old value ("" or a quoted alias and a dot).
func (s *shared[T]) appendAutoSet(b []byte, set []*model.Column, comma bool, alias string) []byte {
	sep := func() {
		if comma {
			b = append(b, ", "...)
		}
		comma = true
	}
	if s.version != nil {
		sep()
		b = append(b, s.version.QuotedName...)
		if s.versionInt {
			b = append(b, " = "...)
			b = append(b, alias...)
			b = append(b, s.version.QuotedName...)
			b = append(b, " + 1"...)
		} else {
			b = append(b, " = clock_timestamp()"...)
		}
	}
	if s.modifiedAt != nil && !slices.Contains(set, s.modifiedAt) {
		sep()
		b = append(b, s.modifiedAt.QuotedName...)
		b = append(b, " = clock_timestamp()"...)
	}
	return b
}

// appendColumns appends the quoted names of cols, comma separated, each
// prefixed with prefix (a quoted alias and a dot, or "").
func appendColumns(b []byte, cols []*model.Column, prefix string) []byte {
	for i, c := range cols {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, prefix...)
		b = append(b, c.QuotedName...)
	}
	return b
}

// appendKeyWhere appends "a" = $n AND "b" = $n+1 … and returns the next
// parameter number.
func appendKeyWhere(b []byte, cols []*model.Column, n int) ([]byte, int) {
	for i, c := range cols {
		if i > 0 {
			b = append(b, " AND "...)
		}
		b = append(b, c.QuotedName...)
		b = append(b, " = "...)
		b = appendParam(b, n)
		n++
	}
	return b, n
}

func appendParam(b []byte, n int) []byte {
	b = append(b, '$')
	return strconv.AppendInt(b, int64(n), 10)
}

// run runs fn on what ctx carries for the repository's DB (its
// transaction or connection); otherwise, when switching roles, in a transaction
// of its own as the reader or writer role; otherwise on the pool.
// The error is classified and mapped to the model.
func (r *Repository[T]) run(ctx context.Context, write bool, fn func(ctx context.Context, q engine.Querier) error) error {
	return r.withDeadline(ctx, write, stmtMany, fn)
}

// stmts tells what a function given to run, run1 or runRaw1 issues.
type stmts int

const (
	stmtMany   stmts = iota // any number of statements
	stmtOne                 // exactly one statement, generated by the repository
	stmtCaller              // exactly one statement, SQL text from the caller
)

// run1 is run for a fn that issues exactly one statement: the transaction
// of its own that role switching opens then takes one round trip
// (engine.DB.Single), so fn must not decide to roll back after the
// statement succeeded (COMMIT is sent with it).
func (r *Repository[T]) run1(ctx context.Context, write bool, fn func(ctx context.Context, q engine.Querier) error) error {
	return r.withDeadline(ctx, write, stmtOne, fn)
}

// runRaw1 is run1 for a statement whose SQL text the caller gave: it may
// change session state, so the engine's release guard runs after it.
func (r *Repository[T]) runRaw1(ctx context.Context, write bool, fn func(ctx context.Context, q engine.Querier) error) error {
	return r.withDeadline(ctx, write, stmtCaller, fn)
}

// withDeadline is run, run1 and runRaw1: a read gets the ReadTimeout
// deadline around the dispatch.
func (r *Repository[T]) withDeadline(ctx context.Context, write bool, one stmts, fn func(ctx context.Context, q engine.Querier) error) error {
	if write {
		return r.on(ctx, write, one, fn)
	}
	ctx, stop := r.readDeadline(ctx)
	return stop2(stop, r.on(ctx, write, one, fn))
}

// readDeadline gives a read's ctx the ReadTimeout deadline unless it has
// an earlier one; done turns the deadline's expiry into ErrReadTimeout.
func (r *Repository[T]) readDeadline(ctx context.Context) (context.Context, func() error) {
	d := r.s.opts.ReadTimeout
	if d <= 0 {
		return ctx, func() error { return nil }
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, func() error { return nil }
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, func() error {
		expired := ctx.Err() == context.DeadlineExceeded && parent.Err() == nil
		cancel()
		if expired {
			return fmt.Errorf("%w (%s): %w", ErrReadTimeout, d, context.DeadlineExceeded)
		}
		return nil
	}
}

// stop2 ends a read's deadline and reports its expiry in place of err.
func stop2(stop func() error, err error) error {
	if terr := stop(); terr != nil && err != nil {
		return terr
	}
	return err
}

// runOn is run without the read deadline.
func (r *Repository[T]) runOn(ctx context.Context, write bool, fn func(ctx context.Context, q engine.Querier) error) error {
	return r.on(ctx, write, stmtMany, fn)
}

// runOn1 is run1 without the read deadline.
func (r *Repository[T]) runOn1(ctx context.Context, write bool, fn func(ctx context.Context, q engine.Querier) error) error {
	return r.on(ctx, write, stmtOne, fn)
}

// on dispatches run, run1, runRaw1, runOn and runOn1; one tells what fn
// issues.
func (r *Repository[T]) on(ctx context.Context, write bool, one stmts, fn func(ctx context.Context, q engine.Querier) error) error {
	q := r.s.db.Querier(ctx)
	if err := connFree(q); err != nil {
		return err
	}
	if done, err := r.onReplica(ctx, q, write, fn); done {
		return r.mapError(err)
	}
	var err error
	if r.s.db.IsPool(q) && r.s.switchRoles {
		role := engine.RoleReader
		if write {
			role = engine.RoleWriter
		}
		// A call of one statement runs nothing but that statement, so it
		// may run again whenever the engine proves the first attempt did
		// not commit (a restart, a lost connection, a deadlock).
		opts := engine.TxOptions{Role: role, Identity: r.s.opts.Identity, ReadOnly: !write,
			NoSessionState: one == stmtOne, Retry: one != stmtMany}
		if one != stmtMany {
			err = r.s.db.Single(ctx, opts, fn)
		} else {
			err = r.s.db.WithTx(ctx, opts, func(ctx context.Context, tx *engine.Tx) error { return fn(ctx, tx) })
		}
	} else {
		err = fn(ctx, q)
	}
	return r.mapError(err)
}

// inTx runs fn in a transaction: the one ctx carries, or a new one (as the
// writer role when switching roles).
func (r *Repository[T]) inTx(ctx context.Context, fn func(ctx context.Context, q engine.Querier) error) error {
	return r.mapError(inTx(ctx, r.s.db, r.s.switchRoles, r.s.opts.Identity, fn))
}

// inTx runs fn in a transaction of db: the one ctx carries; else one begun
// on the connection ctx carries (engine.DB.WithConn), so the work stays on
// that connection and no second one is borrowed; else a new one, as the
// writer role with ident when switchRoles.
func inTx(ctx context.Context, db *engine.DB, switchRoles bool, ident engine.Identity, fn func(ctx context.Context, q engine.Querier) error) error {
	q := db.Querier(ctx)
	if err := connFree(q); err != nil {
		return err
	}
	switch q := q.(type) {
	case *engine.Tx:
		return fn(ctx, q)
	case *engine.Conn:
		return pgx.BeginFunc(ctx, q.Raw(), func(tx pgx.Tx) error { return fn(ctx, tx) })
	}
	opts := engine.TxOptions{}
	if switchRoles {
		opts.Role = engine.RoleWriter
		opts.Identity = ident
	}
	return db.WithTx(ctx, opts, func(ctx context.Context, tx *engine.Tx) error { return fn(ctx, tx) })
}

// mapError classifies err and, for a constraint violation, names the
// model and fields involved.
func (r *Repository[T]) mapError(err error) error {
	if err == nil {
		return nil
	}
	err = dberr.Classify(err)
	var ce *ConstraintError
	if errors.As(err, &ce) {
		return err
	}
	var de *dberr.Error
	if !errors.As(err, &de) || de.Constraint == "" {
		return err
	}
	switch de.Kind {
	case dberr.ErrUniqueViolation, dberr.ErrForeignKeyViolation, dberr.ErrCheckViolation:
	default:
		return err
	}
	out := &ConstraintError{Constraint: de.Constraint, Err: err}
	c, ok := r.s.reg.Constraint(de.Schema, de.Constraint)
	if !ok {
		c, ok = r.s.table.Constraint(de.Constraint)
	}
	if ok {
		out.Model = c.Table.GoName()
		out.Table = c.Table.Name
		out.Kind = c.Kind
		for _, col := range c.Columns {
			out.Columns = append(out.Columns, col.Name)
			out.Fields = append(out.Fields, col.Field)
		}
	} else {
		out.Table = de.Table
	}
	return out
}

// ConstraintError reports a unique, foreign key or check violation,
// mapped back to the model and fields through the constraint's name.
// errors.Is matches it against dberr.ErrUniqueViolation (or the foreign
// key or check sentinel), and errors.As reaches the *dberr.Error beneath.
type ConstraintError struct {
	Model      string               // Go type of the constrained model, as package.Name; empty when unknown
	Table      string               // the table
	Constraint string               // the constraint or unique index name PostgreSQL reported
	Kind       model.ConstraintKind // unique, foreign key or check; 0 when the constraint is not registered
	Columns    []string             // constrained columns
	Fields     []string             // their Go field paths
	Err        error                // the classified *dberr.Error
}

// Error describes the violation with the model, fields and constraint.
func (e *ConstraintError) Error() string {
	var b strings.Builder
	b.WriteString("repo: ")
	if e.Err != nil {
		b.WriteString(unprefixed(e.Err))
	} else {
		b.WriteString("constraint violation " + e.Constraint)
	}
	if e.Model != "" {
		b.WriteString(" (model ")
		b.WriteString(e.Model)
		if len(e.Fields) > 0 {
			b.WriteString(", fields ")
			b.WriteString(strings.Join(e.Fields, ", "))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap returns the classified database error.
func (e *ConstraintError) Unwrap() error { return e.Err }

// errorf wraps err with the operation and model.
func (r *Repository[T]) errorf(op string, err error) error {
	if err == nil {
		return nil
	}
	return &opError{op: op, model: r.s.table.GoName(), err: err}
}

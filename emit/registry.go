package emit

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/uno-db/uno/model"
)

// Factory makes a model-level emitter for a table.
type Factory func(t *model.Table, o Options) Emitter

// Registry holds model-level emitters by name and knows which ones each
// model wants: uno's emission registry and per-model SQL config. A new
// registry has the built-in emitters (table, grants, record_status,
// user_audit, tenant_rls, history); more can be registered. It is safe for
// concurrent use.
type Registry struct {
	opts      Options
	mu        sync.RWMutex
	factories map[string]Factory
}

// Errors of the registry.
var (
	ErrUnknownEmitter   = errors.New("emit: unknown emitter")
	ErrDuplicateEmitter = errors.New("emit: emitter already registered")
)

// NewRegistry returns a registry with the built-in emitters, making
// emitters with o.
func NewRegistry(o Options) *Registry {
	return &Registry{opts: o, factories: map[string]Factory{
		EmitterTable:        func(t *model.Table, _ Options) Emitter { return NewTableEmitter(t) },
		EmitterGrants:       Grants,
		EmitterRecordStatus: RecordStatus,
		EmitterUserAudit:    UserAudit,
		EmitterTenantRLS:    TenantRLS,
		EmitterHistory:      History,
	}}
}

// Register adds an emitter under name. A name is registered once; the
// built-in names are taken.
func (r *Registry) Register(name string, f Factory) error {
	if name == "" || f == nil {
		return fmt.Errorf("%w: an emitter needs a name and a factory", ErrInvalid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.factories[name]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicateEmitter, name)
	}
	r.factories[name] = f
	return nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.factories))
	for n := range r.factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New makes the emitter registered under name for t.
func (r *Registry) New(name string, t *model.Table) (Emitter, error) {
	r.mu.RLock()
	f, ok := r.factories[name]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownEmitter, name)
	}
	return f(t, r.opts), nil
}

// DefaultSet returns the names of the emitters t wants: its
// SQLConfig.Emitters when set, else, in order, table and grants;
// record_status when it has the record status columns; user_audit when it
// has the user audit columns; tenant_rls when it has a tenant column; and
// history when its SQLConfig asks for History.
func DefaultSet(t *model.Table) []string {
	if t.SQL.Emitters != nil {
		return slices.Clone(t.SQL.Emitters)
	}
	names := []string{EmitterTable, EmitterGrants}
	if hasColumns(t, recordStatusColumns) == nil {
		names = append(names, EmitterRecordStatus)
	}
	if hasColumns(t, userAuditColumns) == nil {
		names = append(names, EmitterUserAudit)
	}
	if t.TenantColumn != nil {
		names = append(names, EmitterTenantRLS)
	}
	if t.SQL.History {
		names = append(names, EmitterHistory)
	}
	return names
}

// ForModels returns everything the models want, as emitters in the order
// to run them: one table emitter for every model whose set has "table"
// (so foreign keys between them come out in dependency order), then each
// model's other emitters in the order of its [DefaultSet]. "Everything
// for this model" is
//
//	emitters, err := reg.ForModels(table)
//	stmts, err := runner.Run(ctx, conn, emitters...)
//
// An unknown name in a model's set is an error naming the model.
func (r *Registry) ForModels(tables ...*model.Table) ([]Emitter, error) {
	var withTable []*model.Table
	var rest []Emitter
	for _, t := range tables {
		if t == nil {
			return nil, ErrNilTable
		}
		for _, name := range DefaultSet(t) {
			if name == EmitterTable {
				withTable = append(withTable, t)
				continue
			}
			e, err := r.New(name, t)
			if err != nil {
				return nil, fmt.Errorf("%w (model %s)", err, t.GoName())
			}
			rest = append(rest, e)
		}
	}
	var out []Emitter
	if len(withTable) > 0 {
		out = append(out, NewTableEmitter(withTable...))
	}
	return append(out, rest...), nil
}

// Emit returns the statements of [Registry.ForModels], without running
// them: a dry run of everything for the models.
func (r *Registry) Emit(tables ...*model.Table) ([]Statement, error) {
	emitters, err := r.ForModels(tables...)
	if err != nil {
		return nil, err
	}
	var rn Runner
	return rn.Generate(emitters...)
}

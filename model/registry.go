package model

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/uno-db/uno/quote"
)

// Registry holds the metadata of registered models. Registration reflects
// each struct type once; lookups afterwards read an immutable snapshot
// without locks or allocation. A Registry is safe for concurrent use. There
// is no package-level registry: a program makes its own and passes it on.
type Registry struct {
	naming Naming
	mu     sync.Mutex // serialises Register
	snap   atomic.Pointer[snapshot]
}

type snapshot struct {
	byType      map[reflect.Type]*Table
	byName      map[string]*Table      // schemaKey + "." + name
	constraints map[string]*Constraint // schemaKey + "." + constraint name
	enums       map[string]*EnumType   // schemaKey + "." + enum name
	indexes     map[string]*Index      // schemaKey + "." + index name
	tables      []*Table               // in registration order
}

// NewRegistry returns an empty registry using uno's naming convention.
func NewRegistry() *Registry { return NewRegistryWithNaming(DefaultNaming{}) }

// NewRegistryWithNaming returns an empty registry naming constraints and
// indexes with n.
func NewRegistryWithNaming(n Naming) *Registry {
	if n == nil {
		n = DefaultNaming{}
	}
	r := &Registry{naming: n}
	r.snap.Store(&snapshot{
		byType:      map[reflect.Type]*Table{},
		byName:      map[string]*Table{},
		constraints: map[string]*Constraint{},
		enums:       map[string]*EnumType{},
		indexes:     map[string]*Index{},
	})
	return r
}

// schemaKey maps the empty schema to public, where unqualified names go
// under the default search_path.
func schemaKey(schema string) string {
	if schema == "" {
		return "public"
	}
	return schema
}

func nameKey(schema, name string) string { return schemaKey(schema) + "." + name }

// Register reflects the given models — struct values or pointers to structs,
// nil pointers included: Register((*Customer)(nil)) — and adds them to the
// registry as one batch. Foreign keys and relationships may point to models
// in the same batch or registered before; a reference to anything else is
// an error. Registering a type again is a no-op.
//
// On error nothing of the batch is registered; the error joins one *Error
// per problem found, each naming the struct and field.
func (r *Registry) Register(models ...any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	var errs []error
	var batch []*builder
	// failed holds the tables and types of the batch that failed to
	// build: a reference to one of them is not reported again, as the
	// model's own error says what is wrong.
	failed := &failures{names: map[string]bool{}, types: map[reflect.Type]bool{}}
	seen := map[reflect.Type]bool{}
	for _, m := range models {
		typ := reflect.TypeOf(m)
		if typ == nil {
			errs = append(errs, &Error{Struct: "<nil>", Err: fmt.Errorf("%w: nil model", ErrNotStruct)})
			continue
		}
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct {
			errs = append(errs, &Error{Struct: typ.String(), Err: fmt.Errorf("%w: %s", ErrNotStruct, typ.Kind())})
			continue
		}
		if old.byType[typ] != nil || seen[typ] {
			continue
		}
		seen[typ] = true
		b, err := build(typ, r.naming)
		if err != nil {
			errs = append(errs, err)
			failed.add(b)
			continue
		}
		batch = append(batch, b)
	}
	// Every phase below runs even when an earlier one found problems, on
	// the models that are still sound, so one call reports everything.
	next := &snapshot{
		byType:      maps(old.byType),
		byName:      maps(old.byName),
		constraints: maps(old.constraints),
		enums:       maps(old.enums),
		indexes:     maps(old.indexes),
		tables:      slices.Clone(old.tables),
	}
	batch, errs = next.addTables(batch, errs, failed)
	errs = next.addEnums(batch, errs)
	batch, errs = next.resolveFKs(batch, errs, failed)
	batch, errs = next.resolveRels(batch, errs, failed)
	for _, b := range batch {
		errs = append(errs, next.index(b.t)...)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	r.snap.Store(next)
	return nil
}

func maps[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m)+8)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// failures records the models of a batch that failed, so references to
// them are not reported as unknown.
type failures struct {
	names map[string]bool       // schema-qualified table keys
	types map[reflect.Type]bool // struct types
}

func (f *failures) add(b *builder) {
	if b == nil {
		return
	}
	f.types[b.t.Type] = true
	if b.t.Name != "" {
		f.names[nameKey(b.t.Schema, b.t.Name)] = true
	}
}

// addTables adds the batch's tables by type and name, refusing a second
// table of the same name; it returns the builders that were added.
func (s *snapshot) addTables(batch []*builder, errs []error, failed *failures) ([]*builder, []error) {
	ok := batch[:0:0]
	for _, b := range batch {
		t := b.t
		key := nameKey(t.Schema, t.Name)
		if other, dup := s.byName[key]; dup {
			errs = append(errs, &Error{Struct: t.goName, Err: fmt.Errorf("%w: table %s is also declared by %s", ErrName, key, other.goName)})
			failed.types[t.Type] = true
			continue
		}
		s.byName[key] = t
		s.byType[t.Type] = t
		s.tables = append(s.tables, t)
		ok = append(ok, b)
	}
	return ok, errs
}

// addEnums records the batch's enum types: one type per schema and name,
// with one set of values.
func (s *snapshot) addEnums(batch []*builder, errs []error) []error {
	for _, b := range batch {
		for i, et := range b.t.Enums {
			key := nameKey(et.Schema, et.Name)
			if prev, ok := s.enums[key]; ok {
				if !slices.Equal(prev.Values, et.Values) {
					errs = append(errs, &Error{Struct: b.t.goName, Err: fmt.Errorf("%w: enum %s declared by %s and %s with different values", ErrBadEnum, key, prev.GoType, et.GoType)})
					continue
				}
				b.t.Enums[i] = prev
				for _, c := range b.t.Columns {
					if c.Enum == et {
						c.Enum = prev
					}
				}
				continue
			}
			s.enums[key] = et
		}
	}
	return errs
}

// resolveFKs resolves the batch's foreign keys; it returns the builders
// whose keys all resolved. A key to a model that failed is left out
// silently (that model's error is reported).
func (s *snapshot) resolveFKs(batch []*builder, errs []error, failed *failures) ([]*builder, []error) {
	ok := batch[:0:0]
	for _, b := range batch {
		good := true
		for _, fk := range b.fks {
			if s.refersToFailed(b.t, fk, failed) {
				good = false
				continue
			}
			if err := s.resolveFK(b, fk); err != nil {
				errs = append(errs, &Error{Struct: b.t.goName, Field: fk.field, Err: err})
				good = false
			}
		}
		if good {
			ok = append(ok, b)
		} else {
			failed.add(b)
		}
	}
	return ok, errs
}

// refersToFailed reports whether fk points at a table of the batch that
// failed.
func (s *snapshot) refersToFailed(from *Table, fk *pendingFK, failed *failures) bool {
	if _, found := s.findTable(from, fk.refSchema, fk.refTable); found {
		return false
	}
	if fk.refSchema != "" {
		return failed.names[nameKey(fk.refSchema, fk.refTable)]
	}
	return failed.names[nameKey(from.Schema, fk.refTable)] || failed.names[nameKey("", fk.refTable)]
}

// resolveRels resolves the batch's relationships; belongs-to first, as it
// may add foreign keys that has-many and many-to-many look for.
func (s *snapshot) resolveRels(batch []*builder, errs []error, failed *failures) ([]*builder, []error) {
	bad := map[*builder]bool{}
	for _, kind := range []RelationKind{BelongsTo, HasMany, ManyToMany} {
		for _, b := range batch {
			for _, p := range b.rels {
				if p.rel.Kind != kind {
					continue
				}
				if failed.types[p.target] {
					bad[b] = true
					continue
				}
				if err := s.resolveRel(b, p); err != nil {
					errs = append(errs, &Error{Struct: b.t.goName, Field: p.rel.Field, Err: err})
					bad[b] = true
				}
			}
		}
	}
	ok := batch[:0:0]
	for _, b := range batch {
		if !bad[b] {
			ok = append(ok, b)
		}
	}
	return ok, errs
}

// findTable resolves a referenced table: an explicit schema, else the
// referencing table's schema, else public.
func (s *snapshot) findTable(from *Table, schema, name string) (*Table, bool) {
	if schema != "" {
		t, ok := s.byName[nameKey(schema, name)]
		return t, ok
	}
	if t, ok := s.byName[nameKey(from.Schema, name)]; ok {
		return t, true
	}
	t, ok := s.byName[nameKey("", name)]
	return t, ok
}

func (s *snapshot) resolveFK(b *builder, p *pendingFK) error {
	t := b.t
	target, ok := s.findTable(t, p.refSchema, p.refTable)
	if !ok {
		return fmt.Errorf("%w: foreign key to unknown table %q", ErrUnknownReference, strings.TrimPrefix(p.refSchema+"."+p.refTable, "."))
	}
	var refCols []*Column
	if len(p.refColumns) == 0 {
		refCols = target.PrimaryKey.Columns
	} else {
		for _, n := range p.refColumns {
			c, ok := target.byColumn[n]
			if !ok {
				return fmt.Errorf("%w: foreign key to unknown column %s.%s", ErrUnknownReference, target.Name, n)
			}
			refCols = append(refCols, c)
		}
	}
	return addFK(b.t, b.naming, p, target, refCols)
}

// addFK validates and records a foreign key on t.
func addFK(t *Table, naming Naming, p *pendingFK, target *Table, refCols []*Column) error {
	if len(refCols) != len(p.columns) {
		return fmt.Errorf("%w: foreign key has %d columns but %s has %d", ErrUnknownReference, len(p.columns), target.Name, len(refCols))
	}
	if !isKey(target, refCols) {
		return fmt.Errorf("%w: %s(%s) is not the primary key or a unique constraint (unique indexes, such as a soft-deleting table's partial ones, and deferrable uniques cannot be referenced)",
			ErrUnknownReference, target.Name, strings.Join(columnNames(refCols), ", "))
	}
	for _, c := range p.columns {
		if (p.onDelete == SetNull || p.onUpdate == SetNull) && !c.Nullable {
			return fmt.Errorf("%w: SET NULL on NOT NULL column %q", ErrBadTag, c.Name)
		}
	}
	fk := &Constraint{
		Table: t, Kind: ForeignKey, Columns: p.columns, RefTable: target, RefColumns: refCols,
		OnDelete: p.onDelete, OnUpdate: p.onUpdate, Deferrable: p.deferrable, InitiallyDeferred: p.deferred,
	}
	fk.Name = p.name
	if fk.Name == "" {
		fk.Name = ShortenName(naming.ForeignKey(t.Name, columnNames(p.columns)))
	} else if err := checkName("constraint", fk.Name); err != nil {
		return err
	}
	fk.QuotedName = quote.Ident(fk.Name)
	t.ForeignKeys = append(t.ForeignKeys, fk)
	return nil
}

// isKey reports whether cols are t's primary key or a unique constraint.
// Unique indexes do not count: the emitter creates them after the tables,
// and partial ones can never be referenced.
func isKey(t *Table, cols []*Column) bool {
	if slices.Equal(t.PrimaryKey.Columns, cols) {
		return true
	}
	for _, u := range t.Uniques {
		if !u.AsIndex && !u.Deferrable && slices.Equal(u.Columns, cols) {
			return true
		}
	}
	return false
}

func (s *snapshot) resolveRel(b *builder, p *pendingRel) error {
	t, rel := b.t, p.rel
	target, ok := s.byType[p.target]
	if !ok {
		return fmt.Errorf("%w: %s model %s is not registered", ErrUnknownReference, rel.Kind, p.target)
	}
	rel.Target = target
	switch rel.Kind {
	case BelongsTo:
		col, ok := t.byColumn[p.value]
		if !ok {
			return fmt.Errorf("%w: belongs_to join column %q", ErrUnknownColumn, p.value)
		}
		if fk := fkOn(t, col, nil); fk != nil {
			if fk.RefTable != target {
				return fmt.Errorf("%w: column %q references %s, not %s", ErrUnknownReference, col.Name, fk.RefTable.Name, target.Name)
			}
			if p.onDelete != "" || p.onUpdate != "" {
				return fmt.Errorf("%w: ondelete/onupdate belong on the fk tag of %q", ErrBadTag, col.Name)
			}
			rel.ForeignKey = fk
			break
		}
		pf := &pendingFK{columns: []*Column{col}, onDelete: p.onDelete, onUpdate: p.onUpdate}
		if err := addFK(t, b.naming, pf, target, target.PrimaryKey.Columns); err != nil {
			return err
		}
		rel.ForeignKey = t.ForeignKeys[len(t.ForeignKeys)-1]
	case HasMany:
		join := p.value
		if join == "" {
			join = t.Name + "_id"
		}
		col, ok := target.byColumn[join]
		if !ok {
			return fmt.Errorf("%w: has_many join column %s.%s", ErrUnknownColumn, target.Name, join)
		}
		rel.ForeignKey = fkOn(target, col, t)
		if rel.ForeignKey == nil {
			return fmt.Errorf("%w: %s.%s has no foreign key to %s", ErrUnknownReference, target.Name, join, t.Name)
		}
	case ManyToMany:
		name, schema := p.value, ""
		if i := strings.IndexByte(name, '.'); i >= 0 {
			schema, name = name[:i], name[i+1:]
		}
		through, ok := s.findTable(t, schema, name)
		if !ok {
			return fmt.Errorf("%w: many_to_many association table %q is not registered", ErrUnknownReference, p.value)
		}
		rel.Through = through
		var here, there []*Constraint
		for _, fk := range through.ForeignKeys {
			if fk.RefTable == t {
				here = append(here, fk)
			}
			if fk.RefTable == target {
				there = append(there, fk)
			}
		}
		if len(here) != 1 || len(there) != 1 || here[0] == there[0] {
			return fmt.Errorf("%w: association table %s needs exactly one foreign key to %s and one to %s", ErrUnknownReference, through.Name, t.Name, target.Name)
		}
		rel.ForeignKey, rel.TargetForeignKey = here[0], there[0]
	}
	t.Relations = append(t.Relations, rel)
	return nil
}

// fkOn returns the single-column foreign key of t on col (to target, when
// target is not nil).
func fkOn(t *Table, col *Column, target *Table) *Constraint {
	for _, fk := range t.ForeignKeys {
		if len(fk.Columns) == 1 && fk.Columns[0] == col && (target == nil || fk.RefTable == target) {
			return fk
		}
	}
	return nil
}

// index records t's constraints for lookup by name, checking that names
// are unique: per table for all constraints, and per schema for the
// primary key, unique constraints and indexes, which PostgreSQL keeps in
// the same namespace as tables.
func (s *snapshot) index(t *Table) []error {
	var errs []error
	add := func(c *Constraint) {
		if _, dup := t.constraints[c.Name]; dup {
			errs = append(errs, &Error{Struct: t.goName, Err: fmt.Errorf("%w: constraint name %q used twice", ErrName, c.Name)})
			return
		}
		t.constraints[c.Name] = c
		key := nameKey(t.Schema, c.Name)
		if other, dup := s.constraints[key]; dup {
			errs = append(errs, &Error{Struct: t.goName, Err: fmt.Errorf("%w: constraint name %q is also used by %s", ErrName, c.Name, other.Table.goName)})
			return
		}
		s.constraints[key] = c
	}
	add(t.PrimaryKey)
	for _, list := range [][]*Constraint{t.Uniques, t.Checks, t.ForeignKeys, t.Exclusions} {
		for _, c := range list {
			add(c)
		}
	}
	relNames := map[string]bool{}
	for _, c := range append(append([]*Constraint{t.PrimaryKey}, t.Uniques...), t.Exclusions...) {
		relNames[c.Name] = true
	}
	for _, ix := range t.Indexes {
		key := nameKey(t.Schema, ix.Name)
		if relNames[ix.Name] || s.constraints[key] != nil || s.indexes[key] != nil {
			errs = append(errs, &Error{Struct: t.goName, Err: fmt.Errorf("%w: index name %q is already used", ErrName, ix.Name)})
		}
		relNames[ix.Name] = true
		s.indexes[key] = ix
	}
	for _, c := range t.Uniques {
		if other := s.indexes[nameKey(t.Schema, c.Name)]; other != nil {
			errs = append(errs, &Error{Struct: t.goName, Err: fmt.Errorf("%w: constraint name %q is also an index of %s", ErrName, c.Name, other.Table.goName)})
		}
	}
	for n := range relNames {
		if other, dup := s.byName[nameKey(t.Schema, n)]; dup {
			errs = append(errs, &Error{Struct: t.goName, Err: fmt.Errorf("%w: constraint or index name %q is the name of table %s", ErrName, n, other.goName)})
		}
	}
	return errs
}

// Table returns the metadata of a registered struct type (or pointer to
// one). It takes no lock and does not allocate.
func (r *Registry) Table(typ reflect.Type) (*Table, bool) {
	if typ != nil && typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	t, ok := r.snap.Load().byType[typ]
	return t, ok
}

// TableOf returns the metadata of the registered model T, or an error
// wrapping [ErrNotRegistered]. It does not allocate when T is registered.
func TableOf[T any](r *Registry) (*Table, error) {
	if t, ok := r.snap.Load().byType[reflect.TypeFor[T]()]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotRegistered, reflect.TypeFor[T]())
}

// TableNamed returns the registered table with the given schema and name;
// the empty schema and public are the same.
func (r *Registry) TableNamed(schema, name string) (*Table, bool) {
	t, ok := r.snap.Load().byName[nameKey(schema, name)]
	return t, ok
}

// Constraint returns the constraint — or unique index — of that name in
// that schema (the empty schema and public are the same), as reported in a
// PostgreSQL error's SchemaName and ConstraintName; its Table and Columns
// name the model and fields involved.
func (r *Registry) Constraint(schema, name string) (*Constraint, bool) {
	c, ok := r.snap.Load().constraints[nameKey(schema, name)]
	return c, ok
}

// EnumTypeNames returns, sorted, the names of the registered enum types and
// of their array types (schema.name and schema._name, or name and _name
// for an unqualified enum), as pgx's Conn.LoadTypes takes them. pgx sends
// and reads a single enum value as text without help, but an array of enum
// values needs the types registered on the connection:
//
//	loaded, err := conn.LoadTypes(ctx, reg.EnumTypeNames())
//	…
//	conn.TypeMap().RegisterTypes(loaded)
//
// (with a pool, in its AfterConnect hook).
func (r *Registry) EnumTypeNames() []string {
	var names []string
	for _, et := range r.snap.Load().enums {
		prefix := ""
		if et.Schema != "" {
			prefix = et.Schema + "."
		}
		names = append(names, prefix+et.Name, prefix+"_"+et.Name)
	}
	slices.Sort(names)
	return names
}

// Tables returns the registered tables in registration order.
func (r *Registry) Tables() []*Table { return slices.Clone(r.snap.Load().tables) }

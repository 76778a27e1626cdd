package model

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/types"
)

var baseModelType = reflect.TypeFor[BaseModel]()

// pendingFK is a foreign key whose target is resolved once the whole batch
// of models is known.
type pendingFK struct {
	field      string
	name       string // explicit name; empty for the convention
	columns    []*Column
	refSchema  string
	refTable   string
	refColumns []string // empty: the target's primary key
	onDelete   Action
	onUpdate   Action
	deferrable bool
	deferred   bool // INITIALLY DEFERRED
}

// pendingRel is a relationship field resolved once the batch is known.
type pendingRel struct {
	rel      *Relation
	target   reflect.Type
	value    string // the tag value: join column or association table
	onDelete Action
	onUpdate Action
}

// group collects the columns of a composite unique constraint or index
// declared by field tags.
type group struct {
	key     string
	columns []*Column
	using   string
	unique  bool
	field   string
	// deferrable and deferred (INITIALLY DEFERRED) for a unique group.
	deferrable, deferred bool
}

type enumRef struct {
	col   *Column
	typ   reflect.Type
	array bool
	field string
}

type domainRef struct {
	col   *Column
	typ   reflect.Type
	field string
}

type checkRef struct {
	name, expr, field string
}

// builder reflects one struct type into a Table.
type builder struct {
	naming   Naming
	t        *Table
	errs     []error
	fks      []*pendingFK
	rels     []*pendingRel
	groups   []*group // unique and index groups in order of appearance
	checks   []checkRef
	enums    []enumRef
	domains  []domainRef
	tableTag bool
}

func (b *builder) fail(field string, err error) {
	b.errs = append(b.errs, &Error{Struct: b.t.goName, Field: field, Err: err})
}

// build reflects typ into a Table. Foreign keys and relationships stay
// pending; names of constraints are assigned here except for foreign keys.
// On error it still returns the builder, whose table has its Type and, as
// far as known, its Schema and Name.
func build(typ reflect.Type, naming Naming) (*builder, error) {
	t := &Table{Type: typ, ptrType: reflect.PointerTo(typ), goName: typ.String(), byColumn: map[string]*Column{}}
	b := &builder{naming: naming, t: t}
	b.walk(typ, nil, 0, "", true)
	if len(b.errs) > 0 {
		if t.Name == "" {
			t.Name = SnakeCase(typ.Name())
		}
		return b, errors.Join(b.errs...)
	}
	b.finish()
	if len(b.errs) > 0 {
		return b, errors.Join(b.errs...)
	}
	return b, nil
}

func (b *builder) walk(typ reflect.Type, index []int, offset uintptr, path string, top bool) {
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		idx := append(slices.Clone(index), i)
		fpath := f.Name
		if path != "" {
			fpath = path + "." + f.Name
		}
		tagStr, hasTag := f.Tag.Lookup("uno")
		if f.Type == baseModelType {
			if !top {
				continue
			}
			if b.tableTag {
				b.fail(fpath, fmt.Errorf("%w: BaseModel embedded twice", ErrBadTag))
				continue
			}
			b.tableTag = true
			b.tableOptions(fpath, tagStr, f.Tag.Get("doc"))
			continue
		}
		if tagStr == "-" {
			continue
		}
		if f.Anonymous {
			ft := f.Type
			if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
				b.fail(fpath, fmt.Errorf("%w: embedded *%s: embed mixins by value", ErrUnknownType, ft.Elem()))
				continue
			}
			if ft.Kind() == reflect.Struct {
				if _, mapped := exactTypes[ft]; !mapped && !ft.Implements(jsonbMarker) {
					if hasTag {
						b.fail(fpath, fmt.Errorf("%w: an embedded struct takes no uno tag but \"-\"", ErrBadTag))
						continue
					}
					b.walk(ft, idx, offset+f.Offset, fpath, false)
					continue
				}
			}
		}
		if !f.IsExported() {
			if hasTag {
				b.fail(fpath, fmt.Errorf("%w: unexported field has a uno tag", ErrBadTag))
			}
			continue
		}
		tag, err := ParseFieldTag(tagStr)
		if err != nil {
			b.fail(fpath, err)
			continue
		}
		if tag.Has("belongs_to") || tag.Has("has_many") || tag.Has("many_to_many") {
			b.relation(f, idx, offset+f.Offset, fpath, tag)
			continue
		}
		b.column(f, idx, offset+f.Offset, fpath, tag)
	}
}

func (b *builder) tableOptions(field, tagStr, doc string) {
	tag, err := ParseTableTag(tagStr)
	if err != nil {
		b.fail(field, err)
		return
	}
	if o, ok := tag.Lookup("table"); ok {
		b.t.Name = o.Value
	}
	if o, ok := tag.Lookup("schema"); ok {
		if err := checkName("schema", o.Value); err != nil {
			b.fail(field, err)
		}
		b.t.Schema = o.Value
	}
	b.t.Comment = doc
}

func checkName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty %s name", ErrName, what)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %s name %q is %d bytes, over PostgreSQL's %d", ErrName, what, name, len(name), MaxNameLen)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%w: NUL byte in %s name", ErrName, what)
	}
	return nil
}

// integerTypes are the SQL spellings of integer types, which may be
// identity columns.
var integerTypes = map[string]bool{
	"SMALLINT": true, "INTEGER": true, "BIGINT": true, "INT": true, "INT2": true, "INT4": true, "INT8": true,
}

var relationOnly = []string{"belongs_to", "has_many", "many_to_many"}

func parseAction(o TagOption) (Action, error) {
	switch strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(o.Value, " ", ""), "_", "")) {
	case "cascade":
		return Cascade, nil
	case "restrict":
		return Restrict, nil
	case "setnull":
		return SetNull, nil
	case "setdefault":
		return SetDefault, nil
	case "noaction":
		return NoAction, nil
	}
	return "", fmt.Errorf("%w: %s:%s is not cascade, restrict, setnull, setdefault or noaction", ErrBadTag, o.Key, o.Value)
}

// column turns one struct field into a column of the table, step by step:
// its name, its SQL type, nullability and key, generation (default or
// identity), the constraints its tag declares (check, unique, index,
// foreign key), and finally its place in the table. A step that fails
// records the error and stops the field.
func (b *builder) column(f reflect.StructField, idx []int, offset uintptr, fpath string, tag Tag) {
	c := &Column{
		Table: b.t, Name: tag.Name, Field: fpath, Index: idx, Offset: offset, GoType: f.Type,
		Comment: f.Tag.Get("doc"), access: accessOf(f.Type),
	}
	if !b.columnName(c, f) {
		return
	}
	m, ok := b.columnType(c, f, tag)
	if !ok || !b.columnNullability(c, f, tag, m) || !b.columnGeneration(c, f, tag, m) ||
		!b.columnConstraints(c, tag) || !b.columnForeignKey(c, tag) {
		return
	}
	b.addColumn(c)
}

// columnName names the column (the tag's name, else the field's in snake
// case) and quotes it.
func (b *builder) columnName(c *Column, f reflect.StructField) bool {
	if c.Name == "" {
		c.Name = SnakeCase(f.Name)
	}
	if err := checkName("column", c.Name); err != nil {
		b.fail(c.Field, err)
		return false
	}
	c.QuotedName = quote.Ident(c.Name)
	return true
}

// columnType sets the SQL type: the tag's type option, else the mapping of
// the Go type; an enum is resolved in finish, once the schema is known.
// Relationship options on a column are refused here.
func (b *builder) columnType(c *Column, f reflect.StructField, tag Tag) (sqlMapping, bool) {
	var m sqlMapping
	if o, ok := tag.Lookup("type"); ok {
		m = sqlMapping{sqlType: o.Value, nullable: nilable(f.Type), integer: integerTypes[strings.ToUpper(o.Value)]}
	} else if dt := domainGoType(f.Type); dt != nil {
		// The domain's name depends on the schema: resolved in finish.
		m = sqlMapping{nullable: nilable(f.Type)}
		b.domains = append(b.domains, domainRef{col: c, typ: dt, field: c.Field})
	} else {
		var err error
		if m, err = mapGoType(f.Type); err != nil {
			b.fail(c.Field, err)
			return m, false
		}
	}
	c.SQLType = m.sqlType
	if m.enum != nil {
		b.enums = append(b.enums, enumRef{col: c, typ: m.enum, array: m.array, field: c.Field})
	}
	for _, k := range relationOnly {
		if tag.Has(k) {
			b.fail(c.Field, fmt.Errorf("%w: %s on a column", ErrBadTag, k))
			return m, false
		}
	}
	return m, true
}

// columnNullability applies the nullability rule (the Go type decides;
// notnull narrows it; null must agree with it) and pk.
func (b *builder) columnNullability(c *Column, f reflect.StructField, tag Tag, m sqlMapping) bool {
	pk, notnull, null := tag.Has("pk"), tag.Has("notnull"), tag.Has("null")
	switch {
	case notnull && null:
		b.fail(c.Field, fmt.Errorf("%w: both null and notnull", ErrBadTag))
		return false
	case pk && null:
		b.fail(c.Field, fmt.Errorf("%w: a primary key column cannot be null", ErrBadTag))
		return false
	case null && !m.nullable:
		b.fail(c.Field, fmt.Errorf("%w: %s cannot hold NULL; use a pointer or sql.Null", ErrNullability, f.Type))
		return false
	}
	c.Nullable = m.nullable && !notnull && !pk
	c.PrimaryKey = pk
	return true
}

// columnGeneration reads default, identity, serial, generated and
// collate: an identity or serial needs an integer type, and a column has
// at most one of default, identity, serial and generated; identity and
// serial make it NOT NULL.
func (b *builder) columnGeneration(c *Column, f reflect.StructField, tag Tag, m sqlMapping) bool {
	if o, ok := tag.Lookup("default"); ok {
		c.Default = o.Value
	}
	if o, ok := tag.Lookup("generated"); ok {
		c.Expression = o.Value
	}
	c.Serial = tag.Has("serial")
	if o, ok := tag.Lookup("collate"); ok {
		coll, err := collationSQL(o.Value)
		if err != nil {
			b.fail(c.Field, err)
			return false
		}
		c.Collation = coll
	}
	if o, ok := tag.Lookup("identity"); ok {
		switch strings.ToLower(o.Value) {
		case "", "bydefault", "by default":
			c.Identity = "BY DEFAULT"
		case "always":
			c.Identity = "ALWAYS"
		default:
			b.fail(c.Field, fmt.Errorf("%w: identity:%s is not always or bydefault", ErrBadTag, o.Value))
			return false
		}
	}
	var set []string
	for _, k := range []string{"default", "identity", "serial", "generated"} {
		if tag.Has(k) {
			set = append(set, k)
		}
	}
	if len(set) > 1 {
		b.fail(c.Field, fmt.Errorf("%w: both %s and %s", ErrBadTag, set[0], set[1]))
		return false
	}
	if (c.Identity != "" || c.Serial) && !m.integer {
		b.fail(c.Field, fmt.Errorf("%w: %s on non-integer type %s", ErrBadTag, set[0], f.Type))
		return false
	}
	if c.Serial && serialType(c.SQLType) == "" {
		b.fail(c.Field, fmt.Errorf("%w: serial on type %s (smallint, integer or bigint)", ErrBadTag, c.SQLType))
		return false
	}
	if c.Identity != "" || c.Serial {
		c.Nullable = false
	}
	return true
}

// serialType returns the serial pseudo-type of an integer SQL type, or "".
func serialType(sqlType string) string {
	switch strings.ToUpper(sqlType) {
	case "SMALLINT", "INT2":
		return "SMALLSERIAL"
	case "INTEGER", "INT", "INT4":
		return "SERIAL"
	case "BIGINT", "INT8":
		return "BIGSERIAL"
	}
	return ""
}

// SerialType returns the serial pseudo-type (SMALLSERIAL, SERIAL or
// BIGSERIAL) a serial column is created with, or "" for another column.
func (c *Column) SerialType() string {
	if !c.Serial {
		return ""
	}
	return serialType(c.SQLType)
}

// quotedCollation matches a collation written as quoted SQL: "name" or
// "schema"."name".
var quotedCollation = regexp.MustCompile(`^"(?:[^"]|"")+"(?:\."(?:[^"]|"")+")?$`)

// collationSQL returns the SQL of a collate option: a bare name is quoted
// whole (so en_US.utf8 is one name, found on the search_path, where
// pg_catalog comes first); a value in double quotes ("s"."c") is taken as
// written.
func collationSQL(v string) (string, error) {
	if strings.HasPrefix(v, `"`) {
		if !quotedCollation.MatchString(v) {
			return "", fmt.Errorf("%w: collate:%s is neither a name nor \"name\" or \"schema\".\"name\"", ErrBadTag, v)
		}
		return v, nil
	}
	if err := checkName("collation", v); err != nil {
		return "", err
	}
	return quote.Ident(v), nil
}

// columnConstraints records the check, unique and index options: a
// unique or index without a value is a group of its own; with a value,
// the fields sharing it form one composite group.
func (b *builder) columnConstraints(c *Column, tag Tag) bool {
	if o, ok := tag.Lookup("check"); ok {
		b.checks = append(b.checks, checkRef{name: c.Name, expr: o.Value, field: c.Field})
	}
	using, hasUsing := tag.Lookup("using")
	_, hasUnique := tag.Lookup("unique")
	_, hasIndex := tag.Lookup("index")
	if hasUsing && !hasUnique && !hasIndex {
		b.fail(c.Field, fmt.Errorf("%w: using without index or unique", ErrBadTag))
		return false
	}
	deferrable, deferred, ok := b.deferrable(c, tag)
	if !ok {
		return false
	}
	for _, kind := range []string{"unique", "index"} {
		o, ok := tag.Lookup(kind)
		if !ok {
			continue
		}
		key := kind + "\x00"
		if o.HasValue {
			key += o.Value
		} else {
			key += "\x00" + c.Name // a group of its own
		}
		g := b.group(key, kind == "unique", c.Field)
		g.columns = append(g.columns, c)
		if hasUsing {
			g.using = using.Value
		}
		if kind == "unique" && deferrable {
			g.deferrable, g.deferred = true, g.deferred || deferred
		}
	}
	return true
}

// deferrable reads the deferrable option: "" or immediate for
// DEFERRABLE, deferred for DEFERRABLE INITIALLY DEFERRED. It applies to
// the unique and the foreign key the tag declares, and needs one of them.
func (b *builder) deferrable(c *Column, tag Tag) (deferrable, deferred, ok bool) {
	o, has := tag.Lookup("deferrable")
	if !has {
		return false, false, true
	}
	switch strings.ToLower(o.Value) {
	case "", "immediate":
	case "deferred":
		deferred = true
	default:
		b.fail(c.Field, fmt.Errorf("%w: deferrable:%s is not immediate or deferred", ErrBadTag, o.Value))
		return false, false, false
	}
	if !tag.Has("unique") && !tag.Has("fk") {
		b.fail(c.Field, fmt.Errorf("%w: deferrable without unique or fk", ErrBadTag))
		return false, false, false
	}
	return true, deferred, true
}

// columnForeignKey reads fk (table, table.column or schema.table.column)
// with its ondelete and onupdate actions; the target is resolved once the
// batch is known.
func (b *builder) columnForeignKey(c *Column, tag Tag) bool {
	fkOpt, hasFK := tag.Lookup("fk")
	for _, k := range []string{"ondelete", "onupdate"} {
		if tag.Has(k) && !hasFK {
			b.fail(c.Field, fmt.Errorf("%w: %s without fk", ErrBadTag, k))
			return false
		}
	}
	if !hasFK {
		return true
	}
	fk := &pendingFK{field: c.Field, columns: []*Column{c}}
	fk.deferrable, fk.deferred, _ = b.deferrable(c, tag)
	parts := strings.Split(fkOpt.Value, ".")
	switch len(parts) {
	case 1:
		fk.refTable = parts[0]
	case 2:
		fk.refTable, fk.refColumns = parts[0], []string{parts[1]}
	case 3:
		fk.refSchema, fk.refTable, fk.refColumns = parts[0], parts[1], []string{parts[2]}
	default:
		b.fail(c.Field, fmt.Errorf("%w: fk:%s is not table, table.column or schema.table.column", ErrBadTag, fkOpt.Value))
		return false
	}
	for _, p := range parts {
		if p == "" {
			b.fail(c.Field, fmt.Errorf("%w: fk:%s has an empty part", ErrBadTag, fkOpt.Value))
			return false
		}
	}
	for _, a := range []struct {
		key string
		dst *Action
	}{{"ondelete", &fk.onDelete}, {"onupdate", &fk.onUpdate}} {
		if o, ok := tag.Lookup(a.key); ok {
			act, err := parseAction(o)
			if err != nil {
				b.fail(c.Field, err)
				return false
			}
			*a.dst = act
		}
	}
	b.fks = append(b.fks, fk)
	return true
}

// addColumn gives the column its ordinal and adds it to the table, unless
// another field already took its name.
func (b *builder) addColumn(c *Column) {
	if _, dup := b.t.byColumn[c.Name]; dup {
		b.fail(c.Field, fmt.Errorf("%w: %q", ErrDuplicateColumn, c.Name))
		return
	}
	c.Ordinal = len(b.t.Columns)
	b.t.Columns = append(b.t.Columns, c)
	b.t.byColumn[c.Name] = c
}

func (b *builder) group(key string, unique bool, field string) *group {
	for _, g := range b.groups {
		if g.key == key {
			return g
		}
	}
	g := &group{key: key, unique: unique, field: field}
	b.groups = append(b.groups, g)
	return g
}

func (b *builder) relation(f reflect.StructField, idx []int, offset uintptr, fpath string, tag Tag) {
	rel := &Relation{Field: fpath, Index: idx, Offset: offset, GoType: f.Type}
	p := &pendingRel{rel: rel}
	n := 0
	for _, k := range relationOnly {
		if o, ok := tag.Lookup(k); ok {
			n++
			p.value = o.Value
			switch k {
			case "belongs_to":
				rel.Kind = BelongsTo
			case "has_many":
				rel.Kind = HasMany
			case "many_to_many":
				rel.Kind = ManyToMany
			}
		}
	}
	if n > 1 {
		b.fail(fpath, fmt.Errorf("%w: more than one relationship kind", ErrBadTag))
		return
	}
	for _, o := range tag.Options {
		switch o.Key {
		case "belongs_to", "has_many", "many_to_many":
		case "ondelete", "onupdate":
			if rel.Kind != BelongsTo {
				b.fail(fpath, fmt.Errorf("%w: %s on a %s relationship", ErrBadTag, o.Key, rel.Kind))
				return
			}
			a, err := parseAction(o)
			if err != nil {
				b.fail(fpath, err)
				return
			}
			if o.Key == "ondelete" {
				p.onDelete = a
			} else {
				p.onUpdate = a
			}
		default:
			b.fail(fpath, fmt.Errorf("%w: option %q on a relationship field", ErrBadTag, o.Key))
			return
		}
	}
	if tag.Name != "" {
		b.fail(fpath, fmt.Errorf("%w: a relationship field has no column name", ErrBadTag))
		return
	}
	t := f.Type
	switch rel.Kind {
	case BelongsTo:
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if p.value == "" {
			p.value = SnakeCase(f.Name) + "_id"
		}
	default:
		if t.Kind() != reflect.Slice {
			b.fail(fpath, fmt.Errorf("%w: %s field must be a slice, not %s", ErrBadTag, rel.Kind, f.Type))
			return
		}
		t = t.Elem()
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	if t.Kind() != reflect.Struct {
		b.fail(fpath, fmt.Errorf("%w: %s field of type %s does not hold a model", ErrBadTag, rel.Kind, f.Type))
		return
	}
	p.target = t
	b.rels = append(b.rels, p)
}

// finish completes the table once every field is read, step by step: its
// name, the enum types of its columns, the columns with a role (soft
// delete, tenant, generated, primary key), the unique constraints and
// indexes from tags and from TableDef, the tenant scoping and soft-delete
// predicates of the unique keys, the SQL configuration, the checks, and
// TableDef's foreign keys (resolved later, with the batch). A step that
// cannot go on records the error and ends the table.
func (b *builder) finish() {
	if !b.nameTable() {
		return
	}
	b.resolveEnums()
	b.resolveDomains()
	if !b.keyColumns() {
		return
	}
	def, ok := b.tableDefinition()
	if !ok {
		return
	}
	b.uniquesAndIndexes(def)
	b.scopeUniques(def)
	b.applySQLConfig()
	b.softDeleteUniques()
	b.checkDeferrable()
	b.addChecks(def)
	b.addExclusions(def)
	b.defForeignKeys(def)
	b.t.constraints = map[string]*Constraint{}
}

// nameTable names the table (the tag's table option, else the type's name
// in snake case), quotes it, and checks that it has columns.
func (b *builder) nameTable() bool {
	t := b.t
	if t.Name == "" {
		t.Name = SnakeCase(t.Type.Name())
	}
	if err := checkName("table", t.Name); err != nil {
		b.fail("", err)
		return false
	}
	t.QuotedName = quote.Qualified(t.Schema, t.Name)
	t.QualifiedName = quote.Qualified(schemaKey(t.Schema), t.Name)
	if len(t.Columns) == 0 {
		b.fail("", fmt.Errorf("%w: the model has no columns", ErrNoPrimaryKey))
		return false
	}
	return true
}

// resolveEnums reads the enum types of the enum columns, in the table's
// schema, and lists each type once.
func (b *builder) resolveEnums() {
	t := b.t
	for _, e := range b.enums {
		et, err := enumOf(e.typ, t.Schema)
		if err != nil {
			b.fail(e.field, err)
			continue
		}
		e.col.Enum = et
		e.col.SQLType = et.QuotedName
		if e.array {
			e.col.SQLType += "[]"
		}
		if !slices.ContainsFunc(t.Enums, func(x *EnumType) bool { return x.GoType == et.GoType }) {
			t.Enums = append(t.Enums, et)
		}
	}
}

// resolveDomains reads the domains of the domain columns, in the table's
// schema, and lists each once.
func (b *builder) resolveDomains() {
	t := b.t
	for _, d := range b.domains {
		dt, err := domainOf(d.typ, t.Schema)
		if err != nil {
			b.fail(d.field, err)
			continue
		}
		d.col.Domain, d.col.SQLType = dt, dt.QuotedName
		if !slices.ContainsFunc(t.Domains, func(x *DomainType) bool { return x.GoType == dt.GoType }) {
			t.Domains = append(t.Domains, dt)
		}
	}
}

// keyColumns finds the columns with a role: is_deleted (soft delete),
// tenant_id, the generated ones and the primary key, which is required.
func (b *builder) keyColumns() bool {
	t := b.t
	if c, ok := t.byColumn["is_deleted"]; ok && c.SQLType == "BOOLEAN" {
		t.SoftDelete, t.DeletedColumn = true, c
	}
	if c, ok := t.byColumn["tenant_id"]; ok {
		t.TenantColumn = c
	}
	var pk []*Column
	for _, c := range t.Columns {
		if c.PrimaryKey {
			pk = append(pk, c)
		}
		if c.Generated() {
			t.Generated = append(t.Generated, c)
		}
	}
	if len(pk) == 0 {
		b.fail("", fmt.Errorf("%w: tag a field pk or embed model.ULIDKey", ErrNoPrimaryKey))
		return false
	}
	t.PrimaryKey = b.constraint(PrimaryKey, "", b.naming.PrimaryKey(t.Name), pk)
	return true
}

// tableDefinition returns the model's TableDef, or the zero one.
func (b *builder) tableDefinition() (TableDef, bool) {
	d, err := tableDef(b.t.Type)
	if err != nil {
		b.fail("", err)
		return TableDef{}, false
	}
	if d == nil {
		return TableDef{}, true
	}
	return *d, true
}

// uniquesAndIndexes builds the unique constraints and indexes of the tag
// groups, then those of TableDef.
func (b *builder) uniquesAndIndexes(def TableDef) {
	t := b.t
	for _, g := range b.groups {
		names := columnNames(g.columns)
		if g.unique {
			u := b.constraint(Unique, "", b.naming.Unique(t.Name, names), g.columns)
			u.Using = g.using
			u.AsIndex = g.using != ""
			u.Deferrable, u.InitiallyDeferred = g.deferrable, g.deferred
			t.Uniques = append(t.Uniques, u)
		} else {
			t.Indexes = append(t.Indexes, b.index("", b.naming.Index(t.Name, names), g.columns, g.using, ""))
		}
	}
	for _, u := range def.Uniques {
		cols := b.columns(u.Columns, "TableDef.Uniques")
		if cols == nil {
			continue
		}
		c := b.constraint(Unique, u.Name, b.naming.Unique(t.Name, u.Columns), cols)
		c.Where, c.AsIndex = u.Where, u.Where != ""
		c.Deferrable, c.InitiallyDeferred = u.Deferrable || u.InitiallyDeferred, u.InitiallyDeferred
		t.Uniques = append(t.Uniques, c)
	}
	for _, ix := range def.Indexes {
		if len(ix.Expressions) > 0 {
			b.expressionIndex(ix)
			continue
		}
		cols := b.columns(ix.Columns, "TableDef.Indexes")
		if cols == nil {
			continue
		}
		if ix.Unique {
			c := b.constraint(Unique, ix.Name, b.naming.Unique(t.Name, ix.Columns), cols)
			c.Where, c.Using, c.AsIndex = ix.Where, ix.Using, true
			t.Uniques = append(t.Uniques, c)
			continue
		}
		t.Indexes = append(t.Indexes, b.index(ix.Name, b.naming.Index(t.Name, ix.Columns), cols, ix.Using, ix.Where))
	}
}

// expressionIndex builds an index of TableDef with expressions: it needs
// a name (the convention names columns) and cannot be unique.
func (b *builder) expressionIndex(ix IndexDef) {
	t := b.t
	if ix.Name == "" || ix.Unique {
		b.fail("", fmt.Errorf("%w: TableDef.Indexes entry with Expressions needs a Name and cannot be Unique", ErrBadTag))
		return
	}
	var cols []*Column
	if len(ix.Columns) > 0 {
		if cols = b.columns(ix.Columns, "TableDef.Indexes"); cols == nil {
			return
		}
	}
	for _, e := range ix.Expressions {
		if strings.TrimSpace(e) == "" || strings.ContainsRune(e, 0) {
			b.fail("", fmt.Errorf("%w: TableDef.Indexes %s has an empty expression or a NUL byte", ErrBadTag, ix.Name))
			return
		}
	}
	x := b.index(ix.Name, "", cols, ix.Using, ix.Where)
	x.Expressions = slices.Clone(ix.Expressions)
	t.Indexes = append(t.Indexes, x)
}

// addExclusions builds the exclusion constraints of TableDef.
func (b *builder) addExclusions(def TableDef) {
	t := b.t
	for _, x := range def.Excludes {
		if x.Name == "" || len(x.Elements) == 0 {
			b.fail("", fmt.Errorf("%w: TableDef.Excludes needs a name and elements", ErrBadTag))
			continue
		}
		bad := slices.ContainsFunc(x.Elements, func(e string) bool { return strings.TrimSpace(e) == "" || strings.ContainsRune(e, 0) })
		if bad || strings.ContainsRune(x.Where, 0) || strings.ContainsRune(x.Using, 0) {
			b.fail("", fmt.Errorf("%w: TableDef.Excludes %s has an empty element or a NUL byte", ErrBadTag, x.Name))
			continue
		}
		c := b.constraint(Exclusion, x.Name, "", nil)
		c.Using, c.Elements, c.Where = x.Using, slices.Clone(x.Elements), x.Where
		if c.Using == "" {
			c.Using = "gist"
		}
		t.Exclusions = append(t.Exclusions, c)
	}
}

// checkDeferrable refuses a deferrable unique that is emitted as an index
// (partial, with a method, or soft-deleting): indexes cannot be deferred.
func (b *builder) checkDeferrable() {
	for _, u := range b.t.Uniques {
		if u.Deferrable && u.AsIndex {
			b.fail("", fmt.Errorf("%w: unique %s is a unique index (partial, with a method or soft-deleting) and cannot be deferrable", ErrBadTag, u.Name))
		}
	}
}

// scopeUniques puts tenant_id first in each unique key of a tenant model
// (unless UniqueAcrossTenants), so keys are unique per tenant.
func (b *builder) scopeUniques(def TableDef) {
	t := b.t
	if t.TenantColumn == nil || def.UniqueAcrossTenants {
		return
	}
	for _, u := range t.Uniques {
		if !slices.Contains(u.Columns, t.TenantColumn) {
			u.Columns = append([]*Column{t.TenantColumn}, u.Columns...)
		}
	}
}

// applySQLConfig reads the model's SQLConfig and checks it against the
// columns.
func (b *builder) applySQLConfig() {
	cfg, err := sqlConfig(b.t.Type)
	if err != nil {
		b.fail("", err)
		return
	}
	b.t.SQL = cfg
	b.checkSQLConfig()
}

// softDeleteUniques makes every unique key of a soft-deleting table a
// partial unique index over the rows not deleted.
func (b *builder) softDeleteUniques() {
	t := b.t
	if !t.SoftDelete {
		return
	}
	for _, u := range t.Uniques {
		pred := "NOT " + t.DeletedColumn.QuotedName
		if u.Where != "" {
			pred = "(" + u.Where + ") AND " + pred
		}
		u.Where, u.AsIndex = pred, true
	}
}

// addChecks builds the check constraints of the tags and of TableDef.
func (b *builder) addChecks(def TableDef) {
	t := b.t
	for _, ck := range b.checks {
		c := b.constraint(Check, "", b.naming.Check(t.Name, ck.name), nil)
		c.Check = ck.expr
		t.Checks = append(t.Checks, c)
	}
	for _, ck := range def.Checks {
		if ck.Name == "" || ck.Expr == "" {
			b.fail("", fmt.Errorf("%w: TableDef.Checks needs a name and an expression", ErrBadTag))
			continue
		}
		c := b.constraint(Check, "", b.naming.Check(t.Name, ck.Name), nil)
		c.Check = ck.Expr
		t.Checks = append(t.Checks, c)
	}
}

// defForeignKeys records TableDef's foreign keys as pending, checking
// their actions.
func (b *builder) defForeignKeys(def TableDef) {
	for _, fk := range def.ForeignKeys {
		cols := b.columns(fk.Columns, "TableDef.ForeignKeys")
		if cols == nil {
			continue
		}
		p := &pendingFK{field: "", name: fk.Name, columns: cols, refTable: fk.RefTable, refColumns: fk.RefColumns,
			onDelete: fk.OnDelete, onUpdate: fk.OnUpdate, deferrable: fk.Deferrable || fk.InitiallyDeferred, deferred: fk.InitiallyDeferred}
		if i := strings.IndexByte(fk.RefTable, '.'); i >= 0 {
			p.refSchema, p.refTable = fk.RefTable[:i], fk.RefTable[i+1:]
		}
		for _, a := range []Action{fk.OnDelete, fk.OnUpdate} {
			switch a {
			case "", NoAction, Restrict, Cascade, SetNull, SetDefault:
			default:
				b.fail("", fmt.Errorf("%w: foreign key action %q", ErrBadTag, a))
			}
		}
		b.fks = append(b.fks, p)
	}
}

func columnNames(cols []*Column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names
}

// columns resolves column names of a TableDef entry.
func (b *builder) columns(names []string, where string) []*Column {
	if len(names) == 0 {
		b.fail("", fmt.Errorf("%w: %s entry without columns", ErrBadTag, where))
		return nil
	}
	cols := make([]*Column, 0, len(names))
	for _, n := range names {
		c, ok := b.t.byColumn[n]
		if !ok {
			b.fail("", fmt.Errorf("%w: %s names column %q", ErrUnknownColumn, where, n))
			return nil
		}
		cols = append(cols, c)
	}
	return cols
}

// finalName returns an explicit name (checked) or the shortened
// convention name.
func (b *builder) finalName(explicit, convention string) string {
	if explicit != "" {
		if err := checkName("constraint", explicit); err != nil {
			b.fail("", err)
		}
		return explicit
	}
	return ShortenName(convention)
}

func (b *builder) constraint(kind ConstraintKind, explicit, convention string, cols []*Column) *Constraint {
	name := b.finalName(explicit, convention)
	return &Constraint{Table: b.t, Kind: kind, Name: name, QuotedName: quote.Ident(name), Columns: cols}
}

func (b *builder) index(explicit, convention string, cols []*Column, using, where string) *Index {
	name := b.finalName(explicit, convention)
	return &Index{Table: b.t, Name: name, QuotedName: quote.Ident(name), Columns: cols, Using: using, Where: where}
}

// tableDef calls TableDef on the zero value of a model implementing
// TableDefiner, turning a panic into an error.
func tableDef(typ reflect.Type) (def *TableDef, err error) {
	var v any
	switch {
	case typ.Implements(reflect.TypeFor[TableDefiner]()):
		v = reflect.Zero(typ).Interface()
	case reflect.PointerTo(typ).Implements(reflect.TypeFor[TableDefiner]()):
		v = reflect.New(typ).Interface()
	default:
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			def, err = nil, fmt.Errorf("%w: TableDef panicked: %v", ErrBadTag, r)
		}
	}()
	d := v.(TableDefiner).TableDef()
	return &d, nil
}

// sqlConfig calls SQLConfig on the zero value of a model implementing
// SQLConfiger, turning a panic into an error.
func sqlConfig(typ reflect.Type) (cfg SQLConfig, err error) {
	var v any
	switch {
	case typ.Implements(reflect.TypeFor[SQLConfiger]()):
		v = reflect.Zero(typ).Interface()
	case reflect.PointerTo(typ).Implements(reflect.TypeFor[SQLConfiger]()):
		v = reflect.New(typ).Interface()
	default:
		return cfg, nil
	}
	defer func() {
		if r := recover(); r != nil {
			cfg, err = SQLConfig{}, fmt.Errorf("%w: SQLConfig panicked: %v", ErrBadTag, r)
		}
	}()
	cfg = v.(SQLConfiger).SQLConfig()
	cfg.Emitters = slices.Clone(cfg.Emitters)
	return cfg, nil
}

// checkSQLConfig checks that the SQL configuration fits the columns.
func (b *builder) checkSQLConfig() {
	t := b.t
	cfg := t.SQL
	if cfg.DeleteSoftly && !t.SoftDelete {
		b.fail("", fmt.Errorf("%w: SQLConfig.DeleteSoftly needs a BOOLEAN is_deleted column (embed model.RecordStatus)", ErrBadTag))
	}
	if cfg.RequireUser {
		if _, ok := t.byColumn["created_by_id"]; !ok {
			b.fail("", fmt.Errorf("%w: SQLConfig.RequireUser needs the user audit columns (embed model.UserAudit)", ErrBadTag))
		}
	}
	seen := map[string]bool{}
	for _, n := range cfg.Emitters {
		switch {
		case n == "":
			b.fail("", fmt.Errorf("%w: SQLConfig.Emitters holds an empty name", ErrBadTag))
		case seen[n]:
			b.fail("", fmt.Errorf("%w: SQLConfig.Emitters repeats %q", ErrBadTag, n))
		}
		seen[n] = true
	}
}

// enumOf reads the values of an enum Go type.
func enumOf(typ reflect.Type, schema string) (et *EnumType, err error) {
	var v any
	if typ.Implements(enumIface) {
		v = reflect.Zero(typ).Interface()
	} else {
		v = reflect.New(typ).Interface()
	}
	defer func() {
		if r := recover(); r != nil {
			et, err = nil, fmt.Errorf("%w: %s.EnumValues panicked: %v", ErrBadEnum, typ, r)
		}
	}()
	et = &EnumType{GoType: typ, Schema: schema, Name: SnakeCase(typ.Name())}
	if n, ok := v.(types.EnumNamer); ok {
		et.Name = n.EnumName()
	}
	if err := checkName("enum", et.Name); err != nil {
		return nil, err
	}
	if len(et.Name) == MaxNameLen {
		// PostgreSQL names the array type _name, which must fit too.
		return nil, fmt.Errorf("%w: enum name %q leaves no room for its array type _%s", ErrName, et.Name, et.Name)
	}
	et.QuotedName = quote.Qualified(schema, et.Name)
	et.QualifiedName = quote.Qualified(schemaKey(schema), et.Name)
	et.Values = slices.Clone(v.(types.Enum).EnumValues())
	if len(et.Values) == 0 {
		return nil, fmt.Errorf("%w: enum %s (%s) has no values", ErrBadEnum, et.Name, typ)
	}
	seen := map[string]bool{}
	for _, val := range et.Values {
		switch {
		case val == "":
			return nil, fmt.Errorf("%w: enum %s has an empty value", ErrBadEnum, et.Name)
		case len(val) > MaxNameLen:
			return nil, fmt.Errorf("%w: enum %s value %q is over %d bytes", ErrBadEnum, et.Name, val, MaxNameLen)
		case strings.ContainsRune(val, 0):
			return nil, fmt.Errorf("%w: enum %s value holds a NUL byte", ErrBadEnum, et.Name)
		case seen[val]:
			return nil, fmt.Errorf("%w: enum %s repeats value %q", ErrBadEnum, et.Name, val)
		}
		seen[val] = true
	}
	return et, nil
}

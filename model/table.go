package model

import (
	"fmt"
	"reflect"
	"unsafe"
)

var errNilPointer = fmt.Errorf("%w: nil pointer", ErrWrongType)

func errTypeMismatch(v any, t *Table) error {
	return fmt.Errorf("%w: got %T, want %s", ErrWrongType, v, t.ptrType)
}

// Table is the metadata of a registered model. It is built once at
// registration and never changes afterwards; it is safe for concurrent use.
// Its slices and pointers are shared: callers must not modify them.
type Table struct {
	Type       reflect.Type // the model's struct type
	Schema     string       // empty: public (DDL leaves it unqualified; the repository's SQL names public)
	Name       string       // the table name, unquoted
	QuotedName string       // schema-qualified when Schema is set, every part quoted
	// QualifiedName is always schema-qualified ("public" for an empty
	// Schema), every part quoted: the name the repository writes into SQL,
	// so nothing on the search_path (a temporary table) can shadow it.
	QualifiedName string
	Comment       string // the doc tag of the BaseModel field

	Columns     []*Column     // in struct order, embedded mixins in place
	PrimaryKey  *Constraint   // Kind PrimaryKey
	Uniques     []*Constraint // Kind Unique, constraints and unique indexes
	Checks      []*Constraint // Kind Check
	ForeignKeys []*Constraint // Kind ForeignKey
	Exclusions  []*Constraint // Kind Exclusion
	Indexes     []*Index      // non-unique indexes
	Relations   []*Relation   // relationship fields, in struct order
	Enums       []*EnumType   // enum types used by columns, in column order
	Domains     []*DomainType // domains used by columns, in column order

	// Generated lists the columns the database fills when an INSERT leaves
	// them out (a default, an identity, a serial or a generated
	// expression): the RETURNING list.
	Generated []*Column
	// SoftDelete is set when the table has a BOOLEAN is_deleted column;
	// DeletedColumn is that column.
	SoftDelete    bool    // the table deletes softly
	DeletedColumn *Column // the is_deleted column, or nil
	// TenantColumn is the tenant_id column, or nil.
	TenantColumn *Column
	// SQL is the model's SQL configuration, from its SQLConfig method.
	SQL SQLConfig

	ptrType     reflect.Type
	byColumn    map[string]*Column
	constraints map[string]*Constraint
	goName      string
}

// Column returns the column with the given name.
func (t *Table) Column(name string) (*Column, bool) {
	c, ok := t.byColumn[name]
	return c, ok
}

// Constraint returns the table's constraint (primary key, unique
// constraint or unique index, check, foreign key) with the given name, as
// PostgreSQL reports it in an error's constraint name.
func (t *Table) Constraint(name string) (*Constraint, bool) {
	c, ok := t.constraints[name]
	return c, ok
}

// GoName returns the model's Go type as package.Name.
func (t *Table) GoName() string { return t.goName }

// Addrs appends to dst the addresses of v's column fields, in the order of
// t.Columns, ready for pgx's Scan; v must be a *T of the table's type. It
// uses precomputed offsets: no reflection by name, no allocation when dst
// has room.
func (t *Table) Addrs(v any, dst []any) ([]any, error) {
	if reflect.TypeOf(v) != t.ptrType {
		return dst, &Error{Struct: t.goName, Err: errTypeMismatch(v, t)}
	}
	base := reflect.ValueOf(v).UnsafePointer()
	if base == nil {
		return dst, &Error{Struct: t.goName, Err: errNilPointer}
	}
	for _, c := range t.Columns {
		dst = append(dst, c.addr(base))
	}
	return dst, nil
}

// Column is one column of a [Table].
type Column struct {
	Table      *Table       // the table the column belongs to
	Name       string       // the column name, unquoted
	QuotedName string       // quoted, ready for SQL text
	Field      string       // Go field path, dotted through embedded structs
	Index      []int        // reflect field index path, for FieldByIndex
	Offset     uintptr      // byte offset of the field in the struct
	GoType     reflect.Type // the field's Go type
	Ordinal    int          // position in Table.Columns

	SQLType string    // e.g. VARCHAR(26), JSONB, BIGINT[], "sales"."status"
	Enum    *EnumType // the enum type of the column (or of its array elements)
	// Domain is the column's domain, for a field of a [Domainer] type.
	Domain     *DomainType
	Nullable   bool   // false: NOT NULL
	Default    string // trusted SQL expression; empty when none
	Identity   string // "", "ALWAYS" or "BY DEFAULT"
	PrimaryKey bool   // a member of the primary key
	Comment    string // the doc tag of the field
	// Expression is the expression of a STORED generated column (trusted
	// SQL, the generated option); empty for an ordinary column.
	Expression string
	// Collation is the column's COLLATE name as SQL (quoted, maybe
	// schema-qualified); empty for the type's default.
	Collation string
	// Serial makes the column SMALLSERIAL, SERIAL or BIGSERIAL (by its
	// integer SQLType): a sequence owned by the column fills it.
	Serial bool

	access access // how the field is read as a query argument
}

// Generated reports whether the database fills the column when an INSERT
// leaves it out: it has a default, is an identity or a serial, or is
// computed by a generated expression.
func (c *Column) Generated() bool {
	return c.Default != "" || c.Identity != "" || c.Serial || c.Expression != ""
}

// Insertable reports whether an INSERT (or UPDATE) may give the column a
// value: every column but a GENERATED ALWAYS identity and a generated
// (computed) column.
func (c *Column) Insertable() bool { return c.Identity != "ALWAYS" && c.Expression == "" }

// Addr returns the address of the column's field in the struct v points
// to, as a typed pointer (*string, *types.Decimal, …) in an interface; v
// must be a *T of the column's table.
func (c *Column) Addr(v any) (any, error) {
	t := c.Table
	if reflect.TypeOf(v) != t.ptrType {
		return nil, &Error{Struct: t.goName, Field: c.Field, Err: errTypeMismatch(v, t)}
	}
	base := reflect.ValueOf(v).UnsafePointer()
	if base == nil {
		return nil, &Error{Struct: t.goName, Field: c.Field, Err: errNilPointer}
	}
	return c.addr(base), nil
}

func (c *Column) addr(base unsafe.Pointer) any {
	return reflect.NewAt(c.GoType, unsafe.Add(base, c.Offset)).Interface()
}

// ConstraintKind tells constraints apart.
type ConstraintKind uint8

// Constraint kinds.
const (
	PrimaryKey ConstraintKind = iota + 1
	Unique
	ForeignKey
	Check
	Exclusion
)

// String returns the SQL words for the kind.
func (k ConstraintKind) String() string {
	switch k {
	case PrimaryKey:
		return "PRIMARY KEY"
	case Unique:
		return "UNIQUE"
	case ForeignKey:
		return "FOREIGN KEY"
	case Check:
		return "CHECK"
	case Exclusion:
		return "EXCLUDE"
	}
	return "UNKNOWN"
}

// Action is a foreign key's ON DELETE or ON UPDATE action.
type Action string

// Foreign key actions. The empty Action is PostgreSQL's default, NO ACTION.
const (
	NoAction   Action = "NO ACTION"
	Restrict   Action = "RESTRICT"
	Cascade    Action = "CASCADE"
	SetNull    Action = "SET NULL"
	SetDefault Action = "SET DEFAULT"
)

// Constraint is a primary key, unique, check, foreign key or exclusion
// constraint.
type Constraint struct {
	Table      *Table         // the table the constraint is on
	Kind       ConstraintKind // primary key, unique, foreign key, check or exclusion
	Name       string         // the name PostgreSQL reports, unquoted
	QuotedName string         // the name, quoted
	Columns    []*Column      // constrained columns in order; none for a Check

	// Check is the expression of a Check constraint (trusted SQL).
	Check string

	// Where, for a Unique, is the predicate of a partial unique index
	// (soft-deleting tables get NOT "is_deleted"). A Unique with AsIndex
	// is emitted as CREATE UNIQUE INDEX rather than a table constraint;
	// PostgreSQL then reports violations under the index name, which is
	// Name.
	Where   string // trusted SQL predicate; empty for a full constraint
	Using   string // index access method of a unique index or exclusion; empty for btree
	AsIndex bool   // emitted as CREATE UNIQUE INDEX

	// Elements are the elements of an Exclusion, each trusted SQL such as
	// `"during" WITH &&`; its Where (in parentheses) and Using apply too.
	Elements []string

	// Deferrable makes a Unique or ForeignKey DEFERRABLE;
	// InitiallyDeferred makes it INITIALLY DEFERRED as well.
	Deferrable        bool
	InitiallyDeferred bool

	// RefTable and RefColumns are the target of a ForeignKey.
	RefTable   *Table    // referenced table
	RefColumns []*Column // referenced columns, paired with Columns
	OnDelete   Action    // empty: NO ACTION
	OnUpdate   Action    // empty: NO ACTION
}

// Index is a non-unique index.
type Index struct {
	Table      *Table    // the indexed table
	Name       string    // the index name, unquoted
	QuotedName string    // the name, quoted
	Columns    []*Column // indexed columns in order
	// Expressions are indexed expressions (trusted SQL), after Columns.
	Expressions []string
	Using       string // access method; empty for btree
	Where       string // trusted SQL predicate; empty for a full index
}

// RelationKind tells relationships apart.
type RelationKind uint8

// Relationship kinds.
const (
	BelongsTo RelationKind = iota + 1
	HasMany
	ManyToMany
)

// String returns the tag spelling of the kind.
func (k RelationKind) String() string {
	switch k {
	case BelongsTo:
		return "belongs_to"
	case HasMany:
		return "has_many"
	case ManyToMany:
		return "many_to_many"
	}
	return "unknown"
}

// Relation is a relationship field: a *T or T (belongs-to) or a []T or []*T
// (has-many, many-to-many) of another registered model. It is not a column.
type Relation struct {
	Kind   RelationKind // belongs-to, has-many or many-to-many
	Field  string       // Go field path
	Index  []int        // reflect field index path
	Offset uintptr      // byte offset of the field in the struct
	GoType reflect.Type // the field's Go type
	Target *Table       // the related model
	// ForeignKey joins the tables: for BelongsTo it is on this table and
	// points to Target; for HasMany it is on Target and points here; for
	// ManyToMany it is on Through and points here.
	ForeignKey *Constraint
	// Through is the association table of a ManyToMany, and
	// TargetForeignKey its foreign key to Target.
	Through          *Table      // the association table, for ManyToMany
	TargetForeignKey *Constraint // its foreign key to Target
}

// EnumType is a PostgreSQL enum type declared by a Go string type
// implementing types.Enum.
type EnumType struct {
	GoType     reflect.Type // the declaring Go string type
	Schema     string       // the schema of the model that uses it
	Name       string       // the type name, unquoted
	QuotedName string       // schema-qualified when Schema is set, quoted
	// QualifiedName is always schema-qualified ("public" for an empty
	// Schema), quoted: no temporary type can shadow it.
	QualifiedName string
	Values        []string // the labels, in order
}

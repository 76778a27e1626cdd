package model

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/uno-db/uno/quote"
)

// Domainer is implemented by a Go type whose columns have a PostgreSQL
// domain type: the table emitter creates the domain (in the schema of the
// model that uses it) unless a type of that name exists, and the
// migration planner creates it before the tables that use it.
// Registration calls DomainDef once on the zero value.
type Domainer interface {
	DomainDef() DomainDef
}

// DomainDef declares a domain: CREATE DOMAIN name AS Type [DEFAULT …]
// [NOT NULL] [CHECK (…)].
type DomainDef struct {
	// Name is the domain's name; empty: the Go type's name in snake case.
	Name string
	// Type is the base SQL type (trusted SQL), such as BIGINT or
	// NUMERIC(12,2); required.
	Type    string
	NotNull bool   // NOT NULL on the domain
	Default string // trusted SQL; empty for none
	// Check is the domain's check (trusted SQL, naming the value VALUE),
	// such as VALUE >= 0; empty for none. PostgreSQL names it
	// <domain>_check.
	Check string
}

// DomainType is a domain declared by a [Domainer] Go type, as a column of
// a table in Schema uses it.
type DomainType struct {
	GoType     reflect.Type // the declaring Go type
	Schema     string       // the schema of the model that uses it
	Name       string       // unquoted
	QuotedName string       // schema-qualified when Schema is set, quoted
	Def        DomainDef    // the definition
}

var domainIface = reflect.TypeFor[Domainer]()

// domainGoType returns the Domainer type of a field type (T or *T), or nil.
func domainGoType(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(domainIface) || reflect.PointerTo(t).Implements(domainIface) {
		return t
	}
	return nil
}

// domainOf reads the domain of a Domainer Go type for a model in schema.
func domainOf(typ reflect.Type, schema string) (dt *DomainType, err error) {
	var v any
	if typ.Implements(domainIface) {
		v = reflect.Zero(typ).Interface()
	} else {
		v = reflect.New(typ).Interface()
	}
	defer func() {
		if r := recover(); r != nil {
			dt, err = nil, fmt.Errorf("%w: %s.DomainDef panicked: %v", ErrBadTag, typ, r)
		}
	}()
	def := v.(Domainer).DomainDef()
	if def.Name == "" {
		def.Name = SnakeCase(typ.Name())
	}
	if err := checkName("domain", def.Name); err != nil {
		return nil, err
	}
	if strings.TrimSpace(def.Type) == "" {
		return nil, fmt.Errorf("%w: domain %s (%s) has no Type", ErrBadTag, def.Name, typ)
	}
	for _, s := range []string{def.Type, def.Default, def.Check} {
		if strings.ContainsRune(s, 0) {
			return nil, fmt.Errorf("%w: domain %s holds a NUL byte", ErrBadTag, def.Name)
		}
	}
	return &DomainType{GoType: typ, Schema: schema, Name: def.Name, QuotedName: quote.Qualified(schema, def.Name), Def: def}, nil
}

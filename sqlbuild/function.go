package sqlbuild

import (
	"strings"

	"github.com/uno-db/uno/quote"
)

// Volatility is a function's volatility class.
type Volatility uint8

// Volatility classes; the zero value is VOLATILE, PostgreSQL's default.
const (
	Volatile Volatility = iota
	Stable
	Immutable
)

// String returns the SQL keyword.
func (v Volatility) String() string {
	switch v {
	case Stable:
		return "STABLE"
	case Immutable:
		return "IMMUTABLE"
	}
	return "VOLATILE"
}

// ArgMode is the mode of a function argument; the zero value is IN.
type ArgMode uint8

// Argument modes.
const (
	In ArgMode = iota
	Out
	InOut
	Variadic
)

// Arg is one argument of a [Function].
type Arg struct {
	Name    string  // argument name; empty for an unnamed argument
	Type    string  // SQL type (trusted), e.g. text, varchar(26), integer[]
	Mode    ArgMode // IN (default), OUT, INOUT or VARIADIC
	Default string  // default expression (trusted); empty for none
}

// Function builds CREATE OR REPLACE FUNCTION and its privileges.
//
// A SECURITY DEFINER function runs with its owner's rights, so it must not
// find objects through the caller's search_path: SearchPath is then
// required and pinned with SET search_path (pg_temp is added last, so
// temporary objects cannot shadow anything), and EXECUTE is revoked from
// PUBLIC in the statements that create it, to be run in the same
// transaction.
type Function struct {
	Schema     string // empty: resolved by search_path
	Name       string
	Args       []Arg
	Returns    string // return type (trusted): text, trigger, SETOF text, TABLE (a text, b int)
	Language   string // default plpgsql
	Volatility Volatility
	Strict     bool // RETURNS NULL ON NULL INPUT

	// SecurityDefiner makes the function run with its owner's rights.
	SecurityDefiner bool
	// SearchPath pins the function's search_path (schemas, quoted).
	// Required with SecurityDefiner, optional otherwise.
	SearchPath []string
	// Body is the function's code (trusted), quoted with a dollar-quote
	// tag chosen so it does not occur in the body.
	Body string
	// Execute lists the roles granted EXECUTE. When it is set, or the
	// function is SECURITY DEFINER, EXECUTE is first revoked from PUBLIC.
	Execute []string
	// Comment is set with COMMENT ON FUNCTION when not empty.
	Comment string
}

// Signature returns the quoted name with the input argument types, as
// GRANT, REVOKE, COMMENT and DROP FUNCTION name a function.
func (f Function) Signature() string {
	var b strings.Builder
	b.WriteString(Qualified(f.Schema, f.Name))
	b.WriteByte('(')
	n := 0
	for _, a := range f.Args {
		if a.Mode == Out {
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		if a.Mode == Variadic {
			b.WriteString("VARIADIC ")
		}
		b.WriteString(a.Type)
	}
	b.WriteByte(')')
	return b.String()
}

func (f Function) check() error {
	fail := func(format string, args ...any) error { return invalid("function", f.Name, format, args...) }
	if f.Schema != "" {
		if err := CheckName("Schema", f.Schema); err != nil {
			return fail("%v", err)
		}
	}
	if err := CheckName("Name", f.Name); err != nil {
		return fail("%v", err)
	}
	for i, a := range f.Args {
		if a.Name != "" {
			if err := CheckName("Args.Name", a.Name); err != nil {
				return fail("argument %d: %v", i+1, err)
			}
		}
		if err := checkType("Args.Type", a.Type); err != nil {
			return fail("argument %d: %v", i+1, err)
		}
		if a.Mode > Variadic {
			return fail("argument %d: unknown mode %d", i+1, a.Mode)
		}
		if err := checkSQL("Args.Default", a.Default); err != nil {
			return fail("argument %d: %v", i+1, err)
		}
	}
	if err := checkType("Returns", f.Returns); err != nil {
		return fail("%v", err)
	}
	if f.Language != "" {
		if err := CheckName("Language", f.Language); err != nil {
			return fail("%v", err)
		}
	}
	if f.Volatility > Immutable {
		return fail("unknown volatility %d", f.Volatility)
	}
	if f.SecurityDefiner && len(f.SearchPath) == 0 {
		return fail("SECURITY DEFINER needs a pinned SearchPath")
	}
	if err := checkNames("SearchPath", f.SearchPath); err != nil {
		return fail("%v", err)
	}
	if strings.TrimSpace(f.Body) == "" {
		return fail("Body is empty")
	}
	if err := checkSQL("Body", f.Body); err != nil {
		return fail("%v", err)
	}
	if err := checkNames("Execute", f.Execute); err != nil {
		return fail("%v", err)
	}
	if err := checkSQL("Comment", f.Comment); err != nil {
		return fail("%v", err)
	}
	return nil
}

// Statements returns CREATE OR REPLACE FUNCTION, then REVOKE EXECUTE …
// FROM PUBLIC and GRANT EXECUTE when asked for, then COMMENT ON FUNCTION.
// Run them in one transaction, so the function is never callable by PUBLIC.
func (f Function) Statements() ([]Statement, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	name := ObjectName(f.Schema, f.Name)
	var b strings.Builder
	b.WriteString("CREATE OR REPLACE FUNCTION ")
	b.WriteString(Qualified(f.Schema, f.Name))
	b.WriteByte('(')
	for i, a := range f.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		switch a.Mode {
		case Out:
			b.WriteString("OUT ")
		case InOut:
			b.WriteString("INOUT ")
		case Variadic:
			b.WriteString("VARIADIC ")
		}
		if a.Name != "" {
			b.WriteString(quote.Ident(a.Name))
			b.WriteByte(' ')
		}
		b.WriteString(a.Type)
		if a.Default != "" {
			b.WriteString(" DEFAULT ")
			b.WriteString(a.Default)
		}
	}
	b.WriteString(")\n    RETURNS ")
	b.WriteString(f.Returns)
	b.WriteString("\n    LANGUAGE ")
	lang := f.Language
	if lang == "" {
		lang = "plpgsql"
	}
	b.WriteString(quote.Ident(lang))
	b.WriteString("\n    ")
	b.WriteString(f.Volatility.String())
	if f.Strict {
		b.WriteString("\n    STRICT")
	}
	if f.SecurityDefiner {
		b.WriteString("\n    SECURITY DEFINER")
	}
	if len(f.SearchPath) > 0 {
		b.WriteString("\n    SET search_path = ")
		identList(&b, f.SearchPath)
		if f.SecurityDefiner {
			b.WriteString(", pg_temp")
		}
	}
	tag := DollarQuote(f.Body)
	b.WriteString("\nAS ")
	b.WriteString(tag)
	b.WriteByte('\n')
	b.WriteString(f.Body)
	if !strings.HasSuffix(f.Body, "\n") {
		b.WriteByte('\n')
	}
	b.WriteString(tag)
	out := []Statement{{Name: name, Kind: KindFunction, SQL: b.String()}}
	sig := f.Signature()
	if f.SecurityDefiner || len(f.Execute) > 0 {
		out = append(out, Statement{Name: name, Kind: KindGrant, SQL: "REVOKE ALL ON FUNCTION " + sig + " FROM PUBLIC"})
	}
	if len(f.Execute) > 0 {
		var g strings.Builder
		g.WriteString("GRANT EXECUTE ON FUNCTION ")
		g.WriteString(sig)
		g.WriteString(" TO ")
		identList(&g, f.Execute)
		out = append(out, Statement{Name: name, Kind: KindGrant, SQL: g.String()})
	}
	if f.Comment != "" {
		out = append(out, Statement{Name: name, Kind: KindComment, SQL: "COMMENT ON FUNCTION " + sig + " IS " + Literal(f.Comment)})
	}
	return out, nil
}

package sqlbuild

import (
	"strings"

	"github.com/uno-db/uno/quote"
)

// Timing says when a trigger fires.
type Timing uint8

// Trigger timings.
const (
	Before Timing = iota + 1
	After
	InsteadOf
)

// String returns the SQL keywords.
func (t Timing) String() string {
	switch t {
	case Before:
		return "BEFORE"
	case After:
		return "AFTER"
	case InsteadOf:
		return "INSTEAD OF"
	}
	return "UNKNOWN"
}

// Event is a statement that fires a trigger.
type Event uint8

// Trigger events.
const (
	Insert Event = iota + 1
	Update
	Delete
	Truncate
)

// String returns the SQL keyword.
func (e Event) String() string {
	switch e {
	case Insert:
		return "INSERT"
	case Update:
		return "UPDATE"
	case Delete:
		return "DELETE"
	case Truncate:
		return "TRUNCATE"
	}
	return "UNKNOWN"
}

// Trigger builds CREATE OR REPLACE TRIGGER (PostgreSQL 14 and later), so
// running it again replaces the trigger instead of failing.
type Trigger struct {
	Name   string
	Schema string // the table's schema; empty: resolved by search_path
	Table  string
	Timing Timing  // BEFORE, AFTER or INSTEAD OF
	Events []Event // at least one, each once
	// UpdateOf restricts an UPDATE trigger to updates of these columns.
	UpdateOf []string
	// ForEachRow fires the trigger once per row; else once per statement.
	ForEachRow bool
	// When is the trigger's WHEN condition (trusted SQL); empty for none.
	When string
	// FunctionSchema and Function name the trigger function.
	FunctionSchema string
	Function       string
	// Args are passed to the function as TG_ARGV, as string literals.
	Args []string
}

func (t Trigger) check() error {
	fail := func(format string, args ...any) error { return invalid("trigger", t.Name, format, args...) }
	if err := CheckName("Name", t.Name); err != nil {
		return fail("%v", err)
	}
	if t.Schema != "" {
		if err := CheckName("Schema", t.Schema); err != nil {
			return fail("%v", err)
		}
	}
	if err := CheckName("Table", t.Table); err != nil {
		return fail("%v", err)
	}
	if t.Timing < Before || t.Timing > InsteadOf {
		return fail("Timing is not set")
	}
	if len(t.Events) == 0 {
		return fail("no Events")
	}
	seen := map[Event]bool{}
	for _, e := range t.Events {
		if e < Insert || e > Truncate {
			return fail("unknown event %d", e)
		}
		if seen[e] {
			return fail("event %s given twice", e)
		}
		seen[e] = true
	}
	if len(t.UpdateOf) > 0 && !seen[Update] {
		return fail("UpdateOf without an Update event")
	}
	if err := checkNames("UpdateOf", t.UpdateOf); err != nil {
		return fail("%v", err)
	}
	if t.Timing == InsteadOf && !t.ForEachRow {
		return fail("INSTEAD OF triggers fire for each row")
	}
	if seen[Truncate] && t.ForEachRow {
		return fail("TRUNCATE triggers fire for each statement")
	}
	if err := checkSQL("When", t.When); err != nil {
		return fail("%v", err)
	}
	if t.FunctionSchema != "" {
		if err := CheckName("FunctionSchema", t.FunctionSchema); err != nil {
			return fail("%v", err)
		}
	}
	if err := CheckName("Function", t.Function); err != nil {
		return fail("%v", err)
	}
	return nil
}

// Statement returns the CREATE OR REPLACE TRIGGER statement.
func (t Trigger) Statement() (Statement, error) {
	if err := t.check(); err != nil {
		return Statement{}, err
	}
	var b strings.Builder
	b.WriteString("CREATE OR REPLACE TRIGGER ")
	b.WriteString(quote.Ident(t.Name))
	b.WriteString("\n    ")
	b.WriteString(t.Timing.String())
	b.WriteByte(' ')
	for i, e := range t.Events {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString(e.String())
		if e == Update && len(t.UpdateOf) > 0 {
			b.WriteString(" OF ")
			identList(&b, t.UpdateOf)
		}
	}
	b.WriteString(" ON ")
	b.WriteString(Qualified(t.Schema, t.Table))
	if t.ForEachRow {
		b.WriteString("\n    FOR EACH ROW")
	} else {
		b.WriteString("\n    FOR EACH STATEMENT")
	}
	if t.When != "" {
		b.WriteString("\n    WHEN (")
		b.WriteString(t.When)
		b.WriteByte(')')
	}
	b.WriteString("\n    EXECUTE FUNCTION ")
	b.WriteString(Qualified(t.FunctionSchema, t.Function))
	b.WriteByte('(')
	for i, a := range t.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Literal(a))
	}
	b.WriteByte(')')
	return Statement{Name: ObjectName(t.Schema, t.Table) + "." + t.Name, Kind: KindTrigger, SQL: b.String()}, nil
}

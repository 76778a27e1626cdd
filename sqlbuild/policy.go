package sqlbuild

import (
	"strings"

	"github.com/uno-db/uno/quote"
)

// Command is the command a row-level security policy applies to.
type Command uint8

// Policy commands; the zero value is ALL.
const (
	CmdAll Command = iota
	CmdSelect
	CmdInsert
	CmdUpdate
	CmdDelete
)

// String returns the SQL keyword.
func (c Command) String() string {
	switch c {
	case CmdSelect:
		return "SELECT"
	case CmdInsert:
		return "INSERT"
	case CmdUpdate:
		return "UPDATE"
	case CmdDelete:
		return "DELETE"
	}
	return "ALL"
}

// Policy builds a row-level security policy. Its statements drop the policy
// if it exists and create it, so running them again (in one transaction)
// leaves the policy as defined.
type Policy struct {
	Name    string
	Schema  string // the table's schema; empty: resolved by search_path
	Table   string
	Command Command  // ALL (zero), SELECT, INSERT, UPDATE or DELETE
	Roles   []string // roles the policy applies to; empty for PUBLIC
	// Using filters the rows a command sees (trusted SQL); INSERT policies
	// have none.
	Using string
	// WithCheck checks rows written (trusted SQL); SELECT and DELETE
	// policies have none.
	WithCheck string
	// Restrictive makes the policy AS RESTRICTIVE: it must pass in
	// addition to one permissive policy.
	Restrictive bool
}

func (p Policy) check() error {
	fail := func(format string, args ...any) error { return invalid("policy", p.Name, format, args...) }
	if err := CheckName("Name", p.Name); err != nil {
		return fail("%v", err)
	}
	if p.Schema != "" {
		if err := CheckName("Schema", p.Schema); err != nil {
			return fail("%v", err)
		}
	}
	if err := CheckName("Table", p.Table); err != nil {
		return fail("%v", err)
	}
	if p.Command > CmdDelete {
		return fail("unknown command %d", p.Command)
	}
	if err := checkNames("Roles", p.Roles); err != nil {
		return fail("%v", err)
	}
	if p.Using == "" && p.WithCheck == "" {
		return fail("neither Using nor WithCheck")
	}
	if p.Command == CmdInsert && p.Using != "" {
		return fail("an INSERT policy has no USING")
	}
	if (p.Command == CmdSelect || p.Command == CmdDelete) && p.WithCheck != "" {
		return fail("a %s policy has no WITH CHECK", p.Command)
	}
	if err := checkSQL("Using", p.Using); err != nil {
		return fail("%v", err)
	}
	if err := checkSQL("WithCheck", p.WithCheck); err != nil {
		return fail("%v", err)
	}
	return nil
}

// Statements returns DROP POLICY IF EXISTS and CREATE POLICY.
func (p Policy) Statements() ([]Statement, error) {
	create, err := p.CreateSQL()
	if err != nil {
		return nil, err
	}
	table := Qualified(p.Schema, p.Table)
	name := ObjectName(p.Schema, p.Table) + "." + p.Name
	return []Statement{
		{Name: name, Kind: KindPolicy, SQL: "DROP POLICY IF EXISTS " + quote.Ident(p.Name) + " ON " + table},
		{Name: name, Kind: KindPolicy, SQL: create},
	}, nil
}

// CreateSQL returns the CREATE POLICY statement alone: the one renderer
// of policies, used by [Policy.Statements] and the migration planner.
func (p Policy) CreateSQL() (string, error) {
	if err := p.check(); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("CREATE POLICY ")
	b.WriteString(quote.Ident(p.Name))
	b.WriteString(" ON ")
	b.WriteString(Qualified(p.Schema, p.Table))
	if p.Restrictive {
		b.WriteString("\n    AS RESTRICTIVE")
	} else {
		b.WriteString("\n    AS PERMISSIVE")
	}
	b.WriteString("\n    FOR ")
	b.WriteString(p.Command.String())
	b.WriteString("\n    TO ")
	if len(p.Roles) == 0 {
		b.WriteString("PUBLIC")
	} else {
		identList(&b, p.Roles)
	}
	if p.Using != "" {
		b.WriteString("\n    USING (")
		b.WriteString(p.Using)
		b.WriteByte(')')
	}
	if p.WithCheck != "" {
		b.WriteString("\n    WITH CHECK (")
		b.WriteString(p.WithCheck)
		b.WriteByte(')')
	}
	return b.String(), nil
}

// ParseCommand returns the command of a keyword (ALL, SELECT, INSERT,
// UPDATE, DELETE, in any case), and false for any other word.
func ParseCommand(s string) (Command, bool) {
	for c := CmdAll; c <= CmdDelete; c++ {
		if strings.EqualFold(s, c.String()) {
			return c, true
		}
	}
	return CmdAll, false
}

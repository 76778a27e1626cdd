package migrate

import (
	"regexp"
	"slices"
	"strings"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/model"
)

// Managed and unmanaged objects.
//
// On a table the models declare, the planner manages the columns (name,
// type, nullability, identity and what the model says of default,
// generated expression, collation and comment), the constraints and
// indexes named by uno's naming convention (pk_, uq_, fk_, ck_, ix_ and the
// table name, see [model.DefaultNaming]) and every object the desired
// state declares by name. Everything else on the table is unmanaged and
// is left exactly as it is: other constraints (exclusion, deferrable,
// hand-named), other indexes (expression, partial), triggers, policies,
// row-level security switched on, grants to other roles, a default the
// model does not declare (serial's nextval), a stored generated expression
// the model does not declare, a collation, a comment.
//
// [effective] folds the unmanaged objects of live into desired, so the
// rest of the planner sees a desired state that keeps them; with
// [Options.DropUnmanaged] it does not, and every change that removes or
// weakens an unmanaged object is destructive and linted.

// conventionPrefixes are the prefixes of uno's constraint and index names.
var conventionPrefixes = []string{"pk_", "uq_", "fk_", "ck_", "ix_", "ex_"}

// conventionName reports whether name is one uno's naming convention gives
// a constraint or index of table: pk_<table>, or uq_/fk_/ck_/ix_/ex_<table>_…,
// also in the shortened form of [model.ShortenName].
func conventionName(table, name string) bool {
	for _, p := range conventionPrefixes {
		full := p + table
		if p == "pk_" {
			if name == full || name == model.ShortenName(full) {
				return true
			}
			continue
		}
		full += "_"
		if strings.HasPrefix(name, full) {
			return true
		}
		// A shortened name keeps 54 bytes (or fewer, at a UTF-8 boundary)
		// of the full name, then "_" and 8 hex digits.
		if len(name) == model.MaxNameLen || len(name) >= 10 && name[len(name)-9] == '_' {
			if cut := name[:len(name)-9]; len(cut) < len(full) && strings.HasPrefix(full, cut) && len(cut) >= 40 {
				return true
			}
		}
	}
	return false
}

// managed reports whether the planner may drop the live constraint or
// index name of t when the desired state lacks it.
func (p *planner) managed(t *catalog.Table, name string) bool {
	if p.opts.DropUnmanaged {
		return true
	}
	if p.opts.Managed != nil {
		return p.opts.Managed(t.Schema, t.Name, name)
	}
	return conventionName(t.Name, name)
}

// deferrableRE matches the deferrability clause pg_get_constraintdef
// appends to a constraint.
var deferrableRE = regexp.MustCompile(` (NOT )?DEFERRABLE( INITIALLY (DEFERRED|IMMEDIATE))?$`)

// withoutDeferrable returns a constraint definition without its
// deferrability clause.
func withoutDeferrable(def string) string { return deferrableRE.ReplaceAllString(def, "") }

// indexNameRE matches the index name in a pg_get_indexdef statement.
var indexNameRE = regexp.MustCompile(`^(CREATE (?:UNIQUE )?INDEX )("(?:[^"]|"")*"|\S+)( ON )`)

// indexShape returns an index definition with its name blanked, so two
// indexes that differ only in name compare equal.
func indexShape(def string) string { return indexNameRE.ReplaceAllString(def, "${1}_${3}") }

// effective returns desired with the unmanaged objects of live's tables
// folded in, so a plan towards it keeps them. Tables only live has, and
// objects outside tables, are the business of [Options.DropUnknown].
func (p *planner) effective(live, desired *catalog.Database) *catalog.Database {
	out := *desired
	out.Tables = make([]*catalog.Table, len(desired.Tables))
	for i, dt := range desired.Tables {
		lt := live.Table(dt.Schema, dt.Name)
		if lt == nil {
			out.Tables[i] = dt
			continue
		}
		out.Tables[i] = p.effectiveTable(lt, dt)
	}
	return &out
}

// effectiveTable returns dt with what lt has and dt does not claim.
func (p *planner) effectiveTable(lt, dt *catalog.Table) *catalog.Table {
	t := *dt
	t.Columns = slices.Clone(dt.Columns)
	t.Constraints = slices.Clone(dt.Constraints)
	t.Indexes = slices.Clone(dt.Indexes)
	t.Triggers = slices.Clone(dt.Triggers)
	t.Policies = slices.Clone(dt.Policies)
	t.Grants = slices.Clone(dt.Grants)
	// A constraint or index the models declare that live has under a name
	// the models do not own (an adopted table's t_pkey for pk_t) keeps
	// live's name.
	for i, dc := range t.Constraints {
		if findConstraint(lt, dc.Name) != nil {
			continue
		}
		for _, lc := range lt.Constraints {
			if lc.Type == dc.Type && withoutDeferrable(lc.Def) == withoutDeferrable(dc.Def) && findConstraint(dt, lc.Name) == nil &&
				!p.managed(lt, lc.Name) {
				t.Constraints[i].Name = lc.Name
				break
			}
		}
	}
	for i, di := range t.Indexes {
		if slices.ContainsFunc(lt.Indexes, func(li catalog.Index) bool { return li.Name == di.Name }) {
			continue
		}
		for _, li := range lt.Indexes {
			if indexShape(li.Def) == indexShape(di.Def) && !p.managed(lt, li.Name) &&
				!slices.ContainsFunc(dt.Indexes, func(x catalog.Index) bool { return x.Name == li.Name }) {
				t.Indexes[i] = li
				break
			}
		}
	}
	if p.opts.DropUnmanaged {
		sortTable(&t)
		return &t
	}
	for i := range t.Columns {
		dc := &t.Columns[i]
		lc := lt.Column(dc.Name)
		if lc == nil {
			continue
		}
		if dc.Default == "" && dc.Identity == "" && dc.Generated == "" && lc.Default != "" && lc.Identity == "" {
			dc.Default = lc.Default // serial's nextval, a hand-set default
		}
		if dc.Generated == "" && lc.Generated != "" && dc.Identity == "" && dc.Default == "" && lc.Type == dc.Type {
			dc.Generated = lc.Generated
		}
		if dc.Collation == "" && lc.Collation != "" && collatable(dc.Type) {
			dc.Collation = lc.Collation
		}
		if dc.Comment == "" {
			dc.Comment = lc.Comment
		}
	}
	for i, dc := range t.Constraints {
		// Deferrability the models do not say is kept.
		if lc := findConstraint(lt, dc.Name); lc != nil && lc.Type == dc.Type && lc.Def != dc.Def &&
			withoutDeferrable(lc.Def) == dc.Def {
			t.Constraints[i].Def = lc.Def
		}
	}
	for _, lc := range lt.Constraints {
		if findConstraint(&t, lc.Name) == nil && !p.managed(lt, lc.Name) {
			t.Constraints = append(t.Constraints, lc)
		}
	}
	for _, li := range lt.Indexes {
		if !slices.ContainsFunc(t.Indexes, func(x catalog.Index) bool { return x.Name == li.Name }) && !p.managed(lt, li.Name) {
			t.Indexes = append(t.Indexes, li)
		}
	}
	for _, ltr := range lt.Triggers {
		if !slices.ContainsFunc(t.Triggers, func(x catalog.Trigger) bool { return x.Name == ltr.Name }) {
			t.Triggers = append(t.Triggers, ltr)
		}
	}
	for _, lp := range lt.Policies {
		if !slices.ContainsFunc(t.Policies, func(x catalog.Policy) bool { return x.Name == lp.Name }) {
			t.Policies = append(t.Policies, lp)
		}
	}
	for _, g := range lt.Grants {
		if !slices.Contains(t.Grants, g) {
			t.Grants = append(t.Grants, g)
		}
	}
	t.RowSecurity = t.RowSecurity || lt.RowSecurity
	t.ForceRLS = t.ForceRLS || lt.ForceRLS
	if t.Comment == "" {
		t.Comment = lt.Comment
	}
	sortTable(&t)
	return &t
}

// sortTable keeps the inspected order of a table's lists.
func sortTable(t *catalog.Table) {
	slices.SortFunc(t.Constraints, func(a, b catalog.Constraint) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(t.Indexes, func(a, b catalog.Index) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(t.Triggers, func(a, b catalog.Trigger) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(t.Policies, func(a, b catalog.Policy) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(t.Grants, func(a, b catalog.Grant) int {
		if c := strings.Compare(a.Grantee, b.Grantee); c != 0 {
			return c
		}
		return strings.Compare(a.Privilege, b.Privilege)
	})
}

// collatable reports whether a column of type typ (format_type text) can
// carry a collation: the character types and arrays of them.
func collatable(typ string) bool {
	typ = strings.TrimSuffix(typ, "[]")
	return typ == "text" || strings.HasPrefix(typ, "character") || typ == "name" || strings.HasSuffix(typ, "citext")
}

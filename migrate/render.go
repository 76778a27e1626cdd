package migrate

import (
	"slices"
	"strings"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/sqlbuild"
)

// The planner renders tables, columns and policies through package
// sqlbuild, the renderer the emitters use, from inspected state.

// columnDef returns the renderer's form of an inspected column.
func columnDef(c catalog.Column) sqlbuild.Column {
	return sqlbuild.Column{Name: c.Name, Type: c.Type, Collation: c.Collation, Identity: strings.ToUpper(c.Identity),
		Generated: c.Generated, Default: c.Default, NotNull: c.NotNull}
}

// tableDef returns the CREATE TABLE of an inspected table, with every
// constraint but its foreign keys (added once every table exists).
func tableDef(t *catalog.Table) sqlbuild.Table {
	st := sqlbuild.Table{Schema: t.Schema, Name: t.Name, Columns: make([]sqlbuild.Column, len(t.Columns))}
	for i, c := range t.Columns {
		st.Columns[i] = columnDef(c)
	}
	for _, c := range t.Constraints {
		if c.Type != "f" {
			st.Constraints = append(st.Constraints, sqlbuild.TableConstraint{Name: c.Name, Def: c.Def})
		}
	}
	return st
}

// policySQL renders an inspected policy with [sqlbuild.Policy].
func policySQL(t *catalog.Table, pol catalog.Policy) (string, error) {
	cmd, _ := sqlbuild.ParseCommand(pol.Command)
	roles := slices.DeleteFunc(slices.Clone(pol.Roles), func(r string) bool { return r == "public" })
	if len(roles) < len(pol.Roles) && len(roles) > 0 {
		roles = append(roles, "public") // PUBLIC beside named roles: quoted "public" still means PUBLIC
	}
	return sqlbuild.Policy{Name: pol.Name, Schema: t.Schema, Table: t.Name, Command: cmd, Roles: roles,
		Using: pol.Using, WithCheck: pol.WithCheck, Restrictive: !pol.Permissive}.CreateSQL()
}

package migrate

import (
	"slices"
	"strings"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/sqlbuild"
)

// Schemas, enum types, domains and functions: objects outside tables.

func (p *planner) schemas(live, desired *catalog.Database) {
	for _, s := range desired.Schemas {
		if !slices.Contains(live.Schemas, s) {
			p.add(Change{Statement: stmt(s, emit.KindSchema, "CREATE SCHEMA IF NOT EXISTS "+quote.Ident(s))})
		}
	}
}

func findEnum(d *catalog.Database, schema, name string) *catalog.Enum {
	for i := range d.Enums {
		if d.Enums[i].Schema == schema && d.Enums[i].Name == name {
			return &d.Enums[i]
		}
	}
	return nil
}

func (p *planner) enums(live, desired *catalog.Database) {
	for _, de := range desired.Enums {
		name := de.Schema + "." + de.Name
		le := findEnum(live, de.Schema, de.Name)
		if le == nil {
			p.add(Change{Statement: stmt(name, emit.KindType, sqlbuild.CreateEnum(de.Schema, de.Name, de.Values))})
			continue
		}
		// Add the labels live lacks, each after its desired predecessor.
		have := slices.Clone(le.Values)
		for i, v := range de.Values {
			if slices.Contains(have, v) {
				continue
			}
			pos := ""
			if i > 0 {
				pos = " AFTER " + quote.Literal(de.Values[i-1])
			} else if len(have) > 0 {
				pos = " BEFORE " + quote.Literal(have[0])
			}
			// Outside a transaction: a label added in a transaction cannot be
			// used (say, by a default) until it commits.
			p.add(Change{Statement: stmt(name, emit.KindType,
				"ALTER TYPE "+quote.Qualified(de.Schema, de.Name)+" ADD VALUE IF NOT EXISTS "+quote.Literal(v)+pos), NoTx: true})
			have = slices.Insert(have, min(i, len(have)), v)
		}
		for _, v := range le.Values {
			if !slices.Contains(de.Values, v) {
				p.warnings = append(p.warnings, "enum "+name+": label "+quote.Literal(v)+
					" is no longer declared, but PostgreSQL cannot drop an enum label; it stays")
			}
		}
	}
}

func (p *planner) dropEnums(live, desired *catalog.Database) {
	for _, le := range live.Enums {
		if findEnum(desired, le.Schema, le.Name) == nil {
			p.add(Change{Statement: stmt(le.Schema+"."+le.Name, emit.KindType,
				"DROP TYPE "+quote.Qualified(le.Schema, le.Name)), Destructive: true})
		}
	}
}

func (p *planner) functions(live, desired *catalog.Database) {
	for _, df := range desired.Functions {
		var lf *catalog.Function
		for i := range live.Functions {
			f := &live.Functions[i]
			if f.Schema == df.Schema && f.Name == df.Name && f.Args == df.Args {
				lf = f
			}
		}
		if lf == nil || lf.Def != df.Def {
			p.add(Change{Statement: stmt(df.Schema+"."+df.Name, emit.KindFunction, strings.TrimRight(df.Def, "\n; "))})
		}
	}
}

func hasFunction(d *catalog.Database, f catalog.Function) bool {
	for _, g := range d.Functions {
		if g.Schema == f.Schema && g.Name == f.Name && g.Args == f.Args {
			return true
		}
	}
	return false
}

func (p *planner) dropFunctions(live, desired *catalog.Database) {
	for _, lf := range live.Functions {
		if !hasFunction(desired, lf) {
			p.add(Change{Statement: stmt(lf.Schema+"."+lf.Name, emit.KindFunction,
				"DROP FUNCTION "+quote.Qualified(lf.Schema, lf.Name)+"("+lf.Args+")"), Destructive: true})
		}
	}
}

func findDomain(d *catalog.Database, schema, name string) *catalog.Domain {
	for i := range d.Domains {
		if d.Domains[i].Schema == schema && d.Domains[i].Name == name {
			return &d.Domains[i]
		}
	}
	return nil
}

// domains creates the domains live lacks. A domain that exists with
// another definition is not altered (a warning says so): columns and
// rows depend on it.
func (p *planner) domains(live, desired *catalog.Database) {
	for _, dd := range desired.Domains {
		ld := findDomain(live, dd.Schema, dd.Name)
		switch {
		case ld == nil:
			p.add(Change{Statement: stmt(dd.Schema+"."+dd.Name, emit.KindType, dd.Def)})
		case ld.Def != dd.Def:
			p.warnings = append(p.warnings, "domain "+dd.Schema+"."+dd.Name+" differs from the models ("+ld.Def+
				" live, "+dd.Def+" wanted); plans do not alter domains")
		}
	}
}

func (p *planner) dropDomains(live, desired *catalog.Database) {
	for _, ld := range live.Domains {
		if findDomain(desired, ld.Schema, ld.Name) == nil {
			p.add(Change{Statement: stmt(ld.Schema+"."+ld.Name, emit.KindType,
				"DROP DOMAIN "+quote.Qualified(ld.Schema, ld.Name)), Destructive: true})
		}
	}
}

package sqlbuild_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/sqlbuild"
)

// FuzzBuilders feeds arbitrary names and bodies to every builder: none
// panics, each either refuses the input with ErrInvalid or quotes the
// name exactly as quote.Ident does, and a body always sits between two
// copies of a tag it does not contain.
func FuzzBuilders(f *testing.F) {
	for _, n := range append(hostile, badNames...) {
		f.Add(n, "SELECT 1")
	}
	f.Add("x", "$uno$ $uno1$")
	f.Fuzz(func(t *testing.T, name, body string) {
		check := func(what string, sql string, err error) {
			if err != nil {
				if !errors.Is(err, sqlbuild.ErrInvalid) {
					t.Fatalf("%s: error %v is not ErrInvalid", what, err)
				}
				return
			}
			if !strings.Contains(sql, quote.Ident(name)) {
				t.Fatalf("%s: %q lacks the quoted name %s", what, sql, quote.Ident(name))
			}
		}
		stmts, err := sqlbuild.Function{Schema: name, Name: name, Returns: "text", Body: body, Execute: []string{name}}.Statements()
		if err == nil {
			check("function", stmts[0].SQL, nil)
			tag := sqlbuild.DollarQuote(body)
			if strings.Contains(body, tag) || strings.Count(stmts[0].SQL, tag) < 2 {
				t.Fatalf("tag %s and body %q", tag, body)
			}
		} else {
			check("function", "", err)
		}
		s, err := sqlbuild.Trigger{Name: name, Schema: name, Table: name, Timing: sqlbuild.After, Events: []sqlbuild.Event{sqlbuild.Update},
			UpdateOf: []string{name}, ForEachRow: true, Function: name, Args: []string{name}}.Statement()
		check("trigger", s.SQL, err)
		s, err = sqlbuild.Index{Name: name, Schema: name, Table: name, Columns: []string{name}, Method: name}.Statement()
		check("index", s.SQL, err)
		ps, err := sqlbuild.Policy{Name: name, Schema: name, Table: name, Roles: []string{name}, Using: "true"}.Statements()
		if err == nil {
			check("policy", ps[1].SQL, nil)
		} else {
			check("policy", "", err)
		}
	})
}

package sqlbuild_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/sqlbuild"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// hostile are names every builder must quote correctly.
var hostile = []string{
	`plain`,
	`Mixed Case`,
	`a"b`,
	`"`,
	`it's`,
	`back\slash`,
	`x; DROP TABLE victim; --`,
	`$$`,
	`$uno$`,
	`ünïcødé 名前`,
	`select`,
	strings.Repeat("n", 63),
	strings.Repeat("é", 31) + "x", // 63 bytes
}

// tooLong and withNUL are names every builder must refuse.
var badNames = []string{"", strings.Repeat("n", 64), strings.Repeat("é", 32), "a\x00b"}

func connect(t *testing.T) (*pgx.Conn, pgtest.Database) {
	t.Helper()
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn, db
}

func exec(t *testing.T, conn *pgx.Conn, stmts ...sqlbuild.Statement) {
	t.Helper()
	for _, s := range stmts {
		if _, err := conn.Exec(context.Background(), s.SQL); err != nil {
			t.Fatalf("%s %s: %v\n%s", s.Kind, s.Name, err, s.SQL)
		}
	}
}

// must returns v, or panics (failing the test) on a builder error that
// the test did not expect.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func scalar[T any](t *testing.T, conn *pgx.Conn, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// TestHostileNames runs every builder with each hostile name as schema,
// table, column, function, argument, trigger, index, policy and role, and
// finds each name back in the catalog exactly.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	conn, db := connect(t)
	ctx := context.Background()
	exec(t, conn, sqlbuild.Statement{SQL: "CREATE ROLE " + quote.Ident(db.Name+"_none")})
	for i, name := range hostile {
		role := db.Name + "_" + string(rune('a'+i))
		exec(t, conn,
			sqlbuild.Statement{Name: role, SQL: "CREATE ROLE " + quote.Ident(role)},
			sqlbuild.Statement{Name: name, SQL: "CREATE SCHEMA " + quote.Ident(name)},
			sqlbuild.Statement{Name: name, SQL: "CREATE TABLE " + quote.Qualified(name, name) + " (" + quote.Ident(name) + " text, n int)"},
			// Indexes share the schema's namespace with tables: the
			// hostile-named index goes on another table.
			sqlbuild.Statement{Name: name, SQL: "CREATE TABLE " + quote.Qualified("public", role) + " (" + quote.Ident(name) + " text, n int)"},
		)
		fn := sqlbuild.Function{Schema: name, Name: name, Args: []sqlbuild.Arg{{Name: name, Type: "text"}}, Returns: "trigger",
			SecurityDefiner: true, SearchPath: []string{name}, Execute: []string{role}, Comment: name,
			Body: "BEGIN\n    NEW.n := length(" + quote.Literal(name) + ");\n    RETURN NEW;\nEND"}
		// A trigger function takes no declared arguments.
		fn.Args = nil
		exec(t, conn, must(fn.Statements())...)
		exec(t, conn, must(sqlbuild.Trigger{Name: name, Schema: name, Table: name, Timing: sqlbuild.Before,
			Events: []sqlbuild.Event{sqlbuild.Insert, sqlbuild.Update}, UpdateOf: []string{name}, ForEachRow: true,
			When: "true", FunctionSchema: name, Function: name, Args: []string{name, "$$"}}.Statement()))
		exec(t, conn, must(sqlbuild.Index{Name: name, Schema: "public", Table: role, Unique: true, Method: "btree",
			Columns: []string{name}, Expressions: []string{"n + 1"}, Where: "n > 0"}.Statement()))
		exec(t, conn, must(sqlbuild.Policy{Name: name, Schema: name, Table: name, Command: sqlbuild.CmdUpdate,
			Roles: []string{role}, Using: "true", WithCheck: "n > 0"}.Statements())...)
		// A function with an argument named after the hostile name.
		exec(t, conn, must(sqlbuild.Function{Schema: name, Name: name, Args: []sqlbuild.Arg{{Name: name, Type: "text", Default: "'d'"}},
			Returns: "text", Language: "sql", Volatility: sqlbuild.Immutable, Strict: true,
			Body: "SELECT " + quote.Literal(name) + " || $1"}.Statements())...)

		if got := scalar[string](t, conn, `SELECT p.proname || '|' || array_to_string(p.proconfig, ',') || '|' || p.prosecdef
			FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.prorettype = 'trigger'::regtype`, name); got !=
			name+"|search_path="+quoteForConfig(name)+", pg_temp|true" {
			t.Errorf("%q: function: %s", name, got)
		}
		if got := scalar[string](t, conn, `SELECT `+quote.Qualified(name, name)+`(`+quote.Literal("!")+`)`); got != name+"!" {
			t.Errorf("%q: sql function returns %q", name, got)
		}
		if got := scalar[string](t, conn, `SELECT d.description FROM pg_description d JOIN pg_proc p ON p.oid = d.objoid
			JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.prorettype = 'trigger'::regtype`, name); got != name {
			t.Errorf("%q: comment %q", name, got)
		}
		if !scalar[bool](t, conn, `SELECT has_function_privilege($1, p.oid, 'EXECUTE') AND NOT has_function_privilege($2, p.oid, 'EXECUTE')
			FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $3 AND p.prorettype = 'trigger'::regtype`,
			role, db.Name+"_none", name) {
			t.Errorf("%q: EXECUTE not limited to %s", name, role)
		}
		if got := scalar[[]byte](t, conn, `SELECT convert_to(t.tgname, 'UTF8') || '|'::bytea || t.tgargs FROM pg_trigger t
			WHERE t.tgrelid = $1::regclass AND NOT t.tgisinternal`, quote.Qualified(name, name)); string(got) != name+"|"+name+"\x00$$\x00" {
			t.Errorf("%q: trigger %q", name, got)
		}
		if got := scalar[string](t, conn, `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NOT NULL AND i.indexprs IS NOT NULL`, quote.Qualified("public", role)); got != name {
			t.Errorf("%q: index %q", name, got)
		}
		if got := scalar[string](t, conn, `SELECT polname || '|' || polcmd::text || '|' || (polroles[1]::regrole)::text FROM pg_policy
			WHERE polrelid = $1::regclass`, quote.Qualified(name, name)); got != name+"|w|"+role {
			t.Errorf("%q: policy %q", name, got)
		}
		// The trigger runs: n is the byte length of the name in characters.
		var n int
		if err := conn.QueryRow(ctx, "INSERT INTO "+quote.Qualified(name, name)+" VALUES ('x', 0) RETURNING n").Scan(&n); err != nil ||
			n != len([]rune(name)) {
			t.Errorf("%q: trigger set n = %d (%v)", name, n, err)
		}
	}
	if got := scalar[int](t, conn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'victim' OR nspname = ANY($1)", hostile); got != len(hostile) {
		t.Errorf("%d schemas, want %d", got, len(hostile))
	}
}

// quoteForConfig spells a schema as proconfig shows it: quoted when it is
// not a plain lower-case word.
func quoteForConfig(name string) string {
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			return quote.Ident(name)
		}
	}
	if name == "select" {
		return quote.Ident(name)
	}
	return name
}

func TestBadNames(t *testing.T) {
	t.Parallel()
	for _, bad := range badNames {
		builders := map[string]func() error{
			"function name": func() error {
				_, err := sqlbuild.Function{Name: bad, Returns: "int", Body: "x"}.Statements()
				return err
			},
			"function schema": func() error {
				_, err := sqlbuild.Function{Schema: bad + "s", Name: "f", Returns: "int", Body: "x"}.Statements()
				return err
			},
			"function arg": func() error {
				_, err := sqlbuild.Function{Name: "f", Args: []sqlbuild.Arg{{Name: bad + "a", Type: "int"}}, Returns: "int", Body: "x"}.Statements()
				return err
			},
			"search path": func() error {
				_, err := sqlbuild.Function{Name: "f", Returns: "int", Body: "x", SecurityDefiner: true, SearchPath: []string{bad}}.Statements()
				return err
			},
			"execute role": func() error {
				_, err := sqlbuild.Function{Name: "f", Returns: "int", Body: "x", Execute: []string{bad}}.Statements()
				return err
			},
			"trigger name": func() error {
				_, err := sqlbuild.Trigger{Name: bad, Table: "t", Timing: sqlbuild.After, Events: []sqlbuild.Event{sqlbuild.Insert}, Function: "f"}.Statement()
				return err
			},
			"trigger function": func() error {
				_, err := sqlbuild.Trigger{Name: "t", Table: "t", Timing: sqlbuild.After, Events: []sqlbuild.Event{sqlbuild.Insert}, Function: bad}.Statement()
				return err
			},
			"index column": func() error {
				_, err := sqlbuild.Index{Name: "i", Table: "t", Columns: []string{bad}}.Statement()
				return err
			},
			"index table": func() error {
				_, err := sqlbuild.Index{Name: "i", Table: bad, Columns: []string{"c"}}.Statement()
				return err
			},
			"policy role": func() error {
				_, err := sqlbuild.Policy{Name: "p", Table: "t", Roles: []string{bad}, Using: "true"}.Statements()
				return err
			},
			"policy name": func() error { _, err := sqlbuild.Policy{Name: bad, Table: "t", Using: "true"}.Statements(); return err },
		}
		for what, build := range builders {
			if what == "function schema" || what == "function arg" {
				if bad == "" { // empty schema and argument names are allowed
					continue
				}
			}
			if err := build(); !errors.Is(err, sqlbuild.ErrInvalid) {
				t.Errorf("%s %q: error = %v, want ErrInvalid", what, bad, err)
			}
		}
	}
}

func TestBuilderErrors(t *testing.T) {
	t.Parallel()
	fn := sqlbuild.Function{Name: "f", Returns: "int", Body: "SELECT 1", Language: "sql"}
	ok := func(f sqlbuild.Function) error { _, err := f.Statements(); return err }
	if err := ok(fn); err != nil {
		t.Fatal(err)
	}
	trg := sqlbuild.Trigger{Name: "t", Table: "t", Timing: sqlbuild.Before, Events: []sqlbuild.Event{sqlbuild.Insert}, ForEachRow: true, Function: "f"}
	pol := sqlbuild.Policy{Name: "p", Table: "t", Using: "true"}
	for _, tc := range []struct {
		what string
		err  error
		want string
	}{
		{"definer without search path", ok(with(fn, func(f *sqlbuild.Function) { f.SecurityDefiner = true })), "pinned SearchPath"},
		{"empty body", ok(with(fn, func(f *sqlbuild.Function) { f.Body = " \n" })), "Body is empty"},
		{"NUL in body", ok(with(fn, func(f *sqlbuild.Function) { f.Body = "SELECT 1\x00; DROP" })), "NUL"},
		{"no return type", ok(with(fn, func(f *sqlbuild.Function) { f.Returns = "" })), "Returns is empty"},
		{"semicolon in type", ok(with(fn, func(f *sqlbuild.Function) { f.Returns = "int; DROP TABLE x" })), "semicolon"},
		{"bad volatility", ok(with(fn, func(f *sqlbuild.Function) { f.Volatility = 9 })), "volatility"},
		{"bad arg mode", ok(with(fn, func(f *sqlbuild.Function) { f.Args = []sqlbuild.Arg{{Type: "int", Mode: 9}} })), "mode"},
		{"no timing", trgErr(with(trg, func(t *sqlbuild.Trigger) { t.Timing = 0 })), "Timing"},
		{"no events", trgErr(with(trg, func(t *sqlbuild.Trigger) { t.Events = nil })), "no Events"},
		{"repeated event", trgErr(with(trg, func(t *sqlbuild.Trigger) { t.Events = []sqlbuild.Event{sqlbuild.Insert, sqlbuild.Insert} })), "twice"},
		{"update of without update", trgErr(with(trg, func(t *sqlbuild.Trigger) { t.UpdateOf = []string{"c"} })), "UpdateOf"},
		{"row truncate", trgErr(with(trg, func(t *sqlbuild.Trigger) { t.Events = []sqlbuild.Event{sqlbuild.Truncate} })), "TRUNCATE"},
		{"statement instead of", trgErr(with(trg, func(t *sqlbuild.Trigger) { t.Timing, t.ForEachRow = sqlbuild.InsteadOf, false })), "INSTEAD OF"},
		{"NUL in when", trgErr(with(trg, func(t *sqlbuild.Trigger) { t.When = "true\x00" })), "NUL"},
		{"index without columns", ixErr(sqlbuild.Index{Name: "i", Table: "t"}), "no Columns"},
		{"empty expression", ixErr(sqlbuild.Index{Name: "i", Table: "t", Expressions: []string{" "}}), "empty expression"},
		{"policy without clauses", polErr(with(pol, func(p *sqlbuild.Policy) { p.Using = "" })), "neither"},
		{"insert policy with using", polErr(with(pol, func(p *sqlbuild.Policy) { p.Command = sqlbuild.CmdInsert })), "no USING"},
		{"select policy with check", polErr(with(pol, func(p *sqlbuild.Policy) { p.Command, p.WithCheck = sqlbuild.CmdSelect, "true" })), "no WITH CHECK"},
		{"bad command", polErr(with(pol, func(p *sqlbuild.Policy) { p.Command = 9 })), "unknown command"},
	} {
		if !errors.Is(tc.err, sqlbuild.ErrInvalid) || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want ErrInvalid with %q", tc.what, tc.err, tc.want)
		}
	}
}

func with[T any](v T, edit func(*T)) T { edit(&v); return v }

func trgErr(t sqlbuild.Trigger) error { _, err := t.Statement(); return err }
func ixErr(ix sqlbuild.Index) error   { _, err := ix.Statement(); return err }
func polErr(p sqlbuild.Policy) error  { _, err := p.Statements(); return err }

// TestDollarQuote checks the tag never occurs in the body, and a body full
// of tags still runs.
func TestDollarQuote(t *testing.T) {
	t.Parallel()
	conn, _ := connect(t)
	body := "SELECT '$uno$' || $q$$uno1$$q$ || '$$' || '$uno2'"
	if tag := sqlbuild.DollarQuote(body); tag != "$uno3$" && strings.Contains(body, tag) {
		t.Errorf("tag %s occurs in the body", tag)
	}
	stmts := must(sqlbuild.Function{Name: "tags", Returns: "text", Language: "sql", Body: body}.Statements())
	if !strings.Contains(stmts[0].SQL, "AS $uno2$\n") {
		t.Errorf("tag not $uno2$:\n%s", stmts[0].SQL)
	}
	exec(t, conn, stmts...)
	if got := scalar[string](t, conn, "SELECT tags()"); got != "$uno$$uno1$$$$uno2" {
		t.Errorf("tags() = %q", got)
	}
	for _, b := range []string{"", "x", "$uno$", "$uno$$uno1$$uno2$$uno3$", "$uno", "uno$"} {
		if tag := sqlbuild.DollarQuote(b); strings.Contains(b, tag) {
			t.Errorf("DollarQuote(%q) = %q occurs in it", b, tag)
		}
	}
}

// TestSecurityDefinerPinned reads the pinned search_path and the ACL of a
// SECURITY DEFINER function back from pg_proc.
func TestSecurityDefinerPinned(t *testing.T) {
	t.Parallel()
	conn, db := connect(t)
	caller, other := db.Name+"_caller", db.Name+"_other"
	exec(t, conn, sqlbuild.Statement{SQL: "CREATE ROLE " + quote.Ident(caller)}, sqlbuild.Statement{SQL: "CREATE ROLE " + quote.Ident(other)},
		sqlbuild.Statement{SQL: "CREATE SCHEMA app"})
	f := sqlbuild.Function{Schema: "app", Name: "whoami", Returns: "text", Language: "sql", Volatility: sqlbuild.Stable,
		SecurityDefiner: true, SearchPath: []string{"app", "pg_catalog"}, Execute: []string{caller}, Body: "SELECT current_user::text"}
	stmts := must(f.Statements())
	// One transaction: the function is never executable by PUBLIC.
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(context.Background(), s.SQL); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := scalar[[]string](t, conn, "SELECT proconfig FROM pg_proc WHERE oid = 'app.whoami()'::regprocedure")
	if !slices.Equal(cfg, []string{"search_path=app, pg_catalog, pg_temp"}) {
		t.Errorf("proconfig = %q", cfg)
	}
	if !scalar[bool](t, conn, "SELECT prosecdef FROM pg_proc WHERE oid = 'app.whoami()'::regprocedure") {
		t.Error("not SECURITY DEFINER")
	}
	for role, want := range map[string]bool{caller: true, other: false} {
		if got := scalar[bool](t, conn, "SELECT has_function_privilege($1, 'app.whoami()', 'EXECUTE')", role); got != want {
			t.Errorf("%s may execute: %v, want %v", role, got, want)
		}
	}
	// The caller runs it as the owner.
	exec(t, conn, sqlbuild.Statement{SQL: "GRANT USAGE ON SCHEMA app TO " + quote.Ident(caller)})
	tx, _ = conn.Begin(context.Background())
	defer tx.Rollback(context.Background())
	var owner, me string
	if err := tx.QueryRow(context.Background(), "SELECT set_config('role', $1, true), app.whoami()", caller).Scan(&me, &owner); err != nil {
		t.Fatal(err)
	}
	if owner == caller || owner == "" {
		t.Errorf("whoami() = %q, want the owner", owner)
	}
}

func TestIndexConcurrently(t *testing.T) {
	t.Parallel()
	conn, _ := connect(t)
	exec(t, conn, sqlbuild.Statement{SQL: "CREATE TABLE item (id int, name text, tags text[])"})
	ix := sqlbuild.Index{Name: "ix_item_name", Table: "item", Expressions: []string{"lower(name)"}, Where: "id > 0", Concurrently: true}
	s := must(ix.Statement())
	if !s.NoTx || !strings.Contains(s.SQL, "CONCURRENTLY") {
		t.Fatalf("statement = %+v", s)
	}
	tx, _ := conn.Begin(context.Background())
	_, err := tx.Exec(context.Background(), s.SQL)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25001" {
		t.Errorf("in a transaction: %v, want 25001", err)
	}
	_ = tx.Rollback(context.Background())
	exec(t, conn, s, s) // IF NOT EXISTS: twice is fine
	gin := must(sqlbuild.Index{Name: "ix_item_tags", Table: "item", Method: "gin", Columns: []string{"tags"}}.Statement())
	exec(t, conn, gin)
	got := scalar[string](t, conn, "SELECT string_agg(pg_get_indexdef(indexrelid), '; ' ORDER BY indexrelid) FROM pg_index WHERE indrelid = 'item'::regclass")
	want := "CREATE INDEX ix_item_name ON public.item USING btree (lower(name)) WHERE (id > 0); CREATE INDEX ix_item_tags ON public.item USING gin (tags)"
	if got != want {
		t.Errorf("indexes:\n%s\nwant\n%s", got, want)
	}
}

func TestTriggerAndPolicyCatalog(t *testing.T) {
	t.Parallel()
	conn, db := connect(t)
	role := db.Name + "_r"
	exec(t, conn, sqlbuild.Statement{SQL: "CREATE ROLE " + quote.Ident(role)},
		sqlbuild.Statement{SQL: "CREATE TABLE item (id int, name text)"})
	exec(t, conn, must(sqlbuild.Function{Name: "noop", Returns: "trigger", Body: "BEGIN\n    RETURN NULL;\nEND"}.Statements())...)
	trg := sqlbuild.Trigger{Name: "t_stmt", Table: "item", Timing: sqlbuild.After, Events: []sqlbuild.Event{sqlbuild.Delete, sqlbuild.Truncate},
		Function: "noop", Args: []string{"a'b"}}
	exec(t, conn, must(trg.Statement()), must(trg.Statement())) // OR REPLACE: twice is fine
	if got := scalar[string](t, conn, "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = 't_stmt'"); got !=
		"CREATE TRIGGER t_stmt AFTER DELETE OR TRUNCATE ON public.item FOR EACH STATEMENT EXECUTE FUNCTION noop('a''b')" {
		t.Errorf("trigger: %s", got)
	}
	pol := sqlbuild.Policy{Name: "p", Table: "item", Command: sqlbuild.CmdSelect, Restrictive: true, Roles: []string{role}, Using: "id > 0"}
	stmts := must(pol.Statements())
	exec(t, conn, stmts...)
	exec(t, conn, stmts...) // drop and create: twice is fine
	if got := scalar[string](t, conn, `SELECT polcmd::text || '|' || polpermissive || '|' || pg_get_expr(polqual, polrelid) || '|' ||
		array_length(polroles, 1) FROM pg_policy WHERE polname = 'p'`); got != "r|false|(id > 0)|1" {
		t.Errorf("policy: %s", got)
	}
	all := must(sqlbuild.Policy{Name: "q", Table: "item", WithCheck: "true"}.Statements())
	exec(t, conn, all...)
	if got := scalar[string](t, conn, `SELECT polcmd::text || '|' || polpermissive || '|' || polroles::text FROM pg_policy WHERE polname = 'q'`); got != "*|true|{0}" {
		t.Errorf("policy to PUBLIC: %s", got)
	}
}

// TestGolden keeps the text of each builder's output.
func TestGolden(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	add := func(stmts ...sqlbuild.Statement) {
		for _, s := range stmts {
			b.WriteString("-- " + s.Kind.String() + " " + s.Name + "\n" + s.SQL + ";\n\n")
		}
	}
	add(must(sqlbuild.Function{Schema: "app", Name: "add", Args: []sqlbuild.Arg{{Name: "a", Type: "integer"},
		{Name: "b", Type: "integer", Default: "1"}, {Name: "sum", Type: "integer", Mode: sqlbuild.Out}, {Name: "rest", Type: "text[]", Mode: sqlbuild.Variadic}},
		Returns: "integer", Language: "sql", Volatility: sqlbuild.Immutable, Strict: true, Body: "SELECT a + b", Comment: "Adds."}.Statements())...)
	add(must(sqlbuild.Function{Schema: "app", Name: "audit", Returns: "trigger", SecurityDefiner: true, SearchPath: []string{"app"},
		Body: "BEGIN\n    RETURN NEW;\nEND\n", Execute: []string{"app_admin", "app_writer"}}.Statements())...)
	add(must(sqlbuild.Trigger{Name: "trg", Schema: "app", Table: "item", Timing: sqlbuild.Before,
		Events: []sqlbuild.Event{sqlbuild.Insert, sqlbuild.Update}, UpdateOf: []string{"name", "qty"}, ForEachRow: true,
		When: "NEW.qty > 0", FunctionSchema: "app", Function: "audit", Args: []string{"x", "it's"}}.Statement()))
	add(must(sqlbuild.Index{Name: "ix", Schema: "app", Table: "item", Unique: true, Method: "btree",
		Columns: []string{"tenant_id"}, Expressions: []string{"lower(name)"}, Where: "NOT is_deleted", Concurrently: true}.Statement()))
	add(must(sqlbuild.Policy{Name: "tenant", Schema: "app", Table: "item", Command: sqlbuild.CmdUpdate,
		Roles: []string{"app_writer", "app_admin"}, Using: "tenant_id = current_setting('t')", WithCheck: "tenant_id = current_setting('t')"}.Statements())...)
	got := b.String()
	path := filepath.Join("testdata", "builders.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s; run go test ./sqlbuild -run TestGolden -update and review the diff\n%s", path, got)
	}
}

func TestStatementDisplayAndKind(t *testing.T) {
	t.Parallel()
	s := sqlbuild.Statement{SQL: "ALTER ROLE r PASSWORD 'x'", Redacted: "ALTER ROLE r PASSWORD '***'"}
	if s.Display() != s.Redacted {
		t.Errorf("Display = %q", s.Display())
	}
	s.Redacted = ""
	if s.Display() != s.SQL {
		t.Errorf("Display = %q", s.Display())
	}
	if sqlbuild.KindPolicy.String() != "policy" || sqlbuild.Kind(99).String() != "Kind(99)" {
		t.Error("Kind.String")
	}
	if sqlbuild.Literal(`a\b'c`) != `E'a\\b''c'` {
		t.Errorf("Literal = %s", sqlbuild.Literal(`a\b'c`))
	}
}

package emit_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/sqlbuild"
)

// TestRunnerTransactions checks grouping into transactions, rollback of a
// failed group, NoTx statements, SkipIf, DryRun, Role and the observers.
func TestRunnerTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := setUp(t)
	conn := u.super
	obs := &recorder{}
	r := emit.Runner{Observers: []emit.Observer{obs}}
	ix, err := sqlbuild.Index{Name: "ix_a_n", Table: "a", Columns: []string{"n"}, Concurrently: true}.Statement()
	if err != nil {
		t.Fatal(err)
	}
	stmts := []emit.Statement{
		{Name: "a", Kind: emit.KindTable, SQL: "CREATE TABLE a (n int)"},
		ix, // commits the group before it, runs alone
		{Name: "b", Kind: emit.KindTable, SQL: "CREATE TABLE b (n int)"},
		{Name: "b.row", Kind: emit.KindInsert, SQL: "INSERT INTO b VALUES (1)"},
		{Name: "skipped", Kind: emit.KindInsert, SQL: "INSERT INTO b VALUES (2)", SkipIf: "SELECT EXISTS (SELECT FROM b)"},
		{Name: "broken", Kind: emit.KindInsert, SQL: "INSERT INTO b VALUES ('x')"},
	}
	err = r.Exec(ctx, conn, stmts)
	var ee *emit.Error
	if !errors.As(err, &ee) || ee.Statement.Name != "broken" || sqlState(err) != "22P02" || !strings.Contains(err.Error(), "insert broken") {
		t.Fatalf("error = %v", err)
	}
	// a and its index committed; b's group rolled back.
	if got := scalarOn[string](t, conn, "SELECT to_regclass('a')::text || ',' || to_regclass('ix_a_n')::text || ',' || coalesce(to_regclass('b')::text, 'none')"); got != "a,ix_a_n,none" {
		t.Errorf("after the failure: %s", got)
	}
	if len(obs.failed) != 1 || obs.failed[0].Name != "broken" || len(obs.errs) != 1 {
		t.Errorf("failed observed: %v", obs.failed)
	}
	var names []string
	for _, s := range obs.executed {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"a", "ix_a_n", "b", "b.row", "skipped"}) {
		t.Errorf("executed observed: %v", names)
	}
	// Without the broken statement, b has one row: the SkipIf statement
	// saw it.
	if err := r.Exec(ctx, conn, slices.Concat(stmts[2:5])); err != nil {
		t.Fatal(err)
	}
	if n := scalarOn[int](t, conn, "SELECT count(*) FROM b"); n != 1 {
		t.Errorf("b has %d rows", n)
	}
	// ExecTx refuses NoTx statements; the simple Exec runs SkipIf.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ExecTx(ctx, tx, []emit.Statement{ix}); !errors.Is(err, emit.ErrNoTxStatement) {
		t.Errorf("ExecTx with CONCURRENTLY: %v", err)
	}
	_ = tx.Rollback(ctx)
	if err := emit.Exec(ctx, conn, stmts[4:5]); err != nil {
		t.Fatal(err)
	}
	if n := scalarOn[int](t, conn, "SELECT count(*) FROM b"); n != 1 {
		t.Errorf("b has %d rows after a skipped insert", n)
	}
	// SkipIf needs an Execer that can query.
	err = emit.Exec(ctx, execOnly{conn}, stmts[4:5])
	if !errors.Is(err, emit.ErrNoQuerier) || !errors.As(err, &ee) || ee.Statement.Name != "skipped" {
		t.Errorf("SkipIf on an Execer: %v", err)
	}
	// No connection is an error, not a panic.
	if err := r.Exec(ctx, nil, stmts[:1]); err == nil {
		t.Error("Exec on nil succeeded")
	}
	if err := r.ExecTx(ctx, nil, stmts[:1]); err == nil {
		t.Error("ExecTx on nil succeeded")
	}
	if err := emit.Exec(ctx, nil, stmts[:1]); err == nil {
		t.Error("emit.Exec on nil succeeded")
	}
	// DryRun executes nothing.
	dry := emit.Runner{DryRun: true}
	got, err := dry.Run(ctx, conn, emit.CreateSchemas(emit.Database{Name: u.pg.Name, Schemas: []string{"dry"}}))
	if err != nil || len(got) == 0 {
		t.Fatalf("dry run: %v %v", got, err)
	}
	if scalarOn[bool](t, conn, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'dry')") {
		t.Error("dry run created the schema")
	}
	// Role: DDL runs as the admin role, which then owns the table.
	roles := config.DefaultRoles(u.pg.Name)
	admin := emit.Runner{Role: roles.Admin}
	if err := admin.Exec(ctx, conn, []emit.Statement{{Name: "c", Kind: emit.KindTable, SQL: "CREATE TABLE c (n int)"}}); err != nil {
		t.Fatal(err)
	}
	if got := scalarOn[string](t, conn, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'c'"); got != roles.Admin {
		t.Errorf("c owned by %s", got)
	}
	// An emitter's error names the emitter and nothing runs.
	_, err = r.Run(ctx, conn, emit.CreateSchemas(emit.Database{Name: u.pg.Name, Schemas: []string{"ok"}}), emit.Grants(nil, u.d.Options()))
	if !errors.Is(err, emit.ErrNilTable) || !strings.Contains(err.Error(), "emitter grants") {
		t.Errorf("emitter error: %v", err)
	}
	if scalarOn[bool](t, conn, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'ok')") {
		t.Error("statements ran although generation failed")
	}
}

// TestModelEmitterErrors checks emitters refuse models without the
// columns they need, and bad options.
func TestModelEmitterErrors(t *testing.T) {
	t.Parallel()
	reg := registry(t, Note{}, Label{}, Tag{})
	tag, _ := model.TableOf[Tag](reg)
	label, _ := model.TableOf[Label](reg)
	opts := emit.Database{Name: "app"}.Options()
	for _, e := range []emit.Emitter{emit.RecordStatus(tag, opts), emit.UserAudit(tag, opts), emit.TenantRLS(label, opts)} {
		if _, err := e.Emit(); !errors.Is(err, emit.ErrInvalid) || !strings.Contains(err.Error(), "has no") {
			t.Errorf("%s on a model without its columns: %v", e.Name(), err)
		}
	}
	if _, err := emit.Grants(tag, emit.Options{}).Emit(); !errors.Is(err, emit.ErrInvalid) {
		t.Errorf("grants without roles: %v", err)
	}
	if _, err := emit.Grants(tag, emit.Options{Roles: opts.Roles, FunctionSchema: "a\x00"}).Emit(); !errors.Is(err, emit.ErrInvalid) {
		t.Errorf("bad function schema: %v", err)
	}
	type LongName struct {
		model.BaseModel `uno:"table:a_table_name_of_sixty_bytes_which_leaves_no_room_for_history"`
		ID              int64 `uno:"id,pk"`
	}
	r2 := registry(t, LongName{})
	long := r2.Tables()[0]
	if _, err := emit.History(long, opts).Emit(); !errors.Is(err, emit.ErrInvalid) || !strings.Contains(err.Error(), "history table") {
		t.Errorf("history of a long name: %v", err)
	}
}

// TestRegistry checks registration, lookup, the default sets and
// ForModels.
func TestRegistry(t *testing.T) {
	t.Parallel()
	reg := registry(t, Note{}, Label{}, Leaky{}, Tag{}, Order{}, OrderLine{}, User{})
	er := emit.NewRegistry(emit.Database{Name: "app"}.Options())
	if got := er.Names(); !slices.Equal(got, []string{"grants", "history", "record_status", "table", "tenant_rls", "user_audit"}) {
		t.Errorf("names = %v", got)
	}
	for name, err := range map[string]error{
		"grants": er.Register("grants", emit.Grants),
		"":       er.Register("", emit.Grants),
		"nil":    er.Register("x", nil),
	} {
		if err == nil {
			t.Errorf("Register(%q) succeeded", name)
		}
	}
	if err := er.Register("comment_everything", func(tb *model.Table, o emit.Options) emit.Emitter {
		return emit.Grants(tb, o)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := er.New("nope", nil); !errors.Is(err, emit.ErrUnknownEmitter) {
		t.Errorf("New(nope): %v", err)
	}
	sets := map[string][]string{}
	for _, tb := range reg.Tables() {
		sets[tb.Name] = emit.DefaultSet(tb)
	}
	for name, want := range map[string][]string{
		"note":       {"table", "grants", "record_status", "user_audit", "tenant_rls", "history"},
		"label":      {"table", "grants", "record_status", "user_audit"},
		"leaky":      {"table", "grants"},
		"tag":        {"table", "grants"},
		"order":      {"table", "grants", "tenant_rls"},
		"user":       {"table", "grants", "record_status", "user_audit"},
		"order_line": {"table", "grants"},
	} {
		if !slices.Equal(sets[name], want) {
			t.Errorf("default set of %s = %v, want %v", name, sets[name], want)
		}
	}
	emitters, err := er.ForModels(reg.Tables()...)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range emitters {
		names = append(names, e.Name())
	}
	if names[0] != "table" || slices.Index(names[1:], "table") >= 0 || len(names) != 1+5+3+1+1+2+3+1 {
		t.Errorf("ForModels emitters: %v", names)
	}
	bad := registry(t, badSet{})
	if _, err := er.ForModels(bad.Tables()...); !errors.Is(err, emit.ErrUnknownEmitter) || !strings.Contains(err.Error(), "badSet") {
		t.Errorf("unknown emitter in a set: %v", err)
	}
}

// execOnly hides every method of a connection but Exec.
type execOnly struct{ emit.Execer }

type badSet struct {
	ID int64 `uno:"id,pk"`
}

func (badSet) SQLConfig() model.SQLConfig {
	return model.SQLConfig{Emitters: []string{"table", "no_such"}}
}

// TestEmitterGolden keeps the output of every emitter in testdata.
func TestEmitterGolden(t *testing.T) {
	t.Parallel()
	const password = "s3cr3t'pw"
	d := emit.Database{Name: "app", Password: password, Schemas: []string{"shop"}}
	reg := registry(t, Note{}, Label{})
	note, _ := model.TableOf[Note](reg)
	label, _ := model.TableOf[Label](reg)
	o := d.Options()
	cases := map[string]emit.Emitter{
		"db_roles":            emit.CreateRoles(d),
		"db_database":         emit.CreateDatabase(d),
		"db_schemas":          emit.CreateSchemas(d),
		"db_extensions":       emit.CreateExtensions(d),
		"db_functions":        emit.Functions(d),
		"db_privileges":       emit.Privileges(d),
		"db_drop_database":    emit.DropDatabase(d),
		"model_grants":        emit.Grants(note, o),
		"model_record_status": emit.RecordStatus(note, o),
		"model_user_audit":    emit.UserAudit(note, o),
		"model_tenant_rls":    emit.TenantRLS(note, o),
		"model_history":       emit.History(note, o),
		"model_label_status":  emit.RecordStatus(label, o),
		"model_label_audit":   emit.UserAudit(label, o),
		"model_note_table":    emit.NewTableEmitter(note),
	}
	// The signed identity mode.
	sd := d
	sd.SignedIdentity = true
	so := sd.Options()
	cases["db_functions_signed"] = emit.Functions(sd)
	cases["model_tenant_rls_signed"] = emit.TenantRLS(note, so)
	cases["model_history_signed"] = emit.History(note, so)
	cases["db_identity_secret"] = emit.IdentitySecret(sd, []byte("s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"))
	cases["db_adopt_roles"] = emit.AdoptRoles(d)
	for name, e := range cases {
		stmts, err := e.Emit()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := "-- emitter " + e.Name() + "\n" + emit.Script(stmts)
		if strings.Contains(got, "s3cr3t") {
			t.Fatalf("%s shows the password", name)
		}
		path := filepath.Join("testdata", name+".golden")
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from %s; run go test ./emit -run TestEmitterGolden -update and review the diff\n%s", name, path, got)
		}
	}
	// The SQL that runs carries a SCRAM verifier, not the password.
	stmts, _ := emit.CreateRoles(d).Emit()
	if last := stmts[len(stmts)-1]; !strings.Contains(last.SQL, "PASSWORD 'SCRAM-SHA-256$4096:") ||
		strings.Contains(last.SQL, "s3cr3t") || !strings.HasSuffix(last.Redacted, "PASSWORD '***'") {
		t.Errorf("password statement: %q / %q", last.SQL, last.Redacted)
	}
}

func TestLogObserverRedacts(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	o := emit.LogObserver(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	s := emit.Statement{Name: "app_login", Kind: emit.KindRole, SQL: "ALTER ROLE x PASSWORD 'hunter2'", Redacted: "ALTER ROLE x PASSWORD '***'"}
	o.Generated("roles", []emit.Statement{s})
	o.Executed(s, time.Millisecond)
	o.Failed(s, time.Millisecond, errors.New("boom"))
	out := buf.String()
	for _, want := range []string{"emitter=roles statements=1", "kind=role name=app_login duration=1ms", "PASSWORD '***'", "error=boom", "level=ERROR"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("log shows the password:\n%s", out)
	}
}

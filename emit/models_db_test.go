package emit_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/model"
)

// Users and tenants of the tests (ULID-shaped, as uno's ids are).
const (
	userA   = "01HZZZZZZZZZZZZZZZZZZUSERA"
	userB   = "01HZZZZZZZZZZZZZZZZZZUSERB"
	tenantA = "01HZZZZZZZZZZZZZZZZTENANTA"
	tenantB = "01HZZZZZZZZZZZZZZZZTENANTB"
)

func asWriter(user, tenant string) engine.TxOptions {
	return engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{UserID: user, TenantID: tenant}}
}

// TestModelEmittersCatalog runs everything for Note and Label and reads
// the triggers, policies, row-level security flags, owners and privileges
// back from the catalog. Running it all again succeeds.
func TestModelEmittersCatalog(t *testing.T) {
	t.Parallel()
	u := setUp(t, Note{}, Label{})
	state := func() string {
		return scalarOn[string](t, u.super, `SELECT
		 (SELECT string_agg(x, E'\n' ORDER BY x) FROM (SELECT c.oid::regclass::text || ' ' || pg_get_userbyid(c.relowner) || ' ' ||
		     coalesce(c.relacl::text, '') || ' ' || c.relrowsecurity || c.relforcerowsecurity AS x
		   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		   WHERE n.nspname IN ('public', 'shop') AND c.relkind IN ('r', 'i', 'S')) s) || E'\n' ||
		 (SELECT string_agg(x, E'\n' ORDER BY x) FROM (SELECT pg_get_triggerdef(oid) AS x FROM pg_trigger WHERE NOT tgisinternal) s) || E'\n' ||
		 (SELECT string_agg(x, E'\n' ORDER BY x) FROM (SELECT polrelid::regclass::text || ' ' || polname || ' ' || polcmd::text || ' ' ||
		     polroles::regrole[]::text || ' ' || coalesce(pg_get_expr(polqual, polrelid), '') || ' ' ||
		     coalesce(pg_get_expr(polwithcheck, polrelid), '') AS x FROM pg_policy) s)`)
	}
	before := state()
	u.runModels(t, u.reg.Tables()...) // twice: nothing changes
	if after := state(); after != before {
		t.Errorf("the second run changed the catalog:\n%s\n---\n%s", before, after)
	}
	r := config.DefaultRoles(u.pg.Name)
	q := func(sql string, args ...any) string { return scalarOn[string](t, u.super, sql, args...) }

	triggers := `SELECT coalesce(string_agg(tgname || ':' || tgfoid::regproc::text || ':' || encode(tgargs, 'escape'), ' ' ORDER BY tgname), '')
		FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`
	if got, want := q(triggers, "shop.note"),
		`uno_history:uno_history: uno_record_status:uno_record_status: uno_soft_delete:uno_soft_delete:id\000 uno_user_audit:uno_user_audit:required\000soft\000`; got != want {
		t.Errorf("note triggers:\n%s\nwant\n%s", got, want)
	}
	if got, want := q(triggers, "public.label"), `uno_record_status:uno_record_status: uno_user_audit:uno_user_audit:optional\000soft\000`; got != want {
		t.Errorf("label triggers:\n%s\nwant\n%s", got, want)
	}
	policies := `SELECT coalesce(string_agg(polname || ':' || polcmd::text || ':' || polpermissive || ':' ||
			(SELECT string_agg(x::regrole::text, ',' ORDER BY x::regrole::text) FROM unnest(polroles) x) || ':' ||
			(polqual IS NOT NULL) || ':' || (polwithcheck IS NOT NULL), ' ' ORDER BY polname), '')
		FROM pg_policy WHERE polrelid = $1::regclass`
	roles := strings.Join([]string{r.Admin, r.Reader, r.Writer}, ",")
	if got, want := q(policies, "shop.note"), strings.Join([]string{
		"uno_tenant_delete:d:true:" + roles + ":true:false",
		"uno_tenant_insert:a:true:" + roles + ":false:true",
		"uno_tenant_select:r:true:" + roles + ":true:false",
		"uno_tenant_update:w:true:" + roles + ":true:true",
	}, " "); got != want {
		t.Errorf("note policies:\n%s\nwant\n%s", got, want)
	}
	if got, want := q(policies, "shop.note_history"), "uno_tenant_insert:a:true:"+roles+":false:true uno_tenant_select:r:true:"+roles+":true:false"; got != want {
		t.Errorf("history policies:\n%s\nwant\n%s", got, want)
	}
	if got := q("SELECT pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polname = 'uno_tenant_select' AND polrelid = 'shop.note'::regclass"); got !=
		"((current_setting('rls_var.is_superuser'::text, true) = 'true'::text) OR ((tenant_id)::text = NULLIF(current_setting('rls_var.tenant_id'::text, true), ''::text)))" {
		t.Errorf("select policy: %s", got)
	}
	rls := `SELECT relrowsecurity || ':' || relforcerowsecurity || ':' || pg_get_userbyid(relowner) FROM pg_class WHERE oid = $1::regclass`
	for table, want := range map[string]string{"shop.note": "true:true:" + r.Admin, "shop.note_history": "true:true:" + r.Admin, "public.label": "false:false:" + r.Admin} {
		if got := q(rls, table); got != want {
			t.Errorf("%s: rls:force:owner = %s, want %s", table, got, want)
		}
	}
	// Privileges per role.
	for _, c := range []struct {
		role, table, priv string
		want              bool
	}{
		{r.Reader, "shop.note", "SELECT", true}, {r.Reader, "shop.note", "INSERT", false}, {r.Reader, "shop.note", "UPDATE", false},
		{r.Writer, "shop.note", "SELECT", true}, {r.Writer, "shop.note", "INSERT", true}, {r.Writer, "shop.note", "UPDATE", true},
		{r.Writer, "shop.note", "DELETE", true}, {r.Writer, "shop.note", "TRUNCATE", false},
		{r.Admin, "shop.note", "TRUNCATE", true}, {r.Admin, "shop.note", "REFERENCES", true},
		{r.Login, "shop.note", "SELECT", false}, // NOINHERIT: nothing until it switches role
		{r.Reader, "shop.note_history", "SELECT", true}, {r.Writer, "shop.note_history", "INSERT", false},
		{r.Writer, "shop.note_history", "UPDATE", false}, {r.Writer, "public.label", "DELETE", true},
		{r.Reader, "public.label", "DELETE", false},
	} {
		if got := scalarOn[bool](t, u.super, "SELECT has_table_privilege($1, $2, $3)", c.role, c.table, c.priv); got != c.want {
			t.Errorf("has_table_privilege(%s, %s, %s) = %v", c.role, c.table, c.priv, got)
		}
	}
	// Unique keys of the tenant model include tenant_id.
	if got := q("SELECT pg_get_indexdef('shop.uq_note_title'::regclass)"); !strings.Contains(got, "(tenant_id, title) WHERE (NOT is_deleted)") {
		t.Errorf("unique index: %s", got)
	}
}

// TestAccessThroughEngine connects as the login role and checks what
// each role and tenant may do, with raw SQL through engine.WithTx.
func TestAccessThroughEngine(t *testing.T) {
	t.Parallel()
	modes(t, testAccessThroughEngine)
}

func testAccessThroughEngine(t *testing.T, signed bool) {
	ctx := context.Background()
	u := setUpMode(t, signed, Note{}, Label{})

	// The reader cannot write.
	err := u.withTx(ctx, engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{UserID: userA}}, func(ctx context.Context, tx *engine.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO label (name) VALUES ('r')")
		return err
	})
	if sqlState(err) != "42501" {
		t.Errorf("reader INSERT: %v, want 42501", err)
	}
	// The login role itself has no rights.
	err = u.withTx(ctx, engine.TxOptions{}, func(ctx context.Context, tx *engine.Tx) error {
		_, err := tx.Exec(ctx, "SELECT * FROM label")
		return err
	})
	if sqlState(err) != "42501" {
		t.Errorf("login SELECT: %v, want 42501", err)
	}
	// The writer can write.
	insert := func(user, tenant, title string) (string, error) {
		var id string
		err := u.withTx(ctx, asWriter(user, tenant), func(ctx context.Context, tx *engine.Tx) error {
			return tx.QueryRow(ctx, "INSERT INTO shop.note (tenant_id, title) VALUES ($1, $2) RETURNING id", tenant, title).Scan(&id)
		})
		return id, err
	}
	idA, err := insert(userA, tenantA, "a")
	if err != nil {
		t.Fatal(err)
	}
	idB, err := insert(userB, tenantB, "b")
	if err != nil {
		t.Fatal(err)
	}
	// The same title in another tenant is fine: keys are per tenant.
	if _, err := insert(userB, tenantB, "a"); err != nil {
		t.Errorf("same title in tenant B: %v", err)
	}

	// Tenant A sees only its rows and cannot touch B's.
	err = u.withTx(ctx, asWriter(userA, tenantA), func(ctx context.Context, tx *engine.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM shop.note").Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			t.Errorf("tenant A sees %d notes, want 1", n)
		}
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM shop.note WHERE id = $1", idB).Scan(&n); err != nil || n != 0 {
			t.Errorf("tenant A sees B's note: %d (%v)", n, err)
		}
		for _, sql := range []string{"UPDATE shop.note SET body = 'x' WHERE id = $1", "DELETE FROM shop.note WHERE id = $1"} {
			tag, err := tx.Exec(ctx, sql, idB)
			if err != nil || tag.RowsAffected() != 0 {
				t.Errorf("%s on B's row: %d rows (%v)", sql, tag.RowsAffected(), err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for what, sql := range map[string]string{
		"insert into B":       "INSERT INTO shop.note (tenant_id, title) VALUES ('" + tenantB + "', 'sneak')",
		"move own row to B":   "UPDATE shop.note SET tenant_id = '" + tenantB + "' WHERE id = '" + idA + "'",
		"insert with no body": "INSERT INTO shop.note (tenant_id, title) VALUES ('" + tenantB + "', 'x')",
	} {
		err := u.withTx(ctx, asWriter(userA, tenantA), func(ctx context.Context, tx *engine.Tx) error {
			_, err := tx.Exec(ctx, sql)
			return err
		})
		if sqlState(err) != "42501" {
			t.Errorf("tenant A %s: %v, want 42501", what, err)
		}
	}
	// With no tenant set the table is closed.
	err = u.withTx(ctx, asWriter(userA, ""), func(ctx context.Context, tx *engine.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM shop.note").Scan(&n); err != nil || n != 0 {
			t.Errorf("no tenant sees %d notes (%v)", n, err)
		}
		_, err := tx.Exec(ctx, "INSERT INTO shop.note (tenant_id, title) VALUES ($1, 'x')", tenantA)
		return err
	})
	if sqlState(err) != "42501" {
		t.Errorf("INSERT with no tenant: %v, want 42501", err)
	}
	// The superuser setting sees every tenant.
	err = u.withTx(ctx, engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{UserID: userA, Superuser: true}},
		func(ctx context.Context, tx *engine.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(DISTINCT tenant_id) FROM shop.note").Scan(&n); err != nil || n != 2 {
				t.Errorf("superuser sees %d tenants (%v), want 2", n, err)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
}

type noteRow struct {
	id, title, body                  string
	active, deleted                  bool
	created, modified                time.Time
	deletedAt                        *time.Time
	createdBy, modifiedBy, deletedBy *string
}

func readNote(t *testing.T, u *unoDB, id string) noteRow {
	t.Helper()
	var n noteRow
	err := u.super.QueryRow(context.Background(), `SELECT id, title, body, is_active, is_deleted, created_at, modified_at, deleted_at,
		created_by_id, modified_by_id, deleted_by_id FROM shop.note WHERE id = $1`, id).Scan(&n.id, &n.title, &n.body, &n.active, &n.deleted,
		&n.created, &n.modified, &n.deletedAt, &n.createdBy, &n.modifiedBy, &n.deletedBy)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestTriggersBehave checks the record-status, soft-delete, user-audit and
// history triggers through engine transactions with an identity.
func TestTriggersBehave(t *testing.T) {
	t.Parallel()
	modes(t, testTriggersBehave)
}

func testTriggersBehave(t *testing.T, signed bool) {
	ctx := context.Background()
	u := setUpMode(t, signed, Note{}, Label{}, Memo{})
	exec := func(user, tenant, sql string, args ...any) (int64, error) {
		var n int64
		err := u.withTx(ctx, asWriter(user, tenant), func(ctx context.Context, tx *engine.Tx) error {
			tag, err := tx.Exec(ctx, sql, args...)
			n = tag.RowsAffected()
			return err
		})
		return n, err
	}
	var id string
	err := u.withTx(ctx, asWriter(userA, tenantA), func(ctx context.Context, tx *engine.Tx) error {
		// Forged status and audit values are overwritten.
		return tx.QueryRow(ctx, `INSERT INTO shop.note (tenant_id, title, created_at, is_deleted, created_by_id)
			VALUES ($1, 'first', '2000-01-01', false, $2) RETURNING id`, tenantA, userB).Scan(&id)
	})
	if err != nil {
		t.Fatal(err)
	}
	v1 := readNote(t, u, id)
	if v1.created.Year() == 2000 || !v1.created.Equal(v1.modified) || !v1.active || v1.deleted || v1.deletedAt != nil {
		t.Errorf("after insert: %+v", v1)
	}
	if deref(v1.createdBy) != userA || deref(v1.modifiedBy) != userA || v1.deletedBy != nil {
		t.Errorf("audit after insert: %s %s %s", deref(v1.createdBy), deref(v1.modifiedBy), deref(v1.deletedBy))
	}
	time.Sleep(5 * time.Millisecond)
	if n, err := exec(userB, tenantA, "UPDATE shop.note SET body = 'edited', created_at = now() - interval '1 year' WHERE id = $1", id); err != nil || n != 1 {
		t.Fatalf("update: %d rows (%v)", n, err)
	}
	v2 := readNote(t, u, id)
	if !v2.created.Equal(v1.created) || !v2.modified.After(v1.modified) || v2.body != "edited" {
		t.Errorf("after update: created %v→%v modified %v→%v", v1.created, v2.created, v1.modified, v2.modified)
	}
	if deref(v2.createdBy) != userA || deref(v2.modifiedBy) != userB {
		t.Errorf("audit after update: %s %s", deref(v2.createdBy), deref(v2.modifiedBy))
	}
	// DELETE is a soft delete: the row stays, marked.
	time.Sleep(5 * time.Millisecond)
	if _, err := exec(userB, tenantA, "DELETE FROM shop.note WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	v3 := readNote(t, u, id)
	if !v3.deleted || v3.active || v3.deletedAt == nil || deref(v3.deletedBy) != userB || !v3.modified.After(v2.modified) {
		t.Errorf("after delete: %+v deleted by %s", v3, deref(v3.deletedBy))
	}
	// A write without a user is refused (Note requires one).
	_, err = exec("", tenantA, "INSERT INTO shop.note (tenant_id, title) VALUES ($1, 'anon')", tenantA)
	if sqlState(err) != "42501" || !strings.Contains(err.Error(), "needs a current user") {
		t.Errorf("insert without a user: %v", err)
	}
	// History: one row per version, with the acting user.
	rows, err := u.super.Query(ctx, `SELECT history_op || ':' || coalesce(history_user_id, '') || ':' || body || ':' || is_deleted
		FROM shop.note_history WHERE id = $1 ORDER BY history_id`, id)
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, s)
	}
	want := []string{"INSERT:" + userA + "::false", "UPDATE:" + userB + ":edited:false", "UPDATE:" + userB + ":edited:true"}
	if !slices.Equal(versions, want) {
		t.Errorf("history:\n%q\nwant\n%q", versions, want)
	}
	// Tenant B cannot read A's history.
	err = u.withTx(ctx, engine.TxOptions{Role: engine.RoleReader, Identity: engine.Identity{UserID: userB, TenantID: tenantB}},
		func(ctx context.Context, tx *engine.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM shop.note_history").Scan(&n); err != nil || n != 0 {
				t.Errorf("tenant B sees %d history rows (%v)", n, err)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}

	// Label: no user required, DELETE is a real delete.
	var lid string
	err = u.withTx(ctx, engine.TxOptions{Role: engine.RoleWriter}, func(ctx context.Context, tx *engine.Tx) error {
		return tx.QueryRow(ctx, "INSERT INTO label (name) VALUES ('l') RETURNING id").Scan(&lid)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := scalarOn[*string](t, u.super, "SELECT created_by_id FROM label WHERE id = $1", lid); got != nil {
		t.Errorf("created_by_id without a user = %q", *got)
	}
	if n, err := exec(userA, "", "DELETE FROM label WHERE id = $1", lid); err != nil || n != 1 {
		t.Errorf("label delete: %d (%v)", n, err)
	}
	if n := scalarOn[int](t, u.super, "SELECT count(*) FROM label"); n != 0 {
		t.Errorf("label rows after delete: %d", n)
	}

	// Memo: a hard delete is a version too.
	for _, sql := range []string{"INSERT INTO memo (text) VALUES ('one')", "UPDATE memo SET text = 'two'", "DELETE FROM memo"} {
		if n, err := exec(userA, "", sql); err != nil || n != 1 {
			t.Fatalf("%s: %d rows (%v)", sql, n, err)
		}
	}
	if got := scalarOn[string](t, u.super, `SELECT string_agg(history_op || ':' || text || ':' || history_user_id, ' ' ORDER BY history_id)
		FROM memo_history`); got != "INSERT:one:"+userA+" UPDATE:two:"+userA+" DELETE:two:"+userA {
		t.Errorf("memo history: %s", got)
	}
	// Writers cannot rewrite history.
	_, err = exec(userA, "", "DELETE FROM memo_history")
	if sqlState(err) != "42501" {
		t.Errorf("writer DELETE on history: %v, want 42501", err)
	}
}

// TestRLSAudit runs the audit on the demo models (it passes), then breaks
// things on purpose: a tenant model without row-level security, a table
// owned by the login role, an application role with BYPASSRLS.
func TestRLSAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	models := append([]any{Note{}, Label{}}, allModels...)
	u := setUp(t, models...)
	// Rows in the tenant tables, so leaks would show.
	err := u.db.WithTx(ctx, engine.TxOptions{Role: engine.RoleWriter, Identity: engine.Identity{UserID: userA, Superuser: true}},
		func(ctx context.Context, tx *engine.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO shop.note (tenant_id, title) VALUES ($1, 'x'), ($2, 'y')", tenantA, tenantB)
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	opts := u.d.Options()
	if err := emit.CheckRLS(ctx, u.super, opts); err != nil {
		t.Fatalf("demo models fail the audit: %v", err)
	}
	// The function alone, as any role.
	if n := scalarOn[int](t, u.super, "SELECT count(*) FROM uno_rls_audit()"); n != 0 {
		t.Errorf("uno_rls_audit() returns %d rows", n)
	}

	// Break it.
	if err := u.reg.Register(Leaky{}); err != nil {
		t.Fatal(err)
	}
	leaky, _ := model.TableOf[Leaky](u.reg)
	u.runModels(t, leaky)
	r := config.DefaultRoles(u.pg.Name)
	for _, sql := range []string{
		"INSERT INTO leaky (tenant_id, secret) VALUES ('" + tenantB + "', 's')",
		"CREATE TABLE mine (id int)",
		"ALTER TABLE mine OWNER TO " + `"` + r.Login + `"`,
		"ALTER ROLE " + `"` + r.Reader + `"` + " BYPASSRLS",
	} {
		if _, err := u.super.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	err = emit.CheckRLS(ctx, u.super, opts)
	var ae *emit.AuditError
	if !errors.As(err, &ae) {
		t.Fatalf("broken database passes the audit: %v", err)
	}
	var got []string
	for _, f := range ae.Findings {
		got = append(got, f.String())
	}
	want := []string{
		r.Reader + ": application role bypasses row-level security",
		"public.mine: relation owned by the login role",
		"public.leaky: tenant table without ENABLE ROW LEVEL SECURITY",
		"public.leaky: tenant table without FORCE ROW LEVEL SECURITY",
		"public.leaky: tenant table shows 1 rows with no tenant set",
		"public.leaky: tenant table does not refuse an INSERT with no tenant set",
		"public.leaky: tenant table lets UPDATE reach 1 rows with no tenant set",
		"public.leaky: tenant table lets DELETE reach 1 rows with no tenant set",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(err.Error(), "public.leaky") {
		t.Errorf("error does not name the table: %v", err)
	}
	// Running the role emitter again repairs the role.
	var rn emit.Runner
	if _, err := rn.Run(ctx, u.super, emit.CreateRoles(u.d)); err != nil {
		t.Fatal(err)
	}
	if scalarOn[bool](t, u.super, "SELECT rolbypassrls FROM pg_roles WHERE rolname = $1", r.Reader) {
		t.Error("reader still bypasses RLS")
	}
}

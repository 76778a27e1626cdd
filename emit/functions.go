package emit

import (
	"strings"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/sqlbuild"
)

// Names of uno's database functions, created by [Functions] in
// Database.FunctionSchema.
const (
	FuncGenerateULID = "generate_ulid"
	FuncSetRole      = "set_role"
	FuncRecordStatus = "uno_record_status"
	FuncSoftDelete   = "uno_soft_delete"
	FuncUserAudit    = "uno_user_audit"
	FuncHistory      = "uno_history"
	FuncRLSAudit     = "uno_rls_audit"
)

const generateULIDBody = `DECLARE
    alphabet CONSTANT text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    ms bigint := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    -- 80 random bits: bytes 1-6 and 10-13 of a version 4 UUID, which
    -- are all random (gen_random_uuid is built in: no extension needed).
    u bytea := uuid_send(gen_random_uuid());
    rnd bytea := substring(u FROM 1 FOR 6) || substring(u FROM 10 FOR 4);
    v bigint;
    part text;
    result text := '';
BEGIN
    -- 48 bits of milliseconds in 10 characters: the ids sort by time.
    FOR i IN 1..10 LOOP
        result := substr(alphabet, (ms & 31)::int + 1, 1) || result;
        ms := ms >> 5;
    END LOOP;
    -- 80 random bits in 16 characters, 40 bits at a time.
    FOR half IN 0..1 LOOP
        v := 0;
        FOR i IN 0..4 LOOP
            v := (v << 8) | get_byte(rnd, half * 5 + i);
        END LOOP;
        part := '';
        FOR i IN 1..8 LOOP
            part := substr(alphabet, (v & 31)::int + 1, 1) || part;
            v := v >> 5;
        END LOOP;
        result := result || part;
    END LOOP;
    RETURN result;
END`

const recordStatusBody = `BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := now();
        NEW.modified_at := now();
        NEW.is_active := coalesce(NEW.is_active, true);
        NEW.is_deleted := coalesce(NEW.is_deleted, false);
        IF NEW.is_deleted THEN
            NEW.is_active := false;
            NEW.deleted_at := now();
        ELSE
            NEW.deleted_at := NULL;
        END IF;
    ELSE
        NEW.created_at := OLD.created_at;
        NEW.modified_at := now();
        NEW.is_deleted := coalesce(NEW.is_deleted, OLD.is_deleted);
        IF NEW.is_deleted AND NOT OLD.is_deleted THEN
            NEW.is_active := false;
            NEW.deleted_at := now();
        ELSIF NEW.is_deleted THEN
            NEW.is_active := false;
            NEW.deleted_at := OLD.deleted_at;
        ELSE
            NEW.deleted_at := NULL;
        END IF;
    END IF;
    RETURN NEW;
END`

const softDeleteBody = `DECLARE
    cond text := '';
    col text;
BEGIN
    IF TG_NARGS = 0 THEN
        RAISE EXCEPTION 'uno_soft_delete on %.%: no key columns given', TG_TABLE_SCHEMA, TG_TABLE_NAME;
    END IF;
    FOREACH col IN ARRAY TG_ARGV LOOP
        IF cond <> '' THEN
            cond := cond || ' AND ';
        END IF;
        cond := cond || format('%I = ($1).%I', col, col);
    END LOOP;
    EXECUTE format('UPDATE %I.%I SET is_deleted = true WHERE %s', TG_TABLE_SCHEMA, TG_TABLE_NAME, cond) USING OLD;
    RETURN NULL;
END`

const userAuditBody = `DECLARE
    uid text := nullif(current_setting('rls_var.user_id', true), '');
BEGIN
    IF uid IS NULL AND TG_ARGV[0] = 'required' THEN
        RAISE EXCEPTION 'uno: % on %.% needs a current user (rls_var.user_id)', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = '42501';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'INSERT' THEN
        NEW.created_by_id := coalesce(uid, NEW.created_by_id);
        NEW.modified_by_id := coalesce(uid, NEW.modified_by_id);
        IF TG_ARGV[1] = 'soft' THEN
            NEW.deleted_by_id := CASE WHEN NEW.is_deleted THEN uid END;
        END IF;
    ELSE
        NEW.created_by_id := OLD.created_by_id;
        NEW.modified_by_id := coalesce(uid, NEW.modified_by_id);
        IF TG_ARGV[1] = 'soft' THEN
            IF NEW.is_deleted AND NOT OLD.is_deleted THEN
                NEW.deleted_by_id := coalesce(uid, NEW.deleted_by_id);
            ELSIF NEW.is_deleted THEN
                NEW.deleted_by_id := OLD.deleted_by_id;
            ELSE
                NEW.deleted_by_id := NULL;
            END IF;
        END IF;
    END IF;
    RETURN NEW;
END`

const historyBody = `DECLARE
    uid text := nullif(current_setting('rls_var.user_id', true), '');
    hist text := format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME || '_history');
BEGIN
    IF TG_OP = 'DELETE' THEN
        EXECUTE format('INSERT INTO %s SELECT ($1).*, $2, now(), $3', hist) USING OLD, TG_OP, uid;
    ELSE
        EXECUTE format('INSERT INTO %s SELECT ($1).*, $2, now(), $3', hist) USING NEW, TG_OP, uid;
    END IF;
    RETURN NULL;
END`

// Functions emits uno's database functions in Database.FunctionSchema,
// owned by the admin role:
//
//   - generate_ulid(): a 26-character Crockford base32 ULID, 48 bits of
//     milliseconds then 80 random bits from pgcrypto, so ids sort by
//     creation time; EXECUTE for the base role;
//   - set_role(name): switches the transaction to the reader, writer,
//     admin or login role by its short name (SET LOCAL ROLE); EXECUTE for
//     the login role;
//   - the trigger functions uno_record_status(), uno_soft_delete(),
//     uno_user_audit() and uno_history() (SECURITY DEFINER with a pinned
//     search_path), which the model-level emitters attach to tables;
//   - uno_rls_audit(): the row-level security audit, which anyone may run
//     (see [AuditRLS]);
//   - the signed identity's table uno_identity_secret and functions
//     uno_sign_in (SECURITY DEFINER), uno_claims, uno_identity,
//     uno_tenant_id, uno_user_id, uno_is_superuser and uno_claim (plain
//     SQL, inlined; EXECUTE for the login and base roles), created in both
//     modes; in the signed mode also GRANT SET ON PARAMETER
//     backtrace_functions to the admin role, which needs a superuser (see
//     docs/SECURITY.md).
//
// With Database.SignedIdentity the user-audit and history triggers take
// the user from uno_user_id() instead of rls_var.user_id, and
// uno_rls_audit checks that tenant policies use uno_tenant_id(). set_role
// cannot switch the application's login role to admin: it is not a
// member.
//
// Every function is CREATE OR REPLACE; EXECUTE is revoked from PUBLIC
// except on uno_rls_audit.
func Functions(d Database) Emitter {
	return dbEmitterErr(EmitterFunctions, d, func(d Database) ([]Statement, error) {
		fs := d.FunctionSchema
		r := d.Roles
		pinned := []string{"pg_catalog", fs}
		fns := []sqlbuild.Function{
			ulidFunction(fs, []string{r.Base}),
			{Schema: fs, Name: FuncSetRole, Args: []sqlbuild.Arg{{Name: "role_name", Type: "text"}}, Returns: "text",
				Body: setRoleBody(r), Execute: []string{r.Login},
				Comment: "Switches the transaction to an uno role: reader, writer, admin or login."},
			{Schema: fs, Name: FuncRecordStatus, Returns: "trigger", SearchPath: pinned, Body: recordStatusBody,
				Execute: []string{r.Admin}, Comment: "Keeps the record status columns."},
			{Schema: fs, Name: FuncSoftDelete, Returns: "trigger", SearchPath: pinned, Body: softDeleteBody,
				Execute: []string{r.Admin}, Comment: "Turns a DELETE into setting is_deleted."},
			{Schema: fs, Name: FuncUserAudit, Returns: "trigger", SearchPath: pinned, Body: withUser(userAuditBody, d),
				Execute: []string{r.Admin}, Comment: "Fills the user audit columns from " + userSource(d) + "."},
			{Schema: fs, Name: FuncHistory, Returns: "trigger", SecurityDefiner: true, SearchPath: []string{"pg_catalog"},
				Body: withUser(historyBody, d), Execute: []string{r.Admin}, Comment: "Records every version of a row in <table>_history."},
			{Schema: fs, Name: FuncRLSAudit, Returns: "TABLE (problem text, object text)", Language: "sql",
				Volatility: sqlbuild.Stable, SearchPath: []string{"pg_catalog", "pg_temp"}, Body: rlsAuditBodyFor(d),
				Comment: "Lists row-level security problems; empty when there are none."},
		}
		// The signed identity's table and functions come first: the
		// triggers and the audit name them.
		out, err := signedStatements(d)
		if err != nil {
			return nil, err
		}
		for _, f := range fns {
			stmts, err := f.Statements()
			if err != nil {
				return nil, err
			}
			out = append(out, stmts...)
			out = append(out, Statement{Name: stmts[0].Name, Kind: KindFunction,
				SQL: "ALTER FUNCTION " + f.Signature() + " OWNER TO " + quote.Ident(r.Admin)})
		}
		audit := sqlbuild.Function{Schema: fs, Name: FuncRLSAudit}
		out = append(out, Statement{Name: sqlbuild.ObjectName(fs, FuncRLSAudit), Kind: KindGrant,
			SQL: "GRANT EXECUTE ON FUNCTION " + audit.Signature() + " TO PUBLIC"})
		return out, nil
	})
}

// withUser returns a trigger body reading the current user the way d's
// mode says: rls_var.user_id, or the verified uno_user_id().
func withUser(body string, d Database) string {
	if !d.SignedIdentity {
		return body
	}
	body = strings.ReplaceAll(body, userExpr(false, d.FunctionSchema), userExpr(true, d.FunctionSchema))
	return strings.ReplaceAll(body, "(rls_var.user_id)", "(signed identity)")
}

// userSource names where the triggers take the current user from.
func userSource(d Database) string {
	if d.SignedIdentity {
		return "the verified " + FuncUserID + "()"
	}
	return SettingUserID
}

// rlsAuditBodyFor is uno_rls_audit's SQL for d's mode: in the signed mode
// tenant policies must use uno_tenant_id() and read no setting, and the
// identity secret must be readable by no application role.
func rlsAuditBodyFor(d Database) string {
	body := rlsAuditBody(d.Roles, d.AdminLogin)
	if !d.SignedIdentity {
		return body
	}
	start := strings.Index(body, "UNION ALL\nSELECT 'tenant table with a permissive policy not reading")
	end := strings.Index(body, "UNION ALL\nSELECT 'relation owned by the login role'")
	return body[:start] + strings.TrimPrefix(signedAuditChecks(d), "\n") + "\n" + body[end:]
}

// setRoleBody maps the short role names to the database's roles.
func setRoleBody(r config.Roles) string {
	return `DECLARE
    target text;
BEGIN
    target := CASE role_name
        WHEN 'reader' THEN ` + literal(r.Reader) + `
        WHEN 'writer' THEN ` + literal(r.Writer) + `
        WHEN 'admin' THEN ` + literal(r.Admin) + `
        WHEN 'login' THEN ` + literal(r.Login) + `
    END;
    IF target IS NULL THEN
        RAISE EXCEPTION 'uno: unknown role %', role_name USING ERRCODE = '22023';
    END IF;
    PERFORM pg_catalog.set_config('role', target, true);
    RETURN target;
END`
}

// rlsAuditBody is the SQL of uno_rls_audit: tenant tables (with a
// tenant_id column) lacking ENABLE or FORCE ROW LEVEL SECURITY or having a
// permissive policy that does not read rls_var.tenant_id, relations owned
// by the login role, and uno roles that bypass row-level security.
func rlsAuditBody(r config.Roles, adminLogin string) string {
	var roles strings.Builder
	for i, n := range []string{r.Login, adminLogin, r.Reader, r.Writer, r.Admin, r.Base} {
		if i > 0 {
			roles.WriteString(", ")
		}
		roles.WriteString(literal(n))
	}
	return `WITH rel AS (
    SELECT c.oid, c.relkind, c.relowner, c.relrowsecurity, c.relforcerowsecurity,
           n.nspname || '.' || c.relname AS name,
           EXISTS (SELECT FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND a.attnum > 0 AND NOT a.attisdropped) AS tenant
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
)
SELECT 'tenant table without ENABLE ROW LEVEL SECURITY', name FROM rel
    WHERE tenant AND relkind IN ('r', 'p') AND NOT relrowsecurity
UNION ALL
SELECT 'tenant table without FORCE ROW LEVEL SECURITY', name FROM rel
    WHERE tenant AND relkind IN ('r', 'p') AND NOT relforcerowsecurity
UNION ALL
SELECT 'tenant table with a permissive policy not reading rls_var.tenant_id: ' || p.polname, rel.name
    FROM rel JOIN pg_policy p ON p.polrelid = rel.oid
    WHERE rel.tenant AND p.polpermissive
      AND coalesce(pg_get_expr(p.polqual, p.polrelid), '') || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
          NOT LIKE '%rls_var.tenant_id%'
UNION ALL
SELECT 'relation owned by the login role', name FROM rel
    WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = ` + literal(r.Login) + `)
UNION ALL
SELECT 'application role bypasses row-level security', rolname FROM pg_roles
    WHERE rolname IN (` + roles.String() + `) AND (rolbypassrls OR rolsuper)
ORDER BY 1, 2`
}

// ULIDFunction returns the statements that create generate_ulid() in
// schema exactly as [Functions] does, but leave EXECUTE to PUBLIC: for a
// database that is not set up with uno's roles (tests, tools).
func ULIDFunction(schema string) ([]Statement, error) {
	if schema == "" {
		schema = "public"
	}
	return ulidFunction(schema, nil).Statements()
}

// ulidFunction is generate_ulid() in schema fs, executable by execute
// (PUBLIC when empty).
func ulidFunction(fs string, execute []string) sqlbuild.Function {
	return sqlbuild.Function{Schema: fs, Name: FuncGenerateULID, Returns: "text", Volatility: sqlbuild.Volatile,
		SearchPath: []string{"pg_catalog", fs}, Body: generateULIDBody, Execute: execute,
		Comment: "A ULID: 26 Crockford base32 characters, time-ordered."}
}

package emit

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/uno-db/uno/identity"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/sqlbuild"
)

// Names of the signed identity's database objects, created by [Functions]
// in Database.FunctionSchema. See docs/SECURITY.md.
const (
	// FuncSignIn checks the application's signature over the claims and
	// binds them to the transaction (identity.FuncSignIn).
	FuncSignIn = identity.FuncSignIn
	// FuncIdentity returns the verified claims, or NULLs.
	FuncIdentity = "uno_identity"
	// FuncTenantID, FuncUserID and FuncIsSuperuser return one verified
	// claim each, or NULL: the functions policies and triggers call in
	// the signed mode.
	FuncTenantID    = "uno_tenant_id"
	FuncUserID      = "uno_user_id"
	FuncIsSuperuser = "uno_is_superuser"
	// TableIdentitySecret holds the shared secret; only its owner, the
	// admin role, may read it.
	TableIdentitySecret = "uno_identity_secret"
)

// Settings where uno_sign_in keeps the claims of the transaction and its
// MAC over them, the backend and the transaction start. SQL can change
// them, but without the secret it cannot make a MAC that verifies, so the
// verified functions then return NULL.
const (
	SignedTenantID    = "uno.tenant_id"
	SignedUserID      = "uno.user_id"
	SignedIsSuperuser = "uno.is_superuser"
	SignedMAC         = "uno.identity_mac"
)

// EmitterIdentitySecret is the name of the [IdentitySecret] emitter.
const EmitterIdentitySecret = "identity_secret"

// SignedTenantPredicate returns the condition of uno's tenant policies in
// the signed mode: the row's tenant column (quoted) equals the verified
// tenant, or the verified identity is a superuser. Each call is wrapped in
// a scalar subquery, so the planner makes it an InitPlan evaluated at most
// once per statement, not once per row; the tenant comes first, so the
// superuser check runs only when a row of another tenant is met. Unverified (no signed identity, or
// settings changed by SQL) both are NULL, so the table shows and accepts
// nothing.
func SignedTenantPredicate(quotedColumn, functionSchema string) string {
	if functionSchema == "" {
		functionSchema = "public"
	}
	return quotedColumn + " = (SELECT " + quote.Qualified(functionSchema, FuncTenantID) + "()) OR " +
		"(SELECT " + quote.Qualified(functionSchema, FuncIsSuperuser) + "()) IS TRUE"
}

// userExpr is the SQL expression of the current user for the triggers.
func userExpr(signed bool, fs string) string {
	if signed {
		return quote.Qualified(fs, FuncUserID) + "()"
	}
	return "nullif(current_setting('" + SettingUserID + "', true), '')"
}

// signedMessage is the SQL building identity.Message's bytes (kind
// "sign-in") or the binding's (kind "bind") from text expressions t and u
// (never NULL), boolean s and the text tail.
func signedMessage(kind, t, u, s, tail string) string {
	field := func(x string) string {
		return "octet_length(" + x + ")::text || ':' || " + x + " || E'\\n'"
	}
	return "convert_to(" + literal(identity.Version+" "+kind) + " || E'\\n' || " + field(t) + " || " + field(u) +
		" || CASE WHEN " + s + " THEN '1' ELSE '0' END || E'\\n' || " + tail + ", 'UTF8')"
}

// bindTail binds a MAC to this backend and this transaction.
const bindTail = "pg_backend_pid()::text || E'\\n' || (extract(epoch FROM transaction_timestamp()) * 1000000)::bigint::text"

func signInBody(fs string) string {
	secret, hmac := quote.Qualified(fs, TableIdentitySecret), quote.Qualified(fs, "hmac")
	return `DECLARE
    k bytea;
    age interval;
    tenant text := coalesce(tenant_id, '');
    usr text := coalesce(user_id, '');
    sup boolean := coalesce(is_superuser, false);
BEGIN
    SELECT x.secret, x.max_age INTO k, age FROM ` + secret + ` x;
    IF k IS NULL THEN
        RAISE EXCEPTION 'uno: signed identity is not set up: no secret in %', ` + literal(TableIdentitySecret) + `
            USING ERRCODE = '55000';
    END IF;
    IF getdatabaseencoding() <> 'UTF8' THEN
        RAISE EXCEPTION 'uno: signed identity needs a UTF8 database' USING ERRCODE = '55000';
    END IF;
    IF issued_at IS NULL OR abs(extract(epoch FROM transaction_timestamp()) * 1000 - issued_at) > extract(epoch FROM age) * 1000 THEN
        RAISE EXCEPTION 'uno: signed identity refused: issued too far from the transaction start' USING ERRCODE = '28000';
    END IF;
    IF mac IS NULL OR ` + hmac + `(` + signedMessage("sign-in", "tenant", "usr", "sup", "issued_at::text") + `, k, 'sha256') <> mac THEN
        RAISE EXCEPTION 'uno: signed identity refused: bad signature' USING ERRCODE = '28000';
    END IF;
    PERFORM set_config(` + literal(SignedTenantID) + `, tenant, true),
        set_config(` + literal(SignedUserID) + `, usr, true),
        set_config(` + literal(SignedIsSuperuser) + `, CASE WHEN sup THEN 'true' ELSE 'false' END, true),
        set_config(` + literal(SignedMAC) + `, encode(` + hmac + `(` + signedMessage("bind", "tenant", "usr", "sup", bindTail) + `, k, 'sha256'), 'hex'), true);
    RETURN true;
END`
}

// verifyBody is the body of the verified functions: it reads the
// settings uno_sign_in left, recomputes their MAC for this backend and
// transaction, and runs ok (PL/pgSQL ending in RETURN, with the claims in
// t, u and s) when it matches, else fail.
func verifyBody(fs, ok, fail string) string {
	secret, hmac := quote.Qualified(fs, TableIdentitySecret), quote.Qualified(fs, "hmac")
	return `DECLARE
    t text := current_setting(` + literal(SignedTenantID) + `, true);
    u text := current_setting(` + literal(SignedUserID) + `, true);
    s text := current_setting(` + literal(SignedIsSuperuser) + `, true);
    m text := current_setting(` + literal(SignedMAC) + `, true);
    k bytea;
BEGIN
    IF m IS NULL OR m = '' OR t IS NULL OR u IS NULL OR s IS NULL OR s NOT IN ('true', 'false') THEN
        ` + fail + `
    END IF;
    SELECT x.secret INTO k FROM ` + secret + ` x;
    IF k IS NULL OR encode(` + hmac + `(` + signedMessage("bind", "t", "u", "s = 'true'", bindTail) + `, k, 'sha256'), 'hex') <> m THEN
        ` + fail + `
    END IF;
    ` + ok + `
END`
}

// signedStatements creates the secret table and the signed identity's
// functions in d.FunctionSchema, owned by the admin role.
func signedStatements(d Database) ([]Statement, error) {
	fs, r := d.FunctionSchema, d.Roles
	table := quote.Qualified(fs, TableIdentitySecret)
	tname := sqlbuild.ObjectName(fs, TableIdentitySecret)
	out := []Statement{
		{Name: tname, Kind: KindTable, SQL: "CREATE TABLE IF NOT EXISTS " + table + " (\n" +
			"    \"id\" BOOLEAN PRIMARY KEY DEFAULT true CHECK (\"id\"),\n" +
			"    \"secret\" BYTEA NOT NULL CHECK (octet_length(\"secret\") >= " + fmt.Sprint(identity.MinSecretLen) + "),\n" +
			"    \"max_age\" INTERVAL NOT NULL DEFAULT '5 minutes'\n)"},
		{Name: tname, Kind: KindTable, SQL: "ALTER TABLE " + table + " OWNER TO " + quote.Ident(r.Admin)},
		// Default privileges may have granted more when the admin role
		// created it; nobody but the owner may see the secret.
		{Name: tname, Kind: KindGrant, SQL: "REVOKE ALL ON TABLE " + table + " FROM PUBLIC, " + quote.Ident(r.Login) + ", " +
			quote.Ident(d.AdminLogin) + ", " + quote.Ident(r.Reader) + ", " + quote.Ident(r.Writer) + ", " + quote.Ident(r.Base)},
		// Row-level security with no policy: a grant given by mistake
		// still shows nothing to anyone but the owner.
		{Name: tname, Kind: KindPolicy, SQL: "ALTER TABLE " + table + " ENABLE ROW LEVEL SECURITY"},
		{Name: tname, Kind: KindComment, SQL: "COMMENT ON TABLE " + table + " IS " +
			literal("The secret uno_sign_in checks signed identities with. Only its owner may read it.")},
	}
	pinned := []string{"pg_catalog", fs}
	callers := []string{r.Login, r.Base}
	fns := []sqlbuild.Function{
		{Schema: fs, Name: FuncSignIn, Args: []sqlbuild.Arg{{Name: "tenant_id", Type: "text"}, {Name: "user_id", Type: "text"},
			{Name: "is_superuser", Type: "boolean"}, {Name: "issued_at", Type: "bigint"}, {Name: "mac", Type: "bytea"}},
			Returns: "boolean", SecurityDefiner: true, SearchPath: pinned, Body: signInBody(fs), Execute: callers,
			Comment: "Checks the application's signature over the claims and binds them to this backend and transaction; fails with 28000."},
		{Schema: fs, Name: FuncIdentity, Args: []sqlbuild.Arg{{Name: "tenant_id", Type: "text", Mode: sqlbuild.Out},
			{Name: "user_id", Type: "text", Mode: sqlbuild.Out}, {Name: "is_superuser", Type: "boolean", Mode: sqlbuild.Out}},
			Returns: "record", Volatility: sqlbuild.Stable, SecurityDefiner: true, SearchPath: pinned,
			Body:    verifyBody(fs, "tenant_id := nullif(t, '');\n    user_id := nullif(u, '');\n    is_superuser := s = 'true';", "RETURN;"),
			Execute: callers, Comment: "The claims uno_sign_in bound to this transaction, or NULLs when they do not verify."},
	}
	// Each verified function checks the binding itself: one call per
	// statement (an InitPlan), not a wrapper around uno_identity().
	for _, f := range []struct{ name, col, typ, ok string }{
		{FuncTenantID, "tenant_id", "text", "RETURN nullif(t, '');"},
		{FuncUserID, "user_id", "text", "RETURN nullif(u, '');"},
		{FuncIsSuperuser, "is_superuser", "boolean", "RETURN s = 'true';"},
	} {
		fns = append(fns, sqlbuild.Function{Schema: fs, Name: f.name, Returns: f.typ, Volatility: sqlbuild.Stable,
			SecurityDefiner: true, SearchPath: pinned, Body: verifyBody(fs, f.ok, "RETURN NULL;"),
			Execute: callers, Comment: "The verified " + f.col + " of the transaction's signed identity, or NULL."})
	}
	for _, f := range fns {
		stmts, err := f.Statements()
		if err != nil {
			return nil, err
		}
		out = append(out, stmts...)
		out = append(out, Statement{Name: stmts[0].Name, Kind: KindFunction,
			SQL: "ALTER FUNCTION " + f.Signature() + " OWNER TO " + quote.Ident(r.Admin)})
		if f.Name != FuncSignIn {
			// pg_backend_pid() differs in a parallel worker: run in the leader.
			out = append(out, Statement{Name: stmts[0].Name, Kind: KindFunction,
				SQL: "ALTER FUNCTION " + f.Signature() + " PARALLEL RESTRICTED"})
		}
	}
	return out, nil
}

// IdentitySecret stores the signed identity's shared secret (at least
// identity.MinSecretLen bytes) in uno_identity_secret, replacing the one
// there. Run it as a superuser or the admin role, after [Functions]. The
// statement shows the secret as *** wherever it is displayed.
func IdentitySecret(d Database, secret []byte) Emitter {
	secret = append([]byte(nil), secret...)
	return dbEmitterErr(EmitterIdentitySecret, d, func(d Database) ([]Statement, error) {
		if len(secret) < identity.MinSecretLen {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, identity.ErrSecret)
		}
		table := quote.Qualified(d.FunctionSchema, TableIdentitySecret)
		prefix := "INSERT INTO " + table + " (\"id\", \"secret\") VALUES (true, "
		suffix := "::bytea) ON CONFLICT (\"id\") DO UPDATE SET \"secret\" = EXCLUDED.\"secret\""
		return []Statement{{Name: sqlbuild.ObjectName(d.FunctionSchema, TableIdentitySecret), Kind: KindInsert,
			SQL:      prefix + "'\\x" + hex.EncodeToString(secret) + "'" + suffix,
			Redacted: prefix + "'***'" + suffix}}, nil
	})
}

// signedAuditChecks is the part of uno_rls_audit for the signed mode.
func signedAuditChecks(d Database) string {
	secret := literal(quote.Qualified(d.FunctionSchema, TableIdentitySecret))
	var roles []string
	for _, n := range []string{d.Roles.Login, d.AdminLogin, d.Roles.Reader, d.Roles.Writer, d.Roles.Base} {
		roles = append(roles, literal(n))
	}
	return `
UNION ALL
SELECT 'tenant table with a permissive policy not using the verified ` + FuncTenantID + `(): ' || p.polname, rel.name
    FROM rel JOIN pg_policy p ON p.polrelid = rel.oid
    WHERE rel.tenant AND p.polpermissive
      AND coalesce(pg_get_expr(p.polqual, p.polrelid), '') || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
          NOT LIKE '%` + FuncTenantID + `()%'
UNION ALL
SELECT 'tenant table with a policy reading a setting (current_setting), which SQL can forge: ' || p.polname, rel.name
    FROM rel JOIN pg_policy p ON p.polrelid = rel.oid
    WHERE rel.tenant
      AND coalesce(pg_get_expr(p.polqual, p.polrelid), '') || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
          LIKE '%current_setting%'
UNION ALL
SELECT 'identity secret readable by ' || rolname, ` + secret + ` FROM pg_roles
    WHERE rolname IN (` + strings.Join(roles, ", ") + `)
      AND to_regclass(` + secret + `) IS NOT NULL
      AND has_table_privilege(oid, to_regclass(` + secret + `), 'SELECT')`
}

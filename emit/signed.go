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
	// FuncClaims returns the verified claims as one jsonb document
	// ({"tenant_id", "user_id", "is_superuser", "claims": {name: value}}),
	// or NULL.
	FuncClaims = "uno_claims"
	// FuncIdentity returns the verified claims, or NULLs.
	FuncIdentity = "uno_identity"
	// FuncTenantID, FuncUserID and FuncIsSuperuser return one verified
	// claim each, or NULL: the functions policies and triggers call in
	// the signed mode.
	FuncTenantID    = "uno_tenant_id"
	FuncUserID      = "uno_user_id"
	FuncIsSuperuser = "uno_is_superuser"
	// FuncClaim returns one verified named claim (identity.Claims.Extra,
	// engine.Identity.Claims) by name, or NULL.
	FuncClaim = "uno_claim"
	// TableIdentitySecret holds the shared secret; only its owner, the
	// admin role, may read it.
	TableIdentitySecret = "uno_identity_secret"
)

// SignedParameter is the server parameter where uno_sign_in keeps the
// verified claims of the transaction (SET LOCAL, so they end with it).
// It is a superuser-only (PGC_SUSET) parameter of stock PostgreSQL whose
// value only matters when a C function of that name raises an error; the
// signed mode grants SET on it to the admin role alone (GRANT SET ON
// PARAMETER, PostgreSQL 15), so the application's roles can read the
// claims but neither set nor forge them: PostgreSQL itself refuses with
// 42501. The value is "uno_<transaction start in µs>_<hex tenant>_<hex
// user>_<0|1>_<hex of the named claims as a JSON object>".
const SignedParameter = "backtrace_functions"

// signedPrefix starts the value of SignedParameter; no C function of
// PostgreSQL is named like it.
const signedPrefix = "uno_"

// grantLock serializes uno's grants and revokes on SignedParameter in the
// cluster until the transaction ends (see signedStatements): a lock on
// the shared catalog is cluster-wide (an advisory lock is per database),
// and this mode conflicts only with itself, so other sessions' GRANTs do
// not wait.
const grantLock = "LOCK TABLE pg_catalog.pg_parameter_acl IN SHARE UPDATE EXCLUSIVE MODE;"

// EmitterIdentitySecret is the name of the [IdentitySecret] emitter.
const EmitterIdentitySecret = "identity_secret"

// SignedTenantPredicate returns the condition of uno's tenant policies in
// the signed mode: the row's tenant column (quoted) equals the verified
// tenant, or the verified identity is a superuser. Each call is wrapped in
// a scalar subquery, so the planner makes it an InitPlan evaluated at most
// once per statement, not once per row; the tenant comes first, so the
// superuser check runs only when a row of another tenant is met.
// Without verified claims (no sign-in in this transaction, or RESET ALL)
// both are NULL, so the table shows and accepts nothing.
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

// xactMicros is the SQL text of the transaction's start in microseconds
// since the epoch; parallel workers share the leader's. date_part (double
// precision) rather than extract (numeric) because it is cheaper; the
// sign-in and the check compute it alike.
const xactMicros = "(pg_catalog.date_part('epoch', pg_catalog.transaction_timestamp()) * 1000000)::bigint::text"

// signInBody is uno_sign_in's PL/pgSQL, written for a function that runs
// once per transaction: PL/pgSQL sets up each expression again in every
// transaction and runs PERFORM and queries with parameters through the
// executor, so the usual path is one query without parameters (the
// secret), one IF and one assignment that sets SignedParameter. The
// signed message is identity.Message's; the HMAC is computed from the
// stored key blocks (identity.KeyBlocks) with the built-in sha256(), so
// sign-in does not depend on the schema pgcrypto lives in; the claims
// arrive encoded
// (identity.Encode) and are kept as they are, after the signature.
func signInBody(fs string) string {
	secret := quote.Qualified(fs, TableIdentitySecret)
	return `DECLARE
    ki bytea;
    ko bytea;
    age interval;
    bound text;
BEGIN
    SELECT x.inner_key, x.outer_key, x.max_age INTO ki, ko, age FROM ` + secret + ` x;
    IF ki IS NULL OR ko IS NULL OR issued_at IS NULL
        OR abs(issued_at - (date_part('epoch', transaction_timestamp()) * 1000)::bigint) > date_part('epoch', age) * 1000
        OR sha256(ko || sha256(ki || convert_to(` + literal(identity.Version) + ` || E'\n' || issued_at::text || E'\n' || claims, 'UTF8')))
            IS DISTINCT FROM mac THEN
        IF ki IS NULL OR ko IS NULL THEN
            RAISE EXCEPTION 'uno: signed identity is not set up: no secret in % (run emit.IdentitySecret)', ` + literal(TableIdentitySecret) + `
                USING ERRCODE = '55000';
        ELSIF issued_at IS NULL OR abs(issued_at - (date_part('epoch', transaction_timestamp()) * 1000)::bigint) > date_part('epoch', age) * 1000 THEN
            RAISE EXCEPTION 'uno: signed identity refused: issued too far from the transaction start' USING ERRCODE = '28000';
        END IF;
        RAISE EXCEPTION 'uno: signed identity refused: bad signature' USING ERRCODE = '28000';
    END IF;
    -- Only the admin role may set this parameter (GRANT SET ON PARAMETER):
    -- SQL of the transaction can read the claims but not change them.
    bound := set_config(` + literal(SignedParameter) + `, ` + literal(signedPrefix) + ` || ` + xactMicros + ` || '_' || claims, true);
    RETURN true;
END`
}

// The verified functions read the parts of SignedParameter's value:
// uno_<transaction start in µs>_<hex tenant>_<hex user>_<0|1>_<hex of
// the named claims as a JSON object>. guarded(part) is the SQL of one
// part, with $v for the value, or NULL when the value was not set in this
// transaction.
func guarded(part string) string {
	v := "pg_catalog.current_setting('" + SignedParameter + "')"
	return "CASE WHEN pg_catalog.starts_with(" + v + ", '" + signedPrefix + "' || " + xactMicros + " || '_')\n" +
		"    THEN " + strings.ReplaceAll(part, "$v", v) + " END"
}

// hexPart is the SQL of the text hex-encoded in part n of $v.
func hexPart(n int) string {
	return fmt.Sprintf("pg_catalog.convert_from(pg_catalog.decode(pg_catalog.split_part($v, '_', %d), 'hex'), 'UTF8')", n)
}

// verified is one of the functions that read the verified claims: plain
// SQL functions with a body bound at creation (RETURN/BEGIN ATOMIC, so
// the caller's search_path cannot change what it calls), STABLE and
// PARALLEL SAFE (workers get the leader's parameters and transaction
// start), neither SECURITY DEFINER nor with a SET clause, so the planner
// inlines them: a policy's (SELECT uno_tenant_id()) costs an expression.
type verified struct {
	fn   sqlbuild.Function
	body string // RETURN … or BEGIN ATOMIC … END
}

func (v verified) statements(admin string) ([]Statement, error) {
	v.fn.Language, v.fn.Volatility, v.fn.Body = "sql", sqlbuild.Stable, v.body // for the checks; the CREATE is below
	stmts, err := v.fn.Statements()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("CREATE OR REPLACE FUNCTION ")
	b.WriteString(quote.Qualified(v.fn.Schema, v.fn.Name))
	b.WriteByte('(')
	for i, a := range v.fn.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		if a.Mode == sqlbuild.Out {
			b.WriteString("OUT ")
		}
		b.WriteString(quote.Ident(a.Name) + " " + a.Type)
	}
	b.WriteString(")\n    RETURNS " + v.fn.Returns + "\n    LANGUAGE sql\n    STABLE PARALLEL SAFE SECURITY INVOKER\n" + v.body)
	stmts[0].SQL = b.String()
	return append(stmts, Statement{Name: stmts[0].Name, Kind: KindFunction,
		SQL: "ALTER FUNCTION " + v.fn.Signature() + " OWNER TO " + quote.Ident(admin)}), nil
}

// signedStatements creates the secret table and the signed identity's
// functions in d.FunctionSchema, owned by the admin role, and in the
// signed mode grants the admin role SET on SignedParameter (which needs
// a superuser).
func signedStatements(d Database) ([]Statement, error) {
	fs, r := d.FunctionSchema, d.Roles
	table := quote.Qualified(fs, TableIdentitySecret)
	tname := sqlbuild.ObjectName(fs, TableIdentitySecret)
	out := []Statement{
		{Name: tname, Kind: KindTable, SQL: "CREATE TABLE IF NOT EXISTS " + table + " (\n" +
			"    \"id\" BOOLEAN PRIMARY KEY DEFAULT true CHECK (\"id\"),\n" +
			"    \"secret\" BYTEA NOT NULL CHECK (octet_length(\"secret\") >= " + fmt.Sprint(identity.MinSecretLen) + "),\n" +
			"    \"max_age\" INTERVAL NOT NULL DEFAULT '5 minutes',\n" +
			"    \"inner_key\" BYTEA,\n" +
			"    \"outer_key\" BYTEA\n)"},
		// A table from identity v1 lacks the key blocks: IdentitySecret
		// fills them; until then sign-in fails with 55000.
		{Name: tname, Kind: KindTable, SQL: "ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS \"inner_key\" BYTEA, " +
			"ADD COLUMN IF NOT EXISTS \"outer_key\" BYTEA"},
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
	if d.SignedIdentity {
		// The first grant on a parameter inserts its row in the shared
		// catalog pg_parameter_acl: two databases set up at once would
		// collide (23505, or "tuple concurrently updated"), so grants
		// take a cluster-wide lock until their transaction ends.
		out = append(out, Statement{Name: SignedParameter, Kind: KindGrant, SQL: doBlock(
			"    " + grantLock + "\n" +
				"    GRANT SET ON PARAMETER " + SignedParameter + " TO " + quote.Ident(r.Admin) + ";\n")})
	}
	pinned := []string{"pg_catalog", fs}
	callers := []string{r.Login, r.Base}
	signIn := sqlbuild.Function{Schema: fs, Name: FuncSignIn, Args: []sqlbuild.Arg{{Name: "issued_at", Type: "bigint"},
		{Name: "claims", Type: "text"}, {Name: "mac", Type: "bytea"}},
		Returns: "boolean", SecurityDefiner: true, SearchPath: pinned, Body: signInBody(fs), Execute: callers,
		Comment: "Checks the application's signature over the claims and keeps them for this transaction where only the admin role may write; fails with 28000."}
	stmts, err := signIn.Statements()
	if err != nil {
		return nil, err
	}
	// The five-argument uno_sign_in of identity v1, if an older set-up
	// left it: it would still set the settings nobody reads any more.
	old := sqlbuild.Function{Schema: fs, Name: FuncSignIn, Args: []sqlbuild.Arg{{Type: "text"}, {Type: "text"}, {Type: "boolean"},
		{Type: "bigint"}, {Type: "bytea"}}}
	out = append(out, Statement{Name: stmts[0].Name, Kind: KindFunction, SQL: "DROP FUNCTION IF EXISTS " + old.Signature()})
	out = append(out, stmts...)
	out = append(out, Statement{Name: stmts[0].Name, Kind: KindFunction,
		SQL: "ALTER FUNCTION " + signIn.Signature() + " OWNER TO " + quote.Ident(r.Admin)})

	fns := []verified{
		{sqlbuild.Function{Schema: fs, Name: FuncClaims, Returns: "jsonb", Execute: callers,
			Comment: "The claims uno_sign_in verified for this transaction as jsonb, or NULL."},
			"RETURN " + guarded("pg_catalog.jsonb_build_object('tenant_id', NULLIF("+hexPart(3)+", ''), "+
				"'user_id', NULLIF("+hexPart(4)+", ''), 'is_superuser', pg_catalog.split_part($v, '_', 5) = '1', "+
				"'claims', "+hexPart(6)+"::pg_catalog.jsonb)")},
		{sqlbuild.Function{Schema: fs, Name: FuncIdentity, Args: []sqlbuild.Arg{{Name: "tenant_id", Type: "text", Mode: sqlbuild.Out},
			{Name: "user_id", Type: "text", Mode: sqlbuild.Out}, {Name: "is_superuser", Type: "boolean", Mode: sqlbuild.Out}},
			Returns: "record", Execute: callers, Comment: "The claims uno_sign_in verified for this transaction, or NULLs."},
			"BEGIN ATOMIC\n    SELECT " + guarded("NULLIF("+hexPart(3)+", '')") + ",\n    " + guarded("NULLIF("+hexPart(4)+", '')") +
				",\n    " + guarded("pg_catalog.split_part($v, '_', 5) = '1'") + ";\nEND"},
		{sqlbuild.Function{Schema: fs, Name: FuncTenantID, Returns: "text", Execute: callers,
			Comment: "The verified tenant_id of the transaction's signed identity, or NULL."},
			"RETURN " + guarded("NULLIF("+hexPart(3)+", '')")},
		{sqlbuild.Function{Schema: fs, Name: FuncUserID, Returns: "text", Execute: callers,
			Comment: "The verified user_id of the transaction's signed identity, or NULL."},
			"RETURN " + guarded("NULLIF("+hexPart(4)+", '')")},
		{sqlbuild.Function{Schema: fs, Name: FuncIsSuperuser, Returns: "boolean", Execute: callers,
			Comment: "The verified is_superuser of the transaction's signed identity, or NULL."},
			"RETURN " + guarded("pg_catalog.split_part($v, '_', 5) = '1'")},
		{sqlbuild.Function{Schema: fs, Name: FuncClaim, Args: []sqlbuild.Arg{{Name: "claim_name", Type: "text"}}, Returns: "text", Execute: callers,
			Comment: "The verified named claim of the transaction's signed identity, or NULL."},
			"RETURN " + guarded(hexPart(6)+"::pg_catalog.jsonb ->> claim_name")},
	}
	for _, f := range fns {
		stmts, err := f.statements(r.Admin)
		if err != nil {
			return nil, err
		}
		out = append(out, stmts...)
	}
	return out, nil
}

// IdentitySecret stores the signed identity's shared secret (at least
// identity.MinSecretLen bytes) in uno_identity_secret, with its HMAC key
// blocks (identity.KeyBlocks) that uno_sign_in uses, replacing the one
// there. Run it as a superuser or the admin role, after [Functions]. The
// statement shows the secret and the blocks as *** wherever it is
// displayed.
func IdentitySecret(d Database, secret []byte) Emitter {
	secret = append([]byte(nil), secret...)
	return dbEmitterErr(EmitterIdentitySecret, d, func(d Database) ([]Statement, error) {
		if len(secret) < identity.MinSecretLen {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, identity.ErrSecret)
		}
		table := quote.Qualified(d.FunctionSchema, TableIdentitySecret)
		inner, outer := identity.KeyBlocks(secret)
		prefix := "INSERT INTO " + table + " (\"id\", \"secret\", \"inner_key\", \"outer_key\") VALUES (true, "
		suffix := ") ON CONFLICT (\"id\") DO UPDATE SET \"secret\" = EXCLUDED.\"secret\", " +
			"\"inner_key\" = EXCLUDED.\"inner_key\", \"outer_key\" = EXCLUDED.\"outer_key\""
		bytea := func(b []byte) string { return "'\\x" + hex.EncodeToString(b) + "'::bytea" }
		return []Statement{{Name: sqlbuild.ObjectName(d.FunctionSchema, TableIdentitySecret), Kind: KindInsert,
			SQL:      prefix + bytea(secret) + ", " + bytea(inner) + ", " + bytea(outer) + suffix,
			Redacted: prefix + "'***', '***', '***'" + suffix}}, nil
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
      AND has_table_privilege(oid, to_regclass(` + secret + `), 'SELECT')
UNION ALL
SELECT 'role that may set ` + SignedParameter + `, where the verified claims live: ' || rolname, ` + literal(SignedParameter) + ` FROM pg_roles
    WHERE rolname IN (` + strings.Join(roles, ", ") + `)
      AND has_parameter_privilege(oid, ` + literal(SignedParameter) + `, 'SET')`
}

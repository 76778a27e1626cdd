package emit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/quote"
)

// Finding is one problem found by [AuditRLS].
type Finding struct {
	Problem string // what is wrong
	Object  string // the table (schema.name) or role it is about
}

// String returns "object: problem".
func (f Finding) String() string { return f.Object + ": " + f.Problem }

// AuditError reports the findings of a failed audit; [CheckRLS] returns it.
type AuditError struct {
	Findings []Finding
}

// Error lists the findings.
func (e *AuditError) Error() string {
	parts := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		parts[i] = f.String()
	}
	return "emit: row-level security audit failed: " + strings.Join(parts, "; ")
}

// AuditRLS audits row-level security in the database db is connected to,
// which must be done by a role that may switch to the writer role (a
// superuser or the login role). It returns the rows of uno_rls_audit()
// (created by [Functions]): tenant tables (with a tenant_id column)
// lacking ENABLE or FORCE ROW LEVEL SECURITY or with a permissive policy
// not reading rls_var.tenant_id, relations owned by the login role, uno
// roles with BYPASSRLS. Then it checks that every tenant table fails
// closed: in a transaction as the writer role with no tenant set, the
// table must show no rows and refuse an INSERT (SQLSTATE 42501), and
// UPDATE and DELETE must reach no row. Every probe is rolled back.
func AuditRLS(ctx context.Context, db Beginner, o Options) ([]Finding, error) {
	o = o.withDefaults()
	if err := checkRoles(o.Roles); err != nil {
		return nil, err
	}
	fn := quote.Qualified(o.FunctionSchema, FuncRLSAudit)
	rows, err := db.Query(ctx, "SELECT problem, object FROM "+fn+"()")
	if err != nil {
		return nil, fmt.Errorf("emit: %s: %w", FuncRLSAudit, err)
	}
	findings, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Finding, error) {
		var f Finding
		err := row.Scan(&f.Problem, &f.Object)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("emit: %s: %w", FuncRLSAudit, err)
	}
	rows, err = db.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname), n.nspname || '.' || c.relname
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
  AND EXISTS (SELECT FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND a.attnum > 0 AND NOT a.attisdropped)
ORDER BY 2`)
	if err != nil {
		return nil, fmt.Errorf("emit: list tenant tables: %w", err)
	}
	type table struct{ quoted, name string }
	tables, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (table, error) {
		var t table
		err := row.Scan(&t.quoted, &t.name)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("emit: list tenant tables: %w", err)
	}
	for _, t := range tables {
		fs, err := probeTenantTable(ctx, db, o, t.quoted, t.name)
		if err != nil {
			return nil, err
		}
		findings = append(findings, fs...)
	}
	return findings, nil
}

// CheckRLS runs [AuditRLS] and returns an *[AuditError] listing the
// findings, if any.
func CheckRLS(ctx context.Context, db Beginner, o Options) error {
	findings, err := AuditRLS(ctx, db, o)
	if err != nil {
		return err
	}
	if len(findings) > 0 {
		return &AuditError{Findings: findings}
	}
	return nil
}

// probeTenantTable checks that a tenant table fails closed with no tenant
// set, in a transaction it always rolls back.
func probeTenantTable(ctx context.Context, db Beginner, o Options, quoted, name string) (findings []Finding, err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("emit: audit %s: %w", name, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT set_config('rls_var.tenant_id', '', true), set_config('rls_var.is_superuser', '', true),
set_config('rls_var.user_id', 'uno-rls-audit', true), set_config('role', $1, true)`, o.Roles.Writer); err != nil {
		return nil, fmt.Errorf("emit: audit %s: switch to %s: %w", name, o.Roles.Writer, err)
	}
	add := func(problem string) { findings = append(findings, Finding{Problem: problem, Object: name}) }
	// probe runs one statement in a savepoint; a 42501 refusal is what a
	// closed table answers.
	probe := func(sql string, args ...any) (tag pgconn.CommandTag, refused bool, err error) {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return tag, false, err
		}
		defer func() { _ = sp.Rollback(context.WithoutCancel(ctx)) }()
		tag, err = sp.Exec(ctx, sql, args...)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return tag, pgErr.Code == "42501", nil
		}
		return tag, false, err
	}
	if o.SignedIdentity {
		// In the signed mode settings are not identity: forge the
		// superuser flag (the table must stay closed), and try to write a
		// superuser identity where the verified claims live (PostgreSQL
		// must refuse it with 42501).
		if _, err := tx.Exec(ctx, `SELECT set_config('rls_var.is_superuser', 'true', true)`); err != nil {
			return nil, fmt.Errorf("emit: audit %s: %w", name, err)
		}
		forged := `SELECT set_config('` + SignedParameter + `', '` + signedPrefix + `' || ` + xactMicros + ` || '_' ||
encode(convert_to('{"is_superuser": true, "claims": {}}', 'UTF8'), 'hex'), true)`
		if _, refused, err := probe(forged); err != nil {
			return nil, fmt.Errorf("emit: audit %s: %w", name, err)
		} else if !refused {
			add("the writer role may set " + SignedParameter + ": signed identities can be forged")
		}
	}
	var n int64
	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("emit: audit %s: %w", name, err)
	}
	err = sp.QueryRow(ctx, "SELECT count(*) FROM "+quoted).Scan(&n)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42501":
	case err != nil:
		return nil, fmt.Errorf("emit: audit %s: %w", name, err)
	case n > 0 && o.SignedIdentity:
		add(fmt.Sprintf("tenant table shows %d rows to forged identity settings", n))
	case n > 0:
		add(fmt.Sprintf("tenant table shows %d rows with no tenant set", n))
	}
	_ = sp.Rollback(ctx)
	// NULL fits a tenant column of any type; row-level security checks it
	// before the NOT NULL constraint, so a closed table answers 42501.
	if _, refused, err := probe("INSERT INTO " + quoted + " (tenant_id) VALUES (NULL)"); err != nil {
		return nil, fmt.Errorf("emit: audit %s: %w", name, err)
	} else if !refused {
		add("tenant table does not refuse an INSERT with no tenant set")
	}
	for _, verb := range []string{"UPDATE " + quoted + " SET tenant_id = tenant_id", "DELETE FROM " + quoted} {
		tag, _, err := probe(verb)
		if err != nil {
			return nil, fmt.Errorf("emit: audit %s: %w", name, err)
		}
		if tag.RowsAffected() > 0 {
			add(fmt.Sprintf("tenant table lets %s reach %d rows with no tenant set", strings.Fields(verb)[0], tag.RowsAffected()))
		}
	}
	return findings, nil
}

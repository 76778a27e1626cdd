package emit

import (
	"fmt"

	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/sqlbuild"
)

// Options are what the model-level emitters need to know about the
// database: its roles and where uno's functions are. [Database.Options]
// returns them for a database set up by the database-level emitters.
type Options struct {
	Roles          config.Roles // all five names are required
	FunctionSchema string       // default "public"
	// SignedIdentity makes the tenant policies use the verified identity
	// functions ([SignedTenantPredicate]) instead of the rls_var.*
	// settings; it must match the Database's SignedIdentity, which
	// decides what the trigger functions read.
	SignedIdentity bool
}

func (o Options) withDefaults() Options {
	if o.FunctionSchema == "" {
		o.FunctionSchema = "public"
	}
	return o
}

// Names of the model-level emitters.
const (
	EmitterTable        = "table"
	EmitterGrants       = "grants"
	EmitterRecordStatus = "record_status"
	EmitterUserAudit    = "user_audit"
	EmitterTenantRLS    = "tenant_rls"
	EmitterHistory      = "history"
)

// Settings read by the triggers and policies. engine.TxOptions.Identity
// sets them for one transaction.
const (
	SettingUserID      = "rls_var.user_id"
	SettingTenantID    = "rls_var.tenant_id"
	SettingIsSuperuser = "rls_var.is_superuser"
)

// Column sets the trigger emitters need.
var (
	recordStatusColumns = []string{"is_active", "is_deleted", "created_at", "modified_at", "deleted_at"}
	userAuditColumns    = []string{"created_by_id", "modified_by_id", "deleted_by_id"}
)

func hasColumns(t *model.Table, names []string) error {
	for _, n := range names {
		if _, ok := t.Column(n); !ok {
			return fmt.Errorf("%w: %s has no %s column", ErrInvalid, t.GoName(), n)
		}
	}
	return nil
}

// modelEmitter returns an emitter running fn on t and o, after checking
// them.
func modelEmitter(name string, t *model.Table, o Options, fn func(t *model.Table, o Options) ([]Statement, error)) Emitter {
	return funcEmitter{name: name, fn: func() ([]Statement, error) {
		if t == nil {
			return nil, ErrNilTable
		}
		o := o.withDefaults()
		if err := checkRoles(o.Roles); err != nil {
			return nil, err
		}
		if err := sqlbuild.CheckName("FunctionSchema", o.FunctionSchema); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return fn(t, o)
	}}
}

// tableGrants returns the ownership and privileges of a table: owned by
// the admin role, nothing for PUBLIC, SELECT for the reader, SELECT,
// INSERT, UPDATE and DELETE for the writer (writer false: SELECT only),
// everything for the admin.
func tableGrants(schema, table, quoted string, o Options, writer bool) []Statement {
	r := o.Roles
	name := sqlbuild.ObjectName(schema, table)
	var out []Statement
	g := func(sql string) { out = append(out, Statement{Name: name, Kind: KindGrant, SQL: sql}) }
	if schema != "" {
		g("GRANT USAGE ON SCHEMA " + quote.Ident(schema) + " TO " + quote.Ident(r.Base))
	}
	out = append(out, Statement{Name: name, Kind: KindTable, SQL: "ALTER TABLE " + quoted + " OWNER TO " + quote.Ident(r.Admin)})
	// Start from nothing: default privileges may have granted more.
	g("REVOKE ALL ON TABLE " + quoted + " FROM PUBLIC, " + quote.Ident(r.Reader) + ", " + quote.Ident(r.Writer) + ", " + quote.Ident(r.Base))
	g("GRANT SELECT ON TABLE " + quoted + " TO " + quote.Ident(r.Reader))
	if writer {
		g("GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE " + quoted + " TO " + quote.Ident(r.Writer))
	} else {
		g("GRANT SELECT ON TABLE " + quoted + " TO " + quote.Ident(r.Writer))
	}
	g("GRANT ALL ON TABLE " + quoted + " TO " + quote.Ident(r.Admin))
	return out
}

// Grants emits the table's ownership and privileges: owned by the admin
// role; the reader may SELECT; the writer may SELECT, INSERT, UPDATE and
// DELETE; the admin may do everything; PUBLIC nothing. For a table in a
// schema, the base role may use the schema.
func Grants(t *model.Table, o Options) Emitter {
	return modelEmitter(EmitterGrants, t, o, func(t *model.Table, o Options) ([]Statement, error) {
		return tableGrants(t.Schema, t.Name, t.QuotedName, o, true), nil
	})
}

// RecordStatus emits the record-status trigger: before each INSERT and
// UPDATE, uno_record_status sets created_at (kept on update) and
// modified_at to the transaction time, keeps is_active and is_deleted
// set, and sets deleted_at (and clears is_active) when a row becomes
// deleted. For a model whose SQLConfig asks for DeleteSoftly, a second
// trigger turns DELETE into an update of is_deleted, so the row stays. The
// model needs the [model.RecordStatus] columns.
func RecordStatus(t *model.Table, o Options) Emitter {
	return modelEmitter(EmitterRecordStatus, t, o, func(t *model.Table, o Options) ([]Statement, error) {
		if err := hasColumns(t, recordStatusColumns); err != nil {
			return nil, err
		}
		s, err := sqlbuild.Trigger{Name: FuncRecordStatus, Schema: t.Schema, Table: t.Name, Timing: sqlbuild.Before,
			Events: []sqlbuild.Event{sqlbuild.Insert, sqlbuild.Update}, ForEachRow: true,
			FunctionSchema: o.FunctionSchema, Function: FuncRecordStatus}.Statement()
		if err != nil {
			return nil, err
		}
		out := []Statement{s}
		if t.SQL.DeleteSoftly {
			var keys []string
			for _, c := range t.PrimaryKey.Columns {
				keys = append(keys, c.Name)
			}
			s, err := sqlbuild.Trigger{Name: FuncSoftDelete, Schema: t.Schema, Table: t.Name, Timing: sqlbuild.Before,
				Events: []sqlbuild.Event{sqlbuild.Delete}, ForEachRow: true,
				FunctionSchema: o.FunctionSchema, Function: FuncSoftDelete, Args: keys}.Statement()
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	})
}

// UserAudit emits the user-audit trigger: before each INSERT and UPDATE,
// uno_user_audit sets created_by_id (kept on update) and modified_by_id to
// the session's current user (rls_var.user_id), and deleted_by_id when a
// row becomes soft-deleted. When the model's SQLConfig sets RequireUser, a
// write without a current user fails with SQLSTATE 42501. The model needs
// the [model.UserAudit] columns.
func UserAudit(t *model.Table, o Options) Emitter {
	return modelEmitter(EmitterUserAudit, t, o, func(t *model.Table, o Options) ([]Statement, error) {
		if err := hasColumns(t, userAuditColumns); err != nil {
			return nil, err
		}
		required, soft := "optional", "hard"
		if t.SQL.RequireUser {
			required = "required"
		}
		if t.SoftDelete {
			soft = "soft"
		}
		events := []sqlbuild.Event{sqlbuild.Insert, sqlbuild.Update}
		if t.SQL.RequireUser {
			events = append(events, sqlbuild.Delete) // a delete without a user fails too
		}
		s, err := sqlbuild.Trigger{Name: FuncUserAudit, Schema: t.Schema, Table: t.Name, Timing: sqlbuild.Before,
			Events: events, ForEachRow: true,
			FunctionSchema: o.FunctionSchema, Function: FuncUserAudit, Args: []string{required, soft}}.Statement()
		if err != nil {
			return nil, err
		}
		return []Statement{s}, nil
	})
}

// TenantPredicate returns the SQL condition of uno's tenant policies for a
// tenant column (quoted): the row belongs to the session's tenant, or the
// session has the superuser setting. The tenant is read with
// nullif(current_setting(…, true), ”), so with no tenant set the
// condition is never true and the table shows and accepts nothing.
func TenantPredicate(quotedColumn string) string {
	return "current_setting(" + literal(SettingIsSuperuser) + ", true) = 'true' OR " +
		quotedColumn + " = nullif(current_setting(" + literal(SettingTenantID) + ", true), '')"
}

// tenantPolicies returns ENABLE and FORCE ROW LEVEL SECURITY and the tenant
// policies for the commands given.
func tenantPolicies(schema, table string, tenant *model.Column, o Options, cmds []sqlbuild.Command) ([]Statement, error) {
	quoted := sqlbuild.Qualified(schema, table)
	name := sqlbuild.ObjectName(schema, table)
	out := []Statement{
		{Name: name, Kind: KindPolicy, SQL: "ALTER TABLE " + quoted + " ENABLE ROW LEVEL SECURITY"},
		{Name: name, Kind: KindPolicy, SQL: "ALTER TABLE " + quoted + " FORCE ROW LEVEL SECURITY"},
	}
	pred := TenantPredicate(tenant.QuotedName)
	if o.SignedIdentity {
		pred = SignedTenantPredicate(tenant.QuotedName, o.FunctionSchema)
	}
	roles := []string{o.Roles.Reader, o.Roles.Writer, o.Roles.Admin}
	for _, c := range cmds {
		p := sqlbuild.Policy{Name: "uno_tenant_" + lower(c.String()), Schema: schema, Table: table, Command: c, Roles: roles}
		switch c {
		case sqlbuild.CmdSelect, sqlbuild.CmdDelete:
			p.Using = pred
		case sqlbuild.CmdInsert:
			p.WithCheck = pred
		default:
			p.Using, p.WithCheck = pred, pred
		}
		stmts, err := p.Statements()
		if err != nil {
			return nil, err
		}
		out = append(out, stmts...)
	}
	return out, nil
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// TenantRLS emits row-level security for a tenant model: ENABLE and FORCE
// ROW LEVEL SECURITY (so the table owner is held too) and one policy per
// command — uno_tenant_select, _insert, _update, _delete — for the reader,
// writer and admin roles, each with [TenantPredicate] in USING and, for
// INSERT and UPDATE, in WITH CHECK, so no row can be written for, or
// moved to, another tenant. The model needs a tenant_id column.
func TenantRLS(t *model.Table, o Options) Emitter {
	return modelEmitter(EmitterTenantRLS, t, o, func(t *model.Table, o Options) ([]Statement, error) {
		if t.TenantColumn == nil {
			return nil, fmt.Errorf("%w: %s has no tenant_id column", ErrInvalid, t.GoName())
		}
		return tenantPolicies(t.Schema, t.Name, t.TenantColumn, o,
			[]sqlbuild.Command{sqlbuild.CmdSelect, sqlbuild.CmdInsert, sqlbuild.CmdUpdate, sqlbuild.CmdDelete})
	})
}

// HistoryTable returns the name of a table's history table:
// <table>_history in the table's schema.
func HistoryTable(t *model.Table) string { return t.Name + "_history" }

// History emits a history table and the trigger that fills it. The table
// <table>_history has the model's columns (CREATE TABLE … (LIKE …)) followed
// by history_op (INSERT, UPDATE or DELETE), history_at, history_user_id
// (rls_var.user_id) and history_id, its identity primary key. After every
// INSERT, UPDATE and DELETE, uno_history (SECURITY DEFINER) adds the new
// row version (the old one for DELETE), so the table holds one row per
// version. Readers and writers may only SELECT it. A tenant model's
// history table gets row-level security with tenant policies for SELECT
// and INSERT.
func History(t *model.Table, o Options) Emitter {
	return modelEmitter(EmitterHistory, t, o, func(t *model.Table, o Options) ([]Statement, error) {
		h := HistoryTable(t)
		if err := sqlbuild.CheckName("history table", h); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, t.GoName(), err)
		}
		qh := sqlbuild.Qualified(t.Schema, h)
		pk := model.ShortenName("pk_" + h)
		out := []Statement{{Name: sqlbuild.ObjectName(t.Schema, h), Kind: KindTable, SQL: "CREATE TABLE IF NOT EXISTS " + qh + " (\n" +
			"    LIKE " + t.QuotedName + ",\n" +
			"    \"history_op\" TEXT NOT NULL,\n" +
			"    \"history_at\" TIMESTAMPTZ NOT NULL,\n" +
			"    \"history_user_id\" TEXT,\n" +
			"    \"history_id\" BIGINT GENERATED ALWAYS AS IDENTITY NOT NULL,\n" +
			"    CONSTRAINT " + quote.Ident(pk) + " PRIMARY KEY (\"history_id\")\n)"}}
		out = append(out, tableGrants(t.Schema, h, qh, o, false)...)
		if t.TenantColumn != nil {
			stmts, err := tenantPolicies(t.Schema, h, t.TenantColumn, o, []sqlbuild.Command{sqlbuild.CmdSelect, sqlbuild.CmdInsert})
			if err != nil {
				return nil, err
			}
			out = append(out, stmts...)
		}
		s, err := sqlbuild.Trigger{Name: FuncHistory, Schema: t.Schema, Table: t.Name, Timing: sqlbuild.After,
			Events: []sqlbuild.Event{sqlbuild.Insert, sqlbuild.Update, sqlbuild.Delete}, ForEachRow: true,
			FunctionSchema: o.FunctionSchema, Function: FuncHistory}.Statement()
		if err != nil {
			return nil, err
		}
		return append(out, s), nil
	})
}

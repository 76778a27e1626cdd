package engine

import (
	"strings"
	"time"

	"github.com/uno-db/uno/identity"
)

// signedIdentity is what [DB.SignIdentities] set.
type signedIdentity struct {
	signer *identity.Signer
	schema string
}

// SignIdentities turns on signed identity for db (see docs/SECURITY.md):
// from then on, a transaction begun with a non-zero [Identity] also calls
// uno_sign_in in FunctionSchema (default public) in its BEGIN batch, in
// the same round trip, with the tenant, user, superuser flag and
// Identity.Claims signed by signer. The database must have been set up in
// the signed mode (emit.Database.SignedIdentity, emit.IdentitySecret with
// the same secret); a bad signature fails the BEGIN with SQLSTATE 28000.
// SQL reads the verified values with uno_tenant_id(), uno_user_id(),
// uno_is_superuser() and uno_claim(name); the rls_var.* settings are set
// as well, unverified, for code that reads them. A nil signer turns
// signing off. It applies to every
// user of db (the factory shares one DB per server, database and login);
// call it once, before use.
func (db *DB) SignIdentities(signer *identity.Signer, functionSchema string) {
	if signer == nil {
		db.signed.Store(nil)
		return
	}
	db.signed.Store(&signedIdentity{signer: signer, schema: functionSchema})
}

// addSignIn appends ", uno_sign_in(…)" to the BEGIN batch's SELECT in b
// and its arguments to args, when db signs identities and id is not zero.
func (db *DB) addSignIn(b *strings.Builder, args *[]any, id Identity) error {
	s := db.signed.Load()
	if s == nil || id.isZero() {
		return nil
	}
	sargs, err := s.signer.Args(identity.Claims{TenantID: id.TenantID, UserID: id.UserID, Superuser: id.Superuser, Extra: id.Claims}, time.Now())
	if err != nil {
		return err
	}
	b.WriteString(", ")
	b.WriteString(identity.SignInCall(s.schema, len(*args)+1))
	*args = append(*args, sargs...)
	return nil
}

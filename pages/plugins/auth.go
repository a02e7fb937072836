package plugins

import (
	"github.com/dop251/goja"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketguest/pocketguest/anonauth"
)

// The Go side of pocketpages-plugin-auth (js/auth.js): only the guest test;
// the rest is pb() and the engine's sign-in globals.

// isGuest is natives.isGuest(record, collection): whether record is a guest
// (an anonauth anonymous account) of the collection (name or id), which
// createUser upgrades in place.
func (n *natives) isGuest(v goja.Value, collection string) bool {
	record, ok := v.Export().(*core.Record)
	if !ok || !anonauth.IsAnonymous(record) {
		return false
	}
	return collection == "" || record.Collection().Name == collection || record.Collection().Id == collection
}

// upgradeSendsVerification is natives.upgradeSendsVerification(): whether
// a guest upgrade mails the verification itself (anonauth.Plugin.Upgrade
// does when SMTP is enabled), so createUser does not send a second one.
func (n *natives) upgradeSendsVerification() bool {
	return n.env.App.Settings().SMTP.Enabled
}

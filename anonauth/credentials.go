package anonauth

import (
	"errors"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"
)

// unusableHashPrefix starts every guest's password hash. It is not a bcrypt
// hash (those start with "$2"), so bcrypt.CompareHashAndPassword always fails
// and the record can never log in with a password — yet the auth collection's
// required password field is satisfied without paying ~60 ms of bcrypt for a
// password nobody will ever type. The "!" mirrors the locked-account marker
// of /etc/shadow.
const unusableHashPrefix = "!anonymous:"

const emailAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// newUnusablePassword returns a password field value whose hash can never
// match any password. The random suffix keeps hashes distinct, so a copied
// hash says nothing about another guest.
func newUnusablePassword() *core.PasswordFieldValue {
	return &core.PasswordFieldValue{Hash: unusableHashPrefix + security.RandomString(24)}
}

// hasUnusablePassword reports whether record still carries the guest
// placeholder hash (no real password was ever set).
func hasUnusablePassword(record *core.Record) bool {
	hash, _ := record.GetRaw(core.FieldNamePassword).(*core.PasswordFieldValue)
	if hash != nil {
		return strings.HasPrefix(hash.Hash, unusableHashPrefix)
	}
	raw, _ := record.GetRaw(core.FieldNamePassword).(string)
	return strings.HasPrefix(raw, unusableHashPrefix)
}

// newEmail returns a placeholder email for a guest of collection.
//
// The default, anonymous-<15 random chars>@<domain>, has ~77 bits of entropy:
// a collision is astronomically unlikely, and is retried anyway.
func (p *Plugin) newEmail(collection *core.Collection) (string, error) {
	if p.config.GenerateEmail != nil {
		email, err := p.config.GenerateEmail(collection)
		if err != nil {
			return "", err
		}
		if email == "" {
			return "", errors.New("the email generator returned an empty email")
		}
		return email, nil
	}
	return "anonymous-" + security.RandomStringWithAlphabet(15, emailAlphabet) + "@" + p.config.EmailDomain, nil
}

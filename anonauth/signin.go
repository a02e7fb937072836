package anonauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
)

// maxEmailAttempts bounds the retries of an email collision before SignIn
// gives up with a 409 (only a broken custom generator gets there).
const maxEmailAttempts = 5

// SignInOptions are the options of SignIn.
type SignInOptions struct {
	// Collection is the auth collection to create the guest in.
	//
	// If empty it falls back to "users".
	Collection string

	// Fresh asks for a new guest even when the request already carries a guest
	// session of the same collection. Without it that session is returned as
	// it is, so a double submit or a reload never leaves an orphaned guest.
	Fresh bool
}

// AuthData is what a sign-in returns: the same {token, record} pair as
// PocketBase's own auth endpoints.
type AuthData struct {
	Token  string       `json:"token"`
	Record *core.Record `json:"record"`
}

// SignIn signs the request in as a guest of opts.Collection.
//
// It creates the guest record (random placeholder email, unusable password
// hash, isAnonymous=true, verified=false), issues a guest auth token, sets the
// pb_auth cookie on e's response and sets e.Auth, so the rest of the request
// sees the new session. If the request already carries a guest session of the
// same collection and opts.Fresh is false, that session is returned instead
// (with a new token and cookie).
//
// It does not write a response body and does not fire OnRecordAuthRequest:
// the HTTP endpoint does that (through apis.RecordAuthResponse); scripts that
// call signInAnonymously render their own response.
//
// Errors are *router.ApiError: 403 a cross-site browser request (see
// CheckSameOrigin), 404 unknown collection, 400 not an auth collection or
// already signed in with a full account, 403 not enabled, 429 rate limited
// (a *RateLimitError), 503 the database cannot be written (a
// *StorageFaultError: disk full, read-only, locked past the busy timeout);
// with Config.Challenge on, 400 for a missing or refused challenge solution
// and 503 (a *ChallengeError) when it cannot be checked.
func (p *Plugin) SignIn(e *core.RequestEvent, opts SignInOptions) (*AuthData, error) {
	record, err := p.signInRecord(e, opts)
	if err != nil {
		return nil, err
	}
	return p.startSession(e, record)
}

// startSession issues record's token and sets the pb_auth cookie: the common
// end of the Go/JS sign-in and upgrade (the HTTP endpoints go through
// apis.RecordAuthResponse instead, whose hook does the same).
func (p *Plugin) startSession(e *core.RequestEvent, record *core.Record) (*AuthData, error) {
	token, err := p.NewToken(record)
	if err != nil {
		return nil, err
	}
	if err := SetAuthCookie(e, token, record); err != nil {
		return nil, err
	}
	return &AuthData{Token: token, Record: record}, nil
}

// signInRecord resolves the guest for the request: the current guest
// session, or a newly created guest (rate limited). It sets e.Auth.
func (p *Plugin) signInRecord(e *core.RequestEvent, opts SignInOptions) (*core.Record, error) {
	// The answer sets the session cookie: never for another site (login CSRF).
	if err := p.CheckSameOrigin(e.Request); err != nil {
		return nil, err
	}

	collection, err := p.enabledCollection(e.App, opts.Collection)
	if err != nil {
		return nil, err
	}

	if e.Auth != nil && !e.HasSuperuserAuth() {
		if !IsAnonymous(e.Auth) {
			return nil, errAlreadySignedIn()
		}
		if !opts.Fresh && e.Auth.Collection().Id == collection.Id {
			return e.Auth, nil
		}
	}

	if !e.HasSuperuserAuth() {
		if err := p.allow(e.RealIP()); err != nil {
			return nil, err
		}
		if err := p.checkChallenge(e, collection); err != nil {
			return nil, err
		}
	}

	record, err := p.CreateGuest(e.App, collection)
	if err != nil {
		return nil, storageFault(e, err)
	}

	e.Auth = record

	return record, nil
}

// CreateGuest creates and saves a new guest record in collection, with no
// request involved (no rate limit, no cookie): for seeding, tests, CLIs and
// Go code that has its own request handling.
//
// The record goes through app.Save, so the model hooks apps rely on
// (OnRecordCreate, OnRecordAfterCreateSuccess, ...) fire as for any record.
func (p *Plugin) CreateGuest(app core.App, collection *core.Collection) (*core.Record, error) {
	for attempt := 1; ; attempt++ {
		record, err := p.newGuestRecord(collection)
		if err != nil {
			return nil, err
		}

		err = app.Save(record)
		if err == nil {
			return record, nil
		}

		if !isGeneratedValueConflict(err, collection) {
			return nil, err
		}
		if attempt >= maxEmailAttempts {
			return nil, errNoUniqueEmail(attempt)
		}
	}
}

func (p *Plugin) newGuestRecord(collection *core.Collection) (*core.Record, error) {
	email, err := p.newEmail(collection)
	if err != nil {
		return nil, err
	}

	record := core.NewRecord(collection)
	record.SetEmail(email)
	record.SetEmailVisibility(false)
	record.SetVerified(false)
	record.SetRaw(core.FieldNamePassword, newUnusablePassword())
	record.Set(FieldIsAnonymous, true)

	if p.config.GenerateName != nil && collection.Fields.GetByName(p.config.NameField) != nil {
		record.Set(p.config.NameField, p.config.GenerateName(collection))
	}

	return record, nil
}

// isEmailConflict reports whether a save failed on the unique email index.
func isEmailConflict(err error) bool {
	return isNotUnique(err, core.FieldNameEmail)
}

// isGeneratedValueConflict reports whether a guest save failed on a unique
// index over a value that a new attempt generates afresh: the email, the id,
// or a text field with an autogenerate pattern (e.g. a "username" filled
// from "users[0-9]{5}", whose small space collides at scale).
func isGeneratedValueConflict(err error, collection *core.Collection) bool {
	if isNotUnique(err, core.FieldNameEmail) || isNotUnique(err, core.FieldNameId) {
		return true
	}
	for _, f := range collection.Fields {
		if text, ok := f.(*core.TextField); ok && text.AutogeneratePattern != "" && isNotUnique(err, text.Name) {
			return true
		}
	}
	return false
}

func isNotUnique(err error, field string) bool {
	var verrs validation.Errors
	if !errors.As(err, &verrs) {
		return false
	}
	fieldErr, ok := verrs[field]
	if !ok {
		return false
	}
	var verr validation.Error
	return errors.As(fieldErr, &verr) && verr.Code() == "validation_not_unique"
}

// NewToken issues an auth token for record. For a guest of an enabled
// collection it lives Config.TokenDuration; for any other record it lives
// the collection's auth token duration.
//
// The token carries exactly the claims of record.NewAuthToken (type "auth",
// refreshable), so every PocketBase API, auth-refresh included, accepts it.
func (p *Plugin) NewToken(record *core.Record) (string, error) {
	return p.signAuthToken(record, p.tokenLifetime(record))
}

// tokenLifetime is how long a new auth token of record lives.
func (p *Plugin) tokenLifetime(record *core.Record) time.Duration {
	if IsAnonymous(record) && p.IsEnabled(record.Collection().Name) {
		return p.config.TokenDuration
	}
	return record.Collection().AuthToken.DurationTime()
}

// signAuthToken signs record.NewAuthToken's claims with an expiry on the
// plugin's clock (security.NewJWT reads the wall clock, which tests of
// sessions that span days cannot move).
func (p *Plugin) signAuthToken(record *core.Record, lifetime time.Duration) (string, error) {
	if !record.Collection().IsAuth() {
		return "", core.ErrNotAuthRecord
	}
	key := record.TokenKey() + record.Collection().AuthToken.Secret
	if key == "" {
		return "", core.ErrMissingSigningKey
	}
	claims := authTokenClaims{
		Type:         core.TokenTypeAuth,
		Id:           record.Id,
		CollectionId: record.Collection().Id,
		Refreshable:  true,
		RegisteredClaims: jwt.RegisteredClaims{
			ExpiresAt: jwt.NewNumericDate(p.now().Add(lifetime)),
		},
	}
	// jwt.Token.SignedString, minus marshaling its constant header map:
	// the same bytes, signed by the same SigningMethodHS256.
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := jwtHeaderHS256 + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodHS256.Sign(signing, []byte(key))
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// jwtHeaderHS256 is the encoded header jwt.NewWithClaims writes for HS256:
// base64url(`{"alg":"HS256","typ":"JWT"}`).
const jwtHeaderHS256 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// authTokenClaims are the claims of record.NewAuthToken (core.TokenClaim*)
// as a struct: the same token PocketBase reads into a map, encoded without
// the map's reflection and key sorting (it is signed on every sliding
// session renewal).
type authTokenClaims struct {
	Type         string `json:"type"`
	Id           string `json:"id"`
	CollectionId string `json:"collectionId"`
	Refreshable  bool   `json:"refreshable"`
	jwt.RegisteredClaims
}

// enabledCollection finds the named auth collection and checks that
// anonymous sign-in is enabled for it.
func (p *Plugin) enabledCollection(app core.App, name string) (*core.Collection, error) {
	if name == "" {
		name = DefaultCollection
	}

	collection, err := app.FindCachedCollectionByNameOrId(name)
	if err != nil || collection == nil {
		return nil, errCollectionNotFound(name)
	}
	if !collection.IsAuth() {
		return nil, errNotAuthCollection(collection.Name)
	}
	if !p.IsEnabled(collection.Name) {
		return nil, errNotEnabled(collection.Name)
	}

	return collection, nil
}

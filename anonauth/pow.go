package anonauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The self-hosted proof-of-work challenge, in ALTCHA's classic ("v1") wire
// format, which the `altcha` widget (3.x) solves as it is and `altcha-lib`
// (2.x, import "altcha-lib/v1") creates and verifies:
//
//	challenge (GET anonymous-challenge):
//	  {"algorithm": "SHA-256", "challenge": hex(sha256(salt + number)),
//	   "maxnumber": N, "salt": "<hex>?expires=<unix>&collection=<id>&issued=<unix>&",
//	   "signature": hex(hmac-sha256(key, challenge))}
//	solution (the widget's "altcha" form field):
//	  base64(JSON{"algorithm", "challenge", "number", "salt", "signature", "took"})
//
// The client finds number (0..maxnumber) by brute force: maxnumber/2 SHA-256
// hashes on average. The server verifies with one SHA-256 and one HMAC. The
// salt carries the parameters (expiry, collection, issue time); it is bound
// by the hash, the hash by the signature, so none of them can be changed.
//
// Why v1 and not ALTCHA's newer v2 format: v2 signs a canonical JSON
// serialisation of its parameters, which a Go server would have to reproduce
// byte for byte (JS key order, number and string formatting), and its
// memory-hard algorithms (scrypt, Argon2) need more than the standard
// library. v1 needs exactly sha256 + hmac, and both the 3.x widget and
// altcha-lib 2.x support it.

// powAlgorithm is the only hash the challenge uses.
const powAlgorithm = "SHA-256"

// powKeyLabel separates the challenge key from every other use of the
// collection's auth token secret (see challengeKey).
const powKeyLabel = "pocketguest/anonymous-challenge/v1"

// powChallenge is the JSON the challenge endpoint returns.
type powChallenge struct {
	Algorithm string `json:"algorithm"`
	Challenge string `json:"challenge"`
	MaxNumber int    `json:"maxnumber"`
	Salt      string `json:"salt"`
	Signature string `json:"signature"`
}

// powPayload is the decoded solution the widget submits.
type powPayload struct {
	Algorithm string          `json:"algorithm"`
	Challenge string          `json:"challenge"`
	Number    json.RawMessage `json:"number"`
	Salt      string          `json:"salt"`
	Signature string          `json:"signature"`
}

// powParams are the parameters carried in a verified salt.
type powParams struct {
	Hash       [sha256.Size]byte // the challenge hash: the replay ledger's key
	Expires    time.Time         // zero if the salt has no expiry
	Collection string            // collection id ("" for a foreign challenge)
	Issued     time.Time         // zero if the salt has no issue time
}

// challengeKey derives the HMAC key of a collection's challenges from the
// collection's auth token secret: no new secret to generate, store or back
// up; it is in the database with the collection, survives restarts, differs
// per collection (a challenge of one collection can never verify for
// another) and rotates with it (PocketBase's "invalidate all tokens" also
// invalidates the outstanding challenges). The label keeps the derived key
// unrelated to the JWTs signed with the same secret.
//
// The key is the hex string of the HMAC, used as the raw HMAC key bytes:
// exactly what altcha-lib does with a string hmacKey, so the two agree.
func challengeKey(authTokenSecret string) []byte {
	mac := hmac.New(sha256.New, []byte(authTokenSecret))
	mac.Write([]byte(powKeyLabel))
	return []byte(hex.EncodeToString(mac.Sum(nil)))
}

// newPowChallenge creates a signed challenge for collectionId that expires
// at now+ttl.
func newPowChallenge(key []byte, collectionId string, maxNumber int, now time.Time, ttl time.Duration) (*powChallenge, error) {
	random := make([]byte, 12) // as altcha-lib's default salt length
	if _, err := rand.Read(random); err != nil {
		return nil, err
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(maxNumber)+1))
	if err != nil {
		return nil, err
	}

	// The trailing "&" is ALTCHA's delimiter against parameter splicing
	// (moving digits between the salt and the number).
	salt := hex.EncodeToString(random) + "?" + url.Values{
		"expires":    {strconv.FormatInt(now.Add(ttl).Unix(), 10)},
		"collection": {collectionId},
		"issued":     {strconv.FormatInt(now.Unix(), 10)},
	}.Encode() + "&"

	hash := sha256.Sum256([]byte(salt + n.String()))
	challenge := hex.EncodeToString(hash[:])

	return &powChallenge{
		Algorithm: powAlgorithm,
		Challenge: challenge,
		MaxNumber: maxNumber,
		Salt:      salt,
		Signature: powSign(key, challenge),
	}, nil
}

func powSign(key []byte, challenge string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(challenge))
	return hex.EncodeToString(mac.Sum(nil))
}

// The reasons verifyPowPayload refuses a solution. The sign-in turns each
// into a 400 with a message for the client (challenge.go).
var (
	errPowMalformed = errors.New("the challenge solution is not valid base64-encoded ALTCHA JSON")
	errPowAlgorithm = errors.New("the challenge solution uses an unsupported algorithm (only SHA-256)")
	errPowSignature = errors.New("the challenge solution is wrong or was not issued by this server")
	errPowExpired   = errors.New("the challenge has expired")
)

// maxPowPayload bounds the solution we decode: a real one is ~300 bytes.
const maxPowPayload = 2048

// verifyPowPayload checks an ALTCHA solution the way altcha-lib's v1
// verifySolution does: the number solves the challenge (sha256(salt+number)
// == challenge), the challenge carries our signature and the salt's expiry
// (if any) has not passed. It returns the salt's parameters; binding them to
// a collection and spending the solution is the caller's job.
//
// Cost: one base64+JSON decode, one SHA-256 of ~100 bytes and one HMAC.
func verifyPowPayload(key []byte, payload string, now time.Time) (*powParams, error) {
	if len(payload) > maxPowPayload {
		return nil, errPowMalformed
	}
	raw, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return nil, errPowMalformed
	}
	var p powPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, errPowMalformed
	}
	if p.Algorithm != powAlgorithm {
		return nil, errPowAlgorithm
	}
	number, ok := powNumber(p.Number)
	if !ok || !strings.HasSuffix(p.Salt, "&") {
		// A salt without the "&" delimiter could be a spliced one.
		return nil, errPowSignature
	}

	params, err := parsePowSalt(p.Salt)
	if err != nil {
		return nil, errPowMalformed
	}

	hash := sha256.Sum256([]byte(p.Salt + number))
	wantChallenge := hex.EncodeToString(hash[:])
	wantSignature := powSign(key, wantChallenge)
	// Both comparisons always run, so the timing says nothing about which failed.
	challengeOK := hmac.Equal([]byte(wantChallenge), []byte(p.Challenge))
	signatureOK := hmac.Equal([]byte(wantSignature), []byte(p.Signature))
	if !challengeOK || !signatureOK {
		return nil, errPowSignature
	}

	if !params.Expires.IsZero() && now.After(params.Expires) {
		return nil, errPowExpired
	}

	params.Hash = hash
	return params, nil
}

// powNumber returns the text altcha-lib appends to the salt for the
// payload's number: JS's String(number). For a JSON integer (what every
// solver sends) that is its digits; a JSON string is used as it is, as
// altcha-lib does. The hash then decides: only the number the challenge was
// made with matches. Other JSON (fractions, exponents, 2^53 and up, where
// JS's formatting would differ from the literal) is refused.
func powNumber(n json.RawMessage) (string, bool) {
	if len(n) > 0 && n[0] == '"' {
		var s string
		if err := json.Unmarshal(n, &s); err != nil {
			return "", false
		}
		return s, true
	}
	s := string(n)
	if s == "" || len(s) > 15 {
		return "", false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return "", false // not valid JSON
	}
	return s, true
}

// parsePowSalt reads the parameters after the "?" of a salt. Unknown
// parameters (e.g. from altcha-lib's params option) are ignored.
func parsePowSalt(salt string) (*powParams, error) {
	params := &powParams{}
	_, query, found := strings.Cut(salt, "?")
	if !found {
		return params, nil
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return nil, err
	}
	// altcha-lib reads "expires" and falls back to "expire".
	expires := values.Get("expires")
	if expires == "" {
		expires = values.Get("expire")
	}
	if expires != "" {
		sec, err := strconv.ParseInt(expires, 10, 64)
		if err != nil {
			return nil, err
		}
		params.Expires = time.Unix(sec, 0)
	}
	if issued := values.Get("issued"); issued != "" {
		sec, err := strconv.ParseInt(issued, 10, 64)
		if err != nil {
			return nil, err
		}
		params.Issued = time.Unix(sec, 0)
	}
	params.Collection = values.Get("collection")
	return params, nil
}

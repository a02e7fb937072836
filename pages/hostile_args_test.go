package pages_test

import (
	"testing"
)

// TestAuthHelpersRefuseHostileShapes: the page auth helpers take text; a
// form field of another shape (what a JSON body can carry) is a catchable
// 400 naming the argument, never a TypeError from the object's own toString.
func TestAuthHelpersRefuseHostileShapes(t *testing.T) {
	s := newServer(t, siteOptions(newFakeOAuth2(t, "hostile@example.com")))

	for _, tc := range []struct{ body, message string }{
		{`{"mode":"password","email":{"toString":1},"password":"x"}`, "Invalid signInWithPassword() argument: email must be a string."},
		{`{"mode":"password","email":"test@example.com","password":["1234567890"]}`, "Invalid signInWithPassword() argument: password must be a string."},
		{`{"mode":"otp-request","email":{"valueOf":1,"toString":1}}`, "Invalid requestOTP() argument: email must be a string."},
		{`{"mode":"otp","otpId":{"toString":1},"password":"x"}`, "Invalid signInWithOTP() argument: otpId must be a string."},
		{`{"mode":"oauth2","provider":{"toString":1}}`, "Invalid requestOAuth2Login() argument: provider must be a string."},
	} {
		res := s.do("POST", "/login", tc.body, "Content-Type: application/json")
		mustStatus(t, res, 200) // the page catches it and shows it
		mustContain(t, res, `data-status="400">`+tc.message)
	}

	res := s.do("POST", "/register", `{"email":{"toString":1},"password":"1234567890"}`, "Content-Type: application/json")
	mustContain(t, res, "Invalid registerWithPassword() argument: email must be a string.")
}

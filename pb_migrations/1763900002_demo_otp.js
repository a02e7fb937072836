/// <reference path="../pb_data/types.d.ts" />

// "Email me a code": guests save their account with a one-time code instead
// of a password (POST /api/collections/users/upgrade-anonymous/request-otp,
// or requestUpgradeOTP() in a page). It is PocketBase's own OTP, so it must
// be enabled on the collection; the mail template carries a link that opens
// /save-by-code with the code filled in, one click from done.
migrate((app) => {
  const users = app.findCollectionByNameOrId("users")
  users.otp.enabled = true
  users.otp.emailTemplate.subject = "Your code for {APP_NAME}"
  users.otp.emailTemplate.body =
    "<p>Your code is <strong>{OTP}</strong>.</p>\n" +
    "<p>Or confirm in one click: <a href=\"{APP_URL}/save-by-code?otpId={OTP_ID}&code={OTP}\">save my account</a>.</p>\n" +
    "<p><i>If you didn't ask for this code, you can ignore this email.</i></p>"
  app.save(users)
}, (app) => {
  const users = app.findCollectionByNameOrId("users")
  users.otp.enabled = false
  app.save(users)
})

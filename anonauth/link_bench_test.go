package anonauth_test

import (
	"strconv"
	"testing"

	"github.com/pocketguest/pocketguest/anonauth"
)

// BenchmarkLink measures one guest → account merge with the default action:
// a guest owning 1 cart and member of 10 lists (11 re-pointed records), then
// deleted. Setup (guest, cart, lists) is excluded from the timing.
func BenchmarkLink(b *testing.B) {
	app := shopApp(b, anonauth.Config{})
	defer app.Cleanup()
	p := anonauth.FromApp(app)
	account, err := app.FindAuthRecordByEmail("users", "test@example.com")
	if err != nil {
		b.Fatal(err)
	}

	for b.Loop() {
		b.StopTimer()
		guest, _ := guestToken(b, app, "users")
		newCart(b, app, guest, "socks")
		for range 10 {
			newList(b, app, "l", guest, account)
		}
		b.StartTimer()

		if err := p.Link(app, guest, account); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpgrade measures an upgrade through the Go API (validation,
// bcrypt of the new password, the transaction, a new token). bcrypt at the
// collection's cost dominates.
func BenchmarkUpgrade(b *testing.B) {
	app := shopApp(b, anonauth.Config{})
	defer app.Cleanup()
	p := anonauth.FromApp(app)

	i := 0
	for b.Loop() {
		b.StopTimer()
		guest, _ := guestToken(b, app, "users")
		e, _ := newRequestEvent(app)
		e.Auth = guest
		i++
		in := anonauth.UpgradeInput{Email: "bench" + strconv.Itoa(i) + "@example.org", Password: "s3cret-pass", PasswordConfirm: "s3cret-pass"}
		b.StartTimer()

		if _, err := p.Upgrade(e, in); err != nil {
			b.Fatal(err)
		}
	}
}

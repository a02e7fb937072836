package anonauth

import (
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"
)

// TestEmptyPassRechecksUnderTheLock: a guest listed as empty that owns a
// record by the time its batch runs (written between the listing and the
// delete transaction) is skipped, not deleted; the empty one of the same
// batch goes.
func TestEmptyPassRechecksUnderTheLock(t *testing.T) {
	app, err := tests.NewTestApp()
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	p := MustRegister(app, Config{})

	users, _ := app.FindCollectionByNameOrId("users")
	carts := core.NewBaseCollection("carts")
	carts.Fields.Add(&core.RelationField{Name: "owner", CollectionId: users.Id, MaxSelect: 1})
	if err := app.Save(carts); err != nil {
		t.Fatal(err)
	}
	owner, err := p.CreateGuest(app, users)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := p.CreateGuest(app, users)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := ownerRefs(app, users)
	if err != nil {
		t.Fatal(err)
	}

	// Listed as empty a moment ago; now it owns a cart.
	cart := core.NewRecord(carts)
	cart.Set("owner", owner.Id)
	if err := app.Save(cart); err != nil {
		t.Fatal(err)
	}

	pass := cleanupPass{reason: ReasonEmpty, cutoff: types.NowDateTime().Add(time.Hour), owners: refs}
	deleted, skipped, _, err := p.deleteStale(users, []string{owner.Id, empty.Id}, pass)
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 1 || skipped != 1 {
		t.Fatalf("deleted %d, skipped %d; want the empty guest deleted and the owner skipped", deleted, skipped)
	}
	if _, err := app.FindRecordById(users, owner.Id); err != nil {
		t.Fatal("the guest that owns a cart now must stay")
	}
	if _, err := app.FindRecordById(users, empty.Id); err == nil {
		t.Fatal("the empty guest must go")
	}
}

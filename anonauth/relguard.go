package anonauth

import (
	"slices"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/list"
)

// The relation guard: no record may be written pointing at a guest that is
// gone.
//
// Why: PocketBase checks that a relation's target exists while it
// validates the record, with a read outside the write that follows
// (core.RelationField.ValidateValue). Guests are deleted all the time
// (self-delete, merge, cleanup), usually while their own requests are still
// in flight: an "add to cart" validated a moment before the guest's delete
// commits is inserted a moment after it, and the delete's cascade has
// already run. The cart then points at a deleted guest forever (found by
// reliability/crash_test.go: one such cart in most runs of a few hundred
// carts under concurrent deletes). The same race turns a merge's "re-point everything" into a
// record left behind on the deleted guest.
//
// What: for a record with relation values into an enabled guest collection,
// the write and a re-count of those targets run in one transaction, the
// count after the write: by then this transaction holds SQLite's write
// lock, so no delete can commit between the check and the write. A target
// that is gone fails the save with PocketBase's own validation error
// (400 on the records API), as if the validation had seen it. Records
// without such values (the guests themselves, most collections) are not
// touched.

const relationGuardHookId = "pocketguestRelationGuard"

// registerRelationGuard binds the guard right before the row is written
// (after PocketBase's system execute handler at 99 and the fast path at
// 100), so only the write and the count are inside the transaction.
//
// On update only the targets the write introduces are checked: ids the row
// did not hold just before the write (read inside the transaction). A row
// that already pointed at a missing record (stale data written before the
// guard, or by raw SQL) can still be saved, e.g. re-pointed by a merge; a
// write that would restore an owner a concurrent delete just emptied
// cannot.
func (p *Plugin) registerRelationGuard() {
	handler := func(e *core.RecordEvent) error {
		targets := p.guestRelationTargets(e.Record)
		if len(targets) == 0 {
			return e.Next()
		}
		guarded := func(txApp core.App) error {
			var previous *core.Record
			if !e.Record.IsNew() {
				previous, _ = txApp.FindRecordById(e.Record.Collection(), e.Record.Id)
			}
			if err := e.Next(); err != nil {
				return err
			}
			return checkRelationTargets(txApp, targets, previous)
		}
		if e.App.IsTransactional() {
			return guarded(e.App) // the caller's transaction
		}

		original := e.App
		defer func() { e.App = original }()
		return original.RunInTransaction(func(txApp core.App) error {
			e.App = txApp
			if err := lockForWrite(txApp, e.Record.Collection().Name); err != nil {
				return err
			}
			return guarded(txApp)
		})
	}

	for _, h := range []*hook.TaggedHook[*core.RecordEvent]{p.app.OnRecordCreateExecute(), p.app.OnRecordUpdateExecute()} {
		h.Bind(&hook.Handler[*core.RecordEvent]{
			Id:       relationGuardHookId,
			Priority: priorityRelationGuard, // hookorder.go
			Func:     handler,
		})
	}
}

// relationTarget is one relation field's values into a guest collection.
type relationTarget struct {
	field      string
	collection *core.Collection
	ids        []string
}

// guestRelationTargets lists record's non-empty relation values that point
// into an enabled collection.
func (p *Plugin) guestRelationTargets(record *core.Record) []relationTarget {
	var out []relationTarget
	for _, f := range record.Collection().Fields {
		rel, ok := f.(*core.RelationField)
		if !ok {
			continue
		}
		ids := list.ToUniqueStringSlice(record.GetRaw(rel.Name))
		if len(ids) == 0 {
			continue
		}
		target, err := p.app.FindCachedCollectionByNameOrId(rel.CollectionId)
		if err != nil || !p.IsEnabled(target.Name) {
			continue
		}
		out = append(out, relationTarget{field: rel.Name, collection: target, ids: ids})
	}
	return out
}

// checkRelationTargets fails with PocketBase's relation validation error if
// a target is gone, unless previous (the row before an update) already
// held it.
func checkRelationTargets(txApp core.App, targets []relationTarget, previous *core.Record) error {
	for _, t := range targets {
		ids := t.ids
		if previous != nil {
			held := previous.GetStringSlice(t.field)
			ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return slices.Contains(held, id) })
			if len(ids) == 0 {
				continue
			}
		}
		var n int
		err := txApp.DB().Select("count(*)").From(t.collection.Name).
			AndWhere(dbx.In("id", list.ToInterfaceSlice(ids)...)).Row(&n)
		if err != nil {
			return err
		}
		if n != len(ids) {
			return validation.Errors{t.field: validation.NewError("validation_missing_rel_records",
				"Failed to find all relation records with the provided ids")}
		}
	}
	return nil
}

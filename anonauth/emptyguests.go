package anonauth

import (
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/dbutils"
	"github.com/pocketbase/pocketbase/tools/inflector"
	"github.com/pocketbase/pocketbase/tools/list"
)

// Early cleanup of empty guests.
//
// Bots and one-page visits make guests that never write anything; they used
// to wait the whole MaxAge (30 days). A guest that owns nothing (no record
// in any collection has a relation field pointing at it) and has been
// inactive for Config.EmptyMaxAge (24 hours) is deleted by the same cleanup
// job, CLI and audit (reason "empty"); a guest with data keeps MaxAge.
//
// "Owns nothing" is decided in SQL, per guest, by a NOT EXISTS over every
// relation field that points at the guest collection:
//
//   - The fields come from the schema at each run (ownerRefs), so a
//     collection or field added, changed or removed is taken into account
//     at the next run with nothing to invalidate.
//   - A single relation field gets an index on its column
//     (idx_anon_owner_<collection id>_<field id>, kept in step with the
//     schema by registerOwnerIndexes) unless the app has one that starts
//     with that column, so the check is one index probe per guest: the listing walks the partial (lastSeen, id) index of guests
//     and probes each field's index. PocketBase does not index relation
//     columns itself.
//   - A multiple relation field (a JSON array) cannot be indexed; its check
//     reads the referencing table (json_each), so it costs a scan of that
//     table per listed guest. Prefer single relations to the guest (an
//     "owner" field) on tables that grow large.
//
// The check runs twice: when the guests are listed (outside any
// transaction, on the read pool) and again for each guest inside the
// delete transaction, under the write lock; a record written in between is
// seen, and none can be written after (relguard.go).

// ownerIndexPrefix names the indexes anonauth keeps on relation columns.
const ownerIndexPrefix = "idx_anon_owner_"

// ownerRef is one relation field that may point at a guest.
type ownerRef struct {
	table    string
	column   string
	multiple bool
}

// ownerRefs lists the relation fields (of any collection but views) that
// point at collection, from the current schema.
func ownerRefs(app core.App, collection *core.Collection) ([]ownerRef, error) {
	refs, err := app.FindCollectionReferences(collection)
	if err != nil {
		return nil, err
	}
	var out []ownerRef
	for c, fields := range refs {
		if c.IsView() {
			continue
		}
		for _, f := range fields {
			if rel, ok := f.(*core.RelationField); ok {
				out = append(out, ownerRef{table: c.Name, column: rel.Name, multiple: rel.IsMultiple()})
			}
		}
	}
	return out, nil
}

// ownsNothing is the condition "no record references this row of
// collection" for a query on collection's table.
func ownsNothing(collection *core.Collection, refs []ownerRef) dbx.Expression {
	guestId := "[[" + collection.Name + ".id]]"
	exps := make([]dbx.Expression, 0, len(refs))
	for _, r := range refs {
		var sub string
		if r.multiple {
			sub = "SELECT 1 FROM {{" + r.table + "}} [[__o]], " + dbutils.JSONEach("__o."+inflector.Columnify(r.column)) +
				" [[__je]] WHERE [[__je.value]] = " + guestId
		} else {
			sub = "SELECT 1 FROM {{" + r.table + "}} [[__o]] WHERE [[__o." + inflector.Columnify(r.column) + "]] = " + guestId
		}
		exps = append(exps, dbx.Not(dbx.Exists(dbx.NewExp(sub))))
	}
	if len(exps) == 0 {
		return dbx.NewExp("1=1")
	}
	return dbx.And(exps...)
}

// stillEmpty returns which of ids own nothing now, in one query through
// txApp (the delete transaction, under the write lock).
func stillEmpty(txApp core.App, collection *core.Collection, refs []ownerRef, ids []string) (map[string]bool, error) {
	var empty []string
	err := txApp.DB().Select(collection.Name + ".id").From(collection.Name).
		Where(dbx.In(collection.Name+".id", list.ToInterfaceSlice(ids)...)).
		AndWhere(ownsNothing(collection, refs)).
		Column(&empty)
	out := make(map[string]bool, len(empty))
	for _, id := range empty {
		out[id] = true
	}
	return out, err
}

// registerOwnerIndexes keeps an index on every single relation column that
// points at an enabled guest collection: added when such a field appears,
// dropped when it goes or changes, in the same save as the schema change
// (OnCollectionCreate / OnCollectionUpdate run before PocketBase validates
// and writes the collection). Collections that already exist get theirs in
// EnsureSchema.
func (p *Plugin) registerOwnerIndexes() {
	if p.config.EmptyMaxAge < 0 {
		return
	}
	handler := func(e *core.CollectionEvent) error {
		p.applyOwnerIndexes(e.App, e.Collection)
		return e.Next()
	}
	p.app.OnCollectionCreate().BindFunc(handler)
	p.app.OnCollectionUpdate().BindFunc(handler)
}

// applyOwnerIndexes adds and removes our indexes of c in memory and reports
// whether it changed.
func (p *Plugin) applyOwnerIndexes(app core.App, c *core.Collection) bool {
	if c.IsView() {
		return false
	}
	want := map[string]string{} // index name → column
	for _, f := range c.Fields {
		rel, ok := f.(*core.RelationField)
		if !ok || rel.IsMultiple() {
			continue
		}
		target := rel.CollectionId
		if target == c.Id { // a new collection is not in the cache yet
			target = c.Name
		} else if t, err := app.FindCachedCollectionByNameOrId(target); err == nil {
			target = t.Name
		} else {
			continue
		}
		if p.IsEnabled(target) {
			want[ownerIndexPrefix+c.Id+"_"+rel.Id] = rel.Name
		}
	}

	// The app's own index that starts with the column serves the probe as
	// well (and PocketBase refuses a second index with the same definition).
	for _, idx := range c.Indexes {
		parsed := dbutils.ParseIndex(idx)
		if strings.HasPrefix(parsed.IndexName, ownerIndexPrefix) || parsed.Where != "" || len(parsed.Columns) == 0 {
			continue
		}
		for name, column := range want {
			if strings.EqualFold(parsed.Columns[0].Name, column) {
				delete(want, name)
			}
		}
	}

	changed := false
	for _, idx := range c.Indexes {
		parsed := dbutils.ParseIndex(idx)
		if !strings.HasPrefix(parsed.IndexName, ownerIndexPrefix) {
			continue
		}
		column, ok := want[parsed.IndexName]
		if !ok || len(parsed.Columns) != 1 || parsed.Columns[0].Name != column {
			c.RemoveIndex(parsed.IndexName) // field gone, renamed, retargeted or indexed by the app
			changed = true
		}
	}
	for name, column := range want {
		if c.GetIndex(name) == "" {
			c.AddIndex(name, false, "`"+column+"`", "")
			changed = true
		}
	}
	return changed
}

// ensureOwnerIndexes gives every existing collection its owner indexes
// (collections created or changed later get them from the hooks).
func (p *Plugin) ensureOwnerIndexes(txApp core.App) error {
	if p.config.EmptyMaxAge < 0 {
		return nil
	}
	all, err := txApp.FindAllCollections()
	if err != nil {
		return err
	}
	for _, c := range all {
		if !p.applyOwnerIndexes(txApp, c) {
			continue
		}
		if err := txApp.Save(c); err != nil {
			return fmt.Errorf("failed to index the relation fields of %q that point at guests: %w", c.Name, err)
		}
	}
	return nil
}

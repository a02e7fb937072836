package anonauth

import (
	"fmt"
	"strings"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
)

// protectClause is appended to the create and update rules of every enabled
// collection: a client that sends isAnonymous at all (to forge a guest, or to
// "convert" itself without going through the upgrade endpoint) is refused by
// PocketBase's own rule engine. Superusers bypass rules, as usual.
const protectClause = "@request.body." + FieldIsAnonymous + ":isset = false"

// registerSchema makes sure every enabled collection has the isAnonymous
// field and the protective rules.
//
// Why not a fixed migration file: the set of collections is configuration,
// and a collection may be created after us (a pb_migrations JS file, the
// dashboard). So the check is idempotent and runs where it can see them all:
// on serve (after PocketBase has applied every migration) and, for an app
// that is already bootstrapped when the plugin is registered (tests,
// embedding apps), right away. A collection already in shape is not saved.
func (p *Plugin) registerSchema() error {
	p.app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		if err := p.EnsureSchema(se.App); err != nil {
			return fmt.Errorf("anonauth: %w", err)
		}
		return se.Next()
	})

	p.app.OnRecordCreateRequest().BindFunc(p.guardFlag)
	p.app.OnRecordUpdateRequest().BindFunc(p.guardFlag)

	if p.app.IsBootstrapped() {
		return p.EnsureSchema(p.app)
	}
	return nil
}

// EnsureSchema adds the isAnonymous field and the protective rules to every
// enabled collection that exists and lacks them, plus the lastSeen field and
// guest indexes, the anonymousEvents collection and the anonymousStats view
// (stats.go). Missing collections are
// skipped (sign-in then answers 404 for them). A collection that exists but is
// not an auth collection is a configuration error.
func (p *Plugin) EnsureSchema(app core.App) error {
	return app.RunInTransaction(func(txApp core.App) error {
		if err := lockForWrite(txApp, "_collections"); err != nil {
			return err
		}
		var enabled []*core.Collection
		for _, name := range p.config.Collections {
			collection, err := txApp.FindCollectionByNameOrId(name)
			if err != nil {
				continue // not created yet
			}
			if !collection.IsAuth() {
				return fmt.Errorf("collection %q in Config.Collections is not an auth collection", name)
			}
			enabled = append(enabled, collection)
			changed := applySchema(collection)
			if applyActivitySchema(collection) { // stats.go
				changed = true
			}
			if !changed {
				continue
			}
			if err := txApp.Save(collection); err != nil {
				return fmt.Errorf("failed to add %s to collection %q: %w", FieldIsAnonymous, name, err)
			}
		}
		for _, collection := range enabled {
			if err := backfillLastSeen(txApp, collection); err != nil {
				return fmt.Errorf("failed to backfill %s of collection %q: %w", FieldLastSeen, collection.Name, err)
			}
		}
		if err := p.ensureOwnerIndexes(txApp); err != nil {
			return err
		}
		return ensureStats(txApp, enabled)
	})
}

// applySchema changes collection in memory and reports whether it changed.
func applySchema(collection *core.Collection) bool {
	changed := false

	if collection.Fields.GetByName(FieldIsAnonymous) == nil {
		collection.Fields.Add(&core.BoolField{Name: FieldIsAnonymous})
		changed = true
	}

	// PocketBase refuses rule changes on system collections; the request
	// guard (guardFlag) protects those on its own.
	if collection.System {
		return changed
	}

	for _, rule := range []**string{&collection.CreateRule, &collection.UpdateRule} {
		if next, ok := protectRule(*rule); ok {
			*rule = next
			changed = true
		}
	}

	return changed
}

// protectRule returns rule with protectClause added, and whether that was
// needed. A nil rule (superusers only) needs nothing; an empty rule (anyone)
// becomes the clause alone.
func protectRule(rule *string) (*string, bool) {
	if rule == nil || strings.Contains(*rule, protectClause) {
		return rule, false
	}
	next := protectClause
	if strings.TrimSpace(*rule) != "" {
		next = "(" + *rule + ") && " + protectClause
	}
	return &next, true
}

// guardFlag refuses a records API create or update that sets isAnonymous,
// unless a superuser sends it. It is the same protection as protectClause,
// kept in Go as well because an admin may edit a rule away and system
// collections cannot carry it at all.
func (p *Plugin) guardFlag(e *core.RecordRequestEvent) error {
	if !p.IsEnabled(e.Collection.Name) || e.HasSuperuserAuth() {
		return e.Next()
	}
	info, err := e.RequestInfo()
	if err != nil {
		return err
	}
	if _, sent := info.Body[FieldIsAnonymous]; sent {
		return e.BadRequestError("Failed to save the record.", validation.Errors{
			FieldIsAnonymous: validation.NewError("validation_anonymous_flag", "isAnonymous is managed by the server; use auth-anonymously or upgrade-anonymous."),
		})
	}
	return e.Next()
}

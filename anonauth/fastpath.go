package anonauth

import (
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// The guest-creation fast path.
//
// Why: a CPU profile of a sign-in (BenchmarkCreateGuest) puts ~45 % of it in
// ONE call. For every auth record it creates, PocketBase's system
// OnRecordCreateExecute handler (core/record_model.go, onRecordSaveExecute)
// cross-checks that the new id is not used in any other auth collection, and
// to list those collections it runs an uncached FindAllCollections(auth): a
// query plus the JSON decoding of every auth collection's fields and
// options, on every save.
//
// What: for guest records only, that one call is answered from PocketBase's
// own collection cache (the one FindCachedCollectionByNameOrId and the API
// rules use, reloaded by PocketBase whenever a collection is saved or
// deleted, even by another process). Nothing is skipped: every hook fires
// in the same order (OnRecordCreate, OnRecordCreateExecute,
// OnRecordAfterCreateSuccess, the OnModel* ones), the field interceptors
// run, the id cross-check still queries every other auth collection, the
// unique email/id indexes still decide. The result is the same as the slow
// path's except while an auth collection is being created or deleted and
// the cache is not reloaded yet, a window where PocketBase's own rules
// engine reads the same cache.
//
// How: two handlers around PocketBase's system handler (priority 99). The
// one at 98, after every user hook of the default priority, lends the event
// an App whose FindAllCollections(auth) reads the cache; the one at 100,
// right after the system handler and before the row is written, gives the
// real App back. So only the system handler sees the wrapper: user hooks,
// later OnModelCreateExecute handlers and the write itself get e.App as
// always.
//
// It applies to new guest records (isAnonymous = true) of enabled
// collections saved outside a transaction (a transaction may have
// uncommitted collection changes the cache does not show).
// Config.DisableFastPath turns it off.

const fastPathHookId = "pocketguestAnonFastPath"

// registerFastPath binds the two handlers (see the comment above).
func (p *Plugin) registerFastPath() {
	if p.config.DisableFastPath {
		return
	}

	p.app.OnRecordCreateExecute().Bind(&hook.Handler[*core.RecordEvent]{
		Id:       fastPathHookId + "Enter",
		Priority: priorityFastPathEnter, // hookorder.go
		Func: func(e *core.RecordEvent) error {
			if !p.fastPathApplies(e) {
				return e.Next()
			}
			original := e.App
			wrapped := &cachedAuthApp{App: original}
			e.App = wrapped
			err := e.Next()
			if e.App == wrapped { // left as lent: give the real one back
				e.App = original
			}
			return err
		},
	})

	p.app.OnRecordCreateExecute().Bind(&hook.Handler[*core.RecordEvent]{
		Id:       fastPathHookId + "Return",
		Priority: priorityFastPathReturn, // hookorder.go
		Func: func(e *core.RecordEvent) error {
			wrapped, ok := e.App.(*cachedAuthApp)
			if !ok {
				return e.Next()
			}
			e.App = wrapped.App
			err := e.Next()
			if e.App == wrapped.App { // unchanged by what ran after us
				e.App = wrapped
			}
			return err
		},
	})
}

// fastPathApplies reports whether e creates a guest the fast path may
// handle.
func (p *Plugin) fastPathApplies(e *core.RecordEvent) bool {
	return e.Record != nil &&
		e.Record.IsNew() &&
		IsAnonymous(e.Record) &&
		p.IsEnabled(e.Record.Collection().Name) &&
		!e.App.IsTransactional()
}

// cachedAuthApp is the App lent to PocketBase's system create handler: it
// answers FindAllCollections(auth) from the collection cache and delegates
// everything else.
type cachedAuthApp struct {
	core.App
}

// FindAllCollections returns the cached auth collections for exactly
// (CollectionTypeAuth), and asks the database for anything else or when
// the cache is empty.
func (a *cachedAuthApp) FindAllCollections(collectionTypes ...string) ([]*core.Collection, error) {
	if len(collectionTypes) == 1 && collectionTypes[0] == core.CollectionTypeAuth {
		if cached, _ := a.App.Store().Get(core.StoreKeyCachedCollections).([]*core.Collection); len(cached) > 0 {
			auth := make([]*core.Collection, 0, 4)
			for _, c := range cached {
				if c.IsAuth() {
					auth = append(auth, c)
				}
			}
			return auth, nil
		}
	}
	return a.App.FindAllCollections(collectionTypes...)
}

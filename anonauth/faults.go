package anonauth

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Storage faults: the disk is full, the database file is read-only or
// failing, or the write lock stayed taken past the busy timeout. Such an
// error says nothing about the request, so answering it as PocketBase's
// generic 400 ("Something went wrong while processing your request.") would
// tell the client it sent something wrong, and a client does not retry a
// 400. Our routes and JS globals answer 503 with Retry-After instead, and
// log the cause, which the generic answer hides.

// storageFaultRetryAfter is the Retry-After of a storage fault: long enough
// not to hammer a struggling disk, short enough that clients come back soon
// after an operator frees space.
const storageFaultRetryAfter = "30"

const msgStorageFault = "The server can't store data right now. Please try again in a moment."

// IsStorageFault reports whether err (anywhere in its chain) is an SQLite
// error of the storage rather than of the statement: SQLITE_FULL, IOERR,
// READONLY, CANTOPEN, NOMEM, or BUSY/LOCKED (returned only once the busy
// timeout has passed). Extended codes (e.g. SQLITE_IOERR_WRITE) count as
// their primary code. Constraint violations and other statement errors are
// not storage faults.
func IsStorageFault(err error) bool {
	var sqliteErr *sqlite.Error
	if !errors.As(err, &sqliteErr) {
		return false
	}
	switch sqliteErr.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// StorageFaultError is the 503 a storage fault is answered with. It is a
// *router.ApiError (for PocketBase's error handler and the JS bindings) that
// still wraps the SQLite error it came from.
type StorageFaultError struct {
	*router.ApiError
	Cause error
}

// Unwrap exposes both the ApiError and the cause to errors.As/Is.
func (e *StorageFaultError) Unwrap() []error { return []error{e.ApiError, e.Cause} }

// storageFault turns err into a *StorageFaultError when it is a storage
// fault (see IsStorageFault): the cause is logged and, when there is a
// response, Retry-After is set on it. Any other error (nil included) is
// returned as it is.
func storageFault(e *core.RequestEvent, err error) error {
	var done *StorageFaultError
	if err == nil || errors.As(err, &done) || !IsStorageFault(err) {
		return err
	}

	attrs := []any{slog.String("error", err.Error())}
	if e.Request != nil {
		attrs = append(attrs, slog.String("method", e.Request.Method), slog.String("url", e.Request.URL.Path))
	}
	e.App.Logger().Error("anonauth: storage fault, answered 503", attrs...)

	if e.Response != nil {
		e.Response.Header().Set("Retry-After", storageFaultRetryAfter)
	}

	return &StorageFaultError{
		ApiError: router.NewApiError(http.StatusServiceUnavailable, msgStorageFault, nil),
		Cause:    err,
	}
}

// unavailableOnStorageFault wraps one of our route handlers so that a
// storage fault anywhere in it (ours, PocketBase's auth response, app hooks)
// answers 503 instead of 400.
func unavailableOnStorageFault(handler func(*core.RequestEvent) error) func(*core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		return storageFault(e, handler(e))
	}
}

package anonauth

// Internals exported to the external tests (package anonauth_test) only.

// LockForWrite is lockForWrite.
var LockForWrite = lockForWrite

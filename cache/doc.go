// Package cache is xconnproxy's result cache: complete responses of
// read-only statements, kept for a TTL in a fixed byte budget, never
// served after a write through the proxy could have changed them. It knows
// nothing of the proxy or of SQL: the proxy decides what may be cached
// (internal/sqltext.Cacheability), builds the key, and hands over opaque
// response bytes; a hit is those bytes, replayed in one write.
//
// # Storage
//
// Entries live in github.com/allegro/bigcache/v3, chosen for its byte
// budget (Config.MaxBytes, rounded to MiB) and because it keeps entries in
// a few large byte rings instead of millions of heap objects. bigcache has
// one global life window and a wall clock we cannot inject, so each entry
// carries its own times (stored, expires) read from Config.Now, and the
// life window (Config.MaxAge) is only a ceiling. bigcache evicts the
// oldest entries of a shard when it needs room; an expired entry stays
// until then (or MaxAge), which is what GetStale (stale_if_error) needs.
//
// # Key
//
// A Key holds everything that can change the bytes of a response: the
// connection name and a hash of its resolved configuration (a reload that
// points the name elsewhere never serves the old backend's rows), the
// backend user, the shape of the request (simple Query, or which extended
// messages), the statement text, parameter types, formats and values
// (NULL distinct from empty), result formats, Execute's row limit, and the
// session settings that change output, with a map for any other. Key.ID
// hashes an encoding in which every variable-length part is preceded by
// its length, so ("ab", "c") and ("a", "bc") differ, with SHA-256 (the
// whole 256 bits: the stored key costs 32 bytes and collisions are not a
// question).
//
// # Invalidation by generations
//
// A write must never be followed by a stale hit, and invalidation must not
// scan the cache. The cache keeps one clock (a counter) and, per
// connection, a mark per table and one for the whole connection: the
// clock value of its last invalidation. Invalidate(conn, tables...)
// advances the clock and raises those marks; InvalidateAll raises the
// connection's. Before a statement is sent, the proxy takes a Snapshot of
// the clock and stores the result with it; an entry is valid while every
// mark it depends on is not newer than its snapshot. So a write that
// completes while a read runs (the read may have seen the old rows) makes
// the read's result invalid even though it is stored later: Put refuses it
// and Get would skip it. Checking is a map lookup per table read. Marks
// only grow; a connection with more than 65536 table names folds them into
// its connection mark.
//
// For this to hold, the proxy invalidates after the backend finished the
// write and before the client hears of it, takes the snapshot before the
// read reaches the backend, and uses one spelling of table names for both
// (sqltext.Table.Key).
//
// # Coalescing
//
// Do runs concurrent misses of one key once: the first caller runs the
// statement, the others wait (bounded by their context) and get the same
// bytes. A caller does not join a run that started before a write to the
// tables it reads; it starts its own, so it sees its own writes. The
// runner's result is delivered to everyone even when it is not stored
// (too large, invalidated meanwhile, NoStore); an error is delivered to
// everyone and never stored; a panicking runner leaves its waiters with
// ErrAbandoned and the panic goes on in its own goroutine.
//
// # Never stored
//
// Errors; results larger than Config.MaxEntryBytes; results whose tables
// were invalidated after the snapshot; and whatever the proxy does not
// Put: statements sqltext does not call cacheable, partial results
// (PortalSuspended), statements inside a transaction that is not
// READ ONLY, results the backend did not confirm as read-only.
//
// # Statistics
//
// Per connection: hits, misses, stale hits, shared runs, stores,
// evictions (bigcache's OnRemove with reason Expired or NoSpace),
// invalidations, and the entries and bytes held now. Stats returns a
// snapshot of all connections.
package cache

// Package bridge serves PostgreSQL sessions from a database/sql data source
// (SQLite, MySQL): it consumes frontend messages and produces the backend
// messages PostgreSQL 15 would send.
//
// The bridge owns everything that is PostgreSQL's semantics rather than the
// data source's: the simple and extended query protocols (statements,
// portals, row limits and PortalSuspended, discard-until-Sync after an
// error), implicit transactions (a multi-statement Query, an extended batch
// up to Sync) and explicit ones with the I/T/E status, savepoints, 25P02 in
// a failed transaction, session parameters (SET/SHOW/RESET with
// PostgreSQL's transactional rules), the connect-time functions drivers call
// (version(), current_user, ...), command tags, and value encoding with
// pgtype in text or binary. A Dialect supplies only what differs per data
// source: placeholder rewriting, describing a statement without running it,
// declared-type mapping, error mapping and the BEGIN statement; and,
// through optional interfaces (dialect.go), what some data sources need:
// SHOW and SET of their own, transactions started with their modes, and
// the implicit commits of MySQL's DDL.
//
// Each client session pins one *sql.Conn for its life, so the data source's
// per-connection state (temp tables, session variables) behaves like a
// PostgreSQL session's. Transactions are driven with SQL (BEGIN, COMMIT,
// ROLLBACK, SAVEPOINT) on that connection rather than database/sql's Tx, whose
// lifetime is tied to a context and which has no savepoints.
//
// Row-returning portals keep their cursor open between Execute messages; the
// cursor runs under a context of its own, which a cancel request reaches only
// while a message is being handled, so a suspended portal survives between
// messages but a cancelled statement stops.
package bridge

// Package mysql serves MySQL and MariaDB databases through the SQL bridge
// (backends/bridge), with github.com/go-sql-driver/mysql.
//
// Clients speak PostgreSQL's protocol and write MySQL's SQL: the bridge
// answers the protocol, transactions, session settings and the functions
// drivers call on connect, and this package adapts the rest.
//
// # The SQL text
//
// A statement reaches the server as the client wrote it, with $1..$n
// turned into ? in order (sqltext.Rewrite), never inside strings, quoted
// identifiers or comments. For that to hold, the server must end every
// string where the proxy's scanner does, so each connection runs with
// NO_BACKSLASH_ESCAPES added to its sql_mode: a backslash in '...' or
// "..." is an ordinary character, as in PostgreSQL with
// standard_conforming_strings on, which the proxy reports and which
// drivers rely on when they quote values themselves (pgx's simple
// protocol writes 'C:\new' for the text C:\new). Without it, a value ending
// in a backslash would end a string early. ANSI_QUOTES is not set:
// "..." is a string, as MySQL's SQL has it, and `...` quotes identifiers;
// the scanner skips both alike. What is lost is MySQL's backslash escapes
// ('\n' is two characters; write CHAR(10)), and "#" comments, which the
// scanner does not know: a $n after # on the same line is still rewritten.
//
// Each connection also gets time_zone '+00:00' (TIMESTAMP columns read and
// written in UTC, the proxy's TimeZone) and READ COMMITTED, PostgreSQL's
// default isolation; BEGIN ISOLATION LEVEL ... and READ ONLY reach the
// server as SET TRANSACTION and START TRANSACTION READ ONLY.
//
// # Types
//
// Result columns are typed by their column definitions (types.go, with
// TINYINT(1) told by the display width, fields.go), values are encoded by
// the bridge in text or binary as the client asks, and untyped parameters
// are read as the column they meet (params.go, schema.go). Dates are read
// as text (go-sql-driver's parseTime off), so MySQL's zero dates are
// refused (22007) rather than turned into year 1.
//
// # Transactions
//
// The bridge drives them with SQL on the session's connection and keeps
// PostgreSQL's I/T/E status; MySQL's row locks make writers wait for each
// other, so the bridge's SQLite writer lock is off. MySQL commits the open
// transaction before DDL: the bridge then starts a new one, so that the
// client's transaction block goes on, and warns that the part before the
// DDL is committed.
//
// # Connections
//
// A database/sql pool per connection section, of at most PoolSize; each
// client session holds one connection for its life. The driver layer
// (driver.go) sets sessions up, keeps one result at a time on the wire,
// cancels with KILL QUERY, and closes connections whose session state a
// client changed instead of pooling them.
package mysql

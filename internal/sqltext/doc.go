// Package sqltext understands PostgreSQL-flavoured SQL text lexically: it
// splits a simple-protocol Query into statements, classifies each statement
// (command tag, read/write/DDL/transaction/session, transaction control,
// RETURNING, parameter count), parses the SET/RESET/SHOW statements the
// proxy answers itself, rewrites $n placeholders for SQLite and MySQL, and
// tells the result cache what may be cached and what a write invalidates
// (Cacheability, Writes).
//
// # Design
//
// Everything sits on one scanner, Lexer, a transcription of the token rules
// of PostgreSQL's src/backend/parser/scan.l: '...' strings with doubled
// quotes (standard_conforming_strings on), E'...' with backslash escapes,
// U&'...', B'...', X'...', N'...', $tag$ dollar quotes, "..." and U&"..."
// identifiers, nested /* */ comments, -- comments, $n parameters, numbers,
// and operator runs that never swallow a comment start. Two MySQL forms are
// added so dialect-neutral text survives: `backticks` are quoted
// identifiers. "#" is an operator (PostgreSQL's XOR), not a comment.
// Nothing in this package matches regular expressions against raw SQL: a
// "$1" or ";" inside a string, identifier or comment is never mistaken for
// syntax, because it is inside a token.
//
// On top of the scanner sit heuristics, not a parser. Split tracks
// parenthesis depth and, like psql, BEGIN/CASE ... END inside routine and
// trigger bodies. Classify looks at the leading words (skipping comments,
// modifiers like OR REPLACE / TEMP and MySQL's DEFINER=...) and makes one
// pass over every token for the facts that can hide anywhere: data-modifying
// keywords in CTEs, FOR UPDATE/SHARE, INTO, a top-level RETURNING, the
// highest $n. Where a heuristic can be wrong it errs towards "not read-only"
// and "not a statement boundary inside a body"; Info.ReadOnly is true only
// when the statement certainly changes nothing.
//
// # Caching: Cacheability and Writes
//
// Cacheability answers "may another client with the same key be given
// this statement's stored result" and lists the tables it reads; Writes
// lists the tables a statement writes, or says that they cannot be told.
// Both walk the significant tokens once, tracking parenthesis levels, the
// from lists (FROM, JOIN, USING, UPDATE's targets, DELETE's and MySQL's
// multi-table forms), aliases and CTE names with their SQL scope: a CTE is
// visible after its body (at once under RECURSIVE) and to the end of the
// level its WITH is on, and compared exactly, so a real table that
// shares its name elsewhere is still reported. Names are normalised as
// PostgreSQL does (unquoted lower-cased, quoted kept); Table.Key, the
// invalidation key, drops the schema and folds case, so that a read
// through one search_path and a write through another still meet. Every
// doubt costs an extra table (an extra invalidation) or a refusal (a
// miss), never a missing table.
//
// A statement is cacheable when Classify calls it ReadOnly and it is a
// read or SHOW (SELECT, VALUES, TABLE, WITH of reads, EXPLAIN without
// ANALYZE), runs alone, and nothing in it changes by itself:
//
//   - no call of a function outside a list of builtins known to be
//     immutable or stable and free of side effects. PostgreSQL creates
//     functions VOLATILE by default and the other backends' functions are
//     opaque, so an allowlist is the only choice that is never wrong: an
//     unknown function (including any schema-qualified one outside
//     pg_catalog) costs a miss. A /* xconn:ttl=30s */ hint vouches for
//     unknown functions; nothing vouches for the denylist: nextval,
//     setval, random, gen_random_uuid, pg_advisory_*, pg_sleep*,
//     set_config, pg_notify, txid_*, lo_*, dblink*, pg_stat_*,
//     pg_read_file, MySQL RAND, UUID, SLEEP, GET_LOCK, LAST_INSERT_ID,
//     FOUND_ROWS, BENCHMARK, DATABASE, USER, SQLite random, changes,
//     last_insert_rowid and more (functions.go);
//   - nothing that reads the clock. now(), current_timestamp and the
//     other SQL value functions are stable within a transaction, but a
//     cache would hand out a moment that has passed, and people who write
//     now() expect the present: they make a statement uncacheable, and so
//     do the literals 'now', 'today', 'tomorrow' and 'yesterday', SQLite's
//     date functions without an argument or with a bound one, MySQL's
//     UNIX_TIMESTAMP() and PostgreSQL's one-argument age();
//   - nothing that depends on the session beyond the cache key:
//     current_user and kin (SET ROLE changes them), current_setting(),
//     MySQL @variables, temporary schemas, and the statistics views
//     (pg_stat_*, pg_locks, pg_settings, performance_schema...);
//   - no TABLESAMPLE, no /* xconn:nocache */, no misspelt xconn: hint, and
//     for MySQL no /*! comment (MySQL runs its content) and no "--" without
//     a following space (MySQL reads two minus signs).
//
// What no text analysis can see, and the cache therefore does not know: a
// read of a view is invalidated only by writes naming the view, not its
// base tables; writes made by triggers, rules, foreign-key cascades or
// functions reach tables the statement does not name; user-defined
// operators and casts may call volatile functions; writes that do not go
// through the proxy are seen only when the TTL expires.
//
// # Cost
//
// Tokens are substrings of the input, so scanning allocates nothing.
// Keyword comparison upper-cases into a stack buffer while hashing it and
// probes a small open-addressing table of interned keywords.
// Classify, ParseShow and FirstKeyword allocate nothing for ordinary input
// (an unknown command word or an upper-case name costs one allocation);
// Split allocates its result slice; Rewrite returns its input unchanged
// when there is no placeholder and otherwise allocates the output and the
// order slice once each. Everything is linear in the input and never panics,
// whatever the bytes
// (see the fuzz targets).
//
// # Dialect caveats for the backends
//
// The text is scanned as PostgreSQL scans it. When it is forwarded to
// MySQL, the bridge must make MySQL scan it the same way, or a string's
// extent differs and a rewritten placeholder can land inside a literal:
// set sql_mode ANSI_QUOTES ("x" is an identifier) and NO_BACKSLASH_ESCAPES
// ('a\' is a complete string), and remember that MySQL treats "#" as a
// comment and needs a space after "--". SQLite scans strings, identifiers and
// comments like PostgreSQL, minus nested comments, escape strings and dollar quotes.
package sqltext

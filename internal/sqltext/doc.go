// Package sqltext understands PostgreSQL-flavoured SQL text lexically: it
// splits a simple-protocol Query into statements, classifies each statement
// (command tag, read/write/DDL/transaction/session, transaction control,
// RETURNING, parameter count), parses the SET/RESET/SHOW statements the
// proxy answers itself, and rewrites $n placeholders for SQLite and MySQL.
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

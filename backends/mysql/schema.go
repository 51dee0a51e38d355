package mysql

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// schema caches the declared column types of the tables statements name,
// read from information_schema. Two things need them and cannot get them
// from a result's column definitions:
//
//   - parameters a client sends without a type (pgx and node-postgres
//     send most so), which PostgreSQL would read as the type of the
//     column they meet: 't' for a BOOL column is true, '\x0102' for a
//     BLOB is two bytes (see ParamTypes);
//   - MariaDB's JSON columns, which MariaDB declares as LONGTEXT with a
//     json_valid() check, so that a result only says LONGTEXT.
//
// Entries live for ttl; DDL run through the proxy drops them all at once.
// Temporary tables are not in information_schema: their columns stay
// untyped here (parameters keep MySQL's own conversions, JSON reads as
// text).
type schema struct {
	mariadb atomic.Bool   // look for json_valid() checks; set when a connection learns the server
	ttl     time.Duration // how long an entry is trusted
	now     func() time.Time

	mu     sync.Mutex
	tables map[string]*tableInfo // by lower-case name, in the connection's database
}

// schemaTTL is how long the proxy trusts what it read about a table that
// changed outside the proxy.
const schemaTTL = 10 * time.Second

type tableInfo struct {
	at   time.Time
	cols []columnInfo // in ordinal order; none: no such table
}

type columnInfo struct {
	name string // lower case
	typ  string // declTypeName
}

func newSchema(mariadb bool) *schema {
	s := &schema{ttl: schemaTTL, now: time.Now, tables: map[string]*tableInfo{}}
	s.mariadb.Store(mariadb)
	return s
}

// runner runs a query without parameters and returns its rows as text.
type runner func(ctx context.Context, query string) ([][]string, error)

// invalidate forgets every table, after DDL.
func (s *schema) invalidate() {
	s.mu.Lock()
	clear(s.tables)
	s.mu.Unlock()
}

// lookup returns what is known of the named tables (lower case), reading
// the ones not cached, or cached too long ago, in one query.
func (s *schema) lookup(ctx context.Context, run runner, names []string) (map[string]*tableInfo, error) {
	now := s.now()
	out := make(map[string]*tableInfo, len(names))
	var missing []string
	s.mu.Lock()
	for _, n := range names {
		if t, ok := s.tables[n]; ok && now.Sub(t.at) < s.ttl {
			out[n] = t
		} else if !strings.ContainsAny(n, "\\\x00") {
			missing = append(missing, n)
		}
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	rows, err := run(ctx, s.columnsQuery(missing))
	if err != nil {
		return out, err
	}
	found := make(map[string]*tableInfo, len(missing))
	for _, n := range missing {
		found[n] = &tableInfo{at: now}
	}
	for _, r := range rows {
		if len(r) != 4 {
			continue
		}
		t := found[strings.ToLower(r[0])]
		if t == nil {
			continue
		}
		t.cols = append(t.cols, columnInfo{name: strings.ToLower(r[1]), typ: declTypeName(r[2], r[3] == "1")})
	}
	s.mu.Lock()
	for n, t := range found {
		s.tables[n] = t
		out[n] = t
	}
	s.mu.Unlock()
	return out, nil
}

// columnsQuery reads the columns of tables in the connection's database.
// The names are written as literals, not bound: the query then runs in
// one round trip on a connection whose sql_mode has NO_BACKSLASH_ESCAPES,
// where doubling the quote is the whole of escaping (names with a
// backslash are never asked for).
func (s *schema) columnsQuery(names []string) string {
	var b strings.Builder
	b.WriteString("SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, ")
	if s.mariadb.Load() {
		b.WriteString("EXISTS (SELECT 1 FROM information_schema.CHECK_CONSTRAINTS k WHERE k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA" +
			" AND k.TABLE_NAME = c.TABLE_NAME AND k.CHECK_CLAUSE = CONCAT('json_valid(`', c.COLUMN_NAME, '`)'))")
	} else {
		b.WriteString("0")
	}
	b.WriteString(" FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME IN (")
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + strings.ReplaceAll(n, "'", "''") + "'")
	}
	b.WriteString(") ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION")
	return b.String()
}

// column returns the type of a column of a table, "" when unknown.
func (t *tableInfo) column(name string) string {
	if t == nil {
		return ""
	}
	for _, c := range t.cols {
		if c.name == name {
			return c.typ
		}
	}
	return ""
}

// tableRef is a table a statement names, with its alias.
type tableRef struct {
	name  string // lower case, unqualified
	alias string // lower case; "" when none
}

// refEnd are the words that end a FROM list, or cannot be an alias.
var refEnd = map[string]bool{
	"WHERE": true, "GROUP": true, "HAVING": true, "ORDER": true, "LIMIT": true, "ON": true, "USING": true,
	"JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true, "CROSS": true, "NATURAL": true, "STRAIGHT_JOIN": true,
	"FULL": true, "OUTER": true, "SET": true, "VALUES": true, "VALUE": true, "SELECT": true, "UNION": true,
	"EXCEPT": true, "INTERSECT": true, "WINDOW": true, "FOR": true, "LOCK": true, "PARTITION": true,
	"USE": true, "IGNORE": true, "FORCE": true, "RETURNING": true, "AS": true, "OFFSET": true, "INTO": true,
	"DUPLICATE": true, "WITH": true,
}

// tableRefs finds the tables a statement names after FROM, JOIN, UPDATE,
// INTO and TABLE, with their aliases, at any depth. It reads the tokens,
// it does not parse: a name it takes for a table that is not one only
// costs a lookup that finds nothing. Names qualified with a database are
// left out (the cache holds the connection's database).
func tableRefs(toks []sqltext.Token) []tableRef {
	var out []tableRef
	upper := func(i int) string {
		if i < len(toks) && toks[i].Kind == sqltext.TokIdent {
			return strings.ToUpper(toks[i].Text)
		}
		return ""
	}
	isName := func(i int) bool {
		return i < len(toks) && (toks[i].Kind == sqltext.TokQuotedIdent ||
			toks[i].Kind == sqltext.TokIdent && !refEnd[strings.ToUpper(toks[i].Text)])
	}
	// ref reads a table reference at i and returns the index after it.
	ref := func(i int) int {
		if !isName(i) {
			return i
		}
		name := toks[i].Value()
		i++
		if i+1 < len(toks) && toks[i].Text == "." && isName(i+1) {
			return i + 2 // db.table: another database
		}
		if name == "" {
			return i // "" or an unterminated quote: no name
		}
		r := tableRef{name: strings.ToLower(name)}
		if upper(i) == "AS" {
			i++
		}
		if isName(i) {
			r.alias = strings.ToLower(toks[i].Value())
			i++
		}
		out = append(out, r)
		return i
	}
	for i := 0; i < len(toks); i++ {
		switch upper(i) {
		case "FROM":
			j := ref(i + 1)
			for j > i+1 && j < len(toks) && toks[j].Text == "," {
				k := ref(j + 1)
				if k == j+1 {
					break
				}
				j = k
			}
			i = j - 1
		case "INSERT", "REPLACE":
			j := i + 1
			for upper(j) == "IGNORE" || upper(j) == "LOW_PRIORITY" || upper(j) == "DELAYED" || upper(j) == "HIGH_PRIORITY" {
				j++
			}
			if upper(j) != "INTO" {
				i = ref(j) - 1
			}
		case "JOIN", "UPDATE", "INTO", "TABLE":
			if upper(i+1) == "IGNORE" || upper(i+1) == "LOW_PRIORITY" {
				i++
			}
			i = ref(i+1) - 1
		}
	}
	return out
}

// refNames are the distinct table names of refs.
func refNames(refs []tableRef) []string {
	var names []string
	seen := map[string]bool{}
	for _, r := range refs {
		if !seen[r.name] {
			seen[r.name] = true
			names = append(names, r.name)
		}
	}
	return names
}

package sqltext

import "strings"

// Table is a relation named in a statement, normalised as PostgreSQL
// resolves a written name: an unquoted part is lower-cased, a quoted part
// ("Orders", `Orders`) keeps its case, each is cut to 63 bytes.
type Table struct {
	// Schema is the qualifier, "" for an unqualified name. Of a three-part
	// name catalog.schema.name only schema is kept.
	Schema string
	// Name is the relation's own name.
	Name string
}

// String renders the name as PostgreSQL would print it, quoting the parts
// that need it: public.orders, "Sales"."Q1", "user".
func (t Table) String() string {
	if t.Schema == "" {
		return quoteIdent(t.Name)
	}
	return quoteIdent(t.Schema) + "." + quoteIdent(t.Name)
}

// Key is the name the result cache invalidates by: Name alone, lower-cased.
// The schema is dropped because an unqualified name read under one
// search_path and a qualified one written under another must meet; case is
// folded because MySQL and SQLite fold names PostgreSQL keeps apart. Both
// merge distinct tables at worst, which costs extra invalidations, never a
// stale answer.
func (t Table) Key() string { return strings.ToLower(t.Name) }

// TableKeys returns the Key of each table, without duplicates.
func TableKeys(tables []Table) []string {
	out := make([]string, 0, len(tables))
	for _, t := range tables {
		k := t.Key()
		dup := false
		for _, o := range out {
			if o == k {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, k)
		}
	}
	return out
}

// withState tracks a WITH list at one parenthesis level.
type withState uint8

const (
	wsNone      withState = iota
	wsName                // expecting a CTE name (or RECURSIVE)
	wsAfterName           // after the name: a column list or AS
	wsAs                  // after AS [NOT] [MATERIALIZED]: the body's "("
	wsInBody              // the body is open (in the frame above)
	wsAfterBody           // after the body: ",", SEARCH, CYCLE or the main statement
	wsSearch              // in SEARCH ... SET col: skip to SET
	wsCycle               // in CYCLE ... USING col: skip to USING
	wsClauseEnd           // the column name that ends SEARCH/CYCLE
)

// stmtKind is the statement a frame's from list belongs to, for USING.
type stmtKind uint8

const (
	stmtOther stmtKind = iota
	stmtDelete
	stmtMerge
)

// frame is what the walker knows about one parenthesis level.
type frame struct {
	query     bool // SELECT, DELETE or UPDATE seen here: FROM starts a from list
	from      bool // in a from list (FROM, USING, JOIN, UPDATE's targets): "," starts an item
	expect    bool // the next token starts a table reference
	write     bool // references here are written (targets), not read
	single    bool // one reference only (INSERT INTO t, MERGE INTO t, TABLE t)
	join      bool // after JOIN, before ON/USING: USING ( is a column list
	alias     bool // a reference just ended: an alias may follow
	aliasNext bool // AS followed a reference: the next word is the alias
	item      bool // this level is a from item: its ")" may be followed by an alias
	stmt      stmtKind
	brackets  int // [ ] nesting, so ARRAY[a, b] has no from-list commas

	with      withState
	recursive bool
	cteName   string
	cteBody   string // this level is the body of that CTE
	cteBodyOK bool
}

type cteBinding struct {
	name  string
	level int // index of the frame whose WITH list bound it
}

// walker makes one pass over the significant tokens of a statement and
// collects what Cacheability and Writes need: the relations read and
// written, the functions called and the features that make a result
// depend on something other than the tables.
//
// It is a heuristic, not a parser, and every doubt goes the safe way: a
// word it cannot place becomes an extra table (an extra invalidation) or
// an unknown function (a miss), never a table it silently skips. Two
// things can hide a name, and both are narrow: an alias, taken only right
// after a reference and never from the reserved words that end one, and
// a CTE name, bound only where SQL makes it visible (after its body, or at
// once under RECURSIVE) and compared exactly.
type walker struct {
	d      Dialect
	toks   []Token
	i      int
	callAt int // index of the "(" that opens the call just seen, or -1
	itemAt int // index of a "(" that opens a call used as a from item, or -1
	frames []frame
	ctes   []cteBinding

	frameBuf [8]frame

	reads, writes []Table
	volatile      string // the first reason the result depends on more than tables
	unknown       string // the first function not known to be safe
	mayWrite      bool   // a call may write tables it does not name
	awaiting      bool   // a write verb was seen and its target not yet
	missed        bool   // a write verb's target was never found
	verbs         int    // write verbs seen where a statement can start
	session       bool   // changes session state: set_config(), a user variable
}

// init prepares w for stmt. The walker is meant to live on the caller's
// stack: frames start in frameBuf.
func (w *walker) init(stmt string, d Dialect) {
	w.d, w.callAt, w.itemAt = d, -1, -1
	w.toks = appendSignificant(make([]Token, 0, len(stmt)/5+4), stmt)
	w.frames = append(w.frameBuf[:0], frame{})
}

// closing returns the index of the ")" that matches the "(" at open, or
// the end of the statement when it is unclosed.
func (w *walker) closing(open int) int {
	depth := 0
	for j := open; j < len(w.toks); j++ {
		switch t := w.toks[j]; {
		case isOp(t, "("):
			depth++
		case isOp(t, ")"):
			if depth--; depth == 0 {
				return j
			}
		case t.Kind == TokSemicolon:
			return j
		}
	}
	return len(w.toks)
}

func (w *walker) top() *frame { return &w.frames[len(w.frames)-1] }

func (w *walker) tok(i int) (Token, bool) {
	if i < 0 || i >= len(w.toks) {
		return Token{}, false
	}
	return w.toks[i], true
}

func (w *walker) kwAt(i int) string {
	t, _ := w.tok(i)
	return kw(t)
}

func (w *walker) opAt(i int, op string) bool {
	t, ok := w.tok(i)
	return ok && isOp(t, op)
}

func (w *walker) textAt(i int) string {
	t, _ := w.tok(i)
	return t.Text
}

// lowerWord lower-cases an ASCII word into buf without allocating; ok is
// false when it does not fit.
func lowerWord(buf []byte, s string) ([]byte, bool) {
	if len(s) > len(buf) {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return buf[:len(s)], true
}

func isName(t Token) bool { return t.Kind == TokIdent || t.Kind == TokQuotedIdent }

func (w *walker) setVolatile(why string) {
	if w.volatile == "" {
		w.volatile = why
	}
}

func (w *walker) run() {
	for w.i < len(w.toks) {
		t := w.toks[w.i]
		if w.withStep(t) {
			w.i++
			continue
		}
		if isName(t) {
			w.word()
			continue
		}
		f := w.top()
		f.alias, f.aliasNext = false, false
		switch t.Kind {
		case TokOperator:
			w.operator(t)
		case TokString:
			f.expect = false
			if len(t.Text) <= 64 && TimeDependentLiteral(t.Value()) {
				w.setVolatile("'" + trimSpace(t.Value()) + "' depends on the time")
			}
		case TokSemicolon:
			// A new statement: forget the previous one's levels and names.
			w.frames = w.frames[:1]
			w.frames[0] = frame{}
			w.ctes = w.ctes[:0]
		default:
			f.expect = false
		}
		w.i++
	}
}

func (w *walker) operator(t Token) {
	f := w.top()
	switch t.Text {
	case "(":
		w.open()
		return
	case ")":
		w.close()
		return
	case ",":
		if f.brackets == 0 && f.from {
			f.expect, f.join = true, false
			return
		}
	case "[":
		f.brackets++
	case "]":
		if f.brackets > 0 {
			f.brackets--
		}
	case ":=":
		if w.d == MySQL || w.d == AnyDialect {
			w.setVolatile("assigns a user variable")
			w.session = true
		}
	case "@", "@@":
		// MySQL @user and @@system variables: session state. In
		// PostgreSQL "@" is absolute value; in SQLite @name a parameter.
		if next, ok := w.tok(w.i + 1); ok && (w.d == MySQL || w.d == AnyDialect) &&
			next.Pos == t.End() && (isName(next) || next.Kind == TokString) {
			w.setVolatile("reads a session variable")
		}
	}
	f.expect = false
}

// open handles "(": a call's arguments, a from item (subquery or
// parenthesised join), a CTE body or a plain group.
func (w *walker) open() {
	f := w.top()
	nf := frame{}
	switch {
	case w.i == w.itemAt:
		nf.item = true
	case w.i == w.callAt:
	case f.expect:
		f.expect = false
		nf.item = true
		switch w.kwAt(w.i + 1) {
		case "SELECT", "VALUES", "WITH", "TABLE": // a subquery
		default:
			// (a JOIN b ...), or ((SELECT ...)), whose inner "(" is again
			// an item position and sees the SELECT.
			nf.from, nf.expect, nf.write = true, true, f.write
		}
	case f.with == wsAs:
		nf.cteBody, nf.cteBodyOK = f.cteName, true
		f.with = wsInBody
	}
	w.frames = append(w.frames, nf)
}

func (w *walker) close() {
	if len(w.frames) == 1 {
		return // an unbalanced ")": the server rejects it
	}
	closed := w.frames[len(w.frames)-1]
	w.frames = w.frames[:len(w.frames)-1]
	level := len(w.frames) // index the closed frame had
	n := 0
	for _, b := range w.ctes {
		if b.level < level {
			w.ctes[n] = b
			n++
		}
	}
	w.ctes = w.ctes[:n]
	f := w.top()
	if closed.cteBodyOK {
		if !f.recursive {
			w.bind(closed.cteBody)
		}
		f.with = wsAfterBody
	}
	f.expect = false
	if closed.item {
		f.alias = true
	}
}

func (w *walker) bind(name string) {
	w.ctes = append(w.ctes, cteBinding{name: name, level: len(w.frames) - 1})
}

func (w *walker) isCTE(name string) bool {
	for _, b := range w.ctes {
		if b.name == name {
			return true
		}
	}
	return false
}

// cteStart reports whether the WITH at w.i starts a CTE list rather than
// WITH TIME ZONE, WITH ORDINALITY, COPY ... WITH (...), WITH CHECK OPTION...
func (w *walker) cteStart() bool {
	next, ok := w.tok(w.i + 1)
	if !ok || !isName(next) {
		return false
	}
	switch kw(next) {
	case "RECURSIVE":
		return true
	case "ORDINALITY":
		return false
	}
	return w.kwAt(w.i+2) == "AS" || w.opAt(w.i+2, "(")
}

// withStep advances a WITH list's state machine; true means the token was
// consumed by it.
func (w *walker) withStep(t Token) bool {
	f := w.top()
	switch f.with {
	case wsName:
		if kw(t) == "RECURSIVE" && !f.recursive {
			f.recursive = true
			return true
		}
		if isName(t) {
			f.cteName, f.with = t.Value(), wsAfterName
			if f.recursive {
				w.bind(f.cteName)
			}
			return true
		}
	case wsAfterName:
		if isOp(t, "(") {
			return false // the column list: a plain group
		}
		if kw(t) == "AS" {
			f.with = wsAs
			return true
		}
	case wsAs:
		if k := kw(t); k == "NOT" || k == "MATERIALIZED" {
			return true
		}
		if isOp(t, "(") {
			return false // the body: open marks it
		}
	case wsAfterBody:
		switch {
		case isOp(t, ","):
			f.with = wsName
			return true
		case kw(t) == "SEARCH":
			f.with = wsSearch
			return true
		case kw(t) == "CYCLE":
			f.with = wsCycle
			return true
		}
	case wsSearch, wsCycle:
		if k := kw(t); f.with == wsSearch && k == "SET" || f.with == wsCycle && k == "USING" {
			f.with = wsClauseEnd
		}
		if isOp(t, "(") || isOp(t, ")") || t.Kind == TokSemicolon || isName(t) && w.opAt(w.i+1, "(") {
			break // not SQL we know (a call, a group): look at it normally
		}
		return true
	case wsClauseEnd:
		if isName(t) {
			f.with = wsAfterBody
			return true
		}
	default: // wsNone, wsInBody
		return false
	}
	f.with = wsNone
	return false
}

// word handles a name: a (qualified) call, a table reference, an alias or
// a keyword that moves the clause state.
func (w *walker) word() {
	i := w.i
	t := w.toks[i]
	end := i + 1
	for end+1 < len(w.toks) && isOp(w.toks[end], ".") && isName(w.toks[end+1]) {
		end += 2
	}
	single := end == i+1
	k := ""
	if single {
		k = kw(t)
	}
	afterDot := w.opAt(i-1, ".")
	f := w.top()
	next, hasNext := w.tok(end)
	paren := hasNext && isOp(next, "(")

	if f.aliasNext {
		f.aliasNext, f.alias = false, false
		w.i = end
		return
	}
	if f.alias {
		f.alias = false
		if k == "AS" {
			f.aliasNext = true
			w.i++
			return
		}
		if k == "WITH" && w.kwAt(i+1) == "ORDINALITY" {
			f.alias = true // unnest(a) WITH ORDINALITY AS x(v, n)
			w.i += 2
			return
		}
		if single && !notAlias(k) {
			w.i++
			return
		}
	}

	// Before "(" and not a call: INSERT INTO t (columns), and any name
	// after AS: an alias's column list or a type in CAST(x AS varchar(9)).
	target := f.expect && f.write && f.single || single && w.kwAt(i-1) == "AS"
	if paren && !afterDot && !target && (!single || t.Kind == TokQuotedIdent || !nonCall(k)) {
		w.call(i, end)
		w.callAt = end
		if f.expect {
			f.expect = false
			w.itemAt = end
		}
		w.i = end
		return
	}

	if f.expect && !afterDot {
		if w.modifier(k) {
			return
		}
		if !single || !itemStop(k) {
			w.reference(i, end)
			w.i = end
			return
		}
		f.expect = false
	}

	if !afterDot {
		w.keyword(k, t, end, paren)
	}
	w.i = end
}

// modifier skips a word at a table position that qualifies the reference
// instead of naming it (FROM ONLY t, JOIN LATERAL f(), INSERT IGNORE INTO
// t, DELETE QUICK FROM t, ROWS FROM (...), INSERT OR REPLACE INTO t). A
// word is a modifier only when a reference can still follow it, so a table
// named rows or quick is still a table.
func (w *walker) modifier(k string) bool {
	next, ok := w.tok(w.i + 1)
	follows := ok && (isOp(next, "(") || isName(next) && !itemStop(kw(next)))
	switch k {
	case "LATERAL", "ONLY", "INTO", "FROM", "LOW_PRIORITY", "HIGH_PRIORITY",
		"DELAYED", "QUICK", "IGNORE":
	case "ROWS":
		follows = kw(next) == "FROM"
	case "OR": // SQLite INSERT OR REPLACE INTO t, UPDATE OR IGNORE t
		switch w.kwAt(w.i - 1) {
		case "INSERT", "UPDATE", "REPLACE":
			if follows {
				w.i += 2
				return true
			}
		}
		return false
	default:
		return false
	}
	if follows {
		w.i++
	}
	return follows
}

// reference records the table named by toks[i:end] (name parts and dots).
func (w *walker) reference(i, end int) {
	f := w.top()
	tb := tableOf(w.toks[i:end])
	switch {
	case f.write:
		w.writes = appendTable(w.writes, tb)
		w.awaiting = false
	case tb.Schema == "" && w.isCTE(tb.Name):
	default:
		if why := volatileRelation(tb); why != "" {
			w.setVolatile(why)
		}
		w.reads = appendTable(w.reads, tb)
	}
	f.expect, f.alias = false, true
	if f.single {
		f.single, f.from, f.write = false, false, false
	}
}

func appendTable(ts []Table, t Table) []Table {
	for _, o := range ts {
		if o == t {
			return ts
		}
	}
	return append(ts, t)
}

// tableOf builds a Table from name tokens separated by dots.
func tableOf(parts []Token) Table {
	n := len(parts)
	tb := Table{Name: parts[n-1].Value()}
	if n >= 3 {
		tb.Schema = parts[n-3].Value()
	}
	return tb
}

// keyword moves the clause state for a word that is not a reference.
func (w *walker) keyword(k string, t Token, end int, paren bool) {
	f := w.top()
	prev := w.kwAt(w.i - 1)
	if t.Kind == TokIdent && !paren && end == w.i+1 {
		var buf [24]byte
		if name, ok := lowerWord(buf[:], t.Text); ok {
			if why, ok := bareVolatile[string(name)]; ok && !(string(name) == "user" && (w.d == MySQL || w.d == SQLite)) {
				w.setVolatile(string(name) + " " + why)
			}
		}
	}
	switch k {
	case "SELECT":
		f.query = true
		f.from, f.expect, f.write, f.single, f.join = false, false, false, false, false
	case "FROM":
		if f.query && prev != "DISTINCT" {
			f.from, f.expect, f.join = true, true, false
		}
	case "JOIN", "STRAIGHT_JOIN":
		if f.from {
			f.expect, f.join = true, true
		}
	case "USING":
		switch {
		case f.join:
			f.join = false // USING (columns)
		case f.stmt == stmtDelete || f.stmt == stmtMerge:
			f.from, f.expect, f.write = true, true, false
		}
	case "ON":
		f.expect, f.join = false, false
	case "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "FETCH", "WINDOW",
		"UNION", "INTERSECT", "EXCEPT", "RETURNING", "SET", "INTO", "VALUES",
		"LOCK", "DEFAULT", "OVERRIDING":
		f.from, f.expect, f.write, f.single, f.join = false, false, false, false, false
	case "FOR":
		// FOR UPDATE/SHARE ends the list; MariaDB's FOR SYSTEM_TIME
		// belongs to the reference before it.
		if !strings.EqualFold(w.textAt(w.i+1), "system_time") {
			f.from, f.expect, f.write, f.single, f.join = false, false, false, false, false
		}
	case "WHEN":
		// MERGE ... USING src ON cond WHEN: the source list ends. A CASE
		// WHEN inside a join condition does not end a from list.
		if f.stmt == stmtMerge {
			f.from, f.expect, f.write, f.single, f.join = false, false, false, false, false
		}
	case "WITH":
		if w.cteStart() {
			f.with, f.recursive = wsName, false
		}
	case "INSERT", "REPLACE":
		if w.statementStart() && !paren {
			w.verb()
			f.expect, f.write, f.single, f.from = true, true, true, false
		}
	case "UPDATE":
		if w.statementStart() {
			w.verb()
			f.query = true
			f.from, f.expect, f.write, f.single = true, true, true, false
		}
	case "DELETE":
		if w.statementStart() {
			w.verb()
			f.query, f.stmt = true, stmtDelete
			f.from, f.expect, f.write, f.single = true, true, true, false
		}
	case "MERGE":
		if w.statementStart() {
			w.verb()
			f.stmt = stmtMerge
			f.expect, f.write, f.single, f.from = true, true, true, false
		}
	case "TABLE":
		f.expect, f.single, f.write = true, true, false
	case "TABLESAMPLE":
		w.setVolatile("TABLESAMPLE picks rows at random")
	}
}

// statementStart reports whether the word at w.i is where a statement
// starts: first, after "(" (a CTE body), ")" (after a WITH list or
// EXPLAIN's options), or after EXPLAIN [ANALYZE] [VERBOSE] and PREPARE's
// AS. So ON CONFLICT DO UPDATE, FOR UPDATE, MERGE's THEN INSERT and a
// column named update are not statements. Classify still sees their
// keyword, and Writes answers "everything" when no statement was found.
func (w *walker) statementStart() bool {
	if w.i == 0 {
		return true
	}
	p := w.toks[w.i-1]
	if isOp(p, "(") || isOp(p, ")") || p.Kind == TokSemicolon {
		return true
	}
	switch kw(p) {
	case "EXPLAIN", "ANALYZE", "ANALYSE", "VERBOSE", "AS":
		return true
	}
	return false
}

// verb notes a write statement whose target must follow. A verb whose
// target was never seen makes Writes answer "everything".
func (w *walker) verb() {
	if w.awaiting {
		w.missed = true
	}
	w.awaiting = true
	w.verbs++
}

// notAlias reports whether a word after a table reference is a clause
// keyword rather than an alias.
func notAlias(k string) bool {
	switch k {
	case "WHERE", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "NATURAL",
		"STRAIGHT_JOIN", "ON", "USING", "GROUP", "ORDER", "HAVING", "LIMIT",
		"OFFSET", "FETCH", "FOR", "WINDOW", "UNION", "INTERSECT", "EXCEPT", "SET",
		"VALUES", "SELECT", "DEFAULT", "RETURNING", "TABLESAMPLE", "USE", "FORCE",
		"IGNORE", "PARTITION", "WHEN", "OVERRIDING", "FROM", "TO", "WITH",
		"CASCADE", "RESTRICT", "RESTART", "CONTINUE", "LOCK", "INTO", "LATERAL",
		"ONLY", "INDEXED", "NOT", "OUTER", "AS", "ORDINALITY", "OR", "AND":
		return true
	}
	return false
}

// itemStop reports whether a keyword at a table position is syntax, not a
// table name (a table called "data" or "key" is still a table).
func itemStop(k string) bool {
	switch k {
	// Only words PostgreSQL reserves: an unreserved keyword (set, values
	// to some grammars, rows, data) can name a table.
	case "SELECT", "WITH", "WHERE", "GROUP", "ORDER", "HAVING", "LIMIT",
		"OFFSET", "UNION", "INTERSECT", "EXCEPT", "ON", "USING", "JOIN",
		"INNER", "LEFT", "RIGHT", "FULL", "CROSS", "NATURAL", "DEFAULT",
		"RETURNING", "WHEN", "FOR", "TABLE":
		return true
	}
	return false
}

// nonCall reports whether a keyword followed by "(" is syntax rather than
// a function call: IN (...), EXISTS (...), OVER (...), VALUES (...)...
func nonCall(k string) bool {
	switch k {
	case "IN", "EXISTS", "ANY", "SOME", "ALL", "ARRAY", "ROW", "VALUES", "USING",
		"ON", "AND", "OR", "NOT", "WHERE", "SELECT", "FROM", "JOIN", "LATERAL",
		"AS", "OVER", "FILTER", "WITHIN", "GROUP", "RETURNING", "SET", "INTO", "IS",
		"THEN", "ELSE", "WHEN", "CASE", "BY", "LIKE", "ILIKE", "SIMILAR", "BETWEEN",
		"ESCAPE", "DISTINCT", "LIMIT", "OFFSET", "FETCH", "HAVING", "UNION",
		"INTERSECT", "EXCEPT", "TABLE", "ONLY", "WITH", "RECURSIVE", "MATERIALIZED",
		"WINDOW", "PARTITION", "INDEX", "KEY", "CONFLICT", "DO", "CUBE", "ROLLUP",
		"SETS", "AGAINST", "OF", "FOR", "TO", "TABLESAMPLE", "SYSTEM", "BERNOULLI",
		"REPEATABLE", "ORDER", "PRIMARY", "UNIQUE", "CHECK", "REFERENCES",
		"FOREIGN", "CONSTRAINT", "DEFAULT", "RETURNS", "EXCLUDE", "INCLUDE",
		"OVERLAPS", "USE", "FORCE", "IGNORE", "ROWS", "EXPLAIN", "ANALYZE",
		"ANALYSE", "COPY", "END", "INSERT", "DELETE", "UPDATE", "MERGE", "CALL",
		"PREPARE", "EXECUTE", "DECLARE":
		return true
	}
	return false
}

// call checks the function named by toks[i:end], whose arguments open at
// toks[end].
func (w *walker) call(i, end int) {
	last := w.toks[end-1]
	var buf [maxIdentLen]byte
	name := ""
	if b, ok := lowerWord(buf[:], last.Text); ok && last.Kind == TokIdent {
		name = string(b) // does not escape: lookups and concatenations
	} else {
		name = last.Value()
	}
	if end-i > 1 {
		schema := strings.ToLower(w.toks[end-3].Value())
		if schema != "pg_catalog" || w.d != Postgres {
			if why, ok := volatileFunction(name); ok && schema == "pg_catalog" {
				w.setVolatile("calls " + name + "(): " + why)
				return
			}
			if w.unknown == "" {
				w.unknown = tableOf(w.toks[i:end]).String() + "()"
			}
			w.mayWrite = true
			return
		}
	}
	open := end
	if why, ok := volatileFunction(name); ok {
		w.setVolatile("calls " + name + "(): " + why)
		switch name {
		case "nextval", "setval":
			w.sequence(open)
		case "set_config", "get_lock", "pg_advisory_lock", "pg_advisory_lock_shared",
			"pg_try_advisory_lock", "pg_try_advisory_lock_shared":
			// A setting or a lock held for the session.
			w.session = true
		}
		if writingFunction(name) {
			w.mayWrite = true
		}
		return
	}
	if nowFunctions[name] {
		if (w.d == SQLite || w.d == AnyDialect) && w.readsClock(open) {
			w.setVolatile("calls " + name + "() of the current time")
		}
		return
	}
	switch name {
	case "unix_timestamp":
		if w.opAt(open+1, ")") {
			w.setVolatile("calls unix_timestamp(): depends on the time")
		}
		return
	case "age":
		if w.args(open) == 1 {
			w.setVolatile("calls age() of the current date")
		}
		return
	}
	if safeFunctions[name] {
		return
	}
	if w.unknown == "" {
		w.unknown = quoteIdent(name) + "()"
	}
	w.mayWrite = true
}

// readsClock reports whether a SQLite date function called at open reads
// the clock: no argument, or a bound parameter that may be 'now'.
func (w *walker) readsClock(open int) bool {
	if w.opAt(open+1, ")") {
		return true
	}
	for j, end := open+1, w.closing(open); j < end; j++ {
		if t := w.toks[j]; t.Kind == TokParam || isOp(t, "?") {
			return true
		}
	}
	return false
}

// args counts the top-level arguments of the call whose "(" is at open.
func (w *walker) args(open int) int {
	if w.opAt(open+1, ")") {
		return 0
	}
	n, depth := 1, 0
	for j, end := open+1, w.closing(open); j < end; j++ {
		switch t := w.toks[j]; {
		case isOp(t, "(") || isOp(t, "["):
			depth++
		case isOp(t, ")") || isOp(t, "]"):
			depth--
		case isOp(t, ",") && depth == 0:
			n++
		}
	}
	return n
}

// sequence records the sequence named by a literal first argument of
// nextval/setval as written: 'public."Seq"' names public.Seq, as a
// regclass input does.
func (w *walker) sequence(open int) {
	t, ok := w.tok(open + 1)
	if !ok || t.Kind != TokString {
		return
	}
	parts := Significant(t.Value())
	if len(parts) == 0 || len(parts)%2 == 0 {
		return
	}
	for j, p := range parts {
		if j%2 == 0 && !isName(p) || j%2 == 1 && !isOp(p, ".") {
			return
		}
	}
	w.writes = appendTable(w.writes, tableOf(parts))
}

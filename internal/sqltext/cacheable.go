package sqltext

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Dialect selects the rules that differ between the backends for
// Cacheability and Writes. The text is scanned the same way for all.
type Dialect uint8

const (
	// AnyDialect applies every dialect's rules at once: the most
	// conservative choice, for text whose backend is unknown.
	AnyDialect Dialect = iota
	// Postgres: "@" is an operator, bare user is current_user, date() is a
	// cast, and pg_catalog.f() is the builtin f().
	Postgres
	// MySQL: @var and @@var are session variables, "/*!" comments run,
	// "--" needs a space to start a comment, user is a column.
	MySQL
	// SQLite: date('now') and kin read the clock, @name is a parameter,
	// user is a column.
	SQLite
)

var dialectNames = [...]string{AnyDialect: "any", Postgres: "postgres", MySQL: "mysql", SQLite: "sqlite"}

func (d Dialect) String() string {
	if int(d) < len(dialectNames) {
		return dialectNames[d]
	}
	return "Dialect(?)"
}

// CacheInfo is what Cacheability learns about one statement.
type CacheInfo struct {
	// Cacheable is true when the statement's complete result may be served
	// from the cache to another client with the same key: it reads, runs
	// alone, locks nothing, and names nothing whose value changes by
	// itself (see the package documentation for the rules).
	Cacheable bool
	// Reason says why not, for debug logs; "" when Cacheable.
	Reason string
	// Tables are the relations the statement reads, CTE names excluded,
	// in order of first appearance and without duplicates; filled for
	// reads whether or not they are Cacheable. Invalidate by Table.Key.
	Tables []Table
	// TTL is the duration of a /* xconn:ttl=... */ hint, 0 without one.
	// A TTL hint also vouches for functions the classifier does not know
	// (never for the known-volatile ones, nor for writes).
	TTL time.Duration
	// NoCache is set by /* xconn:nocache */ or /* xconn:ttl=0 */.
	NoCache bool
}

// Cacheability decides whether the result of one statement (an element of
// Split's result, or a Parse's query) may be cached, and which tables it
// reads. It never panics.
func Cacheability(stmt string, d Dialect) CacheInfo {
	var ci CacheInfo
	h := commentHints(stmt, d)
	ci.TTL, ci.NoCache = h.ttl, h.noCache
	info, sc := classify(stmt)
	show := info.Command == "SHOW"
	reason := ""
	switch {
	case h.bad != "":
		reason = h.bad
	case h.noCache:
		reason = "hint xconn:nocache"
	}
	if !info.ReadOnly || info.Kind != Read && !show {
		if reason == "" {
			reason = notReadReason(info, sc)
		}
		ci.Reason = reason
		return ci
	}
	var w walker
	w.init(stmt, d)
	w.run()
	ci.Tables = w.reads
	switch {
	case reason != "":
	case sc.explainAnalyze:
		reason = "EXPLAIN ANALYZE runs the statement and reports timings"
	case show && volatileShow[showWord(stmt)]:
		reason = "SHOW " + strings.ToUpper(showWord(stmt)) + " changes by itself"
	case w.volatile != "":
		reason = w.volatile
	case w.unknown != "" && ci.TTL == 0:
		reason = "calls " + w.unknown + ", not known to be free of side effects (a /* xconn:ttl=... */ hint vouches for it)"
	}
	ci.Reason = reason
	ci.Cacheable = reason == ""
	return ci
}

// notReadReason explains why Classify did not call a statement read-only.
func notReadReason(info Info, sc scan) string {
	switch {
	case info.Command == "":
		return "no statement"
	case sc.multi:
		return "more than one statement"
	case info.Command == "SELECT" && info.Kind == DDL:
		return "SELECT INTO creates a table"
	case info.Kind != Read && info.Command != "SELECT" && info.Command != "EXPLAIN":
		if info.Kind == Write {
			return info.Command + " writes"
		}
		return info.Command + " is not a read (" + info.Kind.String() + ")"
	case sc.lock:
		return "locks rows (FOR UPDATE/SHARE)"
	case sc.modify:
		return "a write keyword (data-modifying WITH, INSERT/UPDATE/DELETE/MERGE) in " + info.Command
	}
	return info.Command + " is not read-only"
}

// showWord returns the lower-cased word after SHOW, past GLOBAL, SESSION
// and FULL.
func showWord(stmt string) string {
	c := newCursor(stmt)
	c.first()
	for {
		t, ok := c.next()
		if !ok || t.Kind != TokIdent {
			return ""
		}
		switch w := strings.ToLower(t.Text); w {
		case "global", "session", "full", "extended":
		default:
			return w
		}
	}
}

// hints is what the comments of a statement say.
type hints struct {
	ttl     time.Duration
	noCache bool
	bad     string // an unusable xconn: hint, or a comment MySQL would run
}

// commentHints reads the xconn: hints in the comments of stmt:
// /* xconn:ttl=30s */ and /* xconn:nocache */, also in "--" comments.
// Several may share a comment; nocache wins over ttl, the last ttl wins
// over earlier ones. An unknown or malformed xconn: word makes the
// statement uncacheable, so that a misspelt nocache cannot cache.
//
// For MySQL it also flags the comments MySQL does not treat as comments:
// /*! ... */ runs its content, and "--" without a following space is two
// minus signs.
func commentHints(stmt string, d Dialect) hints {
	var h hints
	if !strings.Contains(stmt, "/*") && !strings.Contains(stmt, "--") {
		return h
	}
	mysql := d == MySQL || d == AnyDialect
	l := Lexer{src: stmt}
	for {
		t, ok := l.Next()
		if !ok {
			break
		}
		if t.Kind != TokComment {
			continue
		}
		body := t.Text[2:]
		if strings.HasPrefix(t.Text, "/*") {
			if mysql && strings.HasPrefix(body, "!") && h.bad == "" {
				h.bad = "a /*! comment, which MySQL runs as SQL"
			}
			body = strings.TrimSuffix(body, "*/")
		} else if mysql && len(body) > 0 && !isSpace(body[0]) && h.bad == "" {
			h.bad = `"--" without a space, which MySQL reads as two minus signs`
		}
		for {
			at := indexFold(body, "xconn:")
			if at < 0 {
				break
			}
			body = body[at+len("xconn:"):]
			n := 0
			for n < len(body) && !isSpace(body[n]) && body[n] != ',' && body[n] != '*' && body[n] != ';' {
				n++
			}
			word := body[:n]
			body = body[n:]
			name, value, hasValue := strings.Cut(word, "=")
			switch {
			case strings.EqualFold(name, "nocache") && !hasValue:
				h.noCache = true
			case strings.EqualFold(name, "ttl") && hasValue:
				ttl, ok := parseHintDuration(value)
				if !ok {
					if h.bad == "" {
						h.bad = "invalid hint xconn:" + word + " (want a duration such as 90s, 10m, 1d or seconds)"
					}
					continue
				}
				h.ttl = ttl
				if ttl == 0 {
					h.noCache = true
				}
			default:
				if h.bad == "" {
					h.bad = "unknown hint xconn:" + word + " (known: xconn:ttl=DURATION, xconn:nocache)"
				}
			}
		}
	}
	if h.noCache {
		h.ttl = 0
	}
	return h
}

// indexFold is strings.Index ignoring ASCII case; sub must be lower case.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for j < len(sub) {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
			j++
		}
		if j == len(sub) {
			return i
		}
	}
	return -1
}

// parseHintDuration reads a hint's duration the way the configuration
// reads cache_ttl: Go units ("90s", "1h30m"), a number of days ("1d",
// "0.5d"), or a bare number of seconds ("30", "1.5"). Negative values and
// values beyond what time.Duration holds are invalid.
func parseHintDuration(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	unit := float64(time.Second)
	num := s
	if days, ok := strings.CutSuffix(s, "d"); ok {
		unit, num = float64(24*time.Hour), days
	}
	if n, err := strconv.ParseFloat(num, 64); err == nil {
		v := n * unit
		if n < 0 || math.IsNaN(v) || v >= math.MaxInt64 {
			return 0, false
		}
		return time.Duration(v), true
	}
	if num != s { // "xd" with a non-number before d
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, false
	}
	return d, true
}

// WriteSet is what a statement may change, for invalidating cached reads.
type WriteSet struct {
	// Tables are the relations written (targets only: INSERT INTO t
	// SELECT FROM u writes t), plus the sequences named by nextval/setval
	// literals. Invalidate by Table.Key.
	Tables []Table
	// All means the tables cannot be told (DDL, CALL, DO, EXECUTE, an
	// unknown function, TRUNCATE ... CASCADE...): invalidate everything
	// the connection has cached.
	All bool
	// Reason says why All, for debug logs.
	Reason string
	// Session is set when the statement changes session state that later
	// results depend on and that is not a SET the proxy parses: a
	// temporary object (it shadows tables for this session only), USE,
	// set_config(), a MySQL user variable, SQLite's PRAGMA/ATTACH/DETACH.
	// A proxy that cannot put that state into the cache key should stop
	// caching for the session.
	Session bool
}

func (ws *WriteSet) all(reason string) {
	if !ws.All {
		ws.All, ws.Reason = true, reason
	}
}

func (ws *WriteSet) merge(o WriteSet) {
	for _, t := range o.Tables {
		ws.Tables = appendTable(ws.Tables, t)
	}
	if o.All {
		ws.all(o.Reason)
	}
	ws.Session = ws.Session || o.Session
}

// Writes tells what a statement (or each statement of a simple Query)
// may write, for invalidation. It answers after the fact is fine: run it
// on any statement that reached the server, and invalidate once the write
// is complete (for a transaction, again at COMMIT). It never panics.
//
// What it cannot see: writes that triggers, rules, foreign-key cascades
// or functions make on other tables, and reads through views of a written
// table. See the package documentation.
func Writes(stmt string, d Dialect) WriteSet {
	info, sc := classify(stmt)
	if sc.multi {
		// Split may still return one statement (a ";" inside an unclosed
		// parenthesis): then the text is read as one.
		if stmts := Split(stmt); len(stmts) > 1 {
			var ws WriteSet
			for _, s := range stmts {
				ws.merge(Writes(s, d))
			}
			return ws
		}
	}
	var ws WriteSet
	if h := commentHints(stmt, d); strings.HasPrefix(h.bad, "a /*!") || strings.HasPrefix(h.bad, `"--"`) {
		ws.all(h.bad)
	}
	switch info.Kind {
	case Transaction:
		return ws
	case Session:
		switch {
		case info.Command == "USE":
			ws.Session = true
		case info.Command == "SET" && (d == MySQL || d == AnyDialect) && strings.Contains(stmt, "@"):
			ws.Session = ws.Session || userVariable(stmt)
		}
		return ws
	case DDL:
		if info.Command == "SELECT" && (d == MySQL || d == AnyDialect) && intoUserVariable(stmt) {
			ws.Session = true // MySQL's SELECT ... INTO @v sets a variable, no table
			return ws
		}
		ws.all("DDL: " + info.Command)
		ws.Session = createsTemp(stmt)
		return ws
	case Other:
		switch info.Command {
		case "LOCK TABLE":
			// MySQL's LOCK TABLES holds its locks for the session, until
			// UNLOCK TABLES (PostgreSQL's, for the transaction).
			ws.Session = d == MySQL || d == AnyDialect
			return ws
		case "", "VACUUM", "ANALYZE", "CHECKPOINT", "FETCH", "MOVE",
			"CLOSE CURSOR", "CLOSE CURSOR ALL", "NOTIFY", "COPY", "DESCRIBE", "DESC",
			"EXPLAIN", "CLUSTER", "REINDEX":
			// Change no rows (COPY here is COPY ... TO).
			return ws
		case "DECLARE CURSOR":
			// Its query runs: check the functions it calls.
		case "PRAGMA", "ATTACH", "DETACH":
			ws.Session = true
			ws.all(info.Command + " may change anything")
			return ws
		default:
			ws.all(info.Command + " may write anything")
			return ws
		}
	}
	switch info.Command {
	case "EXPLAIN":
		if !sc.explainAnalyze {
			return ws // plans the statement without running it
		}
	case "TRUNCATE TABLE":
		truncate(stmt, &ws)
		return ws
	case "COPY":
		c := newCursor(stmt)
		c.first()
		if t, ok := c.next(); ok && isName(t) {
			parts := []Token{t}
			for c.acceptOp(".") {
				p, ok := c.next()
				if !ok || !isName(p) {
					break
				}
				parts = append(parts, Token{Kind: TokOperator, Text: "."}, p)
			}
			ws.Tables = append(ws.Tables, tableOf(parts))
			return ws
		}
		ws.all("COPY target not found")
		return ws
	case "REFRESH MATERIALIZED VIEW":
		refresh(stmt, &ws)
		return ws
	}
	var w walker
	w.init(stmt, d)
	w.run()
	for _, t := range w.writes {
		ws.Tables = appendTable(ws.Tables, t)
	}
	ws.Session = ws.Session || w.session
	if sc.intoTop && intoTemp(stmt) {
		ws.Session = true
	}
	if (d == MySQL || d == AnyDialect) && intoUserVariable(stmt) {
		ws.Session = true // SELECT ... INTO @v
	}
	switch {
	case w.mayWrite && w.unknown != "":
		ws.all("calls " + w.unknown + ", which may write any table")
	case w.mayWrite:
		ws.all("calls a function that may write any table")
	case w.missed || w.awaiting:
		ws.all(info.Command + ": write target not found")
	case sc.modify && w.verbs == 0 && !sc.lock:
		// Classify saw INSERT/UPDATE/DELETE/MERGE where no statement
		// starts (a column named update, MySQL's INSERT() function):
		// nothing we can name is written, but we cannot be sure.
		ws.all(info.Command + ": a write keyword outside a statement")
	case info.Kind == Write && !sc.modify && !sc.lock && len(ws.Tables) == 0:
		ws.all(info.Command + ": write target not found")
	}
	return ws
}

// truncate reads TRUNCATE [TABLE] [ONLY] name [*] [, ...] [... CASCADE].
func truncate(stmt string, ws *WriteSet) {
	toks := Significant(stmt)
	expect := true
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		switch k := kw(t); {
		case k == "CASCADE":
			ws.all("TRUNCATE CASCADE empties the tables that reference these")
			return
		case expect && (k == "TABLE" || k == "ONLY"):
		case expect && isName(t):
			j := i + 1
			for j+1 < len(toks) && isOp(toks[j], ".") && isName(toks[j+1]) {
				j += 2
			}
			ws.Tables = appendTable(ws.Tables, tableOf(toks[i:j]))
			i = j - 1
			expect = false
		case isOp(t, ","):
			expect = true
		}
	}
	if len(ws.Tables) == 0 {
		ws.all("TRUNCATE target not found")
	}
}

// refresh reads REFRESH MATERIALIZED VIEW [CONCURRENTLY] name.
func refresh(stmt string, ws *WriteSet) {
	toks := Significant(stmt)
	for i := 1; i < len(toks); i++ {
		switch kw(toks[i]) {
		case "MATERIALIZED", "VIEW", "CONCURRENTLY":
			continue
		}
		if !isName(toks[i]) {
			break
		}
		j := i + 1
		for j+1 < len(toks) && isOp(toks[j], ".") && isName(toks[j+1]) {
			j += 2
		}
		ws.Tables = append(ws.Tables, tableOf(toks[i:j]))
		return
	}
	ws.all("REFRESH target not found")
}

// createsTemp reports whether a DDL statement creates a temporary object:
// CREATE [GLOBAL|LOCAL] TEMP|TEMPORARY ..., or an object in pg_temp.
func createsTemp(stmt string) bool {
	toks := Significant(stmt)
	if len(toks) == 0 || kw(toks[0]) != "CREATE" {
		return intoTemp(stmt)
	}
	for i, t := range toks {
		if i > 8 {
			break
		}
		switch kw(t) {
		case "TEMP", "TEMPORARY":
			return true
		}
		if isName(t) && i+1 < len(toks) && isOp(toks[i+1], ".") && strings.EqualFold(t.Value(), "pg_temp") {
			return true
		}
	}
	return intoTemp(stmt)
}

// intoTemp reports SELECT ... INTO TEMP|TEMPORARY t.
func intoTemp(stmt string) bool {
	toks := Significant(stmt)
	for i := 0; i+1 < len(toks); i++ {
		if kw(toks[i]) == "INTO" {
			if k := kw(toks[i+1]); k == "TEMP" || k == "TEMPORARY" {
				return true
			}
		}
	}
	return false
}

// intoUserVariable reports MySQL's SELECT ... INTO @var.
func intoUserVariable(stmt string) bool {
	if !ContainsFold(stmt, "into") || !strings.Contains(stmt, "@") {
		return false
	}
	toks := Significant(stmt)
	for i := 0; i+1 < len(toks); i++ {
		if toks[i].Kind == TokIdent && strings.EqualFold(toks[i].Text, "into") &&
			toks[i+1].Kind == TokOperator && strings.HasPrefix(toks[i+1].Text, "@") {
			return true
		}
	}
	return false
}

// userVariable reports a MySQL SET @var.
func userVariable(stmt string) bool {
	for _, t := range Significant(stmt) {
		if t.Kind == TokOperator && strings.HasPrefix(t.Text, "@") {
			return true
		}
	}
	return false
}

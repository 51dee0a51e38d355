package sqltext

import "strings"

// Kind is the coarse class of a statement. It answers "where may this run
// and what does it touch", not "may its result be cached": see Info.ReadOnly.
type Kind uint8

const (
	// Other is anything not below: CALL, DO, EXECUTE, COPY ... TO, FETCH,
	// VACUUM, LOCK, NOTIFY, PRAGMA, unknown or unparsable text.
	Other Kind = iota
	// Read is SELECT, VALUES, TABLE, a WITH whose parts are all reads, and
	// EXPLAIN (without ANALYZE, or with ANALYZE of a read). These are what
	// PostgreSQL accepts in a READ ONLY transaction as queries.
	Read
	// Write is DML: INSERT (and MySQL/SQLite REPLACE), UPDATE, DELETE, MERGE,
	// TRUNCATE, COPY ... FROM, REFRESH MATERIALIZED VIEW, a SELECT that locks
	// rows (FOR UPDATE/SHARE...) and a WITH with a data-modifying part.
	Write
	// DDL is CREATE/DROP/ALTER, SELECT ... INTO (it creates a table; MySQL's
	// INTO @var and INTO OUTFILE land here too), GRANT/REVOKE, COMMENT,
	// SECURITY LABEL, REASSIGN OWNED, IMPORT FOREIGN SCHEMA.
	DDL
	// Transaction is transaction control; Info.Tx says which.
	Transaction
	// Session is per-connection state the proxy may own: SET, RESET, SHOW,
	// DISCARD, PREPARE, DEALLOCATE, LISTEN, UNLISTEN, MySQL USE. SHOW is
	// here rather than in Read because its answer depends on the session,
	// and the proxy answers it itself (ParseShow).
	Session
)

var kindNames = [...]string{Other: "Other", Read: "Read", Write: "Write", DDL: "DDL", Transaction: "Transaction", Session: "Session"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(?)"
}

// TxOp is the transaction-control operation of a statement.
type TxOp uint8

const (
	// TxNone: the statement is not transaction control.
	TxNone TxOp = iota
	// TxBegin is BEGIN [WORK|TRANSACTION] or START TRANSACTION.
	TxBegin
	// TxCommit is COMMIT or END (a COMMIT of a failed transaction is still
	// TxCommit here; PostgreSQL then answers with the tag ROLLBACK).
	TxCommit
	// TxRollback is ROLLBACK or ABORT.
	TxRollback
	// TxSavepoint is SAVEPOINT name.
	TxSavepoint
	// TxRelease is RELEASE [SAVEPOINT] name.
	TxRelease
	// TxRollbackTo is ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] name.
	TxRollbackTo
	// TxPrepare is PREPARE TRANSACTION 'gid': it ends the session's
	// transaction block without committing it.
	TxPrepare
	// TxCommitPrepared is COMMIT PREPARED 'gid' (not inside a transaction
	// block; it does not end the session's transaction).
	TxCommitPrepared
	// TxRollbackPrepared is ROLLBACK PREPARED 'gid'.
	TxRollbackPrepared
)

var txOpNames = [...]string{
	TxNone: "None", TxBegin: "Begin", TxCommit: "Commit", TxRollback: "Rollback",
	TxSavepoint: "Savepoint", TxRelease: "Release", TxRollbackTo: "RollbackTo",
	TxPrepare: "Prepare", TxCommitPrepared: "CommitPrepared", TxRollbackPrepared: "RollbackPrepared",
}

func (o TxOp) String() string {
	if int(o) < len(txOpNames) {
		return txOpNames[o]
	}
	return "TxOp(?)"
}

// TxInfo describes a transaction-control statement.
type TxInfo struct {
	Op TxOp
	// ReadOnly is set by BEGIN/START TRANSACTION ... READ ONLY.
	ReadOnly bool
	// Isolation is the ISOLATION LEVEL given to BEGIN/START TRANSACTION, as
	// SHOW transaction_isolation spells it ("read committed",
	// "repeatable read", "serializable", "read uncommitted"), or "".
	Isolation string
	// Chain is set by COMMIT/END/ROLLBACK/ABORT ... AND CHAIN.
	Chain bool
	// Savepoint is the name for TxSavepoint, TxRelease and TxRollbackTo,
	// normalised as PostgreSQL does: lower-cased unless quoted, truncated to
	// 63 bytes.
	Savepoint string
	// GID is the transaction identifier of TxPrepare, TxCommitPrepared and
	// TxRollbackPrepared.
	GID string
}

// Info is what Classify learns about one statement.
type Info struct {
	// Command names the statement the way PostgreSQL's command tags do, upper
	// case: "SELECT", "INSERT", "CREATE TABLE", "DROP INDEX", "BEGIN",
	// "DISCARD ALL"... A WITH statement gets its main statement's command;
	// END is "COMMIT" and ABORT "ROLLBACK"; CREATE USER/GROUP is
	// "CREATE ROLE"; VALUES is "VALUES" and TABLE is "TABLE". Unknown
	// statements get their first word upper-cased; "" means the text has no
	// leading word (empty, only comments, or starting with a literal).
	Command string
	// Tag is the word(s) PostgreSQL sends in CommandComplete, before any row
	// count. It differs from Command for VALUES and TABLE ("SELECT"), for
	// CREATE TABLE ... AS and CREATE MATERIALIZED VIEW ... AS ("SELECT", or
	// "CREATE TABLE AS" / "CREATE MATERIALIZED VIEW" WITH NO DATA), and for
	// unknown statements, where it equals Command.
	Tag string
	// Kind is the coarse class.
	Kind Kind
	// ReadOnly is true only when the statement certainly changes nothing:
	// a Read that is not SELECT ... INTO, locks no rows, has no
	// INSERT/UPDATE/DELETE/MERGE anywhere (data-modifying CTEs, EXPLAIN
	// ANALYZE of a write) and has nothing after a semicolon; and SHOW.
	// It is lexical: a SELECT calling a volatile function such as nextval()
	// or pg_advisory_lock() is still ReadOnly. Caching must also consider
	// function volatility and session-dependent values.
	ReadOnly bool
	// Returning is set for INSERT/UPDATE/DELETE/MERGE with a top-level
	// RETURNING clause (not one inside a CTE).
	Returning bool
	// Tx describes transaction-control statements; zero otherwise.
	Tx TxInfo
	// Params is the highest $n referenced anywhere in the statement, 0 if
	// none.
	Params int
}

// cursor walks the non-comment tokens of a statement with cheap lookahead
// (copying a Lexer saves its position).
type cursor struct{ lx Lexer }

func newCursor(s string) cursor { return cursor{lx: Lexer{src: s}} }

func (c *cursor) next() (Token, bool) {
	for {
		t, ok := c.lx.Next()
		if !ok || t.Kind != TokComment {
			return t, ok
		}
	}
}

func (c *cursor) peek() (Token, bool) {
	cp := *c
	return cp.next()
}

func (c *cursor) nextKw() string {
	t, _ := c.next()
	return kw(t)
}

func (c *cursor) peekKw() string {
	t, _ := c.peek()
	return kw(t)
}

// acceptKw consumes the next token if it is the keyword k.
func (c *cursor) acceptKw(k string) bool {
	cp := *c
	if t, ok := cp.next(); ok && kw(t) == k {
		*c = cp
		return true
	}
	return false
}

// acceptOp consumes the next token if it is the operator op.
func (c *cursor) acceptOp(op string) bool {
	cp := *c
	if t, ok := cp.next(); ok && isOp(t, op) {
		*c = cp
		return true
	}
	return false
}

// atEnd reports whether nothing but an optional ";" remains.
func (c *cursor) atEnd() bool {
	cp := *c
	t, ok := cp.next()
	if ok && t.Kind == TokSemicolon {
		t, ok = cp.next()
	}
	return !ok
}

// first returns the statement's first token, skipping comments and the
// opening parentheses of "(SELECT ...) UNION (SELECT ...)".
func (c *cursor) first() (Token, bool) {
	for {
		t, ok := c.next()
		if !ok || !isOp(t, "(") {
			return t, ok
		}
	}
}

// FirstKeyword returns the statement's first word upper-cased, skipping
// comments and leading "(", or "" when it does not start with a word.
func FirstKeyword(stmt string) string {
	c := newCursor(stmt)
	t, ok := c.first()
	if !ok || t.Kind != TokIdent {
		return ""
	}
	if k := kw(t); k != "" {
		return k
	}
	return strings.ToUpper(t.Text)
}

// Classify describes one statement (typically an element of Split's
// result). If the text holds more than one statement, Command describes
// the first and ReadOnly is false. Classify never panics.
func Classify(stmt string) Info {
	info, _ := classify(stmt)
	return info
}

// classify is Classify, also returning what the full pass learnt, for
// Cacheability and Writes.
func classify(stmt string) (Info, scan) {
	sc := scanStmt(stmt)
	c := newCursor(stmt)
	t, ok := c.first()
	info := Info{Params: sc.params}
	if !ok || t.Kind != TokIdent {
		return info, sc
	}
	k := kw(t)
	switch k {
	case "SELECT", "VALUES", "TABLE":
		sc.read(k, &info)
	case "WITH":
		switch sc.withMain {
		case "SELECT", "VALUES", "TABLE":
			sc.read(sc.withMain, &info)
		case "INSERT", "UPDATE", "DELETE", "MERGE":
			sc.write(sc.withMain, &info)
		default:
			info.set("WITH", Other)
		}
	case "INSERT", "UPDATE", "DELETE", "MERGE":
		sc.write(k, &info)
	case "REPLACE": // MySQL/SQLite REPLACE INTO: reported as PostgreSQL's nearest tag
		sc.write("INSERT", &info)
	case "EXPLAIN":
		sc.explainAnalyze = explain(&c, stmt, &info)
	case "CREATE", "DROP", "ALTER":
		ddl(&c, k, &sc, &info)
	case "BEGIN", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE":
		transaction(&c, k, &info)
	case "START":
		if c.peekKw() == "TRANSACTION" {
			transaction(&c, k, &info)
		} else {
			info.set("START", Other) // MySQL START REPLICA and friends
		}
	case "PREPARE":
		// PREPARE TRANSACTION 'gid' is two-phase commit; "transaction" is
		// also a valid prepared-statement name (PREPARE transaction AS ...).
		cp := c
		if cp.acceptKw("TRANSACTION") {
			if g, ok := cp.next(); ok && g.Kind == TokString {
				transaction(&c, k, &info)
				break
			}
		}
		info.set("PREPARE", Session)
	case "SET":
		info.set("SET", Session)
		if c.acceptKw("CONSTRAINTS") && !c.acceptKw("TO") && !c.acceptOp("=") {
			info.set("SET CONSTRAINTS", Session)
		}
	case "SHOW":
		info.set("SHOW", Session)
		info.ReadOnly = !sc.multi
	case "RESET", "LISTEN", "UNLISTEN", "USE":
		info.set(k, Session)
	case "DISCARD":
		switch c.nextKw() {
		case "ALL":
			info.set("DISCARD ALL", Session)
		case "PLANS":
			info.set("DISCARD PLANS", Session)
		case "SEQUENCES":
			info.set("DISCARD SEQUENCES", Session)
		case "TEMP", "TEMPORARY":
			info.set("DISCARD TEMP", Session)
		default:
			info.set("DISCARD", Session)
		}
	case "DEALLOCATE":
		c.acceptKw("PREPARE")
		if c.acceptKw("ALL") {
			info.set("DEALLOCATE ALL", Session)
		} else {
			info.set("DEALLOCATE", Session)
		}
	case "TRUNCATE":
		info.set("TRUNCATE TABLE", Write)
	case "COPY":
		if sc.fromTop {
			info.set("COPY", Write)
		} else {
			info.set("COPY", Other)
		}
	case "REFRESH":
		info.set("REFRESH MATERIALIZED VIEW", Write)
	case "GRANT", "REVOKE":
		if sc.onTop {
			info.set(k, DDL)
		} else if k == "GRANT" {
			info.set("GRANT ROLE", DDL)
		} else {
			info.set("REVOKE ROLE", DDL)
		}
	case "COMMENT":
		info.set("COMMENT", DDL)
	case "SECURITY":
		info.set("SECURITY LABEL", DDL)
	case "REASSIGN":
		info.set("REASSIGN OWNED", DDL)
	case "IMPORT":
		info.set("IMPORT FOREIGN SCHEMA", DDL)
	case "ANALYZE", "ANALYSE":
		info.set("ANALYZE", Other)
	case "DECLARE":
		info.set("DECLARE CURSOR", Other)
	case "CLOSE":
		if c.acceptKw("ALL") {
			info.set("CLOSE CURSOR ALL", Other)
		} else {
			info.set("CLOSE CURSOR", Other)
		}
	case "LOCK":
		info.set("LOCK TABLE", Other)
	case "":
		info.set(strings.ToUpper(t.Text), Other)
	default:
		// CALL, DO, EXECUTE, FETCH, MOVE, NOTIFY, VACUUM, CLUSTER, REINDEX,
		// CHECKPOINT, LOAD, PRAGMA, ATTACH, DETACH, DESCRIBE...
		info.set(k, Other)
	}
	return info, sc
}

func (info *Info) set(command string, kind Kind) {
	info.Command, info.Tag, info.Kind = command, command, kind
}

// read fills info for a SELECT-like main statement.
func (sc *scan) read(command string, info *Info) {
	info.Command, info.Tag = command, "SELECT"
	switch {
	case command == "SELECT" && sc.intoTop:
		info.Kind = DDL // SELECT ... INTO creates a table (tag "SELECT n")
	case sc.modify || sc.lock || sc.into:
		info.Kind = Write
	default:
		info.Kind = Read
		info.ReadOnly = !sc.multi
	}
}

// write fills info for an INSERT/UPDATE/DELETE/MERGE main statement.
func (sc *scan) write(command string, info *Info) {
	info.set(command, Write)
	info.Returning = sc.returningTop
}

// explain classifies EXPLAIN [ANALYZE] [VERBOSE] stmt, EXPLAIN (options)
// stmt, SQLite's EXPLAIN QUERY PLAN stmt and MySQL's EXPLAIN FORMAT=x stmt,
// and reports whether ANALYZE (which runs the statement) is on.
func explain(c *cursor, stmt string, info *Info) (analyze bool) {
	var inner Token
	for {
		t, ok := c.next()
		if !ok {
			info.set("EXPLAIN", Read)
			return analyze
		}
		switch kw(t) {
		case "ANALYZE", "ANALYSE":
			analyze = true
			continue
		case "VERBOSE", "QUERY", "PLAN":
			continue
		case "FORMAT":
			c.acceptOp("=")
			c.next()
			continue
		}
		if isOp(t, "(") {
			analyze = explainOptions(c) || analyze
			continue
		}
		inner = t
		break
	}
	if kw(inner) == "EXPLAIN" {
		// Not valid SQL; refusing to recurse keeps "EXPLAIN EXPLAIN ..."
		// linear instead of quadratic.
		info.set("EXPLAIN", Other)
		return analyze
	}
	in := Classify(stmt[inner.Pos:])
	info.set("EXPLAIN", Read)
	if analyze && in.Kind != Read {
		info.Kind = in.Kind
	}
	// Without ANALYZE nothing runs, but we stay conservative: EXPLAIN of a
	// write is not ReadOnly, so ReadOnly never coexists with a write keyword.
	info.ReadOnly = in.ReadOnly
	return analyze
}

// explainOptions reads "option [value], ..." up to the closing parenthesis
// and reports whether ANALYZE is on.
func explainOptions(c *cursor) bool {
	analyze := false
	depth := 1
	for {
		t, ok := c.next()
		if !ok {
			return analyze
		}
		switch {
		case isOp(t, "("):
			depth++
		case isOp(t, ")"):
			if depth--; depth == 0 {
				return analyze
			}
		}
		if k := kw(t); k == "ANALYZE" || k == "ANALYSE" {
			analyze = true
			if p, ok := c.peek(); ok {
				switch {
				case kw(p) == "FALSE" || kw(p) == "OFF" || p.Kind == TokNumber && p.Text == "0":
					analyze = false
				case p.Kind == TokString && (p.Value() == "false" || p.Value() == "off"):
					analyze = false
				}
			}
		}
	}
}

// objectTags maps an object type to its CREATE, DROP and ALTER tags,
// precomputed so that Classify does not concatenate strings.
var objectTags = func() map[string][3]string {
	objs := []string{
		"ACCESS METHOD", "AGGREGATE", "CAST", "COLLATION", "CONVERSION",
		"DATABASE", "DEFAULT PRIVILEGES", "DOMAIN", "EVENT", "EVENT TRIGGER",
		"EXTENSION", "FOREIGN DATA WRAPPER", "FOREIGN TABLE", "FUNCTION",
		"INDEX", "LANGUAGE", "LARGE OBJECT", "MATERIALIZED VIEW", "OPERATOR",
		"OPERATOR CLASS", "OPERATOR FAMILY", "OWNED", "POLICY", "PROCEDURE",
		"PUBLICATION", "ROLE", "ROUTINE", "RULE", "SCHEMA", "SEQUENCE",
		"SERVER", "STATISTICS", "SUBSCRIPTION", "SYSTEM", "TABLE",
		"TABLESPACE", "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY",
		"TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE", "TRANSFORM", "TRIGGER",
		"TYPE", "USER MAPPING", "VIEW",
	}
	m := make(map[string][3]string, len(objs))
	for _, o := range objs {
		m[o] = [3]string{"CREATE " + o, "DROP " + o, "ALTER " + o}
	}
	return m
}()

// objectType reads the object type that starts with word k (already
// consumed), consuming the rest of a multi-word type. "" means k does not
// start an object type.
func objectType(c *cursor, k string) string {
	switch k {
	case "ACCESS":
		if c.acceptKw("METHOD") {
			return "ACCESS METHOD"
		}
	case "EVENT":
		if c.acceptKw("TRIGGER") {
			return "EVENT TRIGGER"
		}
		return "EVENT"
	case "FOREIGN":
		if c.acceptKw("TABLE") {
			return "FOREIGN TABLE"
		}
		if c.acceptKw("DATA") && c.acceptKw("WRAPPER") {
			return "FOREIGN DATA WRAPPER"
		}
	case "MATERIALIZED":
		if c.acceptKw("VIEW") {
			return "MATERIALIZED VIEW"
		}
	case "OPERATOR":
		if c.acceptKw("CLASS") {
			return "OPERATOR CLASS"
		}
		if c.acceptKw("FAMILY") {
			return "OPERATOR FAMILY"
		}
		return "OPERATOR"
	case "TEXT":
		if c.acceptKw("SEARCH") {
			switch c.nextKw() {
			case "CONFIGURATION":
				return "TEXT SEARCH CONFIGURATION"
			case "DICTIONARY":
				return "TEXT SEARCH DICTIONARY"
			case "PARSER":
				return "TEXT SEARCH PARSER"
			case "TEMPLATE":
				return "TEXT SEARCH TEMPLATE"
			}
		}
	case "USER":
		if c.acceptKw("MAPPING") {
			return "USER MAPPING"
		}
		return "ROLE" // CREATE/DROP/ALTER USER are role statements to PostgreSQL
	case "GROUP":
		return "ROLE"
	case "DEFAULT":
		if c.acceptKw("PRIVILEGES") {
			return "DEFAULT PRIVILEGES"
		}
	case "LARGE":
		if c.acceptKw("OBJECT") {
			return "LARGE OBJECT"
		}
	case "AGGREGATE":
		if c.acceptKw("FUNCTION") { // MySQL CREATE AGGREGATE FUNCTION (a UDF)
			return "FUNCTION"
		}
		return k
	case "CAST", "COLLATION", "CONVERSION", "DATABASE", "DOMAIN", "EXTENSION",
		"FUNCTION", "INDEX", "LANGUAGE", "OWNED", "POLICY", "PROCEDURE",
		"PUBLICATION", "ROLE", "ROUTINE", "RULE", "SCHEMA", "SEQUENCE",
		"SERVER", "STATISTICS", "SUBSCRIPTION", "SYSTEM", "TABLE",
		"TABLESPACE", "TRANSFORM", "TRIGGER", "TYPE", "VIEW":
		return k
	}
	return ""
}

// ddl classifies CREATE/DROP/ALTER: the verb plus the object type, past
// modifiers such as OR REPLACE, TEMP, UNLOGGED, UNIQUE, CONSTRAINT, SQLite's
// VIRTUAL and MySQL's DEFINER=..., ALGORITHM=..., SQL SECURITY ....
func ddl(c *cursor, verb string, sc *scan, info *Info) {
	info.set(verb, DDL)
	verbIdx := 0
	switch verb {
	case "DROP":
		verbIdx = 1
	case "ALTER":
		verbIdx = 2
	}
	var prev Token
	for i := 0; i < 24; i++ {
		t, ok := c.next()
		if !ok || t.Kind == TokSemicolon {
			return
		}
		k := kw(t)
		if obj := objectType(c, k); obj != "" {
			info.Command = objectTags[obj][verbIdx]
			info.Tag = info.Command
			if verb == "CREATE" {
				switch {
				case obj == "TABLE" && (sc.asTop || sc.selectTop):
					info.Tag = "SELECT" // CREATE TABLE AS reports "SELECT n"
					if sc.noData {
						info.Tag = "CREATE TABLE AS"
					}
				case obj == "MATERIALIZED VIEW" && !sc.noData:
					info.Tag = "SELECT"
				}
			}
			return
		}
		switch k {
		case "OR", "REPLACE", "TEMP", "TEMPORARY", "LOCAL", "GLOBAL",
			"UNLOGGED", "UNIQUE", "CONSTRAINT", "DEFAULT", "TRUSTED",
			"PROCEDURAL", "RECURSIVE", "FULLTEXT", "SPATIAL", "VIRTUAL",
			"DEFINER", "CURRENT_USER", "ALGORITHM", "SQL", "SECURITY",
			"INVOKER", "ONLINE", "OFFLINE", "IGNORE":
			prev = t
			continue
		}
		if t.Kind == TokIdent && !isOp(prev, "=") && !isOp(prev, "@") {
			return // an unknown object type: the verb alone
		}
		prev = t
	}
}

// transaction classifies transaction control. k is the first keyword,
// already consumed.
func transaction(c *cursor, k string, info *Info) {
	info.Kind = Transaction
	tx := &info.Tx
	switch k {
	case "BEGIN", "START":
		info.Command = "BEGIN"
		if k == "START" {
			c.acceptKw("TRANSACTION")
			info.Command = "START TRANSACTION"
		}
		tx.Op = TxBegin
		txModes(c, tx)
	case "COMMIT", "END":
		info.Command = "COMMIT"
		tx.Op = TxCommit
		if k == "COMMIT" && c.acceptKw("PREPARED") {
			info.Command = "COMMIT PREPARED"
			tx.Op = TxCommitPrepared
			tx.GID = nextValue(c)
			break
		}
		tx.Chain = chain(c)
	case "ROLLBACK", "ABORT":
		info.Command = "ROLLBACK"
		tx.Op = TxRollback
		if k == "ROLLBACK" && c.acceptKw("PREPARED") {
			info.Command = "ROLLBACK PREPARED"
			tx.Op = TxRollbackPrepared
			tx.GID = nextValue(c)
			break
		}
		if k == "ROLLBACK" {
			if !c.acceptKw("WORK") {
				c.acceptKw("TRANSACTION")
			}
			if c.acceptKw("TO") {
				tx.Op = TxRollbackTo
				tx.Savepoint = savepointName(c)
				break
			}
		}
		tx.Chain = chain(c)
	case "SAVEPOINT":
		info.Command = "SAVEPOINT"
		tx.Op = TxSavepoint
		tx.Savepoint = nextValue(c)
	case "RELEASE":
		info.Command = "RELEASE"
		tx.Op = TxRelease
		tx.Savepoint = savepointName(c)
	case "PREPARE":
		c.acceptKw("TRANSACTION")
		info.Command = "PREPARE TRANSACTION"
		tx.Op = TxPrepare
		tx.GID = nextValue(c)
	}
	info.Tag = info.Command
}

// savepointName reads "[SAVEPOINT] name". "RELEASE savepoint" alone names a
// savepoint called savepoint.
func savepointName(c *cursor) string {
	cp := *c
	if c.acceptKw("SAVEPOINT") {
		if t, ok := c.peek(); !ok || t.Kind == TokSemicolon {
			*c = cp
		}
	}
	return nextValue(c)
}

func nextValue(c *cursor) string {
	t, ok := c.next()
	if !ok || t.Kind == TokSemicolon {
		return ""
	}
	return t.Value()
}

// chain reads "[WORK|TRANSACTION] [AND [NO] CHAIN]".
func chain(c *cursor) bool {
	if !c.acceptKw("WORK") {
		c.acceptKw("TRANSACTION")
	}
	return c.acceptKw("AND") && !c.acceptKw("NO") && c.acceptKw("CHAIN")
}

// txModes reads BEGIN/START TRANSACTION modes: ISOLATION LEVEL ...,
// READ ONLY, READ WRITE, [NOT] DEFERRABLE, separated by optional commas;
// it also skips WORK/TRANSACTION and SQLite's DEFERRED/IMMEDIATE/EXCLUSIVE.
func txModes(c *cursor, tx *TxInfo) {
	for {
		t, ok := c.next()
		if !ok || t.Kind == TokSemicolon {
			return
		}
		switch kw(t) {
		case "ISOLATION":
			if !c.acceptKw("LEVEL") {
				continue
			}
			switch c.nextKw() {
			case "SERIALIZABLE":
				tx.Isolation = "serializable"
			case "REPEATABLE":
				c.acceptKw("READ")
				tx.Isolation = "repeatable read"
			case "READ":
				switch c.nextKw() {
				case "COMMITTED":
					tx.Isolation = "read committed"
				case "UNCOMMITTED":
					tx.Isolation = "read uncommitted"
				}
			}
		case "READ":
			switch c.peekKw() {
			case "ONLY":
				c.next()
				tx.ReadOnly = true
			case "WRITE":
				c.next()
				tx.ReadOnly = false
			}
		}
	}
}

// scan holds what one pass over every token of a statement learns.
type scan struct {
	params       int
	modify       bool   // an INSERT/UPDATE/DELETE/MERGE word anywhere (not after ".")
	lock         bool   // FOR [NO KEY] UPDATE, FOR [KEY] SHARE, LOCK IN SHARE MODE
	into         bool   // INTO anywhere
	intoTop      bool   // INTO at the top level
	returningTop bool   // RETURNING at the top level
	onTop        bool   // ON at the top level (GRANT ... ON ... vs GRANT role)
	fromTop      bool   // FROM at the top level (COPY ... FROM)
	asTop        bool   // AS at the top level (CREATE TABLE ... AS)
	selectTop    bool   // SELECT at the top level after the first word (MySQL CTAS)
	noData       bool   // WITH NO DATA at the top level
	multi        bool   // a token follows a semicolon
	withMain     string // for WITH: the main statement's keyword
	// explainAnalyze is set by Classify (not scanStmt) for EXPLAIN ANALYZE.
	explainAnalyze bool
}

// scanStmt makes the single full pass Classify needs. "Top level" is the
// parenthesis depth of the first word, so that "(SELECT ... INTO t)" counts.
func scanStmt(stmt string) scan {
	var sc scan
	l := Lexer{src: stmt}
	depth, lead := 0, 0
	leading := true
	n := 0
	var prev, prev2 string // keywords of the two previous tokens
	var prevTok Token
	semicolon := false
	first := ""
	for {
		t, ok := l.Next()
		if !ok {
			break
		}
		if t.Kind == TokComment {
			continue
		}
		if semicolon {
			sc.multi = true
		}
		switch t.Kind {
		case TokSemicolon:
			semicolon = true
		case TokParam:
			if v := paramNumber(t.Text); v > sc.params {
				sc.params = v
			}
		case TokOperator:
			if t.Text == "(" {
				depth++
				if leading {
					lead++
				}
			} else if t.Text == ")" && depth > 0 {
				depth--
			}
		}
		if leading && !isOp(t, "(") {
			leading = false
		}
		top := depth <= lead
		k := kw(t)
		n++
		if n == lead+1 {
			first = k
		}
		switch k {
		case "INSERT", "UPDATE", "DELETE", "MERGE":
			if !isOp(prevTok, ".") {
				sc.modify = true
			}
			if k == "UPDATE" && (prev == "FOR" || prev == "KEY") {
				sc.lock = true
			}
			if top && sc.withMain == "" && first == "WITH" && prev != "WITH" && prev != "RECURSIVE" && !isOp(prevTok, ",") {
				sc.withMain = k
			}
		case "SELECT", "VALUES", "TABLE":
			if top && n > lead+1 {
				if k == "SELECT" {
					sc.selectTop = true
				}
				if sc.withMain == "" && first == "WITH" && prev != "WITH" && prev != "RECURSIVE" && !isOp(prevTok, ",") {
					sc.withMain = k
				}
			}
		case "SHARE":
			if prev == "FOR" || prev == "KEY" || prev == "IN" {
				sc.lock = true
			}
		case "INTO":
			sc.into = true
			sc.intoTop = sc.intoTop || top
		case "RETURNING":
			sc.returningTop = sc.returningTop || top
		case "ON":
			sc.onTop = sc.onTop || top
		case "FROM":
			sc.fromTop = sc.fromTop || top
		case "AS":
			sc.asTop = sc.asTop || top
		case "DATA":
			if top && prev == "NO" && prev2 == "WITH" {
				sc.noData = true
			}
		}
		prev2, prev, prevTok = prev, k, t
	}
	return sc
}

// paramNumber parses the digits of a $n token, saturating at 1<<31-1:
// PostgreSQL's parameter numbers are int32, so anything larger is an error
// for the server and must not overflow here.
func paramNumber(text string) int {
	const limit = 1<<31 - 1
	v := 0
	for i := 1; i < len(text); i++ {
		v = v*10 + int(text[i]-'0')
		if v > limit {
			return limit
		}
	}
	return v
}

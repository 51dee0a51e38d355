package sqltext

// keywordList holds every upper-case word the classifier compares against.
// Lookups go through kw, which maps any spelling to the interned constant
// with one map probe and no allocation; a word missing here would silently
// never match, so TestKeywordLiteralsKnown checks the source for strays.
var keywordList = [...]string{
	"ABORT", "ACCESS", "AGAINST", "AGGREGATE", "ALGORITHM", "ALL", "ALTER",
	"ANALYSE", "ANALYZE", "AND", "ANY", "ARRAY", "AS", "ATTACH",
	"AUTHORIZATION", "BEGIN", "BERNOULLI", "BETWEEN", "BY", "CALL", "CASCADE",
	"CASE", "CAST", "CHAIN", "CHARACTERISTICS", "CHECK", "CHECKPOINT",
	"CLASS", "CLOSE", "CLUSTER", "COLLATION", "COMMENT", "COMMIT",
	"COMMITTED", "CONCURRENTLY", "CONFIGURATION", "CONFLICT", "CONSTRAINT",
	"CONSTRAINTS", "CONTENT", "CONTINUE", "CONVERSION", "COPY", "CREATE",
	"CROSS", "CUBE", "CURRENT_USER", "CURSOR", "CYCLE", "DATA", "DATABASE",
	"DEALLOCATE", "DECLARE", "DEFAULT", "DEFERRABLE", "DEFERRED", "DEFINER",
	"DELAYED", "DELETE", "DESC", "DESCRIBE", "DETACH", "DICTIONARY",
	"DISCARD", "DISTINCT", "DO", "DOCUMENT", "DOMAIN", "DROP", "ELSE", "END",
	"ESCAPE", "EVENT", "EXCEPT", "EXCLUDE", "EXCLUSIVE", "EXECUTE", "EXISTS",
	"EXPLAIN", "EXTENSION", "FALSE", "FAMILY", "FETCH", "FILTER", "FOR",
	"FORCE", "FOREIGN", "FORMAT", "FROM", "FULL", "FULLTEXT", "FUNCTION",
	"GLOBAL", "GRANT", "GROUP", "HAVING", "HIGH_PRIORITY", "IF", "IGNORE",
	"ILIKE", "IMMEDIATE", "IMPORT", "IN", "INCLUDE", "INDEX", "INDEXED",
	"INNER", "INSERT", "INTERSECT", "INTERVAL", "INTO", "INVOKER", "IS",
	"ISOLATION", "JOIN", "KEY", "LABEL", "LANGUAGE", "LARGE", "LATERAL",
	"LEFT", "LEVEL", "LIKE", "LIMIT", "LISTEN", "LOAD", "LOCAL", "LOCK",
	"LOOP", "LOW_PRIORITY", "MAPPING", "MATERIALIZED", "MERGE", "METHOD",
	"MOVE", "NAMES", "NATURAL", "NO", "NONE", "NOT", "NOTIFY", "OBJECT", "OF",
	"OFF", "OFFLINE", "OFFSET", "ON", "ONLINE", "ONLY", "OPERATOR", "OPTION",
	"OR", "ORDER", "ORDINALITY", "OUTER", "OVER", "OVERLAPS", "OVERRIDING",
	"OWNED", "PARSER", "PARTITION", "PLAN", "PLANS", "POLICY", "PRAGMA",
	"PREPARE", "PREPARED", "PRIMARY", "PRIVILEGES", "PROCEDURAL", "PROCEDURE",
	"PUBLICATION", "QUERY", "QUICK", "READ", "REASSIGN", "RECURSIVE",
	"REFERENCES", "REFRESH", "REINDEX", "RELEASE", "REPEAT", "REPEATABLE",
	"REPLACE", "RESET", "RESTART", "RESTRICT", "RETURNING", "RETURNS",
	"REVOKE", "RIGHT", "ROLE", "ROLLBACK", "ROLLUP", "ROUTINE", "ROW", "ROWS",
	"RULE", "SAVEPOINT", "SCHEMA", "SEARCH", "SECURITY", "SELECT", "SEQUENCE",
	"SEQUENCES", "SERIALIZABLE", "SERVER", "SESSION", "SET", "SETS", "SHARE",
	"SHOW", "SIMILAR", "SOME", "SPATIAL", "SQL", "START", "STATISTICS",
	"STRAIGHT_JOIN", "SUBSCRIPTION", "SYSTEM", "TABLE", "TABLESAMPLE",
	"TABLESPACE", "TEMP", "TEMPLATE", "TEMPORARY", "TEXT", "THEN", "TIME",
	"TO", "TRANSACTION", "TRANSFORM", "TRIGGER", "TRUE", "TRUNCATE",
	"TRUSTED", "TYPE", "UNCOMMITTED", "UNION", "UNIQUE", "UNLISTEN",
	"UNLOGGED", "UPDATE", "USE", "USER", "USING", "VACUUM", "VALUES",
	"VERBOSE", "VIEW", "VIRTUAL", "WHEN", "WHERE", "WHILE", "WINDOW", "WITH",
	"WITHIN", "WORK", "WRAPPER", "WRITE", "XML", "ZONE",
}

// keywords is the set of keywordList, for tests and tools.
var keywords = func() map[string]string {
	m := make(map[string]string, len(keywordList))
	for _, k := range keywordList {
		m[k] = k
	}
	return m
}()

// maxKeywordLen bounds the stack buffer kw upper-cases into.
const maxKeywordLen = 16

// kwTable is an open-addressing hash table of keywordList, probed by kw.
// It replaces a map because kw runs on every word of every query and the
// map probe was half of Classify's time.
var kwTable = func() (t [kwTableSize]string) {
	for _, k := range keywordList {
		if len(k) > maxKeywordLen {
			panic("sqltext: keyword longer than maxKeywordLen: " + k)
		}
		i := kwHash([]byte(k)) & (kwTableSize - 1)
		for t[i] != "" {
			i = (i + 1) & (kwTableSize - 1)
		}
		t[i] = k
	}
	return t
}()

const kwTableSize = 1024 // a power of two, several times len(keywordList)

func kwHash(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

// kw returns the interned upper-case keyword an unquoted word spells, or ""
// when t is not a TokIdent or not a word the classifier knows.
func kw(t Token) string {
	s := t.Text
	if t.Kind != TokIdent || len(s) < 2 || len(s) > maxKeywordLen {
		return ""
	}
	var buf [maxKeywordLen]byte
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z' || c == '_':
		default:
			return "" // digits, "$" and non-ASCII bytes never occur in keywords
		}
		buf[i] = c
		h = (h ^ uint32(c)) * 16777619
	}
	for i := h & (kwTableSize - 1); kwTable[i] != ""; i = (i + 1) & (kwTableSize - 1) {
		if kwTable[i] == string(buf[:len(s)]) { // compared in place, no allocation
			return kwTable[i]
		}
	}
	return ""
}

// nonUnreservedKeywords are PostgreSQL's reserved, column-name and
// type/function-name keywords (src/include/parser/kwlist.h, PostgreSQL 17):
// quote_identifier quotes these, and only these, of all keywords.
var nonUnreservedKeywords = func() map[string]bool {
	words := []string{
		"all", "analyse", "analyze", "and", "any", "array", "as", "asc",
		"asymmetric", "authorization", "between", "bigint", "binary", "bit",
		"boolean", "both", "case", "cast", "char", "character", "check",
		"coalesce", "collate", "collation", "column", "concurrently",
		"constraint", "create", "cross", "current_catalog", "current_date",
		"current_role", "current_schema", "current_time", "current_timestamp",
		"current_user", "dec", "decimal", "default", "deferrable", "desc",
		"distinct", "do", "else", "end", "except", "exists", "extract",
		"false", "fetch", "float", "for", "foreign", "freeze", "from", "full",
		"grant", "greatest", "group", "grouping", "having", "ilike", "in",
		"initially", "inner", "inout", "int", "integer", "intersect",
		"interval", "into", "is", "isnull", "join", "json", "json_array",
		"json_arrayagg", "json_exists", "json_object", "json_objectagg",
		"json_query", "json_scalar", "json_serialize", "json_table",
		"json_value", "lateral", "leading", "least", "left", "like", "limit",
		"localtime", "localtimestamp", "merge_action", "national", "natural",
		"nchar", "none", "normalize", "not", "notnull", "null", "nullif",
		"numeric", "offset", "on", "only", "or", "order", "out", "outer",
		"overlaps", "overlay", "placing", "position", "precision", "primary",
		"real", "references", "returning", "right", "row", "select",
		"session_user", "setof", "similar", "smallint", "some", "substring",
		"symmetric", "system_user", "table", "tablesample", "then", "time",
		"timestamp", "to", "trailing", "treat", "trim", "true", "union",
		"unique", "user", "using", "values", "varchar", "variadic", "verbose",
		"when", "where", "window", "with", "xmlattributes", "xmlconcat",
		"xmlelement", "xmlexists", "xmlforest", "xmlnamespaces", "xmlparse",
		"xmlpi", "xmlroot", "xmlserialize", "xmltable",
	}
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}()

// quoteIdent is PostgreSQL's quote_identifier: s unchanged when it is a
// plain lower-case identifier that is not a non-unreserved keyword,
// otherwise double-quoted with inner quotes doubled.
func quoteIdent(s string) string {
	safe := s != "" && (s[0] >= 'a' && s[0] <= 'z' || s[0] == '_')
	for i := 0; safe && i < len(s); i++ {
		c := s[i]
		safe = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
	}
	if safe && !nonUnreservedKeywords[s] {
		return s
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return string(append(b, '"'))
}

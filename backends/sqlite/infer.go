package sqlite

import (
	"strings"

	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// SQLite gives a result column a declared type only when it is a plain
// column reference; an expression's type exists only in the values it
// produces. Drivers that prepare a statement decode its rows by the types
// its description announced, before any row exists (pgx's statement cache
// does), so the dialect infers expression types from the statement text:
// aggregates and most scalar functions take their argument's type,
// arithmetic widens INTEGER to REAL, comparisons are BOOLEAN, CAST names its
// type, and column references are resolved by SQLite itself, by describing
// "SELECT col FROM <the statement's FROM clause>". What cannot be told
// stays "" and the bridge falls back on sample values.

// describer describes a statement without running it (ColumnInfo).
type describer func(query string) ([]string, error)

// inferTypes fills the empty types of cols, the result columns of query.
func inferTypes(query string, cols []string, describe describer) {
	missing := false
	for _, c := range cols {
		missing = missing || c == ""
	}
	if !missing {
		return
	}
	sel := parseSelect(query)
	if sel == nil || len(sel.items) != len(cols) {
		return // SELECT * or a shape we do not follow: leave it to sampling
	}
	in := &inferrer{sel: sel, describe: describe, refs: map[string]string{}}
	for i := range cols {
		if cols[i] == "" {
			cols[i] = in.typeOf(sel.items[i])
		}
	}
}

// selectParts are the pieces of the main SELECT of a statement.
type selectParts struct {
	src    string
	prefix string            // a leading WITH clause, kept for column probes
	from   string            // FROM ... up to GROUP/ORDER/LIMIT/compound, or ""
	items  [][]sqltext.Token // the select list, one token list per item, aliases removed
}

var listEnd = map[string]bool{
	"FROM": true, "WHERE": true, "GROUP": true, "HAVING": true, "ORDER": true, "LIMIT": true,
	"UNION": true, "INTERSECT": true, "EXCEPT": true, "WINDOW": true, "OFFSET": true,
}

var fromEnd = map[string]bool{
	"GROUP": true, "HAVING": true, "ORDER": true, "LIMIT": true, "UNION": true,
	"INTERSECT": true, "EXCEPT": true, "WINDOW": true, "OFFSET": true,
}

func upper(t sqltext.Token) string {
	if t.Kind != sqltext.TokIdent {
		return ""
	}
	return strings.ToUpper(t.Text)
}

// parseSelect finds the main SELECT's list and FROM clause at paren depth 0.
func parseSelect(src string) *selectParts {
	toks := sqltext.Significant(src)
	depth, start := 0, -1
	for i, t := range toks {
		switch {
		case t.Text == "(":
			depth++
		case t.Text == ")":
			depth--
		case depth == 0 && upper(t) == "SELECT":
			start = i
		}
		if start >= 0 {
			break
		}
	}
	if start < 0 {
		return nil
	}
	sp := &selectParts{src: src, prefix: src[:toks[start].Pos]}
	i := start + 1
	if i < len(toks) && (upper(toks[i]) == "DISTINCT" || upper(toks[i]) == "ALL") {
		i++
	}
	var item []sqltext.Token
	depth = 0
	for ; i < len(toks); i++ {
		t := toks[i]
		if depth == 0 && (listEnd[upper(t)] || t.Kind == sqltext.TokSemicolon) {
			break
		}
		switch t.Text {
		case "(":
			depth++
		case ")":
			depth--
		case ",":
			if depth == 0 {
				sp.items = append(sp.items, stripAlias(item))
				item = nil
				continue
			}
		}
		item = append(item, t)
	}
	if len(item) > 0 {
		sp.items = append(sp.items, stripAlias(item))
	}
	if i < len(toks) && upper(toks[i]) == "FROM" {
		begin, end := toks[i].Pos, len(src)
		depth = 0
		for j := i; j < len(toks); j++ {
			t := toks[j]
			switch t.Text {
			case "(":
				depth++
			case ")":
				depth--
			}
			if depth == 0 && (fromEnd[upper(t)] || t.Kind == sqltext.TokSemicolon) {
				end = t.Pos
				break
			}
		}
		sp.from = src[begin:end]
	}
	return sp
}

// stripAlias removes "AS name" or a trailing bare alias from a select item.
func stripAlias(item []sqltext.Token) []sqltext.Token {
	n := len(item)
	if n >= 2 && upper(item[n-2]) == "AS" {
		return item[:n-2]
	}
	if n >= 2 && (item[n-1].Kind == sqltext.TokIdent || item[n-1].Kind == sqltext.TokQuotedIdent) {
		prev := item[n-2]
		if prev.Text == ")" || prev.Kind == sqltext.TokIdent || prev.Kind == sqltext.TokQuotedIdent ||
			prev.Kind == sqltext.TokNumber || prev.Kind == sqltext.TokString {
			if upper(item[n-1]) != "END" && !(prev.Text == "." || upper(prev) == "CASE") {
				return item[:n-1]
			}
		}
	}
	return item
}

type inferrer struct {
	sel      *selectParts
	describe describer
	refs     map[string]string
}

var (
	funcInt = set("count", "length", "octet_length", "instr", "unicode", "random", "changes",
		"total_changes", "last_insert_rowid", "sign", "row_number", "rank", "dense_rank", "ntile")
	funcReal = set("avg", "total", "round", "percent_rank", "cume_dist", "pi", "sqrt", "pow", "power",
		"exp", "ln", "log", "log2", "log10", "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
		"sinh", "cosh", "tanh", "degrees", "radians", "julianday", "ceil", "ceiling", "floor", "trunc", "mod")
	funcText = set("lower", "upper", "trim", "ltrim", "rtrim", "substr", "substring", "replace",
		"printf", "format", "quote", "hex", "typeof", "group_concat", "string_agg", "char", "date",
		"time", "datetime", "strftime", "sqlite_version", "soundex", "concat", "concat_ws", "json",
		"json_array", "json_object", "json_type", "json_quote", "timediff")
	funcBlob   = set("unhex", "randomblob", "zeroblob", "jsonb")
	funcFirst  = set("sum", "min", "max", "abs", "coalesce", "ifnull", "nullif", "likely", "unlikely", "first_value", "last_value", "lag", "lead", "nth_value")
	comparison = set("=", "==", "<>", "!=", "<", ">", "<=", ">=")
	logical    = set("AND", "OR", "NOT", "IS", "IN", "LIKE", "GLOB", "REGEXP", "MATCH", "BETWEEN", "EXISTS", "ISNULL", "NOTNULL")
	arithmetic = set("+", "-", "*", "/", "%", "&", "|", "<<", ">>", "~")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// nesting is how a token changes the nesting level: parentheses and
// CASE ... END both enclose operators that are not the expression's own.
func nesting(t sqltext.Token) int {
	switch {
	case t.Text == "(" || upper(t) == "CASE":
		return 1
	case t.Text == ")" || upper(t) == "END":
		return -1
	}
	return 0
}

// typeOf returns a declared-type name for an expression, or "".
func (in *inferrer) typeOf(toks []sqltext.Token) string {
	if len(toks) == 0 {
		return ""
	}
	// Top-level operators decide first, loosest binding first.
	depth := 0
	hasConcat, hasArith := false, false
	for _, t := range toks {
		if d := nesting(t); d != 0 {
			depth += d
			continue
		}
		if depth != 0 {
			continue
		}
		if t.Kind == sqltext.TokOperator && comparison[t.Text] || logical[upper(t)] {
			return "BOOLEAN"
		}
		if t.Kind == sqltext.TokOperator && t.Text == "||" {
			hasConcat = true
		}
		if t.Kind == sqltext.TokOperator && arithmetic[t.Text] {
			hasArith = true
		}
	}
	if hasConcat {
		return "TEXT"
	}
	if hasArith {
		return in.arithmetic(toks)
	}
	return in.operand(toks)
}

// arithmetic types a sum/product of operands: INTEGER unless one of them is
// REAL (or NUMERIC); unknown if any operand is.
func (in *inferrer) arithmetic(toks []sqltext.Token) string {
	result := "INTEGER"
	depth, start := 0, 0
	flush := func(part []sqltext.Token) bool {
		if len(part) == 0 {
			return true // unary sign
		}
		switch t := in.typeOf(part); affinity(t) {
		case "INTEGER":
		case "REAL":
			if result != "NUMERIC" {
				result = "REAL"
			}
		case "NUMERIC":
			result = "NUMERIC"
		default:
			return false
		}
		return true
	}
	for i, t := range toks {
		depth += nesting(t)
		if depth == 0 && t.Kind == sqltext.TokOperator && arithmetic[t.Text] {
			if !flush(toks[start:i]) {
				return ""
			}
			start = i + 1
		}
	}
	if !flush(toks[start:]) {
		return ""
	}
	return result
}

// affinity reduces a declared type to the class arithmetic cares about.
func affinity(decl string) string {
	switch oid := (Dialect{}).TypeOID(decl); {
	case decl == "":
		return ""
	case oid == int8OID || oid == boolOID:
		return "INTEGER"
	case oid == float8OID:
		return "REAL"
	case oid == numericOID:
		return "NUMERIC"
	}
	return "TEXT"
}

func (in *inferrer) operand(toks []sqltext.Token) string {
	t := toks[0]
	switch {
	case (t.Text == "-" || t.Text == "+") && len(toks) > 1:
		return in.operand(toks[1:])
	case len(toks) == 1 && t.Kind == sqltext.TokNumber:
		if strings.ContainsAny(t.Text, ".eE") && !strings.HasPrefix(strings.ToLower(t.Text), "0x") {
			return "REAL"
		}
		return "INTEGER"
	case len(toks) == 1 && t.Kind == sqltext.TokString:
		if t.Text[0] == 'x' || t.Text[0] == 'X' {
			return "BLOB"
		}
		return "TEXT"
	case t.Text == "(":
		inner := toks[1:]
		if n := len(inner); n > 0 && inner[n-1].Text == ")" {
			inner = inner[:n-1]
		}
		if len(inner) > 0 && upper(inner[0]) == "SELECT" {
			return "" // scalar subquery
		}
		return in.typeOf(inner)
	}
	switch upper(t) {
	case "NULL":
		return ""
	case "TRUE", "FALSE":
		return "BOOLEAN"
	case "CURRENT_TIMESTAMP":
		return "TIMESTAMP"
	case "CURRENT_DATE":
		return "DATE"
	case "CURRENT_TIME":
		return "TEXT"
	case "CAST":
		return castType(toks)
	case "CASE":
		return in.caseType(toks)
	}
	if t.Kind == sqltext.TokIdent && len(toks) >= 3 && toks[1].Text == "(" {
		return in.call(strings.ToLower(t.Text), toks[2:])
	}
	if t.Kind == sqltext.TokIdent || t.Kind == sqltext.TokQuotedIdent {
		return in.columnRef(toks)
	}
	return ""
}

// call types a function call; args are the tokens after "(", with the
// closing parenthesis (and possibly FILTER/OVER clauses) at the end.
func (in *inferrer) call(name string, args []sqltext.Token) string {
	switch {
	case funcInt[name]:
		return "INTEGER"
	case funcReal[name]:
		return "REAL"
	case funcText[name]:
		return "TEXT"
	case funcBlob[name]:
		return "BLOB"
	case funcFirst[name]:
		return in.typeOf(argument(args, 0))
	case name == "iif":
		return in.typeOf(argument(args, 1))
	}
	return ""
}

// argument returns the n-th argument of a call whose argument tokens start
// after the opening parenthesis.
func argument(args []sqltext.Token, n int) []sqltext.Token {
	depth, start, idx := 0, 0, 0
	if len(args) > 0 && upper(args[0]) == "DISTINCT" {
		start = 1
	}
	for i, t := range args {
		switch t.Text {
		case "(":
			depth++
		case ")":
			if depth == 0 {
				if idx == n {
					return args[start:i]
				}
				return nil
			}
			depth--
		case ",":
			if depth == 0 {
				if idx == n {
					return args[start:i]
				}
				idx++
				start = i + 1
			}
		}
	}
	return nil
}

// castType reads CAST(expr AS type name).
func castType(toks []sqltext.Token) string {
	depth := 0
	for i, t := range toks {
		switch t.Text {
		case "(":
			depth++
		case ")":
			depth--
		}
		if depth == 1 && upper(t) == "AS" {
			var words []string
			for _, w := range toks[i+1:] {
				if w.Text == ")" || w.Text == "(" {
					break
				}
				words = append(words, w.Text)
			}
			return strings.ToUpper(strings.Join(words, " "))
		}
	}
	return ""
}

// caseType types CASE ... THEN a ... ELSE b END by its first branch that
// has a type.
func (in *inferrer) caseType(toks []sqltext.Token) string {
	depth := 0
	var branch []sqltext.Token
	collecting := false
	for _, t := range toks[1:] {
		switch t.Text {
		case "(":
			depth++
		case ")":
			depth--
		}
		w := upper(t)
		if depth == 0 && (w == "WHEN" || w == "ELSE" || w == "END" || w == "THEN") {
			if collecting {
				if typ := in.typeOf(branch); typ != "" {
					return typ
				}
			}
			collecting, branch = w == "THEN" || w == "ELSE", nil
			continue
		}
		if collecting {
			branch = append(branch, t)
		}
	}
	return ""
}

// columnRef asks SQLite for the declared type of a column reference
// (name, table.name or schema.table.name) in the statement's FROM clause.
func (in *inferrer) columnRef(toks []sqltext.Token) string {
	for i, t := range toks {
		if i%2 == 1 && t.Text != "." || i%2 == 0 && t.Kind != sqltext.TokIdent && t.Kind != sqltext.TokQuotedIdent {
			return ""
		}
	}
	if in.sel.from == "" {
		return ""
	}
	ref := in.sel.src[toks[0].Pos:toks[len(toks)-1].End()]
	if typ, ok := in.refs[ref]; ok {
		return typ
	}
	typ := ""
	if types, err := in.describe(in.sel.prefix + "SELECT " + ref + " " + in.sel.from); err == nil && len(types) == 1 {
		typ = types[0]
	}
	in.refs[ref] = typ
	return typ
}

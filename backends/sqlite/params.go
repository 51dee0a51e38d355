package sqlite

import (
	"strconv"
	"strings"

	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// Parameter types. A parameter sent without a type (node-postgres sends all
// of them so, pgjdbc its dates) is text, and PostgreSQL would read it as
// the type of the column it meets: 'true' into a BOOLEAN column is true, not
// the word. SQLite stores the text as it is. paramTypes finds, from the
// statement text, the column each $n is compared with or stored into, so
// the bridge can convert the value as PostgreSQL's input function would:
//
//	INSERT INTO t (a, b) VALUES ($1, $2)      $1: t.a, $2: t.b (also without a column list)
//	UPDATE t SET a = $1 WHERE b = $2          $1: t.a, $2: t.b
//	... WHERE a = $1 / $1 < a / a IN ($1, $2) the column a of the statement's FROM
//
// Other positions stay unknown ("").

// paramTypes returns the declared types of parameters 1..n.
func paramTypes(query string, n int, describe describer) []string {
	out := make([]string, n)
	toks := sqltext.Significant(query)
	if len(toks) == 0 || n == 0 {
		return out
	}
	set := func(param sqltext.Token, typ string) {
		if param.Kind != sqltext.TokParam || typ == "" {
			return
		}
		i, err := strconv.Atoi(param.Text[1:])
		if err == nil && i >= 1 && i <= n && out[i-1] == "" {
			out[i-1] = typ
		}
	}
	// The table whose columns plain names refer to, as a FROM clause.
	var from string
	switch upper(toks[0]) {
	case "INSERT", "REPLACE":
		from = insertParams(query, toks, describe, set)
	case "UPDATE":
		from = updateParams(query, toks, describe, set)
	case "DELETE":
		if len(toks) > 2 && upper(toks[1]) == "FROM" {
			from = "FROM " + tableRef(query, toks[2:])
		}
	default:
		if sel := parseSelect(query); sel != nil {
			from = sel.prefix + "\x00" + sel.from // prefix kept for CTEs
		}
	}
	if from == "" {
		return out
	}
	probe := func(ref []sqltext.Token) string {
		if len(ref) == 0 || !isColumnRef(ref) {
			return ""
		}
		prefix, clause, _ := strings.Cut(from, "\x00")
		if clause == "" {
			clause, prefix = prefix, ""
		}
		types, err := describe(prefix + "SELECT " + query[ref[0].Pos:ref[len(ref)-1].End()] + " " + clause)
		if err != nil || len(types) != 1 {
			return ""
		}
		return types[0]
	}
	// Comparisons: column op $n and $n op column; column IN ($n, ...).
	for i, t := range toks {
		if t.Kind == sqltext.TokOperator && comparison[t.Text] {
			if i+1 < len(toks) && toks[i+1].Kind == sqltext.TokParam {
				set(toks[i+1], probe(refBefore(toks, i)))
			}
			if i > 0 && toks[i-1].Kind == sqltext.TokParam {
				set(toks[i-1], probe(refAfter(toks, i+1)))
			}
		}
		if upper(t) == "IN" && i+1 < len(toks) && toks[i+1].Text == "(" {
			typ := probe(refBefore(toks, i))
			for j := i + 2; j < len(toks) && toks[j].Text != ")"; j++ {
				set(toks[j], typ)
			}
		}
	}
	return out
}

// isColumnRef: name, table.name or schema.table.name.
func isColumnRef(toks []sqltext.Token) bool {
	for i, t := range toks {
		if i%2 == 1 && t.Text != "." || i%2 == 0 && t.Kind != sqltext.TokIdent && t.Kind != sqltext.TokQuotedIdent {
			return false
		}
	}
	return len(toks)%2 == 1
}

// refBefore returns the column reference ending just before index i.
func refBefore(toks []sqltext.Token, i int) []sqltext.Token {
	j := i - 1
	for j-2 >= 0 && toks[j-1].Text == "." {
		j -= 2
	}
	if j < 0 || j >= i {
		return nil
	}
	if upper(toks[j]) == "NOT" && j+1 < i { // a NOT IN (...)
		return nil
	}
	return toks[j:i]
}

// refAfter returns the column reference starting at index i.
func refAfter(toks []sqltext.Token, i int) []sqltext.Token {
	j := i + 1
	for j+1 < len(toks) && toks[j].Text == "." {
		j += 2
	}
	if i >= len(toks) || j > len(toks) {
		return nil
	}
	return toks[i:j]
}

// tableRef is the text of a (possibly qualified) table name at toks[0].
func tableRef(query string, toks []sqltext.Token) string {
	ref := refAfter(toks, 0)
	if len(ref) == 0 || !isColumnRef(ref) {
		return ""
	}
	return query[ref[0].Pos:ref[len(ref)-1].End()]
}

// insertParams handles INSERT [OR ...] INTO t [(cols)] VALUES (...), (...).
func insertParams(query string, toks []sqltext.Token, describe describer, set func(sqltext.Token, string)) string {
	i := 1
	for i < len(toks) && upper(toks[i]) != "INTO" {
		i++
	}
	if i+1 >= len(toks) {
		return ""
	}
	table := tableRef(query, toks[i+1:])
	if table == "" {
		return ""
	}
	i += 1 + len(refAfter(toks, i+1))
	var cols []string
	if i < len(toks) && toks[i].Text == "(" {
		for i++; i < len(toks) && toks[i].Text != ")"; i++ {
			if toks[i].Text != "," {
				cols = append(cols, toks[i].Text)
			}
		}
		i++
	} else {
		cols = []string{"*"}
	}
	types, err := describe("SELECT " + strings.Join(cols, ", ") + " FROM " + table)
	if err != nil {
		return "FROM " + table
	}
	if i >= len(toks) || upper(toks[i]) != "VALUES" {
		return "FROM " + table
	}
	sqltext.ValuesParams(toks, i+1, func(t sqltext.Token, k int) {
		if k < len(types) {
			set(t, types[k])
		}
	})
	return "FROM " + table
}

// updateParams handles UPDATE t SET a = $1, b = $2 ...
func updateParams(query string, toks []sqltext.Token, describe describer, set func(sqltext.Token, string)) string {
	i := 1
	if i < len(toks) && upper(toks[i]) == "OR" {
		i += 2
	}
	if i >= len(toks) {
		return ""
	}
	table := tableRef(query, toks[i:])
	if table == "" {
		return ""
	}
	return "FROM " + table
}

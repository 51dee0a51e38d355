package mysql

import (
	"strconv"
	"strings"

	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// Parameter types. A parameter sent without a type is text, and
// PostgreSQL would read it as the type of the column it meets; MySQL
// would instead convert the text by its own rules, which refuse 't' for a
// BOOL column in strict mode and store '\x0102' in a BLOB as six
// characters. paramTypes finds the column each $n meets, so that the
// bridge converts the text as PostgreSQL's input function would:
//
//	INSERT INTO t (a, b) VALUES ($1, $2)   $1: t.a, $2: t.b (without a list: t's columns in order)
//	UPDATE t SET a = $1 WHERE b = $2       $1: t.a, $2: t.b (also INSERT ... SET, ON DUPLICATE KEY UPDATE)
//	... a = $1, $1 < t.a, a IN ($1, $2)    the column a of a table the statement names
//	LIMIT $1 OFFSET $2, LIMIT $1, $2       integers (MySQL takes no text there)
//
// Other positions stay unknown ("") and MySQL converts the text itself.

// comparisons are the operators whose operands share a type.
var comparisons = map[string]bool{"=": true, "<>": true, "!=": true, "<": true, ">": true, "<=": true, ">=": true, "<=>": true}

// paramTypes returns the type names (as typeOID takes them) of parameters
// 1..n of query, a statement with $n placeholders, given its tables.
func paramTypes(query string, n int, tables map[string]*tableInfo) []string {
	out := make([]string, n)
	toks := sqltext.Significant(query)
	if n == 0 || len(toks) == 0 {
		return out
	}
	refs := tableRefs(toks)
	set := func(t sqltext.Token, typ string) {
		if t.Kind != sqltext.TokParam || typ == "" {
			return
		}
		i, err := strconv.Atoi(t.Text[1:])
		if err == nil && i >= 1 && i <= n && out[i-1] == "" {
			out[i-1] = typ
		}
	}
	// resolve types a column reference: col, or qualifier.col where the
	// qualifier is an alias or a table name.
	resolve := func(ref []sqltext.Token) string {
		switch {
		case len(ref) == 1 && isIdent(ref[0]):
			col := strings.ToLower(ref[0].Value())
			for _, r := range refs {
				if typ := tables[r.name].column(col); typ != "" {
					return typ
				}
			}
		case len(ref) == 3 && isIdent(ref[0]) && ref[1].Text == "." && isIdent(ref[2]):
			qual, col := strings.ToLower(ref[0].Value()), strings.ToLower(ref[2].Value())
			for _, r := range refs {
				if r.alias == qual || r.alias == "" && r.name == qual {
					return tables[r.name].column(col)
				}
			}
		}
		return ""
	}
	insertParams(toks, refs, tables, set)
	for i, t := range toks {
		switch {
		case t.Kind == sqltext.TokOperator && comparisons[t.Text]:
			if i+1 < len(toks) {
				set(toks[i+1], resolve(refBefore(toks, i)))
			}
			if i > 0 {
				set(toks[i-1], resolve(refAfter(toks, i+1)))
			}
		case t.Kind == sqltext.TokIdent && strings.EqualFold(t.Text, "IN") && i+1 < len(toks) && toks[i+1].Text == "(":
			typ := resolve(refBefore(toks, i))
			for j := i + 2; j < len(toks) && toks[j].Text != ")"; j++ {
				if toks[j].Text == "," || toks[j].Kind == sqltext.TokParam {
					set(toks[j], typ)
				} else {
					break // an expression: its parameters are not the column's
				}
			}
		case t.Kind == sqltext.TokIdent && (strings.EqualFold(t.Text, "LIMIT") || strings.EqualFold(t.Text, "OFFSET")):
			for j := i + 1; j < len(toks) && (toks[j].Kind == sqltext.TokParam || toks[j].Text == ","); j++ {
				set(toks[j], "BIGINT")
			}
		}
	}
	return out
}

func isIdent(t sqltext.Token) bool {
	return t.Kind == sqltext.TokIdent || t.Kind == sqltext.TokQuotedIdent
}

// refBefore returns the column reference (a or q.a) ending just before i.
func refBefore(toks []sqltext.Token, i int) []sqltext.Token {
	switch {
	case i >= 3 && toks[i-2].Text == ".":
		return toks[i-3 : i]
	case i >= 1:
		return toks[i-1 : i]
	}
	return nil
}

// refAfter returns the column reference (a or q.a) starting at i.
func refAfter(toks []sqltext.Token, i int) []sqltext.Token {
	switch {
	case i+2 < len(toks) && toks[i+1].Text == ".":
		return toks[i : i+3]
	case i < len(toks):
		return toks[i : i+1]
	}
	return nil
}

// insertParams types the parameters of INSERT/REPLACE ... VALUES tuples by
// the column each position fills.
func insertParams(toks []sqltext.Token, refs []tableRef, tables map[string]*tableInfo, set func(sqltext.Token, string)) {
	first := strings.ToUpper(toks[0].Text)
	if toks[0].Kind != sqltext.TokIdent || first != "INSERT" && first != "REPLACE" || len(refs) == 0 {
		return
	}
	table := tables[refs[0].name]
	if table == nil {
		return
	}
	// The column list, if any, follows the table name.
	i := 1
	for i < len(toks) && !(isIdent(toks[i]) && strings.ToLower(toks[i].Value()) == refs[0].name) {
		i++
	}
	i++
	var cols []string
	if i < len(toks) && toks[i].Text == "(" {
		for i++; i < len(toks) && toks[i].Text != ")"; i++ {
			if isIdent(toks[i]) {
				cols = append(cols, table.column(strings.ToLower(toks[i].Value())))
			}
		}
		i++
	} else {
		for _, c := range table.cols {
			cols = append(cols, c.typ)
		}
	}
	if i >= len(toks) || !strings.EqualFold(toks[i].Text, "VALUES") && !strings.EqualFold(toks[i].Text, "VALUE") {
		return
	}
	sqltext.ValuesParams(toks, i+1, func(t sqltext.Token, k int) {
		if k < len(cols) {
			set(t, cols[k])
		}
	})
}

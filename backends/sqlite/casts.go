package sqlite

import (
	"encoding/hex"
	"strings"

	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// PostgreSQL's "expr::type" casts are everywhere in SQL written for
// PostgreSQL, and some drivers write them themselves: psycopg2 sends bytes
// as '\x0001'::bytea and dates as '2024-05-01'::date. SQLite has no such
// operator, so Rewrite turns each cast into what SQLite understands:
//
//	integer types          CAST(x AS INTEGER)
//	real types             CAST(x AS REAL)
//	numeric, decimal       CAST(x AS NUMERIC)
//	bytea of a '\x..' text X'..' (a blob literal)
//	boolean of a literal   1 or 0
//	text, dates, times, uuid, json, intervals and anything else: x itself,
//	since SQLite keeps them as text (CAST(x AS DATE) would make '2024-05-01'
//	the number 2024).
//
// The operand is the token or parenthesised group before "::": a literal,
// a parameter, a column reference, a function call or (...).

var castTypes = map[string]string{
	"int": "INTEGER", "int2": "INTEGER", "int4": "INTEGER", "int8": "INTEGER", "integer": "INTEGER",
	"smallint": "INTEGER", "bigint": "INTEGER", "serial": "INTEGER", "bigserial": "INTEGER", "oid": "INTEGER",
	"real": "REAL", "float": "REAL", "float4": "REAL", "float8": "REAL", "double precision": "REAL",
	"numeric": "NUMERIC", "decimal": "NUMERIC",
}

// reserved words can never be a cast's operand.
var reserved = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields("SELECT FROM WHERE AND OR NOT ON AS BY GROUP ORDER HAVING LIMIT OFFSET VALUES SET INTO JOIN THEN ELSE WHEN CASE END IN IS LIKE BETWEEN RETURNING UNION INTERSECT EXCEPT WITH DISTINCT ALL") {
		m[w] = true
	}
	return m
}()

// typeWords are the words that continue a multi-word type name.
var typeWords = map[string]bool{"precision": true, "varying": true, "with": true, "without": true, "time": true, "zone": true}

// rewriteCasts returns q with its :: casts rewritten, or q unchanged.
func rewriteCasts(q string) string {
	if !strings.Contains(q, "::") {
		return q
	}
	toks := sqltext.Significant(q)
	type edit struct {
		from, to int // byte range of q replaced
		text     string
		endTok   int // index of the token after the cast
	}
	var edits []edit
	for i, t := range toks {
		if t.Kind != sqltext.TokOperator || t.Text != "::" || i == 0 {
			continue
		}
		name, end := castTypeName(toks, i+1)
		if name == "" {
			continue
		}
		if n := len(edits); n > 0 && edits[n-1].endTok == i {
			// x::a::b: the operand is the cast just rewritten.
			prev := edits[n-1]
			edits[n-1] = edit{prev.from, toks[end-1].End(), castTo(name, prev.text, nil), end}
			continue
		}
		start := operandStart(toks, i)
		if start < 0 || len(edits) > 0 && toks[start].Pos < edits[len(edits)-1].to {
			continue
		}
		operand := q[toks[start].Pos:toks[i-1].End()]
		edits = append(edits, edit{toks[start].Pos, toks[end-1].End(), castTo(name, operand, toks[start:i]), end})
	}
	if len(edits) == 0 {
		return q
	}
	var b strings.Builder
	last := 0
	for _, e := range edits {
		b.WriteString(q[last:e.from])
		b.WriteString(e.text)
		last = e.to
	}
	b.WriteString(q[last:])
	return b.String()
}

// operandStart returns the index of the first token of the operand that
// ends just before the "::" at i, or -1.
func operandStart(toks []sqltext.Token, i int) int {
	j := i - 1
	if toks[j].Text == ")" {
		depth := 0
		for ; j >= 0; j-- {
			switch toks[j].Text {
			case ")":
				depth++
			case "(":
				depth--
			}
			if depth == 0 {
				break
			}
		}
		if j < 0 {
			return -1
		}
		if j > 0 && toks[j-1].Kind == sqltext.TokIdent { // a function call
			j--
		}
		return j
	}
	switch toks[j].Kind {
	case sqltext.TokString, sqltext.TokNumber, sqltext.TokParam:
		return j
	case sqltext.TokIdent, sqltext.TokQuotedIdent:
		if toks[j].Kind == sqltext.TokIdent && reserved[strings.ToUpper(toks[j].Text)] {
			return -1
		}
		for j >= 2 && toks[j-1].Text == "." {
			j -= 2
		}
		return j
	}
	return -1
}

// castTypeName reads the type after "::" from toks[i]: one or more words,
// an optional (n[, m]) and optional []. It returns the lower-case name and
// the index after it.
func castTypeName(toks []sqltext.Token, i int) (string, int) {
	if i >= len(toks) || toks[i].Kind != sqltext.TokIdent && toks[i].Kind != sqltext.TokQuotedIdent {
		return "", i
	}
	words := []string{strings.ToLower(toks[i].Value())}
	j := i + 1
	for j < len(toks) && toks[j].Kind == sqltext.TokIdent && typeWords[strings.ToLower(toks[j].Text)] {
		words = append(words, strings.ToLower(toks[j].Text))
		j++
	}
	if j < len(toks) && toks[j].Text == "(" {
		for j < len(toks) && toks[j].Text != ")" {
			j++
		}
		j++
	}
	array := false
	for j+1 < len(toks) && toks[j].Text == "[" && toks[j+1].Text == "]" {
		j += 2
		array = true
	}
	if j > len(toks) {
		return "", i
	}
	name := strings.Join(words, " ")
	if array {
		name += "[]"
	}
	return name, j
}

func castTo(name, operand string, op []sqltext.Token) string {
	if t, ok := castTypes[name]; ok {
		return "CAST(" + operand + " AS " + t + ")"
	}
	literal := len(op) == 1 && op[0].Kind == sqltext.TokString && !op[0].Unterminated
	switch name {
	case "bytea":
		if literal {
			if b, ok := byteaLiteral(op[0].Value()); ok {
				return "X'" + hex.EncodeToString(b) + "'"
			}
		}
	case "bool", "boolean":
		if literal {
			switch strings.ToLower(strings.TrimSpace(op[0].Value())) {
			case "t", "true", "y", "yes", "on", "1":
				return "1"
			case "f", "false", "n", "no", "off", "0":
				return "0"
			}
		}
	}
	return operand
}

// byteaLiteral reads bytea's hex input form.
func byteaLiteral(s string) ([]byte, bool) {
	if len(s) < 2 || s[0] != '\\' || s[1] != 'x' && s[1] != 'X' {
		return nil, false
	}
	b, err := hex.DecodeString(s[2:])
	return b, err == nil
}

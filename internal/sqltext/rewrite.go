package sqltext

import (
	"strconv"
	"strings"
)

// Style is a backend's placeholder syntax.
type Style uint8

const (
	// StyleDollar leaves $n as it is (PostgreSQL). Rewrite still reports
	// order and maxParam.
	StyleDollar Style = iota
	// StyleQuestionNumbered writes $n as ?n (SQLite's numbered parameters),
	// so repeated and out-of-order references need no argument reshuffling.
	StyleQuestionNumbered
	// StyleQuestion writes every $n as a bare ? (MySQL). The driver binds
	// arguments by position, so order lists, for each ?, the n it came from:
	// "$2 + $1 + $2" gives "? + ? + ?" and order [2 1 2].
	StyleQuestion
)

// Rewrite replaces the $n placeholders of sql that lie outside strings,
// dollar quotes, quoted identifiers and comments. It returns the rewritten
// text, order (the n of every placeholder in the order it appears, for any
// style) and the highest n (0 if none).
//
// sql is returned unchanged, without copying, when it contains no "$"
// byte or no placeholder. "$tag$" dollar quotes and identifiers such as
// a$1 are not placeholders.
//
// Rewrite does not validate n: "$0" yields order entry 0 and "?0", and
// numbers beyond int32 saturate at 2147483647. The caller must check every
// order entry against the number of bound values (1 <= n <= len(args)) and
// reject others as PostgreSQL does (08P01 or 42P02) before indexing.
//
// A placeholder directly followed by a letter, "_", "." or a non-ASCII
// byte gets a space after its replacement, so the backend sees the token
// boundary PostgreSQL saw.
//
// Bare "?" already in the text (PostgreSQL's jsonb ? operator) is copied as
// is and would become a placeholder for a "?" backend; such statements
// cannot run on SQLite or MySQL anyway.
func Rewrite(sql string, style Style) (out string, order []int, maxParam int) {
	if strings.IndexByte(sql, '$') < 0 {
		return sql, nil, 0
	}
	// Every placeholder has a "$" and grows by at most one byte (the
	// separating space), so the output never outgrows its first buffer.
	dollars := strings.Count(sql, "$")
	var b strings.Builder
	last := 0
	l := Lexer{src: sql}
	for {
		t, ok := l.Next()
		if !ok {
			break
		}
		if t.Kind != TokParam {
			continue
		}
		n := paramNumber(t.Text)
		if order == nil {
			order = make([]int, 0, min(dollars, 32)) // bounded: "$" may be mostly dollar quotes
		}
		order = append(order, n)
		if n > maxParam {
			maxParam = n
		}
		if style == StyleDollar {
			continue
		}
		if b.Cap() == 0 {
			b.Grow(len(sql) + dollars)
		}
		b.WriteString(sql[last:t.Pos])
		b.WriteByte('?')
		if style == StyleQuestionNumbered {
			var digits [20]byte
			b.Write(strconv.AppendInt(digits[:0], int64(n), 10))
		}
		last = t.End()
		if last < len(sql) && (isIdentStart(sql[last]) || sql[last] == '.') {
			// "$1abc": PostgreSQL 16 rejects it, older versions read
			// "$1 abc". Without the space the digits of "?1" could merge
			// with what follows: "$0B0$0" would re-lex as the binary literal
			// 0B0 and a live $0, "$0.E0$0" as the number 0.E0 and $0.
			b.WriteByte(' ')
		}
	}
	if b.Cap() == 0 {
		return sql, order, maxParam
	}
	b.WriteString(sql[last:])
	return b.String(), order, maxParam
}

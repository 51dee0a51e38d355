package mysql

import (
	"fmt"
	"strings"

	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// reservedVars are the session variables the proxy's correctness rests on:
// sql_mode (NO_BACKSLASH_ESCAPES: where strings end), autocommit and
// completion_type (the transaction state the proxy reports), the character
// sets (clients are told UTF8) and the transaction defaults the proxy sets
// per transaction. A SET of one, in any of MySQL's spellings, is refused
// with 42704 instead of reaching the server.
var reservedVars = map[string]bool{
	"sql_mode": true, "autocommit": true, "collation_connection": true,
	"tx_isolation": true, "transaction_isolation": true,
	"tx_read_only": true, "transaction_read_only": true, "completion_type": true,
}

// reserved reports whether name (lower-case) is a reserved variable; every
// character_set_* variable is.
func reserved(name string) bool {
	return reservedVars[name] || strings.HasPrefix(name, "character_set_")
}

// refuseReserved is the error for a SET of a reserved variable.
func refuseReserved(what string) error {
	return pgcode.WithHint(pgcode.UndefinedObject,
		fmt.Sprintf("cannot set %s: xconnproxy depends on this MySQL session variable keeping the value it set", what),
		"The proxy sets sql_mode (NO_BACKSLASH_ESCAPES), autocommit, the UTF-8 character sets and the transaction defaults itself; "+
			"use PostgreSQL's statements instead (BEGIN, SET TRANSACTION, SET client_encoding).")
}

// CheckStatement refuses, before it reaches the server, a SET that would
// change a reserved variable: SET name = v, SET @@name = v, SET
// @@SESSION.name = v, SET SESSION|GLOBAL name = v, any element of a SET
// list, MariaDB's SET STATEMENT name = v FOR ..., SET NAMES, SET CHARACTER
// SET / CHARSET, and SET SESSION|GLOBAL TRANSACTION (the session's
// isolation and access mode). It reads tokens, so a reserved name inside a
// string or a comment is not taken for one.
func (d *Dialect) CheckStatement(info sqltext.Info, query string) error {
	toks := sqltext.Significant(query)
	if len(toks) < 2 || !isWord(toks[0], "SET") {
		return nil
	}
	i := 1
	stmt := false // SET STATEMENT ... FOR
	if isWord(toks[i], "STATEMENT") && !assignAt(toks, i+1) {
		stmt, i = true, i+1
	}
	first := true
	for i < len(toks) {
		t := toks[i]
		if t.Kind == sqltext.TokSemicolon {
			return nil
		}
		// The scope: GLOBAL, SESSION, LOCAL, PERSIST, PERSIST_ONLY (each a
		// variable name too when an assignment follows it).
		scope := ""
		if t.Kind == sqltext.TokIdent && !assignAt(toks, i+1) {
			switch w := strings.ToUpper(t.Text); w {
			case "GLOBAL", "SESSION", "LOCAL", "PERSIST", "PERSIST_ONLY":
				scope, i = w, i+1
				if i >= len(toks) {
					return nil
				}
				t = toks[i]
			}
		}
		if t.Kind == sqltext.TokIdent && !assignAt(toks, i+1) {
			switch strings.ToUpper(t.Text) {
			case "NAMES":
				return refuseReserved("the character set with SET NAMES")
			case "CHARSET":
				return refuseReserved("the character set with SET CHARSET")
			case "CHARACTER":
				if i+1 < len(toks) && isWord(toks[i+1], "SET") {
					return refuseReserved("the character set with SET CHARACTER SET")
				}
			case "TRANSACTION":
				if first && scope != "" {
					return refuseReserved("the session's transaction characteristics with SET " + scope + " TRANSACTION")
				}
				return nil
			}
			if first && scope == "" {
				switch strings.ToUpper(t.Text) {
				case "ROLE", "PASSWORD", "DEFAULT":
					return nil
				}
			}
		}
		name := ""
		switch {
		case t.Kind == sqltext.TokOperator && t.Text == "@":
			// A user variable (@x): not the server's.
		case t.Kind == sqltext.TokOperator && t.Text == "@@":
			i++
			if i+1 < len(toks) && toks[i].Kind == sqltext.TokIdent && toks[i+1].Kind == sqltext.TokOperator && toks[i+1].Text == "." {
				i += 2 // @@GLOBAL. / @@SESSION. / @@LOCAL.
			}
			if i < len(toks) {
				name = varWord(toks[i])
			}
		default:
			name = varWord(t)
		}
		if name != "" && reserved(name) {
			return refuseReserved(name)
		}
		// Skip to the next element: a comma outside parentheses (or FOR,
		// which ends SET STATEMENT's list).
		depth := 0
	skip:
		for i++; i < len(toks); i++ {
			tt := toks[i]
			switch {
			case tt.Kind == sqltext.TokOperator && tt.Text == "(":
				depth++
			case tt.Kind == sqltext.TokOperator && tt.Text == ")":
				depth--
			case depth == 0 && tt.Kind == sqltext.TokOperator && tt.Text == ",":
				break skip
			case depth == 0 && stmt && isWord(tt, "FOR"):
				return nil
			}
		}
		i++
		first = false
	}
	return nil
}

func isWord(t sqltext.Token, w string) bool {
	return t.Kind == sqltext.TokIdent && strings.EqualFold(t.Text, w)
}

// assignAt reports whether toks[i] is = or :=.
func assignAt(toks []sqltext.Token, i int) bool {
	return i < len(toks) && toks[i].Kind == sqltext.TokOperator && (toks[i].Text == "=" || toks[i].Text == ":=")
}

// varWord is the lower-case name a word or `quoted` name denotes.
func varWord(t sqltext.Token) string {
	switch t.Kind {
	case sqltext.TokIdent, sqltext.TokQuotedIdent:
		return strings.ToLower(t.Value())
	}
	return ""
}

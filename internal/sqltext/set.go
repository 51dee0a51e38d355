package sqltext

import (
	"strconv"
	"strings"
)

// Set is a SET or RESET statement the proxy can apply to its own copy of
// the session's settings.
type Set struct {
	// Name is the parameter, lower-cased (quoted parts too: PostgreSQL
	// compares parameter names case-insensitively), dotted names such as
	// xconn.cache allowed. Special forms map to their parameter:
	// TIME ZONE -> timezone, NAMES -> client_encoding, SCHEMA -> search_path,
	// SESSION AUTHORIZATION -> session_authorization, ROLE -> role,
	// XML OPTION -> xmloption, TRANSACTION ISOLATION LEVEL (RESET only) ->
	// transaction_isolation. Empty for RESET ALL.
	Name string
	// Value is the value as PostgreSQL's flatten_set_variable_args renders
	// it before the parameter's own check hook: strings unquoted, unquoted
	// words lower-cased, quoted identifiers as written, integers that fit
	// int32 in decimal ("007" -> "7", "0x10" -> "16"), other numbers as
	// written, list elements joined with ", ". For search_path and the other
	// list-of-identifiers parameters elements are re-quoted when needed, so
	// SET search_path = "$user", public gives `"$user", public`. Parameter
	// specific canonicalisation (work_mem = 1024 shows as "1MB", DateStyle
	// becomes "ISO, MDY") is not applied. Empty when Default is set.
	Value string
	// Local is set by SET LOCAL (the value lasts until the transaction ends).
	Local bool
	// Default is set when the parameter returns to its default: SET ... TO
	// DEFAULT, SET TIME ZONE LOCAL/DEFAULT, SET NAMES [DEFAULT], SET SESSION
	// AUTHORIZATION DEFAULT, and every RESET.
	Default bool
	// Reset is set for RESET name and RESET ALL.
	Reset bool
	// All is set for RESET ALL.
	All bool
}

// listQuoteParams are the parameters flagged GUC_LIST_QUOTE in PostgreSQL:
// their list elements are passed through quote_identifier.
var listQuoteParams = map[string]bool{
	"search_path":               true,
	"temp_tablespaces":          true,
	"session_preload_libraries": true,
	"shared_preload_libraries":  true,
	"local_preload_libraries":   true,
}

// ParseSet recognises
//
//	SET [SESSION | LOCAL] name {TO | =} {value [, ...] | DEFAULT}
//	SET [SESSION | LOCAL] TIME ZONE {value | LOCAL | DEFAULT}
//	SET [SESSION | LOCAL] SCHEMA 'schema'
//	SET [SESSION | LOCAL] NAMES ['encoding' | DEFAULT]
//	SET [SESSION | LOCAL] SESSION AUTHORIZATION {user | DEFAULT}
//	SET [SESSION | LOCAL] ROLE {role | NONE}
//	SET [SESSION | LOCAL] XML OPTION {DOCUMENT | CONTENT}
//	RESET {name | ALL | TIME ZONE | TRANSACTION ISOLATION LEVEL | SESSION AUTHORIZATION}
//
// and reports false for anything else, including SET TRANSACTION, SET
// SESSION CHARACTERISTICS, SET CONSTRAINTS, SET ... FROM CURRENT, typed
// values such as SET TIME ZONE INTERVAL '1' HOUR, and trailing tokens (one
// trailing ";" is allowed). Those should go to the backend.
func ParseSet(stmt string) (Set, bool) {
	c := newCursor(stmt)
	t, ok := c.next()
	if !ok {
		return Set{}, false
	}
	switch kw(t) {
	case "SET":
		return parseSet(&c)
	case "RESET":
		return parseReset(&c)
	}
	return Set{}, false
}

// assignNext reports whether the next token is "=" or TO, which turns a
// special word (TIME, ROLE, LOCAL...) back into a parameter name.
func (c *cursor) assignNext() bool {
	t, ok := c.peek()
	return ok && (isOp(t, "=") || kw(t) == "TO")
}

func parseSet(c *cursor) (Set, bool) {
	var s Set
	modifier := ""
	if k := c.peekKw(); k == "LOCAL" || k == "SESSION" {
		cp := *c
		cp.next()
		if !cp.assignNext() {
			*c = cp
			modifier = k
			s.Local = k == "LOCAL"
		}
	}
	t, ok := c.next()
	if !ok {
		return Set{}, false
	}
	if !c.assignNext() {
		switch kw(t) {
		case "TIME":
			if !c.acceptKw("ZONE") {
				return Set{}, false
			}
			s.Name = "timezone"
			return s.single(c, timeZoneValue)
		case "SCHEMA":
			s.Name = "search_path"
			return s.single(c, func(t Token) (string, bool, bool) {
				if t.Kind != TokString {
					return "", false, false
				}
				return quoteIdent(t.Value()), false, true
			})
		case "NAMES":
			s.Name = "client_encoding"
			if c.atEnd() {
				s.Default = true
				return s, true
			}
			return s.single(c, plainValue)
		case "SESSION":
			if !c.acceptKw("AUTHORIZATION") {
				return Set{}, false
			}
			s.Name = "session_authorization"
			return s.single(c, plainValue)
		case "AUTHORIZATION":
			if modifier != "SESSION" {
				return Set{}, false
			}
			s.Name = "session_authorization"
			return s.single(c, plainValue)
		case "ROLE":
			s.Name = "role"
			return s.single(c, plainValue)
		case "XML":
			if !c.acceptKw("OPTION") {
				return Set{}, false
			}
			s.Name = "xmloption"
			return s.single(c, func(t Token) (string, bool, bool) {
				if k := kw(t); k == "DOCUMENT" || k == "CONTENT" {
					return t.Value(), false, true
				}
				return "", false, false
			})
		case "TRANSACTION", "CHARACTERISTICS", "CONSTRAINTS":
			return Set{}, false
		}
	}
	name, ok := varName(c, t)
	if !ok {
		return Set{}, false
	}
	s.Name = name
	if !c.acceptKw("TO") && !c.acceptOp("=") {
		return Set{}, false
	}
	if c.acceptKw("DEFAULT") {
		s.Default = true
		return s, c.atEnd()
	}
	quote := listQuoteParams[name]
	var vals []string
	for {
		v, ok := setValue(c, quote)
		if !ok {
			return Set{}, false
		}
		vals = append(vals, v)
		if !c.acceptOp(",") {
			break
		}
	}
	if !c.atEnd() {
		return Set{}, false
	}
	if len(vals) == 1 {
		s.Value = vals[0]
	} else {
		s.Value = strings.Join(vals, ", ")
	}
	return s, true
}

// single reads exactly one value with read, which reports (value, isDefault, ok).
func (s Set) single(c *cursor, read func(Token) (string, bool, bool)) (Set, bool) {
	t, ok := c.next()
	if !ok {
		return Set{}, false
	}
	v, def, ok := read(t)
	if !ok || !c.atEnd() {
		return Set{}, false
	}
	s.Value, s.Default = v, def
	if def {
		s.Value = ""
	}
	return s, true
}

// plainValue accepts DEFAULT, a string, a word or a quoted identifier.
func plainValue(t Token) (string, bool, bool) {
	switch t.Kind {
	case TokIdent:
		if kw(t) == "DEFAULT" {
			return "", true, true
		}
		return t.Value(), false, true
	case TokString, TokQuotedIdent:
		return t.Value(), false, true
	}
	return "", false, false
}

// timeZoneValue accepts what SET TIME ZONE takes, except typed intervals.
// Numeric offsets are returned as written; PostgreSQL would show them as a
// POSIX zone such as "<-07>+07".
func timeZoneValue(t Token) (string, bool, bool) {
	switch kw(t) {
	case "LOCAL", "DEFAULT":
		return "", true, true
	case "INTERVAL":
		return "", false, false
	}
	switch t.Kind {
	case TokIdent, TokString:
		return t.Value(), false, true
	case TokNumber:
		return formatNumber(t.Text, false), false, true
	}
	return "", false, false
}

// setValue reads one element of a SET value list: a string, a word, a
// quoted identifier or a signed number.
func setValue(c *cursor, quote bool) (string, bool) {
	t, ok := c.next()
	if !ok {
		return "", false
	}
	switch t.Kind {
	case TokString, TokIdent, TokQuotedIdent:
		if kw(t) == "DEFAULT" {
			return "", false // DEFAULT is only valid alone
		}
		if t.Kind == TokString {
			switch t.Text[0] {
			case 'b', 'B', 'x', 'X', 'n', 'N':
				return "", false // bit strings and N'' are typed, not SET values
			}
		}
		if quote {
			return quoteIdent(t.Value()), true
		}
		return t.Value(), true
	case TokNumber:
		return formatNumber(t.Text, false), true
	case TokOperator:
		if t.Text != "-" && t.Text != "+" {
			return "", false
		}
		n, ok := c.next()
		if !ok || n.Kind != TokNumber {
			return "", false
		}
		return formatNumber(n.Text, t.Text == "-"), true
	}
	return "", false
}

// formatNumber renders a numeric literal as flatten_set_variable_args does:
// integers that fit int32 through %d, anything else as written.
func formatNumber(text string, neg bool) string {
	if v, ok := intLiteral(text); ok {
		if neg {
			v = -v
		}
		return strconv.FormatInt(v, 10)
	}
	if neg {
		return "-" + text
	}
	return text
}

// intLiteral parses an integer literal (decimal, 0x, 0o, 0b, with
// underscores) that fits int32.
func intLiteral(text string) (int64, bool) {
	s := strings.ReplaceAll(text, "_", "")
	base := 10
	if len(s) > 2 && s[0] == '0' {
		switch s[1] {
		case 'x', 'X':
			base, s = 16, s[2:]
		case 'o', 'O':
			base, s = 8, s[2:]
		case 'b', 'B':
			base, s = 2, s[2:]
		}
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) { // rejects "1.5", "1e3"; ParseInt checks the digits
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, base, 64)
	if err != nil || v > 1<<31-1 {
		return 0, false
	}
	return v, true
}

// varName reads a parameter name starting at t: words or quoted
// identifiers separated by ".", lower-cased.
func varName(c *cursor, t Token) (string, bool) {
	if t.Kind != TokIdent && t.Kind != TokQuotedIdent {
		return "", false
	}
	name := t.Value()
	var b []byte // only for dotted names; += would be quadratic on a.a.a...
	for c.acceptOp(".") {
		p, ok := c.next()
		if !ok || p.Kind != TokIdent && p.Kind != TokQuotedIdent {
			return "", false
		}
		if b == nil {
			b = append(b, name...)
		}
		b = append(append(b, '.'), p.Value()...)
	}
	if b != nil {
		name = string(b)
	}
	return lowerASCII(name), name != ""
}

func parseReset(c *cursor) (Set, bool) {
	s := Set{Reset: true, Default: true}
	t, ok := c.next()
	if !ok {
		return Set{}, false
	}
	name, ok := specialName(c, t)
	if !ok {
		return Set{}, false
	}
	if name == "all" {
		s.All = true
	} else {
		s.Name = name
	}
	return s, c.atEnd()
}

// specialName reads the parameter name RESET and SHOW take: a dotted name,
// ALL, or one of the multi-word aliases.
func specialName(c *cursor, t Token) (string, bool) {
	switch kw(t) {
	case "TIME":
		if c.acceptKw("ZONE") {
			return "timezone", true
		}
	case "TRANSACTION":
		if c.acceptKw("ISOLATION") {
			if !c.acceptKw("LEVEL") {
				return "", false
			}
			return "transaction_isolation", true
		}
	case "SESSION":
		if c.acceptKw("AUTHORIZATION") {
			return "session_authorization", true
		}
	}
	return varName(c, t)
}

// ParseShow recognises SHOW name, SHOW ALL ("all"), SHOW TIME ZONE
// ("timezone"), SHOW TRANSACTION ISOLATION LEVEL ("transaction_isolation")
// and SHOW SESSION AUTHORIZATION ("session_authorization"). The name is
// lower-cased; one trailing ";" is allowed, anything else fails.
func ParseShow(stmt string) (name string, ok bool) {
	c := newCursor(stmt)
	t, ok := c.next()
	if !ok || kw(t) != "SHOW" {
		return "", false
	}
	if t, ok = c.next(); !ok {
		return "", false
	}
	name, ok = specialName(&c, t)
	if !ok || !c.atEnd() {
		return "", false
	}
	return name, true
}

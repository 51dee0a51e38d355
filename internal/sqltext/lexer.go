package sqltext

import (
	"strings"
	"unicode/utf8"
)

// TokenKind is the lexical class of a Token.
type TokenKind uint8

// Token kinds. Keywords are not a kind of their own: an unquoted word is
// TokIdent and callers compare it case-insensitively, exactly as the
// PostgreSQL grammar does after the scanner has down-cased it.
const (
	// TokIdent is an unquoted word: a keyword or an identifier (a$1 included).
	TokIdent TokenKind = iota + 1
	// TokQuotedIdent is "a""b", U&"d\0061t" or MySQL's `a``b`.
	TokQuotedIdent
	// TokString is '...', E'...', U&'...', B'...', X'...', N'...' or a
	// dollar-quoted $$...$$ / $tag$...$tag$ string.
	TokString
	// TokNumber is a numeric literal: 42, 4.2e1, .5, 0x2A, 1_000.
	TokNumber
	// TokParam is a positional parameter: $1, $23.
	TokParam
	// TokOperator is an operator or punctuation: + :: ( ) , . [ ] # ? and
	// any byte PostgreSQL would reject.
	TokOperator
	// TokSemicolon is ";".
	TokSemicolon
	// TokComment is "-- ..." (without the newline) or a nested /* ... */.
	TokComment
)

var tokenKindNames = [...]string{
	TokIdent:       "Ident",
	TokQuotedIdent: "QuotedIdent",
	TokString:      "String",
	TokNumber:      "Number",
	TokParam:       "Param",
	TokOperator:    "Operator",
	TokSemicolon:   "Semicolon",
	TokComment:     "Comment",
}

func (k TokenKind) String() string {
	if int(k) < len(tokenKindNames) && tokenKindNames[k] != "" {
		return tokenKindNames[k]
	}
	return "TokenKind(?)"
}

// Token is one lexical token. Text is a substring of the input (never a
// copy), so Tokens and Lexer allocate nothing per token.
type Token struct {
	Kind TokenKind
	// Unterminated is set on a string, quoted identifier or block comment
	// whose closing delimiter is missing; such a token runs to the end of
	// the input.
	Unterminated bool
	// Pos is the byte offset of Text in the input.
	Pos int
	// Text is the exact source text, delimiters included.
	Text string
}

// End returns the byte offset just past the token.
func (t Token) End() int { return t.Pos + len(t.Text) }

// Lexer scans PostgreSQL SQL text one token at a time. Make one with
// NewLexer, or Reset a zero Lexer. A Lexer is a small value: copying it
// saves its position, which is how callers look ahead.
//
// The scanner follows src/backend/parser/scan.l with
// standard_conforming_strings on (the default since PostgreSQL 9.1): in a
// plain '...' string a backslash is an ordinary character.
type Lexer struct {
	src string
	pos int
}

// NewLexer returns a Lexer positioned at the start of src.
func NewLexer(src string) *Lexer { return &Lexer{src: src} }

// Reset repositions the lexer at the start of src.
func (l *Lexer) Reset(src string) { l.src, l.pos = src, 0 }

// Pos returns the byte offset where the next token scan starts.
func (l *Lexer) Pos() int { return l.pos }

// Tokens returns every token of sql, comments included, whitespace skipped.
// It is a convenience for tests and tools; hot paths use Lexer directly.
func Tokens(sql string) []Token {
	var out []Token
	l := Lexer{src: sql}
	for {
		t, ok := l.Next()
		if !ok {
			return out
		}
		out = append(out, t)
	}
}

// isSpace reports PostgreSQL's whitespace set (scan.l "space"). Unicode
// spaces are deliberately not whitespace: PostgreSQL treats every byte >=
// 0x80 as an identifier character.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentCont(c byte) bool {
	return isIdentStart(c) || isDigit(c) || c == '$'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isOpChar is scan.l's op_chars minus the backtick, which we lex as a MySQL
// quoted identifier so that dialect-neutral text survives.
func isOpChar(c byte) bool {
	switch c {
	case '~', '!', '@', '#', '^', '&', '|', '?', '+', '-', '*', '/', '%', '<', '>', '=':
		return true
	}
	return false
}

// Next returns the next token, skipping whitespace. ok is false at the end
// of the input. Next never panics, whatever the bytes.
func (l *Lexer) Next() (tok Token, ok bool) {
	src := l.src
	i := l.pos
	for i < len(src) && isSpace(src[i]) {
		i++
	}
	if i >= len(src) {
		l.pos = i
		return Token{}, false
	}
	start := i
	kind := TokOperator
	unterminated := false
	c := src[i]
	switch {
	case c == '-' && i+1 < len(src) && src[i+1] == '-':
		kind = TokComment
		i += 2
		for i < len(src) && src[i] != '\n' && src[i] != '\r' {
			i++
		}
	case c == '/' && i+1 < len(src) && src[i+1] == '*':
		kind = TokComment
		i, unterminated = scanBlockComment(src, i)
	case c == '\'':
		kind = TokString
		i, unterminated = scanQuoted(src, i+1, '\'', false)
	case c == '"':
		kind = TokQuotedIdent
		i, unterminated = scanQuoted(src, i+1, '"', false)
	case c == '`':
		kind = TokQuotedIdent
		i, unterminated = scanQuoted(src, i+1, '`', false)
	case c == '$':
		if i+1 < len(src) && isDigit(src[i+1]) {
			kind = TokParam
			i += 2
			for i < len(src) && isDigit(src[i]) {
				i++
			}
		} else if end, ok := dollarTag(src, i); ok {
			kind = TokString
			tag := src[i:end]
			if j := strings.Index(src[end:], tag); j >= 0 {
				i = end + j + len(tag)
			} else {
				i, unterminated = len(src), true
			}
		} else {
			i++ // a lone "$": PostgreSQL rejects it; keep it as one byte
		}
	case isDigit(c) || c == '.' && i+1 < len(src) && isDigit(src[i+1]):
		kind = TokNumber
		i = scanNumber(src, i)
	case isIdentStart(c):
		j := i + 1
		for j < len(src) && isIdentCont(src[j]) {
			j++
		}
		kind, i, unterminated = identOrPrefixed(src, i, j)
	case c == ';':
		kind = TokSemicolon
		i++
	case c == ':':
		i++
		if i < len(src) && (src[i] == ':' || src[i] == '=') {
			i++
		}
	case isOpChar(c):
		i = scanOperator(src, i)
	case c == '.' && i+1 < len(src) && src[i+1] == '.':
		i += 2 // scan.l's DOT_DOT
	default:
		i++ // ( ) , [ ] . and anything else: one byte
	}
	l.pos = i
	return Token{Kind: kind, Unterminated: unterminated, Pos: start, Text: src[start:i]}, true
}

// scanOperator scans a run of operator characters at i the way scan.l
// does: the run never swallows the start of a comment, and trailing "+" or
// "-" are split off unless the run holds one of ~!@#^&|`?%, so that
// "a=-1" is "a", "=", "-", "1" and "SET x=-1" reads as PostgreSQL reads it.
func scanOperator(src string, i int) int {
	start := i
	for i++; i < len(src) && isOpChar(src[i]); i++ {
		if (src[i] == '-' && i+1 < len(src) && src[i+1] == '-') ||
			(src[i] == '/' && i+1 < len(src) && src[i+1] == '*') {
			break
		}
	}
	if i-start > 1 && (src[i-1] == '+' || src[i-1] == '-') {
		for j := start; j < i-1; j++ {
			switch src[j] {
			case '~', '!', '@', '#', '^', '&', '|', '?', '%':
				return i
			}
		}
		for i-start > 1 && (src[i-1] == '+' || src[i-1] == '-') {
			i--
		}
	}
	return i
}

// identOrPrefixed finishes a word src[i:j] that may be the prefix of a
// string or quoted identifier: E'..', B'..', X'..', N'..', U&'..', U&"..".
// Like scan.l, the prefix counts only when it is the whole word, so
// "abe'x'" is the identifier abe followed by a string.
func identOrPrefixed(src string, i, j int) (TokenKind, int, bool) {
	if j == i+1 && j < len(src) && src[j] == '\'' {
		switch src[i] {
		case 'e', 'E':
			end, unterminated := scanQuoted(src, j+1, '\'', true)
			return TokString, end, unterminated
		case 'b', 'B', 'x', 'X', 'n', 'N':
			end, unterminated := scanQuoted(src, j+1, '\'', false)
			return TokString, end, unterminated
		}
	}
	if j == i+1 && (src[i] == 'u' || src[i] == 'U') && j+1 < len(src) && src[j] == '&' {
		switch src[j+1] {
		case '\'':
			end, unterminated := scanQuoted(src, j+2, '\'', false)
			return TokString, end, unterminated
		case '"':
			end, unterminated := scanQuoted(src, j+2, '"', false)
			return TokQuotedIdent, end, unterminated
		}
	}
	return TokIdent, j, false
}

// scanQuoted scans the body of a quoted token starting at i (just after the
// opening quote) and returns the offset after the closing quote. A doubled
// quote is a literal quote; with backslash set (E” strings) a backslash
// escapes the next byte.
func scanQuoted(src string, i int, q byte, backslash bool) (int, bool) {
	for i < len(src) {
		c := src[i]
		switch {
		case backslash && c == '\\':
			i += 2
		case c == q:
			if i+1 < len(src) && src[i+1] == q {
				i += 2
				continue
			}
			return i + 1, false
		default:
			i++
		}
	}
	return len(src), true
}

// scanBlockComment scans a /* */ comment at i, honouring nesting as
// PostgreSQL (unlike the SQL standard's flat comments) does.
func scanBlockComment(src string, i int) (int, bool) {
	depth := 0
	for i < len(src) {
		if i+1 < len(src) {
			if src[i] == '/' && src[i+1] == '*' {
				depth++
				i += 2
				continue
			}
			if src[i] == '*' && src[i+1] == '/' {
				depth--
				i += 2
				if depth == 0 {
					return i, false
				}
				continue
			}
		}
		i++
	}
	return len(src), true
}

// dollarTag reports whether src[i:] starts a dollar-quote delimiter $tag$
// and returns the offset after it. The tag follows identifier rules but may
// not contain "$" (scan.l dolq_start/dolq_cont).
func dollarTag(src string, i int) (int, bool) {
	j := i + 1
	if j < len(src) && src[j] == '$' {
		return j + 1, true
	}
	if j >= len(src) || !isIdentStart(src[j]) {
		return 0, false
	}
	for j++; j < len(src); j++ {
		c := src[j]
		if c == '$' {
			return j + 1, true
		}
		if !isIdentStart(c) && !isDigit(c) {
			return 0, false
		}
	}
	return 0, false
}

// scanNumber scans a numeric literal at i. It accepts PostgreSQL 16 forms
// (0x/0o/0b prefixes, underscores) loosely: the server validates them, we
// only need their extent. "1..2" stays 1 followed by "..", as in scan.l.
func scanNumber(src string, i int) int {
	if src[i] == '0' && i+2 < len(src) {
		switch src[i+1] {
		case 'x', 'X', 'o', 'O', 'b', 'B':
			if isAlnum(src[i+2]) {
				i += 2
				for i < len(src) && (isAlnum(src[i]) || src[i] == '_') {
					i++
				}
				return i
			}
		}
	}
	for i < len(src) && (isDigit(src[i]) || src[i] == '_') {
		i++
	}
	if i < len(src) && src[i] == '.' && !(i+1 < len(src) && src[i+1] == '.') {
		i++
		for i < len(src) && (isDigit(src[i]) || src[i] == '_') {
			i++
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j < len(src) && isDigit(src[j]) {
			i = j
			for i < len(src) && (isDigit(src[i]) || src[i] == '_') {
				i++
			}
		}
	}
	return i
}

func isAlnum(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// maxIdentLen is NAMEDATALEN-1: the scanner truncates longer identifiers.
const maxIdentLen = 63

// Value returns what the token denotes, as PostgreSQL's scanner hands it to
// the grammar:
//   - TokIdent: the word with ASCII letters down-cased, truncated to 63 bytes;
//   - TokQuotedIdent: the name without quotes, doubled quotes undone, U&
//     escapes decoded, case kept, truncated to 63 bytes;
//   - TokString: the string's content with its escapes decoded (E” backslash
//     escapes, U&” Unicode escapes, ” doubling; dollar quotes verbatim;
//     B” and X” give their digits);
//   - TokParam: the text without "$"; anything else: Text.
//
// A UESCAPE clause after a U& literal is not seen by a single token and is
// not applied. Value allocates only when it has to change the text.
func (t Token) Value() string {
	s := t.Text
	switch t.Kind {
	case TokIdent:
		return truncateIdent(lowerASCII(s))
	case TokQuotedIdent:
		if s[0] == 'u' || s[0] == 'U' {
			return truncateIdent(decodeUnicodeEscapes(stripQuotes(s[2:], '"')))
		}
		return truncateIdent(stripQuotes(s, s[0]))
	case TokString:
		switch s[0] {
		case '\'':
			return stripQuotes(s, '\'')
		case '$':
			end, _ := dollarTag(s, 0)
			tag := s[:end]
			body := s[end:]
			if !t.Unterminated && len(body) >= len(tag) {
				body = body[:len(body)-len(tag)]
			}
			return body
		case 'e', 'E':
			return decodeEscapeString(s[1:], t.Unterminated)
		case 'u', 'U':
			return decodeUnicodeEscapes(stripQuotes(s[2:], '\''))
		default: // B, X, N
			return stripQuotes(s[1:], '\'')
		}
	case TokParam:
		return s[1:]
	}
	return s
}

// stripQuotes removes the delimiters q of s (the closing one may be missing
// when the token is unterminated) and undoes doubled delimiters.
func stripQuotes(s string, q byte) string {
	if len(s) == 0 || s[0] != q {
		return s
	}
	s = s[1:]
	if n := len(s); n > 0 && s[n-1] == q && !endsInsideDoubled(s, q) {
		s = s[:n-1]
	}
	d := string([]byte{q, q})
	if !strings.Contains(s, d) {
		return s
	}
	return strings.ReplaceAll(s, d, d[:1])
}

// endsInsideDoubled reports whether the trailing q of body (the text after
// the opening quote) belongs to a doubled pair, meaning the token is
// unterminated and that quote is content.
func endsInsideDoubled(body string, q byte) bool {
	n := 0
	for i := len(body) - 1; i >= 0 && body[i] == q; i-- {
		n++
	}
	// A terminated body ends with an odd run: pairs plus the closing quote.
	return n%2 == 0
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// truncateIdent cuts s to maxIdentLen bytes without splitting a UTF-8
// sequence, as pg_mbcliplen does.
func truncateIdent(s string) string {
	if len(s) <= maxIdentLen {
		return s
	}
	n := maxIdentLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// decodeEscapeString decodes the body of an E” string, s starting at the
// opening quote.
func decodeEscapeString(s string, unterminated bool) string {
	if len(s) == 0 {
		return ""
	}
	s = s[1:]
	if !unterminated && len(s) > 0 {
		s = s[:len(s)-1]
	}
	if !strings.ContainsAny(s, `\'`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\'' && i+1 < len(s) && s[i+1] == '\'' {
			b = append(b, '\'')
			i++
			continue
		}
		if c != '\\' || i+1 >= len(s) {
			b = append(b, c)
			continue
		}
		i++
		switch c = s[i]; c {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v, n := 0, 0
			for n < 3 && i+n < len(s) && s[i+n] >= '0' && s[i+n] <= '7' {
				v = v*8 + int(s[i+n]-'0')
				n++
			}
			b = append(b, byte(v))
			i += n - 1
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1+n < len(s) && isHex(s[i+1+n]) {
				v = v*16 + hexVal(s[i+1+n])
				n++
			}
			if n == 0 {
				b = append(b, 'x')
				continue
			}
			b = append(b, byte(v))
			i += n
		case 'u', 'U':
			width := 4
			if c == 'U' {
				width = 8
			}
			r, ok := hexRune(s, i+1, width)
			if !ok {
				b = append(b, c)
				continue
			}
			i += width
			if utf16IsHigh(r) && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if lo, ok := hexRune(s, i+3, 4); ok && utf16IsLow(lo) {
					r = combineSurrogates(r, lo)
					i += 6
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// decodeUnicodeEscapes decodes the \XXXX and \+XXXXXX escapes of a U&
// literal body using the default escape character.
func decodeUnicodeEscapes(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b = append(b, c)
			continue
		}
		if s[i+1] == '\\' {
			b = append(b, '\\')
			i++
			continue
		}
		width, at := 4, i+1
		if s[i+1] == '+' {
			width, at = 6, i+2
		}
		r, ok := hexRune(s, at, width)
		if !ok {
			b = append(b, c)
			continue
		}
		i = at + width - 1
		if utf16IsHigh(r) && i+1 < len(s) && s[i+1] == '\\' {
			if lo, ok := hexRune(s, i+2, 4); ok && utf16IsLow(lo) {
				r = combineSurrogates(r, lo)
				i += 5
			}
		}
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}

func hexRune(s string, at, width int) (rune, bool) {
	if at < 0 || at+width > len(s) {
		return 0, false
	}
	var r rune
	for k := 0; k < width; k++ {
		c := s[at+k]
		if !isHex(c) {
			return 0, false
		}
		r = r*16 + rune(hexVal(c))
	}
	return r, true
}

func utf16IsHigh(r rune) bool { return r >= 0xD800 && r < 0xDC00 }
func utf16IsLow(r rune) bool  { return r >= 0xDC00 && r < 0xE000 }
func combineSurrogates(hi, lo rune) rune {
	return (hi-0xD800)<<10 + (lo - 0xDC00) + 0x10000
}

// Significant returns the tokens of sql without its comments: what parsers
// of statement shapes look at.
func Significant(sql string) []Token {
	return appendSignificant(nil, sql)
}

func appendSignificant(out []Token, sql string) []Token {
	l := Lexer{src: sql}
	for {
		t, ok := l.Next()
		if !ok {
			return out
		}
		if t.Kind != TokComment {
			out = append(out, t)
		}
	}
}

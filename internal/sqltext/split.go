package sqltext

// Split returns the statements of a simple-protocol Query string, in order.
//
// It splits on semicolons that are outside strings, dollar quotes, quoted
// identifiers and comments, outside parentheses (as psql does: a ";" inside
// "(...)" is a syntax error for the server, never a statement boundary), and
// outside the BEGIN ... END body of a CREATE FUNCTION / PROCEDURE / TRIGGER /
// EVENT (SQL-standard PostgreSQL bodies, SQLite and MySQL trigger bodies).
//
// Each statement is trimmed of surrounding whitespace and loses its
// terminating semicolon; comments inside or before it are kept. Statements
// that are empty or only comments are dropped, so "", ";;" and "-- c" yield
// no statements (PostgreSQL answers such a Query with EmptyQueryResponse).
// An unterminated string, comment or parenthesis runs to the end of the
// input, so it can only affect the last statement. The returned strings are
// substrings of sql.
func Split(sql string) []string {
	var out []string
	var st stmtState
	l := Lexer{src: sql}
	start := 0
	for {
		t, ok := l.Next()
		if !ok {
			break
		}
		if t.Kind == TokComment {
			continue
		}
		if st.feed(t) {
			if st.n > 0 {
				out = append(out, trimSpace(sql[start:t.Pos]))
			}
			start = t.End()
			st = stmtState{}
		}
	}
	if st.n > 0 {
		out = append(out, trimSpace(sql[start:]))
	}
	return out
}

// stmtState tracks what Split must know about the statement being read to
// decide whether a semicolon ends it. The body heuristic is psql's
// (psqlscan.l, PostgreSQL 14+): in a CREATE FUNCTION/PROCEDURE statement
// count BEGIN and, inside a body, CASE against END at parenthesis depth 0.
// We extend it to TRIGGER and EVENT (SQLite/MySQL bodies), to modifiers
// such as TEMP and MySQL's DEFINER=..., and to MySQL's END IF / END LOOP /
// END WHILE / END REPEAT, which close blocks whose openers we never count.
type stmtState struct {
	n          int   // non-comment tokens before the current one
	depth      int   // parenthesis depth
	begin      int   // open BEGIN/CASE blocks inside a routine body
	body       bool  // the statement creates a routine, trigger or event
	scanning   bool  // after CREATE, still looking for the object type
	pendingEnd bool  // saw END in a body; the next word decides what it closes
	prev       Token // previous non-comment token
}

// feed consumes the next non-comment token and reports whether it is a
// semicolon that ends the statement.
func (s *stmtState) feed(t Token) bool {
	// Most statements need the keyword of their first word only.
	k := ""
	if s.n == 0 || s.pendingEnd || s.scanning || s.body && s.depth == 0 {
		k = kw(t)
	}
	if s.pendingEnd {
		s.pendingEnd = false
		switch k {
		case "IF", "LOOP", "WHILE", "REPEAT":
			s.n++
			s.prev = t
			return false
		case "CASE": // END CASE closes the CASE we counted
			s.begin--
			s.n++
			s.prev = t
			return false
		}
		s.begin--
	}
	if t.Kind == TokSemicolon && s.depth == 0 && s.begin == 0 {
		return true
	}
	s.n++
	if t.Kind == TokOperator && len(t.Text) == 1 {
		switch t.Text[0] {
		case '(':
			s.depth++
		case ')':
			if s.depth > 0 {
				s.depth--
			}
		}
	}
	switch {
	case s.n == 1:
		s.scanning = k == "CREATE"
	case s.scanning:
		s.scanCreate(t, k)
	case s.body && s.depth == 0:
		switch k {
		case "BEGIN":
			s.begin++
		case "CASE":
			if s.begin > 0 {
				s.begin++
			}
		case "END":
			if s.begin > 0 {
				s.pendingEnd = true
			}
		}
	}
	s.prev = t
	return false
}

// scanCreate looks at the words after CREATE for the object type, skipping
// modifiers, until it finds a routine-like type or gives up.
func (s *stmtState) scanCreate(t Token, k string) {
	if s.n > 24 {
		s.scanning = false
		return
	}
	switch k {
	case "FUNCTION", "PROCEDURE", "TRIGGER", "EVENT":
		s.body, s.scanning = true, false
	case "OR", "REPLACE", "TEMP", "TEMPORARY", "CONSTRAINT", "DEFINER",
		"CURRENT_USER", "ALGORITHM", "SQL", "SECURITY", "INVOKER", "AGGREGATE":
	default:
		// MySQL's DEFINER = user@host: words after "=" or "@" are values.
		if t.Kind == TokIdent && !isOp(s.prev, "=") && !isOp(s.prev, "@") {
			s.scanning = false
		}
	}
}

func isOp(t Token, op string) bool { return t.Kind == TokOperator && t.Text == op }

// trimSpace trims PostgreSQL whitespace only: bytes >= 0x80 (U+00A0 and
// friends) are identifier characters to PostgreSQL, never padding.
func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

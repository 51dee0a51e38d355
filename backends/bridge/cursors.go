package bridge

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// SQL-level cursors and prepared statements. PostgreSQL keeps SQL cursors
// (DECLARE) and protocol portals (Bind) in one namespace, and SQL-level
// DEALLOCATE in the protocol's statement namespace, so these statements
// work on the session's portals and statements: psycopg's named cursors and
// its DEALLOCATE after ROLLBACK, pandas' chunked reads.

// cursorStmt is a parsed DECLARE, FETCH/MOVE, CLOSE or DEALLOCATE.
type cursorStmt struct {
	name   string // cursor or statement name; "" with all
	all    bool   // CLOSE ALL, DEALLOCATE ALL, FETCH ALL
	count  int64  // FETCH/MOVE row count
	move   bool
	hold   bool // DECLARE ... WITH HOLD
	binary bool // DECLARE ... BINARY
	query  string
}

// tokens returns a statement's tokens without comments and semicolons.
func tokens(text string) []sqltext.Token {
	return slices.DeleteFunc(sqltext.Significant(text), func(t sqltext.Token) bool {
		return t.Kind == sqltext.TokSemicolon
	})
}

func kw(t sqltext.Token) string {
	if t.Kind != sqltext.TokIdent {
		return ""
	}
	return strings.ToUpper(t.Text)
}

func isName(t sqltext.Token) bool {
	return t.Kind == sqltext.TokIdent || t.Kind == sqltext.TokQuotedIdent
}

// parseCursorStmt recognises the statement forms; ok is false for text of
// another shape (the data source then reports its own syntax error).
func parseCursorStmt(command, text string) (cursorStmt, bool) {
	toks := tokens(text)
	var c cursorStmt
	switch command {
	case "DEALLOCATE", "DEALLOCATE ALL":
		rest := toks[1:]
		if len(rest) > 0 && kw(rest[0]) == "PREPARE" {
			rest = rest[1:]
		}
		if len(rest) != 1 || !isName(rest[0]) {
			return c, false
		}
		if kw(rest[0]) == "ALL" {
			c.all = true
		} else {
			c.name = rest[0].Value()
		}
		return c, true
	case "CLOSE CURSOR", "CLOSE CURSOR ALL":
		if len(toks) != 2 || !isName(toks[1]) {
			return c, false
		}
		if kw(toks[1]) == "ALL" {
			c.all = true
		} else {
			c.name = toks[1].Value()
		}
		return c, true
	case "DECLARE CURSOR":
		if len(toks) < 4 || !isName(toks[1]) {
			return c, false
		}
		c.name = toks[1].Value()
		i := 2
		for ; i < len(toks) && kw(toks[i]) != "CURSOR"; i++ {
			switch kw(toks[i]) {
			case "BINARY":
				c.binary = true
			case "ASENSITIVE", "INSENSITIVE", "NO", "SCROLL":
			default:
				return c, false
			}
		}
		for i++; i < len(toks) && kw(toks[i]) != "FOR"; i++ {
			switch kw(toks[i]) {
			case "WITH":
				c.hold = true
			case "WITHOUT", "HOLD":
			default:
				return c, false
			}
		}
		if i+1 >= len(toks) {
			return c, false
		}
		c.query = strings.TrimSpace(text[toks[i+1].Pos:])
		return c, true
	case "FETCH", "MOVE":
		c.move = command == "MOVE"
		rest := toks[1:]
		c.count = 1
		if len(rest) > 1 {
			switch w := kw(rest[0]); {
			case w == "NEXT":
				rest = rest[1:]
			case w == "ALL":
				c.all, rest = true, rest[1:]
			case w == "FORWARD":
				rest = rest[1:]
				if len(rest) > 1 && kw(rest[0]) == "ALL" {
					c.all, rest = true, rest[1:]
				} else if len(rest) > 1 && rest[0].Kind == sqltext.TokNumber {
					n, err := strconv.ParseInt(rest[0].Text, 10, 64)
					if err != nil {
						return c, false
					}
					c.count, rest = n, rest[1:]
				}
			case rest[0].Kind == sqltext.TokNumber:
				n, err := strconv.ParseInt(rest[0].Text, 10, 64)
				if err != nil {
					return c, false
				}
				c.count, rest = n, rest[1:]
			case w == "PRIOR", w == "FIRST", w == "LAST", w == "ABSOLUTE", w == "RELATIVE", w == "BACKWARD", rest[0].Text == "-":
				// Any backward or absolute move: refused when run.
				c.count = -1
				last := rest[len(rest)-1]
				if !isName(last) {
					return c, false
				}
				c.name = last.Value()
				return c, true
			}
		}
		if len(rest) > 1 && (kw(rest[0]) == "FROM" || kw(rest[0]) == "IN") {
			rest = rest[1:]
		}
		if len(rest) != 1 || !isName(rest[0]) {
			return c, false
		}
		c.name = rest[0].Value()
		return c, true
	}
	return c, false
}

// runCursorStmt executes a cursor statement; it sends rows for FETCH and
// returns the command tag.
func (s *Session) runCursorStmt(ctx context.Context, p *portal, simple bool, w backends.Writer) (string, error) {
	c := p.st.cursor
	switch p.st.info.Command {
	case "DEALLOCATE", "DEALLOCATE ALL":
		if c.all {
			for name := range s.stmts {
				if name != "" {
					delete(s.stmts, name)
				}
			}
			return "DEALLOCATE ALL", nil
		}
		if _, ok := s.stmts[c.name]; !ok || c.name == "" {
			return "", pgcode.New(pgcode.InvalidSQLStatementName, fmt.Sprintf("prepared statement %q does not exist", c.name))
		}
		delete(s.stmts, c.name)
		return "DEALLOCATE", nil
	case "CLOSE CURSOR", "CLOSE CURSOR ALL":
		if c.all {
			for name, q := range s.portals {
				if q.cursor {
					s.closePortal(name)
				}
			}
			return "CLOSE CURSOR ALL", nil
		}
		if q, ok := s.portals[c.name]; !ok || q == p {
			return "", noCursor(c.name)
		}
		s.closePortal(c.name)
		return "CLOSE CURSOR", nil
	case "DECLARE CURSOR":
		return "DECLARE CURSOR", s.declare(ctx, p, c)
	}
	// FETCH or MOVE.
	target, ok := s.portals[c.name]
	if !ok || target == p {
		return "", noCursor(c.name)
	}
	if c.count < 0 {
		return "", pgcode.WithHint("55000", "cursor can only scan forward", "Declare it with the SCROLL option to enable backward scan; xconnproxy supports forward fetches only.")
	}
	verb := "FETCH"
	if c.move {
		verb = "MOVE"
		w = nil
	} else if simple && len(p.cols) > 0 {
		if err := s.sendRowDescription(p.cols, w); err != nil {
			return "", err
		}
	}
	max := c.count
	if c.all {
		max = 0
	} else if max == 0 {
		return verb + " 0", nil
	}
	n, _, err := s.pump(ctx, target, p.cols, max, w)
	if err != nil {
		return "", err
	}
	return verb + " " + strconv.FormatInt(n, 10), nil
}

func noCursor(name string) *pgcode.Error {
	return pgcode.New(pgcode.InvalidCursorName, fmt.Sprintf("cursor %q does not exist", name))
}

// declare opens a cursor: a named portal running the query with the
// DECLARE statement's own parameters.
func (s *Session) declare(ctx context.Context, p *portal, c cursorStmt) error {
	if !c.hold && (s.tx == 'I' || s.implicit) {
		return pgcode.New(pgcode.NoActiveSQLTransaction, "DECLARE CURSOR can only be used in transaction blocks")
	}
	if _, ok := s.portals[c.name]; ok {
		return pgcode.New(pgcode.DuplicateCursor, fmt.Sprintf("cursor %q already exists", c.name))
	}
	st, err := s.prepare(c.query, p.st.paramOIDs)
	if err != nil {
		return err
	}
	switch st.kind {
	case kindQuery, kindShow, kindFunc:
	default:
		return pgcode.New(pgcode.SyntaxError, "DECLARE CURSOR requires a SELECT, VALUES, TABLE or SHOW query")
	}
	cur := &portal{st: st, args: p.args, cursor: true, hold: c.hold}
	if c.binary {
		cur.formats = []int16{binaryFormat}
	}
	if err := s.resolvePortal(ctx, cur); err != nil {
		cur.close()
		return err
	}
	cur.disarmTimeout() // each FETCH has its own statement_timeout
	s.portals[c.name] = cur
	return nil
}

// fetchColumns are the columns a FETCH returns: its cursor's, in the
// formats the FETCH's own Bind asked for.
func (s *Session) fetchColumns(p *portal) ([]outCol, error) {
	c := p.st.cursor
	if c.move {
		return nil, nil
	}
	target, ok := s.portals[c.name]
	if !ok || target == p {
		return nil, noCursor(c.name)
	}
	cols := append([]outCol(nil), target.cols...)
	for i := range cols {
		cols[i].format = target.cols[i].format
	}
	return cols, nil
}

package bridge

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// funcCol is one item of a SELECT the bridge answers itself.
type funcCol struct {
	fn        string // version, current_user, current_setting, ...
	arg       string // current_setting's parameter name
	missingOK bool   // current_setting's second argument
	alias     string
}

// sessionFuncs are the functions drivers and tools call on connect that a
// non-PostgreSQL data source cannot answer: name → (needs parentheses, type).
var sessionFuncs = map[string]struct {
	parens int // 0: no parentheses, 1: parentheses required, 2: either
	oid    uint32
}{
	"version":                  {1, pgtype.TextOID},
	"current_database":         {1, pgtype.NameOID},
	"current_catalog":          {0, pgtype.NameOID},
	"current_schema":           {2, pgtype.NameOID},
	"current_user":             {0, pgtype.NameOID},
	"session_user":             {0, pgtype.NameOID},
	"user":                     {0, pgtype.NameOID},
	"current_role":             {0, pgtype.NameOID},
	"current_setting":          {1, pgtype.TextOID},
	"pg_backend_pid":           {1, pgtype.Int4OID},
	"pg_is_in_recovery":        {1, pgtype.BoolOID},
	"inet_server_port":         {1, pgtype.Int4OID},
	"pg_postmaster_start_time": {1, pgtype.TimestamptzOID},
}

// parseFuncSelect recognises "SELECT f() [AS a], g, ..." where every item is
// one of sessionFuncs, possibly pg_catalog-qualified, and nothing else
// follows (no FROM, WHERE, ...). Anything else goes to the data source.
func parseFuncSelect(text string) ([]funcCol, bool) {
	lx := sqltext.NewLexer(text)
	next := func() (sqltext.Token, bool) {
		for {
			t, ok := lx.Next()
			if !ok || t.Kind != sqltext.TokComment {
				return t, ok
			}
		}
	}
	t, ok := next()
	if !ok || t.Kind != sqltext.TokIdent || t.Value() != "select" {
		return nil, false
	}
	var cols []funcCol
	for {
		t, ok = next()
		if !ok || t.Kind != sqltext.TokIdent {
			return nil, false
		}
		name := t.Value()
		if name == "pg_catalog" {
			if t, ok = next(); !ok || t.Text != "." {
				return nil, false
			}
			if t, ok = next(); !ok || t.Kind != sqltext.TokIdent {
				return nil, false
			}
			name = t.Value()
		}
		f, known := sessionFuncs[name]
		if !known {
			return nil, false
		}
		col := funcCol{fn: name}
		t, ok = next()
		if ok && t.Text == "(" {
			if f.parens == 0 {
				return nil, false
			}
			t, ok = next()
			if name == "current_setting" {
				if !ok || t.Kind != sqltext.TokString {
					return nil, false
				}
				col.arg = t.Value()
				if t, ok = next(); ok && t.Text == "," { // missing_ok
					if t, ok = next(); !ok {
						return nil, false
					}
					b, isBool := ParseBool(t.Value())
					if !isBool || t.Kind != sqltext.TokIdent && t.Kind != sqltext.TokString {
						return nil, false
					}
					col.missingOK = b
					t, ok = next()
				}
			}
			if !ok || t.Text != ")" {
				return nil, false
			}
			t, ok = next()
		} else if f.parens == 1 {
			return nil, false
		}
		// Optional alias.
		if ok && t.Kind == sqltext.TokIdent && t.Value() == "as" {
			if t, ok = next(); !ok || (t.Kind != sqltext.TokIdent && t.Kind != sqltext.TokQuotedIdent) {
				return nil, false
			}
			col.alias = t.Value()
			t, ok = next()
		} else if ok && (t.Kind == sqltext.TokQuotedIdent || t.Kind == sqltext.TokIdent && !reservedAfterItem(t.Value())) {
			col.alias = t.Value()
			t, ok = next()
		}
		cols = append(cols, col)
		switch {
		case !ok || t.Kind == sqltext.TokSemicolon:
			if ok {
				if _, more := next(); more {
					return nil, false
				}
			}
			return cols, true
		case t.Text == ",":
			continue
		default:
			return nil, false
		}
	}
}

func reservedAfterItem(w string) bool {
	switch w {
	case "from", "where", "group", "having", "order", "limit", "offset", "union", "intersect", "except", "into", "for", "window", "fetch":
		return true
	}
	return false
}

// staticRows computes the rows of a statement the bridge answers itself.
func (s *Session) staticRows(st *stmt) (*staticRows, error) {
	if st.kind == kindShow {
		return s.showRows(st.show)
	}
	r := &staticRows{cols: make([]outCol, len(st.funcs)), rows: [][]any{make([]any, len(st.funcs))}}
	for i, c := range st.funcs {
		name := c.alias
		if name == "" {
			name = c.fn
		}
		r.cols[i] = outCol{name: name, oid: sessionFuncs[c.fn].oid}
		v, err := s.funcValue(c)
		if err != nil {
			return nil, err
		}
		r.rows[0][i] = v
	}
	return r, nil
}

func (s *Session) funcValue(c funcCol) (any, error) {
	switch c.fn {
	case "version":
		return s.Version(), nil
	case "current_database", "current_catalog":
		return s.p.Database, nil
	case "current_schema":
		return "public", nil
	case "current_user", "session_user", "user", "current_role":
		return s.p.User, nil
	case "current_setting":
		v, ok := s.set.get(c.arg)
		if !ok {
			if c.missingOK {
				return nil, nil
			}
			return nil, unrecognized(c.arg)
		}
		return v, nil
	case "pg_backend_pid":
		return int64(s.p.ProcessID), nil
	case "pg_is_in_recovery":
		return false, nil
	case "inet_server_port":
		return nil, nil
	case "pg_postmaster_start_time":
		return startTime, nil
	}
	return nil, pgcode.New(pgcode.UndefinedFunction, fmt.Sprintf("function %s() does not exist", c.fn))
}

// Version is what version() answers: PostgreSQL's format, naming the proxy
// and the data source actually serving the session.
func (s *Session) Version() string {
	return fmt.Sprintf("PostgreSQL %s (xconnproxy; %s %s) on %s-%s, 64-bit",
		ServerVersion, s.d.Name(), s.version, runtime.GOARCH, runtime.GOOS)
}

func (s *Session) showRows(name string) (*staticRows, error) {
	if strings.EqualFold(name, "all") {
		r := &staticRows{cols: []outCol{
			{name: "name", oid: pgtype.TextOID}, {name: "setting", oid: pgtype.TextOID}, {name: "description", oid: pgtype.TextOID},
		}}
		for _, row := range s.set.all() {
			r.rows = append(r.rows, []any{row[0], row[1], row[2]})
		}
		return r, nil
	}
	v, ok := s.set.get(name)
	if !ok {
		return nil, unrecognized(name)
	}
	return &staticRows{cols: []outCol{{name: canonical(name), oid: pgtype.TextOID}}, rows: [][]any{{v}}}, nil
}

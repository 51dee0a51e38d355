package postgres

import (
	"strings"
	"sync"

	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// effects is what a statement text may do to the server session beyond
// its own transaction, as transaction mode needs to know. It is read from
// the text, so it is conservative where the text is plain (a word in a
// string or comment never counts) and blind to what functions and DO
// blocks do inside (docs/postgresql.md says so).
type effects struct {
	// settings: a setting may change (SET, RESET, set_config, DISCARD
	// ALL, SET ROLE, SET SESSION CHARACTERISTICS): the session's settings
	// are read back when its transaction ends.
	settings bool
	// dirty: state the proxy does not carry between connections
	// (SQL-level PREPARE, temporary objects, WITH HOLD cursors, session
	// advisory locks, SET SESSION AUTHORIZATION): the connection is
	// cleaned with DISCARD ALL when the transaction ends.
	dirty bool
	// listen: the channels listened to may change (LISTEN, UNLISTEN).
	// Transaction mode treats LISTEN as dirty; session mode reads the
	// channels back, to listen again on a new connection.
	listen bool
	// held is which of the dirty kinds (session mode follows them, to
	// know when nothing is left that a new connection would lack).
	held held
	// prepared and deallocated are the SQL-level statement names PREPARE
	// makes and DEALLOCATE drops ("" for DEALLOCATE ALL).
	prepared, deallocated []string
}

// held is a set of kinds of session state no new connection can have.
type held uint8

const (
	heldTemp   held = 1 << iota // temporary objects (DISCARD TEMP drops them)
	heldCursor                  // cursors WITH HOLD (CLOSE ALL)
	heldLock                    // session advisory locks
	heldAuth                    // another session user
	heldOther                   // LOAD, dblink connections, ...
)

// effectWords are the only words that can start an effect: text without
// any of them (most statements) is not analysed further.
var effectWords = []string{"set", "discard", "listen", "prepare", "deallocate", "temp", "advisory", "hold", "authorization", "dblink", "load"}

// dirtyCalls are functions whose effect outlives the transaction.
var dirtyCalls = map[string]bool{
	"pg_advisory_lock": true, "pg_advisory_lock_shared": true,
	"pg_try_advisory_lock": true, "pg_try_advisory_lock_shared": true, "dblink_connect": true,
}

// analyze finds the session effects of a statement text.
func analyze(sql string) effects {
	var fx effects
	if !sqltext.ContainsFold(sql, effectWords...) {
		return fx
	}
	for _, st := range sqltext.Split(sql) {
		info := sqltext.Classify(st)
		toks := sqltext.Significant(st)
		switch {
		case info.Kind == sqltext.Session:
			switch info.Command {
			case "SHOW", "SET CONSTRAINTS", "DISCARD PLANS", "DISCARD SEQUENCES", "DISCARD TEMP":
				// Nothing that outlives the transaction and is not
				// followed from the command tag.
			case "DEALLOCATE", "DEALLOCATE ALL":
				if name, ok := statementName(toks, "deallocate"); ok {
					fx.deallocated = append(fx.deallocated, name)
				}
			case "LISTEN", "UNLISTEN":
				fx.listen = true
			case "SET", "RESET", "DISCARD ALL":
				if word(toks, 1, "session") && word(toks, 2, "authorization") {
					// Followed from the session_authorization it reports.
					fx.dirty = true
				} else if !word(toks, 1, "local") && !word(toks, 1, "transaction") && !word(toks, 1, "constraints") {
					fx.settings = true
				}
			case "PREPARE":
				fx.dirty = true
				if name, ok := statementName(toks, "prepare"); ok {
					fx.prepared = append(fx.prepared, name)
				} else {
					fx.held |= heldOther
				}
			default:
				fx.dirty = true
				fx.held |= heldOther
			}
		case info.Kind == sqltext.DDL && (hasWord(toks, "temp", "temporary") || mentionsPgTemp(toks)):
			fx.dirty = true
			fx.held |= heldTemp
		case info.Command == "DECLARE CURSOR" && hasWord(toks, "hold"):
			fx.dirty = true
			fx.held |= heldCursor
		case info.Command == "LOAD":
			fx.dirty = true
			fx.held |= heldOther
		}
		for _, t := range toks {
			if t.Kind != sqltext.TokIdent {
				continue
			}
			switch w := strings.ToLower(t.Text); {
			case dirtyCalls[w]:
				fx.dirty = true
				if strings.HasPrefix(w, "pg_") {
					fx.held |= heldLock
				} else {
					fx.held |= heldOther
				}
			case w == "set_config":
				fx.settings = true
			}
		}
	}
	return fx
}

// noteEffects marks sc with what a statement sent on it may do. Called
// with the session's lock held.
func (s *TxSession) noteEffects(fx effects, sc *serverConn) {
	if fx.dirty || fx.listen && !s.pinned {
		sc.dirty = true
	}
	if fx.settings {
		sc.settingsChanged = true
	}
	if fx.listen {
		sc.listenChanged = true
	}
	sc.held |= fx.held
	if s.pinned {
		for _, name := range fx.deallocated {
			if name == "" {
				clear(s.sqlPrepared)
			} else {
				delete(s.sqlPrepared, name)
			}
		}
		for _, name := range fx.prepared {
			if s.sqlPrepared == nil {
				s.sqlPrepared = map[string]bool{}
			}
			s.sqlPrepared[name] = true
		}
	}
}

// statementName reads the statement name after PREPARE or DEALLOCATE
// [PREPARE] as PostgreSQL folds it; "" for DEALLOCATE ALL.
func statementName(toks []sqltext.Token, verb string) (string, bool) {
	if !word(toks, 0, verb) {
		return "", false
	}
	i := 1
	if verb == "deallocate" && word(toks, 1, "prepare") {
		i = 2
	}
	if i >= len(toks) {
		return "", false
	}
	switch t := toks[i]; {
	case verb == "deallocate" && word(toks, i, "all"):
		return "", true
	case t.Kind == sqltext.TokIdent:
		return strings.ToLower(t.Text), true
	case t.Kind == sqltext.TokQuotedIdent:
		return t.Value(), true
	}
	return "", false
}

// word reports whether toks[i] is the word w.
func word(toks []sqltext.Token, i int, w string) bool {
	return i < len(toks) && toks[i].Kind == sqltext.TokIdent && strings.EqualFold(toks[i].Text, w)
}

func hasWord(toks []sqltext.Token, words ...string) bool {
	for i := range toks {
		for _, w := range words {
			if word(toks, i, w) {
				return true
			}
		}
	}
	return false
}

// mentionsPgTemp reports a pg_temp schema (CREATE TABLE pg_temp.x makes a
// temporary table without the word TEMP).
func mentionsPgTemp(toks []sqltext.Token) bool {
	for _, t := range toks {
		name := strings.ToLower(strings.Trim(t.Text, `"`))
		if (t.Kind == sqltext.TokIdent || t.Kind == sqltext.TokQuotedIdent) && strings.HasPrefix(name, "pg_temp") {
			return true
		}
	}
	return false
}

// facts is what the proxy reads from a statement text: its effects on the
// session, and whether it may be sent again (replayable).
type facts struct {
	fx         effects
	replayable bool
}

// Statement texts are analysed once: a session keeps the facts of the
// texts it sent last (sessionFacts of them), in front of a table shared
// by all sessions (sharedFacts); texts longer than maxFactsText are not
// kept (the memory is for the many short statements sent again and again).
const (
	sessionFacts = 64
	sharedFacts  = 4096
	maxFactsText = 4096
)

var shared struct {
	sync.Mutex
	m map[string]facts
}

// textFacts returns the facts of q, from the session's memo or the
// shared one when q was seen before. Called with s.mu held.
func (s *TxSession) textFacts(q string) facts {
	if f, ok := s.facts[q]; ok {
		return f
	}
	shared.Lock()
	f, ok := shared.m[q]
	shared.Unlock()
	if !ok {
		f = facts{fx: analyze(q), replayable: replayable(q)}
		if len(q) <= maxFactsText {
			shared.Lock()
			if shared.m == nil || len(shared.m) >= sharedFacts {
				shared.m = make(map[string]facts, sharedFacts)
			}
			shared.m[q] = f
			shared.Unlock()
		}
	}
	if len(q) <= maxFactsText {
		if s.facts == nil || len(s.facts) >= sessionFacts {
			s.facts = make(map[string]facts, sessionFacts)
		}
		s.facts[q] = f
	}
	return f
}

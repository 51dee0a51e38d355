package postgres

import (
	"maps"
	"strings"

	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// effects is what a statement text does to the server session beyond its
// own transaction, as transaction mode needs to know.
type effects struct {
	// dirty: state the proxy does not carry between connections (LISTEN,
	// SQL-level PREPARE, temporary objects, WITH HOLD cursors, session
	// advisory locks, set_config, SET in a multi-statement query, ...).
	dirty bool
	// set is the statement when the whole text is one SET or RESET
	// (not SET LOCAL, which ends with the transaction).
	set *sqltext.Set
	sessionEffects
}

// sessionEffects are whole-session resets the proxy records.
type sessionEffects struct {
	discardAll    bool // DISCARD ALL: settings, statements, listeners...
	deallocateAll bool // DEALLOCATE ALL: every prepared statement
}

// trackedSet is a top-level SET or RESET of a setting the server does not
// report, recorded when it succeeds.
type trackedSet struct {
	name, value string
	reset, all  bool
}

// effectWords are the only words that can start an effect: text without
// any of them (most statements) is not analysed further.
var effectWords = []string{"set", "discard", "dealloc", "listen", "prepare", "temp", "advisory", "hold"}

// dirtyCalls are functions whose effect outlives the transaction.
var dirtyCalls = map[string]bool{
	"set_config": true, "pg_advisory_lock": true, "pg_advisory_lock_shared": true,
	"pg_try_advisory_lock": true, "pg_try_advisory_lock_shared": true, "dblink_connect": true,
}

// analyze finds the session effects of a statement text.
func analyze(sql string) effects {
	var fx effects
	lower := strings.ToLower(sql)
	if !containsAny(lower, effectWords) {
		return fx
	}
	stmts := sqltext.Split(sql)
	for _, st := range stmts {
		info := sqltext.Classify(st)
		switch {
		case info.Kind == sqltext.Session:
			switch info.Command {
			case "SHOW":
			case "SET", "RESET":
				if set, ok := sqltext.ParseSet(st); ok {
					if set.Local {
						continue
					}
					if len(stmts) == 1 {
						fx.set = &set
						continue
					}
				} else if transactionScoped(st) {
					continue
				}
				fx.dirty = true
			case "DISCARD ALL":
				fx.discardAll = true
				fx.dirty = fx.dirty || len(stmts) > 1
			case "DEALLOCATE ALL":
				fx.deallocateAll = true
				fx.dirty = fx.dirty || len(stmts) > 1
			default:
				fx.dirty = fx.dirty || !transactionScoped(st)
			}
		case info.Kind == sqltext.DDL && hasWord(st, "temp", "temporary"):
			fx.dirty = true
		case info.Command == "DECLARE CURSOR" && hasWord(st, "hold"):
			fx.dirty = true
		}
		for _, t := range sqltext.Significant(st) {
			if t.Kind == sqltext.TokIdent && dirtyCalls[strings.ToLower(t.Text)] {
				fx.dirty = true
			}
		}
	}
	return fx
}

// transactionScoped reports SET TRANSACTION, SET CONSTRAINTS and SET LOCAL
// forms that ParseSet leaves to the server: they end with the transaction.
func transactionScoped(stmt string) bool {
	toks := sqltext.Significant(stmt)
	if len(toks) < 2 {
		return false
	}
	switch strings.ToLower(toks[1].Text) {
	case "transaction", "constraints", "local":
		return true
	}
	return false
}

func hasWord(stmt string, words ...string) bool {
	for _, t := range sqltext.Significant(stmt) {
		if t.Kind != sqltext.TokIdent {
			continue
		}
		for _, w := range words {
			if strings.EqualFold(t.Text, w) {
				return true
			}
		}
	}
	return false
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// untracked are settings a SET of which the proxy does not carry: they
// change who the session is or belong to a transaction.
var untracked = map[string]bool{
	"role": true, "session_authorization": true, "transaction_isolation": true,
	"transaction_read_only": true, "transaction_deferrable": true,
}

// noteEffects records in e (or on sc) what a Query does beyond its
// transaction. track is set when the Query starts the connection's use by
// this client, outside any transaction, so that its success can be
// recorded as the client's own state. Called with s.mu held.
func (s *TxSession) noteEffects(e *reply, fx effects, sc *serverConn, track bool) {
	if fx.dirty {
		sc.dirty = true
	}
	if set := fx.set; set != nil {
		switch {
		case set.All:
			// Reported settings come back through ParameterStatus.
			if track {
				e.set = &trackedSet{all: true}
			} else {
				sc.dirty = true
			}
		case reportedName(sc.params, set.Name) != "":
		case untracked[set.Name] || !track:
			sc.dirty = true
		default:
			e.set = &trackedSet{name: set.Name, value: set.Value, reset: set.Default}
		}
	}
	if fx.discardAll || fx.deallocateAll {
		if track && !fx.dirty {
			e.reset = fx.sessionEffects
		} else {
			sc.dirty = true
		}
	}
}

// record applies a Query's session effects once it succeeded. Called
// with s.mu held.
func (s *TxSession) record(sc *serverConn, e reply) {
	if t := e.set; t != nil {
		switch {
		case t.all:
			s.fixed = maps.Clone(s.startFixed)
			clear(sc.applied)
		case t.reset:
			if v, ok := s.startFixed[t.name]; ok {
				s.fixed[t.name] = v
			} else {
				delete(s.fixed, t.name)
			}
			delete(sc.applied, t.name)
		default:
			s.fixed[t.name] = t.value
			sc.applied[t.name] = t.value
		}
		s.version++
	}
	if e.reset.discardAll || e.reset.deallocateAll {
		clear(s.stmts)
		clear(sc.prepared)
	}
	if e.reset.discardAll {
		s.unnamed, sc.unnamed = nil, nil
		s.fixed = maps.Clone(s.startFixed)
		clear(sc.applied)
		s.version++
	}
}

package bridge

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// beginTx opens a transaction on the data source. immediate takes the
// writer lock first and starts SQLite's write transaction at once, for
// transactions known to write (an implicit block around writes). An
// explicit BEGIN is deferred: read-only transactions, which is what DB-API
// drivers open around every SELECT, then never wait for each other, and the
// first write takes the lock (lockForWrite).
func (s *Session) beginTx(ctx context.Context, immediate, readOnly bool, isolation string) error {
	if immediate && !s.locked {
		if err := s.b.acquire(ctx); err != nil {
			return err
		}
		s.locked = s.b.lock != nil
	}
	if err := s.startTx(ctx, immediate, readOnly, isolation); err != nil {
		s.unlock()
		return err
	}
	s.tx, s.open, s.txReadOnly, s.txQueried = 'T', true, readOnly, false
	s.set.begin(readOnly, isolation)
	return nil
}

// startTx runs the statements that open a transaction on the data source:
// a TxStarter's, with the transaction's modes ("" isolation means
// default_transaction_isolation), or BeginSQL.
func (s *Session) startTx(ctx context.Context, immediate, readOnly bool, isolation string) error {
	ts, ok := s.d.(TxStarter)
	if !ok {
		return s.cache.exec(ctx, s.d.BeginSQL(immediate))
	}
	if isolation == "" {
		isolation, _ = s.set.get("default_transaction_isolation")
	}
	for _, q := range ts.BeginStatements(readOnly, strings.ToLower(isolation)) {
		if err := s.cache.exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// beginImplicit opens the implicit transaction that PostgreSQL wraps around
// the statements of one multi-statement Query, or of one extended-protocol
// batch up to Sync.
func (s *Session) beginImplicit(ctx context.Context, write bool) error {
	if err := s.beginTx(ctx, write, s.set.defaultReadOnly(), ""); err != nil {
		return err
	}
	s.implicit = true
	return nil
}

// endTx commits (or rolls back) the open transaction and releases the lock.
// A commit that fails rolls back, and the error is returned.
func (s *Session) endTx(ctx context.Context, commit bool) error {
	var err error
	if s.open {
		if commit && s.tx == 'T' {
			if err = s.cache.exec(context.WithoutCancel(ctx), "COMMIT"); err != nil {
				commit = false
			}
		}
		if !commit {
			// The data source may have ended the transaction itself (SQLite
			// does on some errors); a failing ROLLBACK then changes nothing.
			_ = s.cache.exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}
	if commit && s.tx == 'T' {
		s.set.commit()
	} else {
		s.set.rollback()
	}
	s.tx, s.implicit, s.open, s.txReadOnly = 'I', false, false, false
	s.unlock()
	s.closeTxPortals(commit)
	return err
}

// abortFailed ends the data source's side of a transaction that failed
// with no savepoint to return to: nothing but ROLLBACK can follow, so the
// writer lock and SQLite's locks are released now instead of when the
// client gets round to ROLLBACK. The client still sees status E.
func (s *Session) abortFailed(ctx context.Context) {
	if !s.open || len(s.set.saves) > 0 {
		return
	}
	_ = s.cache.exec(context.WithoutCancel(ctx), "ROLLBACK")
	s.open = false
	s.unlock()
	s.closeTxPortals(false)
}

func warning(code, msg string) *pgproto3.NoticeResponse {
	return (&pgcode.Error{Severity: pgcode.SeverityWarning, Code: code, Message: msg}).Notice()
}

// txControl runs BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE and ROLLBACK TO
// with PostgreSQL's answers in every transaction state, and returns the tag.
func (s *Session) txControl(ctx context.Context, st *stmt, w backends.Writer) (string, error) {
	tx := st.info.Tx
	switch tx.Op {
	case sqltext.TxBegin:
		tag := st.info.Command
		if s.tx != 'I' && !s.implicit {
			return tag, w.Send(warning(pgcode.ActiveSQLTransaction, "there is already a transaction in progress"))
		}
		if s.implicit {
			// BEGIN inside a multi-statement Query turns the implicit
			// transaction into an explicit one.
			s.implicit = false
			return tag, nil
		}
		return tag, s.beginTx(ctx, false, tx.ReadOnly || s.set.defaultReadOnly(), tx.Isolation)
	case sqltext.TxCommit:
		if s.tx == 'I' {
			return "COMMIT", w.Send(warning(pgcode.NoActiveSQLTransaction, "there is no transaction in progress"))
		}
		if s.implicit {
			// PostgreSQL commits an implicit block but warns that there was
			// no transaction block to commit (EndTransactionBlock).
			if err := w.Send(warning(pgcode.NoActiveSQLTransaction, "there is no transaction in progress")); err != nil {
				return "", err
			}
		}
		failed := s.tx == 'E'
		readOnly, iso := s.txReadOnly, s.set.isolation()
		if err := s.endTx(ctx, !failed); err != nil {
			return "", err
		}
		if tx.Chain {
			if err := s.beginTx(ctx, false, readOnly, iso); err != nil {
				return "", err
			}
		}
		if failed {
			return "ROLLBACK", nil
		}
		return "COMMIT", nil
	case sqltext.TxRollback:
		if s.tx == 'I' {
			return "ROLLBACK", w.Send(warning(pgcode.NoActiveSQLTransaction, "there is no transaction in progress"))
		}
		if s.implicit {
			if err := w.Send(warning(pgcode.NoActiveSQLTransaction, "there is no transaction in progress")); err != nil {
				return "", err
			}
		}
		readOnly, iso := s.txReadOnly, s.set.isolation()
		if err := s.endTx(ctx, false); err != nil {
			return "", err
		}
		if tx.Chain {
			if err := s.beginTx(ctx, false, readOnly, iso); err != nil {
				return "", err
			}
		}
		return "ROLLBACK", nil
	case sqltext.TxSavepoint:
		if s.tx == 'I' || s.implicit {
			return "", pgcode.New(pgcode.NoActiveSQLTransaction, "SAVEPOINT can only be used in transaction blocks")
		}
		if _, err := s.conn.ExecContext(ctx, s.savepointSQL("SAVEPOINT ", tx.Savepoint, st.text)); err != nil {
			return "", err
		}
		s.set.savepoint(tx.Savepoint)
		return "SAVEPOINT", nil
	case sqltext.TxRelease, sqltext.TxRollbackTo:
		verb := "RELEASE SAVEPOINT"
		if tx.Op == sqltext.TxRollbackTo {
			verb = "ROLLBACK TO SAVEPOINT"
		}
		if s.tx == 'I' || s.implicit {
			return "", pgcode.New(pgcode.NoActiveSQLTransaction, verb+" can only be used in transaction blocks")
		}
		i := s.set.findSavepoint(tx.Savepoint)
		if i < 0 {
			return "", pgcode.New(pgcode.InvalidSavepointSpecification, fmt.Sprintf("savepoint %q does not exist", tx.Savepoint))
		}
		if _, err := s.conn.ExecContext(ctx, s.savepointSQL(verb+" ", tx.Savepoint, st.text)); err != nil {
			return "", err
		}
		if tx.Op == sqltext.TxRelease {
			s.set.release(i)
			return "RELEASE", nil
		}
		s.set.rollbackTo(i)
		s.tx = 'T'
		return "ROLLBACK", nil
	}
	return "", pgcode.New(pgcode.FeatureNotSupported, st.info.Command+" is not supported")
}

// savepointSQL is the statement sent for SAVEPOINT, RELEASE SAVEPOINT or
// ROLLBACK TO SAVEPOINT (verb): with an IdentQuoter, the verb and the
// normalised name (lower-cased unless it was quoted), quoted in the data
// source's way; otherwise the client's text.
func (s *Session) savepointSQL(verb, name, text string) string {
	if q, ok := s.d.(IdentQuoter); ok {
		return verb + q.QuoteIdent(name)
	}
	return text
}

// applySet runs SET and RESET against the session settings.
func (s *Session) applySet(set sqltext.Set, w backends.Writer) error {
	inTx := s.tx != 'I' && !s.implicit
	if set.All {
		s.set.resetAll()
		return nil
	}
	if set.Local && !inTx {
		// PostgreSQL ignores SET LOCAL outside a transaction block, with a
		// warning (it still checks the parameter name and value).
		if _, _, err := s.set.check(set.Name, set.Value, set.Default); err != nil {
			return err
		}
		return w.Send(warning(pgcode.NoActiveSQLTransaction, "SET LOCAL can only be used in transaction blocks"))
	}
	return s.set.set(set.Name, set.Value, set.Local, set.Reset || set.Default, inTx)
}

// txModes is SET [SESSION CHARACTERISTICS AS] TRANSACTION's list of modes.
type txModes struct {
	session   bool   // SESSION CHARACTERISTICS: sets the defaults
	readOnly  string // "on", "off" or "" (not given)
	isolation string // "" when not given
}

// parseSetTransaction recognises SET TRANSACTION modes and SET SESSION
// CHARACTERISTICS AS TRANSACTION modes.
func parseSetTransaction(command, text string) (txModes, bool) {
	if command != "SET" {
		return txModes{}, false
	}
	var words []string
	for _, t := range sqltext.Significant(text) {
		switch t.Kind {
		case sqltext.TokIdent:
			words = append(words, strings.ToUpper(t.Text))
		case sqltext.TokOperator:
			if t.Text != "," {
				return txModes{}, false
			}
		case sqltext.TokSemicolon:
		default:
			return txModes{}, false
		}
	}
	var m txModes
	rest, ok := cutWords(words, "SET", "TRANSACTION")
	if !ok {
		if rest, ok = cutWords(words, "SET", "SESSION", "CHARACTERISTICS", "AS", "TRANSACTION"); !ok {
			return m, false
		}
		m.session = true
	}
	if len(rest) == 0 {
		return m, false
	}
	for len(rest) > 0 {
		switch {
		case hasWords(rest, "ISOLATION", "LEVEL", "SERIALIZABLE"):
			m.isolation, rest = "serializable", rest[3:]
		case hasWords(rest, "ISOLATION", "LEVEL", "REPEATABLE", "READ"):
			m.isolation, rest = "repeatable read", rest[4:]
		case hasWords(rest, "ISOLATION", "LEVEL", "READ", "COMMITTED"):
			m.isolation, rest = "read committed", rest[4:]
		case hasWords(rest, "ISOLATION", "LEVEL", "READ", "UNCOMMITTED"):
			m.isolation, rest = "read uncommitted", rest[4:]
		case hasWords(rest, "READ", "ONLY"):
			m.readOnly, rest = "on", rest[2:]
		case hasWords(rest, "READ", "WRITE"):
			m.readOnly, rest = "off", rest[2:]
		case hasWords(rest, "NOT", "DEFERRABLE"):
			rest = rest[2:]
		case hasWords(rest, "DEFERRABLE"):
			rest = rest[1:]
		default:
			return m, false
		}
	}
	return m, true
}

func hasWords(words []string, want ...string) bool {
	if len(words) < len(want) {
		return false
	}
	for i, w := range want {
		if words[i] != w {
			return false
		}
	}
	return true
}

func cutWords(words []string, want ...string) ([]string, bool) {
	if !hasWords(words, want...) {
		return words, false
	}
	return words[len(want):], true
}

// setTransaction applies SET [SESSION CHARACTERISTICS AS] TRANSACTION.
func (s *Session) setTransaction(ctx context.Context, m txModes, w backends.Writer) error {
	if m.session {
		if m.readOnly != "" {
			if err := s.set.set("default_transaction_read_only", m.readOnly, false, false, s.tx != 'I'); err != nil {
				return err
			}
		}
		if m.isolation != "" {
			return s.set.set("default_transaction_isolation", m.isolation, false, false, s.tx != 'I')
		}
		return nil
	}
	if s.tx == 'I' || s.implicit {
		return w.Send(warning(pgcode.NoActiveSQLTransaction, "SET TRANSACTION can only be used in transaction blocks"))
	}
	isolation := m.isolation != "" && m.isolation != s.set.isolation()
	readOnly := m.readOnly != "" && (m.readOnly == "on") != s.txReadOnly
	if !isolation && !readOnly {
		return nil
	}
	// PostgreSQL's rules (check_transaction_isolation, check_transaction_read_only).
	if isolation && s.txQueried {
		return pgcode.New(pgcode.ActiveSQLTransaction, "SET TRANSACTION ISOLATION LEVEL must be called before any query")
	}
	if isolation && len(s.set.saves) > 0 {
		return pgcode.New(pgcode.ActiveSQLTransaction, "SET TRANSACTION ISOLATION LEVEL must not be called in a subtransaction")
	}
	if readOnly && m.readOnly == "off" && s.txQueried {
		return pgcode.New(pgcode.ActiveSQLTransaction, "transaction read-write mode must be set before any query")
	}
	if readOnly && m.readOnly == "off" && len(s.set.saves) > 0 {
		return pgcode.New(pgcode.ActiveSQLTransaction, "cannot set transaction read-write mode inside a read-only transaction")
	}
	newReadOnly := s.txReadOnly
	if m.readOnly != "" {
		newReadOnly = m.readOnly == "on"
	}
	newIsolation := s.set.isolation()
	if m.isolation != "" {
		newIsolation = m.isolation
	}
	if _, ok := s.d.(TxStarter); ok && s.open && !s.txQueried && len(s.set.saves) == 0 {
		// The data source's transaction has run nothing yet: start it
		// again with the new modes (MySQL takes them only before START
		// TRANSACTION). Becoming READ ONLY later needs no restart: the
		// proxy refuses writes itself (25006).
		if err := s.cache.exec(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
			return err
		}
		if err := s.startTx(context.WithoutCancel(ctx), s.locked, newReadOnly, newIsolation); err != nil {
			s.open = false
			return err
		}
	}
	if m.readOnly != "" {
		s.txReadOnly = newReadOnly
		if err := s.set.set("transaction_read_only", m.readOnly, true, false, true); err != nil {
			return err
		}
	}
	if m.isolation != "" {
		return s.set.set("transaction_isolation", m.isolation, true, false, true)
	}
	return nil
}

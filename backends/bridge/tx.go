package bridge

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// beginTx opens a transaction on the data source. A transaction that may
// write takes the writer lock first (when the backend serializes writes).
func (s *Session) beginTx(ctx context.Context, write bool) error {
	if write && !s.locked {
		if err := s.b.acquire(ctx); err != nil {
			return err
		}
		s.locked = s.b.lock != nil
	}
	if err := s.cache.exec(ctx, s.d.BeginSQL(write)); err != nil {
		s.unlock()
		return err
	}
	s.tx = 'T'
	s.set.begin()
	return nil
}

// beginImplicit opens the implicit transaction that PostgreSQL wraps around
// the statements of one multi-statement Query, or of one extended-protocol
// batch up to Sync.
func (s *Session) beginImplicit(ctx context.Context, write bool) error {
	if err := s.beginTx(ctx, write); err != nil {
		return err
	}
	s.implicit = true
	return nil
}

// endTx commits (or rolls back) the open transaction and releases the lock.
// A commit that fails rolls back, and the error is returned.
func (s *Session) endTx(ctx context.Context, commit bool) error {
	var err error
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
	if commit {
		s.set.commit()
	} else {
		s.set.rollback()
	}
	s.tx, s.implicit = 'I', false
	s.unlock()
	for name := range s.portals {
		s.closePortal(name)
	}
	return err
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
		return tag, s.beginTx(ctx, !tx.ReadOnly)
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
		readOnly := !s.locked
		if err := s.endTx(ctx, !failed); err != nil {
			return "", err
		}
		if tx.Chain {
			if err := s.beginTx(ctx, !readOnly); err != nil {
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
		readOnly := !s.locked
		if err := s.endTx(ctx, false); err != nil {
			return "", err
		}
		if tx.Chain {
			if err := s.beginTx(ctx, !readOnly); err != nil {
				return "", err
			}
		}
		return "ROLLBACK", nil
	case sqltext.TxSavepoint:
		if s.tx == 'I' || s.implicit {
			return "", pgcode.New(pgcode.NoActiveSQLTransaction, "SAVEPOINT can only be used in transaction blocks")
		}
		if _, err := s.conn.ExecContext(ctx, st.text); err != nil {
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
		if _, err := s.conn.ExecContext(ctx, st.text); err != nil {
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

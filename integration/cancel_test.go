package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Statements that never end on their own: SQLite counts forever, or
// streams rows forever.
const (
	unboundedCount = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c`
	unboundedRows  = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c`
)

// runCancelled runs sql on c in a goroutine and sends CancelRequests for
// c's session until the statement returns, and returns its error. A
// CancelRequest that arrives before the statement starts changes nothing
// (as in PostgreSQL), hence the repetition; pgconn's CancelRequest returns
// only once the server has closed the cancel connection, so none is still
// in flight when this returns. A cancel that never works fails the test at
// the context's deadline instead of hanging it.
func runCancelled(t *testing.T, c *pgx.Conn, sql string) error {
	t.Helper()
	ctx := ctxT(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, sql)
		done <- err
	}()
	pc := c.PgConn()
	for {
		if err := pc.CancelRequest(ctx); err != nil {
			t.Fatalf("sending CancelRequest: %v", err)
		}
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			t.Fatalf("the statement was not cancelled: %v", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestCancelLongQuery: a CancelRequest stops a running SQLite statement with
// 57014 and the session goes on, in every mode.
func TestCancelLongQuery(t *testing.T) {
	p := newProxy(t, sqliteSecrets("cancel_db"))
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			c := p.Connect(t, "cancel_db", mode)
			err := runCancelled(t, c, unboundedCount)
			pe := wantCode(t, err, "57014")
			if pe.Message != "canceling statement due to user request" {
				t.Errorf("message %q", pe.Message)
			}
			wantTx(t, c.PgConn(), 'I', "a cancelled statement")
			if got := queryString(t, c, "SELECT 'still here'"); got != "still here" {
				t.Errorf("after the cancel: %q", got)
			}
		})
	}
}

// TestCancelInTransaction: a cancelled statement fails the transaction like
// any error; ROLLBACK recovers and undoes what came before.
func TestCancelInTransaction(t *testing.T) {
	p := newProxy(t, sqliteSecrets("cancel_db"))
	c := p.Connect(t, "cancel_db")
	mustExec(t, c, "CREATE TABLE t (v INTEGER)")
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO t VALUES (1)")
	wantCode(t, runCancelled(t, c, unboundedCount), "57014")
	wantTx(t, c.PgConn(), 'E', "a cancelled statement in a transaction")
	_, err := c.Exec(ctxT(t), "INSERT INTO t VALUES (2)")
	wantCode(t, err, "25P02")
	mustExec(t, c, "ROLLBACK")
	if n := countRows(t, c, "t"); n != 0 {
		t.Errorf("%d rows after ROLLBACK, want 0", n)
	}
	// The write lock the transaction held is free again.
	other := p.Connect(t, "cancel_db")
	mustExec(t, other, "INSERT INTO t VALUES (3)")
}

// TestCancelViaContext: pgx cancelling a query through its context (its
// CancelRequest handler) ends a streaming query with 57014, and the
// connection stays open and usable.
func TestCancelViaContext(t *testing.T) {
	p := newProxy(t, sqliteSecrets("cancel_db"))
	cfg, err := pgx.ParseConfig(p.URL("cancel_db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		// Cancel at once; close the socket only if the server ignores it.
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 20 * time.Second}
	}
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			cfg.DefaultQueryExecMode = mode
			c, err := pgx.ConnectConfig(ctxT(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close(context.Background()) })

			qctx, cancel := context.WithCancel(ctxT(t))
			defer cancel()
			rows, err := c.Query(qctx, unboundedRows)
			if err != nil {
				t.Fatal(err)
			}
			// A first row proves the statement is running in the proxy.
			if !rows.Next() {
				t.Fatalf("no first row: %v", rows.Err())
			}
			cancel()
			for rows.Next() {
			}
			err = rows.Err()
			if err == nil {
				t.Fatal("the unbounded query ended without an error")
			}
			if !strings.Contains(err.Error(), "57014") {
				t.Errorf("error %v, want SQLSTATE 57014", err)
			}
			if c.IsClosed() {
				t.Fatal("the connection was closed: the cancel did not reach the statement before pgx's deadline")
			}
			if got := queryString(t, c, "SELECT 'alive'"); got != "alive" {
				t.Errorf("after the cancel: %q", got)
			}
		})
	}
}

// TestCancelIdleSessionChangesNothing: a CancelRequest for a session that
// is not running anything is ignored, and is not kept to cancel its next
// statement; this holds inside a transaction too.
func TestCancelIdleSessionChangesNothing(t *testing.T) {
	p := newProxy(t, sqliteSecrets("cancel_db"))
	c := p.Connect(t, "cancel_db")
	ctx := ctxT(t)
	mustExec(t, c, "CREATE TABLE t (v INTEGER)")

	if err := c.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, "INSERT INTO t VALUES (1)")

	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO t VALUES (2)")
	if err := c.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	wantTx(t, c.PgConn(), 'T', "BEGIN")
	// A statement that would notice a pending cancel, but finite.
	var n int64
	err := c.QueryRow(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 20000) SELECT count(*) FROM c`,
		pgx.QueryExecModeExec).Scan(&n)
	if err != nil || n != 20000 {
		t.Fatalf("statement after an idle cancel: %d, %v", n, err)
	}
	mustExec(t, c, "COMMIT")
	if n := countRows(t, c, "t"); n != 2 {
		t.Errorf("%d rows, want 2", n)
	}
}

// TestCancelWithWrongKeyChangesNothing: a CancelRequest with the right
// process ID and a wrong secret does not touch the running statement.
func TestCancelWithWrongKeyChangesNothing(t *testing.T) {
	p := newProxy(t, sqliteSecrets("cancel_db"))
	c := p.Connect(t, "cancel_db", pgx.QueryExecModeSimpleProtocol)
	pid, key := c.PgConn().PID(), c.PgConn().SecretKey()
	wrong := append([]byte(nil), key...)
	wrong[0] ^= 0xff

	// About 16 MB of output: more than the socket buffers hold, so the
	// statement is still producing rows when the bad cancel is handled.
	const total = 8000
	rows, err := c.Query(ctxT(t), `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 8000) SELECT x, zeroblob(1000) FROM c`)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatalf("no first row: %v", rows.Err())
	}
	// Send the bad cancel and wait until the proxy has closed its
	// connection, i.e. has handled it.
	rc := dialRaw(t, p.Addr)
	rc.send(&pgproto3.CancelRequest{ProcessID: pid, SecretKey: wrong})
	if msgs, _ := rc.readAll(); len(msgs) != 0 {
		t.Errorf("the proxy answered a CancelRequest: %s", msgNames(msgs))
	}
	n := 1
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("after a wrong-key cancel, the statement failed: %v", err)
	}
	if n != total {
		t.Errorf("%d rows, want %d", n, total)
	}
}

// TestStatementTimeout: statement_timeout cancels a statement with 57014
// and its own message.
func TestStatementTimeout(t *testing.T) {
	p := newProxy(t, sqliteSecrets("cancel_db"))
	c := p.Connect(t, "cancel_db")
	mustExec(t, c, "SET statement_timeout = '50ms'")
	_, err := c.Exec(ctxT(t), unboundedCount)
	pe := wantCode(t, err, "57014")
	if pe.Message != "canceling statement due to statement timeout" {
		t.Errorf("message %q", pe.Message)
	}
	mustExec(t, c, "RESET statement_timeout")
	if got := queryString(t, c, "SELECT 'ok'"); got != "ok" {
		t.Errorf("after the timeout: %q", got)
	}
}

// TestCancelWhileWaitingForWriteLock: a write waiting for another
// session's write transaction is cancellable like a running statement,
// and gives up nothing it did not have.
func TestCancelWhileWaitingForWriteLock(t *testing.T) {
	p := newProxy(t, sqliteSecrets("cancel_db"))
	holder := p.Connect(t, "cancel_db")
	mustExec(t, holder, "CREATE TABLE t (v INTEGER)")
	mustExec(t, holder, "BEGIN")
	mustExec(t, holder, "INSERT INTO t VALUES (1)")

	waiter := p.Connect(t, "cancel_db")
	wantCode(t, runCancelled(t, waiter, "INSERT INTO t VALUES (2)"), "57014")
	wantTx(t, waiter.PgConn(), 'I', "a cancelled autocommit write")

	mustExec(t, holder, "COMMIT")
	mustExec(t, waiter, "INSERT INTO t VALUES (3)")
	if got := queryString(t, waiter, "SELECT group_concat(v) FROM (SELECT v FROM t ORDER BY v)"); got != "1,3" {
		t.Errorf("rows %q, want 1,3", got)
	}
}

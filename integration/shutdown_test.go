package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// shutdownAsync starts p.Server.Shutdown(ctx) and returns its result
// channel, once the server has stopped accepting: from then on it is
// draining (Shutdown marks the server draining before it closes the
// listener), which is the state the tests want to observe.
func shutdownAsync(t *testing.T, p *testProxy, ctx context.Context) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.Server.Shutdown(ctx) }()
	bound := ctxT(t)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, rawTimeout)
		if err != nil {
			return done
		}
		c.Close()
		select {
		case <-bound.Done():
			t.Fatal("the proxy still accepts connections after Shutdown started")
		case err := <-done:
			// Shutdown finished between the dial and now; it must
			// refuse from here on.
			if c, derr := net.DialTimeout("tcp", p.Addr, rawTimeout); derr == nil {
				c.Close()
				t.Fatalf("the proxy accepts connections after Shutdown returned (%v)", err)
			}
			again := make(chan error, 1)
			again <- err
			return again
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// waitShutdown waits for Shutdown's result.
func waitShutdown(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-ctxT(t).Done():
		t.Fatal("Shutdown did not return")
		return nil
	}
}

// secretsAt serves the SQLite file name.db in dir under the connection
// name "check", to look at what a shut down proxy left behind.
func secretsAt(dir, name string) string {
	return fmt.Sprintf("[connections.check]\nurl = \"sqlite:///%s/%s.db\"\n", dir, name)
}

// TestShutdownIdleClient: an idle client is told 57P01 and disconnected at
// once; Shutdown returns when it is gone.
func TestShutdownIdleClient(t *testing.T) {
	p := newProxy(t, sqliteSecrets("shut_db"))
	idle := startRaw(t, p, "shut_db")
	done := shutdownAsync(t, p, ctxT(t))

	msgs, err := idle.readAll()
	expectMsgs(t, msgs, "ErrorResponse")
	e := msgs[0].(*pgproto3.ErrorResponse)
	if e.Severity != "FATAL" || e.Code != "57P01" || e.Message != "terminating connection due to administrator command" {
		t.Errorf("got %s %s %q, want FATAL 57P01", e.Severity, e.Code, e.Message)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("the connection was not closed after the FATAL: %v", err)
	}
	if err := waitShutdown(t, done); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if n := p.Server.Sessions(); n != 0 {
		t.Errorf("%d sessions after Shutdown", n)
	}
}

// TestShutdownRunningStatement: a client whose statement is running when
// Shutdown starts gets the whole result, then 57P01.
func TestShutdownRunningStatement(t *testing.T) {
	p := newProxy(t, sqliteSecrets("shut_db"))
	rc := startRaw(t, p, "shut_db")
	// About 16 MB of rows: more than the socket buffers hold, so the
	// statement cannot finish before this client reads on.
	const total = 8000
	rc.send(&pgproto3.Query{String: fmt.Sprintf(
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT %d) SELECT x, zeroblob(1000) FROM c", total)})
	for {
		m := rc.mustRecv()
		if _, ok := m.(*pgproto3.DataRow); ok {
			break // the statement is running
		}
	}
	done := shutdownAsync(t, p, ctxT(t))

	rows := 1
	var rest []pgproto3.BackendMessage
	for {
		m, err := rc.recv()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("stalled after %d rows and %s", rows, msgNames(rest))
			}
			break
		}
		if _, ok := m.(*pgproto3.DataRow); ok && len(rest) == 0 {
			rows++
			continue
		}
		rest = append(rest, m)
	}
	if rows != total {
		t.Errorf("%d rows, want all %d", rows, total)
	}
	expectMsgs(t, rest, "CommandComplete", "ReadyForQuery", "ErrorResponse")
	if e := rest[2].(*pgproto3.ErrorResponse); e.Severity != "FATAL" || e.Code != "57P01" {
		t.Errorf("after the result: %s %s %q, want FATAL 57P01", e.Severity, e.Code, e.Message)
	}
	if err := waitShutdown(t, done); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestShutdownInTransaction: a client inside a transaction when Shutdown
// starts may finish it: its COMMIT succeeds and is durable, and then it is
// disconnected with 57P01. Meanwhile an idle client is already gone.
func TestShutdownInTransaction(t *testing.T) {
	p := newProxy(t, sqliteSecrets("shut_db"))
	rc := startRaw(t, p, "shut_db")
	expectExchange(t, rc.exchange(&pgproto3.Query{String: "CREATE TABLE t (v INTEGER)"}),
		"CommandComplete CREATE TABLE", "ReadyForQuery I")
	expectExchange(t, rc.exchange(&pgproto3.Query{String: "BEGIN; INSERT INTO t VALUES (1)"}),
		"CommandComplete BEGIN", "CommandComplete INSERT 0 1", "ReadyForQuery T")
	idle := startRaw(t, p, "shut_db")

	done := shutdownAsync(t, p, ctxT(t))
	if msgs, _ := idle.readAll(); len(msgs) != 1 || msgs[0].(*pgproto3.ErrorResponse).Code != "57P01" {
		t.Errorf("idle client: %s", describeMsgs(msgs))
	}

	// Still inside its transaction, the client carries on and commits.
	expectExchange(t, rc.exchange(&pgproto3.Query{String: "INSERT INTO t VALUES (2)"}),
		"CommandComplete INSERT 0 1", "ReadyForQuery T")
	expectExchange(t, rc.exchange(&pgproto3.Query{String: "COMMIT"}),
		"CommandComplete COMMIT", "ReadyForQuery I")
	msgs, _ := rc.readAll()
	if len(msgs) != 1 || msgs[0].(*pgproto3.ErrorResponse).Code != "57P01" {
		t.Errorf("after COMMIT: %s, want FATAL 57P01", describeMsgs(msgs))
	}
	if err := waitShutdown(t, done); err != nil {
		t.Errorf("Shutdown: %v", err)
	}

	q := newProxy(t, secretsAt(p.Dir, "shut_db"))
	c := q.Connect(t, "check")
	if got := queryString(t, c, "SELECT group_concat(v) FROM (SELECT v FROM t ORDER BY v)"); got != "1,2" {
		t.Errorf("rows %q after Shutdown, want 1,2 (the transaction committed)", got)
	}
}

// TestShutdownRefusesNewClients: once Shutdown has started, new TCP
// connections are refused, and a client that connected before but had not
// finished its startup gets FATAL 57P03.
func TestShutdownRefusesNewClients(t *testing.T) {
	p := newProxy(t, sqliteSecrets("shut_db"))
	early := dialRaw(t, p.Addr) // accepted, startup not sent yet
	// A session in a transaction keeps Shutdown waiting while we look.
	busy := startRaw(t, p, "shut_db")
	expectExchange(t, busy.exchange(&pgproto3.Query{String: "BEGIN"}), "CommandComplete BEGIN", "ReadyForQuery T")

	done := shutdownAsync(t, p, ctxT(t))

	if c, err := net.DialTimeout("tcp", p.Addr, rawTimeout); err == nil {
		c.Close()
		t.Error("a new connection was accepted after Shutdown started")
	}
	if err := connectErr(t, p.URL("shut_db")); err == nil {
		t.Error("pgx connected after Shutdown started")
	}

	early.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "tester", "database": "shut_db"}})
	msgs, _ := early.readAll()
	e, ok := findMsg[*pgproto3.ErrorResponse](msgs)
	if !ok || e.Severity != "FATAL" || e.Code != "57P03" {
		t.Errorf("startup during shutdown: %s, want FATAL 57P03", describeMsgs(msgs))
	}

	expectExchange(t, busy.exchange(&pgproto3.Query{String: "ROLLBACK"}), "CommandComplete ROLLBACK", "ReadyForQuery I")
	if err := waitShutdown(t, done); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestShutdownContextExpires: when Shutdown's context ends before a
// session finishes its transaction, the session is closed and Shutdown
// returns the context's error; the transaction is rolled back.
func TestShutdownContextExpires(t *testing.T) {
	p := newProxy(t, sqliteSecrets("shut_db"))
	rc := startRaw(t, p, "shut_db")
	rc.exchange(&pgproto3.Query{String: "CREATE TABLE t (v INTEGER)"})
	expectExchange(t, rc.exchange(&pgproto3.Query{String: "BEGIN; INSERT INTO t VALUES (1)"}),
		"CommandComplete BEGIN", "CommandComplete INSERT 0 1", "ReadyForQuery T")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := shutdownAsync(t, p, ctx)
	cancel()
	if err := waitShutdown(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown: %v, want context.Canceled", err)
	}
	if _, err := rc.readAll(); err == nil {
		t.Error("the connection is still open")
	} else {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("the connection was not closed: %v", err)
		}
	}

	q := newProxy(t, secretsAt(p.Dir, "shut_db"))
	c := q.Connect(t, "check")
	if n := countRows(t, c, "t"); n != 0 {
		t.Errorf("%d rows: the unfinished transaction must not be committed", n)
	}
}

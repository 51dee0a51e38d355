package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// newProxy is startProxy with the proxy's logs kept in a buffer and
// printed only when the test fails. The harness's default sends them to
// t.Log, which panics when a session goroutine logs after the test has
// completed (Server.Close does not wait for sessions to finish).
func newProxy(t testing.TB, secretsTOML string, opts ...proxyOptions) *testProxy {
	t.Helper()
	var o proxyOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.logs == nil {
		buf := &lockedBuffer{}
		o.logs = buf
		// Registered before startProxy's cleanup, so it runs after it.
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("proxy logs:\n%s", buf.String())
			}
		})
	}
	return startProxy(t, secretsTOML, o)
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rawClient is a PostgreSQL frontend over a bare TCP connection, for tests
// that must see every backend message (PortalSuspended, ParameterDescription,
// the exact ErrorResponse of a protocol violation).
type rawClient struct {
	t    testing.TB
	conn net.Conn
	fe   *pgproto3.Frontend
	// Startup holds what the server sent up to the first ReadyForQuery.
	Startup []pgproto3.BackendMessage
}

// rawTimeout bounds every read of a raw client, so a proxy that never
// answers fails the test instead of hanging it.
const rawTimeout = 10 * time.Second

// dialRaw opens a TCP connection to the proxy without saying anything.
func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, rawTimeout)
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, conn: c, fe: pgproto3.NewFrontend(c, c)}
}

// startRaw dials the proxy and completes the startup exchange for database
// db as user "tester".
func startRaw(t testing.TB, p *testProxy, db string) *rawClient {
	t.Helper()
	return startRawAt(t, p.Addr, "tester", db)
}

// startRawAt dials addr and completes the startup exchange.
func startRawAt(t testing.TB, addr, user, db string) *rawClient {
	t.Helper()
	rc := dialRaw(t, addr)
	rc.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": user, "database": db}})
	rc.Startup = rc.untilReady()
	for _, m := range rc.Startup {
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			t.Fatalf("startup failed: %s %s: %s", e.Severity, e.Code, e.Message)
		}
	}
	return rc
}

// startRawPG is startRaw against the PostgreSQL the differential checks
// use; it skips (or fails) when that is down.
func startRawPG(t testing.TB) *rawClient {
	t.Helper()
	directPG(t) // skips when PostgreSQL is unavailable
	u, err := url.Parse(pgURL())
	if err != nil {
		t.Fatal(err)
	}
	return startRawAt(t, u.Host, u.User.Username(), strings.TrimPrefix(u.Path, "/"))
}

// send writes msgs and flushes them.
func (rc *rawClient) send(msgs ...pgproto3.FrontendMessage) {
	rc.t.Helper()
	for _, m := range msgs {
		rc.fe.Send(m)
	}
	if err := rc.fe.Flush(); err != nil {
		rc.t.Fatalf("sending %s: %v", msgNames(msgs), err)
	}
}

// recv reads one message. The message is a copy the caller may keep.
func (rc *rawClient) recv() (pgproto3.BackendMessage, error) {
	_ = rc.conn.SetReadDeadline(time.Now().Add(rawTimeout))
	m, err := rc.fe.Receive()
	if err != nil {
		return nil, err
	}
	return copyMsg(m), nil
}

// mustRecv is recv that fails the test on an error.
func (rc *rawClient) mustRecv() pgproto3.BackendMessage {
	rc.t.Helper()
	m, err := rc.recv()
	if err != nil {
		rc.t.Fatalf("receiving: %v", err)
	}
	return m
}

// untilReady reads messages up to and including ReadyForQuery.
func (rc *rawClient) untilReady() []pgproto3.BackendMessage {
	rc.t.Helper()
	var out []pgproto3.BackendMessage
	for {
		m, err := rc.recv()
		if err != nil {
			rc.t.Fatalf("receiving (after %s): %v", msgNames(out), err)
		}
		out = append(out, m)
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			return out
		}
	}
}

// readAll reads until the server closes the connection (or a read fails)
// and returns the messages and the error that ended the reading.
func (rc *rawClient) readAll() ([]pgproto3.BackendMessage, error) {
	var out []pgproto3.BackendMessage
	for {
		m, err := rc.recv()
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

// copyMsg returns a copy of m that later Receive calls do not overwrite
// (pgproto3 reuses its message values and buffers).
func copyMsg(m pgproto3.BackendMessage) pgproto3.BackendMessage {
	b, err := m.Encode(nil)
	if err != nil {
		panic(fmt.Sprintf("re-encoding %T: %v", m, err))
	}
	c := reflect.New(reflect.TypeOf(m).Elem()).Interface().(pgproto3.BackendMessage)
	if err := c.Decode(b[5:]); err != nil {
		panic(fmt.Sprintf("decoding a copy of %T: %v", m, err))
	}
	return c
}

// msgName is a message's type name without the package ("DataRow").
func msgName(m any) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", m), "*pgproto3.")
}

func msgNames[M any](ms []M) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = msgName(m)
	}
	return "[" + strings.Join(names, " ") + "]"
}

// expectMsgs checks the message types of got against want (type names).
func expectMsgs(t testing.TB, got []pgproto3.BackendMessage, want ...string) {
	t.Helper()
	if g, w := msgNames(got), "["+strings.Join(want, " ")+"]"; g != w {
		t.Fatalf("messages %s\nwant      %s\n%s", g, w, describeMsgs(got))
	}
}

// describeMsgs renders messages with the fields tests care about, for
// failure output.
func describeMsgs(ms []pgproto3.BackendMessage) string {
	var b strings.Builder
	for _, m := range ms {
		switch x := m.(type) {
		case *pgproto3.ErrorResponse:
			fmt.Fprintf(&b, "  ErrorResponse %s %s: %s\n", x.Severity, x.Code, x.Message)
		case *pgproto3.NoticeResponse:
			fmt.Fprintf(&b, "  NoticeResponse %s %s: %s\n", x.Severity, x.Code, x.Message)
		case *pgproto3.CommandComplete:
			fmt.Fprintf(&b, "  CommandComplete %q\n", x.CommandTag)
		case *pgproto3.DataRow:
			fmt.Fprintf(&b, "  DataRow %q\n", x.Values)
		case *pgproto3.ReadyForQuery:
			fmt.Fprintf(&b, "  ReadyForQuery %c\n", x.TxStatus)
		default:
			fmt.Fprintf(&b, "  %s\n", msgName(m))
		}
	}
	return b.String()
}

// findMsg returns the first message of type T in ms.
func findMsg[T pgproto3.BackendMessage](ms []pgproto3.BackendMessage) (T, bool) {
	for _, m := range ms {
		if x, ok := m.(T); ok {
			return x, true
		}
	}
	var zero T
	return zero, false
}

// pgErr returns err as a *pgconn.PgError, failing the test if it is not one.
func pgErr(t testing.TB, err error) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("want a PostgreSQL error, got %T: %v", err, err)
	}
	return pe
}

// wantCode checks that err is a PostgreSQL error with SQLSTATE code and
// returns it.
func wantCode(t testing.TB, err error, code string) *pgconn.PgError {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %s, got none", code)
	}
	pe := pgErr(t, err)
	if pe.Code != code {
		t.Fatalf("SQLSTATE %s (%s: %s), want %s", pe.Code, pe.Severity, pe.Message, code)
	}
	return pe
}

// connectPgconn opens a pgconn connection to url; modify may adjust the
// config (notice handler, runtime parameters) first.
func connectPgconn(t testing.TB, url string, modify func(*pgconn.Config)) *pgconn.PgConn {
	t.Helper()
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	if modify != nil {
		modify(cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// connectErr tries to connect with pgx and returns the error (nil if the
// connection succeeded; it is then closed at cleanup).
func connectErr(t testing.TB, url string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err == nil {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	return err
}

// execSimple runs sql through the simple protocol and returns every result
// (ReadAll) and the first error.
func execSimple(ctx context.Context, c *pgconn.PgConn, sql string) ([]*pgconn.Result, error) {
	results, err := c.Exec(ctx, sql).ReadAll()
	if err == nil {
		for _, r := range results {
			if r.Err != nil {
				return results, r.Err
			}
		}
	}
	return results, err
}

// queryString runs a one-value query and returns the value as text.
func queryString(t testing.TB, c *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := c.QueryRow(ctxT(t), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// countRows returns SELECT count(*) FROM table as an int64. It runs in
// exec mode, which describes the portal rather than the statement, so that
// tests counting rows do not depend on how a statement Describe types an
// expression column (TestExpressionTypesEveryMode tests that).
func countRows(t testing.TB, c *pgx.Conn, table string) int64 {
	t.Helper()
	var n int64
	if err := c.QueryRow(ctxT(t), "SELECT count(*) FROM "+table, pgx.QueryExecModeExec).Scan(&n); err != nil {
		t.Fatalf("counting %s: %v", table, err)
	}
	return n
}

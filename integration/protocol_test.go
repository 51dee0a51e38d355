package integration

import (
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// wantFatalThenClose reads what the server sends until it closes the
// connection: exactly one ErrorResponse, FATAL with the given code, then
// end of stream (not a read timeout: the server must close, not stall).
func wantFatalThenClose(t *testing.T, rc *rawClient, code string) *pgproto3.ErrorResponse {
	t.Helper()
	msgs, err := rc.readAll()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server neither answered nor closed within %s (got %s)", rawTimeout, msgNames(msgs))
	}
	var errs []*pgproto3.ErrorResponse
	for _, m := range msgs {
		switch x := m.(type) {
		case *pgproto3.ErrorResponse:
			errs = append(errs, x)
		case *pgproto3.NoticeResponse, *pgproto3.NegotiateProtocolVersion:
		default:
			t.Errorf("unexpected %s before the error", msgName(m))
		}
	}
	if len(errs) != 1 {
		t.Fatalf("want one ErrorResponse, got %s (read ended with %v)\n%s", msgNames(msgs), err, describeMsgs(msgs))
	}
	e := errs[0]
	if e.Severity != "FATAL" || e.Code != code {
		t.Errorf("got %s %s %q, want FATAL %s", e.Severity, e.Code, e.Message, code)
	}
	return e
}

// rawBytes writes bytes as they are, outside any message framing.
func (rc *rawClient) rawBytes(b []byte) {
	rc.t.Helper()
	if _, err := rc.conn.Write(b); err != nil {
		rc.t.Fatalf("writing: %v", err)
	}
}

// bystander is a client connected before a misbehaving one, in the middle
// of a transaction; check verifies that it can finish it.
type bystander struct {
	rc *rawClient
}

func newBystander(t *testing.T, p *testProxy, db string) *bystander {
	t.Helper()
	rc := startRaw(t, p, db)
	got := rc.exchange(&pgproto3.Query{String: "CREATE TABLE IF NOT EXISTS by (v INTEGER); BEGIN; INSERT INTO by VALUES (1)"})
	if got[len(got)-1] != "ReadyForQuery T" {
		t.Fatalf("bystander setup: %v", got)
	}
	return &bystander{rc: rc}
}

func (b *bystander) check(t *testing.T) {
	t.Helper()
	got := b.rc.exchange(&pgproto3.Query{String: "INSERT INTO by VALUES (2); COMMIT; SELECT 'fine'"})
	if len(got) != 6 || got[0] != "CommandComplete INSERT 0 1" || got[1] != "CommandComplete COMMIT" ||
		got[3] != "DataRow fine" || got[5] != "ReadyForQuery I" {
		t.Errorf("the other client was disturbed: %v", got)
	}
}

// frame builds a message: type byte, int32 length (as given), body.
func frame(typ byte, length int32, body []byte) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint32(b, uint32(length))
	return append(b, body...)
}

// TestProtocolViolations: a malformed message ends that client's session
// with FATAL 08P01 and a closed connection; another client's session, in
// the middle of a transaction, is not touched.
func TestProtocolViolations(t *testing.T) {
	const limit = 1024
	p := newProxy(t, sqliteSecrets("proto_db"), proxyOptions{maxMessageSize: limit})
	tests := []struct {
		name    string
		bytes   []byte
		code    string
		message string // a substring of the error message
	}{
		{"length below 4", frame('Q', 2, nil), "08P01", "length"},
		{"negative length", frame('Q', -8, nil), "08P01", "length"},
		{"unknown message type", frame('z', 4, nil), "08P01", ""},
		{"a message a client never sends after startup", frame('p', 4+4, []byte("pwd\x00")), "08P01", ""},
		{"over the size limit", frame('Q', 4+limit+100, []byte(strings.Repeat("x", limit+99)+"\x00")), "54000", "exceeds"},
		{"a huge declared length", frame('Q', 1<<30, nil), "54000", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			by := newBystander(t, p, "proto_db")
			rc := startRaw(t, p, "proto_db")
			rc.rawBytes(tt.bytes)
			e := wantFatalThenClose(t, rc, tt.code)
			if !strings.Contains(e.Message, tt.message) {
				t.Errorf("message %q, want it to mention %q", e.Message, tt.message)
			}
			by.check(t)
		})
	}

	t.Run("a query just under the limit is fine", func(t *testing.T) {
		rc := startRaw(t, p, "proto_db")
		q := "SELECT '" + strings.Repeat("y", limit-20) + "'"
		got := rc.exchange(&pgproto3.Query{String: q})
		if len(got) != 4 || got[1] != "DataRow "+strings.Repeat("y", limit-20) {
			t.Errorf("got %v", got)
		}
	})
}

// TestMalformedMessagesKeepTheSession: a message that is well framed but
// whose body does not decode has been read whole, so PostgreSQL answers it
// with an ERROR and the session goes on (a Query gets ReadyForQuery at once;
// an extended-protocol message makes the server ignore messages until
// Sync). Checked against PostgreSQL itself.
func TestMalformedMessagesKeepTheSession(t *testing.T) {
	for _, target := range wireTargets() {
		t.Run(target.name, func(t *testing.T) {
			for _, tc := range []struct {
				name  string
				bytes []byte
			}{
				{"a query without its terminating zero", frame('Q', 7, []byte("abc"))},
				{"a bind whose counts overrun the body", frame('B', 4+6, []byte{0, 0, 0xff, 0xff, 0, 0})},
			} {
				t.Run(tc.name, func(t *testing.T) {
					rc := target.connect(t)
					rc.rawBytes(tc.bytes)
					if tc.bytes[0] != 'Q' {
						rc.send(&pgproto3.Execute{}, &pgproto3.Sync{}) // ignored until Sync
					}
					got := rc.untilReady()
					if len(got) != 2 || msgName(got[0]) != "ErrorResponse" {
						t.Fatalf("want an ErrorResponse, then ReadyForQuery; got\n%s", describeMsgs(got))
					}
					if e := got[0].(*pgproto3.ErrorResponse); e.Severity != "ERROR" {
						t.Errorf("severity %s, want ERROR: the session is kept", e.Severity)
					}
					if after := rc.exchange(&pgproto3.Query{String: "SELECT 1"}); len(after) != 4 || after[1] != "DataRow 1" {
						t.Fatalf("the session does not go on: %v", after)
					}
				})
			}
		})
	}
}

// TestStartupFailures: a stalled, malformed or incomplete startup packet is
// answered with FATAL and a closed connection, and other clients go on. The
// bystanders, idle while a stalled client waits out the startup timeout,
// also show that the timeout does not reach sessions past their startup.
func TestStartupFailures(t *testing.T) {
	p := newProxy(t, sqliteSecrets("proto_db"), proxyOptions{startupTimeout: 200 * time.Millisecond})
	startup := func(version uint32, params ...string) []byte {
		body := binary.BigEndian.AppendUint32(nil, version)
		for _, s := range params {
			body = append(body, s...)
			body = append(body, 0)
		}
		body = append(body, 0)
		return append(binary.BigEndian.AppendUint32(nil, uint32(4+len(body))), body...)
	}
	tests := []struct {
		name  string
		bytes []byte // nil: say nothing at all
		code  string
	}{
		{"silence", nil, "08P01"},
		{"half a length word", []byte{0, 0}, "08P01"},
		{"a length and no body", []byte{0, 0, 0, 40}, "08P01"},
		{"a startup packet over 10000 bytes", binary.BigEndian.AppendUint32(nil, 20000), "08P01"},
		{"a startup packet under 8 bytes", []byte{0, 0, 0, 4}, "08P01"},
		// PostgreSQL reads any other code as a protocol version it does
		// not support: FATAL 0A000 "unsupported frontend protocol".
		{"protocol 1234.1", startup(1234<<16|1, "user", "tester"), "0A000"},
		{"protocol 2.0", startup(2<<16, "user", "tester"), "0A000"},
		{"no user", startup(pgproto3.ProtocolVersion30, "database", "proto_db"), "28000"},
		{"a parameter without a value", startup(pgproto3.ProtocolVersion30, "user"), "08P01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			by := newBystander(t, p, "proto_db")
			rc := dialRaw(t, p.Addr)
			if tt.bytes != nil {
				rc.rawBytes(tt.bytes)
			}
			wantFatalThenClose(t, rc, tt.code)
			by.check(t)
		})
	}

}

// TestNoUser: FATAL 28000 with PostgreSQL's message.
func TestNoUser(t *testing.T) {
	p := newProxy(t, sqliteSecrets("proto_db"))
	rc := dialRaw(t, p.Addr)
	rc.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"database": "proto_db"}})
	e := wantFatalThenClose(t, rc, "28000")
	if e.Message != "no PostgreSQL user name specified in startup packet" {
		t.Errorf("message %q", e.Message)
	}
}

// TestEncryptionRequestsDeclined: SSLRequest and GSSENCRequest are answered
// with a single 'N', after which the startup proceeds unencrypted.
func TestEncryptionRequestsDeclined(t *testing.T) {
	p := newProxy(t, sqliteSecrets("proto_db"))
	tests := []struct {
		name string
		reqs []pgproto3.FrontendMessage
	}{
		{"SSLRequest", []pgproto3.FrontendMessage{&pgproto3.SSLRequest{}}},
		{"GSSENCRequest", []pgproto3.FrontendMessage{&pgproto3.GSSEncRequest{}}},
		{"GSSENCRequest then SSLRequest", []pgproto3.FrontendMessage{&pgproto3.GSSEncRequest{}, &pgproto3.SSLRequest{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := dialRaw(t, p.Addr)
			for _, req := range tt.reqs {
				rc.send(req)
				_ = rc.conn.SetReadDeadline(time.Now().Add(rawTimeout))
				b := make([]byte, 1)
				if _, err := rc.conn.Read(b); err != nil {
					t.Fatalf("reading the answer to %s: %v", msgName(req), err)
				}
				if b[0] != 'N' {
					t.Fatalf("answer to %s: %q, want 'N'", msgName(req), b)
				}
			}
			rc.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
				Parameters: map[string]string{"user": "tester", "database": "proto_db"}})
			msgs := rc.untilReady()
			if msgName(msgs[0]) != "AuthenticationOk" {
				t.Fatalf("startup after %s: %s", tt.name, msgNames(msgs))
			}
			if got := rc.exchange(&pgproto3.Query{String: "SELECT 'plain'"}); got[1] != "DataRow plain" {
				t.Errorf("got %v", got)
			}
		})
	}

	t.Run("pgx with sslmode=prefer", func(t *testing.T) {
		url := strings.Replace(p.URL("proto_db"), "sslmode=disable", "sslmode=prefer", 1)
		if err := connectErr(t, url); err != nil {
			t.Fatalf("sslmode=prefer: %v", err)
		}
	})

	t.Run("pgx with sslmode=require is refused by the client", func(t *testing.T) {
		url := strings.Replace(p.URL("proto_db"), "sslmode=disable", "sslmode=require", 1)
		if err := connectErr(t, url); err == nil {
			t.Fatal("sslmode=require connected over a proxy that declines TLS")
		}
	})
}

// TestNewerProtocolMinorVersion: a client asking for protocol 3.2 (or
// protocol options) is told what the server speaks with
// NegotiateProtocolVersion and the startup goes on in 3.0.
func TestNewerProtocolMinorVersion(t *testing.T) {
	p := newProxy(t, sqliteSecrets("proto_db"))
	rc := dialRaw(t, p.Addr)
	rc.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32,
		Parameters: map[string]string{"user": "tester", "database": "proto_db", "_pq_.made_up": "1"}})
	msgs := rc.untilReady()
	npv, ok := findMsg[*pgproto3.NegotiateProtocolVersion](msgs)
	if !ok {
		t.Fatalf("no NegotiateProtocolVersion: %s", msgNames(msgs))
	}
	if npv.NewestMinorProtocol != 0 || len(npv.UnrecognizedOptions) != 1 || npv.UnrecognizedOptions[0] != "_pq_.made_up" {
		t.Errorf("NegotiateProtocolVersion %+v", npv)
	}
	if _, ok := findMsg[*pgproto3.AuthenticationOk](msgs); !ok {
		t.Fatalf("startup did not proceed: %s", msgNames(msgs))
	}
}

// TestClientVanishes: a client that disconnects mid-message or mid-result
// leaves no session behind.
func TestClientVanishes(t *testing.T) {
	p := newProxy(t, sqliteSecrets("proto_db"))
	rc := startRaw(t, p, "proto_db")
	rc.rawBytes(frame('Q', 100, []byte("SELECT")))
	rc.conn.Close()

	rc2 := startRaw(t, p, "proto_db")
	rc2.send(&pgproto3.Query{String: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c"})
	if _, err := rc2.recv(); err != nil {
		t.Fatal(err)
	}
	rc2.conn.Close()

	// Both sessions end; a new client is served.
	c := p.Connect(t, "proto_db")
	if got := queryString(t, c, "SELECT 'next'"); got != "next" {
		t.Errorf("got %q", got)
	}
	ctx := ctxT(t)
	for p.Server.Sessions() != 1 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d sessions still open, want 1", p.Server.Sessions())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

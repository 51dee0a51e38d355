// Package backends defines what the proxy needs from a data source and holds
// the implementations: the shared SQL bridge (backends/bridge) and its dialects
// (backends/sqlite, backends/mysql), and PostgreSQL pass-through.
//
// Every backend speaks PostgreSQL protocol messages to the proxy session: it
// consumes the frontend messages a client sent (Query, Parse, Bind, Describe,
// Execute, Close, Sync, Flush) and produces the backend messages PostgreSQL
// would have sent. That is what lets the proxy write routing, caching,
// transaction tracking and retry once for all of them.
package backends

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

// A Backend is an opened data source, shared by every client session of one
// connection section. Implementations are safe for concurrent use.
type Backend interface {
	// Open starts a session for one client. The session owns whatever backend
	// connection it needs until Close.
	Open(ctx context.Context, p SessionParams) (Session, error)
	// Ping checks that the data source is reachable and usable.
	Ping(ctx context.Context) error
	// Describe returns a one-line description (dialect and server version) for
	// logs and `xconnproxy check`. It never contains a password.
	Describe(ctx context.Context) (string, error)
	// Close releases every resource. Sessions still open fail afterwards.
	Close() error
}

// SessionParams is what a backend learns about the client at startup.
type SessionParams struct {
	// User is the user name the client gave in its StartupMessage.
	User string
	// Database is the database name the client asked for (the route name).
	Database string
	// Connection is the name of the [connections.<name>] section serving it.
	Connection string
	// ProcessID is the process ID the proxy announced in BackendKeyData;
	// pg_backend_pid() answers it.
	ProcessID uint32
	// Options holds the other startup parameters (application_name,
	// client_encoding, DateStyle, options, ...) as the client sent them.
	Options map[string]string
}

// Param is one ParameterStatus value.
type Param struct {
	Name, Value string
}

// Writer receives the backend messages a session produces. The proxy buffers
// them and flushes at the points the protocol says a client waits for an
// answer (ReadyForQuery, Flush, a full buffer).
type Writer interface {
	Send(msg pgproto3.BackendMessage) error
}

// A FrameWriter is the Writer the proxy hands to sessions: it also takes
// messages already encoded, and can be flushed. It is safe for concurrent
// use, so a forwarding session may write from a goroutine of its own.
type FrameWriter interface {
	Writer
	SendFrame(typ byte, body []byte) error
	Flush() error
}

// A Canceler is a Session that cancels its running statement itself (by
// forwarding the cancel to its server) rather than through the context of
// Handle, which for a forwarding session returns before the statement ends.
type Canceler interface {
	Cancel(ctx context.Context) error
}

// A Session is one client's conversation with a backend. It is used by one
// goroutine at a time.
type Session interface {
	// Parameters are the ParameterStatus values announced at startup, in the
	// order they are sent.
	Parameters() []Param
	// Handle processes one client message and writes the resulting backend
	// messages to w. SQL errors are written to w as ErrorResponse and are not
	// returned; a returned error means the session cannot continue (the proxy
	// reports it to the client as FATAL when it is a *pgcode.Error, and closes).
	// Cancelling ctx cancels the statement running inside Handle; the session
	// then answers with 57014 as PostgreSQL does.
	Handle(ctx context.Context, f Frame, w Writer) error
	// TxStatus is the transaction status of the last ReadyForQuery: 'I', 'T'
	// or 'E'. A session still answering a request reports 'T': only 'I'
	// means the session is idle outside a transaction, which is what
	// shutdown and pooling wait for.
	TxStatus() byte
	// Close ends the session and returns its resources to the backend.
	Close() error
}

// Frame is one client message as it came off the wire: its type byte and
// body. Backends that forward messages (PostgreSQL) send the bytes as they
// are; the others decode them. Body is valid until the next message is
// read.
type Frame struct {
	Type byte
	Body []byte
	dec  Decoder
}

// A Decoder turns a frame's body into a message. The proxy's decoder reuses
// one message value per type, so a decoded message, like Body, is valid
// until the next message is read.
type Decoder interface {
	Decode(typ byte, body []byte) (pgproto3.FrontendMessage, error)
}

// NewFrame returns a frame decoded by d.
func NewFrame(typ byte, body []byte, d Decoder) Frame { return Frame{Type: typ, Body: body, dec: d} }

// Message decodes the frame. A body that does not decode is a
// *pgcode.Error 08P01 ("invalid message format"): the message was consumed
// whole, so PostgreSQL answers it with an ERROR and the session goes on.
func (f Frame) Message() (pgproto3.FrontendMessage, error) {
	msg, err := f.dec.Decode(f.Type, f.Body)
	if err != nil {
		return nil, pgcode.New(pgcode.ProtocolViolation,
			fmt.Sprintf("invalid message format (message type %q): %v", f.Type, err))
	}
	return msg, nil
}

// AppendWire appends the frame as it is on the wire: type, length, body.
func (f Frame) AppendWire(dst []byte) []byte { return AppendMessage(dst, f.Type, f.Body) }

// MessageDecoder is a Decoder with one message value per type; it serves
// tests and tools that build frames themselves.
type MessageDecoder struct{}

// Decode decodes into a new message of typ.
func (MessageDecoder) Decode(typ byte, body []byte) (pgproto3.FrontendMessage, error) {
	msg := NewMessage(typ)
	if msg == nil {
		return nil, fmt.Errorf("unknown message type %q", typ)
	}
	return msg, msg.Decode(body)
}

// NewMessage returns a new, empty message for a frontend message type byte
// (after startup), or nil for an unknown type. It is the one list of the
// message types a client may send; the proxy's reader takes its (reused)
// messages from it.
func NewMessage(typ byte) pgproto3.FrontendMessage {
	switch typ {
	case 'Q':
		return &pgproto3.Query{}
	case 'P':
		return &pgproto3.Parse{}
	case 'B':
		return &pgproto3.Bind{}
	case 'D':
		return &pgproto3.Describe{}
	case 'E':
		return &pgproto3.Execute{}
	case 'C':
		return &pgproto3.Close{}
	case 'S':
		return &pgproto3.Sync{}
	case 'H':
		return &pgproto3.Flush{}
	case 'X':
		return &pgproto3.Terminate{}
	case 'd':
		return &pgproto3.CopyData{}
	case 'c':
		return &pgproto3.CopyDone{}
	case 'f':
		return &pgproto3.CopyFail{}
	case 'F':
		return &pgproto3.FunctionCall{}
	case 'p':
		return &pgproto3.PasswordMessage{}
	}
	return nil
}

// AppendMessage appends a message as it is on the wire: type, length, body.
func AppendMessage(dst []byte, typ byte, body []byte) []byte {
	dst = append(dst, typ)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)+4))
	return append(dst, body...)
}

// CString returns the NUL-terminated string at the start of b, as message
// bodies carry names and query texts; false when there is no NUL.
func CString(b []byte) (string, bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), true
		}
	}
	return "", false
}

// TwoCStrings splits a body that starts with two NUL-terminated strings
// (Parse: name and query; Bind: portal and statement) from the rest.
func TwoCStrings(b []byte) (first, second string, rest []byte, ok bool) {
	first, ok = CString(b)
	if !ok {
		return "", "", nil, false
	}
	b = b[len(first)+1:]
	second, ok = CString(b)
	if !ok {
		return "", "", nil, false
	}
	return first, second, b[len(second)+1:], true
}

// Package backends defines what the proxy needs from a data source and holds
// the implementations: the shared SQL bridge (backends/bridge) and its dialects
// (backends/sqlite, and later mysql), and PostgreSQL pass-through.
//
// Every backend speaks PostgreSQL protocol messages to the proxy session: it
// consumes the frontend messages a client sent (Query, Parse, Bind, Describe,
// Execute, Close, Sync, Flush) and produces the backend messages PostgreSQL
// would have sent. That is what lets the proxy write routing, caching,
// transaction tracking and retry once for all of them.
package backends

import (
	"context"
	"errors"

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

// A Session is one client's conversation with a backend. It is used by one
// goroutine at a time.
type Session interface {
	// Parameters are the ParameterStatus values announced at startup, in the
	// order they are sent.
	Parameters() []Param
	// Handle processes one frontend message and writes the resulting backend
	// messages to w. SQL errors are written to w as ErrorResponse and are not
	// returned; a returned error means the session cannot continue (the proxy
	// reports it to the client as FATAL when it is a *pgcode.Error, and closes).
	// Cancelling ctx cancels the statement running inside Handle; the session
	// then answers with 57014 as PostgreSQL does.
	Handle(ctx context.Context, msg pgproto3.FrontendMessage, w Writer) error
	// TxStatus is the transaction status of the last ReadyForQuery: 'I', 'T' or 'E'.
	TxStatus() byte
	// Close ends the session and returns its resources to the backend.
	Close() error
}

// ProtocolError stands in, in Session.Handle, for a client message that was
// well framed but could not be decoded. The session answers it as
// PostgreSQL does: an ErrorResponse, followed by ReadyForQuery when the
// message was a Query, or by ignoring messages until Sync when it was part
// of the extended protocol; a transaction in progress fails.
type ProtocolError struct {
	Type byte // the message type byte
	Err  *pgcode.Error
}

var errNotWire = errors.New("backends.ProtocolError is not a wire message")

// Frontend marks ProtocolError as a frontend message.
func (*ProtocolError) Frontend() {}

// Decode is not supported: a ProtocolError never comes off the wire.
func (*ProtocolError) Decode([]byte) error { return errNotWire }

// Encode is not supported: a ProtocolError is never sent.
func (*ProtocolError) Encode(dst []byte) ([]byte, error) { return dst, errNotWire }

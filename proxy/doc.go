// Package proxy is xconnproxy's PostgreSQL-protocol server: the listener,
// the per-client session and the message loop.
//
// # Architecture
//
//	client ──TCP──▶ Server.Serve ──▶ session (one goroutine per client)
//	                                  │ startup: SSLRequest, StartupMessage
//	                                  ▼
//	                   Router.Route(database) ─▶ backends.Backend (shared, lazy)
//	                                  │ Backend.Open
//	                                  ▼
//	             message loop: client message ─▶ backends.Session.Handle ─▶ msgWriter ─▶ client
//
// The proxy frames client messages itself (frontend.go) and hands each to
// the backend session as a backends.Frame: the bytes as they came, decoded
// only if the session asks. A bridging session (SQLite, MySQL) decodes and
// answers every message with PostgreSQL's messages; a forwarding session
// (PostgreSQL) writes the bytes to its server and runs a goroutine of its own
// that forwards the server's messages back through the same writer, which
// is why msgWriter is safe for concurrent use. Both produce the same message
// stream, so routing, shutdown and cancel are written once, here.
//
// # Connection lifecycle
//
//  1. Accept. Serve accepts and starts a session goroutine; temporary accept
//     errors back off from 5 ms to 1 s.
//  2. Startup (bounded by Config.StartupTimeout). SSLRequest and
//     GSSEncRequest are answered 'N'; a CancelRequest is acted on and the
//     connection closed; a StartupMessage gives the user, the database name
//     and the session parameters. Protocol 3.2 and _pq_ options are
//     negotiated down to 3.0.
//  3. Routing. Router.Route resolves the database name (routing package:
//     exact name, [xconnproxy.routes], env:VAR) and returns the backend,
//     opening it on first use. Unknown names get FATAL 3D000.
//  4. Authentication. Config.Auth (Trust by default) may exchange messages
//     with the client.
//  5. Backend session. Backend.Open starts the client's session on the
//     backend; its ParameterStatus values are sent, then BackendKeyData with
//     the session's cancel key, then ReadyForQuery.
//  6. Message loop. Each message is handled with a context that a
//     CancelRequest for this session cancels (a forwarding session instead
//     sends the cancel to its server: backends.Canceler). Output is buffered and flushed
//     at Sync, Query and Flush (and every 64 KiB), so a pipelined batch costs
//     one write. Terminate or EOF ends the session.
//  7. End. The backend session is closed (an open transaction is rolled
//     back) and the cancel key retired.
//
// # Errors
//
// Errors follow the protocol: a *pgcode.Error from the backend session is
// already on its way to the client as an ErrorResponse; an error returned by
// Handle ends the session, sent as FATAL if it is a *pgcode.Error. Malformed
// messages, oversized messages and stalled startups end only their own
// session, with 08P01 (54000 for size), and are logged once.
//
// # Shutdown
//
// Shutdown closes the listeners, wakes sessions that are idle outside a
// transaction (they answer FATAL 57P01 and close), and lets the others run
// until they are idle outside a transaction, then close the same way. It
// looks for idle sessions again every 20 ms: a forwarding session becomes
// idle when its server's answer arrives, after it went back to reading its
// client. When a session ends, its client socket closes before its backend
// session, so a forwarding goroutine blocked on a client that stopped reading
// cannot hold the server connection. When
// its context ends first, Close ends everything: it cancels the server's
// context (interrupting running statements) and closes every connection.
// Close is idempotent. The server's draining flag is atomic rather than
// under Server.mu because Shutdown takes each session's lock while holding
// Server.mu, and sessions read the flag while holding their own.
//
// # Debugging
//
// Run with --log-level debug to see each session's start and end with its
// client address, database, user and process ID (the pid in BackendKeyData
// and pg_backend_pid()). pgproto3's Trace can be attached to a session's
// pgproto3.Backend to dump every message.
package proxy

package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

// session is one client connection, served by one goroutine.
type session struct {
	srv  *Server
	conn net.Conn
	fe   *frontend // reads the client's messages
	w    *msgWriter
	log  *slog.Logger

	pid, secret uint32

	debug bool // log every statement and error sent (debug level)

	mu      sync.Mutex
	idle    bool               // blocked reading the client's next message
	running context.CancelFunc // cancels the statement being handled
	bs      backends.Session

	rc *resultCache // nil when the connection's results are not cached

	// msgCtx is the context of the messages handled, until a cancel
	// request ends it (the next message then gets a new one).
	msgCtx    context.Context
	msgCancel context.CancelFunc
}

func newSession(srv *Server, c net.Conn) *session {
	return &session{srv: srv, conn: c, fe: newFrontend(c, srv.cfg.MaxMessageSize), w: &msgWriter{conn: c},
		log: srv.log.With("client", c.RemoteAddr().String())}
}

// serve runs the session to its end and always closes the connection.
func (s *session) serve() {
	defer s.conn.Close()
	defer func() {
		if s.msgCancel != nil {
			s.msgCancel()
		}
	}()
	params, ok := s.startup()
	if !ok {
		return
	}
	defer func() {
		// The client socket closes first: a forwarding backend's writer
		// blocked on a client that stopped reading then fails, and the
		// backend session can end and give its server connection back.
		s.conn.Close()
		if err := s.bs.Close(); err != nil {
			s.log.Debug("closing backend session", "err", err)
		}
	}()
	// Deferred last, so it runs first: no cancel request finds the session
	// once its backend connection may serve another client.
	defer s.srv.unregister(s)
	s.log = s.srv.log.With("client", s.conn.RemoteAddr().String(), "database", params.Database, "user", params.User, "pid", s.pid)
	if s.srv.log.Enabled(context.Background(), slog.LevelDebug) {
		s.debug = true
		s.w.onError = func(e *pgproto3.ErrorResponse) {
			s.log.Debug("error sent", "severity", e.Severity, "sqlstate", e.Code, "message", e.Message)
		}
	}
	s.log.Debug("session started", "connection", params.Connection)
	s.loop()
	s.log.Debug("session ended")
}

// fatalWriteTimeout bounds the write of a farewell FATAL, which may come
// after the connection's own deadline (a stalled startup) has passed.
const fatalWriteTimeout = time.Second

// fatal sends a FATAL error and flushes; the caller then closes.
func (s *session) fatal(e *pgcode.Error) {
	_ = s.conn.SetWriteDeadline(time.Now().Add(fatalWriteTimeout))
	e.Severity = pgcode.SeverityFatal
	_ = s.w.Send(e.Response())
	_ = s.w.Flush()
}

// startup runs the startup exchange (protocol section 55.2.1): SSL and GSS
// encryption requests are declined, a CancelRequest is acted on, and a
// StartupMessage is routed, authenticated and answered with the session's
// parameters, its cancel key and ReadyForQuery.
func (s *session) startup() (backends.SessionParams, bool) {
	deadline := time.Now().Add(s.srv.cfg.StartupTimeout)
	_ = s.conn.SetDeadline(deadline)
	ctx, cancel := context.WithDeadline(s.srv.ctx, deadline)
	defer cancel()

	var sm *pgproto3.StartupMessage
	for sm == nil {
		msg, err := s.fe.receiveStartup()
		if err != nil {
			s.startupError(err)
			return backends.SessionParams{}, false
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			// Not yet: the client may continue unencrypted (section 55.2.10).
			if _, err := s.conn.Write([]byte{'N'}); err != nil {
				return backends.SessionParams{}, false
			}
		case *pgproto3.CancelRequest:
			s.srv.cancelRequest(m.ProcessID, binaryKey(m.SecretKey))
			return backends.SessionParams{}, false
		case *pgproto3.StartupMessage:
			sm = m
		}
	}

	p := backends.SessionParams{Options: map[string]string{}}
	var unsupported []string
	for k, v := range sm.Parameters {
		switch {
		case k == "user":
			p.User = v
		case k == "database":
			p.Database = v
		case strings.HasPrefix(k, "_pq_."):
			unsupported = append(unsupported, k)
		default:
			p.Options[k] = v
		}
	}
	if sm.ProtocolVersion != pgproto3.ProtocolVersion30 || len(unsupported) > 0 {
		// We speak 3.0 and no protocol extensions (section 55.2.1).
		_ = s.w.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unsupported})
	}
	if p.User == "" {
		s.fatal(pgcode.Fatal(pgcode.InvalidAuthorizationSpec, "no PostgreSQL user name specified in startup packet"))
		return p, false
	}
	if p.Database == "" {
		p.Database = p.User
	}
	if s.srv.closing() {
		s.fatal(pgcode.Fatal(pgcode.CannotConnectNow, "the database system is shutting down"))
		return p, false
	}

	connName, backend, err := s.srv.cfg.Router.Route(ctx, p.Database)
	if err != nil {
		s.fatal(s.startupFailure(err, p))
		return p, false
	}
	p.Connection = connName
	if err := s.srv.cfg.Auth.Authenticate(ctx, authConn{s}, p.User, p.Database); err != nil {
		s.fatal(s.startupFailure(err, p))
		return p, false
	}
	s.srv.register(s)
	p.ProcessID = s.pid
	bs, err := backend.Open(ctx, p)
	if err != nil {
		s.srv.unregister(s)
		s.fatal(s.startupFailure(err, p))
		return p, false
	}
	s.mu.Lock()
	s.bs = bs // read by cancel requests, from other goroutines
	s.mu.Unlock()
	if c := s.srv.cfg.Cache; c != nil {
		if cp, ok := s.srv.cfg.Router.(CachePolicies); ok {
			if pol := cp.CachePolicy(connName); pol.TTL > 0 {
				s.rc = newResultCache(s, c, connName, pol, p.Options)
			}
		}
	}

	_ = s.w.Send(&pgproto3.AuthenticationOk{})
	// Parameters is read once: a bridge session hands its changes over.
	for _, ps := range bs.Parameters() {
		_ = s.w.Send(&pgproto3.ParameterStatus{Name: ps.Name, Value: ps.Value})
		if s.rc != nil {
			s.rc.tee.setting(ps.Name, ps.Value)
		}
	}
	_ = s.w.Send(&pgproto3.BackendKeyData{ProcessID: s.pid, SecretKey: keyBytes(s.secret)})
	_ = s.w.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := s.w.Flush(); err != nil {
		s.srv.unregister(s)
		_ = bs.Close()
		return p, false
	}
	_ = s.conn.SetDeadline(time.Time{})
	return p, true
}

func keyBytes(secret uint32) []byte {
	return []byte{byte(secret >> 24), byte(secret >> 16), byte(secret >> 8), byte(secret)}
}

// binaryKey reads a protocol 3.0 cancel key (4 bytes); other lengths never
// match a key this proxy issued.
func binaryKey(b []byte) uint32 {
	if len(b) != 4 {
		return 0
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// startupFailure turns a routing, auth or open error into the FATAL the
// client gets, and logs it once.
func (s *session) startupFailure(err error, p backends.SessionParams) *pgcode.Error {
	var pe *pgcode.Error
	if !errors.As(err, &pe) {
		pe = pgcode.Fatal(pgcode.SQLClientUnableToEstablishConn,
			fmt.Sprintf("could not connect to database %q: %v", p.Database, err))
	}
	s.log.Info("startup rejected", "database", p.Database, "user", p.User, "sqlstate", pe.Code, "err", pe.Message)
	return pe
}

// startupError reports a malformed or stalled startup. Clients that go away
// before saying anything (port scanners, health checks) are not worth a log
// line above debug.
func (s *session) startupError(err error) {
	if isNormalClose(err) {
		s.log.Debug("client closed during startup", "err", err)
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.log.Info("startup timed out", "timeout", s.srv.cfg.StartupTimeout)
		s.fatal(pgcode.Fatal(pgcode.ProtocolViolation, "incomplete startup packet: timed out"))
		return
	}
	var up *unsupportedProtocol
	if errors.As(err, &up) {
		s.log.Info("unsupported protocol", "err", up.Error())
		s.fatal(pgcode.Fatal(pgcode.FeatureNotSupported, up.Error()))
		return
	}
	s.log.Info("invalid startup packet", "err", err)
	msg := err.Error()
	if !strings.HasPrefix(msg, "invalid") {
		msg = "invalid startup packet: " + msg
	}
	s.fatal(pgcode.Fatal(pgcode.ProtocolViolation, msg))
}

func isNormalClose(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// loop reads client messages and hands them to the backend session until
// Terminate, a closed connection, a FATAL error or shutdown.
func (s *session) loop() {
	for {
		// A message already read (the rest of a pipelined batch) is
		// handled at once: the session waits for nothing, and a drain
		// does not cut the batch.
		waits := !s.fe.ready()
		if waits && !s.markIdle() {
			// Draining and not inside a transaction: tell the client why.
			s.fatal(pgcode.Fatal(pgcode.AdminShutdown, "terminating connection due to administrator command"))
			return
		}
		f, err := s.fe.receive()
		if waits && !s.markBusy() {
			s.fatal(pgcode.Fatal(pgcode.AdminShutdown, "terminating connection due to administrator command"))
			return
		}
		if err != nil {
			s.receiveError(err)
			return
		}
		if f.Type == 'X' { // Terminate
			return
		}
		if s.debug {
			s.logMessage(f)
		}
		if err := s.dispatch(f); err != nil {
			var pe *pgcode.Error
			if errors.As(err, &pe) {
				s.log.Warn("session ended by error", "sqlstate", pe.Code, "err", pe.Message)
				s.fatal(pe)
			} else if !isNormalClose(err) {
				s.log.Warn("session ended", "err", err)
			}
			return
		}
		switch f.Type {
		case 'S', 'Q', 'H': // Sync, Query, Flush: the client waits for an answer
			if err := s.w.Flush(); err != nil {
				s.log.Debug("client write failed", "err", err)
				return
			}
		}
	}
}

// dispatch hands a message to the result cache, or to the backend when
// the connection is not cached.
func (s *session) dispatch(f backends.Frame) error {
	if s.rc != nil {
		return s.rc.message(f)
	}
	return s.handle(f)
}

// handle runs one message with a context that a CancelRequest can cancel.
func (s *session) handle(msg backends.Frame) error {
	// One context serves message after message until a cancel request
	// (or the server's end) ends it.
	if s.msgCtx == nil || s.msgCtx.Err() != nil {
		s.msgCtx, s.msgCancel = context.WithCancel(s.srv.ctx)
	}
	s.mu.Lock()
	s.running = s.msgCancel
	s.mu.Unlock()
	var w backends.FrameWriter = s.w
	if s.rc != nil {
		w = s.rc.tee
	}
	err := s.bs.Handle(s.msgCtx, msg, w)
	s.mu.Lock()
	s.running = nil
	s.mu.Unlock()
	return err
}

func (s *session) cancelRunning() {
	s.mu.Lock()
	bs := s.bs
	s.mu.Unlock()
	if c, ok := bs.(backends.Canceler); ok {
		ctx, cancel := context.WithTimeout(s.srv.ctx, 10*time.Second)
		defer cancel()
		if err := c.Cancel(ctx); err != nil {
			s.log.Warn("forwarding a cancel request failed", "err", err)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running != nil {
		s.running()
	}
}

// markIdle records that the session waits for the client. It returns false
// when the server is draining and the session is outside a transaction, in
// which case the session must end.
func (s *session) markIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drainable() {
		return false
	}
	s.idle = true
	return true
}

// markBusy records that a message arrived. It returns false when a drain
// interrupted the wait.
func (s *session) markBusy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle = false
	return !s.drainable()
}

func (s *session) drainable() bool {
	return s.srv.closing() && s.bs.TxStatus() == 'I'
}

// wakeIfIdle interrupts the read of an idle session outside a transaction
// so that it can end; sessions that are busy or in a transaction notice the
// drain when they next go idle outside one. Called with srv.mu held.
func (s *session) wakeIfIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idle && s.bs != nil && s.bs.TxStatus() == 'I' {
		_ = s.conn.SetReadDeadline(time.Now())
	}
}

// receiveError handles a failed read of a client message: a closed
// connection ends quietly; a malformed or oversized message is a protocol
// violation for this client only.
func (s *session) receiveError(err error) {
	if isNormalClose(err) || errors.Is(err, os.ErrDeadlineExceeded) && s.srv.ctx.Err() != nil {
		s.log.Debug("client connection closed", "err", err)
		return
	}
	var tooBig *pgproto3.ExceededMaxBodyLenErr
	if errors.As(err, &tooBig) {
		s.log.Warn("client message too large", "size", tooBig.ActualBodyLen, "limit", tooBig.MaxExpectedBodyLen)
		s.fatal(pgcode.WithHint(pgcode.ProgramLimitExceeded,
			fmt.Sprintf("message of %d bytes exceeds the limit of %d bytes", tooBig.ActualBodyLen, tooBig.MaxExpectedBodyLen),
			"Raise max_message_size in the [xconnproxy] settings if such messages are expected."))
		return
	}
	s.log.Warn("invalid client message", "err", err)
	s.fatal(pgcode.Fatal(pgcode.ProtocolViolation, "invalid frontend message: "+err.Error()))
}

// logMessage logs the statements a client sends, at debug level. Statement
// text can hold secrets of the application's own (literals), which is why
// this is debug only; connection passwords never pass through here.
func (s *session) logMessage(f backends.Frame) {
	msg, err := f.Message()
	if err != nil {
		s.log.Debug("malformed message", "type", string(f.Type), "err", err)
		return
	}
	const max = 2000
	clip := func(q string) string {
		if len(q) > max {
			return q[:max] + "..."
		}
		return q
	}
	switch m := msg.(type) {
	case *pgproto3.Query:
		s.log.Debug("query", "sql", clip(m.String))
	case *pgproto3.Parse:
		s.log.Debug("parse", "statement", m.Name, "sql", clip(m.Query), "param_types", m.ParameterOIDs)
	case *pgproto3.Bind:
		s.log.Debug("bind", "statement", m.PreparedStatement, "portal", m.DestinationPortal, "params", len(m.Parameters))
	case *pgproto3.Execute:
		s.log.Debug("execute", "portal", m.Portal, "max_rows", m.MaxRows)
	}
}

// authConn gives an Authenticator the client's connection.
type authConn struct{ s *session }

func (c authConn) Send(msg pgproto3.BackendMessage) error { return c.s.w.Send(msg) }
func (c authConn) Flush() error                           { return c.s.w.Flush() }
func (c authConn) Receive() (pgproto3.FrontendMessage, error) {
	f, err := c.s.fe.receive()
	if err != nil {
		return nil, err
	}
	return f.Message()
}

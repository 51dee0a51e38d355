package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

// serverFlushThreshold bounds the client messages held before writing them
// to the server when no message asks for an answer yet (a long COPY).
const serverFlushThreshold = 32 << 10

// cleanupTimeout bounds the ROLLBACK and DISCARD ALL run before a server
// connection goes back to the pool.
const cleanupTimeout = 5 * time.Second

// Session forwards one client's messages to its server connection and the
// server's messages back, as they are. The client→server direction runs in
// Handle, on the proxy's session goroutine; the server→client direction
// runs in a goroutine of its own (pump), so that messages the server sends
// on its own (NotificationResponse, NoticeResponse, ParameterStatus) and the
// answers to a Flush reach the client without waiting for its next message.
type Session struct {
	b  *Backend
	sc *serverConn

	buf      []byte      // client messages not yet written to the server
	unsynced atomic.Bool // extended-protocol messages forwarded since the last Sync
	// syncsInCopy counts the Syncs sent since the last Execute or Query: if
	// that Execute started a COPY FROM STDIN, the server ignores them
	// (protocol, "COPY Operations") and answers none.
	syncsInCopy int32

	cancelMu sync.Mutex // Cancel holds it while it signals; Close, before release
	released bool

	pumping  bool // the pump goroutine was started (Handle and Close run on one goroutine)
	pumpDone chan struct{}
	closing  atomic.Bool
	broken   atomic.Bool // the server connection failed
	clean    atomic.Bool // the pump stopped between two messages
	pending  atomic.Int32
	status   atomic.Uint32 // last ReadyForQuery status
}

var (
	_ backends.Session  = (*Session)(nil)
	_ backends.Canceler = (*Session)(nil)
)

// ignoredStartup are startup parameters that are not run-time settings.
// session_authorization is what PostgreSQL sets from the authenticated
// user itself; a startup value for it is ignored there too.
var ignoredStartup = map[string]bool{"user": true, "database": true, "replication": true, "session_authorization": true}

// Open gives the client a server connection opened with its startup
// parameters, as if it had connected itself (an idle one opened with the
// same ones is reused).
func (b *Backend) Open(ctx context.Context, p backends.SessionParams) (backends.Session, error) {
	pairs, err := startupPairs(p.Options)
	if err != nil {
		return nil, err
	}
	if b.opts.Mode == TransactionMode {
		return b.openTx(ctx, newStartup(pairs))
	}
	sc, err := b.acquire(ctx, newStartup(pairs))
	if err != nil {
		return nil, err
	}
	s := &Session{b: b, sc: sc, pumpDone: make(chan struct{})}
	s.status.Store('I')
	return s, nil
}

// startupPairs lists the run-time settings among startup parameters,
// sorted by name, with those of the options parameter (-c name=value).
func startupPairs(opts map[string]string) ([][2]string, error) {
	var pairs [][2]string
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		v := opts[k]
		switch {
		case ignoredStartup[k] || strings.HasPrefix(k, "_pq_."):
		case k == "options":
			kvs, err := backends.ParseOptions(v)
			if err != nil {
				return nil, err
			}
			for _, kv := range kvs {
				pairs = append(pairs, [2]string{kv[0], kv[1]})
			}
		default:
			pairs = append(pairs, [2]string{k, v})
		}
	}
	return pairs, nil
}

// setConfigSQL is one SELECT of set_config(name, value, false) per pair,
// evaluated left to right.
func setConfigSQL(pairs [][2]string) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, kv := range pairs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("pg_catalog.set_config(" + quoteLiteral(kv[0]) + ", " + quoteLiteral(kv[1]) + ", false)")
	}
	return b.String()
}

// Parameters are the server connection's ParameterStatus values.
func (s *Session) Parameters() []backends.Param {
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range s.sc.params {
			if !yield(k) {
				return
			}
		}
	})
	out := make([]backends.Param, len(names))
	for i, n := range names {
		out[i] = backends.Param{Name: n, Value: s.sc.params[n]}
	}
	return out
}

// TxStatus is the last ReadyForQuery status, or 'T' while an answer is
// still on its way.
func (s *Session) TxStatus() byte {
	if s.pending.Load() > 0 || s.unsynced.Load() {
		return 'T'
	}
	return byte(s.status.Load())
}

// Handle forwards one client message.
func (s *Session) Handle(ctx context.Context, f backends.Frame, w backends.Writer) error {
	if s.broken.Load() {
		return s.lost()
	}
	fw, ok := w.(backends.FrameWriter)
	if !ok {
		return fmt.Errorf("postgres: the proxy's writer cannot take frames (%T)", w)
	}
	if !s.pumping {
		s.pumping = true
		go s.pump(fw)
	}

	flush := false
	switch f.Type {
	case 'S':
		s.pending.Add(1)
		s.syncsInCopy++
		s.unsynced.Store(false)
		flush = true
	case 'Q', 'F': // Query, FunctionCall: each answered up to ReadyForQuery
		s.pending.Add(1)
		s.syncsInCopy = 0
		flush = true
	case 'E':
		s.syncsInCopy = 0
		s.unsynced.Store(true)
	case 'c', 'f': // CopyDone, CopyFail
		// A client sends these only after CopyInResponse: the Syncs it sent
		// since the Execute that started the COPY reached the server in
		// copy-in mode, where it ignores them.
		s.pending.Add(-s.syncsInCopy)
		s.syncsInCopy = 0
		flush = true
	case 'H':
		flush = true
	case 'P', 'B', 'D', 'C':
		s.unsynced.Store(true)
	}
	s.buf = f.AppendWire(s.buf)
	if !flush && len(s.buf) < serverFlushThreshold {
		return nil
	}
	// A server that stops reading (its client never reads the answers)
	// must not hold this write, and the session, forever: the message's
	// context ends it when the proxy closes.
	stop := context.AfterFunc(ctx, func() { _ = s.sc.conn.SetWriteDeadline(time.Now()) })
	_, err := s.sc.conn.Write(s.buf)
	stop()
	if cap(s.buf) > 4*serverFlushThreshold {
		s.buf = nil
	} else {
		s.buf = s.buf[:0]
	}
	if err != nil {
		s.broken.Store(true)
		return s.lost()
	}
	return nil
}

// lost is the error for a session whose server connection failed.
func (s *Session) lost() *pgcode.Error {
	return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.ConnectionFailure,
		Message: fmt.Sprintf("connection %q: the server connection was lost", s.b.opts.Name),
		Hint:    "The statement in progress may or may not have completed. Reconnect."}
}

// pump forwards the server's messages to the client until the connection
// ends or Close stops it.
func (s *Session) pump(w backends.FrameWriter) {
	defer close(s.pumpDone)
	r := s.sc.r
	fatalSent := false
	for {
		typ, body, err := readFrame(r)
		if err != nil {
			if s.closing.Load() {
				var ne net.Error
				s.clean.Store(errors.As(err, &ne) && ne.Timeout() && r.Buffered() == 0)
				return
			}
			s.broken.Store(true)
			if !fatalSent {
				// Tell the client at once: it may be waiting for an answer.
				_ = w.Send(s.lost().Response())
				_ = w.Flush()
			}
			return
		}
		switch typ {
		case 'Z':
			if len(body) == 1 {
				s.status.Store(uint32(body[0]))
			}
			s.pending.Add(-1)
		case 'S':
			s.sc.recordParam(body)
		case 'E':
			var e pgproto3.ErrorResponse
			fatalSent = fatalSent || e.Decode(body) == nil && (e.Severity == pgcode.SeverityFatal || e.Severity == "PANIC")
		}
		if err := w.SendFrame(typ, body); err != nil {
			return // the client is gone; the proxy ends the session
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

// Cancel forwards a cancel request to the server for this session's
// connection, as a client would send it: on a new connection to the same
// address, with the server's process ID and key.
func (s *Session) Cancel(ctx context.Context) error {
	// Held while signalling: Close waits for it before the connection can
	// serve another client, so a late cancel never reaches someone else.
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	if s.released {
		return nil
	}
	return s.sc.cancel(ctx)
}

// cancel sends a cancel request for sc, as a client would: on a new
// connection to the same address, with the server's process ID and key.
func (sc *serverConn) cancel(ctx context.Context) error {
	addr := sc.conn.RemoteAddr()
	var d net.Dialer
	c, err := d.DialContext(ctx, addr.Network(), addr.String())
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	msg, err := (&pgproto3.CancelRequest{ProcessID: sc.pid, SecretKey: sc.secret}).Encode(nil)
	if err != nil {
		return err
	}
	if _, err := c.Write(msg); err != nil {
		return err
	}
	_, _ = c.Read(make([]byte, 1)) // the server closes when done
	return nil
}

// Close ends the session. The server connection goes back to the pool when
// its state is known to be clean after a ROLLBACK (if a transaction was
// open) and DISCARD ALL; otherwise (a request was in flight, a COPY or an
// unsynced extended query was open, the connection failed) it is closed.
func (s *Session) Close() error {
	s.closing.Store(true)
	if s.pumping {
		_ = s.sc.conn.SetReadDeadline(time.Now()) // stops the pump's read
		<-s.pumpDone
	}
	s.cancelMu.Lock()
	s.released = true
	s.cancelMu.Unlock()
	reusable := !s.broken.Load() && s.pending.Load() == 0 && !s.unsynced.Load() && (!s.pumping || s.clean.Load())
	if reusable {
		_ = s.sc.conn.SetReadDeadline(time.Time{})
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if byte(s.status.Load()) != 'I' {
			reusable = s.sc.roundTrip(ctx, "ROLLBACK") == nil
		}
		if reusable {
			reusable = s.sc.roundTrip(ctx, "DISCARD ALL") == nil
		}
	}
	s.b.release(s.sc, reusable)
	return nil
}

package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

// Transaction pooling. A client holds a server connection from its first
// message until the server is idle outside a transaction with no answer
// outstanding; the connection then goes back to the pool, and the client's
// next message gets one again (perhaps another).
//
// Two things do not survive that on their own, and the session carries them:
//
//   - settings: the client's startup parameters are its wanted values; each
//     connection remembers what is set on it, and the differences are SET
//     before the client's messages are forwarded;
//   - named prepared statements: each is prepared on the server under a name
//     derived from its text and parameter types ("xcp_" + hash), so clients
//     share them; a Parse the connection already has is answered by the
//     proxy, a Bind or Describe on a connection that lacks the statement is
//     preceded by a Parse the proxy injects, whose ParseComplete it
//     swallows, and Close of a statement is answered by the proxy.
//
// Replies the proxy adds or removes must keep their place in the stream, so
// the session keeps, per assignment, the queue of replies it expects from
// the server in order (expect). The pump completes them as replies arrive,
// emits proxy answers when they reach the head, and, after an
// ErrorResponse, drops what the server will skip up to the next Sync.
//
// A parsed but not yet bound unnamed statement also keeps the connection.
//
// What a client cannot rely on in this mode (as with PgBouncer's): session
// SET and RESET beyond the transaction, portals across a Sync, LISTEN, temporary tables beyond the transaction, advisory
// session locks, WITH HOLD cursors, SQL-level PREPARE.

type prepStmt struct {
	query  string
	oids   []uint32
	server string
}

// expect is one reply the session expects from the server, in order.
type expect struct {
	typ     byte                    // the client message it answers: P B D E C S Q F
	server  string                  // for P: the statement prepared
	swallow bool                    // an injected Parse: its ParseComplete is not forwarded
	answer  pgproto3.BackendMessage // answered by the proxy instead of the server
}

type txSession struct {
	b        *Backend
	wanted   map[string]string // the client's settings, lower-case names
	params   []backends.Param
	prepared map[string]*prepStmt // by client name

	mu       sync.Mutex
	w        backends.FrameWriter
	sc       *serverConn // assigned, or nil
	pumpDone chan struct{}
	q        []expect
	pending  int  // Sync, Query and FunctionCall not yet answered
	unsynced bool // extended-protocol messages since the last Sync
	skipping bool // the server skips to the next Sync (after an error)
	// unnamedParsed: the unnamed statement was parsed and not yet bound.
	// Drivers describe it in one Sync and bind it in the next (pgx's
	// describe-exec), so the connection is kept until the Bind.
	unnamedParsed bool
	status        byte
	broken        bool
	buf           []byte
	copySyncs     int // Syncs sent since the last Execute or Query (see Session)
}

var (
	_ backends.Session  = (*txSession)(nil)
	_ backends.Canceler = (*txSession)(nil)
)

func (b *Backend) openTx(ctx context.Context, p backends.SessionParams) (backends.Session, error) {
	wanted := map[string]string{}
	for k, v := range p.Options {
		switch {
		case ignoredStartup[k] || strings.HasPrefix(k, "_pq_."):
		case k == "options":
			pairs, err := backends.ParseOptions(v)
			if err != nil {
				return nil, err
			}
			for _, kv := range pairs {
				wanted[strings.ToLower(kv[0])] = kv[1]
			}
		default:
			wanted[strings.ToLower(k)] = v
		}
	}
	s := &txSession{b: b, wanted: wanted, prepared: map[string]*prepStmt{}, status: 'I'}
	// Check the settings on a connection once, as PostgreSQL checks
	// startup parameters, and report that connection's values.
	sc, err := b.acquire(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.applySettings(ctx, sc); err != nil {
		var pe *pgcode.Error
		b.release(sc, errors.As(err, &pe))
		if pe != nil {
			return nil, &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pe.Code, Message: pe.Message, Hint: pe.Hint}
		}
		return nil, &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.ConnectionFailure,
			Message: fmt.Sprintf("connection %q: the server did not complete the session setup", b.opts.Name)}
	}
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for k := range sc.params {
			if !yield(k) {
				return
			}
		}
	}) {
		s.params = append(s.params, backends.Param{Name: n, Value: sc.params[n]})
	}
	b.release(sc, true)
	return s, nil
}

// applySettings makes sc's settings the client's: SET what it wants where
// the value differs, RESET what an earlier client set and this one does
// not want.
func (s *txSession) applySettings(ctx context.Context, sc *serverConn) error {
	var stmts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range sc.setBy {
			if !yield(k) {
				return
			}
		}
	}) {
		if _, wanted := s.wanted[k]; !wanted {
			stmts = append(stmts, "RESET "+quoteIdent(k))
		}
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range s.wanted {
			if !yield(k) {
				return
			}
		}
	}) {
		if !sc.setBy[k] || sc.settings[k] != s.wanted[k] {
			stmts = append(stmts, "SET SESSION "+quoteIdent(k)+" = "+quoteLiteral(s.wanted[k]))
		}
	}
	if len(stmts) == 0 {
		return nil
	}
	if err := sc.roundTrip(ctx, strings.Join(stmts, "; ")); err != nil {
		return err
	}
	for k := range sc.setBy {
		if _, wanted := s.wanted[k]; !wanted {
			delete(sc.setBy, k)
			if !isReported(sc, k) {
				delete(sc.settings, k)
			}
		}
	}
	for k, v := range s.wanted {
		sc.setBy[k] = true
		if !isReported(sc, k) {
			sc.settings[k] = v
		}
	}
	return nil
}

// isReported: the server reports the setting in ParameterStatus, so
// sc.settings follows it by itself.
func isReported(sc *serverConn, k string) bool {
	for name := range sc.params {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

func (s *txSession) Parameters() []backends.Param { return s.params }

func (s *txSession) TxStatus() byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sc != nil {
		return 'T'
	}
	return 'I'
}

func serverName(query string, oids []uint32) string {
	h := sha256.New()
	h.Write([]byte(query))
	for _, o := range oids {
		fmt.Fprintf(h, ",%d", o)
	}
	return "xcp_" + hex.EncodeToString(h.Sum(nil)[:12])
}

// assign gives the session a server connection, with the client's settings.
func (s *txSession) assign(ctx context.Context) error {
	sc, err := s.b.acquire(ctx)
	if err != nil {
		return err
	}
	if err := s.applySettings(ctx, sc); err != nil {
		var pe *pgcode.Error
		s.b.release(sc, errors.As(err, &pe))
		return err
	}
	s.mu.Lock()
	s.sc, s.status, s.skipping, s.pending, s.unsynced, s.unnamedParsed = sc, 'I', false, 0, false, false
	s.q = s.q[:0]
	s.pumpDone = make(chan struct{})
	go s.pump(sc, s.pumpDone)
	s.mu.Unlock()
	return nil
}

// push queues an expected reply; with the server skipping, it would not
// come, and nothing is queued (proxy answers included: PostgreSQL would not
// send them either).
func (s *txSession) push(e expect) {
	if s.skipping && e.typ != 'S' {
		return
	}
	s.q = append(s.q, e)
}

// emitHead sends the proxy's answers at the head of the queue.
func (s *txSession) emitHead() {
	for len(s.q) > 0 && s.q[0].answer != nil {
		_ = s.w.Send(s.q[0].answer)
		s.q = s.q[1:]
	}
}

// ensure injects a Parse for st when sc lacks it.
func (s *txSession) ensure(st *prepStmt) {
	if s.sc.prepared[st.server] {
		return
	}
	s.buf, _ = (&pgproto3.Parse{Name: st.server, Query: st.query, ParameterOIDs: st.oids}).Encode(s.buf)
	s.sc.prepared[st.server] = true
	s.push(expect{typ: 'P', server: st.server, swallow: true})
}

func (s *txSession) Handle(ctx context.Context, f backends.Frame, w backends.Writer) error {
	fw, ok := w.(backends.FrameWriter)
	if !ok {
		return fmt.Errorf("postgres: the proxy's writer cannot take frames (%T)", w)
	}
	// Hold the lock with a connection assigned: the pump gives a
	// connection back only under the lock, so it cannot vanish below.
	for {
		s.mu.Lock()
		s.w = fw
		if s.broken {
			s.mu.Unlock()
			return s.lost()
		}
		if s.sc != nil {
			break
		}
		s.mu.Unlock()
		if f.Type == 'H' || f.Type == 'S' || f.Type == 'C' && isStatementClose(f) {
			// Nothing for a server to do: answer without taking one.
			return s.answerIdle(f, fw)
		}
		if err := s.assign(ctx); err != nil {
			return err
		}
	}
	defer s.mu.Unlock()
	flush := false
	forward := true
	switch f.Type {
	case 'P':
		m, err := f.Message()
		if err != nil {
			break // forwarded as it is: the server answers the malformed body
		}
		p := m.(*pgproto3.Parse)
		s.unsynced = true
		if p.Name == "" {
			s.unnamedParsed = true
			s.push(expect{typ: 'P'})
			break
		}
		st := &prepStmt{query: p.Query, oids: slices.Clone(p.ParameterOIDs), server: serverName(p.Query, p.ParameterOIDs)}
		s.prepared[p.Name] = st
		forward = false
		if s.sc.prepared[st.server] {
			s.push(expect{answer: &pgproto3.ParseComplete{}})
			break
		}
		s.buf, _ = (&pgproto3.Parse{Name: st.server, Query: st.query, ParameterOIDs: st.oids}).Encode(s.buf)
		s.sc.prepared[st.server] = true
		s.push(expect{typ: 'P', server: st.server})
	case 'B':
		m, err := f.Message()
		if err != nil {
			break
		}
		b := m.(*pgproto3.Bind)
		s.unsynced = true
		if b.PreparedStatement == "" {
			s.unnamedParsed = false
		}
		if st, ok := s.prepared[b.PreparedStatement]; ok && b.PreparedStatement != "" {
			s.ensure(st)
			b.PreparedStatement = st.server
			s.buf, _ = b.Encode(s.buf)
			forward = false
		}
		s.push(expect{typ: 'B'})
	case 'D':
		m, err := f.Message()
		if err != nil {
			break
		}
		d := m.(*pgproto3.Describe)
		s.unsynced = true
		if st, ok := s.prepared[d.Name]; ok && d.ObjectType == 'S' && d.Name != "" {
			s.ensure(st)
			s.buf, _ = (&pgproto3.Describe{ObjectType: 'S', Name: st.server}).Encode(s.buf)
			forward = false
		}
		s.push(expect{typ: 'D'})
	case 'C':
		m, err := f.Message()
		if err != nil {
			break
		}
		c := m.(*pgproto3.Close)
		s.unsynced = true
		if c.ObjectType == 'S' && c.Name != "" {
			// The server keeps its copy for the next client.
			delete(s.prepared, c.Name)
			s.push(expect{answer: &pgproto3.CloseComplete{}})
			forward = false
		} else {
			s.push(expect{typ: 'C'})
		}
	case 'E':
		s.unsynced = true
		s.copySyncs = 0
		s.push(expect{typ: 'E'})
	case 'S':
		s.pending++
		s.copySyncs++
		s.unsynced = false
		s.push(expect{typ: 'S'})
		flush = true
	case 'Q', 'F':
		s.pending++
		s.copySyncs = 0
		s.unnamedParsed = false // a simple Query replaces the unnamed statement
		s.push(expect{typ: f.Type})
		flush = true
	case 'c', 'f':
		// Syncs sent during copy-in get no answer (see Session.Handle).
		for ; s.copySyncs > 0; s.copySyncs-- {
			s.pending--
			if i := slices.IndexFunc(s.q, func(e expect) bool { return e.typ == 'S' }); i >= 0 {
				s.q = slices.Delete(s.q, i, i+1)
			}
		}
		flush = true
	case 'H':
		flush = true
	}
	if forward {
		s.buf = f.AppendWire(s.buf)
	}
	s.emitHead()
	if !flush && len(s.buf) < serverFlushThreshold {
		return nil
	}
	if len(s.buf) > 0 {
		sc := s.sc
		stop := context.AfterFunc(ctx, func() { _ = sc.conn.SetWriteDeadline(time.Now()) })
		_, err := sc.conn.Write(s.buf)
		stop()
		s.buf = s.buf[:0]
		if err != nil {
			s.broken = true
			return s.lost()
		}
	}
	return s.w.Flush()
}

// isStatementClose reports a Close of a prepared statement.
func isStatementClose(f backends.Frame) bool {
	return len(f.Body) > 0 && f.Body[0] == 'S'
}

// answerIdle answers messages that need no server while none is assigned:
// Flush (nothing to flush), Sync with nothing before it (ReadyForQuery I),
// Close of a statement (the proxy's alone).
func (s *txSession) answerIdle(f backends.Frame, w backends.FrameWriter) error {
	switch f.Type {
	case 'S':
		return w.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	case 'C':
		m, err := f.Message()
		if err != nil {
			return w.Send(pgcode.From(err).Response())
		}
		if c := m.(*pgproto3.Close); c.ObjectType == 'S' {
			delete(s.prepared, c.Name)
		}
		return w.Send(&pgproto3.CloseComplete{})
	}
	return nil
}

func (s *txSession) lost() *pgcode.Error {
	return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.ConnectionFailure,
		Message: fmt.Sprintf("connection %q: the server connection was lost", s.b.opts.Name),
		Hint:    "The statement in progress may or may not have completed. Reconnect."}
}

// completes reports whether a server message completes the reply expected
// for client message typ.
func completes(msg, typ byte) bool {
	switch typ {
	case 'P':
		return msg == '1' // ParseComplete
	case 'B':
		return msg == '2' // BindComplete
	case 'C':
		return msg == '3' // CloseComplete
	case 'D':
		return msg == 'T' || msg == 'n' // RowDescription, NoData
	case 'E':
		return msg == 'C' || msg == 'I' || msg == 's' // CommandComplete, EmptyQuery, PortalSuspended
	case 'S', 'Q', 'F':
		return msg == 'Z'
	}
	return false
}

// pump forwards one assignment's server messages, keeping the queue, and
// gives the connection back when the server is idle outside a transaction.
func (s *txSession) pump(sc *serverConn, done chan struct{}) {
	defer close(done)
	r := sc.r
	for {
		typ, body, err := readFrame(r)
		s.mu.Lock()
		if s.sc != sc { // Close took the connection back
			s.mu.Unlock()
			return
		}
		if err != nil {
			s.broken = true
			var ne net.Error
			if !(errors.As(err, &ne) && ne.Timeout()) {
				_ = s.w.Send(s.lost().Response())
				_ = s.w.Flush()
			}
			s.mu.Unlock()
			return
		}
		fwd := true
		switch typ {
		case 'N', 'A': // notices and notifications: any time
		case 'S':
			sc.recordParam(body)
		case 'E':
			// A failed batch leaves no unnamed statement worth keeping the
			// connection for.
			s.unnamedParsed = false
			head := byte(0)
			if len(s.q) > 0 {
				head = s.q[0].typ
				if s.q[0].typ == 'P' && s.q[0].server != "" {
					delete(sc.prepared, s.q[0].server) // its Parse failed
				}
			}
			if head != 'Q' && head != 'F' {
				// The server skips to the next Sync: drop what it will
				// not answer.
				i := slices.IndexFunc(s.q, func(e expect) bool { return e.typ == 'S' })
				if i < 0 {
					s.q = s.q[:0]
				} else {
					for _, e := range s.q[:i] {
						if e.server != "" {
							delete(sc.prepared, e.server)
						}
					}
					s.q = s.q[i:]
				}
				s.skipping = true
			}
		default:
			if len(s.q) > 0 && completes(typ, s.q[0].typ) {
				fwd = !s.q[0].swallow
				s.q = s.q[1:]
			}
			if typ == 'Z' {
				if len(body) == 1 {
					s.status = body[0]
				}
				s.pending--
				s.skipping = false
			}
		}
		if fwd {
			_ = s.w.SendFrame(typ, body)
		}
		s.emitHead()
		if typ == 'Z' && s.status == 'I' && s.pending == 0 && !s.unsynced && !s.unnamedParsed && len(s.q) == 0 && len(s.buf) == 0 {
			s.sc = nil
			_ = s.w.Flush()
			s.mu.Unlock()
			s.b.release(sc, true)
			return
		}
		w := s.w
		s.mu.Unlock()
		if r.Buffered() == 0 {
			_ = w.Flush()
		}
	}
}

// Cancel forwards to the assigned server connection, if any.
func (s *txSession) Cancel(ctx context.Context) error {
	s.mu.Lock()
	sc := s.sc
	s.mu.Unlock()
	if sc == nil {
		return nil
	}
	tmp := &Session{sc: sc}
	return tmp.Cancel(ctx)
}

// Close gives back an assigned connection: cleaned (ROLLBACK, DISCARD ALL)
// when its state is known, closed otherwise.
func (s *txSession) Close() error {
	s.mu.Lock()
	sc, done := s.sc, s.pumpDone
	s.sc = nil
	reusable := !s.broken && s.pending == 0 && !s.unsynced && len(s.q) == 0
	s.mu.Unlock()
	if sc == nil {
		return nil
	}
	_ = sc.conn.SetReadDeadline(time.Now())
	<-done
	reusable = reusable && sc.r.Buffered() == 0
	if reusable {
		_ = sc.conn.SetReadDeadline(time.Time{})
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		reusable = sc.roundTrip(ctx, "ROLLBACK") == nil && sc.roundTrip(ctx, "DISCARD ALL") == nil
		clear(sc.prepared) // DISCARD ALL drops them, and the settings
		clear(sc.setBy)
		clear(sc.settings)
		for k, v := range sc.params {
			sc.settings[strings.ToLower(k)] = v
		}
	}
	s.b.release(sc, reusable)
	return nil
}

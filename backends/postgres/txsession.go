package postgres

import (
	"context"
	"encoding/binary"
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
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// TxSession serves one client. In transaction mode the client holds a
// server connection from the first message of a transaction until the
// server reports ReadyForQuery 'I' with nothing of the client's still
// outstanding; then the connection goes back to the pool, and the next
// transaction may run on another one.
//
// In session mode (pinned) the client keeps its connection for the whole
// session, and the same bookkeeping serves another purpose: when the
// connection is lost between statements (a server restart, a network cut)
// the next statement runs on a new one that is given the session back:
// startup parameters, settings, prepared statements and LISTEN channels.
// State the proxy cannot carry (temporary objects, WITH HOLD cursors,
// SQL-level PREPARE, session advisory locks, SET SESSION AUTHORIZATION)
// makes the loss end the session with FATAL instead.
//
// What makes the connections interchangeable:
//
//   - Named prepared statements are kept per client (name -> text and
//     parameter types) and prepared on a server connection under a name
//     derived from their content ("xcp_" + hash), shared by every client
//     that prepared the same text. A Bind or Describe of a statement the
//     connection lacks is preceded by an injected Parse whose ParseComplete
//     the client never sees. A client's Close does not close the shared
//     statement; it is answered by a Close of a name that does not exist,
//     so that the CloseComplete arrives in order.
//   - The unnamed statement is remembered too, so that a Parse, Sync, Bind,
//     Sync sequence (pgx's describe-exec mode) works across connections.
//   - Settings the server reports (TimeZone, DateStyle, application_name,
//     ...) are tracked from ParameterStatus, and unreported ones from the
//     startup parameters and top-level SET statements; at each acquire the
//     connection is brought to the client's values with set_config and RESET
//     where it differs.
//   - Anything else that outlives a transaction (LISTEN, SQL-level PREPARE,
//     temporary tables, session advisory locks, SET inside a transaction
//     block or through set_config) marks the connection dirty, and it is
//     cleaned with DISCARD ALL when released: it does not leak to the next
//     client, and it does not survive for this one.
//
// Replies are matched to requests with a queue: every forwarded message
// that the server answers gets an entry, so an ErrorResponse is attributed
// to the message that failed, and the entries after it up to the Sync,
// which the server skips, are undone (protocol, "Extended Query").
type TxSession struct {
	b      *Backend
	params []backends.Param // announced at startup

	buf []byte // client messages not yet written (Handle's goroutine only)
	// localSkip: an error was answered without a server (the pool timed
	// out, the server connection was lost); messages are dropped until
	// the client's Sync. Set by the pump too.
	localSkip atomic.Bool
	// lostTx: the server connection failed while the client was inside a
	// transaction block with nothing outstanding; its next request is
	// told the transaction is gone.
	lostTx atomic.Bool

	mu          sync.Mutex
	sc          *serverConn // held connection, nil between transactions
	queue       []reply
	errSkip     bool // the server skips until Sync, and no Sync is queued
	unsynced    bool // extended messages forwarded since the last Sync
	syncsInCopy int  // Syncs queued since the last Execute or Query
	closing     bool
	inBlock     bool // the last ReadyForQuery said 'T' or 'E'
	// Replay: the client messages of the current transaction while it
	// can still be sent again on another connection (nothing of its
	// answer reached the client, and it only reads).
	sent       []backends.Frame
	replayable bool
	replayErr  *pgcode.Error // why a replay found no connection
	answered   bool          // something beyond structural messages reached the client
	structural int           // ParseComplete, BindComplete, descriptions forwarded so far
	// skipReplies: structural messages of a replay the client already has.
	skipReplies int
	// paused: the pump has the server connection to itself (a replay on
	// a new connection, a read-back of the session's settings); closed
	// when it is done. Handle waits for it.
	paused   chan struct{}
	stmts    map[string]*stmtDef // the client's named statements
	unnamed  *stmtDef            // the client's unnamed statement
	unnSeq   uint64              // changes with every unnamed Parse
	want     map[string]string   // reported settings as the client sees them
	startup  startup             // the client's startup parameters
	fixed    map[string]string   // unreported session-level settings now
	version  uint64              // changes with want and fixed
	pumpDone chan struct{}
	waiting  context.CancelCauseFunc // ends a wait for a connection
	id       uint64                  // names this client's statements on the server
	nextStmt uint64

	// Session mode.
	facts map[string]facts // statement texts analysed (textFacts)
	// sqlPrepared: the SQL-level statements the session may hold (PREPARE;
	// session mode: no new connection has them).
	sqlPrepared map[string]bool
	pinned      bool        // the connection is kept for the whole session
	parked      *serverConn // the connection taken at login, until the first message
	channels    []string    // LISTEN channels, as last read back
	restore     bool        // the connection was lost: the next one listens again

	holding  atomic.Bool
	broken   atomic.Bool
	clean    atomic.Bool // the last pump stopped between two messages
	cancelMu sync.Mutex  // Cancel holds it while it signals; release waits
}

var (
	_ backends.Session  = (*TxSession)(nil)
	_ backends.Canceler = (*TxSession)(nil)
)

// stmtDef is a prepared statement as the client made it.
type stmtDef struct {
	readOnly bool // the statement changes nothing (replayable)
	query    string
	oids     []byte // the Parse body after the query: count and type OIDs
	sname    string // the server's name for it ("" for the unnamed one)
}

// replyKind says which server answer ends a queue entry.
type replyKind uint8

const (
	rParse     replyKind = iota + 1 // ParseComplete
	rBind                           // BindComplete
	rDescribeS                      // ParameterDescription, then RowDescription or NoData
	rDescribeP                      // RowDescription or NoData
	rExecute                        // CommandComplete, EmptyQueryResponse or PortalSuspended
	rClose                          // CloseComplete
	rSync                           // ReadyForQuery
	rQuery                          // ReadyForQuery (Query, FunctionCall)
	rFailure                        // an ErrorResponse, rewritten
)

// reply is one expected answer and how to treat it.
type reply struct {
	kind    replyKind
	drop    bool          // injected by the proxy: the client never sees the answer
	failure *pgcode.Error // rFailure: the error to show when the server answers 26000

	client  string   // client statement name this entry records or removes
	def     *stmtDef // the definition it records (Parse) or removed (Close)
	sname   string   // server statement this entry prepares or closes
	tick    uint64   // ... and its last use, to restore
	unnamed bool     // a Parse or Close of the unnamed statement
	prevUnn *stmtDef // the client's unnamed statement before it
	prevOwn *TxSession
	prevSeq uint64
	failed  bool // rQuery: an ErrorResponse came (and undo ran)
	quiet   bool // an injected message whose error the client does not see either
}

// login is what a set of startup parameters gives a client in transaction
// mode: the ParameterStatus values it is told.
type login struct {
	params []backends.Param
	want   map[string]string
}

// maxLogins bounds the cache of logins by startup parameters.
const maxLogins = 1000

// settable are the reported settings a client can change and the proxy
// carries from connection to connection. The others the server reports
// (server_version, is_superuser, session_authorization, ...) are fixed for
// the backend user.
var settable = []string{
	"application_name", "client_encoding", "DateStyle", "IntervalStyle",
	"TimeZone", "standard_conforming_strings", "default_transaction_read_only",
}

// openTx logs a client in. A server connection is needed only the first
// time a set of startup parameters is seen, to learn what the server makes
// of them; later logins with the same parameters take no connection.
func (b *Backend) openTx(ctx context.Context, st startup) (backends.Session, error) {
	b.loginMu.Lock()
	l := b.logins[st.key]
	b.loginMu.Unlock()
	if l == nil {
		var err error
		if l, err = b.learnLogin(ctx, st); err != nil {
			return nil, err
		}
		b.loginMu.Lock()
		if b.logins == nil || len(b.logins) >= maxLogins {
			b.logins = map[string]*login{}
		}
		b.logins[st.key] = l
		b.loginMu.Unlock()
	}
	s := &TxSession{b: b, id: b.sessions.Add(1), startup: st, params: l.params, stmts: map[string]*stmtDef{},
		want: maps.Clone(l.want), fixed: map[string]string{}}
	return s, nil
}

// learnLogin takes a server connection opened with the startup parameters
// (opening one if none is idle) and records what the server reported.
func (b *Backend) learnLogin(ctx context.Context, st startup) (*login, error) {
	sc, err := b.acquire(ctx, st)
	if err != nil {
		return nil, err
	}
	// A fresh connection shows what a login gives; one that served
	// clients may carry a client's settings, which DISCARD ALL undoes.
	if (sc.synced != nil || len(sc.applied) > 0) && !discard(sc) {
		b.release(sc, false)
		return nil, &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.ConnectionFailure,
			Message: fmt.Sprintf("connection %q: the server did not complete the session setup", b.opts.Name)}
	}
	l := loginOf(sc)
	b.release(sc, true)
	return l, nil
}

// loginOf is what a fresh login on sc shows: its ParameterStatus values,
// and those of them a client can change.
func loginOf(sc *serverConn) *login {
	l := &login{want: map[string]string{}}
	for _, name := range slices.Sorted(maps.Keys(sc.params)) {
		l.params = append(l.params, backends.Param{Name: name, Value: sc.params[name]})
	}
	for _, name := range settable {
		if v, ok := sc.params[name]; ok {
			l.want[name] = v
		}
	}
	return l
}

// reportedName returns the server's spelling of a reported setting, or ""
// when the server does not report name.
func reportedName(params map[string]string, name string) string {
	if _, ok := params[name]; ok {
		return name
	}
	for k := range params {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return ""
}

// Parameters are the ParameterStatus values a fresh login with these
// startup parameters shows.
func (s *TxSession) Parameters() []backends.Param { return s.params }

// TxStatus is 'I' when the session holds no server connection: it is then
// between transactions.
func (s *TxSession) TxStatus() byte {
	if s.pinned {
		// Session mode holds its connection between transactions too.
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.sc != nil && (len(s.queue) > 0 || s.unsynced || s.errSkip || s.inBlock) || s.lostTx.Load() {
			return 'T'
		}
		return 'I'
	}
	if s.holding.Load() {
		return 'T'
	}
	return 'I'
}

// Handle forwards one client message, taking a server connection first
// when the client holds none.
func (s *TxSession) Handle(ctx context.Context, f backends.Frame, w backends.Writer) error {
	if s.broken.Load() {
		return errSessionLost // the client was told (sessionLost)
	}
	fw, ok := w.(backends.FrameWriter)
	if !ok {
		return fmt.Errorf("postgres: the proxy's writer cannot take frames (%T)", w)
	}
	if s.lostTx.Load() {
		switch f.Type {
		case 'H', 'd', 'c', 'f':
			return nil
		}
		s.lostTx.Store(false)
		e := s.lostError()
		e.Message = fmt.Sprintf("connection %q: the server connection was lost inside the transaction; the transaction is gone", s.b.opts.Name)
		e.Hint = "Nothing of it was committed by this statement; start the transaction again."
		if err := fw.Send(e.Response()); err != nil {
			return err
		}
		if f.Type == 'Q' || f.Type == 'F' || f.Type == 'S' {
			return fw.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		}
		s.localSkip.Store(true)
		return nil
	}
	if s.localSkip.Load() {
		if f.Type == 'S' {
			s.localSkip.Store(false)
			return fw.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		}
		return nil
	}
	// The check for a held connection and the bookkeeping of the message
	// happen under one lock: the pump gives the connection back under it
	// too, so a message is never queued on a connection already in the
	// pool.
	s.mu.Lock()
	for s.paused != nil {
		ch := s.paused
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	}
	sc := s.sc
	if sc == nil {
		s.mu.Unlock()
		// Whatever the session answers itself must follow the last
		// answer of its previous transaction.
		s.waitPump()
		switch f.Type {
		case 'H', 'd', 'c', 'f':
			// Nothing is outstanding: a Flush has nothing to push, and
			// the server ignores copy messages outside a COPY.
			return nil
		case 'S':
			// A Sync with nothing before it: the server would only
			// answer that it is idle.
			return fw.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		}
		var err error
		if sc, err = s.take(ctx, fw); err != nil {
			return s.failLocally(err, f.Type, fw)
		}
		s.mu.Lock()
	}
	flush, err := s.translate(f, sc)
	var out []byte
	if flush || len(s.buf) >= serverFlushThreshold {
		out, s.buf = s.buf, nil
	}
	s.mu.Unlock()
	if err != nil || out == nil {
		return err
	}
	return s.write(ctx, sc, out)
}

// waitPump waits until the previous transaction's pump has sent its last
// message.
func (s *TxSession) waitPump() {
	s.mu.Lock()
	prev := s.pumpDone
	s.mu.Unlock()
	if prev != nil {
		<-prev
	}
}

// take acquires a server connection, brings it to the client's settings
// and starts the goroutine that forwards its answers.
func (s *TxSession) take(ctx context.Context, w backends.FrameWriter) (*serverConn, error) {
	sc := s.parked
	s.parked = nil
	if sc == nil {
		sc = s.b.tryAcquire(s.startup)
	}
	if sc == nil {
		// A cancel request while the transaction waits for a connection
		// ends the wait, as it would end the statement.
		wctx, stop := context.WithCancelCause(ctx)
		s.mu.Lock()
		s.waiting = stop
		s.mu.Unlock()
		var err error
		sc, err = s.b.acquire(wctx, s.startup)
		s.mu.Lock()
		s.waiting = nil
		s.mu.Unlock()
		stop(nil)
		if err != nil {
			if context.Cause(wctx) == errCanceled {
				return nil, &pgcode.Error{Severity: pgcode.SeverityError, Code: pgcode.QueryCanceled,
					Message: "canceling statement due to user request"}
			}
			return nil, err
		}
	}
	err := s.syncSettings(ctx, sc)
	if err == nil && s.restore {
		err = s.listenAgain(ctx, sc)
	}
	if err != nil {
		var pe *pgcode.Error
		s.b.release(sc, errors.As(err, &pe))
		if pe != nil {
			return nil, pe
		}
		return nil, &pgcode.Error{Severity: pgcode.SeverityError, Code: pgcode.ConnectionFailure,
			Message: fmt.Sprintf("connection %q: the server did not accept the session's settings", s.b.opts.Name)}
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.sc = sc
	s.queue = s.queue[:0]
	s.errSkip, s.unsynced, s.syncsInCopy = false, false, 0
	s.pumpDone = done
	s.holding.Store(true)
	s.sent, s.replayable, s.answered = s.sent[:0], true, false
	s.structural, s.skipReplies = 0, 0
	s.mu.Unlock()
	go s.pump(sc, w, done)
	return sc, nil
}

// listenAgain listens on a new connection to the channels the session
// listened to on the one it lost (session mode). Notifications sent while
// no connection listened are not delivered.
func (s *TxSession) listenAgain(ctx context.Context, sc *serverConn) error {
	var stmts []string
	for _, ch := range s.channels {
		stmts = append(stmts, "LISTEN "+quoteIdent(ch))
	}
	if len(stmts) > 0 {
		if err := sc.roundTrip(ctx, strings.Join(stmts, "; ")); err != nil {
			return err
		}
	}
	s.restore = false
	return nil
}

// failLocally answers a message that found no server connection: an
// ERROR, then ReadyForQuery now (Query, FunctionCall) or at the client's
// Sync. The session goes on; its next transaction tries again.
func (s *TxSession) failLocally(err error, typ byte, w backends.FrameWriter) error {
	var pe *pgcode.Error
	if !errors.As(err, &pe) {
		return err
	}
	e := *pe
	e.Severity = pgcode.SeverityError
	if err := w.Send(e.Response()); err != nil {
		return err
	}
	if typ == 'Q' || typ == 'F' {
		return w.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	}
	s.localSkip.Store(true)
	return nil
}

// syncSettings brings sc to the client's settings. Called before the pump
// starts: the answers are read here.
func (s *TxSession) syncSettings(ctx context.Context, sc *serverConn) error {
	s.mu.Lock()
	if sc.synced == s && sc.syncVer == s.version {
		s.mu.Unlock()
		return nil
	}
	var pairs [][2]string
	for _, name := range settable {
		if v, ok := s.want[name]; ok && sc.params[name] != v {
			pairs = append(pairs, [2]string{name, v})
		}
	}
	// The role last: set first, it could forbid a setting only the
	// session user may make (session_replication_role, ...).
	fixedNames := slices.SortedFunc(maps.Keys(s.fixed), func(a, b string) int {
		if (a == "role") != (b == "role") {
			if a == "role" {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	for _, name := range fixedNames {
		if v, ok := sc.applied[name]; !ok || v != s.fixed[name] {
			pairs = append(pairs, [2]string{name, s.fixed[name]})
		}
	}
	var resets []string
	for _, name := range slices.Sorted(maps.Keys(sc.applied)) {
		if _, ok := s.fixed[name]; !ok {
			resets = append(resets, "RESET "+quoteIdent(name))
		}
	}
	fixed, version := maps.Clone(s.fixed), s.version
	s.mu.Unlock()

	// Resets first: a role the connection still has from before must
	// not forbid what this session sets.
	stmts := resets
	if len(pairs) > 0 {
		stmts = append(stmts, setConfigSQL(pairs))
	}
	if len(stmts) > 0 {
		if err := sc.roundTrip(ctx, strings.Join(stmts, "; ")); err != nil {
			return err
		}
	}
	sc.applied = fixed
	sc.synced, sc.syncVer = s, version
	return nil
}

// translate queues the expected answers of one client message and appends
// what the server must get to s.buf. It reports whether the buffer must be
// written now. Called with s.mu held.
func (s *TxSession) translate(f backends.Frame, sc *serverConn) (flush bool, err error) {
	var mt msgText
	switch f.Type {
	case 'Q':
		mt.query, mt.ok = queryText(f.Body), true
	case 'P':
		mt.name, mt.query, mt.oids, mt.ok = backends.TwoCStrings(f.Body)
	}
	if mt.ok {
		mt.facts = s.textFacts(mt.query)
	}
	s.record(f, mt.facts.replayable)
	if s.errSkip && f.Type != 'S' {
		// The server skips everything up to the Sync: pass it on as it
		// is, with no bookkeeping, since none of it takes effect.
		s.buf = f.AppendWire(s.buf)
		return f.Type == 'H', nil
	}
	switch f.Type {
	case 'Q':
		s.syncsInCopy = 0
		q := mt.query
		s.noteEffects(mt.facts.fx, sc)
		e := reply{kind: rQuery}
		rewritten, ok := s.sqlStatementRef(q, sc, &e)
		// A simple Query destroys the unnamed statement.
		s.unnamed, sc.unnamed = nil, nil
		s.queue = append(s.queue, e)
		if ok {
			s.buf = backends.AppendMessage(s.buf, 'Q', append([]byte(rewritten), 0))
		} else {
			s.buf = f.AppendWire(s.buf)
		}
		return true, nil
	case 'F':
		s.syncsInCopy = 0
		s.queue = append(s.queue, reply{kind: rQuery})
		s.buf = f.AppendWire(s.buf)
		return true, nil
	case 'S':
		s.syncsInCopy++
		s.errSkip, s.unsynced = false, false
		s.queue = append(s.queue, reply{kind: rSync})
		s.buf = f.AppendWire(s.buf)
		return true, nil
	case 'H':
		if len(s.queue) == 0 && len(s.buf) == 0 {
			return false, nil
		}
		s.buf = f.AppendWire(s.buf)
		return true, nil
	case 'c', 'f':
		// Sent only after CopyInResponse: the Syncs queued since the
		// Execute that started the COPY reached the server in copy-in
		// mode, where it ignores them (protocol, "COPY Operations").
		for i := len(s.queue) - 1; i >= 0 && s.syncsInCopy > 0; i-- {
			if s.queue[i].kind == rSync {
				s.queue = slices.Delete(s.queue, i, i+1)
				s.syncsInCopy--
			}
		}
		s.syncsInCopy = 0
		s.buf = f.AppendWire(s.buf)
		return true, nil
	case 'd':
		s.buf = f.AppendWire(s.buf)
		return false, nil
	}

	// Extended-protocol messages.
	s.unsynced = true
	switch f.Type {
	case 'P':
		return false, s.parse(f, sc, mt)
	case 'B':
		portal, stmt, rest, ok := backends.TwoCStrings(f.Body)
		if !ok {
			break // malformed: the server says so
		}
		name := s.bindable(stmt, sc)
		body := append(append(append(append([]byte(portal), 0), name...), 0), rest...)
		s.queue = append(s.queue, reply{kind: rBind})
		s.buf = backends.AppendMessage(s.buf, 'B', body)
		return false, nil
	case 'D':
		if len(f.Body) >= 2 && f.Body[0] == 'S' {
			stmt, ok := backends.CString(f.Body[1:])
			if !ok {
				break
			}
			name := s.bindable(stmt, sc)
			s.queue = append(s.queue, reply{kind: rDescribeS})
			s.buf = backends.AppendMessage(s.buf, 'D', append(append([]byte{'S'}, name...), 0))
			return false, nil
		}
		s.queue = append(s.queue, reply{kind: rDescribeP})
		s.buf = f.AppendWire(s.buf)
		return false, nil
	case 'E':
		s.syncsInCopy = 0
		s.queue = append(s.queue, reply{kind: rExecute})
		s.buf = f.AppendWire(s.buf)
		return false, nil
	case 'C':
		if len(f.Body) >= 2 && f.Body[0] == 'S' {
			stmt, ok := backends.CString(f.Body[1:])
			if !ok {
				break
			}
			s.closeStatement(stmt, sc)
			return false, nil
		}
		s.queue = append(s.queue, reply{kind: rClose})
		s.buf = f.AppendWire(s.buf)
		return false, nil
	default:
		// A message type the server will reject: it answers with an
		// ErrorResponse of its own.
		s.buf = f.AppendWire(s.buf)
		return false, nil
	}
	// A malformed message: the server answers it with 08P01, which this
	// entry catches.
	s.queue = append(s.queue, reply{kind: rFailure})
	s.buf = f.AppendWire(s.buf)
	return false, nil
}

// errSessionLost ends a session that was told with FATAL that it cannot
// go on (sessionLost).
var errSessionLost = errors.New("the session ended: its server connection was lost with state that cannot be restored")

// errCanceled is the cause of a wait for a connection ended by a cancel
// request.
var errCanceled = errors.New("canceled by the client")

// msgText is the statement text of a Query or Parse, read once per
// message: its Parse name and parameter types, whether it was well formed,
// and what the text does (textFacts).
type msgText struct {
	name, query string
	oids        []byte
	ok          bool
	facts       facts
}

// record keeps a copy of a client message while the transaction may be
// replayed, and notes whether it still may be; textReplayable says it of
// the text of a Query or Parse. Called with s.mu held.
func (s *TxSession) record(f backends.Frame, textReplayable bool) {
	if !s.replayable || s.answered {
		s.sent = s.sent[:0]
		return
	}
	switch f.Type {
	case 'Q', 'P':
		s.replayable = s.replayable && textReplayable
	case 'B':
		_, stmt, _, ok := backends.TwoCStrings(f.Body)
		def := s.unnamed
		if stmt != "" {
			def = s.stmts[stmt]
		}
		if !ok || def == nil || !def.readOnly {
			s.replayable = false
		}
	case 'F', 'd', 'c', 'f':
		s.replayable = false
	}
	if s.replayable {
		s.sent = append(s.sent, backends.NewFrame(f.Type, slices.Clone(f.Body), backends.MessageDecoder{}))
	}
}

// replayable reports a statement that may run twice without anyone
// telling: a read by its text that calls nothing with a side effect
// (nextval, advisory locks, set_config, functions the classifier does not
// know).
func replayable(q string) bool {
	if !sqltext.Classify(q).ReadOnly {
		return false
	}
	if fx := analyze(q); fx.dirty || fx.settings {
		return false // advisory locks, set_config, ...
	}
	ws := sqltext.Writes(q, sqltext.Postgres)
	return len(ws.Tables) == 0 && !ws.All && !ws.Session
}

// noStatement is a statement name (NUL-terminated) that is never
// prepared: Close answers it with CloseComplete, Bind with 26000.
var noStatement = []byte("xcp_none\x00")

// maxServerStatements bounds the statements the proxy keeps prepared on
// one server connection for its clients: past it, the least recently used
// is closed (and prepared again if its client needs it later).
const maxServerStatements = 1000

// parse handles a client Parse.
func (s *TxSession) parse(f backends.Frame, sc *serverConn, mt msgText) error {
	if !mt.ok {
		s.queue = append(s.queue, reply{kind: rFailure})
		s.buf = f.AppendWire(s.buf)
		return nil
	}
	name, query := mt.name, mt.query
	s.noteEffects(mt.facts.fx, sc)
	def := &stmtDef{query: query, oids: slices.Clone(mt.oids), readOnly: mt.facts.replayable}
	if name == "" {
		e := reply{kind: rParse, unnamed: true, prevUnn: s.unnamed, prevOwn: sc.unnamed, prevSeq: sc.unnSeq}
		s.unnSeq++
		s.unnamed = def
		sc.unnamed, sc.unnSeq = s, s.unnSeq
		s.queue = append(s.queue, e)
		s.buf = f.AppendWire(s.buf)
		return nil
	}
	if s.stmts[name] != nil {
		// PostgreSQL refuses a second Parse of a name in use. A Bind of a
		// statement that does not exist fails without touching anything;
		// its 26000 is shown as this error (any other error, such as
		// 25P02 in an aborted transaction, is the server's own answer).
		s.queue = append(s.queue, reply{kind: rFailure, failure: &pgcode.Error{Severity: pgcode.SeverityError,
			Code: pgcode.DuplicatePreparedStatement, Message: fmt.Sprintf("prepared statement %q already exists", name)}})
		s.buf = backends.AppendMessage(s.buf, 'B', append(append([]byte{0}, noStatement...), 0, 0, 0, 0, 0, 0))
		return nil
	}
	// Each client's statements have names of their own on the server:
	// PostgreSQL parses a statement with the settings of the moment
	// (search_path, DateStyle, TimeZone, standard_conforming_strings), so
	// the same text is not the same statement for two clients.
	if s.pinned {
		// The connection is the client's alone: its own name serves.
		def.sname = name
	} else {
		s.nextStmt++
		def.sname = fmt.Sprintf("xcp_%x_%x", s.id, s.nextStmt)
	}
	s.stmts[name] = def
	s.prepareOn(sc, def, reply{kind: rParse, client: name, def: def})
	return nil
}

// sqlStatementRef rewrites an SQL-level EXECUTE or DEALLOCATE of a
// statement the client prepared through the protocol (one namespace in
// PostgreSQL: psycopg 3.1 deallocates its statements this way) to the
// statement's name on the server, preparing it first when the connection
// lacks it. It reports false when q is something else. Called with s.mu
// held.
func (s *TxSession) sqlStatementRef(q string, sc *serverConn, e *reply) (string, bool) {
	if !sqltext.ContainsFold(q, "execute", "deallocate") {
		return "", false
	}
	toks := sqltext.Significant(q)
	if len(toks) > 0 && toks[len(toks)-1].Kind == sqltext.TokSemicolon {
		toks = toks[:len(toks)-1]
	}
	if len(toks) < 2 || slices.ContainsFunc(toks, func(t sqltext.Token) bool { return t.Kind == sqltext.TokSemicolon }) {
		return "", false
	}
	i := 1
	switch {
	case word(toks, 0, "execute"):
	case word(toks, 0, "deallocate"):
		if word(toks, 1, "prepare") {
			i = 2
		}
		if i != len(toks)-1 || word(toks, i, "all") {
			return "", false
		}
	default:
		return "", false
	}
	if i >= len(toks) {
		return "", false
	}
	name := toks[i].Text
	switch toks[i].Kind {
	case sqltext.TokIdent:
		name = strings.ToLower(name) // as PostgreSQL folds it
	case sqltext.TokQuotedIdent:
		name = toks[i].Value()
	default:
		return "", false
	}
	def := s.stmts[name]
	if def == nil {
		return "", false
	}
	sname := def.sname
	if word(toks, 0, "deallocate") {
		delete(s.stmts, name)
		e.client, e.def = name, def
		if tick, ok := sc.prepared[sname]; ok {
			delete(sc.prepared, sname)
			e.sname, e.tick = sname, tick
		} else {
			// Not here: a statement prepared for the purpose is
			// deallocated in its place, so that the answer is the same.
			s.nextStmt++
			sname = fmt.Sprintf("xcp_%x_%x", s.id, s.nextStmt)
			s.prepareOn(sc, &stmtDef{query: "SELECT", oids: []byte{0, 0}, sname: sname}, reply{kind: rParse, drop: true, quiet: true})
			delete(sc.prepared, sname)
			s.injectSync()
		}
	} else if _, ok := sc.prepared[sname]; !ok {
		s.prepareOn(sc, def, reply{kind: rParse, drop: true, quiet: true})
		s.injectSync()
	}
	return q[:toks[i].Pos] + quoteIdent(sname) + q[toks[i].End():], true
}

// injectSync queues a Sync whose ReadyForQuery the client never sees: an
// injected Parse before a simple Query must not leave the server skipping
// messages (the Query among them) if it fails.
func (s *TxSession) injectSync() {
	s.queue = append(s.queue, reply{kind: rSync, drop: true})
	s.buf = backends.AppendMessage(s.buf, 'S', nil)
}

// prepareOn queues a Parse of def on sc, closing the least recently used
// statement first when sc has too many.
func (s *TxSession) prepareOn(sc *serverConn, def *stmtDef, e reply) {
	if len(sc.prepared) >= maxServerStatements && !s.pinned {
		victim, oldest := "", uint64(0)
		for name, tick := range sc.prepared {
			if victim == "" || tick < oldest {
				victim, oldest = name, tick
			}
		}
		delete(sc.prepared, victim)
		s.queue = append(s.queue, reply{kind: rClose, drop: true, sname: victim, tick: oldest})
		s.buf = backends.AppendMessage(s.buf, 'C', append(append([]byte{'S'}, victim...), 0))
	}
	e.sname = def.sname
	sc.useTick++
	sc.prepared[def.sname] = sc.useTick
	s.queue = append(s.queue, e)
	s.buf = appendParse(s.buf, def)
}

// bindable returns the server's name for a statement a Bind or Describe
// refers to, first queueing a Parse of it when the connection lacks it.
func (s *TxSession) bindable(stmt string, sc *serverConn) string {
	if stmt == "" {
		if sc.unnamed == s && sc.unnSeq == s.unnSeq {
			return ""
		}
		if s.unnamed == nil {
			// The connection's unnamed statement is someone else's, or
			// none: the client has none, as the server should say.
			s.queue = append(s.queue, reply{kind: rFailure, failure: &pgcode.Error{Severity: pgcode.SeverityError,
				Code: pgcode.InvalidSQLStatementName, Message: "unnamed prepared statement does not exist"}})
			return string(noStatement[:len(noStatement)-1])
		}
		s.queue = append(s.queue, reply{kind: rParse, drop: true, unnamed: true,
			prevUnn: s.unnamed, prevOwn: sc.unnamed, prevSeq: sc.unnSeq})
		sc.unnamed, sc.unnSeq = s, s.unnSeq
		s.buf = appendParse(s.buf, s.unnamed)
		return ""
	}
	def := s.stmts[stmt]
	if def == nil {
		return stmt // the server says it does not exist
	}
	if _, ok := sc.prepared[def.sname]; ok {
		sc.useTick++
		sc.prepared[def.sname] = sc.useTick
	} else {
		s.prepareOn(sc, def, reply{kind: rParse, drop: true})
	}
	return def.sname
}

// closeStatement handles a client's Close of a statement.
func (s *TxSession) closeStatement(stmt string, sc *serverConn) {
	if stmt == "" {
		e := reply{kind: rClose, unnamed: true, prevUnn: s.unnamed, prevOwn: sc.unnamed, prevSeq: sc.unnSeq}
		s.unnamed = nil
		s.queue = append(s.queue, e)
		if sc.unnamed == s && sc.unnSeq == s.unnSeq {
			sc.unnamed = nil
			s.buf = backends.AppendMessage(s.buf, 'C', []byte{'S', 0})
		} else {
			// The connection's unnamed statement is not this client's:
			// it must survive, and the client's is gone already.
			s.buf = backends.AppendMessage(s.buf, 'C', append([]byte{'S'}, noStatement...))
		}
		return
	}
	e := reply{kind: rClose}
	def := s.stmts[stmt]
	if def == nil {
		// Closing a statement that does not exist is not an error.
		s.queue = append(s.queue, e)
		s.buf = backends.AppendMessage(s.buf, 'C', append([]byte{'S'}, noStatement...))
		return
	}
	delete(s.stmts, stmt)
	e.client, e.def = stmt, def
	if tick, ok := sc.prepared[def.sname]; ok {
		delete(sc.prepared, def.sname)
		e.sname, e.tick = def.sname, tick
		s.queue = append(s.queue, e)
		s.buf = backends.AppendMessage(s.buf, 'C', append(append([]byte{'S'}, def.sname...), 0))
		return
	}
	// Prepared on other connections only: those copies go when they are
	// the least recently used there.
	s.queue = append(s.queue, e)
	s.buf = backends.AppendMessage(s.buf, 'C', append([]byte{'S'}, noStatement...))
}

func appendParse(dst []byte, def *stmtDef) []byte {
	start := len(dst)
	dst = append(dst, 'P', 0, 0, 0, 0)
	dst = append(append(dst, def.sname...), 0)
	dst = append(append(dst, def.query...), 0)
	dst = append(dst, def.oids...)
	binary.BigEndian.PutUint32(dst[start+1:], uint32(len(dst)-start-1))
	return dst
}

func queryText(body []byte) string {
	q, _ := backends.CString(body)
	return q
}

// write sends the buffered messages to the server.
func (s *TxSession) write(ctx context.Context, sc *serverConn, buf []byte) error {
	// A server that stops reading must not hold the session forever: the
	// message's context ends the write when the proxy closes. The check
	// under mu keeps a late cancel off a connection already given back.
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		if s.sc == sc {
			_ = sc.conn.SetWriteDeadline(time.Now())
		}
		s.mu.Unlock()
	})
	_, err := sc.conn.Write(buf)
	stop()
	if cap(buf) <= 4*serverFlushThreshold {
		s.mu.Lock()
		if s.buf == nil {
			s.buf = buf[:0]
		}
		s.mu.Unlock()
	}
	if err != nil {
		// The pump finds the connection closed and answers the client.
		sc.conn.Close()
	}
	return nil
}

func (s *TxSession) lost() *pgcode.Error {
	return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.ConnectionFailure,
		Message: fmt.Sprintf("connection %q: the server connection was lost", s.b.opts.Name),
		Hint:    "The statement in progress may or may not have completed. Reconnect."}
}

// pump forwards the answers of sc to the client until the transaction
// ends and sc goes back to the pool, the connection fails, or Close stops
// it.
func (s *TxSession) pump(sc *serverConn, w backends.FrameWriter, done chan struct{}) {
	defer close(done)
	fatalSent := false
	for {
		typ, body, err := readFrame(sc.r)
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				var ne net.Error
				s.clean.Store(errors.As(err, &ne) && ne.Timeout() && sc.r.Buffered() == 0)
				return
			}
			if next := s.connLost(sc, w, fatalSent); next != nil {
				sc = next // the transaction was sent again on it
				continue
			}
			return
		}
		s.mu.Lock()
		out, rewrite, next := s.answer(sc, typ, body)
		if (out != 0 || rewrite != nil) && !(out == 'E' && isFatal(body)) {
			switch {
			case rewrite == nil && structural(out) && s.skipReplies > 0:
				// Sent again: the client has this one already.
				s.skipReplies--
				out = 0
			case rewrite == nil && structural(out) && !s.answered:
				s.structural++
			case out == 'A' || out == 'Z':
				// A notification is not part of any answer; a
				// ReadyForQuery ends one (session mode goes on with
				// the next, which may be sent again).
			default:
				s.answered = true
			}
		}
		s.mu.Unlock()
		switch next {
		case giveBack:
			// The connection goes back before the client learns that the
			// transaction is over, so that its next one finds it free;
			// nothing of it is touched afterwards.
			s.giveBack(sc)
			_ = w.SendFrame('Z', []byte{'I'}) // released only when idle
			_ = w.Flush()
			return
		case readBack:
			// Before the client may send its next statement (it waits
			// for this ReadyForQuery; Handle waits for the pause).
			s.readBack(sc, w)
			err = w.SendFrame('Z', []byte{'I'})
			s.mu.Lock()
			if s.closing {
				// Close's deadline may have been lifted by the read-back.
				_ = sc.conn.SetReadDeadline(time.Now())
			}
			close(s.paused)
			s.paused = nil
			s.mu.Unlock()
			if err != nil || w.Flush() != nil {
				return
			}
			continue
		}
		switch {
		case rewrite != nil:
			err = w.Send(rewrite)
		case out == 'E' && isFatal(body) && (s.mayReplay() || s.pinnedIdle()):
			// The server ends the connection (a shutdown) before any of
			// the answer went out, under a transaction that only reads:
			// the connection's end, which follows, sends it again. Or
			// nothing was asked (session mode, between statements): the
			// next statement gets a new connection.
		case out == 'E' && isFatal(body):
			// The server ends this connection (a shutdown, a crash), not
			// the client's session: the client gets an ERROR, and its
			// next transaction another connection.
			fatalSent = true
			err = w.Send(demoted(body))
		case out != 0:
			err = w.SendFrame(out, body)
		}
		if err != nil {
			return // the client is gone; the proxy ends the session
		}
		if sc.r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

// connLost answers, when the server connection fails under a client,
// every request still waiting for its answer with 08006 (the first one
// with nothing when the server's own error came already) and
// ReadyForQuery 'I': the transaction is gone, the session is not. A batch
// the client has not ended with a Sync yet is skipped up to it. The
// connection is closed and the pool reset: its neighbours are suspect.
func (s *TxSession) connLost(sc *serverConn, w backends.FrameWriter, errorSent bool) *serverConn {
	s.mu.Lock()
	stateLost := s.pinned && (sc.held != 0 || len(s.sqlPrepared) > 0 || sc.unread)
	s.mu.Unlock()
	if stateLost {
		s.sessionLost(sc, w)
		return nil
	}
	next, released := s.replay(sc, errorSent)
	if next != nil {
		return next
	}
	s.mu.Lock()
	waiting := 0
	for _, e := range s.queue {
		if (e.kind == rSync || e.kind == rQuery) && !e.drop {
			waiting++
		}
	}
	skip := s.unsynced || s.errSkip
	if waiting == 0 && !skip && s.inBlock {
		s.lostTx.Store(true)
	}
	s.inBlock = false
	s.queue, s.errSkip, s.unsynced = s.queue[:0], false, false
	s.sc = nil
	s.holding.Store(false)
	if skip {
		s.localSkip.Store(true)
	}
	s.restore = s.pinned
	s.mu.Unlock()
	if !released {
		s.cancelMu.Lock()
		//lint:ignore SA2001 waits for a cancel in flight
		s.cancelMu.Unlock()
		s.b.release(sc, false)
		s.b.reset()
	}
	e := s.lostError()
	s.mu.Lock()
	if s.replayErr != nil {
		copied := *s.replayErr // shared with the sessions that waited for the same retry
		copied.Severity = pgcode.SeverityError
		e, s.replayErr = &copied, nil
	}
	s.mu.Unlock()
	for i := 0; i < waiting; i++ {
		if i > 0 || !errorSent {
			_ = w.Send(e.Response())
		}
		_ = w.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	}
	if skip && (waiting == 0 && !errorSent) {
		_ = w.Send(e.Response())
	}
	_ = w.Flush()
	return nil
}

// replay sends the transaction again on a new connection when that cannot
// change what the client sees: nothing of its answer reached the client,
// it only reads, and it started outside a transaction block (every
// transaction of this session does). It returns the new connection, or
// nil when the transaction cannot be replayed (or no connection came
// within retry_timeout), and whether the dead connection was given back.
func (s *TxSession) replay(sc *serverConn, errorSent bool) (next *serverConn, released bool) {
	s.mu.Lock()
	if errorSent || s.answered || !s.replayable || len(s.sent) == 0 || s.closing {
		s.mu.Unlock()
		return nil, false
	}
	// What was sent on the dead connection did not happen: its
	// bookkeeping is undone, newest first, and redone on the new one.
	for i := len(s.queue) - 1; i >= 0; i-- {
		s.undo(sc, s.queue[i], false)
	}
	// A named Parse answered already (before a Flush) recorded its
	// statement: sent again, it records it anew.
	for _, f := range s.sent {
		if f.Type != 'P' {
			continue
		}
		if name, _, _, ok := backends.TwoCStrings(f.Body); ok && name != "" {
			delete(s.stmts, name)
		}
	}
	waiting := slices.Clone(s.queue)
	sent := s.sent
	s.sent = nil
	s.queue, s.errSkip, s.unsynced, s.buf = s.queue[:0], false, false, nil
	s.sc = nil
	ch := make(chan struct{})
	s.paused = ch
	s.mu.Unlock()

	s.cancelMu.Lock()
	//lint:ignore SA2001 waits for a cancel in flight
	s.cancelMu.Unlock()
	s.b.release(sc, false)
	s.b.reset()
	// acquire gives up after retry_timeout itself, with the error that
	// says why; this bound only keeps a wait for a free slot finite.
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.b.opts.RetryTimeout+s.b.opts.PoolTimeout)
	defer cancel()
	next, err := s.b.acquire(ctx, s.startup)
	released = true
	if err == nil {
		if err = s.syncSettings(ctx, next); err != nil {
			s.b.release(next, false)
		}
	}
	s.mu.Lock()
	done := func() {
		s.mu.Lock()
		s.paused = nil
		close(ch)
		s.mu.Unlock()
	}
	if err != nil || s.closing {
		if err == nil {
			s.b.release(next, false)
		}
		// No connection came: the client is told why (the server is
		// unreachable past retry_timeout), rather than only that its
		// connection was lost.
		var pe *pgcode.Error
		if errors.As(err, &pe) {
			s.replayErr = pe
		}
		// Back to where the failure left things, for the errors; the
		// dead connection was given back already.
		s.queue = waiting
		s.holding.Store(false)
		s.mu.Unlock()
		done()
		return nil, true
	}
	s.sc = next
	s.replayable, s.answered = true, false
	// The first answers of the replay repeat what the client got before
	// the failure: statement and portal bookkeeping, and descriptions.
	s.skipReplies, s.structural = s.structural, 0
	for _, f := range sent {
		_, _ = s.translate(f, next)
	}
	buf := s.buf
	s.buf = nil
	s.mu.Unlock()
	// Written before the client's next messages, which wait for done.
	if _, err := next.conn.Write(buf); err != nil {
		next.conn.Close() // the pump reads the failure and answers
	}
	done()
	return next, true
}

// sessionLost ends a session-mode session whose connection failed while
// it held state the proxy cannot give a new connection: the client is
// told with FATAL, as the server's own end would have told it.
func (s *TxSession) sessionLost(sc *serverConn, w backends.FrameWriter) {
	s.mu.Lock()
	s.sc = nil
	s.holding.Store(false)
	s.queue = s.queue[:0]
	s.mu.Unlock()
	s.broken.Store(true)
	s.cancelMu.Lock()
	//lint:ignore SA2001 waits for a cancel in flight
	s.cancelMu.Unlock()
	s.b.release(sc, false)
	s.b.reset()
	e := s.lost()
	e.Message = fmt.Sprintf("connection %q: the server connection was lost, and with it session state that cannot be restored on a new one "+
		"(temporary tables, cursors WITH HOLD, SQL PREPARE, session advisory locks or SET SESSION AUTHORIZATION)", s.b.opts.Name)
	_ = w.Send(e.Response())
	_ = w.Flush()
}

// pinnedIdle reports a session-mode session with nothing outstanding on
// its connection: the client is between statements.
func (s *TxSession) pinnedIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pinned && len(s.queue) == 0 && !s.unsynced && !s.errSkip
}

// readBack reads the session's settings and LISTEN channels from sc
// after statements that may have changed them (session mode), so that a
// new connection can be given them if this one is lost. It runs on the
// pump, before the ReadyForQuery that ends those statements. If it fails,
// the session's state is unknown, and losing the connection ends it.
func (s *TxSession) readBack(sc *serverConn, w backends.FrameWriter) {
	fixed, channels, err := sc.readState(func(body []byte) {
		_ = w.SendFrame('A', body) // a notification arrives any time
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		// Until a read-back succeeds, the session's state is unknown.
		sc.unread = true
		return
	}
	sc.unread = false
	s.channels = channels
	s.adopt(sc, fixed)
	sc.listenChanged = false
}

// lostError is the error a client gets for a request its failed server
// connection could not answer.
func (s *TxSession) lostError() *pgcode.Error {
	return &pgcode.Error{Severity: pgcode.SeverityError, Code: pgcode.ConnectionFailure,
		Message: fmt.Sprintf("connection %q: the server connection was lost; the statement may or may not have run", s.b.opts.Name),
		Hint:    "The transaction, if one was open, is gone. The next statement runs on a new server connection."}
}

// structural reports the messages that say how a request was taken
// rather than what it returned: the same again when it is sent again.
func structural(typ byte) bool {
	switch typ {
	case '1', '2', '3', 't', 'T', 'n':
		return true
	}
	return false
}

// mayReplay reports whether the current transaction could still be sent
// again on another connection.
func (s *TxSession) mayReplay() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.answered && s.replayable && len(s.sent) > 0 && !s.closing
}

// demoted is a server's FATAL ErrorResponse as an ERROR.
func demoted(body []byte) *pgproto3.ErrorResponse {
	var e pgproto3.ErrorResponse
	_ = e.Decode(body)
	e.Severity, e.SeverityUnlocalized = pgcode.SeverityError, pgcode.SeverityError
	return &e
}

func isFatal(body []byte) bool {
	var e pgproto3.ErrorResponse
	return e.Decode(body) == nil && (e.Severity == pgcode.SeverityFatal || e.Severity == "PANIC")
}

// afterAnswer is what the pump does once a message is answered.
type afterAnswer uint8

const (
	goOn     afterAnswer = iota
	giveBack             // the transaction is over: sc goes back to the pool
	readBack             // session mode, between statements: read the session's state back
)

// answer matches one server message to the queue. It returns the type to
// forward the message as (0: drop it), or a message to send instead, and
// what the pump does next. Called with s.mu held.
func (s *TxSession) answer(sc *serverConn, typ byte, body []byte) (out byte, rewrite pgproto3.BackendMessage, next afterAnswer) {
	front := func(k ...replyKind) bool { return len(s.queue) > 0 && slices.Contains(k, s.queue[0].kind) }
	pop := func() reply {
		e := s.queue[0]
		s.queue = s.queue[1:]
		return e
	}
	switch typ {
	case '1': // ParseComplete
		if front(rParse) {
			if e := pop(); e.drop {
				return 0, nil, goOn
			}
		}
	case '2':
		if front(rBind) {
			pop()
		}
	case '3':
		if front(rClose) {
			if e := pop(); e.drop {
				return 0, nil, goOn
			}
		}
	case 'T', 'n':
		if front(rDescribeS, rDescribeP) {
			pop()
		}
	case 'C', 'I', 's':
		if typ == 'C' {
			s.commandDone(sc, body)
		}
		if front(rExecute) {
			pop()
		}
	case 'S':
		var ps pgproto3.ParameterStatus
		if ps.Decode(body) == nil {
			sc.params[ps.Name] = ps.Value
			if ps.Name == "session_authorization" {
				if ps.Value != sc.loginAuth {
					// Another user, however it was set (set_config too):
					// only DISCARD ALL undoes it, and no new connection
					// has it.
					sc.dirty = true
					sc.held |= heldAuth
				} else {
					sc.held &^= heldAuth
				}
			}
			if _, ok := s.want[ps.Name]; ok && s.want[ps.Name] != ps.Value {
				s.want[ps.Name] = ps.Value
				s.version++
			}
			sc.syncVer = s.version
		}
	case 'E':
		if front(rQuery) {
			if e := &s.queue[0]; e.def != nil && !e.failed {
				e.failed = true
				s.undo(sc, *e, true)
			}
			break
		}
		if len(s.queue) == 0 || front(rSync) {
			break
		}
		// The message at the front failed; the server skips what
		// follows it up to the Sync.
		failed := pop()
		if failed.failure != nil && errorCode(body) == pgcode.InvalidSQLStatementName {
			rewrite = failed.failure.Response()
		}
		if failed.quiet {
			out = 0
		} else {
			out = 'E'
		}
		s.undo(sc, failed, true)
		for len(s.queue) > 0 && s.queue[0].kind != rSync {
			s.undo(sc, pop(), false)
		}
		if len(s.queue) == 0 {
			s.errSkip = true
		}
		return out, rewrite, goOn
	case 'Z':
		for len(s.queue) > 0 && s.queue[0].kind != rSync && s.queue[0].kind != rQuery {
			s.undo(sc, pop(), false) // not answered: skipped
		}
		if len(s.queue) > 0 {
			if e := pop(); e.drop {
				return 0, nil, goOn
			}
		}
		s.inBlock = len(body) == 1 && body[0] != 'I'
		if len(body) == 1 && body[0] == 'I' && len(s.queue) == 0 && !s.unsynced && !s.errSkip && !s.closing {
			if s.pinned {
				// Between statements: what follows may be sent again
				// on a new connection from here.
				s.sent, s.replayable, s.answered = s.sent[:0], true, false
				s.structural, s.skipReplies = 0, 0
				if sc.settingsChanged || sc.listenChanged || sc.unread {
					s.paused = make(chan struct{})
					return 0, nil, readBack
				}
				return 'Z', nil, goOn
			}
			s.sc = nil
			s.holding.Store(false)
			return 'Z', nil, giveBack
		}
	}
	return typ, nil, goOn
}

// commandDone notes the statements whose effect on the session the server
// confirms by their command tag, whatever protocol carried them.
// Prepared statements are not transactional: these hold even if the
// transaction around them rolls back.
func (s *TxSession) commandDone(sc *serverConn, body []byte) {
	tag, _ := backends.CString(body)
	switch tag {
	case "DISCARD TEMP":
		sc.held &^= heldTemp
	case "CLOSE CURSOR ALL":
		sc.held &^= heldCursor
	case "DEALLOCATE ALL", "DISCARD ALL":
		clear(s.stmts)
		clear(sc.prepared)
		if tag == "DISCARD ALL" {
			s.unnamed, sc.unnamed = nil, nil
			sc.settingsChanged = true
			if s.pinned {
				// Everything the session held is gone from the server:
				// nothing is left that a new connection would lack.
				sc.dirty, sc.listenChanged, sc.held = false, true, 0
				clear(s.sqlPrepared)
			}
		}
	}
}

// errorCode returns the SQLSTATE of an ErrorResponse body.
func errorCode(body []byte) string {
	for len(body) > 1 {
		field := body[0]
		v, ok := backends.CString(body[1:])
		if !ok {
			return ""
		}
		if field == 'C' {
			return v
		}
		body = body[2+len(v):]
	}
	return ""
}

// undo reverts what a queued message recorded when it was sent, because
// the server did not carry it out: it failed (failed) or was skipped after
// an earlier error.
func (s *TxSession) undo(sc *serverConn, e reply, failed bool) {
	switch {
	case e.unnamed && e.kind == rParse && failed:
		// PostgreSQL drops the unnamed statement before parsing the new
		// one: after a failed Parse there is none.
		sc.unnamed = nil
		if !e.drop {
			s.unnamed = nil
		}
	case e.unnamed:
		s.unnamed = e.prevUnn
		sc.unnamed, sc.unnSeq = e.prevOwn, e.prevSeq
	case e.kind == rParse:
		if e.client != "" && s.stmts[e.client] == e.def {
			delete(s.stmts, e.client)
		}
		delete(sc.prepared, e.sname)
	case e.kind == rQuery:
		// An SQL DEALLOCATE of a protocol-level statement that failed.
		if e.def != nil && s.stmts[e.client] == nil {
			s.stmts[e.client] = e.def
		}
		if e.sname != "" {
			sc.prepared[e.sname] = e.tick
		}
	case e.kind == rClose:
		if e.def != nil && s.stmts[e.client] == nil {
			s.stmts[e.client] = e.def
		}
		if e.sname != "" {
			sc.prepared[e.sname] = e.tick
		}
	}
}

// giveBack returns sc to the pool once no cancel can reach it. Settings
// the client may have changed are read back first, so that they follow it
// to its next connection; state only DISCARD ALL undoes is then dropped.
func (s *TxSession) giveBack(sc *serverConn) {
	s.cancelMu.Lock()
	//lint:ignore SA2001 waits for a cancel in flight
	s.cancelMu.Unlock()
	reusable := true
	if sc.settingsChanged {
		fixed, _, err := sc.readState(nil)
		if err != nil {
			reusable = false
		} else {
			s.mu.Lock()
			s.adopt(sc, fixed)
			s.mu.Unlock()
		}
	}
	if reusable && sc.dirty {
		reusable = discard(sc)
	}
	s.b.release(sc, reusable)
}

// adopt makes fixed the session's settings, as sc has them now. Called
// with s.mu held.
func (s *TxSession) adopt(sc *serverConn, fixed map[string]string) {
	s.fixed = fixed
	s.version++
	sc.applied = maps.Clone(fixed)
	sc.synced, sc.syncVer = s, s.version
	sc.settingsChanged = false
}

// readStateSQL lists the settings the session changed (kind 's': by SET,
// set_config or the proxy's own set_config at login and acquire, and the
// role, which pg_settings does not show) and the channels it listens to
// (kind 'l').
const readStateSQL = "SELECT 's', name, pg_catalog.current_setting(name) FROM pg_catalog.pg_settings WHERE source = 'session' " +
	"UNION ALL SELECT 's', 'role', pg_catalog.current_setting('role') WHERE pg_catalog.current_setting('role') <> 'none' " +
	"UNION ALL SELECT 'l', c, '' FROM pg_catalog.pg_listening_channels() c"

// readState returns the session-level settings of sc the server does not
// report through ParameterStatus, and the channels it listens to. A
// notification that arrives meanwhile goes to notify (nil drops it).
func (sc *serverConn) readState(notify func(body []byte)) (fixed map[string]string, channels []string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	fixed = map[string]string{}
	err = sc.exchange(ctx, readStateSQL, func(typ byte, body []byte) {
		switch typ {
		case 'A':
			if notify != nil {
				notify(body)
			}
		case 'D':
			var d pgproto3.DataRow
			if d.Decode(body) != nil || len(d.Values) != 3 {
				return
			}
			name := string(d.Values[1])
			switch string(d.Values[0]) {
			case "l":
				channels = append(channels, name)
			case "s":
				if reportedName(sc.params, name) == "" {
					fixed[name] = string(d.Values[2])
				}
			}
		}
	})
	return fixed, channels, err
}

// discard runs DISCARD ALL on an idle connection and forgets what it
// dropped.
func discard(sc *serverConn) bool {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if sc.roundTrip(ctx, "DISCARD ALL") != nil {
		return false
	}
	clear(sc.prepared)
	clear(sc.applied)
	sc.unnamed, sc.synced, sc.dirty, sc.settingsChanged, sc.held = nil, nil, false, false, 0
	return true
}

// Cancel forwards a cancel request for the connection the session holds;
// between transactions there is nothing to cancel.
func (s *TxSession) Cancel(ctx context.Context) error {
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	s.mu.Lock()
	sc, waiting := s.sc, s.waiting
	s.mu.Unlock()
	if sc == nil {
		if waiting != nil {
			waiting(errCanceled)
		}
		return nil
	}
	return sc.cancel(ctx)
}

// Close ends the session. A connection still held (the client left inside
// a transaction or with answers outstanding) is rolled back and cleaned,
// or closed when its state is unknown.
func (s *TxSession) Close() error {
	if s.parked != nil {
		s.b.release(s.parked, true) // taken at login, never used
		s.parked = nil
	}
	s.mu.Lock()
	s.closing = true
	sc, done := s.sc, s.pumpDone
	s.mu.Unlock()
	if sc == nil {
		if done != nil {
			<-done
		}
		return nil
	}
	_ = sc.conn.SetReadDeadline(time.Now())
	<-done
	s.cancelMu.Lock()
	s.mu.Lock()
	s.sc = nil
	s.holding.Store(false)
	// Reusable only when every answer was read: then the server is
	// waiting for the next message, in or out of a transaction.
	reusable := !s.broken.Load() && s.clean.Load() && len(s.queue) == 0
	idle := !s.inBlock && !s.unsynced && !s.errSkip
	s.mu.Unlock()
	s.cancelMu.Unlock()
	if reusable {
		_ = sc.conn.SetReadDeadline(time.Time{})
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		// The client's transaction (or its unsynced batch) is abandoned:
		// a Sync ends an extended batch (and the skipping after an error
		// in one), then ROLLBACK ends a transaction block.
		if !idle {
			reusable = sc.resync(ctx) == nil && sc.roundTrip(ctx, "ROLLBACK") == nil
		}
		// A session-mode client may have left anything (its statements
		// under their own names among them): the next one starts clean.
		if reusable && (sc.dirty || sc.settingsChanged || s.pinned) {
			reusable = discard(sc)
		}
	}
	s.b.release(sc, reusable)
	return nil
}

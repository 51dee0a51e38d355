package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
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

// TxSession serves one client in transaction mode. The client holds a
// server connection from the first message of a transaction until the
// server reports ReadyForQuery 'I' with nothing of the client's still
// outstanding; then the connection goes back to the pool, and the next
// transaction may run on another one.
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
	// out); messages are dropped until the client's Sync.
	localSkip bool

	mu          sync.Mutex
	sc          *serverConn // held connection, nil between transactions
	queue       []reply
	errSkip     bool // the server skips until Sync, and no Sync is queued
	unsynced    bool // extended messages forwarded since the last Sync
	syncsInCopy int  // Syncs queued since the last Execute or Query
	closing     bool
	stmts       map[string]*stmtDef // the client's named statements
	unnamed     *stmtDef            // the client's unnamed statement
	unnSeq      uint64              // changes with every unnamed Parse
	want        map[string]string   // reported settings as the client sees them
	startFixed  map[string]string   // unreported settings from startup
	fixed       map[string]string   // unreported settings now
	version     uint64              // changes with want and fixed
	pumpDone    chan struct{}

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
	query string
	oids  []byte // the Parse body after the query: count and type OIDs
	sname string // the server's name for it ("" for the unnamed one)
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
	drop    bool // injected by the proxy: the client never sees the answer
	asParse bool // a CloseComplete standing in for a ParseComplete
	failure *pgcode.Error

	client  string   // client statement name this entry records or removes
	def     *stmtDef // the definition it records (Parse) or removed (Close)
	sname   string   // server statement this entry prepares
	unnamed bool     // a Parse of the unnamed statement
	prevUnn *stmtDef // the client's unnamed statement before it
	prevOwn *TxSession
	prevSeq uint64

	failed bool           // an ErrorResponse answered this entry
	set    *trackedSet    // a top-level SET or RESET to record when it succeeds
	reset  sessionEffects // DISCARD ALL / DEALLOCATE ALL to record
}

// login is what a set of startup parameters gives a client in transaction
// mode: the ParameterStatus values it is told and the settings it keeps.
type login struct {
	params []backends.Param
	want   map[string]string
	fixed  map[string]string
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
func (b *Backend) openTx(ctx context.Context, p backends.SessionParams) (backends.Session, error) {
	pairs, err := startupPairs(p.Options)
	if err != nil {
		return nil, err
	}
	key := loginKey(pairs)
	b.loginMu.Lock()
	l := b.logins[key]
	b.loginMu.Unlock()
	if l == nil {
		if l, err = b.learnLogin(ctx, pairs); err != nil {
			return nil, err
		}
		b.loginMu.Lock()
		if b.logins == nil || len(b.logins) >= maxLogins {
			b.logins = map[string]*login{}
		}
		b.logins[key] = l
		b.loginMu.Unlock()
	}
	s := &TxSession{b: b, params: l.params, stmts: map[string]*stmtDef{},
		want: maps.Clone(l.want), startFixed: l.fixed, fixed: maps.Clone(l.fixed)}
	return s, nil
}

// learnLogin applies startup parameters to a connection reset to its own
// defaults and reads back what the server reports.
func (b *Backend) learnLogin(ctx context.Context, pairs [][2]string) (*login, error) {
	sc, err := b.acquire(ctx)
	if err != nil {
		return nil, err
	}
	sql := "RESET ALL"
	if len(pairs) > 0 {
		sql += "; " + setConfigSQL(pairs)
	}
	if err := sc.roundTrip(ctx, sql); err != nil {
		var pe *pgcode.Error
		if errors.As(err, &pe) {
			b.release(sc, true)
			return nil, &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pe.Code, Message: pe.Message, Hint: pe.Hint}
		}
		b.release(sc, false)
		return nil, &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.ConnectionFailure,
			Message: fmt.Sprintf("connection %q: the server did not complete the session setup", b.opts.Name)}
	}
	l := &login{want: map[string]string{}, fixed: map[string]string{}}
	for _, name := range slices.Sorted(maps.Keys(sc.params)) {
		l.params = append(l.params, backends.Param{Name: name, Value: sc.params[name]})
	}
	for _, name := range settable {
		if v, ok := sc.params[name]; ok {
			l.want[name] = v
		}
	}
	clear(sc.applied)
	for _, kv := range pairs {
		if reportedName(sc.params, kv[0]) == "" {
			l.fixed[strings.ToLower(kv[0])] = kv[1]
			sc.applied[strings.ToLower(kv[0])] = kv[1]
		}
	}
	sc.synced = nil
	b.release(sc, true)
	return l, nil
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

func loginKey(pairs [][2]string) string {
	var b strings.Builder
	for _, kv := range pairs {
		b.WriteString(kv[0])
		b.WriteByte(0)
		b.WriteString(kv[1])
		b.WriteByte(0)
	}
	return b.String()
}

// Parameters are the ParameterStatus values a fresh login with these
// startup parameters shows.
func (s *TxSession) Parameters() []backends.Param { return s.params }

// TxStatus is 'I' when the session holds no server connection: it is then
// between transactions.
func (s *TxSession) TxStatus() byte {
	if s.holding.Load() {
		return 'T'
	}
	return 'I'
}

// Handle forwards one client message, taking a server connection first
// when the client holds none.
func (s *TxSession) Handle(ctx context.Context, f backends.Frame, w backends.Writer) error {
	if s.broken.Load() {
		return s.lost()
	}
	fw, ok := w.(backends.FrameWriter)
	if !ok {
		return fmt.Errorf("postgres: the proxy's writer cannot take frames (%T)", w)
	}
	if s.localSkip {
		if f.Type == 'S' {
			s.localSkip = false
			return fw.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		}
		return nil
	}
	s.mu.Lock()
	sc := s.sc
	s.mu.Unlock()
	fresh := false
	if sc == nil {
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
		fresh = true
	}

	s.mu.Lock()
	flush, err := s.translate(f, sc, fresh)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if !flush && len(s.buf) < serverFlushThreshold {
		return nil
	}
	return s.write(ctx, sc)
}

// take acquires a server connection, brings it to the client's settings
// and starts the goroutine that forwards its answers.
func (s *TxSession) take(ctx context.Context, w backends.FrameWriter) (*serverConn, error) {
	// The previous transaction's pump may still be sending its last
	// ReadyForQuery: the client must get it before anything of this one.
	s.mu.Lock()
	prev := s.pumpDone
	s.mu.Unlock()
	if prev != nil {
		<-prev
	}
	sc, err := s.b.acquire(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.syncSettings(ctx, sc); err != nil {
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
	s.mu.Unlock()
	go s.pump(sc, w, done)
	return sc, nil
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
	s.localSkip = true
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
	for _, name := range slices.Sorted(maps.Keys(s.fixed)) {
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

	var stmts []string
	if len(pairs) > 0 {
		stmts = append(stmts, setConfigSQL(pairs))
	}
	stmts = append(stmts, resets...)
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
func (s *TxSession) translate(f backends.Frame, sc *serverConn, fresh bool) (flush bool, err error) {
	if s.errSkip && f.Type != 'S' {
		// The server skips everything up to the Sync: pass it on as it
		// is, with no bookkeeping, since none of it takes effect.
		s.buf = f.AppendWire(s.buf)
		return f.Type == 'H', nil
	}
	switch f.Type {
	case 'Q':
		s.syncsInCopy = 0
		e := reply{kind: rQuery}
		fx := analyze(queryText(f.Body))
		s.noteEffects(&e, fx, sc, fresh && len(s.queue) == 0)
		// A simple Query destroys the unnamed statement.
		s.unnamed, sc.unnamed = nil, nil
		s.queue = append(s.queue, e)
		s.buf = f.AppendWire(s.buf)
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
		return false, s.parse(f, sc)
	case 'B':
		portal, stmt, rest, ok := twoStrings(f.Body)
		if !ok {
			break // malformed: the server says so
		}
		name := s.bindable(stmt, sc)
		body := append(append(append(append([]byte(portal), 0), name...), 0), rest...)
		s.queue = append(s.queue, reply{kind: rBind})
		s.buf = appendMsg(s.buf, 'B', body)
		return false, nil
	case 'D':
		if len(f.Body) >= 2 && f.Body[0] == 'S' {
			stmt, ok := cstring(f.Body[1:])
			if !ok {
				break
			}
			name := s.bindable(stmt, sc)
			s.queue = append(s.queue, reply{kind: rDescribeS})
			s.buf = appendMsg(s.buf, 'D', append(append([]byte{'S'}, name...), 0))
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
			stmt, ok := cstring(f.Body[1:])
			if !ok {
				break
			}
			e := reply{kind: rClose}
			if stmt == "" {
				// The unnamed statement is the client's own on this
				// connection or absent: closing it is safe.
				s.queue = append(s.queue, e)
				s.buf = f.AppendWire(s.buf)
				s.unnamed = nil
				return false, nil
			}
			if def := s.stmts[stmt]; def != nil {
				e.client, e.def = stmt, def
				delete(s.stmts, stmt)
			}
			// The shared statement stays; a Close of a name nobody has
			// gives the CloseComplete in its place.
			s.queue = append(s.queue, e)
			s.buf = appendMsg(s.buf, 'C', append([]byte{'S'}, noStatement...))
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

// noStatement is a statement name (NUL-terminated) that is never
// prepared: Close answers it with CloseComplete, Bind with 26000.
var noStatement = []byte("xcp_none\x00")

// parse handles a client Parse.
func (s *TxSession) parse(f backends.Frame, sc *serverConn) error {
	name, query, oids, ok := twoStrings(f.Body)
	if !ok {
		s.queue = append(s.queue, reply{kind: rFailure})
		s.buf = f.AppendWire(s.buf)
		return nil
	}
	fx := analyze(query)
	if fx.dirty || fx.set != nil && reportedName(sc.params, fx.set.Name) == "" {
		sc.dirty = true
	}
	def := &stmtDef{query: query, oids: slices.Clone(oids)}
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
		// statement that does not exist fails without touching anything,
		// and its error is rewritten into this one.
		s.queue = append(s.queue, reply{kind: rFailure, failure: &pgcode.Error{Severity: pgcode.SeverityError,
			Code: pgcode.DuplicatePreparedStatement, Message: fmt.Sprintf("prepared statement %q already exists", name)}})
		s.buf = appendMsg(s.buf, 'B', append(append([]byte{0}, noStatement...), 0, 0, 0, 0, 0, 0))
		return nil
	}
	def.sname = serverName(query, oids, s.fixed["search_path"])
	s.stmts[name] = def
	e := reply{kind: rParse, client: name, def: def}
	if sc.prepared[def.sname] {
		// Another client prepared the same statement here: a Close of a
		// name nobody has stands in, and its CloseComplete is shown as
		// the ParseComplete.
		e.kind, e.asParse = rClose, true
		s.queue = append(s.queue, e)
		s.buf = appendMsg(s.buf, 'C', append([]byte{'S'}, noStatement...))
		return nil
	}
	e.sname = def.sname
	sc.prepared[def.sname] = true
	s.queue = append(s.queue, e)
	s.buf = appendParse(s.buf, def)
	return nil
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
	if !sc.prepared[def.sname] {
		s.queue = append(s.queue, reply{kind: rParse, drop: true, sname: def.sname})
		sc.prepared[def.sname] = true
		s.buf = appendParse(s.buf, def)
	}
	return def.sname
}

// serverName names a statement on the server by what it is: clients that
// prepare the same text with the same parameter types under the same
// search_path share it.
func serverName(query string, oids []byte, searchPath string) string {
	h := sha256.New()
	var n [8]byte
	for _, part := range [][]byte{[]byte(query), oids, []byte(searchPath)} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return "xcp_" + hex.EncodeToString(h.Sum(nil)[:12])
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

func appendMsg(dst []byte, typ byte, body []byte) []byte {
	dst = append(dst, typ)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)+4))
	return append(dst, body...)
}

// cstring returns the NUL-terminated string at the start of b.
func cstring(b []byte) (string, bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), true
		}
	}
	return "", false
}

// twoStrings splits a body that starts with two NUL-terminated strings.
func twoStrings(b []byte) (first, second string, rest []byte, ok bool) {
	first, ok = cstring(b)
	if !ok {
		return "", "", nil, false
	}
	b = b[len(first)+1:]
	second, ok = cstring(b)
	if !ok {
		return "", "", nil, false
	}
	return first, second, b[len(second)+1:], true
}

func queryText(body []byte) string {
	q, _ := cstring(body)
	return q
}

// write sends the buffered messages to the server.
func (s *TxSession) write(ctx context.Context, sc *serverConn) error {
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
	_, err := sc.conn.Write(s.buf)
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
			s.broken.Store(true)
			if !fatalSent {
				_ = w.Send(s.lost().Response())
				_ = w.Flush()
			}
			return
		}
		s.mu.Lock()
		out, rewrite, release := s.answer(sc, typ, body)
		s.mu.Unlock()
		if release {
			// The connection goes back before the client learns that the
			// transaction is over, so that its next one finds it free;
			// nothing of it is touched afterwards.
			s.giveBack(sc)
			_ = w.SendFrame('Z', []byte{'I'}) // released only when idle
			_ = w.Flush()
			return
		}
		switch {
		case rewrite != nil:
			err = w.Send(rewrite)
		case out != 0:
			if typ == 'E' {
				fatalSent = fatalSent || isFatal(body)
			}
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

func isFatal(body []byte) bool {
	var e pgproto3.ErrorResponse
	return e.Decode(body) == nil && (e.Severity == pgcode.SeverityFatal || e.Severity == "PANIC")
}

// answer matches one server message to the queue. It returns the type to
// forward the message as (0: drop it), or a message to send instead, and
// whether the transaction is over and sc must be given back. Called with
// s.mu held.
func (s *TxSession) answer(sc *serverConn, typ byte, body []byte) (out byte, rewrite pgproto3.BackendMessage, release bool) {
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
				return 0, nil, false
			}
		}
	case '2':
		if front(rBind) {
			pop()
		}
	case '3':
		if front(rClose) {
			if e := pop(); e.asParse {
				return '1', nil, false
			}
		}
	case 'T', 'n':
		if front(rDescribeS, rDescribeP) {
			pop()
		}
	case 'C', 'I', 's':
		if front(rExecute) {
			pop()
		}
	case 'S':
		var ps pgproto3.ParameterStatus
		if ps.Decode(body) == nil {
			sc.params[ps.Name] = ps.Value
			if _, ok := s.want[ps.Name]; ok && s.want[ps.Name] != ps.Value {
				s.want[ps.Name] = ps.Value
				s.version++
			}
			sc.syncVer = s.version
		}
	case 'E':
		if len(s.queue) == 0 {
			break
		}
		if front(rQuery) {
			s.queue[0].failed = true
			break
		}
		if front(rSync) {
			break
		}
		// The message at the front failed; the server skips what
		// follows it up to the Sync.
		if f := s.queue[0].failure; f != nil {
			rewrite = f.Response()
		}
		for len(s.queue) > 0 && s.queue[0].kind != rSync {
			s.undo(sc, pop())
		}
		if len(s.queue) == 0 {
			s.errSkip = true
		}
		return 'E', rewrite, false
	case 'Z':
		for len(s.queue) > 0 && s.queue[0].kind != rSync && s.queue[0].kind != rQuery {
			s.undo(sc, pop()) // not answered: skipped
		}
		status := byte('I')
		if len(body) == 1 {
			status = body[0]
		}
		if len(s.queue) > 0 {
			if e := pop(); e.kind == rQuery && !e.failed && status == 'I' {
				s.record(sc, e)
			}
		}
		if status == 'I' && len(s.queue) == 0 && !s.unsynced && !s.errSkip && !s.closing {
			s.sc = nil
			s.holding.Store(false)
			return 'Z', nil, true
		}
	}
	return typ, nil, false
}

// undo reverts what a queued message recorded when it was sent, because
// the server did not carry it out.
func (s *TxSession) undo(sc *serverConn, e reply) {
	switch {
	case e.unnamed:
		s.unnamed = e.prevUnn
		sc.unnamed, sc.unnSeq = e.prevOwn, e.prevSeq
	case e.kind == rParse || e.asParse:
		if e.client != "" && s.stmts[e.client] == e.def {
			delete(s.stmts, e.client)
		}
		if e.sname != "" {
			delete(sc.prepared, e.sname)
		}
	case e.kind == rClose && e.def != nil:
		if s.stmts[e.client] == nil {
			s.stmts[e.client] = e.def
		}
	}
}

// giveBack returns sc to the pool once no cancel can reach it, cleaning it
// first when the client changed what only DISCARD ALL undoes.
func (s *TxSession) giveBack(sc *serverConn) {
	s.cancelMu.Lock()
	//lint:ignore SA2001 waits for a cancel in flight
	s.cancelMu.Unlock()
	reusable := true
	if sc.dirty {
		reusable = discard(sc)
	}
	s.b.release(sc, reusable)
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
	sc.unnamed, sc.synced, sc.dirty = nil, nil, false
	return true
}

// Cancel forwards a cancel request for the connection the session holds;
// between transactions there is nothing to cancel.
func (s *TxSession) Cancel(ctx context.Context) error {
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	s.mu.Lock()
	sc := s.sc
	s.mu.Unlock()
	if sc == nil {
		return nil
	}
	return sc.cancel(ctx)
}

// Close ends the session. A connection still held (the client left inside
// a transaction or with answers outstanding) is rolled back and cleaned,
// or closed when its state is unknown.
func (s *TxSession) Close() error {
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
	s.mu.Unlock()
	s.cancelMu.Unlock()
	if reusable {
		_ = sc.conn.SetReadDeadline(time.Time{})
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		// The client's transaction (or its unsynced batch) is abandoned.
		reusable = sc.roundTrip(ctx, "ROLLBACK") == nil
		if reusable && sc.dirty {
			reusable = discard(sc)
		}
	}
	s.b.release(sc, reusable)
	return nil
}

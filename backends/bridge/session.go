package bridge

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// stmtKind says who answers a statement: the data source or the bridge.
type stmtKind int

const (
	kindEmpty   stmtKind = iota
	kindQuery            // data source, returns rows
	kindExec             // data source, returns a row count
	kindTx               // transaction control: the bridge drives the data source
	kindSet              // SET / RESET: session settings, answered by the bridge
	kindShow             // SHOW: answered by the bridge
	kindFunc             // SELECT version(), current_user, ...: answered by the bridge
	kindDiscard          // DISCARD ALL
	kindSetTx            // SET [SESSION CHARACTERISTICS AS] TRANSACTION
	kindCursor           // DECLARE, FETCH, MOVE, CLOSE, DEALLOCATE: see cursors.go
)

// stmt is a parsed statement: the unnamed one, a named prepared one, or one
// statement of a simple Query.
type stmt struct {
	text      string // as the client sent it
	query     string // rewritten for the data source
	order     []int
	info      sqltext.Info
	kind      stmtKind
	paramOIDs []uint32
	set       sqltext.Set
	show      string
	funcs     []funcCol
	txModes   txModes
	cursor    cursorStmt
	// cols is the result description sent for Describe of this statement.
	// Once a client has it, every portal of the statement keeps these
	// types: drivers (pgx's statement cache) decode with them.
	cols      []outCol
	described bool
	// untyped holds, for parameters sent without a type, the type of the
	// column each meets (0 unknown); found on first need.
	untyped []uint32
}

// portal is a bound statement, possibly half-read (Execute with a row limit).
type portal struct {
	st       *stmt
	args     []any
	formats  []int16 // Bind's result format codes
	src      rowSource
	ctx      context.Context // the cursor's context (statement_timeout)
	cols     []outCol
	resolved bool // cols known (and, for Describe, sent)
	done     bool
	stop     context.CancelFunc // ends the cursor's context
	cancel   context.CancelCauseFunc
	timer    *time.Timer // statement_timeout of the message reading the portal
	prepared *cachedStmt // the statement the cursor runs, held until close
	cache    *stmtCache
	cursor   bool // opened by DECLARE
	hold     bool // DECLARE ... WITH HOLD: survives COMMIT
}

type outCol struct {
	name   string
	oid    uint32
	format int16
}

// Session is one client's session on a bridged backend. It implements
// PostgreSQL's protocol semantics over database/sql: simple and extended
// query, implicit and explicit transactions with the I/T/E status,
// savepoints, session settings and portals.
type Session struct {
	b    *Backend
	d    Dialect
	conn *sql.Conn
	// renewable: the connection can be replaced by another of the pool
	// (MySQL: session state lives in the server connection).
	renewable bool
	// serverState: a statement may have left state on the server
	// connection (USE, a server SET, user variables, temporary tables,
	// locks). Losing that connection then ends the session: going on
	// without that state could read the wrong tables.
	serverState bool
	// connGone: the connection was lost and no new one could be opened
	// (the server was unreachable past RetryTimeout). The next statement
	// tries again.
	connGone bool
	p        backends.SessionParams
	version  string
	set      *settings
	enc      encoder
	m        *pgtype.Map

	tx         byte // 'I', 'T' or 'E'
	implicit   bool // the open transaction is implicit (multi-statement Query or extended batch)
	open       bool // the data source has a transaction open (false after abortFailed)
	txReadOnly bool // the transaction is READ ONLY
	txQueried  bool // a statement has run on the data source in this transaction
	locked     bool // this session holds the backend's writer lock
	discard    bool // extended protocol: an error occurred, skip until Sync
	stmts      map[string]*stmt
	portals    map[string]*portal
	cache      *stmtCache
	// paramTypes caches untyped parameters' column types by statement
	// text: unnamed statements are parsed again for every execution.
	paramTypes map[string][]uint32
	rowBuf     []byte   // reused for every DataRow: Writer.Send encodes before returning
	spans      [][2]int // value offsets into rowBuf
	rowValues  [][]byte
}

func newSession(b *Backend, conn *sql.Conn, p backends.SessionParams, set *settings, version string) *Session {
	m := pgtype.NewMap()
	s := &Session{
		b: b, d: b.dialect, conn: conn, p: p, version: version, set: set,
		m: m, enc: encoder{m: m, floatDigit: set.floatDigits()},
		tx: 'I', stmts: map[string]*stmt{}, portals: map[string]*portal{},
		cache: newStmtCache(conn),
	}
	s.renewable = s.discardable() // asked while the connection is alive
	return s
}

// startupSettings applies the client's startup parameters as session
// defaults, as PostgreSQL does: they behave like SET, and RESET returns to
// them. An unknown parameter is FATAL 42704, as in PostgreSQL.
func startupSettings(p backends.SessionParams) (*settings, error) {
	over := map[string]string{"session_authorization": p.User}
	apply := func(name, value string) error {
		key := strings.ToLower(name)
		g, known := gucs[key]
		if !known && !strings.Contains(key, ".") {
			return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.UndefinedObject,
				Message: fmt.Sprintf("unrecognized configuration parameter %q", key)}
		}
		if known && g.check != nil {
			v, err := g.check(value)
			if err != nil {
				return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.InvalidParameterValue,
					Message: fmt.Sprintf("invalid value for parameter %q: %q", key, value), Hint: err.Error()}
			}
			value = v
		}
		if known && g.fixed {
			return nil // PostgreSQL ignores attempts to set these at startup
		}
		over[key] = value
		return nil
	}
	for k, v := range p.Options {
		switch {
		case k == "options":
			opts, err := backends.ParseOptions(v)
			if err != nil {
				return nil, err
			}
			for _, o := range opts {
				if err := apply(o[0], o[1]); err != nil {
					return nil, err
				}
			}
		case k == "replication":
			return nil, pgcode.Fatal(pgcode.FeatureNotSupported, "replication connections are not supported by xconnproxy")
		case strings.HasPrefix(k, "_pq_."):
			// protocol extensions: none supported, none required
		default:
			if err := apply(k, v); err != nil {
				return nil, err
			}
		}
	}
	return newSettings(over), nil
}

// Parameters returns the 13 ParameterStatus values PostgreSQL 15 reports.
func (s *Session) Parameters() []backends.Param {
	ch := s.set.changed()
	out := make([]backends.Param, len(ch))
	for i, c := range ch {
		out[i] = backends.Param{Name: c.name, Value: c.value}
	}
	return out
}

// TxStatus reports the transaction status.
func (s *Session) TxStatus() byte { return s.tx }

// Close rolls back what is open and returns the connection to the pool.
func (s *Session) Close() error {
	for name := range s.portals {
		s.closePortal(name)
	}
	ctx := context.Background()
	if s.open {
		_, _ = s.conn.ExecContext(ctx, "ROLLBACK")
	}
	s.unlock()
	s.cache.close()
	return s.conn.Close()
}

// A discarder is a driver connection that can be marked for closing
// instead of going back to the pool (see renewConn).
type discarder interface{ Discard(reason string) }

// discardable reports whether the session's driver connection is a
// discarder.
func (s *Session) discardable() bool {
	ok := false
	_ = s.conn.Raw(func(dc any) error {
		_, ok = dc.(discarder)
		return nil
	})
	return ok
}

// renewConnTimeout bounds the wait for a free slot of the pool in
// renewConn (opening a connection has its own bound, RetryTimeout).
const renewConnTimeout = 30 * time.Second

// renewConn replaces the session's connection with a fresh one from the
// pool, for DISCARD ALL or because it was lost, when the driver's
// connection can be discarded (it has a Discard(reason string) method:
// MySQL's, whose temporary tables, user variables and other session state
// only a new connection drops). Other data sources keep their connection.
// The new connection has none of the old one's server state.
func (s *Session) renewConn(ctx context.Context, why string) error {
	if !s.dropConn(why) {
		return nil
	}
	octx, cancel := context.WithTimeout(ctx, renewConnTimeout+s.b.opts.RetryTimeout)
	defer cancel()
	conn, err := s.b.connect(octx, s.p.Database)
	if err != nil {
		// The session goes on without a connection; its next statement
		// tries again (the closed one answers anything else with an
		// error).
		var pe *pgcode.Error
		if errors.As(err, &pe) {
			e := *pe
			e.Severity = pgcode.SeverityError
			return &e
		}
		return err
	}
	s.conn, s.cache = conn, newStmtCache(conn)
	s.serverState, s.connGone = false, false
	return nil
}

// dropConn closes the session's connection, for good, when the driver's
// connection can be discarded; the session has none until renewConn. It
// reports false when the connection cannot be discarded (and stays).
func (s *Session) dropConn(why string) bool {
	if !s.discardable() && !s.connGone {
		return false
	}
	if !s.connGone {
		_ = s.conn.Raw(func(dc any) error {
			dc.(discarder).Discard(why)
			return nil
		})
		s.cache.close()
		_ = s.conn.Close()
		s.connGone = true
	}
	return true
}

// An aliveChecker is a driver connection that can tell, without waiting,
// whether its server is still there (MySQL's: an idle server sends
// nothing, so an end of file or a reset waiting to be read means it is
// gone).
type aliveChecker interface {
	Alive(ctx context.Context) bool
}

// onLiveConn runs fn, which sends a statement to the data source, on a
// server connection that is there. Outside a transaction, with no result
// open, a connection found dead before fn (lost while the session was idle:
// nothing of the statement reached it) is replaced first. And if the
// connection is lost under fn when replay says fn may run again (nothing of
// its answer went out, and it only reads), fn runs again on a new
// connection. A session that left state on the lost connection (variables,
// temporary tables, USE, locks) cannot go on without it: it ends, FATAL.
func (s *Session) onLiveConn(ctx context.Context, replay bool, fn func() error) error {
	if !s.renewable || s.tx != 'I' || s.open || s.resultOpen() {
		return fn()
	}
	alive := !s.connGone
	if alive {
		_ = s.conn.Raw(func(dc any) error {
			if a, ok := dc.(aliveChecker); ok {
				alive = a.Alive(ctx)
			}
			return nil
		})
	}
	if !alive {
		if err := s.replaceLost(ctx); err != nil {
			return err
		}
	}
	err := fn()
	for tries := 0; err != nil && replay && tries < 3 && s.mapError(ctx, err).Code == pgcode.ConnectionFailure; tries++ {
		if rerr := s.replaceLost(ctx); rerr != nil {
			return rerr
		}
		err = fn()
	}
	return err
}

// replaceLost gives the session a new server connection for one that was
// lost, unless the session's server state went with it.
func (s *Session) replaceLost(ctx context.Context) error {
	s.b.reset()
	if s.serverState {
		return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.ConnectionFailure,
			Message: fmt.Sprintf("the %s server connection was lost, and with it state this session left on it "+
				"(user variables, temporary tables, USE, locks or server settings)", s.d.Name()),
			Hint: "Reconnect."}
	}
	return s.renewConn(context.WithoutCancel(ctx), "lost")
}

// resultOpen reports a portal whose rows are still being read from the
// data source.
func (s *Session) resultOpen() bool {
	for _, p := range s.portals {
		if p.src != nil {
			return true
		}
	}
	return false
}

// A Replayer is a Dialect that tells which statements may run a second
// time on a new connection, after the first one was lost before any of
// its answer went out, without anyone telling: reads that call nothing
// with a side effect.
type Replayer interface {
	Replayable(query string) bool
}

// replayable reports whether st may be sent again on a new connection.
func (s *Session) replayable(st *stmt) bool {
	r, ok := s.d.(Replayer)
	return ok && r.Replayable(st.query)
}

func (s *Session) unlock() {
	if s.locked {
		s.locked = false
		s.b.release()
	}
}

// Handle processes one client message.
func (s *Session) Handle(ctx context.Context, f backends.Frame, w backends.Writer) error {
	msg, err := f.Message()
	if err != nil {
		// A malformed body: an ERROR, then ReadyForQuery for a Query, or
		// ignoring until Sync for the extended protocol (PostgreSQL).
		if f.Type == 'Q' {
			s.discard = false
			if err := s.fail(ctx, err, w, false); err != nil {
				return err
			}
			return s.readyForQuery(w)
		}
		if s.discard {
			return nil
		}
		return s.fail(ctx, err, w, true)
	}
	switch m := msg.(type) {
	case *pgproto3.Query:
		return s.simpleQuery(ctx, m.String, w)
	case *pgproto3.Sync:
		return s.sync(ctx, w)
	case *pgproto3.Flush:
		return nil
	}
	if s.discard {
		return nil // after an error, the extended protocol ignores messages until Sync
	}
	switch m := msg.(type) {
	case *pgproto3.Parse:
		err = s.parse(m, w)
	case *pgproto3.Bind:
		err = s.bind(m, w)
	case *pgproto3.Describe:
		err = s.describe(ctx, m, w)
	case *pgproto3.Execute:
		err = s.executeMsg(ctx, m, w)
	case *pgproto3.Close:
		err = s.closeMsg(m, w)
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		return nil // no COPY is in progress: PostgreSQL ignores these too
	case *pgproto3.FunctionCall:
		err = pgcode.New(pgcode.FeatureNotSupported, "the function call protocol is not supported")
	default:
		return pgcode.Fatal(pgcode.ProtocolViolation, fmt.Sprintf("unexpected message %T", msg))
	}
	if err != nil {
		return s.fail(ctx, err, w, true)
	}
	return nil
}

// fail reports a statement error to the client and moves the transaction
// state as PostgreSQL does: an implicit transaction is rolled back, an
// explicit one becomes failed ('E'). Errors that are not *pgcode.Error
// are connection failures and end the session.
func (s *Session) fail(ctx context.Context, err error, w backends.Writer, extended bool) error {
	pe := s.mapError(ctx, err)
	if pe.Fatal() && pe.Code == pgcode.ConnectionFailure && s.renewable && !s.serverState {
		// The server connection died (a restart, a KILL, wait_timeout):
		// the session is not the connection. It gets a new one, and the
		// client an ERROR at once; its next statement gets a new
		// connection. A transaction that was open is gone, so the block
		// fails as after any error.
		if s.dropConn("lost") {
			s.b.reset()
			e := *pe
			e.Severity = pgcode.SeverityError
			e.Message += "; the statement may or may not have run"
			e.Hint = "The next statement runs on a new server connection; the transaction, if one was open, " +
				"and the server-side session state (variables, temporary tables, locks) are gone."
			pe = &e
			s.open = false
		}
	}
	if pe.Fatal() {
		return pe
	}
	if err := w.Send(pe.Response()); err != nil {
		return err
	}
	if extended {
		s.discard = true
	}
	switch {
	case s.implicit:
		s.endTx(ctx, false)
	case s.tx == 'T':
		s.tx = 'E'
		s.abortFailed(ctx)
	}
	return nil
}

// changesServerSession reports a statement sent to the data source that may
// leave state on its connection beyond the transaction.
func changesServerSession(st *stmt) bool {
	if st.info.Kind == sqltext.Session && st.info.Command != "SHOW" {
		return true
	}
	return sqltext.Writes(st.text, sqltext.AnyDialect).Session
}

func (s *Session) mapError(ctx context.Context, err error) *pgcode.Error {
	var pe *pgcode.Error
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.Is(err, context.DeadlineExceeded):
		return pgcode.New(pgcode.QueryCanceled, "canceling statement due to statement timeout")
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return pgcode.New(pgcode.QueryCanceled, "canceling statement due to user request")
	}
	return s.d.Error(err)
}

// interrupted explains the error of a statement that ran under cctx, derived
// from the message's ctx: the data source reports a cancelled and a timed-out
// statement alike ("interrupted"), the contexts tell which it was.
func interrupted(ctx, cctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return pgcode.New(pgcode.QueryCanceled, "canceling statement due to user request")
	case cctx != nil && (errors.Is(cctx.Err(), context.DeadlineExceeded) || errors.Is(context.Cause(cctx), context.DeadlineExceeded)):
		return pgcode.New(pgcode.QueryCanceled, "canceling statement due to statement timeout")
	}
	return err
}

// stmtCtx bounds one statement by statement_timeout.
func (s *Session) stmtCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if d := s.set.statementTimeout(); d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

func (s *Session) readyForQuery(w backends.Writer) error {
	changed := s.set.changed()
	if changed != nil {
		s.enc.floatDigit = s.set.floatDigits()
	}
	for _, c := range changed {
		if err := w.Send(&pgproto3.ParameterStatus{Name: c.name, Value: c.value}); err != nil {
			return err
		}
	}
	return w.Send(&pgproto3.ReadyForQuery{TxStatus: s.tx})
}

// maxParams is the most parameters a Bind message can carry (an Int16
// count); a statement referring to more could never be executed.
const maxParams = 65535

// prepare classifies a statement and decides who answers it.
func (s *Session) prepare(text string, paramOIDs []uint32) (*stmt, error) {
	st := &stmt{text: text, info: sqltext.Classify(text)}
	if st.info.Params > maxParams {
		return nil, pgcode.New(pgcode.ProgramLimitExceeded, fmt.Sprintf(
			"statement refers to parameter $%d, but at most %d parameters are supported", st.info.Params, maxParams))
	}
	n := max(len(paramOIDs), st.info.Params)
	st.paramOIDs = make([]uint32, n)
	copy(st.paramOIDs, paramOIDs)
	switch {
	case st.info.Command == "":
		st.kind = kindEmpty
	case st.info.Tx.Op != sqltext.TxNone:
		st.kind = kindTx
	default:
		if set, ok := sqltext.ParseSet(text); ok && !s.passSet(set) {
			st.kind, st.set = kindSet, set
		} else if ok {
			st.kind = kindExec // the data source's own SET (see SessionPasser)
		} else if m, ok := parseSetTransaction(st.info.Command, text); ok {
			st.kind, st.txModes = kindSetTx, m
		} else if c, ok := parseCursorStmt(st.info.Command, text); ok {
			st.kind, st.cursor = kindCursor, c
		} else if name, ok := sqltext.ParseShow(text); ok && !s.passShow(name) {
			st.kind, st.show = kindShow, name
		} else if st.info.Command == "DISCARD ALL" {
			st.kind = kindDiscard
		} else if fc, ok := parseFuncSelect(text); ok {
			st.kind, st.funcs = kindFunc, fc
		} else if returnsRows(st.info) {
			st.kind = kindQuery
		} else {
			st.kind = kindExec
		}
	}
	if st.kind == kindQuery || st.kind == kindExec {
		if sc, ok := s.d.(StatementChecker); ok {
			if err := sc.CheckStatement(st.info, text); err != nil {
				return nil, err
			}
		}
		st.query, st.order = s.d.Rewrite(text)
	}
	return st, nil
}

// normalize applies the dialect's Normalizer, if any, to a client's text.
func (s *Session) normalize(text string) string {
	if n, ok := s.d.(Normalizer); ok {
		return n.Normalize(text)
	}
	return text
}

// passShow reports whether SHOW name goes to the data source: a name that
// is not a PostgreSQL setting, for a dialect that has SHOW of its own.
func (s *Session) passShow(name string) bool {
	sp, ok := s.d.(SessionPasser)
	if !ok || strings.EqualFold(name, "all") || strings.Contains(name, ".") {
		return false
	}
	if _, known := gucs[strings.ToLower(name)]; known {
		return false
	}
	return sp.PassShow(name)
}

// passSet is passShow for SET name = value; SET LOCAL, RESET and SET ...
// TO DEFAULT stay PostgreSQL's.
func (s *Session) passSet(set sqltext.Set) bool {
	sp, ok := s.d.(SessionPasser)
	if !ok || set.All || set.Local || set.Reset || set.Default || strings.Contains(set.Name, ".") {
		return false
	}
	if _, known := gucs[strings.ToLower(set.Name)]; known {
		return false
	}
	return sp.PassSet(set.Name)
}

func returnsRows(info sqltext.Info) bool {
	if info.Returning {
		return true
	}
	switch info.Command {
	case "SELECT", "VALUES", "TABLE", "EXPLAIN", "PRAGMA", "SHOW", "DESCRIBE", "DESC":
		return true
	}
	return false
}

// --- simple query -------------------------------------------------------

func (s *Session) simpleQuery(ctx context.Context, text string, w backends.Writer) error {
	s.discard = false
	// A simple Query destroys the unnamed statement and portal.
	delete(s.stmts, "")
	s.closePortal("")
	parts := sqltext.Split(s.normalize(text))
	if len(parts) == 0 {
		if err := w.Send(&pgproto3.EmptyQueryResponse{}); err != nil {
			return err
		}
		return s.readyForQuery(w)
	}
	multi, writes := len(parts) > 1, false
	if multi {
		for _, part := range parts {
			writes = writes || !sqltext.Classify(part).ReadOnly
		}
	}
	for _, part := range parts {
		st, err := s.prepare(part, nil)
		if err != nil {
			if err := s.fail(ctx, err, w, false); err != nil {
				return err
			}
			break
		}
		if s.tx == 'I' && multi && st.kind != kindTx {
			// Several statements in one Query run in one implicit transaction.
			if err := s.onLiveConn(ctx, false, func() error { return s.beginImplicit(ctx, writes) }); err != nil {
				if err := s.fail(ctx, err, w, false); err != nil {
					return err
				}
				break
			}
		}
		p := &portal{st: st}
		err = s.run(ctx, p, 0, true, w)
		p.close()
		if err != nil {
			if err := s.fail(ctx, err, w, false); err != nil {
				return err
			}
			break
		}
	}
	if s.implicit {
		if err := s.endTx(ctx, true); err != nil {
			if err := s.fail(ctx, err, w, false); err != nil {
				return err
			}
		}
	}
	return s.readyForQuery(w)
}

// --- extended query -----------------------------------------------------

func (s *Session) parse(m *pgproto3.Parse, w backends.Writer) error {
	if m.Name != "" {
		if _, ok := s.stmts[m.Name]; ok {
			return pgcode.New(pgcode.DuplicatePreparedStatement, fmt.Sprintf("prepared statement %q already exists", m.Name))
		}
	}
	parts := sqltext.Split(s.normalize(m.Query))
	if len(parts) > 1 {
		return pgcode.New(pgcode.SyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	text := ""
	if len(parts) == 1 {
		text = parts[0]
	}
	if len(m.ParameterOIDs) > maxParams {
		return pgcode.New(pgcode.ProtocolViolation, "Parse message declares too many parameter types")
	}
	st, err := s.prepare(text, m.ParameterOIDs)
	if err != nil {
		return err
	}
	s.stmts[m.Name] = st
	return w.Send(&pgproto3.ParseComplete{})
}

func (s *Session) bind(m *pgproto3.Bind, w backends.Writer) error {
	st, ok := s.stmts[m.PreparedStatement]
	if !ok {
		return pgcode.New(pgcode.InvalidSQLStatementName, fmt.Sprintf("prepared statement %q does not exist", m.PreparedStatement))
	}
	if m.DestinationPortal != "" {
		if _, ok := s.portals[m.DestinationPortal]; ok {
			return pgcode.New(pgcode.DuplicateCursor, fmt.Sprintf("portal %q already exists", m.DestinationPortal))
		}
	} else {
		s.closePortal("")
	}
	if len(m.Parameters) != len(st.paramOIDs) {
		return pgcode.New(pgcode.ProtocolViolation, fmt.Sprintf(
			"bind message supplies %d parameters, but prepared statement %q requires %d",
			len(m.Parameters), m.PreparedStatement, len(st.paramOIDs)))
	}
	nf := len(m.ParameterFormatCodes)
	if nf > 1 && nf != len(m.Parameters) {
		return pgcode.New(pgcode.ProtocolViolation, fmt.Sprintf(
			"bind message has %d parameter formats but %d parameters", nf, len(m.Parameters)))
	}
	args := make([]any, len(m.Parameters))
	for i, raw := range m.Parameters {
		format := textFormat
		if nf == 1 {
			format = m.ParameterFormatCodes[0]
		} else if nf > 1 {
			format = m.ParameterFormatCodes[i]
		}
		v, err := decodeParam(s.m, st.paramOIDs[i], format, raw, i+1)
		if err != nil {
			return err
		}
		if text, ok := v.(string); ok && st.paramOIDs[i] == 0 {
			v = coerceUntyped(s.untypedParam(st, i), text)
		}
		if st.paramOIDs[i] == pgtype.TimestamptzOID && s.b.opts.ZonelessTimestamps {
			v = zonelessTimestamp(v)
		}
		args[i] = v
	}
	s.portals[m.DestinationPortal] = &portal{st: st, args: args, formats: m.ResultFormatCodes}
	return w.Send(&pgproto3.BindComplete{})
}

func (s *Session) describe(ctx context.Context, m *pgproto3.Describe, w backends.Writer) error {
	if m.ObjectType == 'S' {
		st, ok := s.stmts[m.Name]
		if !ok {
			return pgcode.New(pgcode.InvalidSQLStatementName, fmt.Sprintf("prepared statement %q does not exist", m.Name))
		}
		if err := w.Send(&pgproto3.ParameterDescription{ParameterOIDs: st.paramOIDs}); err != nil {
			return err
		}
		var cols []outCol
		// Describing runs nothing but a read (a trial row) on the server.
		replay := st.kind != kindQuery || !st.info.ReadOnly || s.replayable(st)
		err := s.onLiveConn(ctx, replay, func() (err error) {
			cols, err = s.statementColumns(ctx, st)
			return err
		})
		if err != nil {
			return err
		}
		return s.sendRowDescription(cols, w)
	}
	p, ok := s.portals[m.Name]
	if !ok {
		return pgcode.New(pgcode.InvalidCursorName, fmt.Sprintf("portal %q does not exist", m.Name))
	}
	if err := s.resolveLive(ctx, p); err != nil {
		return err
	}
	return s.sendRowDescription(p.cols, w)
}

// statementColumns describes a prepared statement's result without the
// client's parameters. Declared columns are typed by their declaration.
// Expression columns (count(*), a + 1) have a type only at run time in
// SQLite, and drivers decode with this description, so a read-only
// statement with such columns is run once with NULL parameters and its
// first row's values decide; see exprType for what a NULL decides.
func (s *Session) statementColumns(ctx context.Context, st *stmt) ([]outCol, error) {
	if st.described {
		return st.cols, nil
	}
	switch st.kind {
	case kindShow, kindFunc:
		src, err := s.staticRows(st)
		if err != nil {
			return nil, err
		}
		st.cols, st.described = src.columns(), true
		return st.cols, nil
	case kindCursor:
		if st.info.Command != "FETCH" {
			st.described = true
			return nil, nil
		}
		// The cursor's columns, as they are now: not cached.
		return s.fetchColumns(&portal{st: st})
	case kindQuery:
	default:
		st.described = true
		return nil, nil
	}
	cols, err := s.d.Columns(ctx, s.conn, st.query)
	if err != nil {
		return nil, err
	}
	out := make([]outCol, len(cols))
	byValue := false
	for i, c := range cols {
		out[i] = outCol{name: c.Name, oid: s.d.TypeOID(c.DBType)}
		byValue = byValue || out[i].oid == 0
	}
	if byValue {
		var first []any
		if st.info.ReadOnly {
			first = s.trialRow(ctx, st)
		}
		for i := range out {
			if out[i].oid != 0 {
				continue
			}
			var v any
			if first != nil {
				v = first[i]
			}
			out[i].oid = exprType(out[i].name, v)
		}
	}
	if len(out) == 0 {
		out = nil
	}
	st.cols, st.described = out, true
	return out, nil
}

// trialRow runs a read-only statement with NULL parameters and returns its
// first row, or nil when it has none or fails (the caller then falls back).
func (s *Session) trialRow(ctx context.Context, st *stmt) []any {
	cctx, cancel := s.stmtCtx(ctx)
	defer cancel()
	args := make([]any, len(st.paramOIDs))
	if st.order != nil {
		args = make([]any, len(st.order))
	}
	rows, err := s.conn.QueryContext(cctx, st.query, args...)
	if err != nil {
		return nil
	}
	defer rows.Close()
	n := len(must(rows.Columns()))
	vals, ptrs := make([]any, n), make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() || rows.Scan(ptrs...) != nil {
		return nil
	}
	return vals
}

func must[T any](v T, _ error) T { return v }

// exprType types an expression column from a sample value; for NULL (or no
// sample) it reads the expression's text, which SQLite uses as the column
// name, for the aggregates whose type PostgreSQL fixes: count → bigint,
// avg and total → double precision. Anything else unknown is text.
func exprType(name string, v any) uint32 {
	if v != nil {
		return OIDOfValue(v)
	}
	lower := strings.ToLower(strings.TrimSpace(name))
	switch {
	case strings.HasPrefix(lower, "count("):
		return pgtype.Int8OID
	case strings.HasPrefix(lower, "avg("), strings.HasPrefix(lower, "total("):
		return pgtype.Float8OID
	}
	return pgtype.TextOID
}

func (s *Session) sendRowDescription(cols []outCol, w backends.Writer) error {
	if cols == nil {
		return w.Send(&pgproto3.NoData{})
	}
	fields := make([]pgproto3.FieldDescription, len(cols))
	for i, c := range cols {
		fields[i] = pgproto3.FieldDescription{
			Name: []byte(c.name), DataTypeOID: c.oid, DataTypeSize: typeSize(c.oid),
			TypeModifier: -1, Format: c.format,
		}
	}
	return w.Send(&pgproto3.RowDescription{Fields: fields})
}

func (s *Session) executeMsg(ctx context.Context, m *pgproto3.Execute, w backends.Writer) error {
	p, ok := s.portals[m.Portal]
	if !ok {
		return pgcode.New(pgcode.InvalidCursorName, fmt.Sprintf("portal %q does not exist", m.Portal))
	}
	if s.tx == 'I' && needsTx(p.st) {
		// PostgreSQL commits an extended-protocol batch at Sync, so the
		// writes of one batch succeed or fail together.
		if err := s.beginImplicit(ctx, true); err != nil {
			return err
		}
	}
	return s.run(ctx, p, int64(m.MaxRows), false, w)
}

// maxParamTypes bounds the session's cache of inferred parameter types.
const maxParamTypes = 256

// untypedParam returns the type of the column parameter i (0-based) meets.
func (s *Session) untypedParam(st *stmt, i int) uint32 {
	if st.untyped == nil {
		if cached, ok := s.paramTypes[st.query]; ok && len(cached) == len(st.paramOIDs) {
			st.untyped = cached
			return st.untyped[i]
		}
		st.untyped = make([]uint32, len(st.paramOIDs))
		if s.paramTypes == nil || len(s.paramTypes) >= maxParamTypes {
			s.paramTypes = map[string][]uint32{}
		}
		s.paramTypes[st.query] = st.untyped
		if st.kind == kindQuery || st.kind == kindExec {
			// The dialect reads $n placeholders: a rewrite that renumbers
			// them (order != nil) has lost them, so it gets the client's text.
			q := st.query
			if st.order != nil {
				q = st.text
			}
			types, err := s.d.ParamTypes(context.Background(), s.conn, q, len(st.paramOIDs))
			if err == nil {
				for j, t := range types {
					if j < len(st.untyped) && t != "" {
						st.untyped[j] = s.d.TypeOID(t)
					}
				}
			}
		}
	}
	return st.untyped[i]
}

// needsTx reports whether a statement executed outside a transaction must
// open the implicit one.
func needsTx(st *stmt) bool {
	return (st.kind == kindExec || st.kind == kindQuery) && !st.info.ReadOnly
}

func (s *Session) closeMsg(m *pgproto3.Close, w backends.Writer) error {
	if m.ObjectType == 'S' {
		delete(s.stmts, m.Name)
	} else {
		s.closePortal(m.Name)
	}
	return w.Send(&pgproto3.CloseComplete{})
}

func (s *Session) sync(ctx context.Context, w backends.Writer) error {
	s.discard = false
	if s.implicit {
		if err := s.endTx(ctx, true); err != nil {
			if err := s.fail(ctx, err, w, false); err != nil {
				return err
			}
		}
	}
	if s.tx == 'I' {
		s.closeTxPortals(true)
	}
	return s.readyForQuery(w)
}

// closeTxPortals closes the portals that end with a transaction: all of
// them, except WITH HOLD cursors when it committed.
func (s *Session) closeTxPortals(committed bool) {
	for name, p := range s.portals {
		if !(committed && p.hold) {
			s.closePortal(name)
		}
	}
}

func (s *Session) closePortal(name string) {
	if p, ok := s.portals[name]; ok {
		p.close()
		delete(s.portals, name)
	}
}

func (p *portal) close() {
	if p.src != nil {
		_ = p.src.close()
		p.src = nil
	}
	if p.prepared != nil {
		p.cache.put(p.prepared)
		p.prepared = nil
	}
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
	p.disarmTimeout()
}

// --- execution ----------------------------------------------------------

// run executes a portal: up to maxRows rows (0 = all). simple says the
// RowDescription goes out first, as in the simple protocol.
func (s *Session) run(ctx context.Context, p *portal, maxRows int64, simple bool, w backends.Writer) error {
	st := p.st
	if s.tx == 'E' && !(st.kind == kindTx && (st.info.Tx.Op == sqltext.TxRollback ||
		st.info.Tx.Op == sqltext.TxCommit || st.info.Tx.Op == sqltext.TxRollbackTo)) {
		return pgcode.New(pgcode.InFailedSQLTransaction,
			"current transaction is aborted, commands ignored until end of transaction block")
	}
	switch st.kind {
	case kindQuery, kindExec, kindCursor:
		s.txQueried = true // reset by the next BEGIN
		if !s.serverState && changesServerSession(st) {
			s.serverState = true
		}
	}
	switch st.kind {
	case kindEmpty:
		return w.Send(&pgproto3.EmptyQueryResponse{})
	case kindTx:
		var tag string
		err := s.onLiveConn(ctx, false, func() (err error) {
			tag, err = s.txControl(ctx, st, w)
			return err
		})
		if err != nil {
			return err
		}
		return w.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	case kindSet:
		if err := s.applySet(st.set, w); err != nil {
			return err
		}
		tag := "SET"
		if st.set.Reset {
			tag = "RESET"
		}
		return w.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	case kindCursor:
		if err := s.resolvePortal(ctx, p); err != nil {
			return err
		}
		tag, err := s.runCursorStmt(ctx, p, simple, w)
		if err != nil {
			return err
		}
		return w.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	case kindSetTx:
		if err := s.setTransaction(ctx, st.txModes, w); err != nil {
			return err
		}
		return w.Send(&pgproto3.CommandComplete{CommandTag: []byte("SET")})
	case kindDiscard:
		if s.tx != 'I' && !s.implicit || s.open && s.discardable() {
			// An implicit block's transaction lives on the connection
			// DISCARD ALL would replace (PostgreSQL refuses it there too).
			return pgcode.New(pgcode.ActiveSQLTransaction, "DISCARD ALL cannot run inside a transaction block")
		}
		s.set.resetAll()
		for name := range s.portals {
			s.closePortal(name)
		}
		clear(s.stmts)
		if err := s.renewConn(ctx, "DISCARD ALL"); err != nil {
			return err
		}
		return w.Send(&pgproto3.CommandComplete{CommandTag: []byte("DISCARD ALL")})
	case kindExec:
		return s.onLiveConn(ctx, false, func() error { return s.exec(ctx, p, w) })
	}
	// Row-returning statements.
	if p.done {
		return w.Send(&pgproto3.CommandComplete{CommandTag: []byte(rowTag(st.info, 0))})
	}
	if simple && !p.resolved {
		if err := s.resolveLive(ctx, p); err != nil {
			return err
		}
		if len(p.cols) > 0 {
			if err := s.sendRowDescription(p.cols, w); err != nil {
				return err
			}
		}
	} else if err := s.resolveLive(ctx, p); err != nil {
		return err
	}
	return s.stream(ctx, p, maxRows, w)
}

// resolveLive resolves a portal on a live server connection: nothing of
// its answer has gone out yet, so a read is sent again if the connection
// is lost under it.
func (s *Session) resolveLive(ctx context.Context, p *portal) error {
	if p.resolved {
		return nil
	}
	return s.onLiveConn(ctx, s.replayable(p.st), func() error { return s.resolvePortal(ctx, p) })
}

// resolvePortal opens the portal's row source, if it has rows, and fixes its
// column types and formats.
func (s *Session) resolvePortal(ctx context.Context, p *portal) error {
	if p.resolved {
		return nil
	}
	st := p.st
	var err error
	switch st.kind {
	case kindQuery:
		err = s.openRows(ctx, p)
	case kindShow, kindFunc:
		p.src, err = s.staticRows(st)
	case kindCursor:
		if st.info.Command != "FETCH" {
			p.resolved = true
			return nil
		}
		fc, err := s.fetchColumns(p)
		if err != nil {
			return err
		}
		return s.setColumns(p, fc)
	default:
		p.resolved = true
		return nil
	}
	if err != nil {
		return err
	}
	cols := p.src.columns()
	if len(cols) == 0 {
		p.cols = nil
		p.resolved = true
		return nil
	}
	if st.described && len(st.cols) == len(cols) {
		for i := range cols {
			cols[i].oid = st.cols[i].oid
		}
	}
	return s.setColumns(p, cols)
}

// setColumns fixes a portal's result columns with the formats its Bind
// asked for.
func (s *Session) setColumns(p *portal, cols []outCol) error {
	if len(cols) == 0 {
		p.cols, p.resolved = nil, true
		return nil
	}
	switch len(p.formats) {
	case 0:
	case 1:
		for i := range cols {
			cols[i].format = p.formats[0]
		}
	case len(cols):
		for i := range cols {
			cols[i].format = p.formats[i]
		}
	default:
		return pgcode.New(pgcode.ProtocolViolation, fmt.Sprintf(
			"bind message has %d result formats but query has %d columns", len(p.formats), len(cols)))
	}
	for _, c := range cols {
		if c.format != textFormat && c.format != binaryFormat {
			return pgcode.New(pgcode.ProtocolViolation, fmt.Sprintf("unsupported format code: %d", c.format))
		}
	}
	p.cols = cols
	p.resolved = true
	return nil
}

// openRows runs a row-returning statement on the data source. The cursor
// outlives this message (Execute with a row limit leaves it open), so it runs
// under a context of its own that the caller's cancellation reaches only
// while a message is being handled.
func (s *Session) openRows(ctx context.Context, p *portal) error {
	if err := s.lockForWrite(ctx, p.st); err != nil {
		return err
	}
	// No deadline on the cursor's own context: statement_timeout bounds
	// each message that reads it (armTimeout), not the cursor's life.
	cctx, cancelCause := context.WithCancelCause(context.WithoutCancel(ctx))
	cancel := func() { cancelCause(context.Canceled) }
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	p.ctx, p.cancel = cctx, cancelCause
	s.armTimeout(p)
	opened := false
	defer func() {
		if !opened {
			p.disarmTimeout()
		}
	}()
	args, err := s.args(p)
	if err != nil {
		cancel()
		return err
	}
	ps, err := s.cache.get(cctx, p.st.query)
	if err != nil {
		cancel()
		s.unlockAutocommit()
		return interrupted(ctx, cctx, err)
	}
	rows, err := ps.stmt.QueryContext(cctx, args...)
	if err != nil {
		cancel()
		s.cache.put(ps)
		s.unlockAutocommit()
		return interrupted(ctx, cctx, err)
	}
	p.prepared, p.cache = ps, s.cache
	src, err := newSQLRows(rows, s.d)
	if err != nil {
		cancel()
		s.unlockAutocommit()
		return interrupted(ctx, cctx, err)
	}
	p.src, p.stop, opened = src, cancel, true
	return nil
}

// armTimeout starts statement_timeout for the message reading portal p:
// when it expires the portal's context ends with DeadlineExceeded as its
// cause (the statement is stopped, 57014). disarmTimeout stops it when
// the message is done with the portal.
func (s *Session) armTimeout(p *portal) {
	d := s.set.statementTimeout()
	if d <= 0 || p.cancel == nil || p.timer != nil {
		return
	}
	cancel := p.cancel
	p.timer = time.AfterFunc(d, func() { cancel(context.DeadlineExceeded) })
}

func (p *portal) disarmTimeout() {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
}

// args orders a portal's arguments for the driver.
func (s *Session) args(p *portal) ([]any, error) {
	if p.st.order == nil {
		return p.args, nil
	}
	out := make([]any, len(p.st.order))
	for i, n := range p.st.order {
		if n < 1 || n > len(p.args) {
			return nil, pgcode.New(pgcode.UndefinedObject, fmt.Sprintf("there is no parameter $%d", n))
		}
		out[i] = p.args[n-1]
	}
	return out, nil
}

// stream sends up to maxRows rows (0 = all) of an open portal.
func (s *Session) stream(ctx context.Context, p *portal, maxRows int64, w backends.Writer) error {
	n, more, err := s.pump(ctx, p, p.cols, maxRows, w)
	if err != nil {
		return err
	}
	if more {
		return w.Send(&pgproto3.PortalSuspended{})
	}
	// The count is this Execute's rows, not the portal's total (PostgreSQL).
	return w.Send(&pgproto3.CommandComplete{CommandTag: []byte(rowTag(p.st.info, n))})
}

// pump reads up to maxRows rows (0 = all) of an open portal and, unless w
// is nil, sends them encoded as cols. more reports whether rows remain;
// when none do, the cursor is closed.
func (s *Session) pump(ctx context.Context, p *portal, cols []outCol, maxRows int64, w backends.Writer) (n int64, more bool, err error) {
	if p.src == nil {
		return 0, false, nil
	}
	s.armTimeout(p)
	defer p.disarmTimeout()
	stop := context.AfterFunc(ctx, func() {
		if p.stop != nil {
			p.stop()
		}
	})
	defer stop()
	for {
		if maxRows > 0 && n == maxRows {
			more, err := p.src.more()
			if err != nil {
				return n, false, interrupted(ctx, p.ctx, err)
			}
			if more {
				return n, true, nil
			}
			break
		}
		vals, err := p.src.next()
		if err != nil {
			return n, false, interrupted(ctx, p.ctx, err)
		}
		if vals == nil {
			break
		}
		if w != nil {
			if err := s.sendRow(cols, vals, w); err != nil {
				return n, false, err
			}
		}
		n++
	}
	p.done = true
	err = p.src.close()
	p.src = nil
	s.unlockAutocommit()
	return n, false, err
}

func (s *Session) sendRow(cols []outCol, vals []any, w backends.Writer) error {
	if s.rowBuf == nil {
		// Never nil: an empty non-NULL value must be a non-nil empty slice.
		s.rowBuf = make([]byte, 0, 512)
	}
	buf, spans := s.rowBuf[:0], s.spans[:0]
	for i, c := range cols {
		if vals[i] == nil {
			spans = append(spans, [2]int{-1, -1})
			continue
		}
		start := len(buf)
		var err error
		if buf, err = s.enc.appendValue(buf, c.oid, c.format, vals[i]); err != nil {
			return fmt.Errorf("column %q: %w", c.name, err)
		}
		spans = append(spans, [2]int{start, len(buf)})
	}
	if cap(s.rowValues) < len(cols) {
		s.rowValues = make([][]byte, len(cols))
	}
	out := s.rowValues[:len(cols)]
	// Slice only now: buf may have moved while it grew.
	for i, sp := range spans {
		if sp[0] < 0 {
			out[i] = nil
		} else {
			out[i] = buf[sp[0]:sp[1]:sp[1]]
		}
	}
	s.rowBuf, s.spans = buf, spans
	return w.Send(&pgproto3.DataRow{Values: out})
}

// exec runs a statement that returns a count.
func (s *Session) exec(ctx context.Context, p *portal, w backends.Writer) error {
	if p.done {
		return w.Send(&pgproto3.CommandComplete{CommandTag: []byte(execTag(p.st.info, 0))})
	}
	if err := s.lockForWrite(ctx, p.st); err != nil {
		return err
	}
	defer s.unlockAutocommit()
	args, err := s.args(p)
	if err != nil {
		return err
	}
	cctx, cancel := s.stmtCtx(ctx)
	defer cancel()
	ps, err := s.cache.get(cctx, p.st.query)
	if err != nil {
		return interrupted(ctx, cctx, err)
	}
	res, err := ps.stmt.ExecContext(cctx, args...)
	s.cache.put(ps)
	if err != nil {
		s.cache.forget(ps)
		if werr := s.afterFailedImplicitCommit(ctx, p.st, err, w); werr != nil {
			return werr
		}
		return interrupted(ctx, cctx, err)
	}
	var n int64
	if hasCount(p.st.info.Tag) {
		n, _ = res.RowsAffected()
	}
	p.done = true
	if err := s.afterImplicitCommit(ctx, p.st, w); err != nil {
		return err
	}
	return w.Send(&pgproto3.CommandComplete{CommandTag: []byte(execTag(p.st.info, n))})
}

// afterImplicitCommit starts a new transaction on the data source when the
// statement just run inside a transaction block made it commit (see
// ImplicitCommitter): the block goes on as the client believes, so a later
// ROLLBACK still undoes what follows. An explicit block gets a warning,
// since what came before the statement can no longer be rolled back.
func (s *Session) afterImplicitCommit(ctx context.Context, st *stmt, w backends.Writer) error {
	ic, ok := s.d.(ImplicitCommitter)
	if !ok || !s.open || !ic.CommitsImplicitly(st.info, st.query) {
		return nil
	}
	if !s.implicit {
		if err := w.Send(warning(pgcode.ActiveSQLTransaction, fmt.Sprintf(
			"%s committed the open transaction before %s; the transaction block goes on in a new transaction",
			s.d.Name(), st.info.Command))); err != nil {
			return err
		}
	}
	s.set.saves = nil // the data source's savepoints ended with its transaction
	return s.startTx(context.WithoutCancel(ctx), s.locked, s.txReadOnly, s.set.isolation())
}

// afterFailedImplicitCommit is afterImplicitCommit for a statement that
// failed: the data source may have committed the open transaction before
// running it (MySQL does for DDL that then fails, unless it could not
// even parse it). The client is warned, in an implicit block too (whose
// earlier statements PostgreSQL would now undo), and the proxy follows the
// data source: savepoints are gone, and a new transaction stands in for
// the committed one until the error ends it.
func (s *Session) afterFailedImplicitCommit(ctx context.Context, st *stmt, err error, w backends.Writer) error {
	ic, ok := s.d.(ImplicitCommitter)
	if !ok || !s.open || !ic.CommitsImplicitly(st.info, st.query) {
		return nil
	}
	if fc, ok := s.d.(FailedCommitter); !ok || !fc.CommittedBeforeError(err) {
		return nil
	}
	if werr := w.Send(warning(pgcode.ActiveSQLTransaction, fmt.Sprintf(
		"%s committed the open transaction before %s, which then failed: the work before it is committed, and its savepoints are gone",
		s.d.Name(), st.info.Command))); werr != nil {
		return werr
	}
	s.set.saves = nil
	return s.startTx(context.WithoutCancel(ctx), s.locked, s.txReadOnly, s.set.isolation())
}

// lockForWrite takes the writer lock before a statement that may write:
// outside a transaction for the statement, inside one until it ends. A
// write in a READ ONLY transaction (or under default_transaction_read_only
// outside one) fails with 25006, as in PostgreSQL.
func (s *Session) lockForWrite(ctx context.Context, st *stmt) error {
	if st.info.ReadOnly {
		return nil
	}
	if s.txReadOnly || s.tx == 'I' && s.set.defaultReadOnly() {
		return pgcode.New(pgcode.ReadOnlySQLTransaction,
			fmt.Sprintf("cannot execute %s in a read-only transaction", st.info.Command))
	}
	if s.locked {
		return nil
	}
	if err := s.b.acquire(ctx); err != nil {
		return err
	}
	s.locked = s.b.lock != nil
	return nil
}

func (s *Session) unlockAutocommit() {
	if s.tx == 'I' {
		s.unlock()
	}
}

func hasCount(cmd string) bool {
	switch cmd {
	case "INSERT", "UPDATE", "DELETE", "MERGE", "SELECT", "COPY", "MOVE", "FETCH":
		return true
	}
	return false
}

// execTag writes a command tag as PostgreSQL does (protocol section 55.7,
// CommandComplete): the tag words, then the row count for the commands that
// carry one (INSERT's has the historical OID 0 first).
func execTag(info sqltext.Info, n int64) string {
	tag := info.Tag
	if tag == "" {
		tag = info.Command
	}
	switch tag {
	case "INSERT":
		return "INSERT 0 " + strconv.FormatInt(n, 10)
	case "UPDATE", "DELETE", "MERGE", "SELECT", "COPY", "MOVE", "FETCH":
		return tag + " " + strconv.FormatInt(n, 10)
	}
	return tag
}

// rowTag is the tag of a statement that returned n rows; statements
// PostgreSQL has no tag for (SQLite's PRAGMA) report SELECT n.
func rowTag(info sqltext.Info, n int64) string {
	switch info.Tag {
	case "INSERT", "UPDATE", "DELETE", "MERGE", "SELECT", "EXPLAIN", "SHOW":
		return execTag(info, n)
	}
	return "SELECT " + strconv.FormatInt(n, 10)
}

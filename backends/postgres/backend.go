package postgres

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

// Options tune a PostgreSQL backend's pool.
type Options struct {
	// PoolSize is the most server connections open at once; a client that
	// finds them all in use waits. Zero means DefaultPoolSize.
	PoolSize int
	// PoolTimeout is how long a client waits for a server connection
	// before failing with 53300. Zero means DefaultPoolTimeout.
	PoolTimeout time.Duration
	// IdleTimeout closes server connections idle in the pool for longer,
	// down to MinIdle. Zero means DefaultIdleTimeout; negative keeps them.
	IdleTimeout time.Duration
	// MinIdle is how many idle connections the reaper leaves open. Zero
	// (the default) lets it close them all.
	MinIdle int
	// RetryTimeout bounds how long opening a server connection is retried
	// (with backoff from 50 ms doubling to 2 s, with jitter) while the
	// server refuses or cannot be reached. Zero means DefaultRetryTimeout.
	RetryTimeout time.Duration
	// MaxLifetime closes a server connection this long (give or take a
	// tenth, so that they do not all go at once) after it was opened, when
	// it is next idle. Zero means DefaultMaxLifetime; negative keeps them.
	MaxLifetime time.Duration
	// Mode is when a client gives its server connection back: at the end of
	// its session (SessionMode, the default) or of each transaction
	// (TransactionMode).
	Mode Mode
	// Name is the connection section's name, for messages.
	Name string
}

// Mode is a pool mode.
type Mode uint8

const (
	// SessionMode: a client keeps one server connection for its whole
	// session; the connection is cleaned before the next client gets it.
	SessionMode Mode = iota
	// TransactionMode: a client holds a server connection from the first
	// message of a transaction until the server is idle outside one again.
	// Prepared statements and settings follow the client (see TxSession).
	TransactionMode
)

// Defaults for Options.
const (
	DefaultPoolSize     = 20
	DefaultPoolTimeout  = 30 * time.Second
	DefaultIdleTimeout  = 10 * time.Minute
	DefaultRetryTimeout = 30 * time.Second
	DefaultMaxLifetime  = time.Hour
	// DefaultConnectTimeout bounds one attempt to open a server
	// connection when the URL sets no connect_timeout.
	DefaultConnectTimeout = 10 * time.Second
)

// Backend serves sessions from a pool of PostgreSQL server connections, in
// session mode: a client keeps one server connection for its whole session,
// and the connection is cleaned (ROLLBACK if needed, DISCARD ALL) before
// the next client gets it.
type Backend struct {
	cfg  *pgconn.Config
	opts Options

	slots chan struct{} // one token per server connection that may be open

	mu     sync.Mutex
	idle   []*serverConn // most recently used last
	closed bool
	stop   chan struct{}

	// gen counts resets: a connection opened before the last one is
	// closed instead of reused (a restart took the others with it).
	gen atomic.Uint64
	// retry opens connections while the server is down: one session
	// retries, the others wait for it.
	retry backends.Reconnector

	loginMu  sync.Mutex
	logins   map[string]*login // transaction mode: what a set of startup parameters gives
	sessions atomic.Uint64     // transaction mode: numbers sessions for statement names
}

var _ backends.Backend = (*Backend)(nil)

// New returns a backend for cfg. It opens no connection until a session
// needs one.
func New(cfg *pgconn.Config, opts Options) *Backend {
	if opts.PoolSize <= 0 {
		opts.PoolSize = DefaultPoolSize
	}
	if opts.PoolTimeout <= 0 {
		opts.PoolTimeout = DefaultPoolTimeout
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.RetryTimeout <= 0 {
		opts.RetryTimeout = DefaultRetryTimeout
	}
	if opts.MaxLifetime == 0 {
		opts.MaxLifetime = DefaultMaxLifetime
	}
	if cfg.ConnectTimeout <= 0 {
		// libpq waits forever by default; a server that accepts the TCP
		// connection and then says nothing must not hold a client so.
		cfg = cfg.Copy()
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	b := &Backend{cfg: cfg, opts: opts, slots: make(chan struct{}, opts.PoolSize), stop: make(chan struct{})}
	b.retry.Timeout = opts.RetryTimeout
	if opts.IdleTimeout > 0 {
		go b.reap(opts.IdleTimeout)
	}
	return b
}

// serverConn is one connection to the server, hijacked from pgconn after
// startup: the proxy forwards messages on it itself.
type serverConn struct {
	startup   string // startup.key of the parameters it was opened with
	conn      net.Conn
	r         *bufio.Reader
	pid       uint32
	secret    []byte
	params    map[string]string // ParameterStatus values
	loginAuth string            // session_authorization at login
	idleSince time.Time
	gen       uint64    // Backend.gen when it was opened
	expires   time.Time // when MaxLifetime ends it (zero: never)

	// Session bookkeeping, read and written by the session that holds
	// the connection.
	prepared map[string]uint64 // server statement names prepared here, by last use
	useTick  uint64
	applied  map[string]string // unreported session-level settings, as the server shows them
	unnamed  *TxSession        // whose unnamed statement this connection has
	unnSeq   uint64            // ... and which one of theirs
	dirty    bool              // session state changed that only DISCARD ALL undoes
	// settingsChanged: a statement may have changed settings; they are
	// read back when the transaction ends.
	settingsChanged bool
	// listenChanged: LISTEN or UNLISTEN ran; session mode reads the
	// channels back between statements.
	listenChanged bool
	// held: the kinds of state no new connection can have that the
	// session may have made here (session mode; see effects).
	held held
	// unread: a read-back of the session's state failed (session mode);
	// it is tried again after the next statement.
	unread  bool
	synced  *TxSession // the session whose settings were last applied
	syncVer uint64     // ... at this version of them
}

// startup is the set of startup parameters a server connection was opened
// with: a client's run-time settings (application_name, DateStyle,
// search_path, options' -c settings, ...), sorted by name. They are real
// startup parameters on the server, so that RESET, RESET ALL and DISCARD
// ALL return to them there exactly as on a direct connection.
type startup struct {
	key   string // the pairs, encoded: connections match on it
	pairs [][2]string
}

func newStartup(pairs [][2]string) startup {
	var b strings.Builder
	for _, kv := range pairs {
		b.WriteString(kv[0])
		b.WriteByte(0)
		b.WriteString(kv[1])
		b.WriteByte(0)
	}
	return startup{key: b.String(), pairs: pairs}
}

// acquire takes a slot and a server connection opened with st: an idle
// one, or a new one. When the idle connections were all opened with other
// parameters and the pool is full, the oldest of them is closed to make
// room.
func (b *Backend) acquire(ctx context.Context, st startup) (*serverConn, error) {
	select {
	case b.slots <- struct{}{}:
	default:
		// Only a client that has to wait arms a timer: a new timer wakes
		// the runtime's poller, which costs a transaction measurably.
		if err := b.waitSlot(ctx); err != nil {
			return nil, err
		}
	}
	for {
		b.mu.Lock()
		var sc *serverConn
		for i := len(b.idle) - 1; i >= 0; i-- { // most recently used first
			if c := b.idle[i]; c.startup == st.key {
				b.idle = slices.Delete(b.idle, i, i+1)
				sc = c
				break
			}
		}
		b.mu.Unlock()
		if sc == nil {
			break
		}
		if sc.stale() {
			// The server ended it while it was idle (a restart, a cut):
			// the others that were idle with it are likely gone too.
			go sc.close()
			b.reset()
			continue
		}
		return sc, nil
	}
	b.mu.Lock()
	var evict *serverConn
	if len(b.idle) > 0 && len(b.slots)+len(b.idle) > b.opts.PoolSize {
		evict = b.idle[0]
		b.idle = b.idle[1:]
	}
	b.mu.Unlock()
	if evict != nil {
		go evict.close()
	}
	sc, err := b.dialRetry(ctx, st)
	if err != nil {
		<-b.slots
		return nil, err
	}
	return sc, nil
}

// tryAcquire takes a free slot and a live idle connection opened with st,
// without waiting; nil when there is none (acquire then does the rest).
func (b *Backend) tryAcquire(st startup) *serverConn {
	select {
	case b.slots <- struct{}{}:
	default:
		return nil
	}
	b.mu.Lock()
	var sc *serverConn
	for i := len(b.idle) - 1; i >= 0; i-- {
		if c := b.idle[i]; c.startup == st.key {
			b.idle = slices.Delete(b.idle, i, i+1)
			sc = c
			break
		}
	}
	b.mu.Unlock()
	if sc != nil && sc.stale() {
		go sc.close()
		b.reset()
		sc = nil
	}
	if sc == nil {
		<-b.slots
	}
	return sc
}

// endBackgroundRead ends a read pgconn may have left pending on a
// connection it hands over. pgconn starts a background reader when a write
// is slow (to avoid a write/read deadlock) and stopping it does not cancel
// its read: left alone, that read would take the server's next answer, and
// hold the socket's read lock (a peek for staleness would wait on it
// forever). A read deadline in the past ends it; taking the read lock once
// waits until it has.
func endBackgroundRead(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	_ = c.SetReadDeadline(time.Now())
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			_ = raw.Read(func(uintptr) bool { return true }) // the read lock, once
		}
	}
	_ = c.SetReadDeadline(time.Time{})
}

// waitSlot waits up to PoolTimeout for a free slot.
func (b *Backend) waitSlot(ctx context.Context) error {
	t := time.NewTimer(b.opts.PoolTimeout)
	defer t.Stop()
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.TooManyConnections,
			Message: fmt.Sprintf("no server connection for %q became free within %s: all %d are in use",
				b.opts.Name, b.opts.PoolTimeout, b.opts.PoolSize),
			Hint: "Raise pool_size or pool_timeout for this connection, or make clients hold connections for less time."}
	}
}

// stale reports an idle connection the server has spoken on or closed:
// an idle server sends nothing, so anything readable (a FATAL 57P01 from
// a shutdown, an EOF, a reset) means it is gone. It costs one read that
// does not wait (peekSocket).
func (sc *serverConn) stale() bool {
	if sc.r.Buffered() > 0 {
		return true
	}
	c := sc.conn
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	return peekSocket(c)
}

// reset drops the idle connections: after one was found dead, the others
// opened before it are suspect. Connections in use are closed when
// released (their generation is old).
func (b *Backend) reset() {
	b.gen.Add(1)
	b.mu.Lock()
	idle := b.idle
	b.idle = nil
	b.mu.Unlock()
	for _, sc := range idle {
		go sc.close()
	}
}

// dialRetry opens a connection, retrying with backoff while the server
// cannot be reached or is starting up, until RetryTimeout. While the
// server is down, one caller retries and the others wait for it.
func (b *Backend) dialRetry(ctx context.Context, st startup) (*serverConn, error) {
	var sc *serverConn
	recovered, err := b.retry.Do(ctx, func(ctx context.Context) (err error) {
		sc, err = b.dial(ctx, st)
		return err
	}, retryable, func(last error) error {
		var pe *pgcode.Error
		msg := fmt.Sprint(last)
		if errors.As(last, &pe) {
			msg = pe.Message
		}
		return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.SQLClientUnableToEstablishConn,
			Message: fmt.Sprintf("connection %q: the server was unreachable for %s; last error: %s", b.opts.Name, b.opts.RetryTimeout, msg),
			Hint:    "Check that the server is up and reachable; retry_timeout sets how long xconnproxy keeps trying."}
	})
	if recovered {
		b.reset() // whatever was idle predates the outage
	}
	return sc, err
}

// retryable reports a failure to open a connection that may pass: the
// server is unreachable, refuses, or is starting or shutting down; not a
// refused login or a bad parameter.
func retryable(err error) bool {
	var pe *pgcode.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgcode.SQLClientUnableToEstablishConn, pgcode.ConnectionFailure, "57P01", "57P02", "57P03", "53300":
			return true
		}
		return strings.HasPrefix(pe.Code, "08")
	}
	return true
}

func (b *Backend) dial(ctx context.Context, st startup) (*serverConn, error) {
	cfg := b.cfg
	if len(st.pairs) > 0 {
		cfg = b.cfg.Copy()
		cfg.RuntimeParams = maps.Clone(cfg.RuntimeParams)
		if cfg.RuntimeParams == nil {
			cfg.RuntimeParams = map[string]string{}
		}
		for _, kv := range st.pairs {
			cfg.RuntimeParams[kv[0]] = kv[1]
		}
	}
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, connectError(b.opts.Name, err)
	}
	hc, err := pc.Hijack()
	if err != nil {
		pc.Close(ctx)
		return nil, err
	}
	endBackgroundRead(hc.Conn)
	sc := &serverConn{conn: hc.Conn, r: bufio.NewReaderSize(hc.Conn, 32<<10), startup: st.key, gen: b.gen.Load(),
		pid: hc.PID, secret: hc.SecretKey, params: maps.Clone(hc.ParameterStatuses),
		loginAuth: hc.ParameterStatuses["session_authorization"],
		prepared:  map[string]uint64{}, applied: map[string]string{}}
	if lt := b.opts.MaxLifetime; lt > 0 {
		sc.expires = time.Now().Add(backends.Lifetime(lt))
	}
	if hc.Frontend.ReadBufferLen() > 0 {
		// pgconn read past ReadyForQuery: the server sent something more.
		// Rare, and its meaning unknown here: start over.
		hc.Conn.Close()
		return nil, errors.New("unexpected data after startup from the server")
	}
	return sc, nil
}

// connectError reports a failed connect; pgconn's messages never carry the
// password.
func connectError(name string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "42")) {
		// A startup parameter the client sent was refused: the server's
		// own answer, as a direct login gets it.
		return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pe.Code, Message: pe.Message, Detail: pe.Detail, Hint: pe.Hint}
	}
	if errors.As(err, &pe) {
		return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pe.Code,
			Message: fmt.Sprintf("connection %q: the server refused the connection: %s", name, pe.Message),
			Detail:  pe.Detail, Hint: pe.Hint}
	}
	return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.SQLClientUnableToEstablishConn,
		Message: fmt.Sprintf("connection %q: cannot reach the server: %v", name, err)}
}

// release returns a clean connection to the pool, or closes it.
func (b *Backend) release(sc *serverConn, reusable bool) {
	defer func() { <-b.slots }()
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if !reusable || b.closed || sc.gen != b.gen.Load() || !sc.expires.IsZero() && now.After(sc.expires) {
		sc.close()
		return
	}
	sc.idleSince = now
	b.idle = append(b.idle, sc)
}

func (sc *serverConn) close() {
	// Terminate, then close: the server ends the backend at once.
	_ = sc.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = sc.conn.Write([]byte{'X', 0, 0, 0, 4})
	sc.conn.Close()
}

// reap runs reapIdle every quarter of the idle timeout.
func (b *Backend) reap(d time.Duration) {
	tick := time.NewTicker(max(d/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-tick.C:
			b.reapIdle(now)
		}
	}
}

// reapIdle closes the connections idle since before now-IdleTimeout, oldest
// first, keeping MinIdle. The time comes from the caller, so tests pass
// their own instead of sleeping.
func (b *Backend) reapIdle(now time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	closed := 0
	keep := b.idle[:0]
	for _, sc := range b.idle { // oldest first: release appends
		if now.Sub(sc.idleSince) > b.opts.IdleTimeout && len(b.idle)-closed > b.opts.MinIdle {
			go sc.close()
			closed++
			continue
		}
		keep = append(keep, sc)
	}
	b.idle = keep
	return closed
}

// Idle returns the number of idle server connections in the pool.
func (b *Backend) Idle() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.idle)
}

// Ping opens (or reuses) a server connection and checks it answers.
func (b *Backend) Ping(ctx context.Context) error {
	_, err := b.Describe(ctx)
	return err
}

// Describe names the server and its version.
func (b *Backend) Describe(ctx context.Context) (string, error) {
	sc, err := b.acquire(ctx, startup{})
	if err != nil {
		return "", err
	}
	ok := sc.roundTrip(ctx, "SELECT 1") == nil
	version := sc.params["server_version"] // read before another session owns sc
	b.release(sc, ok)
	if !ok {
		return "", fmt.Errorf("connection %q: the server did not answer", b.opts.Name)
	}
	return "PostgreSQL " + version, nil
}

// Close closes the pool's connections; sessions in use close theirs on
// release.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.stop)
	}
	for _, sc := range b.idle {
		sc.close()
	}
	b.idle = nil
	return nil
}

// roundTrip runs a simple query on an idle connection and reads its answer
// up to ReadyForQuery, recording ParameterStatus changes. It returns the
// first error the server reported.
func (sc *serverConn) roundTrip(ctx context.Context, sql string) error {
	return sc.exchange(ctx, sql, nil)
}

// exchange sends a simple query and reads its answer up to ReadyForQuery,
// passing other messages to each.
func (sc *serverConn) exchange(ctx context.Context, sql string, each func(typ byte, body []byte)) error {
	q, _ := (&pgproto3.Query{String: sql}).Encode(nil)
	return sc.exchangeRaw(ctx, q, each)
}

func (sc *serverConn) exchangeRaw(ctx context.Context, msg []byte, each func(typ byte, body []byte)) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = sc.conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = sc.conn.SetDeadline(time.Now()) })
	defer func() {
		stop()
		_ = sc.conn.SetDeadline(time.Time{})
	}()
	if _, err := sc.conn.Write(msg); err != nil {
		return err
	}
	var first error
	for {
		typ, body, err := readFrame(sc.r)
		if err != nil {
			return err
		}
		switch typ {
		case 'E':
			if first == nil {
				var e pgproto3.ErrorResponse
				if err := e.Decode(body); err != nil {
					return err
				}
				first = &pgcode.Error{Severity: e.Severity, Code: e.Code, Message: e.Message, Detail: e.Detail, Hint: e.Hint}
			}
		case 'S':
			sc.recordParam(body)
		case 'Z':
			return first
		default:
			if each != nil {
				each(typ, body)
			}
		}
	}
}

// resync sends a Sync and reads up to its ReadyForQuery: it ends an
// extended-protocol batch a client left unfinished, and the skipping of
// messages after an error in one.
func (sc *serverConn) resync(ctx context.Context) error {
	return sc.exchangeRaw(ctx, []byte{'S', 0, 0, 0, 4}, nil)
}

func (sc *serverConn) recordParam(body []byte) {
	var ps pgproto3.ParameterStatus
	if ps.Decode(body) == nil {
		sc.params[ps.Name] = ps.Value
	}
}

// readFrame reads one server message. body is valid until the next read.
func readFrame(r *bufio.Reader) (byte, []byte, error) {
	hdr, err := r.Peek(5)
	if err != nil {
		return 0, nil, err
	}
	typ := hdr[0]
	n := int(int32(binary.BigEndian.Uint32(hdr[1:]))) - 4
	if n < 0 {
		return 0, nil, fmt.Errorf("invalid message length %d from the server", n+4)
	}
	r.Discard(5)
	// An error past the header is never a clean stop between messages:
	// it is reported as ErrUnexpectedEOF, whatever its cause (a deadline
	// included), and Close then does not reuse the connection.
	if n <= r.Size() {
		body, err := r.Peek(n)
		if err != nil {
			return 0, nil, io.ErrUnexpectedEOF
		}
		r.Discard(n) // body stays valid until the next read fills the buffer
		return typ, body, nil
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, io.ErrUnexpectedEOF
	}
	return typ, body, nil
}

// quoteLiteral quotes a value for SET, standard_conforming_strings on.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// quoteIdent quotes a parameter name for SET.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

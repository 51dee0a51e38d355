package proxy

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/cache"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("xconnproxy: server closed")

// A Router finds the backend serving a database name. routing.Registry is
// the implementation; the proxy only needs this much of it.
type Router interface {
	// Route returns the connection name and its (lazily opened, shared)
	// backend. Errors that are *pgcode.Error reach the client as they are
	// (FATAL 3D000 for an unknown name).
	Route(ctx context.Context, database string) (connection string, b backends.Backend, err error)
}

// Config configures a Server. The zero value of every field but Router is
// usable.
type Config struct {
	// Router resolves database names. Required.
	Router Router
	// Auth authenticates clients. Nil means Trust.
	Auth Authenticator
	// Logger receives the server's logs. Nil means slog.Default().
	Logger *slog.Logger
	// StartupTimeout bounds the startup exchange (from accept to the first
	// ReadyForQuery). Zero means DefaultStartupTimeout.
	StartupTimeout time.Duration
	// MaxMessageSize is the largest client message accepted, in bytes.
	// Zero means DefaultMaxMessageSize.
	MaxMessageSize int
	// Cache keeps results of read-only statements for the connections
	// whose CachePolicy (from a Router that implements CachePolicies) has
	// a TTL. Nil: nothing is cached.
	Cache *cache.Cache
}

// Defaults for Config.
const (
	DefaultStartupTimeout = 10 * time.Second
	DefaultMaxMessageSize = 64 << 20
)

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Router == nil {
		return errors.New("proxy: Config.Router is required")
	}
	if c.StartupTimeout < 0 {
		return errors.New("proxy: StartupTimeout must not be negative; use 0 for the default")
	}
	if c.MaxMessageSize < 0 || c.MaxMessageSize > 1<<30 {
		return errors.New("proxy: MaxMessageSize must be between 0 (default) and 1 GiB")
	}
	return nil
}

// Server accepts PostgreSQL clients and serves each in a session goroutine.
type Server struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // cancelled by Close: ends every session
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[uint64]*session   // by cancel key (pid<<32 | secret)
	conns     map[net.Conn]struct{} // every accepted connection, for Close

	// draining is atomic, not under mu: sessions read it while holding
	// their own lock, and Shutdown takes session locks while holding mu.
	draining atomic.Bool

	nextPID   atomic.Uint32
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Auth == nil {
		cfg.Auth = Trust{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StartupTimeout == 0 {
		cfg.StartupTimeout = DefaultStartupTimeout
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel,
		listeners: map[net.Listener]struct{}{}, sessions: map[uint64]*session{}, conns: map[net.Conn]struct{}{}}
	s.nextPID.Store(uint32(10000 + randUint32()%20000))
	return s, nil
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// Serve accepts connections on l until Shutdown or Close, then returns
// ErrServerClosed. Temporary accept errors back off from 5 ms to 1 s.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()

	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.closing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscallEMFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "delay", delay)
				select {
				case <-time.After(delay):
				case <-s.ctx.Done():
					return ErrServerClosed
				}
				continue
			}
			return err
		}
		delay = 0
		s.mu.Lock()
		if s.closing() {
			s.mu.Unlock()
			c.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			newSession(s, c).serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) closing() bool {
	return s.draining.Load() || s.ctx.Err() != nil
}

// register gives a session its cancel key.
func (s *Server) register(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		ss.pid = s.nextPID.Add(1)
		ss.secret = randUint32()
		key := uint64(ss.pid)<<32 | uint64(ss.secret)
		if _, taken := s.sessions[key]; !taken {
			s.sessions[key] = ss
			return
		}
	}
}

func (s *Server) unregister(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, uint64(ss.pid)<<32|uint64(ss.secret))
}

// cancel handles a CancelRequest: it cancels the statement running in the
// session with that key, and does nothing if there is none (PostgreSQL sends
// no answer either way).
func (s *Server) cancelRequest(pid, secret uint32) {
	s.mu.Lock()
	ss := s.sessions[uint64(pid)<<32|uint64(secret)]
	s.mu.Unlock()
	if ss == nil {
		s.log.Debug("cancel request for unknown session", "pid", pid)
		return
	}
	ss.cancelRunning()
}

// Shutdown stops accepting, ends idle sessions with 57P01, lets sessions
// that are running a statement or are inside a transaction finish it, and
// returns when every session has ended. When ctx expires first, the rest are
// closed hard (Close) and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.mu.Lock()
	for l := range s.listeners {
		l.Close()
	}
	for _, ss := range s.sessions {
		ss.wakeIfIdle()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	// Sessions become idle on their own time (a forwarding backend's
	// answer arrives after the session went back to reading its client),
	// so idle sessions are looked for again until all have ended.
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for {
		select {
		case <-done:
			s.Close()
			return nil
		case <-ctx.Done():
			s.Close()
			<-done
			return ctx.Err()
		case <-tick.C:
			s.mu.Lock()
			for _, ss := range s.sessions {
				ss.wakeIfIdle()
			}
			s.mu.Unlock()
		}
	}
}

// drainPoll is how often Shutdown looks for sessions that became idle.
const drainPoll = 20 * time.Millisecond

// Close closes every listener and session at once, and returns when their
// goroutines have ended (running statements are cancelled through the
// server's context, so that is prompt). It is idempotent.
func (s *Server) Close() error {
	defer s.wg.Wait()
	s.closeOnce.Do(func() {
		s.draining.Store(true)
		s.cancel()
		s.mu.Lock()
		for l := range s.listeners {
			l.Close()
		}
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return nil
}

// Sessions returns the number of client sessions being served.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

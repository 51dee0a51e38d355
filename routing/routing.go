// Package routing turns the database name a client asked for into the
// connection section that serves it, and keeps the live backends of those
// sections.
//
// A name is looked up in this order:
//
//  1. "env:VAR": the connection named by $VAR (Streamlit's env: syntax), so
//     one app can switch between local and staging by environment alone;
//  2. [xconnproxy.routes]: an alias for a connection name or for "env:VAR";
//  3. [connections.<name>] itself.
//
// Backends open lazily, on the first session that needs them, and are then
// shared by every session of that connection.
package routing

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
	"github.com/xconnproxy/xconnproxy/internal/units"
	"github.com/xconnproxy/xconnproxy/secrets"
)

// An Opener opens the backend for one connection section.
type Opener func(ctx context.Context, c *secrets.Connection) (backends.Backend, error)

// Options configure a Registry.
type Options struct {
	// Openers by dialect ("sqlite", "postgresql", "mysql", "mariadb").
	// Nil means DefaultOpeners().
	Openers map[string]Opener
	// LookupEnv reads env: names. Nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// CacheTTL and StaleIfError are the defaults ([xconnproxy] cache_ttl
	// and stale_if_error) for sections that do not set their own. Zero:
	// not cached, never stale.
	CacheTTL, StaleIfError time.Duration
	// MaxBackends is the most backends kept open (max_backends, like
	// st.connection's max_entries): past it, the least recently used one
	// that no session uses is closed. Zero: no limit.
	MaxBackends int
	// BackendTTL rebuilds a backend this long after it opened
	// (connection_ttl, like st.connection's ttl): sessions still on the
	// old one finish there. Zero: never.
	BackendTTL time.Duration
	// Now is the clock for BackendTTL and recency; nil means time.Now.
	Now func() time.Time
	// RetryTimeout is the default ([xconnproxy] retry_timeout) of the
	// retry_timeout of server-backed sections (PostgreSQL, MySQL) that do
	// not set their own. Zero: the backends' own default.
	RetryTimeout time.Duration
}

// Registry resolves names and holds the open backends. It is safe for
// concurrent use.
type Registry struct {
	opts Options

	mu      sync.Mutex
	cfg     *secrets.Config
	entries map[string]*entry // by connection name
}

// entry is the backend of one connection section, as it was configured
// when it opened.
type entry struct {
	name string
	fp   string // the section's Fingerprint

	mu      sync.Mutex // held while opening, so one session opens and the others wait
	backend backends.Backend
	handle  *tracked // what Backend returns: backend, with its sessions counted
	// sessions counts the sessions open on backend; a retired entry (its
	// section changed or went away on reload) closes its backend when the
	// last one ends, so running transactions finish where they started.
	sessions int
	retired  bool
	// opened and used (guarded by Registry.mu, not mu, which is held
	// while a backend opens) are when the backend opened and when a
	// session last asked for it.
	opened, used time.Time
}

// New returns a Registry over a loaded configuration.
func New(cfg *secrets.Config, opts Options) *Registry {
	if opts.Openers == nil {
		opts.Openers = DefaultOpeners()
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Registry{cfg: cfg, opts: opts, entries: map[string]*entry{}}
}

// Config returns the configuration the registry serves.
func (r *Registry) Config() *secrets.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

// Reload serves cfg from now on. Sections whose configuration changed (any
// key: url, credentials, pool or cache settings) or that went away get new
// backends on their next session; their old backends close when their
// last session ends. Sections that did not change keep their backends and
// sessions untouched. It returns the names of the changed sections.
func (r *Registry) Reload(cfg *secrets.Config) []string {
	r.mu.Lock()
	var retired []*entry
	var changed []string
	for name, e := range r.entries {
		if c, ok := cfg.Connections[name]; !ok || c.Fingerprint() != e.fp {
			delete(r.entries, name)
			retired = append(retired, e)
		}
	}
	for name, c := range cfg.Connections {
		if o, ok := r.cfg.Connections[name]; !ok || o.Fingerprint() != c.Fingerprint() {
			changed = append(changed, name)
		}
	}
	for name := range r.cfg.Connections {
		if _, ok := cfg.Connections[name]; !ok {
			changed = append(changed, name)
		}
	}
	r.cfg = cfg
	r.mu.Unlock()
	for _, e := range retired {
		e.retire()
	}
	slices.Sort(changed)
	return changed
}

// retire closes the entry's backend now if no session uses it, or when
// the last one ends.
func (e *entry) retire() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.retired = true
	if e.sessions == 0 && e.backend != nil {
		_ = e.backend.Close()
		e.backend = nil
	}
}

// sessionEnded is called when a session on the entry's backend closes.
func (e *entry) sessionEnded() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sessions--
	if e.retired && e.sessions == 0 && e.backend != nil {
		_ = e.backend.Close()
		e.backend = nil
	}
}

// notFound is FATAL 3D000 with a hint naming where we looked.
func notFound(cfg *secrets.Config, name, why string) *pgcode.Error {
	files := cfg.Files
	hint := fmt.Sprintf("xconnproxy looks for [connections.%s] in %s", name, strings.Join(files, ", "))
	if len(files) == 0 {
		hint = "no secrets files were searched; pass --secrets FILE"
	}
	if why != "" {
		hint = why + "; " + hint
	}
	if names := cfg.Names(); len(names) > 0 {
		hint += ". Known connections: " + strings.Join(names, ", ")
	}
	return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.InvalidCatalogName,
		Message: fmt.Sprintf("database %q does not exist", name), Hint: hint + "."}
}

// Resolve returns the connection a database name selects. Errors are
// *pgcode.Error, ready for the client.
func (r *Registry) Resolve(name string) (*secrets.Connection, error) {
	cfg := r.Config()
	target, err := r.resolveName(cfg, name)
	if err != nil {
		return nil, err
	}
	if c, ok := cfg.Connections[target]; ok {
		return c, nil
	}
	if err, ok := cfg.Invalid[target]; ok {
		return nil, &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.ConfigFileError,
			Message: fmt.Sprintf("connection %q is misconfigured: %v", target, err),
			Hint:    "Fix the section in the secrets file, then run `xconnproxy check`."}
	}
	if target != name {
		return nil, notFound(cfg, name, fmt.Sprintf("it leads to connection %q, which is not defined", target))
	}
	return nil, notFound(cfg, name, "")
}

// resolveName follows env: and routes to a connection name.
// Errors name what the client asked for, and say where the chain broke.
func (r *Registry) resolveName(cfg *secrets.Config, name string) (string, error) {
	asked := name
	seen := map[string]bool{}
	for hop := 0; ; hop++ {
		if seen[name] || hop > 8 {
			return "", notFound(cfg, asked, "its routes form a loop")
		}
		seen[name] = true
		if v, ok := strings.CutPrefix(name, "env:"); ok {
			val, set := r.opts.LookupEnv(v)
			if !set || val == "" {
				why := fmt.Sprintf("environment variable %s is not set", v)
				if name != asked {
					why = fmt.Sprintf("it leads to %s, but environment variable %s is not set", name, v)
				}
				return "", notFound(cfg, asked, why)
			}
			name = val
			continue
		}
		// An explicit route wins over a connection of the same name.
		if to, ok := cfg.Routes[name]; ok && to != name {
			name = to
			continue
		}
		return name, nil
	}
}

// Route resolves a database name and returns its backend, opening it on
// first use. It implements proxy.Router.
func (r *Registry) Route(ctx context.Context, database string) (string, backends.Backend, error) {
	c, err := r.Resolve(database)
	if err != nil {
		return "", nil, err
	}
	b, err := r.Backend(ctx, c)
	if err != nil {
		return c.Name, nil, err
	}
	return c.Name, b, nil
}

// Backend returns the shared backend of c, opening it if needed. A failed
// open is not remembered: the next session tries again. Sessions opened on
// it are counted, so that a reload can close it when the last one ends.
func (r *Registry) Backend(ctx context.Context, c *secrets.Connection) (backends.Backend, error) {
	fp := c.Fingerprint()
	now := r.opts.Now()
	r.mu.Lock()
	e, ok := r.entries[c.Name]
	if ok && e.fp == fp && r.opts.BackendTTL > 0 && e.expired(now, r.opts.BackendTTL) {
		// connection_ttl: a new backend; the old one closes after its
		// last session.
		delete(r.entries, c.Name)
		r.mu.Unlock()
		e.retire()
		r.opts.Logger.Info("backend rebuilt after connection_ttl", "connection", c.Name, "ttl", r.opts.BackendTTL)
		r.mu.Lock()
		ok = false
	}
	if !ok || e.fp != fp {
		if ok && r.cfg.Connections[c.Name] != nil && r.cfg.Connections[c.Name].Fingerprint() != fp {
			// c was resolved from a configuration a reload has replaced
			// since: serve it from a backend of its own, closed when its
			// sessions end.
			e = &entry{name: c.Name, fp: fp, retired: true}
		} else {
			e = &entry{name: c.Name, fp: fp}
			r.entries[c.Name] = e
		}
	}
	r.mu.Unlock()

	e.mu.Lock()
	opened := false
	if e.backend == nil {
		b, err := r.open(ctx, c)
		if err != nil {
			e.mu.Unlock()
			return nil, err
		}
		r.opts.Logger.Info("backend ready", "connection", c.Name, "url", c.URL())
		e.backend, e.handle = b, &tracked{Backend: b, e: e}
		opened = true
	}
	h := e.handle
	e.mu.Unlock()
	r.mu.Lock()
	if opened {
		e.opened = now
	}
	e.used = now
	r.mu.Unlock()
	if opened {
		r.trim(e) // outside e.mu: trim takes r.mu, then entries' locks
	}
	return h, nil
}

// expired reports a backend older than ttl. Called with r.mu held.
func (e *entry) expired(now time.Time, ttl time.Duration) bool {
	return !e.opened.IsZero() && now.Sub(e.opened) >= ttl
}

// trim closes the least recently used backends no session uses while
// more than MaxBackends are open; keep is the one just opened.
func (r *Registry) trim(keep *entry) {
	if r.opts.MaxBackends <= 0 {
		return
	}
	for {
		r.mu.Lock()
		open := 0
		var lru *entry
		for _, e := range r.entries {
			if e == keep {
				open++
				continue
			}
			if !e.mu.TryLock() {
				open++ // opening now: counted, not a candidate
				continue
			}
			if e.backend != nil {
				open++
				if e.sessions == 0 && (lru == nil || e.used.Before(lru.used)) {
					lru = e
				}
			}
			e.mu.Unlock()
		}
		if open <= r.opts.MaxBackends || lru == nil {
			r.mu.Unlock()
			return
		}
		delete(r.entries, lru.name)
		r.mu.Unlock()
		lru.retire()
		r.opts.Logger.Info("backend closed: max_backends reached and it was the least recently used", "connection", lru.name, "max_backends", r.opts.MaxBackends)
	}
}

// tracked is a backend whose sessions the registry counts.
type tracked struct {
	backends.Backend
	e *entry
}

// Open opens a session and counts it until it closes.
func (t *tracked) Open(ctx context.Context, p backends.SessionParams) (backends.Session, error) {
	t.e.mu.Lock()
	t.e.sessions++
	t.e.mu.Unlock()
	s, err := t.Backend.Open(ctx, p)
	if err != nil {
		t.e.sessionEnded()
		return nil, err
	}
	ts := &trackedSession{Session: s, e: t.e}
	if c, ok := s.(backends.Canceler); ok {
		return &trackedCanceler{trackedSession: ts, c: c}, nil
	}
	return ts, nil
}

// Close is the registry's business: a session's holder does not close a
// shared backend.
func (t *tracked) Close() error { return nil }

// Unwrap returns the backend itself (for tests and tools that need its
// type).
func (t *tracked) Unwrap() backends.Backend { return t.Backend }

type trackedSession struct {
	backends.Session
	e    *entry
	once sync.Once
}

func (s *trackedSession) Close() error {
	err := s.Session.Close()
	s.once.Do(s.e.sessionEnded)
	return err
}

// trackedCanceler keeps a forwarding session's Cancel visible.
type trackedCanceler struct {
	*trackedSession
	c backends.Canceler
}

func (s *trackedCanceler) Cancel(ctx context.Context) error { return s.c.Cancel(ctx) }

func (r *Registry) open(ctx context.Context, c *secrets.Connection) (backends.Backend, error) {
	open, ok := r.opts.Openers[c.Dialect]
	if !ok {
		supported := slices.Sorted(func(yield func(string) bool) {
			for k := range r.opts.Openers {
				if !yield(k) {
					return
				}
			}
		})
		return nil, &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.FeatureNotSupported,
			Message: fmt.Sprintf("connection %q uses dialect %s, which this build of xconnproxy cannot serve yet", c.Name, c.Dialect),
			Hint:    "Supported dialects: " + strings.Join(supported, ", ") + "."}
	}
	if _, set := c.Options["retry_timeout"]; !set && r.opts.RetryTimeout > 0 && c.Dialect != "sqlite" {
		cc := *c
		cc.Options = maps.Clone(c.Options)
		if cc.Options == nil {
			cc.Options = map[string]any{}
		}
		cc.Options["retry_timeout"] = r.opts.RetryTimeout.String()
		c = &cc
	}
	b, err := open(ctx, c)
	if err != nil {
		if pe, ok := err.(*pgcode.Error); ok {
			msg := fmt.Sprintf("could not open connection %q (%s): %s", c.Name, c.URL(), pe.Message)
			return nil, &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.SQLClientUnableToEstablishConn, Message: msg, Hint: pe.Hint}
		}
		return nil, &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.SQLClientUnableToEstablishConn,
			Message: fmt.Sprintf("could not open connection %q (%s): %v", c.Name, c.URL(), err)}
	}
	return b, nil
}

// CachePolicy is how one connection's results are cached.
type CachePolicy struct {
	// TTL is how long a result is served from memory; zero turns the
	// cache off for the connection.
	TTL time.Duration
	// StaleIfError is how long after it expired a result may still be
	// served, with a notice, when the backend cannot answer; zero: never.
	StaleIfError time.Duration
	// ConfigHash identifies the connection's resolved configuration: a
	// reload that changes it never serves the old backend's rows.
	ConfigHash string
	// User is the backend user (the section's, not the client's).
	User string
	// Dialect is the SQL the connection speaks.
	Dialect sqltext.Dialect
}

// CachePolicy says how a connection's results are cached: the section's
// cache_ttl and stale_if_error, else the defaults. A value that does not
// parse turns caching off for the section (Validate reports it at start).
// It implements proxy.CachePolicies.
func (r *Registry) CachePolicy(name string) CachePolicy {
	c, ok := r.Config().Connections[name]
	if !ok {
		return CachePolicy{}
	}
	pol := CachePolicy{TTL: r.opts.CacheTTL, StaleIfError: r.opts.StaleIfError,
		ConfigHash: c.Fingerprint(), User: c.Username}
	if v, ok := c.Options["cache_ttl"]; ok {
		d, err := units.Duration(v)
		if err != nil {
			return CachePolicy{}
		}
		pol.TTL = d
	}
	if v, ok := c.Options["stale_if_error"]; ok {
		if d, err := units.Duration(v); err == nil {
			pol.StaleIfError = d
		}
	}
	switch c.Dialect {
	case "sqlite":
		pol.Dialect = sqltext.SQLite
	case "postgresql":
		pol.Dialect = sqltext.Postgres
	case "mysql", "mariadb":
		pol.Dialect = sqltext.MySQL
	default:
		pol.Dialect = sqltext.AnyDialect
	}
	return pol
}

// Close closes every open backend.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first error
	for name, e := range r.entries {
		e.mu.Lock()
		if e.backend != nil {
			if err := e.backend.Close(); err != nil && first == nil {
				first = err
			}
			e.backend = nil
		}
		e.mu.Unlock()
		delete(r.entries, name)
	}
	return first
}

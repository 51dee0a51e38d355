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
}

// Registry resolves names and holds the open backends. It is safe for
// concurrent use.
type Registry struct {
	cfg  *secrets.Config
	opts Options

	mu      sync.Mutex
	entries map[string]*entry // by connection name
}

type entry struct {
	mu      sync.Mutex // held while opening, so one session opens and the others wait
	backend backends.Backend
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
	return &Registry{cfg: cfg, opts: opts, entries: map[string]*entry{}}
}

// Config returns the configuration the registry serves.
func (r *Registry) Config() *secrets.Config { return r.cfg }

// notFound is FATAL 3D000 with a hint naming where we looked.
func (r *Registry) notFound(name, why string) *pgcode.Error {
	files := r.cfg.Files
	hint := fmt.Sprintf("xconnproxy looks for [connections.%s] in %s", name, strings.Join(files, ", "))
	if len(files) == 0 {
		hint = "no secrets files were searched; pass --secrets FILE"
	}
	if why != "" {
		hint = why + "; " + hint
	}
	if names := r.cfg.Names(); len(names) > 0 {
		hint += ". Known connections: " + strings.Join(names, ", ")
	}
	return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.InvalidCatalogName,
		Message: fmt.Sprintf("database %q does not exist", name), Hint: hint + "."}
}

// Resolve returns the connection a database name selects. Errors are
// *pgcode.Error, ready for the client.
func (r *Registry) Resolve(name string) (*secrets.Connection, error) {
	target, err := r.resolveName(name)
	if err != nil {
		return nil, err
	}
	if c, ok := r.cfg.Connections[target]; ok {
		return c, nil
	}
	if err, ok := r.cfg.Invalid[target]; ok {
		return nil, &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.ConfigFileError,
			Message: fmt.Sprintf("connection %q is misconfigured: %v", target, err),
			Hint:    "Fix the section in the secrets file, then run `xconnproxy check`."}
	}
	if target != name {
		return nil, r.notFound(name, fmt.Sprintf("it leads to connection %q, which is not defined", target))
	}
	return nil, r.notFound(name, "")
}

// resolveName follows env: and routes to a connection name.
// Errors name what the client asked for, and say where the chain broke.
func (r *Registry) resolveName(name string) (string, error) {
	asked := name
	seen := map[string]bool{}
	for hop := 0; ; hop++ {
		if seen[name] || hop > 8 {
			return "", r.notFound(asked, "its routes form a loop")
		}
		seen[name] = true
		if v, ok := strings.CutPrefix(name, "env:"); ok {
			val, set := r.opts.LookupEnv(v)
			if !set || val == "" {
				why := fmt.Sprintf("environment variable %s is not set", v)
				if name != asked {
					why = fmt.Sprintf("it leads to %s, but environment variable %s is not set", name, v)
				}
				return "", r.notFound(asked, why)
			}
			name = val
			continue
		}
		// An explicit route wins over a connection of the same name.
		if to, ok := r.cfg.Routes[name]; ok && to != name {
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
// open is not remembered: the next session tries again.
func (r *Registry) Backend(ctx context.Context, c *secrets.Connection) (backends.Backend, error) {
	r.mu.Lock()
	e, ok := r.entries[c.Name]
	if !ok {
		e = &entry{}
		r.entries[c.Name] = e
	}
	r.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.backend != nil {
		return e.backend, nil
	}
	b, err := r.open(ctx, c)
	if err != nil {
		return nil, err
	}
	r.opts.Logger.Info("backend ready", "connection", c.Name, "url", c.URL())
	e.backend = b
	return b, nil
}

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
	c, ok := r.cfg.Connections[name]
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

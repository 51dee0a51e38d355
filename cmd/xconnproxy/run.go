package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when XCONNPROXY_PPROF is set
	"os"
	"syscall"
	"time"

	"github.com/xconnproxy/xconnproxy/cache"
	"github.com/xconnproxy/xconnproxy/proxy"
	"github.com/xconnproxy/xconnproxy/routing"
	"github.com/xconnproxy/xconnproxy/secrets"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the proxy could not start, or check found a failing connection
	exitUsage  = 2
)

func run(ctx context.Context, args []string, e env) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version":
		fmt.Fprintf(e.stdout, "xconnproxy %s\n", Version)
		return exitOK
	case "help":
		usage(e.stdout)
		return exitOK
	case "serve", "check":
	default:
		fmt.Fprintf(e.stderr, "xconnproxy: unknown command %q\n", cmd)
		usage(e.stderr)
		return exitUsage
	}
	fv, rest, err := parseFlags(cmd, args, e.stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if len(rest) > 0 {
		fmt.Fprintf(e.stderr, "xconnproxy %s: unexpected arguments %q\n", cmd, rest)
		return exitUsage
	}
	cfg, err := secrets.Load(secrets.LoadOptions{Files: secretsFiles(fv, e), Home: e.home, Dir: e.dir, LookupEnv: e.lookup})
	if err != nil {
		fmt.Fprintf(e.stderr, "xconnproxy: %v\n", err)
		return exitFailed
	}
	st, err := resolve(fv, e, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "xconnproxy: %v\n", err)
		return exitFailed
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: st.LogLevel}))
	reg := routing.New(cfg, routing.Options{LookupEnv: e.lookup, Logger: logger,
		CacheTTL: st.CacheTTL, StaleIfError: st.StaleIfError,
		MaxBackends: st.MaxBackends, BackendTTL: st.ConnectionTTL, RetryTimeout: st.RetryTimeout})
	defer reg.Close()
	if cmd == "check" {
		return check(ctx, reg, e.stdout)
	}
	return serve(ctx, st, cfg, reg, logger, e)
}

func serve(ctx context.Context, st settings, cfg *secrets.Config, reg *routing.Registry, log *slog.Logger, e env) int {
	if len(cfg.Loaded) == 0 {
		log.Warn("no secrets file found; every database name will be unknown", "searched", cfg.Files)
	}
	for _, name := range cfg.Names() {
		if err, bad := cfg.Invalid[name]; bad {
			log.Error("connection is misconfigured; clients asking for it get an error", "connection", name, "err", err)
		}
	}
	var rc *cache.Cache
	if st.CacheSize > 0 {
		var err error
		// Entries are kept past their TTL for stale_if_error, up to a day.
		if rc, err = cache.New(cache.Config{MaxBytes: st.CacheSize}); err != nil {
			fmt.Fprintf(e.stderr, "xconnproxy: cache_size: %v\n", err)
			return exitFailed
		}
		defer rc.Close()
		if log.Enabled(ctx, slog.LevelDebug) {
			go logCacheStats(ctx, rc, log)
		}
	}
	srv, err := proxy.New(proxy.Config{
		Router: reg, Logger: log, Cache: rc,
		StartupTimeout: st.StartupTimeout, MaxMessageSize: int(st.MaxMessageSize),
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "xconnproxy: %v\n", err)
		return exitFailed
	}
	l, err := net.Listen("tcp", st.Listen)
	if err != nil {
		fmt.Fprintf(e.stderr, "xconnproxy: cannot listen on %s: %v\n", st.Listen, listenHint(err))
		return exitFailed
	}
	log.Info("xconnproxy listening", "addr", l.Addr().String(), "version", Version,
		"connections", len(cfg.Connections), "files", cfg.Loaded)
	if e.ready != nil {
		e.ready <- l.Addr().String()
	}
	if addr, ok := e.lookup("XCONNPROXY_PPROF"); ok && addr != "" {
		// Go's profiler, for looking at the proxy under load; see
		// docs/operations.md. Off unless the variable is set.
		go func() {
			log.Info("pprof listening", "addr", addr)
			if err := http.ListenAndServe(addr, nil); err != nil {
				log.Warn("pprof stopped", "err", err)
			}
		}()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go watchSecrets(wctx, e, cfg, reg, rc, log)

	select {
	case err := <-served:
		if !errors.Is(err, proxy.ErrServerClosed) {
			fmt.Fprintf(e.stderr, "xconnproxy: %v\n", err)
			return exitFailed
		}
		return exitOK
	case sig := <-e.signals:
		log.Info("shutting down: waiting for running statements and transactions", "signal", sig.String(), "timeout", st.ShutdownTimeout)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), st.ShutdownTimeout)
	defer cancel()
	go func() {
		// A second signal stops at once.
		select {
		case <-e.signals:
			log.Warn("second signal: closing every session now")
			cancel()
		case <-sctx.Done():
		}
	}()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown cut short; remaining sessions were closed", "err", err)
	}
	<-served
	log.Info("stopped")
	return exitOK
}

// listenHint explains the common listen failures.
func listenHint(err error) string {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return "the address is already in use (is PostgreSQL running there?); " +
			"choose another with --listen 127.0.0.1:6432 or XCONNPROXY_LISTEN"
	case errors.Is(err, syscall.EACCES):
		return "permission denied; ports below 1024 need privileges, try --listen 127.0.0.1:6432"
	}
	return err.Error()
}

// checkTimeout bounds each backend's open in `xconnproxy check`.
const checkTimeout = 10 * time.Second

// logCacheStats logs the result cache's counters per connection once a
// minute, at debug level.
func logCacheStats(ctx context.Context, c *cache.Cache, log *slog.Logger) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			for conn, s := range c.Stats() {
				log.Debug("result cache", "connection", conn, "hits", s.Hits, "misses", s.Misses,
					"stale_hits", s.StaleHits, "shared", s.Shared, "stores", s.Stores, "evictions", s.Evictions,
					"invalidations", s.Invalidations, "entries", s.Entries, "bytes", s.Bytes)
			}
		}
	}
}

// DefaultPollInterval is how often the secrets files are checked for
// changes, as Streamlit watches its own.
const DefaultPollInterval = 2 * time.Second

// watchSecrets reloads the configuration on SIGHUP and when a secrets file
// changes (its size, time or content; polled). A file that does not load
// leaves the running configuration in place.
func watchSecrets(ctx context.Context, e env, cfg *secrets.Config, reg *routing.Registry, rc *cache.Cache, log *slog.Logger) {
	every := e.pollEvery
	if every <= 0 {
		every = DefaultPollInterval
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	files := cfg.Files
	last := stampFiles(files)
	pending := "" // a change seen by the last poll, not yet settled
	reload := func(why string) {
		next, err := secrets.Load(secrets.LoadOptions{Files: files, LookupEnv: e.lookup})
		if err != nil {
			log.Error("secrets reload failed; the running configuration stays", "why", why, "err", err)
			return
		}
		changed := reg.Reload(next)
		for _, name := range changed {
			if rc != nil {
				rc.InvalidateAll(name)
			}
			if err, bad := next.Invalid[name]; bad {
				log.Error("connection is misconfigured; clients asking for it get an error", "connection", name, "err", err)
			}
		}
		log.Info("configuration reloaded", "why", why, "changed", changed)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.hup:
			last, pending = stampFiles(files), ""
			reload("SIGHUP")
		case <-tick.C:
			// A change is loaded once two polls in a row see the same
			// contents: an editor that truncates the file and then
			// writes it must not be caught half-way, with the empty
			// file's lack of connections.
			s := stampFiles(files)
			switch {
			case s == last:
				pending = ""
			case s != pending:
				pending = s
			default:
				last, pending = s, ""
				reload("a secrets file changed")
			}
		}
	}
}

// stampFiles summarises the secrets files' contents; a missing file counts
// too, so that one appearing is a change.
func stampFiles(files []string) string {
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(h, "%s\x00missing\x00", f)
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return string(h.Sum(nil))
}

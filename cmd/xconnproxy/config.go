package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xconnproxy/xconnproxy/cache"
	"github.com/xconnproxy/xconnproxy/internal/units"
	"github.com/xconnproxy/xconnproxy/proxy"
	"github.com/xconnproxy/xconnproxy/secrets"
)

// settings are the proxy's own settings.
//
// Precedence, highest first: command-line flags, XCONNPROXY_* environment
// variables, the [xconnproxy] table of the secrets files (merged like the
// rest of the files), then the defaults below. The data source's own
// configuration (PG* variables, ~/.pgpass, ...) comes after all of these and
// only fills what a connection section leaves out.
type settings struct {
	Listen          string        // listen; default DefaultListen
	Secrets         []string      // secrets files; empty = Streamlit's search
	LogLevel        slog.Level    // log_level; default info
	StartupTimeout  time.Duration // startup_timeout; default 10s
	ShutdownTimeout time.Duration // shutdown_timeout; default 30s
	MaxMessageSize  int64         // max_message_size; default 64MiB
	CacheSize       int64         // cache_size; default 256MiB; 0 turns the cache off
	CacheTTL        time.Duration // cache_ttl: default for every connection; default 0 (off)
	StaleIfError    time.Duration // stale_if_error: default for every connection; default 0
	MaxBackends     int           // max_backends: most backends open; default 0 (no limit)
	ConnectionTTL   time.Duration // connection_ttl: a backend is rebuilt after this age; default 0 (never)
	RetryTimeout    time.Duration // retry_timeout: default for every server connection section; default 0 (the backends' 30s)
}

// DefaultListen is what `psql -h localhost` expects.
const DefaultListen = "127.0.0.1:5432"

func defaults() settings {
	return settings{
		Listen:          DefaultListen,
		LogLevel:        slog.LevelInfo,
		StartupTimeout:  proxy.DefaultStartupTimeout,
		ShutdownTimeout: 30 * time.Second,
		MaxMessageSize:  proxy.DefaultMaxMessageSize,
		CacheSize:       cache.DefaultMaxBytes,
	}
}

// env is the process environment, injected for tests.
type env struct {
	lookup  func(string) (string, bool)
	stdout  io.Writer
	stderr  io.Writer
	signals <-chan os.Signal
	// hup asks for a reload of the secrets files (SIGHUP).
	hup <-chan os.Signal
	// pollEvery is how often the secrets files are checked for changes;
	// zero means DefaultPollInterval.
	pollEvery time.Duration
	// ready, when set, receives the listener address once serving.
	ready chan<- string
	// home and dir override the default secrets search (tests).
	home, dir string
}

// flagValues are the flags the user actually set.
type flagValues struct {
	listen, logLevel string
	secrets          []string
	set              map[string]bool
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func parseFlags(name string, args []string, stderr io.Writer) (*flagValues, []string, error) {
	fs := flag.NewFlagSet("xconnproxy "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fv := &flagValues{set: map[string]bool{}}
	var secretsFiles multiFlag
	fs.StringVar(&fv.listen, "listen", "", "address to listen on (default "+DefaultListen+")")
	fs.Var(&secretsFiles, "secrets", "secrets file to read (repeatable; replaces the default search)")
	fs.StringVar(&fv.logLevel, "log-level", "", "debug, info, warn or error (default info)")
	fs.Usage = func() { usage(stderr); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	fs.Visit(func(f *flag.Flag) { fv.set[f.Name] = true })
	fv.secrets = secretsFiles
	return fv, fs.Args(), nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  xconnproxy [serve] [flags]   serve the connections of the secrets files
  xconnproxy check [flags]     list the connections and try to open each
  xconnproxy version           print the version

Flags:
`)
}

// secretsFiles decides which files to read: --secrets, else
// XCONNPROXY_SECRETS (a list separated by the OS's path separator), else
// Streamlit's search.
func secretsFiles(fv *flagValues, e env) []string {
	if len(fv.secrets) > 0 {
		return fv.secrets
	}
	if v, ok := e.lookup("XCONNPROXY_SECRETS"); ok && v != "" {
		return filepath.SplitList(v)
	}
	return nil
}

// resolve merges flags, environment and files into settings.
func resolve(fv *flagValues, e env, cfg *secrets.Config) (settings, error) {
	s := defaults()
	s.Secrets = secretsFiles(fv, e)
	where := "the [xconnproxy] table"
	if len(cfg.Loaded) > 0 {
		where += " of " + strings.Join(cfg.Loaded, ", ")
	}
	// Files first, then environment, then flags: later wins.
	for key, v := range cfg.Settings {
		if err := s.apply(key, v); err != nil {
			return s, fmt.Errorf("%s: %s: %w", where, key, err)
		}
	}
	for _, key := range []string{"listen", "log_level", "startup_timeout", "shutdown_timeout", "max_message_size", "cache_size", "cache_ttl", "stale_if_error", "max_backends", "connection_ttl", "retry_timeout"} {
		name := "XCONNPROXY_" + strings.ToUpper(key)
		if v, ok := e.lookup(name); ok && v != "" {
			if err := s.apply(key, v); err != nil {
				return s, fmt.Errorf("environment variable %s: %w", name, err)
			}
		}
	}
	if fv.set["listen"] {
		s.Listen = fv.listen
	}
	if fv.set["log-level"] {
		if err := s.apply("log_level", fv.logLevel); err != nil {
			return s, fmt.Errorf("--log-level: %w", err)
		}
	}
	return s, nil
}

func (s *settings) apply(key string, v any) error {
	str, isStr := v.(string)
	switch key {
	case "listen":
		if !isStr || str == "" {
			return fmt.Errorf("want an address like %q", DefaultListen)
		}
		s.Listen = str
	case "log_level":
		if !isStr {
			return fmt.Errorf("want one of debug, info, warn, error")
		}
		if err := s.LogLevel.UnmarshalText([]byte(str)); err != nil {
			return fmt.Errorf("%q is not a level: want one of debug, info, warn, error", str)
		}
	case "startup_timeout", "shutdown_timeout":
		d, err := units.Duration(v)
		if err != nil {
			return err
		}
		if key == "startup_timeout" {
			if d == 0 {
				return fmt.Errorf("must be positive")
			}
			s.StartupTimeout = d
		} else {
			s.ShutdownTimeout = d
		}
	case "max_message_size":
		n, err := units.Bytes(v)
		if err != nil {
			return err
		}
		if n < 1024 || n > 1<<30 {
			return fmt.Errorf("must be between 1KiB and 1GiB")
		}
		s.MaxMessageSize = n
	case "cache_size":
		n, err := units.Bytes(v)
		if err != nil {
			return err
		}
		if n != 0 && n < 1<<20 {
			return fmt.Errorf("must be 0 (no cache) or at least 1MiB")
		}
		s.CacheSize = n
	case "cache_ttl", "stale_if_error":
		d, err := units.Duration(v)
		if err != nil {
			return err
		}
		if key == "cache_ttl" {
			s.CacheTTL = d
		} else {
			s.StaleIfError = d
		}
	case "max_backends":
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case string:
			if _, err := fmt.Sscan(x, &n); err != nil {
				return fmt.Errorf("want a whole number, 0 for no limit")
			}
		default:
			return fmt.Errorf("want a whole number, 0 for no limit")
		}
		if n < 0 {
			return fmt.Errorf("want a whole number, 0 for no limit")
		}
		s.MaxBackends = int(n)
	case "connection_ttl":
		d, err := units.Duration(v)
		if err != nil {
			return err
		}
		s.ConnectionTTL = d
	case "retry_timeout":
		d, err := units.Duration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration such as \"30s\"")
		}
		s.RetryTimeout = d
	case "routes":
		// [xconnproxy.routes] is read by the secrets loader.
	default:
		return fmt.Errorf("unknown setting (known: listen, log_level, startup_timeout, shutdown_timeout, max_message_size, cache_size, cache_ttl, stale_if_error, max_backends, connection_ttl, retry_timeout, routes)")
	}
	return nil
}

package integration

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xconnproxy/xconnproxy/cache"
	"github.com/xconnproxy/xconnproxy/proxy"
	"github.com/xconnproxy/xconnproxy/routing"
	"github.com/xconnproxy/xconnproxy/secrets"
)

// requireBackends says whether a missing service fails the test (CI)
// instead of skipping it.
func requireBackends() bool { return os.Getenv("XCONNPROXY_REQUIRE_BACKENDS") == "1" }

// unavailable skips, or fails under XCONNPROXY_REQUIRE_BACKENDS=1.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if requireBackends() {
		t.Fatalf("required test dependency missing: %s", msg)
	}
	t.Skipf("skipping: %s (set XCONNPROXY_REQUIRE_BACKENDS=1 to make this a failure)", msg)
}

// pgURL is the direct PostgreSQL the differential tests compare against.
func pgURL() string {
	if v := os.Getenv("XCONNPROXY_TEST_PG"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// directPG connects to PostgreSQL itself, or skips/fails when it is down.
func directPG(t testing.TB) *pgconn.PgConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgconn.Connect(ctx, pgURL())
	if err != nil {
		unavailable(t, "PostgreSQL at %s: %v", pgURL(), err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// psqlPath finds the psql binary.
func psqlPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("psql")
	if err != nil {
		unavailable(t, "the psql binary is not on PATH")
	}
	return p
}

// testProxy is a proxy serving one secrets file, on 127.0.0.1:0.
type testProxy struct {
	Addr    string
	Dir     string // temp dir holding the secrets file and SQLite files
	Server  *proxy.Server
	Reg     *routing.Registry
	Secrets string // path of the secrets file
}

// proxyOptions tune startProxy.
type proxyOptions struct {
	env            map[string]string // for env: lookups
	startupTimeout time.Duration
	maxMessageSize int
	logs           io.Writer
	quiet          bool // log at info level, discarded (benchmarks)
	// cache, when set, is the result cache; cacheTTL is the default
	// cache_ttl of the connections.
	cache    *cache.Cache
	cacheTTL time.Duration
}

// startProxy writes secretsTOML to a temp dir (the string may use {{dir}}
// for that dir), loads it and serves it until the test ends.
func startProxy(t testing.TB, secretsTOML string, opts ...proxyOptions) *testProxy {
	t.Helper()
	var o proxyOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "secrets.toml")
	body := []byte(replaceDir(secretsTOML, dir))
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) {
		if v, ok := o.env[k]; ok {
			return v, true
		}
		return "", false
	}
	cfg, err := secrets.Load(secrets.LoadOptions{Files: []string{file}, LookupEnv: lookup})
	if err != nil {
		t.Fatalf("loading secrets: %v", err)
	}
	logs, level := o.logs, slog.LevelDebug
	if logs == nil {
		logs = testWriter{t}
	}
	if o.quiet {
		logs, level = io.Discard, slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
	reg := routing.New(cfg, routing.Options{LookupEnv: lookup, Logger: logger, CacheTTL: o.cacheTTL})
	srv, err := proxy.New(proxy.Config{Router: reg, Logger: logger, StartupTimeout: o.startupTimeout,
		MaxMessageSize: o.maxMessageSize, Cache: o.cache})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
		reg.Close()
	})
	return &testProxy{Addr: l.Addr().String(), Dir: dir, Server: srv, Reg: reg, Secrets: file}
}

func replaceDir(s, dir string) string {
	out := []byte{}
	for i := 0; i < len(s); i++ {
		if len(s)-i >= 7 && s[i:i+7] == "{{dir}}" {
			out = append(out, dir...)
			i += 6
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

// testWriter sends logs to t.Log, so they show only for failing tests.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// URL returns a libpq URL for database db through the proxy.
func (p *testProxy) URL(db string) string {
	host, port, _ := net.SplitHostPort(p.Addr)
	return fmt.Sprintf("postgres://tester@%s:%s/%s?sslmode=disable", host, port, db)
}

// Connect opens a pgx connection through the proxy.
func (p *testProxy) Connect(t testing.TB, db string, mode ...pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(p.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	if len(mode) > 0 {
		cfg.DefaultQueryExecMode = mode[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connecting through the proxy: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// sqliteSecrets is a secrets file with one SQLite connection named name.
func sqliteSecrets(name string) string {
	return fmt.Sprintf("[connections.%s]\nurl = \"sqlite:///{{dir}}/%s.db\"\n", name, name)
}

// allModes are pgx's query exec modes, each a different use of the protocol.
var allModes = []pgx.QueryExecMode{
	pgx.QueryExecModeCacheStatement,
	pgx.QueryExecModeCacheDescribe,
	pgx.QueryExecModeDescribeExec,
	pgx.QueryExecModeExec,
	pgx.QueryExecModeSimpleProtocol,
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

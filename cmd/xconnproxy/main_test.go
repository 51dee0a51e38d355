package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xconnproxy/xconnproxy/secrets"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func testEnv(t *testing.T) (env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	return env{lookup: os.LookupEnv, stdout: &out, stderr: &errb, home: filepath.Join(dir, "home"), dir: filepath.Join(dir, "proj")}, &out, &errb
}

// Precedence: flags > XCONNPROXY_* environment > [xconnproxy] in files > defaults.
func TestSettingsPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "s.toml", `
[xconnproxy]
listen = "127.0.0.1:7001"
log_level = "warn"
startup_timeout = "3s"
`)
	load := func(args ...string) settings {
		t.Helper()
		fv, _, err := parseFlags("serve", append([]string{"--secrets", file}, args...), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := secrets.Load(secrets.LoadOptions{Files: secretsFiles(fv, env{lookup: os.LookupEnv})})
		if err != nil {
			t.Fatal(err)
		}
		s, err := resolve(fv, env{lookup: os.LookupEnv}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	s := load()
	if s.Listen != "127.0.0.1:7001" || s.LogLevel != slog.LevelWarn || s.StartupTimeout != 3*time.Second {
		t.Fatalf("from the file: %+v", s)
	}
	if s.ShutdownTimeout != 30*time.Second {
		t.Errorf("default shutdown_timeout = %v", s.ShutdownTimeout)
	}

	t.Setenv("XCONNPROXY_LISTEN", "127.0.0.1:7002")
	t.Setenv("XCONNPROXY_LOG_LEVEL", "debug")
	s = load()
	if s.Listen != "127.0.0.1:7002" || s.LogLevel != slog.LevelDebug {
		t.Fatalf("environment over file: %+v", s)
	}

	s = load("--listen", "127.0.0.1:7003", "--log-level", "error")
	if s.Listen != "127.0.0.1:7003" || s.LogLevel != slog.LevelError {
		t.Fatalf("flags over environment: %+v", s)
	}
}

func TestSecretsFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.toml", "[connections.a]\nurl = \"sqlite://\"\n")
	b := writeFile(t, dir, "b.toml", "[connections.b]\nurl = \"sqlite://\"\n")
	t.Setenv("XCONNPROXY_SECRETS", a+string(os.PathListSeparator)+b)
	e, out, _ := testEnv(t)
	if code := run(context.Background(), []string{"check"}, e); code != exitOK {
		t.Fatalf("check exit %d:\n%s", code, out)
	}
	if !strings.Contains(out.String(), a) || !strings.Contains(out.String(), b) {
		t.Fatalf("check does not list both files:\n%s", out)
	}
}

func TestBadSettings(t *testing.T) {
	tests := []struct{ name, toml, want string }{
		{"unknown key", "[xconnproxy]\nlisten_addr = \"x\"\n", "listen_addr"},
		{"bad level", "[xconnproxy]\nlog_level = \"loud\"\n", "loud"},
		{"bad duration", "[xconnproxy]\nstartup_timeout = \"soon\"\n", "startup_timeout"},
		{"bad size", "[xconnproxy]\nmax_message_size = \"1TB\"\n", "max_message_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "s.toml", tt.toml)
			e, _, errb := testEnv(t)
			if code := run(context.Background(), []string{"--secrets", file}, e); code != exitFailed {
				t.Fatalf("exit %d, want %d", code, exitFailed)
			}
			if !strings.Contains(errb.String(), tt.want) || !strings.Contains(errb.String(), file) {
				t.Fatalf("error %q should name %q and the file", errb, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "s.toml", `
[connections.good]
url = "sqlite:///`+filepath.Join(dir, "good.db")+`"

[connections.pw]
dialect = "sqlite"
database = "`+filepath.Join(dir, "pw.db")+`"
password = "hunter2"

[connections.nodir]
url = "sqlite:///`+filepath.Join(dir, "missing", "dir", "x.db")+`"

[connections.snow]
url = "snowflake://u:s3cret@acct/db"

[connections.needsenv]
url = "sqlite://"
password = "env:XCP_TEST_UNSET_VAR"

[xconnproxy.routes]
app = "env:XCP_TEST_DB_CONN"
`)
	t.Setenv("XCP_TEST_DB_CONN", "good")
	e, out, _ := testEnv(t)
	code := run(context.Background(), []string{"check", "--secrets", file}, e)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d (sections fail)", code, exitFailed)
	}
	o := out.String()
	for _, want := range []string{
		file + " (read)",
		"good", "ok: SQLite 3.",
		"nodir", "ERROR",
		"snow", "snowflake",
		"needsenv", "XCP_TEST_UNSET_VAR",
		"app -> env:XCP_TEST_DB_CONN => connection good",
		"3 failed",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("check output lacks %q:\n%s", want, o)
		}
	}
	for _, secret := range []string{"hunter2", "s3cret"} {
		if strings.Contains(o, secret) {
			t.Errorf("check output shows a password %q:\n%s", secret, o)
		}
	}

	ok := writeFile(t, dir, "ok.toml", "[connections.good]\nurl = \"sqlite://\"\n")
	e, out, _ = testEnv(t)
	if code := run(context.Background(), []string{"check", "--secrets", ok}, e); code != exitOK {
		t.Fatalf("all good, exit %d:\n%s", code, out)
	}
}

func TestVersion(t *testing.T) {
	e, out, _ := testEnv(t)
	if code := run(context.Background(), []string{"version"}, e); code != exitOK || !strings.HasPrefix(out.String(), "xconnproxy ") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
	if code := run(context.Background(), []string{"frobnicate"}, e); code != exitUsage {
		t.Fatalf("unknown command: exit %d", code)
	}
}

func TestPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	file := writeFile(t, t.TempDir(), "s.toml", "[connections.m]\nurl = \"sqlite://\"\n")
	e, _, errb := testEnv(t)
	if code := run(context.Background(), []string{"--secrets", file, "--listen", l.Addr().String()}, e); code != exitFailed {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errb.String(), "already in use") || !strings.Contains(errb.String(), "--listen 127.0.0.1:6432") {
		t.Fatalf("error does not explain the taken port: %s", errb)
	}
}

// Serving the demo-like file, then SIGTERM: the client in a transaction
// commits before the proxy stops.
func TestServeAndSignal(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "s.toml", "[connections.pets_db]\nurl = \"sqlite:///"+filepath.Join(dir, "pets.db")+"\"\n")
	sig := make(chan os.Signal, 2)
	ready := make(chan string, 1)
	e, _, errb := testEnv(t)
	e.signals, e.ready = sig, ready
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"--secrets", file, "--listen", "127.0.0.1:0", "--log-level", "debug"}, e)
	}()
	var addr string
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("exited early with %d: %s", code, errb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, "postgres://me@"+addr+"/pets_db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	sig <- syscall.SIGTERM
	// The session is inside a transaction: it may finish it.
	if _, err := tx.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatalf("statement in an open transaction during drain: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit during drain: %v", err)
	}
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errb)
		}
	case <-ctx.Done():
		t.Fatal("proxy did not stop after the transaction ended")
	}
	if _, err := c.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("session still open after shutdown")
	}
}

// Editing the secrets file under a running proxy: the changed connection
// moves to its new database for new sessions (a session already open
// stays where it is), the unchanged one keeps its sessions, a file that
// does not parse changes nothing, and SIGHUP reloads too.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	db := func(name string) string { return "sqlite:///" + filepath.Join(dir, name) }
	body := func(moved string) string {
		return "[connections.moving]\nurl = \"" + db(moved) + "\"\n[connections.steady]\nurl = \"" + db("steady.db") + "\"\n" +
			"[connections.one]\nurl = \"" + db("one.db") + "\"\n[connections.two]\nurl = \"" + db("two.db") + "\"\n"
	}
	file := writeFile(t, dir, "s.toml", body("one.db"))
	sig, hup := make(chan os.Signal, 2), make(chan os.Signal, 1)
	ready := make(chan string, 1)
	e, _, _ := testEnv(t)
	errb := &syncBuffer{}
	e.stderr = errb
	e.signals, e.hup, e.ready, e.pollEvery = sig, hup, ready, 20*time.Millisecond
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), []string{"--secrets", file, "--listen", "127.0.0.1:0"}, e) }()
	var addr string
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("exited early with %d: %s", code, errb)
	}
	defer func() { sig <- syscall.SIGTERM; <-done }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	connect := func(name string) *pgx.Conn {
		c, err := pgx.Connect(ctx, "postgres://me@"+addr+"/"+name+"?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	which := func(c *pgx.Conn) string {
		var s string
		if err := c.QueryRow(ctx, "SELECT v FROM which").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, name := range []string{"one", "two"} {
		if _, err := connect(name).Exec(ctx, "CREATE TABLE which (v TEXT); INSERT INTO which VALUES ('"+name+"')"); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, dir, "s.toml", body("one.db"))
	waitFor(t, ctx, func() bool { return which(connect("moving")) == "one" })
	old := connect("moving")
	steady := connect("steady")
	if _, err := steady.Exec(ctx, "CREATE TABLE IF NOT EXISTS s (x INT)"); err != nil {
		t.Fatal(err)
	}
	tx, err := old.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "s.toml", body("two.db"))
	waitFor(t, ctx, func() bool { return which(connect("moving")) == "two" })
	var s string
	if err := tx.QueryRow(ctx, "SELECT v FROM which").Scan(&s); err != nil || s != "one" {
		t.Fatalf("the open session moved: %q %v", s, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := steady.Exec(ctx, "INSERT INTO s VALUES (1)"); err != nil {
		t.Fatalf("the unchanged connection's session broke: %v", err)
	}
	// A file that does not parse: nothing changes.
	writeFile(t, dir, "s.toml", "[connections.moving\nurl = broken")
	time.Sleep(100 * time.Millisecond) // several polls
	if got := which(connect("moving")); got != "two" {
		t.Fatalf("after a broken file: %s", got)
	}
	if !strings.Contains(errb.String(), "secrets reload failed") {
		t.Fatalf("the broken file was not reported: %s", errb)
	}
	// SIGHUP reloads at once (the poll would too, later).
	e2 := body("one.db")
	if err := os.WriteFile(file, []byte(e2), 0o600); err != nil {
		t.Fatal(err)
	}
	hup <- syscall.SIGHUP
	waitFor(t, ctx, func() bool { return which(connect("moving")) == "one" })
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// syncBuffer is a bytes.Buffer the proxy's loggers may write while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

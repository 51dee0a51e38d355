package routing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/secrets"
)

const testSecrets = `
[connections.local]
url = "sqlite:///local.db"

[connections.staging]
url = "sqlite:///staging.db"

[connections.broken]
dialect = "snowflake"

[xconnproxy.routes]
app = "env:DB_CONN"
alias = "local"
chain = "alias"
loop1 = "loop2"
loop2 = "loop1"
dangling = "nowhere"
`

func load(t *testing.T, env map[string]string) *Registry {
	t.Helper()
	file := filepath.Join(t.TempDir(), "secrets.toml")
	if err := os.WriteFile(file, []byte(testSecrets), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := secrets.Load(secrets.LoadOptions{Files: []string{file}, LookupEnv: lookup})
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, Options{LookupEnv: lookup})
}

func TestResolve(t *testing.T) {
	r := load(t, map[string]string{"DB_CONN": "staging", "OTHER": "local"})
	tests := []struct {
		name, database, want, code, inMessage string
	}{
		{name: "exact", database: "local", want: "local"},
		{name: "env name", database: "env:OTHER", want: "local"},
		{name: "route to env", database: "app", want: "staging"},
		{name: "route", database: "alias", want: "local"},
		{name: "route chain", database: "chain", want: "local"},
		{name: "unknown", database: "nope", code: pgcode.InvalidCatalogName, inMessage: `database "nope" does not exist`},
		{name: "unset env", database: "env:UNSET", code: pgcode.InvalidCatalogName, inMessage: "UNSET"},
		{name: "loop", database: "loop1", code: pgcode.InvalidCatalogName, inMessage: "loop"},
		{name: "dangling route", database: "dangling", code: pgcode.InvalidCatalogName, inMessage: "nowhere"},
		{name: "invalid section", database: "broken", code: pgcode.ConfigFileError, inMessage: "snowflake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := r.Resolve(tt.database)
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Name != tt.want {
					t.Fatalf("resolved to %q, want %q", c.Name, tt.want)
				}
				return
			}
			var pe *pgcode.Error
			if !errors.As(err, &pe) || pe.Code != tt.code || !pe.Fatal() {
				t.Fatalf("got %v, want FATAL %s", err, tt.code)
			}
			if !strings.Contains(pe.Message+" "+pe.Hint, tt.inMessage) {
				t.Errorf("%q / %q does not mention %q", pe.Message, pe.Hint, tt.inMessage)
			}
			if tt.code == pgcode.InvalidCatalogName && !strings.Contains(pe.Hint, "secrets.toml") {
				t.Errorf("hint %q does not name the files searched", pe.Hint)
			}
		})
	}
}

type fakeBackend struct{ backends.Backend }

func (fakeBackend) Close() error { return nil }

// Backends open once and are shared; a failed open is retried.
func TestBackendSharedAndRetried(t *testing.T) {
	r := load(t, nil)
	var mu sync.Mutex
	opens, fail := 0, true
	r.opts.Openers = map[string]Opener{"sqlite": func(context.Context, *secrets.Connection) (backends.Backend, error) {
		mu.Lock()
		defer mu.Unlock()
		opens++
		if fail {
			fail = false
			return nil, errors.New("disk on fire")
		}
		return fakeBackend{}, nil
	}}
	ctx := context.Background()
	if _, _, err := r.Route(ctx, "local"); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("first open: %v", err)
	}
	var wg sync.WaitGroup
	got := make([]backends.Backend, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, b, err := r.Route(ctx, "alias")
			if err != nil {
				t.Error(err)
			}
			got[i] = b
		}()
	}
	wg.Wait()
	if opens != 2 {
		t.Errorf("opened %d times, want 2 (one failure, one shared success)", opens)
	}
	for _, b := range got {
		if b != got[0] {
			t.Fatal("sessions of one connection got different backends")
		}
	}
}

func TestUnsupportedDialectOpen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "s.toml")
	os.WriteFile(file, []byte("[connections.pg]\nurl = \"postgresql://u:hunter2@db.example.com/app\"\n"), 0o600)
	cfg, err := secrets.Load(secrets.LoadOptions{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	r := New(cfg, Options{Openers: map[string]Opener{"sqlite": OpenSQLite}})
	_, _, err = r.Route(context.Background(), "pg")
	var pe *pgcode.Error
	if !errors.As(err, &pe) || pe.Code != pgcode.FeatureNotSupported {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(pe.Message+pe.Hint, "hunter2") {
		t.Fatal("password in the error")
	}
}

func TestSQLiteConfig(t *testing.T) {
	tests := []struct {
		name  string
		c     secrets.Connection
		check func(t *testing.T, path string, ro bool, busy float64)
		err   bool
	}{
		{name: "relative path becomes absolute", c: secrets.Connection{Database: "pets.db"},
			check: func(t *testing.T, path string, _ bool, _ float64) {
				if !filepath.IsAbs(path) || filepath.Base(path) != "pets.db" {
					t.Errorf("path %q", path)
				}
			}},
		{name: "memory", c: secrets.Connection{Database: ""}, check: func(t *testing.T, path string, _ bool, _ float64) {
			if path != "" {
				t.Errorf("path %q", path)
			}
		}},
		{name: "read only and timeout", c: secrets.Connection{Database: "/x.db", Query: map[string]string{"mode": "ro", "timeout": "2.5"}},
			check: func(t *testing.T, _ string, ro bool, busy float64) {
				if !ro || busy != 2.5 {
					t.Errorf("ro=%v busy=%v", ro, busy)
				}
			}},
		{name: "bad mode", c: secrets.Connection{Database: "/x.db", Query: map[string]string{"mode": "rx"}}, err: true},
		{name: "bad timeout", c: secrets.Connection{Database: "/x.db", Query: map[string]string{"timeout": "soon"}}, err: true},
		{name: "unknown parameter", c: secrets.Connection{Database: "/x.db", Query: map[string]string{"cache": "shared"}}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := SQLiteConfig(&tt.c)
			if (err != nil) != tt.err {
				t.Fatalf("error %v, want error %v", err, tt.err)
			}
			if tt.check != nil {
				tt.check(t, cfg.Path, cfg.ReadOnly, cfg.BusyTimeout.Seconds())
			}
		})
	}
}

// countedBackend records its sessions and whether it was closed.
type countedBackend struct {
	name   string
	closed atomic.Bool
}

type nopSession struct{ backends.Session }

func (nopSession) Close() error { return nil }

func (b *countedBackend) Open(context.Context, backends.SessionParams) (backends.Session, error) {
	return nopSession{}, nil
}
func (b *countedBackend) Ping(context.Context) error               { return nil }
func (b *countedBackend) Describe(context.Context) (string, error) { return b.name, nil }
func (b *countedBackend) Close() error                             { b.closed.Store(true); return nil }

// Reload: a changed section gets a new backend and its old one closes when
// its last session ends; an unchanged section keeps its backend.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	write := func(localURL string) *secrets.Config {
		file := filepath.Join(dir, "secrets.toml")
		body := "[connections.local]\nurl = \"" + localURL + "\"\n[connections.steady]\nurl = \"sqlite:///steady.db\"\n"
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := secrets.Load(secrets.LoadOptions{Files: []string{file}})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	var opened []*countedBackend
	r := New(write("sqlite:///one.db"), Options{Openers: map[string]Opener{"sqlite": func(_ context.Context, c *secrets.Connection) (backends.Backend, error) {
		b := &countedBackend{name: c.Name + " " + c.Database}
		opened = append(opened, b)
		return b, nil
	}}})
	ctx := context.Background()
	_, local, err := r.Route(ctx, "local")
	if err != nil {
		t.Fatal(err)
	}
	_, steady, err := r.Route(ctx, "steady")
	if err != nil {
		t.Fatal(err)
	}
	session, err := local.Open(ctx, backends.SessionParams{})
	if err != nil {
		t.Fatal(err)
	}
	if changed := r.Reload(write("sqlite:///two.db")); fmt.Sprint(changed) != "[local]" {
		t.Fatalf("changed = %v", changed)
	}
	_, local2, _ := r.Route(ctx, "local")
	_, steady2, _ := r.Route(ctx, "steady")
	if local2 == local || steady2 != steady {
		t.Fatal("the changed section kept its backend, or the unchanged one lost it")
	}
	if d, _ := local2.Describe(ctx); d != "local two.db" {
		t.Fatalf("new backend: %s", d)
	}
	if opened[0].closed.Load() {
		t.Fatal("the old backend closed under an open session")
	}
	session.Close()
	if !opened[0].closed.Load() {
		t.Fatal("the old backend stayed open after its last session")
	}
	if opened[1].closed.Load() || opened[2].closed.Load() {
		t.Fatal("a backend in use was closed")
	}
}

// max_backends closes the least recently used backend no session uses;
// connection_ttl rebuilds a backend after its age, the old one closing
// after its last session.
func TestMaxBackendsAndTTL(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secrets.toml")
	body := ""
	for _, n := range []string{"a", "b", "c"} {
		body += "[connections." + n + "]\nurl = \"sqlite:///" + n + ".db\"\n"
	}
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := secrets.Load(secrets.LoadOptions{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var opened []*countedBackend
	r := New(cfg, Options{MaxBackends: 2, BackendTTL: time.Hour, Now: func() time.Time { return now },
		Openers: map[string]Opener{"sqlite": func(_ context.Context, c *secrets.Connection) (backends.Backend, error) {
			b := &countedBackend{name: c.Name}
			opened = append(opened, b)
			return b, nil
		}}})
	ctx := context.Background()
	route := func(name string) backends.Backend {
		t.Helper()
		_, b, err := r.Route(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	route("a")
	now = now.Add(time.Second)
	bb := route("b")
	session, _ := bb.Open(ctx, backends.SessionParams{})
	now = now.Add(time.Second)
	route("a") // a is now more recent than b, but b has a session
	now = now.Add(time.Second)
	route("c") // three open: a is the least recently used without a session
	if !opened[0].closed.Load() || opened[1].closed.Load() || opened[2].closed.Load() {
		t.Fatalf("closed: a=%v b=%v c=%v", opened[0].closed.Load(), opened[1].closed.Load(), opened[2].closed.Load())
	}
	now = now.Add(2 * time.Hour)
	if route("b") == bb {
		t.Fatal("b was not rebuilt after connection_ttl")
	}
	if opened[1].closed.Load() {
		t.Fatal("the old b closed under its session")
	}
	session.Close()
	if !opened[1].closed.Load() {
		t.Fatal("the old b stayed open after its last session")
	}
}

// [xconnproxy] retry_timeout is the default of the server-backed sections
// that do not set their own; a section's own value wins.
func TestDefaultRetryTimeout(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secrets.toml")
	body := "[connections.dflt]\nurl = \"postgresql://u@db.invalid/x\"\n" +
		"[connections.own]\nurl = \"postgresql://u@db.invalid/x\"\nretry_timeout = \"5s\"\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := secrets.Load(secrets.LoadOptions{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]any{}
	r := New(cfg, Options{RetryTimeout: 90 * time.Second,
		Openers: map[string]Opener{"postgresql": func(_ context.Context, c *secrets.Connection) (backends.Backend, error) {
			seen[c.Name] = c.Options["retry_timeout"]
			return &countedBackend{name: c.Name}, nil
		}}})
	defer r.Close()
	for _, name := range []string{"dflt", "own"} {
		if _, _, err := r.Route(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	if seen["dflt"] != "1m30s" || seen["own"] != "5s" {
		t.Fatalf("retry_timeout seen by the openers: %v", seen)
	}
	if _, ok := cfg.Connections["dflt"].Options["retry_timeout"]; ok {
		t.Fatal("the default was written into the loaded configuration")
	}
}

package integration

import (
	"strings"
	"testing"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/backends/bridge"
)

// routingSecrets has two SQLite connections, routes of every kind and
// sections that cannot be served.
const routingSecrets = `
[connections.real]
url = "sqlite:///{{dir}}/real.db"

[connections.other]
url = "sqlite:///{{dir}}/other.db"

[connections.snow]
dialect = "snowflake"
database = "warehouse"

[connections.maria]
url = "mysql://user:not-shown@127.0.0.1:1/db?connect_timeout=2"

[xconnproxy.routes]
alias = "real"
via_env = "env:TARGET"
unset_env = "env:NOT_SET_ANYWHERE"
dangling = "nowhere"
other = "real"
loop_a = "loop_b"
loop_b = "loop_a"
`

var routingEnv = map[string]string{"TARGET": "real", "APP_DB": "real", "WRONG": "nowhere", "EMPTY": ""}

// TestRoutingResolvesNames: every way of naming a connection reaches the
// same SQLite file, and current_database() answers the name the client
// asked for.
func TestRoutingResolvesNames(t *testing.T) {
	p := newProxy(t, routingSecrets, proxyOptions{env: routingEnv})
	direct := p.Connect(t, "real")
	mustExec(t, direct, "CREATE TABLE marker (v TEXT)")
	mustExec(t, direct, "INSERT INTO marker VALUES ('real.db')")

	tests := []struct {
		name string
		db   string
	}{
		{"the connection itself", "real"},
		{"env:VAR", "env:APP_DB"},
		{"a route to a connection", "alias"},
		{"a route to env:VAR", "via_env"},
		{"a route that shadows a connection of the same name", "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := p.Connect(t, tt.db)
			if got := queryString(t, c, "SELECT v FROM marker"); got != "real.db" {
				t.Errorf("marker %q: %s is not served from real.db", got, tt.db)
			}
			if got := queryString(t, c, "SELECT current_database()"); got != tt.db {
				t.Errorf("current_database() = %q, want the name asked, %q", got, tt.db)
			}
		})
	}
}

// TestRoutingUnknownNames: names that lead nowhere are FATAL 3D000, with
// PostgreSQL's message and a hint saying where the proxy looked and why
// the name failed; the proxy keeps serving other clients.
func TestRoutingUnknownNames(t *testing.T) {
	p := newProxy(t, routingSecrets, proxyOptions{env: routingEnv})
	tests := []struct {
		name string
		db   string
		hint []string // substrings of the hint
	}{
		{"no such connection", "nope", []string{p.Secrets, "[connections.nope]", "real"}},
		{"env:VAR with VAR unset", "env:NOT_SET_ANYWHERE", []string{"NOT_SET_ANYWHERE", "not set"}},
		{"env:VAR with VAR empty", "env:EMPTY", []string{"EMPTY"}},
		{"env:VAR naming no connection", "env:WRONG", []string{"nowhere"}},
		{"a route whose variable is unset", "unset_env", []string{"NOT_SET_ANYWHERE", "not set"}},
		{"a route to no connection", "dangling", []string{"nowhere"}},
		{"a loop of routes", "loop_a", []string{"loop"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := connectErr(t, p.URL(tt.db))
			pe := wantCode(t, err, "3D000")
			if pe.Severity != "FATAL" {
				t.Errorf("severity %q, want FATAL", pe.Severity)
			}
			if want := `database "` + tt.db + `" does not exist`; pe.Message != want {
				t.Errorf("message %q, want %q", pe.Message, want)
			}
			for _, h := range tt.hint {
				if !strings.Contains(pe.Hint, h) {
					t.Errorf("hint %q does not mention %q", pe.Hint, h)
				}
			}
		})
	}
	c := p.Connect(t, "real")
	if got := queryString(t, c, "SELECT 'served'"); got != "served" {
		t.Errorf("got %q", got)
	}
}

// TestRoutingMisconfiguredSections: a section the proxy cannot serve is
// FATAL when a client asks for it, saying what is wrong and what is
// supported; the other sections keep working.
func TestRoutingMisconfiguredSections(t *testing.T) {
	p := newProxy(t, routingSecrets, proxyOptions{env: routingEnv})
	tests := []struct {
		name string
		db   string
		want []string // substrings of message + hint
	}{
		{"an unknown dialect", "snow", []string{"snow", "snowflake", "sqlite", "postgresql", "mysql"}},
		{"a server that cannot be reached", "maria", []string{"maria", "127.0.0.1:1", "could not connect"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			by := p.Connect(t, "real")
			mustExec(t, by, "BEGIN")
			err := connectErr(t, p.URL(tt.db))
			if err == nil {
				t.Fatal("connected to a section that cannot be served")
			}
			pe := pgErr(t, err)
			if pe.Severity != "FATAL" {
				t.Errorf("severity %q, want FATAL", pe.Severity)
			}
			if pe.Code == "3D000" {
				t.Errorf("3D000: the section exists and must not be reported as missing")
			}
			text := pe.Message + "\n" + pe.Hint
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("error does not mention %q:\n%s", w, text)
				}
			}
			if strings.Contains(text, "not-shown") || strings.Contains(text, "password") {
				t.Errorf("error shows credentials:\n%s", text)
			}
			mustExec(t, by, "COMMIT")
			if got := queryString(t, by, "SELECT 'still served'"); got != "still served" {
				t.Errorf("got %q", got)
			}
		})
	}
}

// TestRoutingSharesOneBackend: every session of one connection, whatever
// name it came in by, runs on that connection's single backend.
func TestRoutingSharesOneBackend(t *testing.T) {
	p := newProxy(t, routingSecrets, proxyOptions{env: routingEnv})
	ctx := ctxT(t)
	a := p.Connect(t, "real")
	b := p.Connect(t, "alias")
	c := p.Connect(t, "env:APP_DB")

	backendOf := func(name string) *bridge.Backend {
		t.Helper()
		conn, err := p.Reg.Resolve(name)
		if err != nil {
			t.Fatalf("resolving %s: %v", name, err)
		}
		be, err := p.Reg.Backend(ctx, conn)
		if err != nil {
			t.Fatalf("backend of %s: %v", name, err)
		}
		if u, ok := be.(interface{ Unwrap() backends.Backend }); ok {
			be = u.Unwrap()
		}
		bb, ok := be.(*bridge.Backend)
		if !ok {
			t.Fatalf("backend of %s is a %T", name, be)
		}
		return bb
	}
	real := backendOf("real")
	for _, name := range []string{"alias", "env:APP_DB", "via_env", "other"} {
		if got := backendOf(name); got != real {
			t.Errorf("%s has a backend of its own", name)
		}
	}
	// The three sessions each hold a connection of that backend's pool.
	if inUse := real.DB().Stats().InUse; inUse != 3 {
		t.Errorf("%d connections of the shared pool in use, want 3 (one per session)", inUse)
	}
	// And they see each other's committed writes at once.
	mustExec(t, a, "CREATE TABLE shared (v INTEGER)")
	mustExec(t, b, "INSERT INTO shared VALUES (1)")
	if n := countRows(t, c, "shared"); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}
}

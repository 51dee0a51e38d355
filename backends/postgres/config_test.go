package postgres

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// pgEnv are the variables pgconn reads (pgconn's parseEnvSettings).
var pgEnv = []string{
	"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGPASSFILE",
	"PGAPPNAME", "PGCONNECT_TIMEOUT", "PGSSLMODE", "PGSSLKEY", "PGSSLCERT",
	"PGSSLCERTMODE", "PGSSLSNI", "PGSSLROOTCERT", "PGSSLPASSWORD",
	"PGSSLNEGOTIATION", "PGTARGETSESSIONATTRS", "PGSERVICE", "PGSERVICEFILE",
	"PGTZ", "PGOPTIONS", "PGMINPROTOCOLVERSION", "PGMAXPROTOCOLVERSION",
	"PGCHANNELBINDING", "PGREQUIREAUTH",
}

// isolate gives the test an empty HOME (so no ~/.pgpass, ~/.pg_service.conf
// or ~/.postgresql of the machine's) and no PG* variables but env's, so that
// only what the test sets reaches pgconn. It returns the HOME directory.
func isolate(t *testing.T, env map[string]string) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range pgEnv {
		t.Setenv(k, "") // registers the restore of the machine's value
		// Unset rather than empty: pgconn keeps an empty PGSSLCERTMODE.
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	return home
}

// summary is what a test compares of a *pgconn.Config.
type summary struct {
	// Addrs are the hosts tried in order, Host:Port first then the
	// fallbacks, each "host:port", with "/tls" when that attempt uses TLS.
	Addrs                    []string
	User, Password, Database string
	ConnectTimeout           time.Duration
	Params                   map[string]string // RuntimeParams; nil when empty
	ValidateConnect          bool              // target_session_attrs other than any
}

func summarize(c *pgconn.Config) summary {
	addr := func(host string, port uint16, tls bool) string {
		s := fmt.Sprintf("%s:%d", host, port)
		if tls {
			s += "/tls"
		}
		return s
	}
	s := summary{
		Addrs:           []string{addr(c.Host, c.Port, c.TLSConfig != nil)},
		User:            c.User,
		Password:        c.Password,
		Database:        c.Database,
		ConnectTimeout:  c.ConnectTimeout,
		ValidateConnect: c.ValidateConnect != nil,
	}
	for _, f := range c.Fallbacks {
		s.Addrs = append(s.Addrs, addr(f.Host, f.Port, f.TLSConfig != nil))
	}
	if len(c.RuntimeParams) > 0 {
		s.Params = c.RuntimeParams
	}
	return s
}

func q(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestParseConfig(t *testing.T) {
	// Every PG* variable the cases below may see, all different from what
	// the sections say, so that any leak of the environment shows.
	fullEnv := map[string]string{
		"PGHOST": "envhost", "PGPORT": "7000", "PGUSER": "envuser",
		"PGPASSWORD": "envpw", "PGDATABASE": "envdb", "PGSSLMODE": "disable",
		"PGAPPNAME": "envapp", "PGCONNECT_TIMEOUT": "9", "PGOPTIONS": "-c work_mem=64MB",
		"PGTARGETSESSIONATTRS": "read-write",
	}
	full := Section{Username: "alice", Password: "pw", Host: "db.example.com", Port: 6432, Database: "app"}
	with := func(s Section, query map[string]string) Section { s.Query = query; return s }

	tests := []struct {
		name    string
		section Section
		env     map[string]string
		want    summary
	}{
		{
			name:    "parts",
			section: with(full, q("sslmode", "disable")),
			want:    summary{Addrs: []string{"db.example.com:6432"}, User: "alice", Password: "pw", Database: "app"},
		},
		{
			name: "libpq parameters in the query",
			section: with(full, q("sslmode", "disable", "connect_timeout", "7", "application_name", "billing",
				"options", "-c search_path=a,b -c statement_timeout=5s", "target_session_attrs", "read-write")),
			want: summary{
				Addrs: []string{"db.example.com:6432"}, User: "alice", Password: "pw", Database: "app",
				ConnectTimeout: 7 * time.Second, ValidateConnect: true,
				Params: q("application_name", "billing", "options", "-c search_path=a,b -c statement_timeout=5s"),
			},
		},
		{
			name:    "unknown keywords are runtime parameters, as pgconn makes them",
			section: with(full, q("sslmode", "disable", "search_path", "s1", "myapp.tenant", "7", "TimeZone", "UTC")),
			want: summary{
				Addrs: []string{"db.example.com:6432"}, User: "alice", Password: "pw", Database: "app",
				Params: q("search_path", "s1", "myapp.tenant", "7", "TimeZone", "UTC"),
			},
		},
		{
			name: "parts beat query parameters",
			section: with(full, q("sslmode", "disable", "host", "qhost", "port", "1111", "user", "quser",
				"password", "qpw", "dbname", "qdb")),
			want: summary{Addrs: []string{"db.example.com:6432"}, User: "alice", Password: "pw", Database: "app"},
		},
		{
			name:    "query parameters fill what the parts leave out",
			section: Section{Query: q("sslmode", "disable", "host", "qhost", "port", "1111", "user", "quser", "password", "qpw", "dbname", "qdb")},
			env:     fullEnv,
			want: summary{
				Addrs: []string{"qhost:1111"}, User: "quser", Password: "qpw", Database: "qdb",
				ConnectTimeout: 9 * time.Second, ValidateConnect: true,
				Params: q("application_name", "envapp", "options", "-c work_mem=64MB"),
			},
		},
		{
			name:    "database is dbname",
			section: Section{Host: "h", Query: q("sslmode", "disable", "database", "qdb", "user", "u")},
			want:    summary{Addrs: []string{"h:5432"}, User: "u", Database: "qdb"},
		},
		{
			name:    "dbname and database agreeing",
			section: Section{Host: "h", Query: q("sslmode", "disable", "database", "qdb", "dbname", "qdb", "user", "u")},
			want:    summary{Addrs: []string{"h:5432"}, User: "u", Database: "qdb"},
		},
		{
			name:    "PG environment fills every gap",
			section: Section{},
			env:     fullEnv,
			want: summary{
				Addrs: []string{"envhost:7000"}, User: "envuser", Password: "envpw", Database: "envdb",
				ConnectTimeout: 9 * time.Second, ValidateConnect: true,
				Params: q("application_name", "envapp", "options", "-c work_mem=64MB"),
			},
		},
		{
			name:    "PG environment fills some gaps",
			section: Section{Host: "db.example.com", Username: "alice"},
			env:     map[string]string{"PGPORT": "7000", "PGPASSWORD": "envpw", "PGDATABASE": "envdb", "PGSSLMODE": "disable", "PGUSER": "envuser"},
			want:    summary{Addrs: []string{"db.example.com:7000"}, User: "alice", Password: "envpw", Database: "envdb"},
		},
		{
			name: "section beats PG environment",
			section: with(full, q("sslmode", "require", "application_name", "billing", "connect_timeout", "3",
				"options", "-c work_mem=1MB", "target_session_attrs", "any")),
			env: fullEnv,
			want: summary{
				Addrs: []string{"db.example.com:6432/tls"}, User: "alice", Password: "pw", Database: "app",
				ConnectTimeout: 3 * time.Second,
				Params:         q("application_name", "billing", "options", "-c work_mem=1MB"),
			},
		},
		{
			name:    "empty query values count as not given",
			section: with(full, q("sslmode", "", "application_name", "", "password", "")),
			env:     map[string]string{"PGSSLMODE": "disable", "PGAPPNAME": "envapp"},
			want: summary{
				Addrs: []string{"db.example.com:6432"}, User: "alice", Password: "pw", Database: "app",
				Params: q("application_name", "envapp"),
			},
		},
		{
			name:    "default sslmode prefer: TLS then plain",
			section: full,
			want:    summary{Addrs: []string{"db.example.com:6432/tls", "db.example.com:6432"}, User: "alice", Password: "pw", Database: "app"},
		},
		{
			name:    "sslmode allow: plain then TLS",
			section: with(full, q("sslmode", "allow")),
			want:    summary{Addrs: []string{"db.example.com:6432", "db.example.com:6432/tls"}, User: "alice", Password: "pw", Database: "app"},
		},
		{
			name:    "sslmode verify-full",
			section: with(full, q("sslmode", "verify-full")),
			want:    summary{Addrs: []string{"db.example.com:6432/tls"}, User: "alice", Password: "pw", Database: "app"},
		},
		{
			name:    "ssl=true is sslmode=require (pgconn's URL alias)",
			section: with(full, q("ssl", "true")),
			env:     map[string]string{"PGSSLMODE": "disable"},
			want:    summary{Addrs: []string{"db.example.com:6432/tls"}, User: "alice", Password: "pw", Database: "app"},
		},
		{
			name:    "ssl=require is sslmode=require (asyncpg's spelling)",
			section: with(full, q("ssl", "require")),
			want:    summary{Addrs: []string{"db.example.com:6432/tls"}, User: "alice", Password: "pw", Database: "app"},
		},
		{
			name:    "ssl=disable is sslmode=disable (asyncpg's spelling)",
			section: with(full, q("ssl", "disable")),
			want:    summary{Addrs: []string{"db.example.com:6432"}, User: "alice", Password: "pw", Database: "app"},
		},
		{
			name:    "sslmode beats ssl",
			section: with(full, q("ssl", "require", "sslmode", "disable")),
			want:    summary{Addrs: []string{"db.example.com:6432"}, User: "alice", Password: "pw", Database: "app"},
		},
		{
			name:    "any other ssl value stays a runtime parameter, as in pgconn",
			section: with(full, q("ssl", "on", "sslmode", "disable")),
			want: summary{
				Addrs: []string{"db.example.com:6432"}, User: "alice", Password: "pw", Database: "app",
				Params: q("ssl", "on"),
			},
		},
		{
			name:    "Unix socket directory, TLS settings ignored",
			section: Section{Host: "/var/run/postgresql", Port: 5433, Username: "alice", Database: "app", Query: q("sslmode", "require")},
			want:    summary{Addrs: []string{"/var/run/postgresql:5433"}, User: "alice", Database: "app"},
		},
		{
			name:    "Unix socket directory from the query",
			section: Section{Username: "alice", Database: "app", Query: q("host", "/tmp")},
			want:    summary{Addrs: []string{"/tmp:5432"}, User: "alice", Database: "app"},
		},
		{
			name:    "IPv6 address",
			section: Section{Host: "::1", Port: 5433, Username: "alice", Query: q("sslmode", "disable")},
			want:    summary{Addrs: []string{"::1:5433"}, User: "alice"}, // the server takes the user name for the database
		},
		{
			name:    "several hosts, one port each",
			section: Section{Host: "h1,h2", Username: "alice", Database: "app", Query: q("port", "5432,5433", "sslmode", "disable")},
			want:    summary{Addrs: []string{"h1:5432", "h2:5433"}, User: "alice", Database: "app"},
		},
		{
			name:    "several hosts, the part's port for all",
			section: Section{Host: "h1,h2", Port: 6000, Username: "alice", Database: "app", Query: q("port", "1,2", "sslmode", "disable")},
			want:    summary{Addrs: []string{"h1:6000", "h2:6000"}, User: "alice", Database: "app"},
		},
		{
			name:    "several hosts with sslmode prefer",
			section: Section{Host: "h1,/tmp", Username: "alice", Database: "app"},
			want:    summary{Addrs: []string{"h1:5432/tls", "h1:5432", "/tmp:5432"}, User: "alice", Database: "app"},
		},
		{
			name: "values with quotes, backslashes, spaces and =",
			section: Section{
				Host: "h", Username: `o'brien \ smith`, Password: `p'w \' "x"`, Database: `my db='x'`,
				Query: q("sslmode", "disable", "application_name", `it's a \\ 'test' = x\`),
			},
			want: summary{
				Addrs: []string{"h:5432"}, User: `o'brien \ smith`, Password: `p'w \' "x"`, Database: `my db='x'`,
				Params: q("application_name", `it's a \\ 'test' = x\`),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t, tt.env)
			before := maps.Clone(tt.section.Query)
			cfg, err := ParseConfig(tt.section)
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if got := summarize(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if !maps.Equal(tt.section.Query, before) {
				t.Errorf("ParseConfig changed the section's query: %v, was %v", tt.section.Query, before)
			}
		})
	}
}

func TestParseConfigService(t *testing.T) {
	const services = `
# pg_service.conf, as libpq reads it
[main]
host=svchost
port=6543
dbname=svcdb
user=svcuser
password=svcpw
sslmode=disable
application_name=svcapp

[other]
host=otherhost
sslmode=disable
`
	svc := summary{
		Addrs: []string{"svchost:6543"}, User: "svcuser", Password: "svcpw", Database: "svcdb",
		Params: q("application_name", "svcapp"),
	}
	tests := []struct {
		name    string
		section Section
		env     map[string]string // "FILE" in a value is the service file's path
		home    bool              // write the file as ~/.pg_service.conf
		want    summary
	}{
		{
			name:    "service= with PGSERVICEFILE",
			section: Section{Query: q("service", "main")},
			env:     map[string]string{"PGSERVICEFILE": "FILE"},
			want:    svc,
		},
		{
			name:    "PGSERVICE",
			section: Section{},
			env:     map[string]string{"PGSERVICEFILE": "FILE", "PGSERVICE": "main"},
			want:    svc,
		},
		{
			name:    "service= beats PGSERVICE",
			section: Section{Query: q("service", "main")},
			env:     map[string]string{"PGSERVICEFILE": "FILE", "PGSERVICE": "other"},
			want:    svc,
		},
		{
			name:    "servicefile= in the query (a pgconn extension)",
			section: Section{Query: q("service", "main", "servicefile", "FILE")},
			want:    svc,
		},
		{
			name:    "~/.pg_service.conf",
			section: Section{Query: q("service", "main")},
			home:    true,
			want:    svc,
		},
		{
			name:    "service file beats PG environment",
			section: Section{Query: q("service", "main")},
			env: map[string]string{"PGSERVICEFILE": "FILE", "PGHOST": "envhost", "PGPORT": "7000", "PGUSER": "envuser",
				"PGPASSWORD": "envpw", "PGDATABASE": "envdb", "PGSSLMODE": "require", "PGAPPNAME": "envapp", "PGCONNECT_TIMEOUT": "9"},
			want: summary{
				Addrs: []string{"svchost:6543"}, User: "svcuser", Password: "svcpw", Database: "svcdb",
				ConnectTimeout: 9 * time.Second, Params: q("application_name", "svcapp"),
			},
		},
		{
			name:    "query parameters beat the service file",
			section: Section{Query: q("service", "main", "application_name", "qapp", "sslmode", "require", "password", "qpw", "user", "quser")},
			env:     map[string]string{"PGSERVICEFILE": "FILE"},
			want: summary{
				Addrs: []string{"svchost:6543/tls"}, User: "quser", Password: "qpw", Database: "svcdb",
				Params: q("application_name", "qapp"),
			},
		},
		{
			name:    "parts beat the service file",
			section: Section{Host: "parthost", Port: 1234, Username: "partuser", Password: "partpw", Database: "partdb", Query: q("service", "main")},
			env:     map[string]string{"PGSERVICEFILE": "FILE"},
			want: summary{
				Addrs: []string{"parthost:1234"}, User: "partuser", Password: "partpw", Database: "partdb",
				Params: q("application_name", "svcapp"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := isolate(t, nil)
			file := filepath.Join(t.TempDir(), "pg_service.conf")
			if tt.home {
				file = filepath.Join(home, ".pg_service.conf")
			}
			if err := os.WriteFile(file, []byte(services), 0o600); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.env {
				t.Setenv(k, strings.ReplaceAll(v, "FILE", file))
			}
			s := tt.section
			s.Query = maps.Clone(s.Query)
			for k, v := range s.Query {
				s.Query[k] = strings.ReplaceAll(v, "FILE", file)
			}
			cfg, err := ParseConfig(s)
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if got := summarize(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseConfigPassfile(t *testing.T) {
	const pgpass = `# hostname:port:database:username:password
127.0.0.1:5432:app:alice:from-pgpass
localhost:5433:app:alice:from-pgpass-socket
db.example.com:5432:app:alice:escaped\:colon\\
*:*:*:bob:bob-wildcard
`
	const other = "127.0.0.1:5432:app:alice:from-other-file\n"
	tests := []struct {
		name    string
		section Section
		env     map[string]string // "OTHER" in a value is the other passfile's path
		want    string
	}{
		{name: "~/.pgpass", section: Section{Host: "127.0.0.1", Username: "alice", Database: "app"}, want: "from-pgpass"},
		{name: "escaped colon and backslash", section: Section{Host: "db.example.com", Username: "alice", Database: "app"}, want: `escaped:colon\`},
		{name: "wildcard line", section: Section{Host: "anywhere", Port: 9999, Username: "bob", Database: "x"}, want: "bob-wildcard"},
		{name: "socket directory matches localhost", section: Section{Host: "/tmp", Port: 5433, Username: "alice", Database: "app"}, want: "from-pgpass-socket"},
		{name: "no matching line", section: Section{Host: "127.0.0.1", Username: "carol", Database: "app"}, want: ""},
		{name: "matched on the user from PGUSER", section: Section{Host: "127.0.0.1", Database: "app"}, env: map[string]string{"PGUSER": "alice"}, want: "from-pgpass"},
		{name: "PGPASSWORD beats the passfile", section: Section{Host: "127.0.0.1", Username: "alice", Database: "app"}, env: map[string]string{"PGPASSWORD": "envpw"}, want: "envpw"},
		{name: "section password beats the passfile", section: Section{Host: "127.0.0.1", Username: "alice", Password: "pw", Database: "app"}, want: "pw"},
		{name: "query password beats the passfile", section: Section{Host: "127.0.0.1", Username: "alice", Database: "app", Query: q("password", "qpw")}, want: "qpw"},
		{name: "PGPASSFILE", section: Section{Host: "127.0.0.1", Username: "alice", Database: "app"}, env: map[string]string{"PGPASSFILE": "OTHER"}, want: "from-other-file"},
		{name: "passfile= beats PGPASSFILE", section: Section{Host: "127.0.0.1", Username: "alice", Database: "app", Query: q("passfile", "OTHER")}, env: map[string]string{"PGPASSFILE": "/nonexistent"}, want: "from-other-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := isolate(t, nil)
			// libpq refuses a passfile others can read; write it as it expects.
			if err := os.WriteFile(filepath.Join(home, ".pgpass"), []byte(pgpass), 0o600); err != nil {
				t.Fatal(err)
			}
			otherFile := filepath.Join(t.TempDir(), "pgpass")
			if err := os.WriteFile(otherFile, []byte(other), 0o600); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.env {
				t.Setenv(k, strings.ReplaceAll(v, "OTHER", otherFile))
			}
			s := tt.section
			s.Query = maps.Clone(s.Query)
			for k, v := range s.Query {
				s.Query[k] = strings.ReplaceAll(v, "OTHER", otherFile)
			}
			cfg, err := ParseConfig(s)
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if cfg.Password != tt.want {
				t.Errorf("password %q, want %q", cfg.Password, tt.want)
			}
		})
	}
}

// secret is a password and sslpassword that pgconn's own redaction of a
// keyword/value string would leak (its regexp stops at the escaped quote).
const secret = `it's a "quoted" \ secret with spaces`

// leaks returns the pieces of secret that s shows.
func leaks(s string) []string {
	var found []string
	for _, piece := range []string{secret, `it's`, `"quoted"`, `secret with`, `spaces`} {
		if strings.Contains(s, piece) {
			found = append(found, piece)
		}
	}
	return found
}

func TestParseConfigErrors(t *testing.T) {
	base := func(query ...string) Section {
		qm := q(query...)
		qm["sslpassword"] = secret
		return Section{Host: "h", Username: "alice", Password: secret, Database: "app", Query: qm}
	}
	tests := []struct {
		name    string
		section Section
		ours    bool   // wraps ErrBadParameter; otherwise a *pgconn.ParseConfigError
		inError string // the message says this
	}{
		{name: "key with a space", section: base("search path", "x"), ours: true, inError: `query key "search path"`},
		{name: "key with =", section: base("a=b", "x"), ours: true, inError: `query key "a=b"`},
		{name: "key with a quote", section: base("a'", "x"), ours: true, inError: `query key "a'"`},
		{name: "bad key with an empty value", section: base("a b", ""), ours: true, inError: `query key "a b"`},
		{name: "NUL in a value", section: base("application_name", "a\x00b"), ours: true, inError: "application_name holds a NUL byte"},
		{name: "NUL in a part", section: Section{Host: "h\x00", Password: secret}, ours: true, inError: "host holds a NUL byte"},
		{name: "NUL in the password", section: Section{Host: "h", Password: secret + "\x00"}, ours: true, inError: "password holds a NUL byte"},
		{name: "NUL in the sslpassword", section: Section{Host: "h", Password: secret, Query: q("sslpassword", "\x00"+secret)}, ours: true, inError: "sslpassword holds a NUL byte"},
		{name: "port out of range", section: Section{Host: "h", Port: 70000, Password: secret}, ours: true, inError: "port 70000"},
		{name: "negative port", section: Section{Host: "h", Port: -1, Password: secret}, ours: true, inError: "port -1"},
		{name: "dbname and database disagreeing", section: base("dbname", "a", "database", "b"), ours: true, inError: "both dbname and database"},
		{name: "bad sslmode", section: base("sslmode", "sometimes"), inError: "sslmode is invalid"},
		{name: "bad target_session_attrs", section: base("target_session_attrs", "whichever"), inError: "unknown target_session_attrs value: whichever"},
		{name: "bad connect_timeout", section: base("connect_timeout", "soon"), inError: "invalid connect_timeout"},
		{name: "bad query port", section: Section{Host: "h", Password: secret, Query: q("port", "fifty")}, inError: "invalid port"},
		{name: "ports not matching hosts", section: Section{Host: "h1,h2", Password: secret, Query: q("port", "1,2,3")}, inError: "could not match 3 port numbers to 2 hosts"},
		{name: "missing service", section: base("service", "nope", "servicefile", "/nonexistent/pg_service.conf"), inError: "failed to read service"},
		{name: "sslcert without sslkey", section: base("sslmode", "require", "sslcert", "/nonexistent/client.crt"), inError: `both "sslcert" and "sslkey" are required`},
		{name: "unreadable sslrootcert", section: base("sslmode", "verify-full", "sslrootcert", "/nonexistent/root.crt"), inError: "unable to read CA file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t, nil)
			_, err := ParseConfig(tt.section)
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ErrBadParameter); got != tt.ours {
				t.Errorf("errors.Is(err, ErrBadParameter) = %v, want %v: %v", got, tt.ours, err)
			}
			var pce *pgconn.ParseConfigError
			if errors.As(err, &pce) {
				if tt.ours {
					t.Errorf("unexpected *pgconn.ParseConfigError: %v", err)
				}
				// The unredacted string pgconn keeps must not hold it either.
				if l := leaks(pce.ConnString); l != nil {
					t.Errorf("ParseConfigError.ConnString shows %q", l)
				}
			} else if !tt.ours {
				t.Errorf("want a *pgconn.ParseConfigError, got %T: %v", err, err)
			}
			if !strings.Contains(err.Error(), tt.inError) {
				t.Errorf("error %q does not say %q", err, tt.inError)
			}
			for _, shown := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if l := leaks(shown); l != nil {
					t.Errorf("error shows %q: %s", l, shown)
				}
			}
		})
	}
}

// clientCert writes a self-signed certificate and its RSA key, PKCS#1 and
// encrypted with password (the only encrypted form pgconn reads), and
// returns their paths.
func clientCert(t *testing.T, password string) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "alice"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	// Deprecated, but legacy encrypted PEM is what pgconn decrypts
	// (x509.DecryptPEMBlock).
	block, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), []byte(password), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestParseConfigSSLPassword checks that sslpassword, kept out of the
// connection string, still decrypts the client key at its precedence.
func TestParseConfigSSLPassword(t *testing.T) {
	certFile, keyFile := clientCert(t, secret)
	tests := []struct {
		name    string
		query   map[string]string
		env     map[string]string
		wantErr string
	}{
		{name: "sslpassword in the query", query: q("sslpassword", secret)},
		{name: "query beats PGSSLPASSWORD", query: q("sslpassword", secret), env: map[string]string{"PGSSLPASSWORD": "wrong"}},
		{name: "PGSSLPASSWORD", env: map[string]string{"PGSSLPASSWORD": secret}},
		{name: "wrong sslpassword", query: q("sslpassword", "wrong"), env: map[string]string{"PGSSLPASSWORD": secret}, wantErr: "unable to"},
		{name: "no sslpassword", wantErr: "unable to find sslpassword"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t, tt.env)
			query := q("sslmode", "require", "sslcert", certFile, "sslkey", keyFile)
			maps.Copy(query, tt.query)
			cfg, err := ParseConfig(Section{Host: "h", Username: "alice", Password: secret, Query: query})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				if l := leaks(err.Error()); l != nil {
					t.Errorf("error shows %q: %v", l, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if cfg.TLSConfig == nil || len(cfg.TLSConfig.Certificates) != 1 {
				t.Fatalf("want TLS with the client certificate, got %+v", cfg.TLSConfig)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `''`},
		{"plain", `'plain'`},
		{"two words", `'two words'`},
		{"it's", `'it\'s'`},
		{`back\slash`, `'back\\slash'`},
		{`trailing\`, `'trailing\\'`},
		{`a=b 'c' \'d\'`, `'a=b \'c\' \\\'d\\\''`},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.want {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzKeywordValue checks the quoting against pgconn's own parser: whatever
// key and value ParseConfig accepts comes back from pgconn.ParseConfig
// unchanged, as a runtime parameter, the user and the database.
//
// The seed corpus is in testdata/fuzz/FuzzKeywordValue: quotes, backslashes
// (a trailing one too), whitespace, "=", NUL, invalid UTF-8, and keys that
// must be refused.
func FuzzKeywordValue(f *testing.F) {
	// No PG* variable or home file changes what this compares, but an empty
	// HOME keeps the machine's ~/.pgpass from being read on every run.
	f.Setenv("HOME", f.TempDir())
	f.Fuzz(func(t *testing.T, key, value string) {
		// "x_" keeps the key off libpq's own keywords, which are not runtime
		// parameters and may not take any value.
		key = "x_" + key
		s := Section{
			Host: "127.0.0.1", Username: value, Database: value,
			Query: map[string]string{"sslmode": "disable", key: value},
		}
		cfg, err := ParseConfig(s)
		switch {
		case !isKeyword(key) || strings.IndexByte(value, 0) >= 0:
			if !errors.Is(err, ErrBadParameter) {
				t.Fatalf("key %q value %q: want ErrBadParameter, got %v", key, value, err)
			}
			return
		case err != nil:
			t.Fatalf("key %q value %q: %v", key, value, err)
		case value == "":
			return // not given: the user and database are the defaults
		}
		if got := cfg.RuntimeParams[key]; got != value {
			t.Errorf("runtime parameter %q: got %q, want %q", key, got, value)
		}
		if cfg.User != value || cfg.Database != value {
			t.Errorf("user %q database %q, want %q", cfg.User, cfg.Database, value)
		}
	})
}

// testPG is the PostgreSQL the connection test uses: XCONNPROXY_TEST_PG, a
// libpq URL, else the local default (see package integration).
func testPG() string {
	if v := os.Getenv("XCONNPROXY_TEST_PG"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// TestConnect opens a real connection with a config built from a Section.
// It skips when PostgreSQL is unreachable, unless
// XCONNPROXY_REQUIRE_BACKENDS=1, where it fails.
func TestConnect(t *testing.T) {
	// Take the server's address and credentials from the test URL, then
	// write them as a section would.
	direct, err := pgconn.ParseConfig(testPG())
	if err != nil {
		t.Fatalf("XCONNPROXY_TEST_PG: %v", err)
	}
	sslmode := "disable"
	if direct.TLSConfig != nil {
		sslmode = "prefer"
	}
	s := Section{
		Username: direct.User, Password: direct.Password, Host: direct.Host, Port: int(direct.Port), Database: direct.Database,
		Query: q("sslmode", sslmode, "application_name", "xconnproxy config test", "connect_timeout", "5", "search_path", "pg_catalog"),
	}
	cfg, err := ParseConfig(s)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL at %s:%d unreachable: %v", cfg.Host, cfg.Port, err)
		if os.Getenv("XCONNPROXY_REQUIRE_BACKENDS") == "1" {
			t.Fatalf("required test dependency missing: %s", msg)
		}
		t.Skipf("skipping: %s (set XCONNPROXY_REQUIRE_BACKENDS=1 to make this a failure)", msg)
	}
	defer conn.Close(context.Background())

	results, err := conn.Exec(ctx, "SELECT current_user, current_database(), current_setting('application_name'), current_setting('search_path')").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || len(results[0].Rows) != 1 {
		t.Fatalf("want one row, got %+v", results)
	}
	var got []string
	for _, v := range results[0].Rows[0] {
		got = append(got, string(v))
	}
	want := []string{s.Username, s.Database, "xconnproxy config test", "pg_catalog"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SELECT current_user, current_database(), application_name, search_path = %q, want %q", got, want)
	}
}

package routing

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xconnproxy/xconnproxy/backends/postgres"
	"github.com/xconnproxy/xconnproxy/secrets"
)

// pgSummary is what TestPostgresSection compares: only what every section
// below gives, so that the machine's PG* variables cannot change it.
type pgSummary struct {
	Host                     string
	Port                     uint16
	Fallbacks                int
	TLS                      bool
	User, Password, Database string
	ConnectTimeout           time.Duration
	AppName                  string
}

func summarizePG(c *pgconn.Config) pgSummary {
	return pgSummary{
		Host: c.Host, Port: c.Port, Fallbacks: len(c.Fallbacks), TLS: c.TLSConfig != nil,
		User: c.User, Password: c.Password, Database: c.Database,
		ConnectTimeout: c.ConnectTimeout, AppName: c.RuntimeParams["application_name"],
	}
}

// TestPostgresSection takes every url form of issue 3 through secrets,
// PostgresSection and postgres.ParseConfig: the dialect and driver spellings
// all read the same.
func TestPostgresSection(t *testing.T) {
	const rest = "://alice:s3cr%27t%20x@db.example.com:6432/app?sslmode=disable&application_name=demo&connect_timeout=4"
	same := pgSummary{
		Host: "db.example.com", Port: 6432, User: "alice", Password: "s3cr't x", Database: "app",
		ConnectTimeout: 4 * time.Second, AppName: "demo",
	}
	tests := []struct {
		name, url string
		want      pgSummary
	}{
		{name: "postgresql", url: "postgresql" + rest, want: same},
		{name: "postgres", url: "postgres" + rest, want: same},
		{name: "psql", url: "psql" + rest, want: same},
		{name: "psycopg2", url: "postgresql+psycopg2" + rest, want: same},
		{name: "psycopg", url: "postgresql+psycopg" + rest, want: same},
		{name: "asyncpg", url: "postgresql+asyncpg" + rest, want: same},
		{name: "pg8000", url: "postgresql+pg8000" + rest, want: same},
		{name: "unknown driver", url: "postgres+somedriver" + rest, want: same},
		{
			name: "asyncpg ssl=require",
			url:  "postgresql+asyncpg://alice:pw@db.example.com:5432/app?ssl=require&application_name=demo&connect_timeout=4",
			want: pgSummary{Host: "db.example.com", Port: 5432, TLS: true, User: "alice", Password: "pw", Database: "app", ConnectTimeout: 4 * time.Second, AppName: "demo"},
		},
		{
			name: "Unix socket directory in the query",
			url:  "postgresql+psycopg2://alice:pw@/app?host=/var/run/postgresql&port=5433&application_name=demo&connect_timeout=4",
			want: pgSummary{Host: "/var/run/postgresql", Port: 5433, User: "alice", Password: "pw", Database: "app", ConnectTimeout: 4 * time.Second, AppName: "demo"},
		},
		{
			name: "several hosts",
			url:  "postgresql://alice:pw@h1,h2/app?port=5432,5433&sslmode=disable&application_name=demo&connect_timeout=4",
			want: pgSummary{Host: "h1", Port: 5432, Fallbacks: 1, User: "alice", Password: "pw", Database: "app", ConnectTimeout: 4 * time.Second, AppName: "demo"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := secrets.ParseURL(tt.url)
			if err != nil {
				t.Fatalf("secrets.ParseURL: %v", err)
			}
			if c.Dialect != secrets.Postgres {
				t.Fatalf("dialect %q", c.Dialect)
			}
			cfg, err := postgres.ParseConfig(PostgresSection(c))
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if got := summarizePG(cfg); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestPostgresSectionParts reads a section written as URL parts, with its
// password from the environment, the way DESIGN.md's staging example is.
func TestPostgresSectionParts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secrets.toml")
	const toml = `
[connections.staging]
dialect = "postgresql"
driver = "psycopg2"
host = "staging.example.com"
port = 5433
username = "jdoe"
password = "env:STAGING_PG_PASSWORD"
database = "staging_db"
query = { sslmode = "require", application_name = "demo", connect_timeout = "2" }
cache_ttl = "5m"
`
	if err := os.WriteFile(file, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) {
		if k == "STAGING_PG_PASSWORD" {
			return `it's \ "x"`, true
		}
		return "", false
	}
	cfg, err := secrets.Load(secrets.LoadOptions{Files: []string{file}, LookupEnv: lookup})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Lookup("staging")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := postgres.ParseConfig(PostgresSection(c))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	want := pgSummary{
		Host: "staging.example.com", Port: 5433, TLS: true, User: "jdoe", Password: `it's \ "x"`,
		Database: "staging_db", ConnectTimeout: 2 * time.Second, AppName: "demo",
	}
	if got := summarizePG(pc); got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

package secrets

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// writeSecrets writes content to a secrets file in a new temporary directory
// and returns its path.
func writeSecrets(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secrets.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// lookupFrom returns a LookupEnv that reads only env.
func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// loadOne loads a single explicit file holding content.
func loadOne(t *testing.T, content string, env map[string]string) *Config {
	t.Helper()
	cfg, err := Load(LoadOptions{Files: []string{writeSecrets(t, content)}, LookupEnv: lookupFrom(env)})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

var (
	homeFile    = filepath.Join("testdata", "home", ".streamlit", "secrets.toml")
	projectFile = filepath.Join("testdata", "project", ".streamlit", "secrets.toml")
)

func TestDefaultFiles(t *testing.T) {
	got := DefaultFiles("/home/u", "/src/app")
	want := []string{"/home/u/.streamlit/secrets.toml", "/src/app/.streamlit/secrets.toml"}
	if !slices.Equal(got, want) {
		t.Errorf("DefaultFiles = %q, want %q", got, want)
	}
}

func TestLoadMergesHomeThenProject(t *testing.T) {
	cfg, err := Load(LoadOptions{
		Home:      filepath.Join("testdata", "home"),
		Dir:       filepath.Join("testdata", "project"),
		LookupEnv: lookupFrom(map[string]string{"STAGING_PG_PASSWORD": "from-env"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{homeFile, projectFile}; !slices.Equal(cfg.Files, want) || !slices.Equal(cfg.Loaded, want) {
		t.Errorf("Files = %q, Loaded = %q, want both %q", cfg.Files, cfg.Loaded, want)
	}
	if got, want := cfg.Names(), []string{"analytics", "local", "pets_db", "staging", "warehouse"}; !slices.Equal(got, want) {
		t.Errorf("Names = %q, want %q", got, want)
	}

	staging := cfg.Connections["staging"]
	if staging == nil {
		t.Fatalf("staging invalid: %v", cfg.Invalid["staging"])
	}
	// The project file overrides only the password; the rest is the home file's.
	want := parts{Dialect: "postgresql", Username: "jdoe", Password: "from-env", Host: "staging.example.com", Port: 5432, Database: "staging_db"}
	if got := partsOf(staging); !reflect.DeepEqual(got, want) {
		t.Errorf("staging = %+v, want %+v", got, want)
	}
	if !maps.Equal(staging.Options, map[string]any{"cache_ttl": "5m"}) {
		t.Errorf("staging.Options = %v", staging.Options)
	}
	if want := []string{homeFile, projectFile}; !slices.Equal(staging.Sources, want) {
		t.Errorf("staging.Sources = %q, want %q", staging.Sources, want)
	}
	if got := cfg.Connections["local"].Sources; !slices.Equal(got, []string{homeFile}) {
		t.Errorf("local.Sources = %q", got)
	}

	analytics := cfg.Connections["analytics"]
	if analytics == nil {
		t.Fatalf("analytics invalid: %v", cfg.Invalid["analytics"])
	}
	if analytics.Password != "an@lyst/pw" || analytics.Driver != "psycopg2" || analytics.Query["sslmode"] != "require" {
		t.Errorf("analytics = %#v", analytics)
	}
	if analytics.Options["pool_size"] != int64(5) {
		t.Errorf("analytics.Options = %v", analytics.Options)
	}
	if c := cfg.Connections["pets_db"]; c == nil || c.Database != "pets.db" || c.Dialect != SQLite {
		t.Errorf("pets_db = %v", c)
	}

	var se *SectionError
	if err := cfg.Invalid["warehouse"]; !errors.Is(err, ErrUnsupportedType) || !errors.As(err, &se) ||
		se.Section != "warehouse" || !slices.Equal(se.Files, []string{projectFile}) {
		t.Errorf("warehouse: %v", err)
	}

	if !maps.Equal(cfg.Routes, map[string]string{"app": "env:DB_CONN", "pets": "pets_db"}) {
		t.Errorf("Routes = %v (must stay unresolved)", cfg.Routes)
	}
	if !maps.Equal(cfg.Settings, map[string]any{"listen": "127.0.0.1:5432", "log_level": "debug"}) {
		t.Errorf("Settings = %v", cfg.Settings)
	}
	if len(cfg.Problems) != 0 {
		t.Errorf("Problems = %v", cfg.Problems)
	}
}

func TestLoadExplicitFilesReplaceSearch(t *testing.T) {
	only := writeSecrets(t, "[connections.only]\nurl = \"sqlite://\"\n")
	cfg, err := Load(LoadOptions{
		Files: []string{only},
		Home:  filepath.Join("testdata", "home"),
		Dir:   filepath.Join("testdata", "project"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Files, []string{only}) || !slices.Equal(cfg.Names(), []string{"only"}) {
		t.Errorf("Files = %q, Names = %q; want only the explicit file", cfg.Files, cfg.Names())
	}
}

func TestLoadExplicitOrderLaterWins(t *testing.T) {
	a := writeSecrets(t, "[connections.db]\nurl = \"postgresql://u:a@h1/d\"\n[connections.db.query]\nsslmode = \"disable\"\n")
	b := writeSecrets(t, "[connections.db]\nhost = \"h2\"\n[connections.db.query]\napplication_name = \"x\"\n")
	cfg, err := Load(LoadOptions{Files: []string{a, b}})
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Connections["db"]
	if c == nil || c.Host != "h2" || c.Password != "a" ||
		!maps.Equal(c.Query, map[string]string{"sslmode": "disable", "application_name": "x"}) {
		t.Errorf("db = %#v (%v)", c, cfg.Invalid["db"])
	}
}

func TestLoadMissingFiles(t *testing.T) {
	t.Run("missing default files are skipped", func(t *testing.T) {
		empty := t.TempDir()
		cfg, err := Load(LoadOptions{Home: empty, Dir: empty})
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Files) != 2 || len(cfg.Loaded) != 0 || len(cfg.Names()) != 0 {
			t.Errorf("Files = %q, Loaded = %q, Names = %q", cfg.Files, cfg.Loaded, cfg.Names())
		}
	})
	t.Run("missing explicit file is an error", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope.toml")
		_, err := Load(LoadOptions{Files: []string{writeSecrets(t, ""), missing}})
		var fe *FileError
		if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &fe) || fe.File != missing {
			t.Fatalf("Load = %v, want a FileError for %s wrapping fs.ErrNotExist", err, missing)
		}
		if strings.Count(err.Error(), missing) != 1 {
			t.Errorf("error %q should name the file once", err)
		}
	})
}

func TestLoadBadTOML(t *testing.T) {
	bad := filepath.Join("testdata", "bad.toml")
	_, err := Load(LoadOptions{Files: []string{bad}})
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("Load = %v, want a *FileError", err)
	}
	if fe.File != bad || fe.Line != 5 || fe.Column == 0 {
		t.Errorf("FileError = %+v, want %s line 5", fe, bad)
	}
	if !strings.HasPrefix(err.Error(), "secrets: "+bad+":5:") {
		t.Errorf("error %q does not start with file:line", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q quotes the password on the bad line", err)
	}
}

func TestLoadIgnoresOtherTopLevelKeys(t *testing.T) {
	cfg := loadOne(t, `
api_key = "abc"
[gcp_service_account]
private_key = "xyz"
[connections.db]
url = "sqlite://"
`, nil)
	if !slices.Equal(cfg.Names(), []string{"db"}) || len(cfg.Settings) != 0 || len(cfg.Problems) != 0 {
		t.Errorf("Names = %q, Settings = %v, Problems = %v", cfg.Names(), cfg.Settings, cfg.Problems)
	}
}

func TestLoadSections(t *testing.T) {
	tests := []struct {
		name    string
		section string // body of [connections.db]
		want    parts
		options map[string]any
	}{
		{"url only", `url = "postgresql://u:p@h:5433/d"`,
			parts{Dialect: "postgresql", Username: "u", Password: "p", Host: "h", Port: 5433, Database: "d"}, nil},
		{"parts only", `
type = "sql"
dialect = "mysql"
driver = "pymysql"
username = "me"
password = "pw"
host = "localhost"
port = 3306
database = "local_db"
query = { charset = "utf8mb4" }`,
			parts{Dialect: "mysql", Driver: "pymysql", Username: "me", Password: "pw", Host: "localhost", Port: 3306,
				Database: "local_db", Query: map[string]string{"charset": "utf8mb4"}}, nil},
		{"port as string", `
dialect = "postgres"
host = "h"
port = "6543"`, parts{Dialect: "postgresql", Host: "h", Port: 6543}, nil},
		{"numeric password and query values", `
dialect = "postgresql"
password = 12345
query = { connect_timeout = 10, keepalives = true }`,
			parts{Dialect: "postgresql", Password: "12345", Query: map[string]string{"connect_timeout": "10", "keepalives": "true"}}, nil},
		{"dialect key carries driver", `
dialect = "postgresql+asyncpg"
host = "h"`, parts{Dialect: "postgresql", Driver: "asyncpg", Host: "h"}, nil},
		{"parts override url", `
url = "postgresql+psycopg2://u:urlpw@urlhost:5432/urldb?sslmode=disable&application_name=a"
password = "partpw"
host = "parthost"
port = 6432
database = "partdb"
username = "partuser"
query = { sslmode = "require" }`,
			parts{Dialect: "postgresql", Driver: "psycopg2", Username: "partuser", Password: "partpw", Host: "parthost", Port: 6432,
				Database: "partdb", Query: map[string]string{"sslmode": "require", "application_name": "a"}}, nil},
		{"driver key overrides url driver", `
url = "mysql+mysqldb://h/d"
driver = "pymysql"`, parts{Dialect: "mysql", Driver: "pymysql", Host: "h", Database: "d"}, nil},
		{"other dialect drops the url driver", `
url = "mysql+pymysql://h/d"
dialect = "mariadb"`, parts{Dialect: "mariadb", Host: "h", Database: "d"}, nil},
		{"sqlite parts", `
dialect = "sqlite"
database = "data/pets.db"`, parts{Dialect: "sqlite", Database: "data/pets.db"}, nil},
		{"options kept raw", `
url = "sqlite:///pets.db"
cache_ttl = "5m"
pool_size = 5
pool_mode = "transaction"
create_engine_kwargs = { connect_args = { timeout = 30 } }`,
			parts{Dialect: "sqlite", Database: "pets.db"},
			map[string]any{"cache_ttl": "5m", "pool_size": int64(5), "pool_mode": "transaction",
				"create_engine_kwargs": map[string]any{"connect_args": map[string]any{"timeout": int64(30)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadOne(t, "[connections.db]\n"+tt.section+"\n", nil)
			c := cfg.Connections["db"]
			if c == nil {
				t.Fatalf("invalid: %v", cfg.Invalid["db"])
			}
			if got := partsOf(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if tt.options == nil {
				tt.options = map[string]any{}
			}
			if !reflect.DeepEqual(c.Options, tt.options) {
				t.Errorf("Options = %v, want %v", c.Options, tt.options)
			}
			if c.Name != "db" || len(c.Sources) != 1 {
				t.Errorf("Name = %q, Sources = %q", c.Name, c.Sources)
			}
		})
	}
}

func TestLoadInvalidSections(t *testing.T) {
	tests := []struct {
		name     string
		section  string
		want     []error
		key      string
		mentions []string // the error must say these
	}{
		{"snowflake type", `type = "snowflake"`, []error{ErrUnsupportedType}, "type", []string{`"snowflake"`, `type = "sql"`}},
		{"type not a string", `type = 1`, []error{ErrUnsupportedType}, "type", nil},
		{"snowflake dialect", `url = "snowflake://u:s3cret@acct/db"`, []error{ErrUnsupportedDialect}, "url",
			[]string{"postgresql", "mysql", "mariadb", "sqlite"}},
		{"mssql dialect key", "dialect = \"mssql\"\nhost = \"h\"", []error{ErrUnsupportedDialect}, "dialect", []string{`"mssql"`}},
		{"neither url nor dialect", `host = "h"`, []error{ErrNoURL}, "", []string{"url =", "dialect ="}},
		{"empty section", ``, []error{ErrNoURL}, "", nil},
		{"bad url", `url = "postgresql://u:s3cret@host:notaport/db"`, []error{ErrBadURL, ErrBadPort}, "url", nil},
		{"url not a string", `url = 5`, []error{ErrBadValue}, "url", nil},
		{"port out of range", "dialect = \"postgresql\"\nport = 70000", []error{ErrBadPort}, "port", nil},
		{"port not numeric", "dialect = \"postgresql\"\nport = \"pg\"", []error{ErrBadPort}, "port", nil},
		{"port float", "dialect = \"postgresql\"\nport = 5432.0", []error{ErrBadPort}, "port", nil},
		{"password a table", "dialect = \"postgresql\"\npassword = { a = \"s3cret\" }", []error{ErrBadValue}, "password", nil},
		{"query not a table", "dialect = \"postgresql\"\nquery = \"sslmode=require\"", []error{ErrBadValue}, "query", nil},
		{"query value array", "dialect = \"postgresql\"\nquery = { host = [\"a\", \"b\"] }", []error{ErrBadValue}, "query.host", nil},
		{"dialect empty", `dialect = ""`, []error{ErrBadValue}, "dialect", nil},
		{"sqlite two slashes", `url = "sqlite://pets.db"`, []error{ErrBadURL}, "url", []string{"sqlite:///"}},
		{"sqlite host key", "dialect = \"sqlite\"\nhost = \"h\"", []error{ErrBadValue}, "host", nil},
		{"missing env", `url = "env:NOT_SET_ANYWHERE"`, []error{ErrMissingEnv}, "url", []string{"NOT_SET_ANYWHERE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadOne(t, "[connections.good]\nurl = \"sqlite://\"\n\n[connections.db]\n"+tt.section+"\n", nil)
			if cfg.Connections["good"] == nil {
				t.Errorf("the invalid section kept the valid one out: %v", cfg.Invalid["good"])
			}
			err := cfg.Invalid["db"]
			if err == nil {
				t.Fatalf("section is valid: %#v", cfg.Connections["db"])
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("error %q is not %v", err, w)
				}
			}
			var se *SectionError
			if !errors.As(err, &se) || se.Section != "db" || se.Key != tt.key || len(se.Files) != 1 {
				t.Fatalf("error %#v: want a SectionError for db, key %q, one file", err, tt.key)
			}
			msg := err.Error()
			for _, m := range append(tt.mentions, "[connections.db]", se.Files[0]) {
				if !strings.Contains(msg, m) {
					t.Errorf("error %q does not mention %q", msg, m)
				}
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("error %q shows the password", msg)
			}
			if !slices.Equal(cfg.Names(), []string{"db", "good"}) {
				t.Errorf("Names = %q", cfg.Names())
			}
		})
	}
}

func TestLoadNotTables(t *testing.T) {
	cfg := loadOne(t, `
[connections]
stray = "postgresql://h/d"
[connections.ok]
url = "sqlite://"
[xconnproxy.routes]
app = 3
fine = "ok"
`, nil)
	if err := cfg.Invalid["stray"]; !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "[connections.stray]") {
		t.Errorf("stray: %v", err)
	}
	if cfg.Connections["ok"] == nil || !maps.Equal(cfg.Routes, map[string]string{"fine": "ok"}) {
		t.Errorf("Connections = %v, Routes = %v", cfg.Connections, cfg.Routes)
	}
	if len(cfg.Problems) != 1 || !strings.Contains(cfg.Problems[0].Error(), "xconnproxy.routes.app") {
		t.Errorf("Problems = %v", cfg.Problems)
	}

	cfg = loadOne(t, "connections = \"x\"\nxconnproxy = 1\n", nil)
	if len(cfg.Problems) != 2 || len(cfg.Names()) != 0 {
		t.Errorf("Problems = %v, Names = %q", cfg.Problems, cfg.Names())
	}
}

func TestLoadSectionNamesNeedingQuotes(t *testing.T) {
	cfg := loadOne(t, "[connections.\"my db\"]\ntype = \"x\"\n", nil)
	if err := cfg.Invalid["my db"]; err == nil || !strings.Contains(err.Error(), `[connections."my db"]`) {
		t.Errorf("error = %v", err)
	}
}

func TestLookup(t *testing.T) {
	cfg := loadOne(t, "[connections.ok]\nurl = \"sqlite://\"\n[connections.bad]\ntype = \"x\"\n", nil)
	if c, err := cfg.Lookup("ok"); err != nil || c.Name != "ok" {
		t.Errorf("Lookup(ok) = %v, %v", c, err)
	}
	if _, err := cfg.Lookup("bad"); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("Lookup(bad) = %v", err)
	}
	_, err := cfg.Lookup("missing")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), cfg.Files[0]) {
		t.Errorf("Lookup(missing) = %v, want ErrNotFound naming %s", err, cfg.Files[0])
	}
}

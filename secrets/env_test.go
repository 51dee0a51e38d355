package secrets

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestResolveEnv(t *testing.T) {
	lookup := lookupFrom(map[string]string{"PW": "s3cret", "EMPTY": "", "NESTED": "env:PW"})
	tests := []struct {
		name    string
		value   string
		want    string
		wantErr bool
	}{
		{"plain value unchanged", "plain", "plain", false},
		{"env prefix elsewhere unchanged", "x env:PW", "x env:PW", false},
		{"case matters", "ENV:PW", "ENV:PW", false},
		{"set", "env:PW", "s3cret", false},
		{"set but empty", "env:EMPTY", "", false},
		{"one level only", "env:NESTED", "env:PW", false},
		{"missing", "env:NOPE", "", true},
		{"no name", "env:", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveEnv(tt.value, lookup)
			if tt.wantErr {
				if !errors.Is(err, ErrMissingEnv) {
					t.Fatalf("ResolveEnv(%q) = %q, %v; want ErrMissingEnv", tt.value, got, err)
				}
				if name := strings.TrimPrefix(tt.value, "env:"); name != "" && !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name %s", err, name)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ResolveEnv(%q) = %q, %v; want %q", tt.value, got, err, tt.want)
			}
		})
	}
}

func TestResolveEnvDefaultsToProcessEnv(t *testing.T) {
	t.Setenv("XCONNPROXY_SECRETS_TEST_PW", "from-process")
	if got, err := ResolveEnv("env:XCONNPROXY_SECRETS_TEST_PW", nil); err != nil || got != "from-process" {
		t.Errorf("ResolveEnv = %q, %v", got, err)
	}
}

func TestLoadResolvesEnvEverywhere(t *testing.T) {
	t.Setenv("XC_TEST_URL", "postgresql+psycopg2://u:urlpw@urlhost/urldb")
	t.Setenv("XC_TEST_PW", "p@ss")
	t.Setenv("XC_TEST_HOST", "db.internal")
	t.Setenv("XC_TEST_SSL", "require")
	t.Setenv("XC_TEST_KEY", "client-key")
	t.Setenv("XC_TEST_TTL", "30s")
	path := writeSecrets(t, `
[connections.db]
url = "env:XC_TEST_URL"
password = "env:XC_TEST_PW"
host = "env:XC_TEST_HOST"
query = { sslmode = "env:XC_TEST_SSL" }
cache_ttl = "env:XC_TEST_TTL"
hosts = ["env:XC_TEST_HOST", "literal"]
create_engine_kwargs = { connect_args = { sslkey = "env:XC_TEST_KEY" } }

[xconnproxy]
listen = "env:XC_TEST_HOST"

[xconnproxy.routes]
app = "env:XC_TEST_ROUTE_NOT_SET"
`)
	cfg, err := Load(LoadOptions{Files: []string{path}}) // LookupEnv nil: the process environment
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Connections["db"]
	if c == nil {
		t.Fatalf("invalid: %v", cfg.Invalid["db"])
	}
	want := parts{Dialect: "postgresql", Driver: "psycopg2", Username: "u", Password: "p@ss", Host: "db.internal",
		Database: "urldb", Query: map[string]string{"sslmode": "require"}}
	if got := partsOf(c); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if c.Options["cache_ttl"] != "30s" {
		t.Errorf("cache_ttl = %v", c.Options["cache_ttl"])
	}
	if h := c.Options["hosts"].([]any); h[0] != "db.internal" || h[1] != "literal" {
		t.Errorf("hosts = %v", h)
	}
	if k := c.Options["create_engine_kwargs"].(map[string]any)["connect_args"].(map[string]any)["sslkey"]; k != "client-key" {
		t.Errorf("sslkey = %v", k)
	}
	if cfg.Routes["app"] != "env:XC_TEST_ROUTE_NOT_SET" || cfg.Settings["listen"] != "env:XC_TEST_HOST" {
		t.Errorf("Routes = %v, Settings = %v; both must stay unresolved", cfg.Routes, cfg.Settings)
	}
}

func TestLoadMissingEnvNamesVariableAndKey(t *testing.T) {
	tests := []struct {
		name    string
		section string
		key     string
	}{
		{"password", `password = "env:XC_NOPE"`, "password"},
		{"query value", `query = { sslpassword = "env:XC_NOPE" }`, "query.sslpassword"},
		{"nested option", `create_engine_kwargs = { connect_args = { password = "env:XC_NOPE" } }`,
			"create_engine_kwargs.connect_args.password"},
		{"array option", `hosts = ["a", "env:XC_NOPE"]`, "hosts[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadOne(t, "[connections.db]\ndialect = \"postgresql\"\n"+tt.section+"\n",
				map[string]string{"OTHER": "s3cret"})
			var se *SectionError
			err := cfg.Invalid["db"]
			if !errors.Is(err, ErrMissingEnv) || !errors.As(err, &se) || se.Key != tt.key {
				t.Fatalf("error = %v, want ErrMissingEnv at key %s", err, tt.key)
			}
			if !strings.Contains(err.Error(), "XC_NOPE") || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q must name the variable and the key", err)
			}
		})
	}
}

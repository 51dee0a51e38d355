package secrets

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRedaction(t *testing.T) {
	const pw = "Sup3rS3cret!"
	cfg := loadOne(t, `
[connections.url]
url = "postgresql://jdoe:Sup3rS3cret%21@db.example.com/sales?sslpassword=Sup3rS3cret%21"

[connections.parts]
dialect = "mysql"
username = "me"
password = "env:PW"
host = "localhost"

[connections.badport]
url = "postgresql://u:Sup3rS3cret!@host:notaport/db"

[connections.nohost]
url = "postgresql://u:Sup3rS3cret!/db"

[connections.atsign]
url = "postgresql://u:Sup3r@S3cret!@host/db"

[connections.dialect]
url = "oracle://u:Sup3rS3cret!@host/db"
`, map[string]string{"PW": pw})

	for _, name := range []string{"url", "parts"} {
		c := cfg.Connections[name]
		if c == nil {
			t.Fatalf("%s invalid: %v", name, cfg.Invalid[name])
		}
		if c.Password != pw {
			t.Fatalf("%s.Password = %q", name, c.Password)
		}
		shown := map[string]string{
			"URL":       c.URL(),
			"String":    c.String(),
			"%v":        fmt.Sprintf("%v", c),
			"%+v":       fmt.Sprintf("%+v", c),
			"%#v":       fmt.Sprintf("%#v", c),
			"%s":        fmt.Sprintf("%s", c),
			"value %v":  fmt.Sprintf("%v", *c),
			"value %+v": fmt.Sprintf("%+v", *c),
			"value %#v": fmt.Sprintf("%#v", *c),
			"in struct": fmt.Sprintf("%+v", struct{ C Connection }{*c}),
			"in slice":  fmt.Sprintf("%v", []*Connection{c}),
		}
		for how, s := range shown {
			if strings.Contains(s, "S3cret") {
				t.Errorf("%s: %s shows the password: %s", name, how, s)
			}
			if !strings.Contains(s, "***") {
				t.Errorf("%s: %s does not mark the password: %s", name, how, s)
			}
		}
	}
	for _, name := range []string{"badport", "nohost", "atsign", "dialect"} {
		err := cfg.Invalid[name]
		if err == nil {
			t.Errorf("%s should be invalid", name)
			continue
		}
		if strings.Contains(err.Error(), "S3cret") || strings.Contains(err.Error(), "Sup3r") {
			t.Errorf("%s: error shows the password: %v", name, err)
		}
	}
}

func TestFingerprint(t *testing.T) {
	base := func() *Connection {
		return &Connection{
			Name: "db", Type: "sql", Dialect: "postgresql", Driver: "psycopg2", Username: "u", Password: "p",
			Host: "h", Port: 5432, Database: "d", Query: map[string]string{"sslmode": "require"},
			Options: map[string]any{"cache_ttl": "5m", "pool_size": int64(5),
				"create_engine_kwargs": map[string]any{"connect_args": map[string]any{"timeout": int64(3)}}},
			Sources: []string{"a.toml"},
		}
	}
	fp := base().Fingerprint()
	if len(fp) != 32 || strings.Trim(fp, "0123456789abcdef") != "" {
		t.Fatalf("Fingerprint = %q, want 32 hex digits", fp)
	}
	if base().Fingerprint() != fp {
		t.Fatal("Fingerprint differs between equal connections")
	}

	same := []struct {
		name   string
		change func(*Connection)
	}{
		{"name", func(c *Connection) { c.Name = "other" }},
		{"type", func(c *Connection) { c.Type = "" }},
		{"sources", func(c *Connection) { c.Sources = []string{"b.toml", "c.toml"} }},
		{"maps rebuilt in another order", func(c *Connection) {
			c.Options = map[string]any{"pool_size": int64(5), "cache_ttl": "5m",
				"create_engine_kwargs": map[string]any{"connect_args": map[string]any{"timeout": int64(3)}}}
		}},
	}
	for _, tt := range same {
		t.Run("same/"+tt.name, func(t *testing.T) {
			c := base()
			tt.change(c)
			if c.Fingerprint() != fp {
				t.Errorf("changing %s changed the fingerprint", tt.name)
			}
		})
	}

	differ := []struct {
		name   string
		change func(*Connection)
	}{
		{"dialect", func(c *Connection) { c.Dialect = "mysql" }},
		{"driver", func(c *Connection) { c.Driver = "" }},
		{"username", func(c *Connection) { c.Username = "v" }},
		{"password", func(c *Connection) { c.Password = "q" }},
		{"host", func(c *Connection) { c.Host = "h2" }},
		{"port", func(c *Connection) { c.Port = 5433 }},
		{"database", func(c *Connection) { c.Database = "d2" }},
		{"query value", func(c *Connection) { c.Query["sslmode"] = "disable" }},
		{"query key added", func(c *Connection) { c.Query["application_name"] = "x" }},
		{"option value", func(c *Connection) { c.Options["cache_ttl"] = "1m" }},
		{"option type", func(c *Connection) { c.Options["pool_size"] = "5" }},
		{"option float", func(c *Connection) { c.Options["pool_size"] = 5.0 }},
		{"option time", func(c *Connection) { c.Options["since"] = time.Unix(0, 0).UTC() }},
		{"nested option", func(c *Connection) {
			c.Options["create_engine_kwargs"].(map[string]any)["connect_args"].(map[string]any)["timeout"] = int64(4)
		}},
		{"option removed", func(c *Connection) { delete(c.Options, "cache_ttl") }},
		// Field boundaries: moving text from one field to the next must count.
		{"user/password boundary", func(c *Connection) { c.Username, c.Password = "up", "" }},
		{"host/database boundary", func(c *Connection) { c.Host, c.Database = "hd", "" }},
	}
	seen := map[string]string{fp: "base"}
	for _, tt := range differ {
		t.Run("differs/"+tt.name, func(t *testing.T) {
			c := base()
			tt.change(c)
			got := c.Fingerprint()
			if prev, dup := seen[got]; dup {
				t.Errorf("changing %s gives the fingerprint of %s", tt.name, prev)
			}
			seen[got] = tt.name
		})
	}
}

func TestFingerprintAcrossReload(t *testing.T) {
	content := "[connections.db]\nurl = \"postgresql://u:p@h/d\"\ncache_ttl = \"5m\"\n"
	a := loadOne(t, content, nil).Connections["db"]
	b := loadOne(t, content, nil).Connections["db"]
	c := loadOne(t, strings.Replace(content, "u:p@", "u:q@", 1), nil).Connections["db"]
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("the same section loaded twice has two fingerprints")
	}
	if a.Fingerprint() == c.Fingerprint() {
		t.Error("a changed password kept the fingerprint")
	}
}

func TestIsSecretKey(t *testing.T) {
	for k, want := range map[string]bool{
		"sslpassword": true, "PASSWORD": true, "client_secret": true, "token": true, "passwd": true,
		"sslmode": false, "sslkey": false, "host": false,
	} {
		if got := IsSecretKey(k); got != want {
			t.Errorf("IsSecretKey(%q) = %v", k, got)
		}
	}
}

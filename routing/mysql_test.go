package routing

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xconnproxy/xconnproxy/backends/mysql"
	"github.com/xconnproxy/xconnproxy/secrets"
)

// TestMySQLConfig takes every url form of issue 4 through secrets and
// MySQLConfig: the dialect and driver spellings all read the same.
func TestMySQLConfig(t *testing.T) {
	const rest = "://me:p%40ss%3Aw0rd@db.example.com:3307/local_db?charset=utf8mb4&connect_timeout=4"
	same := mysql.Config{Name: "c", Host: "db.example.com", Port: 3307, User: "me", Password: "p@ss:w0rd",
		Database: "local_db", Charset: "utf8mb4", ConnectTimeout: 4 * time.Second}
	for _, scheme := range []string{"mysql", "mariadb", "mysql+pymysql", "mysql+mysqldb", "mysql+mysqlconnector",
		"mariadb+mariadbconnector", "mysql+asyncmy", "mysql+aiomysql"} {
		t.Run(scheme, func(t *testing.T) {
			c := mustParse(t, scheme+rest)
			got, err := MySQLConfig(c)
			if err != nil {
				t.Fatal(err)
			}
			want := same
			want.MariaDB = strings.HasPrefix(scheme, "mariadb")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func mustParse(t *testing.T, url string) *secrets.Connection {
	t.Helper()
	c, err := secrets.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c.Name = "c"
	return c
}

func TestMySQLConfigQuery(t *testing.T) {
	base := "mysql://u@h/db?"
	tests := []struct {
		name  string
		query string
		opts  map[string]any
		check func(mysql.Config) bool
		err   string
	}{
		{name: "defaults", query: "", check: func(c mysql.Config) bool {
			return c.TLS.Mode == "" && c.Socket == "" && c.PoolSize == 0 && c.ConnectTimeout == 0
		}},
		{name: "unix socket", query: "unix_socket=/run/mysqld/mysqld.sock", check: func(c mysql.Config) bool {
			return c.Socket == "/run/mysqld/mysqld.sock"
		}},
		{name: "timeouts in seconds", query: "connect_timeout=2.5&read_timeout=30&write_timeout=1m", check: func(c mysql.Config) bool {
			return c.ConnectTimeout == 2500*time.Millisecond && c.ReadTimeout == 30*time.Second && c.WriteTimeout == time.Minute
		}},
		{name: "ssl_mode", query: "ssl_mode=VERIFY_CA", check: func(c mysql.Config) bool { return c.TLS.Mode == mysql.TLSVerifyCA }},
		{name: "ssl_ca verifies", query: "ssl_ca=/ca.pem", check: func(c mysql.Config) bool {
			return c.TLS.Mode == mysql.TLSVerifyIdentity && c.TLS.CA == "/ca.pem"
		}},
		{name: "ssl_ca without host check", query: "ssl_ca=/ca.pem&ssl_check_hostname=false", check: func(c mysql.Config) bool {
			return c.TLS.Mode == mysql.TLSVerifyCA
		}},
		{name: "ssl_verify_cert=false", query: "ssl_ca=/ca.pem&ssl_verify_cert=false", check: func(c mysql.Config) bool {
			return c.TLS.Mode == mysql.TLSRequired
		}},
		{name: "ssl=true", query: "ssl=true", check: func(c mysql.Config) bool { return c.TLS.Mode == mysql.TLSVerifyIdentity }},
		{name: "ssl=false", query: "ssl=false", check: func(c mysql.Config) bool { return c.TLS.Mode == mysql.TLSDisabled }},
		{name: "ssl_disabled", query: "ssl_disabled=true", check: func(c mysql.Config) bool { return c.TLS.Mode == mysql.TLSDisabled }},
		{name: "tls skip-verify", query: "tls=skip-verify", check: func(c mysql.Config) bool { return c.TLS.Mode == mysql.TLSRequired }},
		{name: "ssl_mode wins", query: "ssl=true&ssl_mode=disabled", check: func(c mysql.Config) bool { return c.TLS.Mode == mysql.TLSDisabled }},
		{name: "client certificate", query: "ssl_cert=/c.pem&ssl_key=/k.pem", check: func(c mysql.Config) bool {
			return c.TLS.Cert == "/c.pem" && c.TLS.Key == "/k.pem"
		}},
		{name: "session setup", query: "sql_mode=ANSI_QUOTES&time_zone=%2B02:00&init_command=SET+SESSION+wait_timeout%3D60", check: func(c mysql.Config) bool {
			return c.SQLMode == "ANSI_QUOTES" && c.TimeZone == "+02:00" && c.InitCommand == "SET SESSION wait_timeout=60"
		}},
		{name: "python-only arguments are ignored", query: "use_unicode=1&binary_prefix=true&autocommit=true", check: func(c mysql.Config) bool { return true }},
		{name: "pool keys", opts: map[string]any{"pool_size": int64(3), "pool_timeout": "2s", "pool_idle_timeout": int64(0), "cache_ttl": "5m"},
			check: func(c mysql.Config) bool {
				return c.PoolSize == 3 && c.PoolTimeout == 2*time.Second && c.IdleTimeout < 0
			}},
		{name: "unknown parameter", query: "sslmode=require", err: `unknown query parameter "sslmode"`},
		{name: "bad ssl_mode", query: "ssl_mode=sometimes", err: "ssl mode"},
		{name: "bad flag", query: "ssl=perhaps", err: "ssl="},
		{name: "bad timeout", query: "connect_timeout=soon", err: "connect_timeout="},
		{name: "cert without key", query: "ssl_cert=/c.pem", err: "ssl_cert and ssl_key"},
		{name: "latin1", query: "charset=latin1", err: "charset"},
		{name: "bad pool size", opts: map[string]any{"pool_size": int64(0)}, err: "pool_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, base+tt.query)
			c.Options = tt.opts
			got, err := MySQLConfig(c)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(got) {
				t.Errorf("config %+v", got)
			}
		})
	}
}

// The parts a section gives beside (or instead of) a url reach the config,
// and the query table merges with the url's.
func TestMySQLConfigFromParts(t *testing.T) {
	c := &secrets.Connection{Name: "parts", Dialect: "mariadb", Username: "app", Password: "pw",
		Host: "::1", Port: 3306, Database: "shop", Query: map[string]string{"ssl_mode": "required"}}
	got, err := MySQLConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if got.Host != "::1" || got.User != "app" || got.Database != "shop" || got.TLS.Mode != mysql.TLSRequired || got.Addr() != "[::1]:3306" {
		t.Errorf("config %+v (addr %s)", got, got.Addr())
	}
}

// mysql and mariadb sections open through the default openers.
func TestDefaultOpenersServeMySQL(t *testing.T) {
	o := DefaultOpeners()
	for _, d := range []string{secrets.MySQL, secrets.MariaDB} {
		if o[d] == nil {
			t.Errorf("no opener for %s", d)
		}
	}
}

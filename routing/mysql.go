package routing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/backends/bridge"
	"github.com/xconnproxy/xconnproxy/backends/mysql"
	"github.com/xconnproxy/xconnproxy/internal/units"
	"github.com/xconnproxy/xconnproxy/secrets"
)

// mysqlIgnored are connect arguments of the Python drivers (PyMySQL,
// mysqlclient, MySQL Connector/Python, MariaDB Connector/Python) that have
// no meaning for the proxy's own connections; a url that carries them
// still works.
var mysqlIgnored = []string{
	"use_unicode", "binary_prefix", "program_name", "client_flag", "autocommit",
	"local_infile", "defer_connect", "get_warnings", "raise_on_warnings", "use_pure", "compress",
}

// mysqlKnown are the query parameters MySQLConfig reads.
var mysqlKnown = []string{
	"charset", "collation", "unix_socket", "connect_timeout", "read_timeout", "write_timeout",
	"ssl_mode", "ssl", "ssl_disabled", "ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert",
	"ssl_verify_identity", "ssl_check_hostname", "tls", "sql_mode", "time_zone", "init_command",
}

// MySQLConfig maps a connection section whose dialect is mysql or mariadb
// (any driver: mysql+pymysql, +mysqldb, +mysqlconnector,
// mariadb+mariadbconnector; the proxy always uses its own) to the MySQL
// backend's config.
//
// URL query parameters, or the section's query table, are the Python
// drivers' connect arguments where they mean something here:
//
//	charset, collation          connection character set (UTF-8 only) and collation
//	unix_socket                 path of the server's socket, instead of host and port
//	connect_timeout             seconds (default 10); read_timeout, write_timeout: seconds (default none)
//	ssl_mode                    disabled, preferred (default), required, verify_ca, verify_identity
//	ssl_ca, ssl_cert, ssl_key   PEM files; ssl_ca alone means verify_identity
//	ssl=true|false, ssl_disabled=true, tls=true|false|skip-verify|preferred
//	ssl_verify_cert=false       encrypt without verifying (required)
//	ssl_verify_identity=false, ssl_check_hostname=false   verify the chain, not the name (verify_ca)
//	sql_mode, time_zone, init_command   session setup (see backends/mysql)
//
// Pool keys of the section: pool_size (default 20), pool_timeout (default
// "30s"), pool_idle_timeout (default "10m"; "0" keeps idle connections),
// pool_max_lifetime (default "1h"; "0" keeps connections), retry_timeout
// (default "30s").
func MySQLConfig(c *secrets.Connection) (mysql.Config, error) {
	cfg := mysql.Config{
		Name: c.Name, MariaDB: c.Dialect == secrets.MariaDB, Host: c.Host, Port: c.Port,
		User: c.Username, Password: c.Password, Database: c.Database,
	}
	q := c.Query
	bad := func(key, want string) error {
		return fmt.Errorf("query parameter %s=%q: want %s", key, q[key], want)
	}
	seconds := func(key string) (time.Duration, error) {
		d, err := units.Duration(q[key])
		if err != nil {
			return 0, bad(key, "a number of seconds")
		}
		return d, nil
	}
	flag := func(key string) (bool, error) {
		b, ok := bridge.ParseBool(q[key])
		if !ok {
			return false, bad(key, "true or false")
		}
		return b, nil
	}
	for _, key := range sortedQueryKeys(q) {
		if !slices.Contains(mysqlKnown, key) && !slices.Contains(mysqlIgnored, key) {
			return cfg, fmt.Errorf("unknown query parameter %q for %s (known: %s)", key, c.Dialect, strings.Join(mysqlKnown, ", "))
		}
	}
	var err error
	cfg.Charset, cfg.Collation, cfg.Socket = q["charset"], q["collation"], q["unix_socket"]
	cfg.SQLMode, cfg.TimeZone, cfg.InitCommand = q["sql_mode"], q["time_zone"], q["init_command"]
	for key, dst := range map[string]*time.Duration{
		"connect_timeout": &cfg.ConnectTimeout, "read_timeout": &cfg.ReadTimeout, "write_timeout": &cfg.WriteTimeout,
	} {
		if _, ok := q[key]; ok {
			if *dst, err = seconds(key); err != nil {
				return cfg, err
			}
		}
	}

	// TLS: the most specific setting wins. ssl_mode is MySQL's own client
	// option; tls is go-sql-driver's; ssl, ssl_disabled and the ssl_verify_*
	// flags are the Python drivers'.
	cfg.TLS.CA, cfg.TLS.Cert, cfg.TLS.Key = q["ssl_ca"], q["ssl_cert"], q["ssl_key"]
	if cfg.TLS.CA != "" || cfg.TLS.Cert != "" {
		cfg.TLS.Mode = mysql.TLSVerifyIdentity
	}
	if _, ok := q["ssl"]; ok {
		on, err := flag("ssl")
		if err != nil {
			return cfg, err
		}
		cfg.TLS.Mode = mysql.TLSDisabled
		if on {
			cfg.TLS.Mode = mysql.TLSVerifyIdentity
		}
	}
	if _, ok := q["ssl_disabled"]; ok {
		off, err := flag("ssl_disabled")
		if err != nil {
			return cfg, err
		}
		if off {
			cfg.TLS.Mode = mysql.TLSDisabled
		}
	}
	for _, key := range []string{"ssl_verify_identity", "ssl_check_hostname", "ssl_verify_cert"} {
		if _, ok := q[key]; !ok {
			continue
		}
		on, err := flag(key)
		if err != nil {
			return cfg, err
		}
		if !on && cfg.TLS.Mode != mysql.TLSDisabled {
			if key == "ssl_verify_cert" {
				cfg.TLS.Mode = mysql.TLSRequired
			} else if cfg.TLS.Mode != mysql.TLSRequired {
				cfg.TLS.Mode = mysql.TLSVerifyCA
			}
		}
	}
	if v, ok := q["tls"]; ok {
		switch strings.ToLower(v) {
		case "true":
			cfg.TLS.Mode = mysql.TLSVerifyIdentity
		case "false":
			cfg.TLS.Mode = mysql.TLSDisabled
		case "skip-verify":
			cfg.TLS.Mode = mysql.TLSRequired
		case "preferred":
			cfg.TLS.Mode = mysql.TLSPreferred
		default:
			return cfg, bad("tls", "true, false, skip-verify or preferred")
		}
	}
	if v, ok := q["ssl_mode"]; ok {
		if cfg.TLS.Mode, err = mysql.ParseTLSMode(v); err != nil {
			return cfg, err
		}
	}

	for key, v := range c.Options {
		switch key {
		case "pool_size":
			n, err := poolSize(v)
			if err != nil {
				return cfg, err
			}
			cfg.PoolSize = n
		case "pool_timeout":
			d, err := positiveDuration(key, v)
			if err != nil {
				return cfg, err
			}
			cfg.PoolTimeout = d
		case "pool_idle_timeout":
			d, err := keepDuration(key, v)
			if err != nil {
				return cfg, err
			}
			cfg.IdleTimeout = d
		case "retry_timeout":
			d, err := positiveDuration(key, v)
			if err != nil {
				return cfg, err
			}
			cfg.RetryTimeout = d
		case "pool_max_lifetime":
			d, err := keepDuration(key, v)
			if err != nil {
				return cfg, err
			}
			cfg.MaxLifetime = d
		}
	}
	return cfg, cfg.Validate()
}

func sortedQueryKeys(q map[string]string) []string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// OpenMySQL opens a MySQL or MariaDB connection section.
func OpenMySQL(ctx context.Context, c *secrets.Connection) (backends.Backend, error) {
	cfg, err := MySQLConfig(c)
	if err != nil {
		return nil, err
	}
	return mysql.Open(ctx, cfg)
}

package mysql

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
)

// Config says which server to open and how. The zero value of every field
// means its documented default.
type Config struct {
	// Name is the connection's section name, used in messages.
	Name string
	// MariaDB says the section names MariaDB (mariadb://), for messages
	// before the first connection; the server's version decides after.
	MariaDB bool
	// Host is the server's host name or address. "" means 127.0.0.1.
	Host string
	// Port is the server's TCP port. Zero means 3306.
	Port int
	// Socket is the path of the server's Unix socket. When set, Host and
	// Port are not used.
	Socket string
	// User and Password log in. Never log Password.
	User, Password string
	// Database is the default database of every connection; "" means none
	// (statements must then qualify their tables).
	Database string
	// Charset is the connection character set. "" means utf8mb4. Only the
	// UTF-8 sets (utf8mb4, utf8mb3, utf8) are accepted: the proxy speaks
	// UTF8 to its clients.
	Charset string
	// Collation is the connection collation; "" means the charset's default.
	Collation string
	// TLS says whether and how the server connection is encrypted.
	TLS TLSConfig
	// ConnectTimeout bounds dialing and the login handshake. Zero means
	// 10 seconds.
	ConnectTimeout time.Duration
	// ReadTimeout and WriteTimeout bound each network read or write of a
	// server connection; a statement that exceeds one fails and its
	// session ends. Zero means none.
	ReadTimeout, WriteTimeout time.Duration
	// SQLMode replaces the server's default sql_mode for the proxy's
	// connections; "" keeps the server's. NO_BACKSLASH_ESCAPES is always
	// added (see the package comment).
	SQLMode string
	// TimeZone is the session time_zone, in which TIMESTAMP columns are read
	// and written. "" means "+00:00" (UTC, the proxy's TimeZone).
	TimeZone string
	// InitCommand is one statement run on every new server connection after
	// the proxy's own session setup; "" means none.
	InitCommand string
	// PoolSize is the most server connections open at once. Each client
	// session holds one, so it is also the most concurrent clients. Zero
	// means 20.
	PoolSize int
	// PoolTimeout is how long a new client waits for a free server
	// connection before FATAL 53300. Zero means 30 seconds.
	PoolTimeout time.Duration
	// IdleTimeout closes server connections idle longer than this. Zero
	// means 10 minutes; negative keeps them.
	IdleTimeout time.Duration
	// MaxLifetime closes a server connection when it is next idle this
	// long (give or take a tenth) after it was opened. Zero means an
	// hour; negative keeps them.
	MaxLifetime time.Duration
	// RetryTimeout is how long opening a server connection is retried,
	// with backoff, while the server cannot be reached. Zero means 30
	// seconds.
	RetryTimeout time.Duration
}

// TLSMode is how a server connection uses TLS, named after MySQL's own
// client option --ssl-mode.
type TLSMode string

// TLS modes.
const (
	// TLSPreferred encrypts when the server offers TLS, without verifying
	// its certificate, and falls back to plain text otherwise (the mysql
	// client's default). The default here too.
	TLSPreferred TLSMode = "preferred"
	// TLSDisabled never encrypts.
	TLSDisabled TLSMode = "disabled"
	// TLSRequired encrypts or fails, without verifying the certificate.
	TLSRequired TLSMode = "required"
	// TLSVerifyCA encrypts and verifies the certificate chain (against CA,
	// or the system's roots), but not the host name.
	TLSVerifyCA TLSMode = "verify_ca"
	// TLSVerifyIdentity verifies the chain and that the certificate names
	// the host.
	TLSVerifyIdentity TLSMode = "verify_identity"
)

// TLSConfig is the server connection's TLS.
type TLSConfig struct {
	// Mode is how TLS is used. "" means TLSPreferred.
	Mode TLSMode
	// CA is a PEM file of the certificate authorities that may sign the
	// server's certificate; "" means the system's roots.
	CA string
	// Cert and Key are PEM files of a client certificate and its key, for
	// servers that require one; both or neither.
	Cert, Key string
}

// Defaults of Config's zero fields.
const (
	DefaultPort           = 3306
	DefaultCharset        = "utf8mb4"
	DefaultConnectTimeout = 10 * time.Second
	DefaultTimeZone       = "+00:00"
	DefaultPoolSize       = 20
	DefaultPoolTimeout    = 30 * time.Second
	DefaultIdleTimeout    = 10 * time.Minute
	DefaultRetryTimeout   = 30 * time.Second
	DefaultMaxLifetime    = time.Hour
)

// ParseTLSMode reads a TLS mode as MySQL's --ssl-mode writes it, in any
// case ("REQUIRED", "verify_ca", "VERIFY-IDENTITY").
func ParseTLSMode(s string) (TLSMode, error) {
	m := TLSMode(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"))
	switch m {
	case TLSPreferred, TLSDisabled, TLSRequired, TLSVerifyCA, TLSVerifyIdentity:
		return m, nil
	}
	return "", fmt.Errorf("ssl mode %q: want disabled, preferred, required, verify_ca or verify_identity", s)
}

// Validate checks the settings. Its messages name the setting to change
// and never contain the password.
func (cfg *Config) Validate() error {
	if cfg.Port < 0 || cfg.Port > 65535 {
		return fmt.Errorf("port %d: want 1 to 65535", cfg.Port)
	}
	switch strings.ToLower(cfg.Charset) {
	case "", "utf8mb4", "utf8mb3", "utf8":
	default:
		return fmt.Errorf("charset %q: the proxy speaks UTF-8 to its clients; use utf8mb4", cfg.Charset)
	}
	if cfg.TLS.Mode != "" {
		if _, err := ParseTLSMode(string(cfg.TLS.Mode)); err != nil {
			return err
		}
	}
	if (cfg.TLS.Cert == "") != (cfg.TLS.Key == "") {
		return errors.New("ssl_cert and ssl_key go together: give both or neither")
	}
	if cfg.TLS.Mode == TLSDisabled && (cfg.TLS.CA != "" || cfg.TLS.Cert != "") {
		return errors.New("ssl certificates are given but TLS is disabled: drop ssl_mode=disabled or the ssl_ca/ssl_cert settings")
	}
	if cfg.Socket != "" && cfg.TLS.Mode != "" && cfg.TLS.Mode != TLSDisabled && cfg.TLS.Mode != TLSPreferred {
		return errors.New("TLS over a Unix socket is not supported: drop ssl_mode or unix_socket")
	}
	if cfg.PoolSize < 0 || cfg.PoolSize > 10000 {
		return fmt.Errorf("pool_size %d: want 1 to 10000", cfg.PoolSize)
	}
	if cfg.ConnectTimeout < 0 || cfg.ReadTimeout < 0 || cfg.WriteTimeout < 0 || cfg.PoolTimeout < 0 {
		return errors.New("timeouts must not be negative")
	}
	if strings.ContainsAny(cfg.SQLMode, "'\\") {
		return fmt.Errorf("sql_mode %q: a list of mode names separated by commas", cfg.SQLMode)
	}
	if strings.ContainsAny(cfg.TimeZone, "'\\") {
		return fmt.Errorf("time_zone %q: an offset such as +02:00 or a zone name", cfg.TimeZone)
	}
	return nil
}

func (cfg *Config) poolSize() int {
	if cfg.PoolSize == 0 {
		return DefaultPoolSize
	}
	return cfg.PoolSize
}

func (cfg *Config) poolTimeout() time.Duration {
	if cfg.PoolTimeout == 0 {
		return DefaultPoolTimeout
	}
	return cfg.PoolTimeout
}

func (cfg *Config) maxLifetime() time.Duration {
	if cfg.MaxLifetime == 0 {
		return DefaultMaxLifetime
	}
	return cfg.MaxLifetime
}

func (cfg *Config) retryTimeout() time.Duration {
	if cfg.RetryTimeout == 0 {
		return DefaultRetryTimeout
	}
	return cfg.RetryTimeout
}

func (cfg *Config) idleTimeout() time.Duration {
	switch {
	case cfg.IdleTimeout == 0:
		return DefaultIdleTimeout
	case cfg.IdleTimeout < 0:
		return 0 // database/sql: never close for idleness
	}
	return cfg.IdleTimeout
}

// Addr is where the server is: "host:port", or the socket path.
func (cfg *Config) Addr() string {
	if cfg.Socket != "" {
		return cfg.Socket
	}
	host, port := cfg.Host, cfg.Port
	if host == "" {
		host = "127.0.0.1"
	}
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// driverConfig returns go-sql-driver's config: server-side prepared
// statements (no client-side interpolation), one statement per query,
// dates as text (parseTime off, so that MySQL's zero dates reach the
// bridge as what they are), matched rather than changed rows for UPDATE
// (clientFoundRows, what PostgreSQL counts). TLS files are read here.
func (cfg *Config) driverConfig() (*gomysql.Config, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dc := gomysql.NewConfig()
	dc.User, dc.Passwd, dc.DBName = cfg.User, cfg.Password, cfg.Database
	dc.Net, dc.Addr = "tcp", cfg.Addr()
	if cfg.Socket != "" {
		dc.Net = "unix"
	}
	dc.Timeout = cfg.ConnectTimeout
	if dc.Timeout == 0 {
		dc.Timeout = DefaultConnectTimeout
	}
	dc.ReadTimeout, dc.WriteTimeout = cfg.ReadTimeout, cfg.WriteTimeout
	dc.Loc = time.UTC
	dc.ParseTime = false
	dc.ClientFoundRows = true
	dc.InterpolateParams = false
	dc.MultiStatements = false
	dc.Logger = driverLogger{}
	charset := strings.ToLower(cfg.Charset)
	if charset == "" {
		charset = DefaultCharset
	}
	if err := dc.Apply(gomysql.Charset(charset, cfg.Collation)); err != nil {
		return nil, err
	}
	t, err := cfg.TLS.tlsConfig(cfg.Host)
	if err != nil {
		return nil, err
	}
	if cfg.Socket != "" && cfg.TLS.Mode != TLSDisabled {
		t = nil // a local socket needs no encryption; preferred falls back
	}
	dc.TLS = t
	dc.AllowFallbackToPlaintext = cfg.TLS.Mode == "" || cfg.TLS.Mode == TLSPreferred
	// A clear-text password (PAM, LDAP, cloud IAM logins) only where it
	// cannot be read on the way: TLS that is required, or a local socket.
	switch {
	case cfg.Socket != "":
		dc.AllowCleartextPasswords = true
	case cfg.TLS.Mode == TLSRequired || cfg.TLS.Mode == TLSVerifyCA || cfg.TLS.Mode == TLSVerifyIdentity:
		dc.AllowCleartextPasswords = true
	}
	return dc, nil
}

// tlsConfig builds the crypto/tls config of a mode; nil means no TLS.
func (tc TLSConfig) tlsConfig(host string) (*tls.Config, error) {
	mode := tc.Mode
	if mode == "" {
		mode = TLSPreferred
	}
	if mode == TLSDisabled {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if tc.CA != "" {
		pem, err := os.ReadFile(tc.CA)
		if err != nil {
			return nil, fmt.Errorf("ssl_ca: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ssl_ca %s: no PEM certificate in the file", tc.CA)
		}
	}
	if tc.Cert != "" {
		cert, err := tls.LoadX509KeyPair(tc.Cert, tc.Key)
		if err != nil {
			return nil, fmt.Errorf("ssl_cert/ssl_key: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	switch mode {
	case TLSPreferred, TLSRequired:
		t.InsecureSkipVerify = true
	case TLSVerifyCA:
		// Verify the chain but not the name: crypto/tls has no switch for
		// that, so it skips its own check and runs this one.
		t.InsecureSkipVerify = true
		roots := t.RootCAs
		t.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, roots)
		}
	case TLSVerifyIdentity:
		t.ServerName = host
	}
	return t, nil
}

// verifyChain checks that the server's certificate chains to roots (nil:
// the system's), whatever name it carries.
func verifyChain(raw [][]byte, roots *x509.CertPool) error {
	if len(raw) == 0 {
		return errors.New("the server sent no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return fmt.Errorf("parsing the server certificate: %w", err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
	return err
}

// driverLogger sends go-sql-driver's own log lines (dropped connections
// and the like) to slog at debug level: the proxy reports what matters
// through the errors it returns.
type driverLogger struct{}

func (driverLogger) Print(v ...any) {
	slog.Debug("mysql driver", "msg", strings.TrimSpace(fmt.Sprint(v...)))
}

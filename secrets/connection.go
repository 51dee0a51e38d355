package secrets

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Connection is one validated [connections.<name>] section. Its String,
// GoString and URL methods redact the password, so printing a Connection
// with any fmt verb is safe.
type Connection struct {
	// Name is the section name, the <name> of [connections.<name>].
	Name string
	// Type is the section's type key: "sql", or "" when the section has none.
	Type string
	// Dialect is one of Postgres, MySQL, MariaDB or SQLite ("postgresql",
	// "mysql", "mariadb", "sqlite"); postgres and psql read as postgresql.
	Dialect string
	// Driver is the Python driver named after "+" or by the driver key
	// ("psycopg2", "pymysql"); "" when none is named. It only records what
	// the section says: the proxy opens backends with its own drivers.
	Driver string
	// Username is the user to log in as; "" when none is given.
	Username string
	// Password is the login password; "" when none is given. Never log it.
	Password string
	// Host is the server's host name or address, IPv6 without brackets;
	// "" when none is given (for sqlite always "").
	Host string
	// Port is the server's TCP port; 0 means the dialect's default (5432,
	// 3306).
	Port int
	// Database is the database name, or for sqlite the file path exactly as
	// written: relative paths stay relative (SQLAlchemy resolves them against
	// the working directory of the process that opens them), and "" or
	// ":memory:" mean an in-memory database.
	Database string
	// Query holds the url's query parameters merged with the section's query
	// table, the table winning. Never nil in a Connection from Load or
	// ParseURL.
	Query map[string]string
	// Options holds every other key of the section (cache_ttl, pool_size,
	// pool_mode, create_engine_kwargs, ...) as go-toml decoded it (string,
	// int64, float64, bool, time values, []any, map[string]any), with
	// "env:VAR" strings resolved. Never nil in a Connection from Load.
	Options map[string]any
	// Sources are the files that define the section, in load order.
	Sources []string
}

// URL returns the connection as a SQLAlchemy URL with the password written
// as "***", as SQLAlchemy's render_as_string(hide_password=True) does; query
// values whose key names a secret (see [IsSecretKey]) are written "***" too.
// It is safe to log and to show.
func (c *Connection) URL() string { return c.render(true) }

// String returns URL(), so that %v and %s never print a password.
func (c Connection) String() string { return c.URL() }

// GoString keeps %#v, which would otherwise print every field, from printing
// the password.
func (c Connection) GoString() string {
	return fmt.Sprintf("&secrets.Connection{Name:%q, URL:%q}", c.Name, c.URL())
}

// render writes the SQLAlchemy URL; escaping follows SQLAlchemy's
// render_as_string, except that a host is percent-escaped (ParseURL decodes
// it), so that render and ParseURL round-trip.
func (c *Connection) render(hidePassword bool) string {
	var b strings.Builder
	b.WriteString(c.Dialect)
	if c.Driver != "" {
		b.WriteString("+")
		b.WriteString(c.Driver)
	}
	b.WriteString("://")
	if c.Username != "" || c.Password != "" {
		b.WriteString(quote(c.Username, " +"))
		if c.Password != "" {
			b.WriteString(":")
			if hidePassword {
				b.WriteString("***")
			} else {
				b.WriteString(quote(c.Password, " +"))
			}
		}
		b.WriteString("@")
	}
	if strings.Contains(c.Host, ":") {
		b.WriteString("[" + quote(c.Host, ":") + "]")
	} else {
		b.WriteString(quote(c.Host, ""))
	}
	if c.Port != 0 {
		b.WriteString(":" + strconv.Itoa(c.Port))
	}
	if c.Database != "" {
		b.WriteString("/" + quote(c.Database, " +/:"))
	}
	for i, k := range sortedKeys(c.Query) {
		if i == 0 {
			b.WriteString("?")
		} else {
			b.WriteString("&")
		}
		v := c.Query[k]
		if hidePassword && IsSecretKey(k) {
			b.WriteString(quotePlus(k) + "=***")
			continue
		}
		b.WriteString(quotePlus(k) + "=" + quotePlus(v))
	}
	return b.String()
}

// IsSecretKey reports whether a query or option key names a secret
// (sslpassword, client_secret, token, ...), whose value is never shown.
func IsSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"password", "passwd", "secret", "token"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// fingerprintKey keys Fingerprint's HMAC. A plain hash of the password
// would let anyone who sees a fingerprint test password guesses offline; a
// key made at start keeps fingerprints equal across reloads, which is all
// they are for, and useless outside the process.
var fingerprintKey = sync.OnceValue(func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails since Go 1.24
	return k
})

// Fingerprint returns a hex digest of everything that identifies the
// backend: dialect, driver, username, password, host, port, database, query
// and options (Name, Type and Sources are left out). Two connections have the
// same fingerprint exactly when those are equal, so a reload can tell which
// sections changed. The digest is keyed with a secret made when the process
// starts: it is stable for the life of the process, differs between
// processes, and reveals nothing about the password, so it may be logged.
func (c *Connection) Fingerprint() string {
	h := hmac.New(sha256.New, fingerprintKey())
	fpString(h, c.Dialect)
	fpString(h, c.Driver)
	fpString(h, c.Username)
	fpString(h, c.Password)
	fpString(h, c.Host)
	fpValue(h, int64(c.Port))
	fpString(h, c.Database)
	fpValue(h, stringMap(c.Query))
	fpValue(h, c.Options)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// fpString writes a length-prefixed string, so that no two different
// sequences of fields write the same bytes.
func fpString(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// fpValue writes a decoded TOML value with a type tag, maps in key order.
func fpValue(h hash.Hash, v any) {
	switch v := v.(type) {
	case nil:
		h.Write([]byte{'n'})
	case string:
		h.Write([]byte{'s'})
		fpString(h, v)
	case int64:
		h.Write([]byte{'i'})
		fpString(h, strconv.FormatInt(v, 10))
	case float64:
		h.Write([]byte{'f'})
		fpString(h, strconv.FormatUint(math.Float64bits(v), 16))
	case bool:
		h.Write([]byte{'b'})
		fpString(h, strconv.FormatBool(v))
	case time.Time:
		h.Write([]byte{'t'})
		fpString(h, v.Format(time.RFC3339Nano))
	case []any:
		h.Write([]byte{'a'})
		fpString(h, strconv.Itoa(len(v)))
		for _, e := range v {
			fpValue(h, e)
		}
	case map[string]any:
		h.Write([]byte{'m'})
		fpString(h, strconv.Itoa(len(v)))
		for _, k := range sortedKeys(v) {
			fpString(h, k)
			fpValue(h, v[k])
		}
	default:
		// toml.LocalDate, LocalTime, LocalDateTime, or a value a caller put
		// in Options by hand: %#v is deterministic for all of them.
		h.Write([]byte{'x'})
		fpString(h, fmt.Sprintf("%T %#v", v, v))
	}
}

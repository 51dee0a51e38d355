package secrets

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Dialect names as they are reported in [Connection.Dialect].
const (
	Postgres = "postgresql"
	MySQL    = "mysql"
	MariaDB  = "mariadb"
	SQLite   = "sqlite"
)

// dialects maps every accepted spelling to its normal name. SQLAlchemy 1.4
// dropped "postgres", but old Heroku-style urls still carry it.
var dialects = map[string]string{
	"postgresql": Postgres,
	"postgres":   Postgres,
	"psql":       Postgres,
	"mysql":      MySQL,
	"mariadb":    MariaDB,
	"sqlite":     SQLite,
}

const supportedDialects = "postgresql (or postgres), mysql, mariadb and sqlite"

// urlPattern is SQLAlchemy 2.0's make_url pattern (sqlalchemy/engine/url.py,
// _parse_url), written without verbose mode, with Python's Unicode \w spelled
// out, and anchored at the start as re.match is. Go's regexp picks the
// submatches a backtracking engine would, so the groups come out as in
// Python. Groups:
//
//	1 name      [\w+]+          dialect[+driver], up to "://"
//	2 username  [^:/]*          up to ":" or "@"
//	3 password  [^@]*           up to the first "@"; may hold ":" "/" "?"
//	4 ipv6host  [^/?]+          inside [...]
//	5 ipv4host  [^/:?]+
//	6 port      [^/?]*
//	7 database  [^?]*           after the first "/"
//	8 query     .*              after "?"
var urlPattern = regexp.MustCompile(
	`^([\p{L}\p{N}_+]+)://` +
		`(?:([^:/]*)(?::([^@]*))?@)?` +
		`(?:(?:\[([^/?]+)\]|([^/:?]+))?(?::([^/?]*))?)?` +
		`(?:/([^?]*))?` +
		`(?:\?(.*))?`)

// ParseURL reads a SQLAlchemy URL,
//
//	dialect[+driver]://username:password@host:port/database?key=value&key2=value2
//
// exactly as SQLAlchemy's make_url does: every part but the dialect is
// optional; the password runs to the first "@" (so it may hold ":", "/" or
// "?", but an "@" in it must be written %40); an IPv6 host is written in
// brackets; username, password, host, database and query are
// percent-decoded ("+" is a space only in the query, as in parse_qsl); query
// keys with an empty value are dropped. For sqlite the database is the path
// after the third slash: "sqlite:///pets.db" is "pets.db" (relative, left as
// written), "sqlite:////var/pets.db" is "/var/pets.db", and "sqlite://" and
// "sqlite:///:memory:" are in-memory ("" and ":memory:").
//
// Where make_url would accept a url that cannot mean what its writer meant,
// ParseURL refuses it with ErrBadURL: text after "[ipv6]" that is not a port,
// path or query (make_url drops it silently); an "@" left in the host (the
// password held an unencoded "@"); a query key given twice (make_url makes a
// list, which a Connection cannot hold); a sqlite url with a host
// ("sqlite://pets.db" is an in-memory database in SQLAlchemy, not pets.db).
// Ports must be plain digits from 1 to 65535.
//
// Errors wrap ErrBadURL, ErrBadPort or ErrUnsupportedDialect and never quote
// the url: only the dialect name is ever shown. The result has no Name, Type,
// Options or Sources.
func ParseURL(raw string) (*Connection, error) {
	c, err := parseURL(raw)
	if err != nil {
		return nil, err
	}
	if c.Dialect, err = normalizeDialect(c.Dialect); err != nil {
		return nil, err
	}
	if err := checkSQLiteHost(c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	return c, nil
}

// parseURL splits raw into parts, leaving the dialect lowercased but not yet
// checked, so that a section's dialect key can still override it.
func parseURL(raw string) (*Connection, error) {
	m := urlPattern.FindStringSubmatchIndex(raw)
	if m == nil {
		return nil, fmt.Errorf("%w: want dialect[+driver]://username:password@host:port/database", ErrBadURL)
	}
	if m[1] != len(raw) {
		// Only "[ipv6]" followed by something else, or a line break in the
		// query, stops the pattern short of the end.
		return nil, fmt.Errorf("%w: unexpected text after the host or a line break; "+
			"write [ipv6]:port/database", ErrBadURL)
	}
	group := func(i int) (string, bool) {
		if m[2*i] < 0 {
			return "", false
		}
		return raw[m[2*i]:m[2*i+1]], true
	}
	c := &Connection{Query: map[string]string{}}
	name, _ := group(1)
	if err := splitDriverName(name, c); err != nil {
		return nil, err
	}
	if u, ok := group(2); ok {
		c.Username = unquote(u)
	}
	if p, ok := group(3); ok {
		c.Password = unquote(p)
	}
	if h, ok := group(4); ok {
		c.Host = unquote(h)
	} else if h, ok := group(5); ok {
		if strings.Contains(h, "@") {
			return nil, fmt.Errorf("%w: an \"@\" is left in the host; "+
				"write an \"@\" inside the username or password as %%40", ErrBadURL)
		}
		c.Host = unquote(h)
	}
	if p, ok := group(6); ok && p != "" {
		port, err := parsePort(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadURL, err)
		}
		c.Port = port
	}
	if d, ok := group(7); ok {
		c.Database = unquote(d)
	}
	if q, ok := group(8); ok {
		if err := parseQuery(q, c.Query); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// splitDriverName sets Dialect and Driver from "dialect[+driver]", the
// dialect lowercased.
func splitDriverName(name string, c *Connection) error {
	dialect, driver, hasDriver := strings.Cut(name, "+")
	if dialect == "" || (hasDriver && (driver == "" || strings.Contains(driver, "+"))) {
		return fmt.Errorf("%w: want dialect or dialect+driver before \"://\", as in postgresql+psycopg2", ErrBadURL)
	}
	c.Dialect = strings.ToLower(dialect)
	c.Driver = driver
	return nil
}

// normalizeDialect maps an accepted spelling to its normal name.
func normalizeDialect(d string) (string, error) {
	if n, ok := dialects[strings.ToLower(d)]; ok {
		return n, nil
	}
	return "", fmt.Errorf("%w %q: xconnproxy serves %s", ErrUnsupportedDialect, d, supportedDialects)
}

// checkSQLiteHost refuses a host on a sqlite connection: SQLAlchemy ignores
// it, so "sqlite://pets.db" silently opens an empty in-memory database.
func checkSQLiteHost(c *Connection) error {
	if c.Dialect == SQLite && c.Host != "" {
		return fmt.Errorf("sqlite takes a path, not a host: write sqlite:///relative/path.db " +
			"(three slashes) or sqlite:////absolute/path.db (four)")
	}
	return nil
}

// parsePort reads a port: plain ASCII digits from 1 to 65535. Python's int()
// would also take "+5432" or " 5432"; nobody means those. The message never
// quotes the text, which may be part of a password (in "pg://u:pw/db", with
// no "@", make_url reads host "u" and port "pw").
func parsePort(s string) (int, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: want a number from 1 to 65535", ErrBadPort)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%w: out of range, want 1 to 65535", ErrBadPort)
	}
	return n, nil
}

// parseQuery reads a query string as Python's parse_qsl does with its
// defaults: fields split on "&", empty fields and fields without "=" or with
// an empty value skipped, "+" read as a space, then percent-decoded.
func parseQuery(q string, into map[string]string) error {
	for field := range strings.SplitSeq(q, "&") {
		k, v, ok := strings.Cut(field, "=")
		if !ok || v == "" {
			continue
		}
		k = unquote(strings.ReplaceAll(k, "+", " "))
		v = unquote(strings.ReplaceAll(v, "+", " "))
		if _, dup := into[k]; dup {
			return fmt.Errorf("%w: a query key is given twice; give each key once", ErrBadURL)
		}
		into[k] = v
	}
	return nil
}

// unquote decodes %XX escapes as Python's urllib.parse.unquote does: a "%"
// not followed by two hex digits stays as it is, and "+" stays "+". Decoded
// bytes are kept as they are even when they are not UTF-8 (Python would
// replace them with U+FFFD), since a password is bytes to the server.
func unquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	default:
		return c - '0'
	}
}

// quote escapes s as Python's urllib.parse.quote(s, safe) does: letters,
// digits and "_.-~" stay, so do the bytes in safe, and every other byte
// becomes %XX.
func quote(s, safe string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("_.-~", c) >= 0 || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// quotePlus is Python's quote_plus: quote, with spaces written as "+".
func quotePlus(s string) string {
	return strings.ReplaceAll(quote(s, " "), " ", "+")
}

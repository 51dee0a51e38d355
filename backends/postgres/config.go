package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

var (
	// ErrBadParameter means a section part or query parameter that cannot be
	// handed to libpq's keyword/value syntax: a query key that is not a
	// parameter name, a value holding a NUL byte, a port out of range, or
	// dbname and database both given with different values. The message names
	// the key, never the value.
	ErrBadParameter = errors.New("bad connection parameter")
)

// Section is what ParseConfig reads of a [connections.<name>] section whose
// dialect is postgresql: the parts of its SQLAlchemy URL, after secrets has
// merged the url with the section's own keys and resolved "env:" values.
// routing.PostgresSection fills it from a *secrets.Connection. The zero value
// of every field means "not given": the data source's own config supplies it.
type Section struct {
	// Username is the user the proxy logs in to PostgreSQL as. "" leaves it
	// to query user=, the service file, PGUSER and finally the OS user name,
	// as libpq does.
	Username string
	// Password is the login password. "" leaves it to query password=, the
	// service file, PGPASSWORD and ~/.pgpass. Never log it.
	Password string
	// Host is a host name, an IP address (IPv6 without brackets), a Unix
	// socket directory (starting with "/"), or a comma-separated list of
	// them tried in order ("h1,h2"). "" leaves it to query host=, the
	// service file, PGHOST and pgconn's default socket directory.
	Host string
	// Port is the TCP port (and Unix socket file number), 1 to 65535. 0
	// leaves it to query port=, the service file, PGPORT and 5432. A port
	// given here applies to every host of a list; for one port per host,
	// leave Port 0 and write query port="p1,p2".
	Port int
	// Database is the database name. "" leaves it to query dbname=, the
	// service file and PGDATABASE; with none of them the server takes the
	// user name.
	Database string
	// Query holds libpq connection parameters (sslmode, connect_timeout,
	// application_name, options, service, ...) and server run-time
	// parameters (search_path, TimeZone, ...), from the url's query and the
	// section's query table. An empty value counts as not given. ParseConfig
	// does not change the map.
	Query map[string]string
}

// ParseConfig builds the pgconn configuration for a section, reading its
// settings as libpq would read the same keywords. The user and password it
// logs in with are the section's, or when the section has none the data
// source's own config's (environment, service file, ~/.pgpass): nothing in
// the result comes from the client a backend connection will serve, so a
// client never chooses the backend's credentials.
//
// Each setting comes from the first of these that gives it:
//
//  1. the section's parts: Username, Password, Host, Port, Database;
//  2. the section's Query: sslmode, sslrootcert, sslcert, sslkey,
//     sslpassword, connect_timeout, application_name, options,
//     target_session_attrs, service, passfile and every other libpq keyword;
//  3. the service file entry that service= (Query, else PGSERVICE) names,
//     read from servicefile= (Query), else PGSERVICEFILE, else
//     ~/.pg_service.conf;
//  4. the PG* environment variables: PGHOST, PGPORT, PGUSER, PGPASSWORD,
//     PGDATABASE, PGSSLMODE, PGAPPNAME, PGCONNECT_TIMEOUT, PGOPTIONS, ...;
//  5. for the password only, and only when 1 to 4 gave none, the passfile
//     (passfile=, else PGPASSFILE, else ~/.pgpass) line matching the final
//     host, port, database and user (a socket directory matches "localhost");
//  6. pgconn's defaults: the first existing of /var/run/postgresql,
//     /private/tmp and /tmp (else localhost), port 5432, the OS user name,
//     sslmode=prefer (TLS first, then plain, as Config.Fallbacks).
//
// Levels 3 to 6 are pgconn.ParseConfig's own: levels 1 and 2 go to it as one
// keyword/value connection string, a part replacing the query key of the
// same name, and pgconn merges the rest (see pgconn's ParseConfigWithOptions:
// mergeSettings(defaultSettings, envSettings, serviceSettings,
// connStringSettings), and the passfile lookup under config.Password == "").
// A query key libpq does not know becomes a run-time parameter sent to the
// server at startup (Config.RuntimeParams), as pgconn.ParseConfig makes it;
// libpq itself would refuse it.
//
// Two spellings are read as libpq keywords: database= as dbname= (pgconn
// accepts both), and ssl=true or ssl=<an sslmode> as sslmode= when Query has
// no sslmode. ssl=true is pgconn's alias in URLs; ssl=require and friends are
// how asyncpg spells sslmode, so a postgresql+asyncpg url reads as asyncpg
// would read it. Any other ssl value stays a run-time parameter, as pgconn
// leaves it. The url's driver (+psycopg2, +psycopg, +asyncpg, +pg8000, or
// any other) changes nothing else: the proxy opens every PostgreSQL
// connection with pgconn.
//
// Host may list several hosts with Port or query port= giving one port for
// all or one per host: pgconn tries them in order, as libpq does
// (Config.Fallbacks). A host starting with "/" is a Unix socket directory,
// over which TLS settings are ignored, as libpq ignores them.
//
// The password and sslpassword never enter the connection string: pgconn's
// errors quote it, redacting passwords only on a best-effort basis (a quote
// inside a quoted password defeats it). The password is set on the result
// after parsing and sslpassword is handed over through
// ParseConfigOptions.GetSSLPassword, each at the precedence it would have had
// in the string. So no error from ParseConfig contains either.
func ParseConfig(s Section) (*pgconn.Config, error) {
	st, err := sectionSettings(s)
	if err != nil {
		return nil, err
	}
	var opts pgconn.ParseConfigOptions
	if st.sslPassword != "" {
		// An empty sslpassword in the string hides PGSSLPASSWORD and the
		// service file's, as the real value there would; pgconn then asks
		// GetSSLPassword, but only when it meets an encrypted sslkey.
		st.kv["sslpassword"] = ""
		sslPassword := st.sslPassword
		opts.GetSSLPassword = func(context.Context) string { return sslPassword }
	}
	cfg, err := pgconn.ParseConfigWithOptions(keywordValue(st.kv), opts)
	if err != nil {
		return nil, fmt.Errorf("postgres connection settings: %w", err)
	}
	if st.password != "" {
		// Where it would have been in the string, it would have beaten the
		// service file and PGPASSWORD and kept ~/.pgpass from being read.
		// Config.Password is shared by every fallback host, so setting it
		// here is the same.
		cfg.Password = st.password
	}
	return cfg, nil
}

// settings are a section's levels 1 and 2 (see ParseConfig) merged.
type settings struct {
	kv          map[string]string // keyword → value for the connection string
	password    string            // "" = not given
	sslPassword string            // "" = not given
}

func sectionSettings(s Section) (settings, error) {
	st := settings{kv: make(map[string]string, len(s.Query)+5)}
	for _, k := range slices.Sorted(maps.Keys(s.Query)) {
		v := s.Query[k]
		if !isKeyword(k) {
			return st, fmt.Errorf("postgres connection settings: %w: query key %q is not a libpq parameter name (use letters, digits, _ and . only)", ErrBadParameter, k)
		}
		if v == "" {
			continue
		}
		if k == "database" {
			k = "dbname"
		}
		if prev, dup := st.kv[k]; dup && prev != v {
			return st, fmt.Errorf("postgres connection settings: %w: query has both dbname and database; keep one", ErrBadParameter)
		}
		st.kv[k] = v
	}
	if v, ok := st.kv["ssl"]; ok {
		if mode, ok := sslModeAlias(v); ok {
			delete(st.kv, "ssl")
			if _, set := st.kv["sslmode"]; !set {
				st.kv["sslmode"] = mode
			}
		}
	}
	st.password, st.sslPassword = st.kv["password"], st.kv["sslpassword"]
	delete(st.kv, "password")
	delete(st.kv, "sslpassword")

	if s.Username != "" {
		st.kv["user"] = s.Username
	}
	if s.Password != "" {
		st.password = s.Password
	}
	if s.Host != "" {
		st.kv["host"] = s.Host
	}
	if s.Port != 0 {
		if s.Port < 0 || s.Port > 65535 {
			return st, fmt.Errorf("postgres connection settings: %w: port %d: want 1 to 65535, or 0 for the default", ErrBadParameter, s.Port)
		}
		st.kv["port"] = strconv.Itoa(s.Port)
	}
	if s.Database != "" {
		st.kv["dbname"] = s.Database
	}

	// libpq's strings are C strings and the startup message separates
	// parameters with NUL, so a NUL can only be a mistake or an attack.
	if k := nulKey(st); k != "" {
		return st, fmt.Errorf("postgres connection settings: %w: %s holds a NUL byte", ErrBadParameter, k)
	}
	return st, nil
}

// nulKey returns the key whose value holds a NUL byte (the passwords
// first, then the rest in sorted order), or "".
func nulKey(st settings) string {
	if strings.IndexByte(st.password, 0) >= 0 {
		return "password"
	}
	if strings.IndexByte(st.sslPassword, 0) >= 0 {
		return "sslpassword"
	}
	for _, k := range slices.Sorted(maps.Keys(st.kv)) {
		if strings.IndexByte(st.kv[k], 0) >= 0 {
			return k
		}
	}
	return ""
}

// sslModeAlias reads a query ssl= value as an sslmode: "true" as pgconn's
// URL parser reads it (JDBC's spelling), the sslmode names as asyncpg
// reads them.
func sslModeAlias(v string) (string, bool) {
	switch v {
	case "true":
		return "require", true
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
		return v, true
	}
	return "", false
}

// isKeyword reports whether k can be written unquoted as a keyword of a
// libpq keyword/value string. libpq keywords and PostgreSQL parameter names
// (custom ones have a dot: myapp.tenant) use only these characters; anything
// else, a space or "=" above all, would change how the string parses.
func isKeyword(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// keywordValue writes kv as a libpq keyword/value connection string, keys
// sorted so that the string (and an error quoting it) is stable. Keys must
// pass isKeyword.
func keywordValue(kv map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(quote(kv[k]))
	}
	return b.String()
}

// quote writes v as a libpq keyword/value value: in single quotes, with
// single quotes and backslashes escaped by a backslash ("Single quotes and
// backslashes within a value must be escaped with a backslash", PostgreSQL
// docs, libpq 34.1.1.1). Quoting every value keeps spaces, "=" and empty
// values safe. v must not hold a NUL byte.
func quote(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(v); i++ {
		if v[i] == '\'' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('\'')
	return b.String()
}

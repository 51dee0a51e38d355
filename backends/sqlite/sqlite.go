// Package sqlite serves SQLite databases through the SQL bridge, with
// modernc.org/sqlite (pure Go, so the binary stays static).
//
// One database file is shared by every session of its connection. Each
// session has a connection of its own (so SQLite's per-connection state,
// such as temp tables and PRAGMAs, is per session, as a PostgreSQL session's
// would be); the file runs in WAL mode so readers never wait for the writer,
// and the bridge lets one writer at a time hold the write lock, which is what
// keeps ordinary concurrent load free of "database is locked". Another
// process's lock fails a statement with 55P03 after busy_timeout, and a file
// replaced or removed under the proxy is noticed before the next statement
// (file.go).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/xconnproxy/xconnproxy/backends/bridge"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

// Config says which database to open.
type Config struct {
	// Path is the database file. "" or ":memory:" opens an in-memory
	// database, private to this backend and shared by its sessions.
	Path string
	// BusyTimeout is how long a statement waits for a lock held by another
	// process, and how long a writer waits for the bridge's write lock.
	// Zero means 5 seconds.
	BusyTimeout time.Duration
	// ReadOnly opens the file read-only (mode=ro).
	ReadOnly bool
	// Pragmas are extra PRAGMA statements run on every new connection, as
	// "name(value)" (modernc's _pragma syntax), e.g. "cache_size(-20000)".
	Pragmas []string

	// mustExist opens the file without creating it (mode=rw): once the
	// backend has opened its file, a missing file is an error, not a new
	// empty database.
	mustExist bool
}

// DefaultBusyTimeout is Config.BusyTimeout's default.
const DefaultBusyTimeout = 5 * time.Second

var memSeq atomic.Int64

// DSN returns the modernc data source name for cfg.
func (cfg Config) DSN() string {
	busy := cfg.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	for _, p := range cfg.Pragmas {
		q.Add("_pragma", p)
	}
	if cfg.Path == "" || cfg.Path == ":memory:" {
		// The memdb VFS shares a database whose name starts with "/"
		// between the connections of this process, and frees it when the
		// last one closes.
		q.Set("vfs", "memdb")
		return fmt.Sprintf("file:/xconnproxy-mem-%d?%s", memSeq.Add(1), q.Encode())
	}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	switch {
	case cfg.ReadOnly:
		q.Set("mode", "ro")
	case cfg.mustExist:
		q.Set("mode", "rw")
	}
	return "file:" + (&url.URL{Path: cfg.Path}).EscapedPath() + "?" + q.Encode()
}

// Open opens the database and checks that it is usable.
func Open(ctx context.Context, cfg Config) (*bridge.Backend, error) {
	memory := cfg.Path == "" || cfg.Path == ":memory:"
	var db *sql.DB
	if memory {
		var err error
		if db, err = sql.Open(driverName, cfg.DSN()); err != nil {
			return nil, err
		}
	} else {
		// A file can be replaced under the proxy: see file.go.
		db = sql.OpenDB(newFileConnector(catalogDriver, cfg))
	}
	busy := cfg.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	d := Dialect{path: cfg.Path, busy: busy}
	if memory {
		// Keep one connection open for the backend's life, or the
		// in-memory database vanishes between sessions.
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
	}
	db.SetMaxIdleConns(8)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, d.Error(err)
	}
	return bridge.New(db, d, bridge.Options{SerializeWrites: true, LockTimeout: busy}), nil
}

// OIDs the type inference compares with.
const (
	int8OID    = pgtype.Int8OID
	boolOID    = pgtype.BoolOID
	float8OID  = pgtype.Float8OID
	numericOID = pgtype.NumericOID
)

// Dialect adapts the bridge to SQLite.
type Dialect struct {
	path string        // the database file, named in lock errors ("" in memory)
	busy time.Duration // busy_timeout, named in lock errors
}

var _ bridge.Dialect = Dialect{}

// Name is the product name.
func (Dialect) Name() string { return "SQLite" }

// Version asks SQLite.
func (Dialect) Version(ctx context.Context, conn *sql.Conn) (string, error) {
	var v string
	err := conn.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&v)
	return v, err
}

// Rewrite turns PostgreSQL's :: casts into SQLite's (see casts.go). $n is
// left as it is: SQLite reads $1 as a parameter name and the driver binds it
// to the argument with ordinal 1.
func (Dialect) Rewrite(q string) (string, []int) { return rewriteCasts(q), nil }

// Columns prepares query without stepping it.
func (Dialect) Columns(ctx context.Context, conn *sql.Conn, query string) ([]bridge.Column, error) {
	var cols []bridge.Column
	err := conn.Raw(func(dc any) error {
		ci, ok := dc.(interface {
			ColumnInfo(string) ([]sqlite.ColumnInfo, error)
		})
		if !ok {
			return fmt.Errorf("sqlite driver cannot describe statements (%T)", dc)
		}
		info, err := ci.ColumnInfo(query)
		if err != nil {
			return err
		}
		types := make([]string, len(info))
		for i, c := range info {
			types[i] = c.DeclType
		}
		inferTypes(query, types, func(q string) ([]string, error) {
			info, err := ci.ColumnInfo(q)
			out := make([]string, len(info))
			for i, c := range info {
				out[i] = c.DeclType
			}
			return out, err
		})
		for i, c := range info {
			cols = append(cols, bridge.Column{Name: c.Name, DBType: types[i]})
		}
		return nil
	})
	return cols, err
}

// ParamTypes infers parameter types from the columns they meet.
func (Dialect) ParamTypes(ctx context.Context, conn *sql.Conn, query string, n int) ([]string, error) {
	var out []string
	err := conn.Raw(func(dc any) error {
		ci, ok := dc.(interface {
			ColumnInfo(string) ([]sqlite.ColumnInfo, error)
		})
		if !ok {
			return fmt.Errorf("sqlite driver cannot describe statements (%T)", dc)
		}
		out = paramTypes(query, n, func(q string) ([]string, error) {
			info, err := ci.ColumnInfo(q)
			types := make([]string, len(info))
			for i, c := range info {
				types[i] = c.DeclType
			}
			return types, err
		})
		return nil
	})
	return out, err
}

// TypeOID maps a declared type to a PostgreSQL type, following SQLite's
// affinity rules (section 3.1 of "Datatypes In SQLite") and refining them
// where the declared name says more (BOOLEAN, DATE, DATETIME...).
func (Dialect) TypeOID(decl string) uint32 {
	t := strings.ToUpper(strings.TrimSpace(decl))
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	switch t {
	case "":
		return 0 // an expression: typed by its values
	case "BOOL", "BOOLEAN":
		return pgtype.BoolOID
	case "DATE":
		return pgtype.DateOID
	case "DATETIME", "TIMESTAMP":
		return pgtype.TimestampOID
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return pgtype.TimestamptzOID
	case "JSON":
		return pgtype.JSONOID
	case "JSONB":
		return pgtype.JSONBOID
	}
	switch {
	case strings.Contains(t, "INT"):
		return pgtype.Int8OID
	case strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"), strings.Contains(t, "TEXT"):
		return pgtype.TextOID
	case strings.Contains(t, "BLOB"), t == "BYTEA":
		return pgtype.ByteaOID
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"):
		return pgtype.Float8OID
	case strings.HasPrefix(t, "NUMERIC"), strings.HasPrefix(t, "DECIMAL"):
		return pgtype.NumericOID
	}
	return pgtype.TextOID
}

// BeginSQL: a transaction known to write takes SQLite's write lock at once
// (IMMEDIATE), so it can never fail later with SQLITE_BUSY_SNAPSHOT; the
// others start deferred and take it at their first write.
func (Dialect) BeginSQL(immediate bool) string {
	if immediate {
		return "BEGIN IMMEDIATE"
	}
	return "BEGIN DEFERRED"
}

// SQLite result codes (extended codes are on, see sqlite3_extended_result_codes).
const (
	codeConstraintCheck      = sqlite3.SQLITE_CONSTRAINT | 1<<8
	codeConstraintForeignKey = sqlite3.SQLITE_CONSTRAINT | 3<<8
	codeConstraintNotNull    = sqlite3.SQLITE_CONSTRAINT | 5<<8
	codeConstraintPrimaryKey = sqlite3.SQLITE_CONSTRAINT | 6<<8
	codeConstraintUnique     = sqlite3.SQLITE_CONSTRAINT | 8<<8
	codeBusySnapshot         = sqlite3.SQLITE_BUSY | 2<<8
)

// SQLITE_ERROR covers every SQL-level mistake; only its message tells them
// apart, so the message decides the SQLSTATE for that one code.
var messageCodes = []struct {
	prefix, code string
}{
	{"no such table", pgcode.UndefinedTable},
	{"no such column", pgcode.UndefinedColumn},
	{"no such function", pgcode.UndefinedFunction},
	{"no such savepoint", pgcode.InvalidSavepointSpecification},
	{"ambiguous column name", pgcode.AmbiguousColumn},
	{"duplicate column name", pgcode.DuplicateColumn},
	{"incomplete input", pgcode.SyntaxError},
	{"unrecognized token", pgcode.SyntaxError},
	{"near ", pgcode.SyntaxError},
	{"wrong number of arguments", pgcode.UndefinedFunction},
	{"cannot start a transaction within a transaction", pgcode.ActiveSQLTransaction},
	{"cannot commit - no transaction is active", pgcode.NoActiveSQLTransaction},
	{"attempt to write a readonly database", pgcode.ReadOnlySQLTransaction},
}

var alreadyExists = regexp.MustCompile(`^(table|index|view|trigger) \S+ already exists`)

// Error maps a modernc error to the nearest SQLSTATE, keeping SQLite's own
// message.
func (d Dialect) Error(err error) *pgcode.Error {
	var pe *pgcode.Error
	if errors.As(err, &pe) {
		return pe
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return pgcode.New(pgcode.InternalError, err.Error())
	}
	msg := message(se.Error())
	code := se.Code()
	switch code {
	case codeConstraintUnique, codeConstraintPrimaryKey:
		return pgcode.New(pgcode.UniqueViolation, msg)
	case codeConstraintNotNull:
		return pgcode.New(pgcode.NotNullViolation, msg)
	case codeConstraintForeignKey:
		return pgcode.New(pgcode.ForeignKeyViolation, msg)
	case codeConstraintCheck:
		return pgcode.New(pgcode.CheckViolation, msg)
	case codeBusySnapshot:
		// A transaction that read, then tried to write after another
		// session committed: its snapshot is stale. PostgreSQL's
		// REPEATABLE READ says the same, and the answer is to retry.
		return pgcode.WithHint(pgcode.SerializationFailure,
			"could not serialize access due to concurrent update",
			"The transaction read data another session has since changed; retry the whole transaction.")
	}
	switch code & 0xff {
	case sqlite3.SQLITE_CONSTRAINT:
		return pgcode.New(pgcode.IntegrityConstraintViolation, msg)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return d.lockError(msg)
	case sqlite3.SQLITE_INTERRUPT:
		return pgcode.New(pgcode.QueryCanceled, "canceling statement due to user request")
	case sqlite3.SQLITE_READONLY:
		return pgcode.New(pgcode.ReadOnlySQLTransaction, msg)
	case sqlite3.SQLITE_FULL:
		return pgcode.New(pgcode.DiskFull, msg)
	case sqlite3.SQLITE_NOMEM:
		return pgcode.New(pgcode.OutOfMemory, msg)
	case sqlite3.SQLITE_IOERR:
		return pgcode.New(pgcode.IOError, msg)
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return pgcode.New(pgcode.DataCorrupted, msg)
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
		return pgcode.New(pgcode.SQLClientUnableToEstablishConn, msg)
	case sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE:
		return pgcode.New(pgcode.ProgramLimitExceeded, msg)
	case sqlite3.SQLITE_MISMATCH:
		return pgcode.New(pgcode.DatatypeMismatch, msg)
	}
	for _, m := range messageCodes {
		if strings.HasPrefix(msg, m.prefix) {
			return pgcode.New(m.code, msg)
		}
	}
	if alreadyExists.MatchString(msg) {
		return pgcode.New(pgcode.DuplicateTable, msg)
	}
	return pgcode.New("42000", msg)
}

// message strips modernc's decoration ("SQL logic error: ... (1)") down to
// SQLite's own message.
func message(s string) string {
	s = strings.TrimSuffix(s, " (SQLITE_BUSY)")
	if i := strings.LastIndex(s, " ("); i >= 0 && strings.HasSuffix(s, ")") {
		if _, err := strconv.Atoi(s[i+2 : len(s)-1]); err == nil {
			s = s[:i]
		}
	}
	if i := strings.Index(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

// lockError is the error for SQLITE_BUSY: another process (sqlite3, a
// backup, a migration) held a lock on the file for longer than busy_timeout.
// The session goes on; the statement can be run again.
func (d Dialect) lockError(msg string) *pgcode.Error {
	if d.path == "" {
		return pgcode.WithHint(pgcode.LockNotAvailable, msg,
			"Another connection holds a lock on the database; retry when it has finished.")
	}
	wait := d.busy
	if wait <= 0 {
		wait = DefaultBusyTimeout
	}
	return pgcode.WithHint(pgcode.LockNotAvailable,
		fmt.Sprintf("%s: another process holds a lock on the database file %q", msg, d.path),
		fmt.Sprintf("The statement waited %s (the connection's timeout) for it. Retry when the other process has finished its transaction, or raise timeout in the connection's URL.", wait))
}

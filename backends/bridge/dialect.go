package bridge

import (
	"context"
	"database/sql"

	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// A Dialect is what differs between the data sources behind the bridge. The
// protocol state machine, transactions, session settings and value encoding
// are the bridge's; a dialect only adapts SQL text, types and errors.
type Dialect interface {
	// Name is the data source's product name for version() and logs ("SQLite").
	Name() string
	// Version returns the data source's version string.
	Version(ctx context.Context, conn *sql.Conn) (string, error)
	// Rewrite adapts a client statement's $n placeholders for the driver.
	// order lists, for each placeholder in the result, the 1-based client
	// parameter it takes; nil means the arguments are passed as they are.
	Rewrite(query string) (out string, order []int)
	// Columns describes the result columns of query without running it;
	// it returns no columns for a statement that returns no rows.
	Columns(ctx context.Context, conn *sql.Conn, query string) ([]Column, error)
	// ParamTypes returns, for parameters 1..n of query, the declared type
	// of the column each one meets ("" when unknown), used to read
	// parameters the client sent without a type as PostgreSQL would.
	ParamTypes(ctx context.Context, conn *sql.Conn, query string, n int) ([]string, error)
	// TypeOID maps a declared column type (as the driver reports it) to a
	// PostgreSQL type OID; 0 means the column is typed by its values.
	TypeOID(dbType string) uint32
	// Error maps a driver error to the nearest PostgreSQL error.
	Error(err error) *pgcode.Error
	// BeginSQL is the statement that starts a transaction. immediate asks
	// for the data source's write lock at once (the transaction is known
	// to write); otherwise the transaction starts without it.
	BeginSQL(immediate bool) string
}

// Column is a result column as a dialect describes it.
type Column struct {
	Name   string
	DBType string // declared type, "" for expressions
}

// The interfaces below are optional: a Dialect implements those its data
// source needs, and the bridge checks for them with a type assertion.

// A SessionPasser is a Dialect whose data source has SHOW and SET
// statements of its own (MySQL's SHOW TABLES, SET SESSION
// group_concat_max_len = ...). The bridge answers SHOW and SET itself for
// the parameters PostgreSQL has; for any other name it asks the dialect
// whether the statement should run on the data source instead of failing
// with 42704 as in PostgreSQL.
type SessionPasser interface {
	// PassShow reports whether SHOW name runs on the data source.
	PassShow(name string) bool
	// PassSet reports whether SET name = value runs on the data source.
	PassSet(name string) bool
}

// A TxStarter is a Dialect that starts transactions with their modes:
// the bridge then runs the statements it returns instead of BeginSQL.
// isolation is the transaction's isolation level as PostgreSQL names it
// ("read committed", "serializable", ...); readOnly says READ ONLY.
type TxStarter interface {
	BeginStatements(readOnly bool, isolation string) []string
}

// An ImplicitCommitter is a Dialect whose data source commits the open
// transaction by itself before some statements (MySQL does before DDL).
// After such a statement succeeds inside a transaction block, the bridge
// starts a new transaction so that the block goes on as the client
// believes, and warns the client that the work before the statement was
// committed.
type ImplicitCommitter interface {
	CommitsImplicitly(info sqltext.Info, query string) bool
}

// A StatementChecker is a Dialect that refuses some statements before they
// reach the data source (MySQL: SET of the session variables the proxy
// relies on, in any form). CheckStatement is called for every statement
// the bridge would send to the data source; a non-nil error fails it.
type StatementChecker interface {
	CheckStatement(info sqltext.Info, query string) error
}

// An IdentQuoter is a Dialect whose data source quotes identifiers in its
// own way (MySQL: backticks). The bridge then writes savepoint names itself,
// from the name PostgreSQL's rules give (quoted kept, unquoted lower-cased),
// instead of sending the client's text.
type IdentQuoter interface {
	QuoteIdent(name string) string
}

// A FailedCommitter is an ImplicitCommitter whose data source commits the
// open transaction before a statement that then fails (MySQL: DROP TABLE
// of a missing table). CommittedBeforeError reports whether err, the
// statement's error, came after that commit.
type FailedCommitter interface {
	CommittedBeforeError(err error) bool
}

// A Normalizer is a Dialect whose data source reads some text differently
// from PostgreSQL's scanner (MySQL's "--x" and "#" comments). Normalize
// rewrites a client's text, before the bridge splits or classifies it, so
// that the scanner and the data source agree.
type Normalizer interface {
	Normalize(text string) string
}

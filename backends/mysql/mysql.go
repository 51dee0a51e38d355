package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/backends/bridge"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// Backend is a MySQL or MariaDB server behind the bridge.
type Backend struct {
	*bridge.Backend
	cfg Config
}

var _ backends.Backend = (*Backend)(nil)

// Open connects once to check the server and its credentials, and returns
// the backend. Sessions then take connections from a pool of at most
// cfg.PoolSize.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	dc, err := cfg.driverConfig()
	if err != nil {
		return nil, err
	}
	inner, err := gomysql.NewConnector(dc)
	if err != nil {
		return nil, err
	}
	c := &connector{inner: inner, cfg: &cfg, schema: newSchema(cfg.MariaDB)}
	c.mariadb.Store(cfg.MariaDB)
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(cfg.poolSize())
	db.SetMaxIdleConns(cfg.poolSize())
	db.SetConnMaxIdleTime(cfg.idleTimeout())
	d := &Dialect{c: c}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, d.Error(err)
	}
	opts := bridge.Options{ZonelessTimestamps: true, RetryTimeout: cfg.retryTimeout(), MaxIdle: cfg.poolSize()}
	return &Backend{Backend: bridge.New(db, d, opts), cfg: cfg}, nil
}

// Open starts a client session on a pooled connection, waiting at most
// PoolTimeout for one to be free, or for the server to come back while it
// cannot be reached (at most RetryTimeout).
func (b *Backend) Open(ctx context.Context, p backends.SessionParams) (backends.Session, error) {
	octx, cancel := context.WithTimeout(ctx, b.cfg.poolTimeout())
	defer cancel()
	s, err := b.Backend.Open(octx, p)
	if err != nil && b.Backend.Unreachable() {
		return nil, err // the server is down, not the pool full
	}
	if err != nil && ctx.Err() == nil && errors.Is(octx.Err(), context.DeadlineExceeded) {
		return nil, &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.TooManyConnections,
			Message: fmt.Sprintf("no server connection for %q became free within %s: all %d are in use",
				b.cfg.Name, b.cfg.poolTimeout(), b.cfg.poolSize()),
			Hint: "Raise pool_size or pool_timeout for this connection, or make clients hold connections for less time."}
	}
	return s, err
}

// Dialect adapts the bridge to MySQL and MariaDB.
type Dialect struct {
	c *connector
}

var (
	_ bridge.Dialect           = (*Dialect)(nil)
	_ bridge.SessionPasser     = (*Dialect)(nil)
	_ bridge.TxStarter         = (*Dialect)(nil)
	_ bridge.ImplicitCommitter = (*Dialect)(nil)
	_ bridge.StatementChecker  = (*Dialect)(nil)
	_ bridge.Replayer          = (*Dialect)(nil)
	_ bridge.IdentQuoter       = (*Dialect)(nil)
	_ bridge.FailedCommitter   = (*Dialect)(nil)
	_ bridge.Normalizer        = (*Dialect)(nil)
)

// Name is "MariaDB" or "MySQL", as the server said.
func (d *Dialect) Name() string {
	if d.c != nil && d.c.mariadb.Load() {
		return "MariaDB"
	}
	return "MySQL"
}

// Version asks the server.
func (d *Dialect) Version(ctx context.Context, conn *sql.Conn) (string, error) {
	var v string
	err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v)
	return v, err
}

// Rewrite turns $n placeholders into MySQL's ?, in order, outside
// strings, quoted identifiers and comments (sqltext.Rewrite). The session
// runs with NO_BACKSLASH_ESCAPES, so MySQL ends every string where the
// proxy's scanner does.
func (d *Dialect) Rewrite(q string) (string, []int) {
	out, order, _ := sqltext.Rewrite(q, sqltext.StyleQuestion)
	return out, order
}

// Columns describes a statement's result without running it, from the
// prepare response (MariaDB 10.6 and later). Where the server gives no
// description, a statement that only reads is run once with NULL
// parameters to see its columns; one that writes is never run, and fails.
func (d *Dialect) Columns(ctx context.Context, sc *sql.Conn, query string) ([]bridge.Column, error) {
	var cols []bridge.Column
	err := sc.Raw(func(dc any) error {
		cn, ok := dc.(*conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		var err error
		cols, err = cn.describe(ctx, query)
		return err
	})
	return cols, err
}

// ParamTypes types parameters by the columns they meet (see params.go).
func (d *Dialect) ParamTypes(ctx context.Context, sc *sql.Conn, query string, n int) ([]string, error) {
	var out []string
	err := sc.Raw(func(dc any) error {
		cn, ok := dc.(*conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		out = cn.paramTypes(ctx, query, n)
		return nil
	})
	return out, err
}

// TypeOID maps a column type name to a PostgreSQL type (types.go).
func (d *Dialect) TypeOID(name string) uint32 { return typeOID(name) }

// BeginSQL starts a transaction; BeginStatements is used instead, with the
// transaction's modes.
func (d *Dialect) BeginSQL(bool) string { return "START TRANSACTION" }

// BeginStatements starts a transaction with its isolation level (the
// session's default is READ COMMITTED, PostgreSQL's) and READ ONLY.
func (d *Dialect) BeginStatements(readOnly bool, isolation string) []string {
	var out []string
	switch isolation {
	case "", "read committed":
	default:
		out = append(out, "SET TRANSACTION ISOLATION LEVEL "+strings.ToUpper(isolation))
	}
	if readOnly {
		return append(out, "START TRANSACTION READ ONLY")
	}
	return append(out, "START TRANSACTION")
}

// showWords are MySQL's and MariaDB's one-word SHOW statements. SHOW of
// any other single name is PostgreSQL's SHOW parameter (42704 when the
// name is unknown); SHOW with more words (SHOW CREATE TABLE t, SHOW
// COLUMNS FROM t) always reaches the server.
var showWords = map[string]bool{
	"tables": true, "databases": true, "schemas": true, "warnings": true, "errors": true, "variables": true,
	"status": true, "processlist": true, "engines": true, "grants": true, "plugins": true, "privileges": true,
	"charset": true, "collation": true, "profiles": true, "profile": true, "events": true, "triggers": true,
	"replicas": true, "slaves": true, "authors": true, "contributors": true, "locales": true,
}

// PassShow sends MySQL's own one-word SHOW statements (SHOW TABLES, SHOW
// WARNINGS...) to the server.
func (d *Dialect) PassShow(name string) bool { return showWords[strings.ToLower(name)] }

// PassSet sends SET of MySQL's session variables (group_concat_max_len,
// foreign_key_checks, ...) to the server. Those the proxy relies on are
// refused there by CheckStatement, which sees every form of SET.
func (d *Dialect) PassSet(name string) bool { return true }

// implicitCommits are the commands, besides DDL, before which MySQL
// commits the open transaction ("Statements That Cause an Implicit
// Commit" in the MySQL manual).
var implicitCommits = map[string]bool{
	"TRUNCATE TABLE": true, "LOCK TABLE": true, "UNLOCK": true, "ANALYZE": true, "CHECK": true,
	"OPTIMIZE": true, "REPAIR": true, "FLUSH": true, "RENAME": true, "CACHE": true, "LOAD": true,
}

// CommitsImplicitly reports the statements before which MySQL commits the
// open transaction: DDL (not of temporary tables) and the commands above.
func (d *Dialect) CommitsImplicitly(info sqltext.Info, query string) bool {
	if info.Kind == sqltext.DDL {
		toks := sqltext.Significant(query)
		for i := 1; i < len(toks) && i < 4; i++ {
			if toks[i].Kind == sqltext.TokIdent && strings.EqualFold(toks[i].Text, "TEMPORARY") {
				return false
			}
		}
		return !strings.HasPrefix(info.Command, "SELECT") // SELECT ... INTO @var
	}
	return implicitCommits[info.Command]
}

// CommittedBeforeError reports whether MySQL committed the open
// transaction before a statement that CommitsImplicitly and failed with
// err: it does as soon as the statement has been parsed, so every error
// but a syntax error comes after the commit.
func (d *Dialect) CommittedBeforeError(err error) bool {
	var me *gomysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1064, 1149: // ER_PARSE_ERROR, ER_SYNTAX_ERROR
			return false
		}
	}
	return true
}

// describe describes a statement (see Dialect.Columns).
func (cn *conn) describe(ctx context.Context, query string) ([]bridge.Column, error) {
	cn.settle()
	if info := sqltext.Classify(query); info.Returning {
		return cn.describeReturning(ctx, query)
	}
	st, err := cn.inner.(driver.ConnPrepareContext).PrepareContext(context.WithoutCancel(ctx), query)
	var me *gomysql.MySQLError
	if errors.As(err, &me) && me.Number == 1295 && safeToRun(query) {
		return cn.describeByRunning(ctx, &textStmt{cn: cn, query: query, info: sqltext.Classify(query)}, query)
	}
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if fields, ok := stmtFields(st); ok && cn.meta && len(fields) > 0 {
		json := cn.jsonColumns(ctx, query)
		cols := make([]bridge.Column, len(fields))
		for i, f := range fields {
			name := f.typeName()
			if name == "TEXT" && json[strings.ToLower(f.name)] {
				name = "JSON"
			}
			cols[i] = bridge.Column{Name: f.name, DBType: name}
		}
		return cols, nil
	}
	if cn.meta && !rowsWord(query) {
		return nil, nil // described: no result (INSERT ... RETURNING has columns above)
	}
	if !safeToRun(query) {
		return nil, pgcode.WithHint(pgcode.FeatureNotSupported,
			fmt.Sprintf("cannot describe this %s statement without running it, and it may write", cn.c.product()),
			"Run it with the simple protocol, or without a prior Describe (pgx: QueryExecModeExec).")
	}
	if info := sqltext.Classify(query); info.Kind == sqltext.Read && (info.Command == "SELECT" || info.Command == "VALUES") {
		// A derived table with LIMIT 0 has the statement's columns and, for
		// most statements, costs no reading at all.
		wrapped := "SELECT * FROM (" + query + ") AS xconnproxy_describe LIMIT 0"
		if ws, err := cn.inner.(driver.ConnPrepareContext).PrepareContext(context.WithoutCancel(ctx), wrapped); err == nil {
			cols, err := cn.describeByRunning(ctx, ws, query)
			ws.Close()
			if err == nil {
				return cols, nil
			}
		}
	}
	return cn.describeByRunning(ctx, st, query)
}

// describeReturning describes INSERT/REPLACE/DELETE ... RETURNING list
// as SELECT list FROM the table, which has the same columns and which
// describing may run: MariaDB's prepare response for the statement itself
// has none.
func (cn *conn) describeReturning(ctx context.Context, query string) ([]bridge.Column, error) {
	toks := sqltext.Significant(query)
	depth, at := 0, -1
	for i, t := range toks {
		switch {
		case t.Text == "(":
			depth++
		case t.Text == ")":
			depth--
		case depth == 0 && t.Kind == sqltext.TokIdent && strings.EqualFold(t.Text, "RETURNING"):
			at = i
		}
	}
	refs := tableRefs(toks)
	if at < 0 || len(refs) == 0 {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "cannot describe the RETURNING clause of this statement")
	}
	list := strings.TrimRight(strings.TrimSpace(query[toks[at].End():]), ";")
	table := "`" + strings.ReplaceAll(refs[0].name, "`", "``") + "`"
	return cn.describe(ctx, "SELECT "+list+" FROM "+table+" LIMIT 0")
}

// describeByRunning runs a statement that only reads with NULL parameters
// and returns its result's columns; the rows are dropped unread.
func (cn *conn) describeByRunning(ctx context.Context, st driver.Stmt, query string) ([]bridge.Column, error) {
	n := st.NumInput()
	if n < 0 {
		n = 0
	}
	args := make([]driver.NamedValue, n)
	for i := range args {
		args[i].Ordinal = i + 1
	}
	json := cn.jsonColumns(ctx, query) // before the query: the connection is busy while its rows are read
	var r driver.Rows
	err := cn.guard(ctx, func(ctx context.Context) (err error) {
		r, err = st.(driver.StmtQueryContext).QueryContext(ctx, args)
		return err
	})
	if err != nil {
		return nil, err
	}
	rs := cn.newRows(ctx, r, json)
	defer rs.Close()
	if len(rs.cols) == 0 {
		return nil, nil
	}
	cols := make([]bridge.Column, len(rs.cols))
	for i := range cols {
		cols[i] = bridge.Column{Name: rs.cols[i], DBType: rs.types[i]}
	}
	return cols, nil
}

// safeToRun reports statements Describe may run to see their columns:
// reads, SHOW, DESCRIBE, EXPLAIN, and locking reads (SELECT ... FOR
// UPDATE), which write nothing.
func safeToRun(query string) bool {
	info := sqltext.Classify(query)
	switch {
	case info.ReadOnly:
		return true
	case info.Command == "SHOW" || info.Command == "DESCRIBE" || info.Command == "DESC":
		return true
	case info.Command == "EXPLAIN":
		return info.Kind == sqltext.Read
	case info.Command == "SELECT" && info.Kind == sqltext.Write:
		return !info.Returning
	}
	return false
}

// paramTypes types a statement's parameters from the columns they meet.
func (cn *conn) paramTypes(ctx context.Context, query string, n int) []string {
	cn.settle()
	refs := tableRefs(sqltext.Significant(query))
	tables, _ := cn.c.schema.lookup(ctx, cn.run, refNames(refs))
	return paramTypes(query, n, tables)
}

func (c *connector) product() string {
	if c.mariadb.Load() {
		return "MariaDB"
	}
	return "MySQL"
}

// QuoteIdent quotes a name with backticks, doubling those inside.
func (d *Dialect) QuoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Replayable reports a statement that may run again on a new connection
// after the first was lost under it: a read, by its text, that locks
// nothing and calls nothing with a side effect (GET_LOCK, SLEEP, RAND,
// LAST_INSERT_ID, functions the classifier does not know, ...). The
// cache's rule is used: a result that may be served twice may be computed
// twice.
func (d *Dialect) Replayable(query string) bool {
	return sqltext.Cacheability(query, sqltext.MySQL).Cacheable
}

package mysql

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// The proxy's connections go through a thin layer over go-sql-driver's,
// which database/sql sees as the driver. It exists for what the bridge
// needs from a MySQL connection and the driver does not give:
//
//   - session setup on every new connection (sql_mode with
//     NO_BACKSLASH_ESCAPES, time zone, READ COMMITTED), and the server's
//     connection id;
//   - one result at a time: MySQL cannot start a statement while another's
//     rows are unread, and go-sql-driver then breaks the connection. A
//     bridged session may leave a cursor open (Execute with a row limit,
//     DECLARE ... FETCH) and run other statements meanwhile, as PostgreSQL
//     allows, so before any new command the open result's remaining rows
//     are read into memory and served from there;
//   - cancellation that keeps the connection: go-sql-driver closes the
//     connection when a statement's context ends. Here the driver gets a
//     context that never ends, and the end of the real one sends KILL QUERY
//     from a second connection, after which the session goes on (57014), as
//     a PostgreSQL cancel does;
//   - richer column types (TINYINT(1), BIT(1), MariaDB's JSON; see
//     fields.go and schema.go) and statement descriptions without running
//     the statement;
//   - connections whose session state a client changed (USE, SET, user
//     variables, temporary tables, locks) are closed when the client
//     leaves instead of going back to the pool, so the next client starts
//     clean, as with PostgreSQL's DISCARD ALL; the others have
//     LAST_INSERT_ID() reset when the next client takes them
//     (ResetSession), and DISCARD ALL discards the connection (Discard).

// connector opens the proxy's connections.
type connector struct {
	inner  driver.Connector
	cfg    *Config
	schema *schema
	// mariadb is set once a connection has seen the server's version.
	mariadb atomic.Bool
}

func (c *connector) Driver() driver.Driver { return c.inner.Driver() }

// Connect opens a connection and sets its session up, all within
// ConnectTimeout: the driver bounds only the dial with it, and a server
// that accepts the connection and then says nothing would hold the login
// handshake forever.
func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	timeout := c.cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dc, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	cn := &conn{inner: dc, c: c}
	if lt := c.cfg.maxLifetime(); lt > 0 {
		cn.expires = time.Now().Add(backends.Lifetime(lt))
	}
	if err := cn.setup(ctx); err != nil {
		dc.Close()
		return nil, err
	}
	return cn, nil
}

// conn is one server connection. database/sql uses it from one goroutine
// at a time (it holds the connection's lock around every driver call), which
// is what makes open and dirty safe without a lock of their own.
type conn struct {
	inner driver.Conn
	c     *connector
	id    int64  // CONNECTION_ID(), for KILL QUERY
	meta  bool   // prepare responses carry the result's columns (MariaDB's cache metadata)
	open  *rows  // the result being read, if any
	dirty string // why the session state differs from a fresh connection's; "" when it does not
	used  bool   // a client statement ran since the last ResetSession
	// expires: the connection is closed instead of being handed out or
	// kept idle past this (MaxLifetime); zero never.
	expires time.Time
}

// expired reports a connection past its lifetime.
func (cn *conn) expired() bool {
	return !cn.expires.IsZero() && time.Now().After(cn.expires)
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

// setup runs the proxy's session settings on a new connection.
func (cn *conn) setup(ctx context.Context) error {
	rs, err := cn.run(ctx, "SELECT CONNECTION_ID(), VERSION()")
	if err != nil {
		return err
	}
	if len(rs) != 1 || len(rs[0]) != 2 {
		return errors.New("SELECT CONNECTION_ID() returned no row")
	}
	if cn.id, err = strconv.ParseInt(rs[0][0], 10, 64); err != nil {
		return fmt.Errorf("connection id %q: %w", rs[0][0], err)
	}
	mariadb := strings.Contains(strings.ToLower(rs[0][1]), "mariadb")
	cn.c.mariadb.Store(mariadb)
	cn.c.schema.mariadb.Store(mariadb)
	if caps := structField(cn.inner, "extCapabilities"); caps.IsValid() && caps.CanUint() {
		cn.meta = caps.Uint()&cacheMetadata != 0
	}
	for _, q := range cn.c.cfg.sessionSetup(mariadb) {
		if err := cn.exec(ctx, q); err != nil {
			return fmt.Errorf("session setup (%s): %w", q, err)
		}
	}
	return nil
}

// cacheMetadata is MariaDB's MARIADB_CLIENT_CACHE_METADATA capability bit
// (go-sql-driver's clientCacheMetadata), under which prepare responses
// carry the result's column definitions.
const cacheMetadata = 1 << 4

// sessionSetup is what every new connection runs: see the package comment
// for why each setting.
func (cfg *Config) sessionSetup(mariadb bool) []string {
	mode := "CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'NO_BACKSLASH_ESCAPES')"
	if cfg.SQLMode != "" {
		mode = "'" + cfg.SQLMode + ",NO_BACKSLASH_ESCAPES'"
	}
	tz := cfg.TimeZone
	if tz == "" {
		tz = DefaultTimeZone
	}
	isolation := "transaction_isolation"
	if mariadb {
		isolation = "tx_isolation" // the name MariaDB has had longest (transaction_isolation since 11.1)
	}
	out := []string{fmt.Sprintf("SET SESSION sql_mode = %s, time_zone = '%s', %s = 'READ-COMMITTED'", mode, tz, isolation)}
	if cfg.InitCommand != "" {
		out = append(out, cfg.InitCommand)
	}
	return out
}

// exec runs a statement without parameters on the driver connection.
func (cn *conn) exec(ctx context.Context, q string) error {
	_, err := cn.inner.(driver.ExecerContext).ExecContext(context.WithoutCancel(ctx), q, nil)
	return err
}

// run runs a query without parameters on the driver connection and
// returns its rows as text (NULL as "").
func (cn *conn) run(ctx context.Context, q string) ([][]string, error) {
	cn.settle()
	rs, err := cn.inner.(driver.QueryerContext).QueryContext(context.WithoutCancel(ctx), q, nil)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	vals := make([]driver.Value, len(rs.Columns()))
	var out [][]string
	for {
		if err := rs.Next(vals); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case []byte:
				row[i] = string(x)
			case nil:
			default:
				row[i] = fmt.Sprint(x)
			}
		}
		out = append(out, row)
	}
}

// settle reads the rest of the open result into memory, so that the
// connection can take a new command.
func (cn *conn) settle() {
	if cn.open != nil {
		cn.open.buffer()
		cn.open = nil
	}
}

// note looks at a statement before it runs: DDL makes the cached schema
// stale; statements that change the session's state mark the connection
// dirty, so it is closed rather than reused by another client.
func (cn *conn) note(query string) sqltext.Info {
	info := sqltext.Classify(query)
	toks := sqltext.Significant(query)
	word := func(i int) string {
		if i < len(toks) && toks[i].Kind == sqltext.TokIdent {
			return strings.ToUpper(toks[i].Text)
		}
		return ""
	}
	temporary := word(1) == "TEMPORARY" || word(2) == "TEMPORARY" // CREATE [OR REPLACE] TEMPORARY TABLE, DROP TEMPORARY TABLE
	selectInto := strings.HasPrefix(info.Command, "SELECT")       // SELECT ... INTO @var is DDL to Classify
	if info.Kind == sqltext.DDL && !temporary && !selectInto {
		// Forget the cached schema now and again when the statement has
		// run (schemaChanged): a lookup in between may read the old one.
		cn.c.schema.invalidate()
	}
	cn.used = true
	if cn.dirty != "" {
		return info
	}
	switch info.Kind {
	case sqltext.Session:
		// SHOW reads; SET TRANSACTION is for the next transaction only.
		if info.Command != "SHOW" && !(word(0) == "SET" && word(1) == "TRANSACTION") {
			cn.dirty = info.Command
		}
	case sqltext.Other:
		switch info.Command {
		case "DESCRIBE", "DESC", "HELP", "ANALYZE", "CHECK", "CHECKSUM", "OPTIMIZE", "REPAIR", "DO":
		default:
			cn.dirty = info.Command
		}
	case sqltext.DDL:
		if temporary || selectInto {
			cn.dirty = info.Command
		}
	}
	for _, t := range toks {
		if cn.dirty != "" {
			break
		}
		if t.Kind == sqltext.TokOperator && strings.Contains(t.Text, ":=") ||
			t.Kind == sqltext.TokIdent && strings.EqualFold(t.Text, "GET_LOCK") {
			cn.dirty = t.Text
		}
	}
	return info
}

func (cn *conn) Prepare(query string) (driver.Stmt, error) {
	return cn.PrepareContext(context.Background(), query)
}

// PrepareContext prepares a statement with placeholders on the server. One
// without runs through the text protocol: a single round trip, where a
// server-side statement costs a prepare, an execute and a close, and the
// simple protocol sends every statement with its values written in; so does
// a statement MySQL cannot prepare (error 1295: CREATE PROCEDURE ... BEGIN
// ... END and the like).
func (cn *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	cn.settle()
	info := cn.note(query)
	text := func() *textStmt {
		ts := &textStmt{cn: cn, query: query, info: info}
		if info.Returning || rowsWord(query) {
			ts.json = cn.jsonColumns(ctx, query)
		}
		return ts
	}
	if !strings.Contains(query, "?") {
		return text(), nil
	}
	st, err := cn.inner.(driver.ConnPrepareContext).PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		var me *gomysql.MySQLError
		if errors.As(err, &me) && me.Number == 1295 {
			return text(), nil
		}
		return nil, err
	}
	s := &stmt{inner: st, cn: cn, query: query, info: info}
	if fields, ok := stmtFields(st); ok && cn.meta {
		s.fields, s.described = fields, true
	}
	s.rows = s.described && len(s.fields) > 0 || info.Returning || rowsWord(query)
	if s.rows {
		s.json = cn.jsonColumns(ctx, query)
	}
	return s, nil
}

// schemaChanged forgets the cached schema after a statement that may have
// changed it (see note) has run.
func (cn *conn) schemaChanged(info sqltext.Info) {
	if info.Kind == sqltext.DDL {
		cn.c.schema.invalidate()
	}
}

// rowsWord reports statements that return rows whatever a prepare
// response said (MariaDB describes SHOW and the table maintenance
// statements only when they run).
func rowsWord(query string) bool {
	w := strings.ToUpper(sqltext.FirstKeyword(query))
	switch w {
	case "SELECT", "WITH", "VALUES", "TABLE", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "HELP",
		"ANALYZE", "CHECK", "CHECKSUM", "OPTIMIZE", "REPAIR", "CALL", "HANDLER", "EXECUTE":
		return true
	}
	return false
}

// jsonColumns returns the lower-case names of the JSON columns of the
// tables a statement names, on MariaDB (whose results do not say JSON).
func (cn *conn) jsonColumns(ctx context.Context, query string) map[string]bool {
	if !cn.c.mariadb.Load() {
		return nil
	}
	refs := tableRefs(sqltext.Significant(query))
	if len(refs) == 0 {
		return nil
	}
	tables, err := cn.c.schema.lookup(ctx, cn.run, refNames(refs))
	if err != nil {
		slog.Debug("mysql: reading column types", "err", err)
	}
	var out map[string]bool
	for _, t := range tables {
		for _, c := range t.cols {
			if c.typ == "JSON" {
				if out == nil {
					out = map[string]bool{}
				}
				out[c.name] = true
			}
		}
	}
	return out
}

func (cn *conn) Close() error {
	cn.settle()
	return cn.inner.Close()
}

func (cn *conn) Begin() (driver.Tx, error) {
	return cn.BeginTx(context.Background(), driver.TxOptions{})
}

func (cn *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	cn.settle()
	return cn.inner.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// ExecContext runs a statement without parameters through the text
// protocol; with parameters, the driver's ErrSkip sends database/sql to
// PrepareContext.
func (cn *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cn.settle()
	info := cn.note(query)
	var res driver.Result
	err := cn.guard(ctx, func(ctx context.Context) (err error) {
		res, err = cn.inner.(driver.ExecerContext).ExecContext(ctx, query, args)
		return err
	})
	cn.schemaChanged(info)
	return upsertCount(query, res, err)
}

func (cn *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cn.settle()
	cn.note(query)
	json := cn.jsonColumns(ctx, query) // before the query: the connection is busy while its rows are read
	var r driver.Rows
	err := cn.guard(ctx, func(ctx context.Context) (err error) {
		r, err = cn.inner.(driver.QueryerContext).QueryContext(ctx, query, args)
		return err
	})
	if err != nil {
		return nil, err
	}
	return cn.newRows(ctx, r, json), nil
}

func (cn *conn) Ping(ctx context.Context) error {
	cn.settle()
	return cn.inner.(driver.Pinger).Ping(ctx)
}

// ResetSession runs when database/sql hands a pooled connection to its
// next user (the next client session). It refuses a connection a client
// has changed (database/sql then closes it and opens another), checks the
// others as the driver does, and forgets the previous client's
// LAST_INSERT_ID() (and with it @@identity), which no statement marks
// dirty: a new PostgreSQL session has no lastval() either.
func (cn *conn) ResetSession(ctx context.Context) error {
	if cn.dirty != "" || cn.expired() {
		return driver.ErrBadConn
	}
	if err := cn.inner.(driver.SessionResetter).ResetSession(ctx); err != nil {
		return err
	}
	if cn.used {
		if err := cn.exec(ctx, "DO LAST_INSERT_ID(0)"); err != nil {
			return driver.ErrBadConn
		}
		cn.used = false
	}
	return nil
}

// Alive reports whether the server is still there, without waiting: the
// driver's own liveness check (an idle server sends nothing, so an end of
// file or a reset waiting to be read means the connection is gone). A
// connection whose result is still being read is alive.
func (cn *conn) Alive(ctx context.Context) bool {
	if cn.open != nil {
		return true
	}
	return cn.inner.(driver.SessionResetter).ResetSession(ctx) == nil
}

// Discard marks the connection as changed, so that it is closed instead of
// going back to the pool: the bridge's DISCARD ALL then takes a fresh one,
// which drops temporary tables, user variables and every other session
// state with it.
func (cn *conn) Discard(reason string) {
	if cn.dirty == "" {
		cn.dirty = reason
	}
}

// IsValid keeps a changed connection out of the pool.
func (cn *conn) IsValid() bool {
	return cn.dirty == "" && !cn.expired() && cn.inner.(driver.Validator).IsValid()
}

func (cn *conn) CheckNamedValue(nv *driver.NamedValue) error {
	return cn.inner.(driver.NamedValueChecker).CheckNamedValue(nv)
}

// killTimeout bounds the KILL QUERY of a cancelled statement.
const killTimeout = 5 * time.Second

// guard runs f, a driver call, under a context the driver cannot cancel,
// and stops the statement with KILL QUERY when ctx ends. It returns only
// after a KILL it sent has completed, so that a KILL cannot reach the next
// statement of the connection.
func (cn *conn) guard(ctx context.Context, f func(context.Context) error) error {
	if ctx.Done() == nil {
		return f(ctx)
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		cn.kill()
	})
	err := f(context.WithoutCancel(ctx))
	if !stop() {
		<-done
	}
	return err
}

// kill sends KILL QUERY for this connection from a connection of its own.
func (cn *conn) kill() {
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	kc, err := cn.c.inner.Connect(ctx)
	if err != nil {
		slog.Debug("mysql: cancelling a statement", "err", err)
		return
	}
	defer kc.Close()
	if _, err := kc.(driver.ExecerContext).ExecContext(ctx, "KILL QUERY "+strconv.FormatInt(cn.id, 10), nil); err != nil {
		slog.Debug("mysql: cancelling a statement", "err", err)
	}
}

// stmt is a server-side prepared statement.
type stmt struct {
	inner     driver.Stmt
	cn        *conn
	query     string
	info      sqltext.Info
	fields    []field // the result's columns, as the prepare response gave them
	described bool    // fields is the prepare response's answer
	rows      bool    // the statement returns rows
	json      map[string]bool
}

var (
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

func (s *stmt) Close() error {
	s.cn.settle()
	return s.inner.Close()
}

// NumInput is -1: the count is checked in Exec and Query, with an error
// that says what a mismatch means here.
func (s *stmt) NumInput() int { return -1 }

func (s *stmt) checkArgs(args []driver.NamedValue) error {
	if want := s.inner.NumInput(); want >= 0 && want != len(args) {
		return &paramCountError{want: want, got: len(args)}
	}
	return nil
}

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	return s.inner.(driver.NamedValueChecker).CheckNamedValue(nv)
}

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

// ExecContext runs the statement. One that returns rows is run as a query
// and its rows are read and dropped: go-sql-driver v1.10's Exec of a
// statement with a result, prepared on MariaDB with cache metadata, skips
// column definitions the server did not resend and then waits forever
// for rows already read.
func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.cn.settle()
	if err := s.checkArgs(args); err != nil {
		return nil, err
	}
	if s.rows {
		r, err := s.QueryContext(ctx, args)
		if err != nil {
			return nil, err
		}
		rs := r.(*rows)
		err = rs.drain()
		if cerr := rs.Close(); err == nil {
			err = cerr
		}
		return driver.RowsAffected(0), err
	}
	var res driver.Result
	err := s.cn.guard(ctx, func(ctx context.Context) (err error) {
		res, err = s.inner.(driver.StmtExecContext).ExecContext(ctx, args)
		return err
	})
	s.cn.schemaChanged(s.info)
	return upsertCount(s.query, res, err)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.cn.settle()
	if err := s.checkArgs(args); err != nil {
		return nil, err
	}
	var r driver.Rows
	err := s.cn.guard(ctx, func(ctx context.Context) (err error) {
		r, err = s.inner.(driver.StmtQueryContext).QueryContext(ctx, args)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.cn.newRows(ctx, r, s.json), nil
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

// textStmt is a statement run through the text protocol (see
// PrepareContext); it takes no parameters.
type textStmt struct {
	cn    *conn
	query string
	info  sqltext.Info
	json  map[string]bool
}

func (s *textStmt) Close() error  { return nil }
func (s *textStmt) NumInput() int { return -1 }

func (s *textStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *textStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *textStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		return nil, &paramCountError{want: 0, got: len(args)}
	}
	s.cn.settle()
	var res driver.Result
	err := s.cn.guard(ctx, func(ctx context.Context) (err error) {
		res, err = s.cn.inner.(driver.ExecerContext).ExecContext(ctx, s.query, nil)
		return err
	})
	s.cn.schemaChanged(s.info)
	return upsertCount(s.query, res, err)
}

func (s *textStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		return nil, &paramCountError{want: 0, got: len(args)}
	}
	s.cn.settle()
	var r driver.Rows
	err := s.cn.guard(ctx, func(ctx context.Context) (err error) {
		r, err = s.cn.inner.(driver.QueryerContext).QueryContext(ctx, s.query, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.cn.newRows(ctx, r, s.json), nil
}

// rows is a result being read: from the server, or from memory once a
// later command made the connection read the rest (settle).
type rows struct {
	inner driver.Rows
	cn    *conn
	cols  []string
	types []string // type names as typeOID takes them
	// stop ends the cancellation watch; done is closed when a KILL it
	// started has completed.
	stop func() bool
	done chan struct{}

	buffered bool
	buf      [][]driver.Value
	pos      int
	err      error // what ended the buffered read, if not the end
}

var (
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*rows)(nil)
	_ driver.RowsNextResultSet              = (*rows)(nil)
)

func (cn *conn) newRows(ctx context.Context, inner driver.Rows, json map[string]bool) *rows {
	r := &rows{inner: inner, cn: cn, cols: inner.Columns()}
	r.types = make([]string, len(r.cols))
	var fields []field
	fieldsRead, fieldsOK := false, false
	for i := range r.cols {
		name := inner.(driver.RowsColumnTypeDatabaseTypeName).ColumnTypeDatabaseTypeName(i)
		switch name {
		case "TINYINT", "UNSIGNED TINYINT", "BIT":
			// Only the column length tells TINYINT(1) and BIT(1).
			if !fieldsRead {
				fields, fieldsOK = rowsFields(inner)
				fieldsRead = true
			}
			if fieldsOK && i < len(fields) {
				name = fields[i].typeName()
			}
		case "TEXT", "TINYTEXT", "MEDIUMTEXT", "LONGTEXT":
			if json[strings.ToLower(r.cols[i])] {
				name = "JSON"
			}
		}
		r.types[i] = name
	}
	if ctx.Done() != nil {
		r.done = make(chan struct{})
		r.stop = context.AfterFunc(ctx, func() {
			defer close(r.done)
			cn.kill()
		})
	}
	cn.open = r
	return r
}

func (r *rows) Columns() []string { return r.cols }

func (r *rows) ColumnTypeDatabaseTypeName(i int) string { return r.types[i] }

func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	return r.inner.(driver.RowsColumnTypeScanType).ColumnTypeScanType(i)
}

func (r *rows) ColumnTypeNullable(i int) (bool, bool) {
	return r.inner.(driver.RowsColumnTypeNullable).ColumnTypeNullable(i)
}

func (r *rows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	return r.inner.(driver.RowsColumnTypePrecisionScale).ColumnTypePrecisionScale(i)
}

func (r *rows) Next(dest []driver.Value) error {
	if !r.buffered {
		return r.inner.Next(dest)
	}
	if r.pos < len(r.buf) {
		copy(dest, r.buf[r.pos])
		r.buf[r.pos] = nil
		r.pos++
		return nil
	}
	if r.err != nil {
		return r.err
	}
	return io.EOF
}

func (r *rows) HasNextResultSet() bool {
	if r.buffered {
		return false
	}
	return r.inner.(driver.RowsNextResultSet).HasNextResultSet()
}

func (r *rows) NextResultSet() error {
	if r.buffered {
		return io.EOF
	}
	return r.inner.(driver.RowsNextResultSet).NextResultSet()
}

// buffer reads the rest of the current result into memory and closes the
// server's side (later result sets of a CALL are dropped).
func (r *rows) buffer() {
	if r.buffered {
		return
	}
	for {
		vals := make([]driver.Value, len(r.cols))
		err := r.inner.Next(vals)
		if err != nil {
			if err != io.EOF {
				r.err = err
			}
			break
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = bytes.Clone(b) // the driver reuses its buffer
			}
		}
		r.buf = append(r.buf, vals)
	}
	if err := r.inner.Close(); err != nil && r.err == nil {
		r.err = err
	}
	r.buffered = true
	r.release()
}

// drain reads every row of every result set and drops them.
func (r *rows) drain() error {
	vals := make([]driver.Value, len(r.cols))
	for {
		for {
			if err := r.Next(vals); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
		}
		if !r.HasNextResultSet() {
			return nil
		}
		if err := r.NextResultSet(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		vals = make([]driver.Value, len(r.inner.Columns()))
	}
}

// release ends the cancellation watch, waiting for a KILL in flight.
func (r *rows) release() {
	if r.stop != nil && !r.stop() {
		<-r.done
	}
	r.stop = nil
}

func (r *rows) Close() error {
	if r.cn.open == r {
		r.cn.open = nil
	}
	if r.buffered {
		r.buf = nil
		return nil
	}
	err := r.inner.Close()
	r.release()
	return err
}

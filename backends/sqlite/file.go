package sqlite

// Replacing the database file under a running proxy.
//
// A SQLite connection holds the file it opened, not its path: after a deploy
// renames a new file over the old one (or deletes it), every open connection
// would go on reading and committing into the old file, which no one will
// ever see again. So connections to a file go through fileConn, which
// compares, before every statement, the file at the path with the file its
// SQLite connection has open (os.SameFile: device and inode).
//
// When they differ, every connection of the backend drops the old file
// before any opens the new one. The order matters in WAL mode: the -wal and
// -shm files are found by name, so a connection still open on the old file
// would share them with connections on the new one, and the last connection
// to close the old file deletes the -wal it believes is its own. Dropping
// them all first lets SQLite checkpoint the old file and remove its -wal and
// -shm, and the new file then starts clean.
//
// What a session sees:
//   - Idle, with no state of its own on its SQLite connection: nothing; its
//     next statement runs on the new file.
//   - In a transaction: its next statement fails with 08006 (the work is
//     lost with the old file) instead of committing into a file no one
//     reads; after the rollback the session goes on with the new file.
//   - With temporary tables, attached databases or PRAGMAs of its own: one
//     08006 saying they are gone, then the new file.
//   - Reading a query's rows: the read fails with 08006.
//   - The path holds no file: every statement fails with 58P01 until a file
//     is back (the proxy does not create an empty database in its place).

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite"

	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// fileConnector opens the connections of one database file.
type fileConnector struct {
	drv driver.Driver
	// create is the DSN of the first open, which creates a missing file
	// (a new connection section starts with an empty database); reopen is
	// the DSN of later opens, which never create one (mode=rw or mode=ro).
	create, reopen string
	path           string

	// switching is held by retire, so that one connection at a time moves
	// the backend to a new file.
	switching sync.Mutex

	mu     sync.Mutex
	conns  map[*fileConn]struct{}
	opened bool        // a connection has opened the file once
	file   os.FileInfo // the file last opened; nil when retire found none
	// wal and shm are the file's -wal and -shm as first seen after an
	// open: the ones retire may remove.
	wal, shm os.FileInfo
	walSeen  atomic.Bool // both are known
}

// stale reports whether connections may still hold a file other than cur,
// the file now at the path (nil: none), so that retire must run before a
// connection opens cur.
func (fc *fileConnector) stale(cur os.FileInfo) bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.file != nil && (cur == nil || !os.SameFile(fc.file, cur))
}

var _ driver.Connector = (*fileConnector)(nil)

func newFileConnector(drv driver.Driver, cfg Config) *fileConnector {
	reopen := cfg
	if !reopen.ReadOnly {
		reopen.mustExist = true
	}
	return &fileConnector{drv: drv, create: cfg.DSN(), reopen: reopen.DSN(), path: cfg.Path,
		conns: map[*fileConn]struct{}{}}
}

// Connect opens a connection to the file now at the path.
func (fc *fileConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c := &fileConn{fc: fc, rows: map[*fileRows]struct{}{}, stmts: map[*fileStmt]struct{}{}}
	// Registered before it opens the file, so that a retire running
	// meanwhile waits for it and sees what it opened.
	fc.mu.Lock()
	fc.conns[c] = struct{}{}
	fc.mu.Unlock()
	c.mu.Lock()
	err := c.use(ctx)
	c.mu.Unlock()
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Driver returns the underlying modernc driver.
func (fc *fileConnector) Driver() driver.Driver { return fc.drv }

// open opens a SQLite connection to the file at the path and returns the
// file it opened. The path is looked at before and after the open: if the
// file changed in between, the connection may hold either, so it is opened
// again.
func (fc *fileConnector) open() (driver.Conn, os.FileInfo, error) {
	for range 3 {
		before, err := os.Stat(fc.path)
		if err == nil && fc.stale(before) {
			// Replaced since the caller looked: it must retire the old
			// file first.
			return nil, nil, errStale
		}
		dsn := fc.reopen
		fc.mu.Lock()
		first := !fc.opened
		fc.mu.Unlock()
		switch {
		case err == nil:
		case errors.Is(err, fs.ErrNotExist) && first:
			dsn = fc.create
		default:
			return nil, nil, fc.missing(err)
		}
		conn, err := fc.drv.Open(dsn)
		if err != nil {
			return nil, nil, err
		}
		after, err := os.Stat(fc.path)
		if err == nil && (before == nil || os.SameFile(before, after)) {
			fc.mu.Lock()
			fc.opened, fc.file = true, after
			fc.mu.Unlock()
			fc.seeWAL()
			return conn, after, nil
		}
		conn.Close()
	}
	return nil, nil, pgcode.WithHint(pgcode.ObjectInUse,
		fmt.Sprintf("the database file %q changed while it was being opened", fc.path),
		"Another process is replacing the file; retry when it has finished.")
}

// errStale is open's answer when the file was replaced since the caller
// looked: the caller retires the old file, then opens again.
var errStale = errors.New("sqlite: the database file changed")

// seeWAL records the file's -wal and -shm, once they exist, as the ones
// retire may remove. A WAL database has them from its first read on, so
// the cost is one flag test per statement after that.
func (fc *fileConnector) seeWAL() {
	if fc.walSeen.Load() {
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.wal == nil {
		fc.wal, _ = os.Stat(fc.path + "-wal")
	}
	if fc.shm == nil {
		fc.shm, _ = os.Stat(fc.path + "-shm")
	}
	fc.walSeen.Store(fc.wal != nil && fc.shm != nil)
}

// missing is the error for a path that holds no file (err is os.Stat's).
func (fc *fileConnector) missing(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return pgcode.WithHint(pgcode.UndefinedFile,
			fmt.Sprintf("the database file %q does not exist", fc.path),
			"It was removed or renamed while the proxy was serving it. Put the file (or its replacement) back at that path; the session goes on once it is there.")
	}
	return pgcode.New(pgcode.IOError, fmt.Sprintf("could not look at the database file %q: %v", fc.path, err))
}

// retire drops the SQLite connection of every connection not on cur, the
// file now at the path (nil: none). It locks one connection at a time and
// waits for those running a statement to finish it.
func (fc *fileConnector) retire(cur os.FileInfo) {
	fc.switching.Lock()
	defer fc.switching.Unlock()
	if !fc.stale(cur) {
		return // another connection has done it
	}
	fc.mu.Lock()
	conns := make([]*fileConn, 0, len(fc.conns))
	for c := range fc.conns {
		conns = append(conns, c)
	}
	fc.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		if c.inner != nil && (cur == nil || !os.SameFile(c.file, cur)) {
			c.drop(cur == nil)
		}
		c.mu.Unlock()
	}
	// SQLite leaves the -wal and -shm of a database file that was moved or
	// removed where they are, and finds them by name: a connection to the
	// new file would read the old file's pages from them. They are the old
	// file's as long as they are the ones seen when it was opened.
	fc.mu.Lock()
	for _, f := range []struct {
		name string
		seen os.FileInfo
	}{{fc.path + "-wal", fc.wal}, {fc.path + "-shm", fc.shm}} {
		if now, err := os.Stat(f.name); err == nil && f.seen != nil && os.SameFile(now, f.seen) {
			_ = os.Remove(f.name)
		}
	}
	fc.file, fc.wal, fc.shm = nil, nil, nil
	fc.walSeen.Store(false)
	fc.mu.Unlock()
}

// fileConn is one connection as database/sql sees it. Its SQLite connection
// (inner) is replaced when the file at the path changes; statements prepared
// on it are prepared again on the new one when next used.
type fileConn struct {
	fc *fileConnector

	mu    sync.Mutex // held by every call that uses inner, and by retire
	inner driver.Conn
	file  os.FileInfo // the file inner has open
	gen   int         // counts inners; a statement prepared on an older one is stale
	inTx  bool        // inner has a transaction open (as far as its statements tell)
	state bool        // a statement left state on inner: a temp table, PRAGMA, ATTACH
	// lost is reported by the next statement: what the old file took with
	// it when the connection was dropped.
	lost   error
	rows   map[*fileRows]struct{} // open on inner
	stmts  map[*fileStmt]struct{} // prepared on inner
	closed bool
}

var (
	_ driver.Conn               = (*fileConn)(nil)
	_ driver.ConnPrepareContext = (*fileConn)(nil)
	_ driver.ConnBeginTx        = (*fileConn)(nil)
	_ driver.Pinger             = (*fileConn)(nil)
	_ driver.SessionResetter    = (*fileConn)(nil)
	_ driver.Validator          = (*fileConn)(nil)
)

// use makes sure inner is open on the file now at the path. It is called,
// with mu held, before every statement; the one os.Stat it costs is what
// keeps a session from writing into a file that was replaced.
func (c *fileConn) use(ctx context.Context) error {
	if c.closed {
		return driver.ErrBadConn
	}
	cur, err := os.Stat(c.fc.path)
	if err != nil {
		cur = nil
	}
	if c.inner != nil {
		if cur != nil && os.SameFile(cur, c.file) {
			c.fc.seeWAL()
			return nil
		}
		c.drop(cur == nil)
	}
	for attempt := 0; ; attempt++ {
		if c.fc.stale(cur) {
			// The file changed. Every connection lets go of the old one
			// before this one opens the new (see the file comment);
			// retire locks the connections one by one, this one too, so
			// its lock is let go meanwhile.
			c.mu.Unlock()
			c.fc.retire(cur)
			c.mu.Lock()
			if c.closed {
				return driver.ErrBadConn
			}
		}
		if c.lost != nil {
			lost := c.lost
			c.lost = nil
			return lost
		}
		if cur == nil && !c.firstOpen() {
			return c.fc.missing(err)
		}
		inner, file, oerr := c.fc.open()
		if errors.Is(oerr, errStale) && attempt < 3 {
			if cur, err = os.Stat(c.fc.path); err != nil {
				cur = nil
			}
			continue
		}
		if oerr != nil {
			return oerr
		}
		c.inner, c.file, c.gen, c.inTx, c.state = inner, file, c.gen+1, false, false
		return nil
	}
}

// firstOpen reports whether no connection has opened the file yet: the
// first open creates a missing file.
func (c *fileConn) firstOpen() bool {
	c.fc.mu.Lock()
	defer c.fc.mu.Unlock()
	return !c.fc.opened
}

// drop closes inner, its statements and its cursors, and records what the
// session lost with it. removed says whether the path holds no file.
func (c *fileConn) drop(removed bool) {
	what := "replaced"
	if removed {
		what = "removed"
	}
	for r := range c.rows {
		_ = r.inner.Close()
		r.lost = pgcode.WithHint(pgcode.ConnectionFailure,
			fmt.Sprintf("the database file %q was %s while this query was reading it", c.fc.path, what),
			"Run the query again.")
	}
	clear(c.rows)
	for s := range c.stmts {
		_ = s.inner.Close()
		s.inner = nil
	}
	clear(c.stmts)
	switch {
	case c.inTx:
		c.lost = pgcode.WithHint(pgcode.ConnectionFailure,
			fmt.Sprintf("the database file %q was %s while this session's transaction was open; the transaction is lost", c.fc.path, what),
			"Nothing of it was committed. The session goes on with the file now at that path: run the transaction again.")
	case c.state:
		c.lost = pgcode.WithHint(pgcode.ConnectionFailure,
			fmt.Sprintf("the database file %q was %s; this session's temporary tables, attached databases and PRAGMA settings were lost with it", c.fc.path, what),
			"The session goes on with the file now at that path; create them again if it needs them.")
	}
	_ = c.inner.Close()
	c.inner, c.file, c.inTx, c.state = nil, nil, false, false
}

// Prepare implements driver.Conn.
func (c *fileConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext prepares query on inner, and keeps its text to prepare it
// again on a later inner.
func (c *fileConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.use(ctx); err != nil {
		return nil, err
	}
	s := &fileStmt{c: c, query: query, info: sqltext.Classify(query),
		session: sqltext.Writes(query, sqltext.SQLite).Session}
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	s.numInput = s.inner.NumInput()
	return s, nil
}

// Begin implements driver.Conn.
func (c *fileConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx starts a transaction through database/sql (the bridge starts its
// own with BEGIN statements; this is for other callers).
func (c *fileConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.use(ctx); err != nil {
		return nil, err
	}
	tx, err := c.inner.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.inTx = true
	return &fileTx{c: c, inner: tx, gen: c.gen}, nil
}

// Ping checks the file and the connection.
func (c *fileConn) Ping(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.use(ctx); err != nil {
		return err
	}
	return c.inner.(driver.Pinger).Ping(ctx)
}

// ResetSession passes modernc's check on when the pool hands the connection
// out again.
func (c *fileConn) ResetSession(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner == nil {
		return nil
	}
	return c.inner.(driver.SessionResetter).ResetSession(ctx)
}

// IsValid passes modernc's check on when the connection goes back to the
// pool.
func (c *fileConn) IsValid() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	return c.inner == nil || c.inner.(driver.Validator).IsValid()
}

// ColumnInfo describes a statement without running it, on the file now at
// the path (Dialect.Columns reaches it through sql.Conn.Raw).
func (c *fileConn) ColumnInfo(query string) ([]sqlite.ColumnInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.use(context.Background()); err != nil {
		return nil, err
	}
	ci, ok := c.inner.(interface {
		ColumnInfo(string) ([]sqlite.ColumnInfo, error)
	})
	if !ok {
		return nil, fmt.Errorf("sqlite driver cannot describe statements (%T)", c.inner)
	}
	return ci.ColumnInfo(query)
}

// Close closes inner and forgets the connection.
func (c *fileConn) Close() error {
	c.mu.Lock()
	var err error
	if c.inner != nil {
		for r := range c.rows {
			_ = r.inner.Close()
		}
		for s := range c.stmts {
			_ = s.inner.Close()
			s.inner = nil
		}
		err = c.inner.Close()
		c.inner = nil
	}
	c.closed = true
	c.mu.Unlock()
	c.fc.mu.Lock()
	delete(c.fc.conns, c)
	c.fc.mu.Unlock()
	return err
}

// ran records what a statement that succeeded did to inner: a transaction
// begun or ended, or state of its own left on it.
func (c *fileConn) ran(s *fileStmt) {
	switch s.info.Tx.Op {
	case sqltext.TxBegin, sqltext.TxSavepoint:
		// A SAVEPOINT outside a transaction starts one in SQLite.
		c.inTx = true
	case sqltext.TxCommit, sqltext.TxRollback:
		c.inTx = false
	}
	if s.session {
		c.state = true
	}
}

// fileStmt is a prepared statement that follows its connection to a new
// file.
type fileStmt struct {
	c        *fileConn
	query    string
	info     sqltext.Info
	session  bool // leaves state on the connection (sqltext.WriteSet.Session)
	numInput int
	inner    driver.Stmt // nil when its connection was dropped
	gen      int         // the fileConn.gen it was prepared on
}

var (
	_ driver.StmtExecContext  = (*fileStmt)(nil)
	_ driver.StmtQueryContext = (*fileStmt)(nil)
)

// prepare prepares the statement on the connection's current inner, with
// c.mu held, unless it is already.
func (s *fileStmt) prepare(ctx context.Context) error {
	c := s.c
	if s.inner != nil && s.gen == c.gen {
		return nil
	}
	inner, err := c.inner.(driver.ConnPrepareContext).PrepareContext(ctx, s.query)
	if err != nil {
		return err
	}
	s.inner, s.gen = inner, c.gen
	c.stmts[s] = struct{}{}
	return nil
}

// ready checks the file and prepares the statement on it, with c.mu held.
func (s *fileStmt) ready(ctx context.Context) error {
	if err := s.c.use(ctx); err != nil {
		if s.info.Tx.Op == sqltext.TxRollback && s.c.inner == nil && !errors.Is(err, driver.ErrBadConn) {
			// A ROLLBACK of a transaction the old file took with it has
			// nothing left to do: that is what it asked for.
			return nil
		}
		return err
	}
	return s.prepare(ctx)
}

// Close implements driver.Stmt.
func (s *fileStmt) Close() error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	delete(s.c.stmts, s)
	if s.inner == nil {
		return nil
	}
	err := s.inner.Close()
	s.inner = nil
	return err
}

// NumInput is the count the first prepare found.
func (s *fileStmt) NumInput() int { return s.numInput }

// Exec implements driver.Stmt.
func (s *fileStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), namedValues(args))
}

// Query implements driver.Stmt.
func (s *fileStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), namedValues(args))
}

// ExecContext runs the statement on the file now at the path.
func (s *fileStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	if s.inner == nil {
		return driver.RowsAffected(0), nil // the lost transaction's ROLLBACK
	}
	res, err := s.inner.(driver.StmtExecContext).ExecContext(ctx, args)
	if err != nil {
		if s.info.Tx.Op == sqltext.TxRollback {
			c.inTx = false
		}
		return nil, err
	}
	c.ran(s)
	return res, nil
}

// QueryContext runs the statement on the file now at the path.
func (s *fileStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	if s.inner == nil {
		return nil, pgcode.New(pgcode.NoActiveSQLTransaction, "there is no transaction in progress")
	}
	rows, err := s.inner.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	c.ran(s)
	r := &fileRows{c: c, inner: rows, cols: rows.Columns()}
	if dt, ok := rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		r.types = make([]string, len(r.cols))
		for i := range r.types {
			r.types[i] = dt.ColumnTypeDatabaseTypeName(i)
		}
	}
	c.rows[r] = struct{}{}
	return r, nil
}

func namedValues(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

// fileRows is a cursor that fails clearly when its file is replaced while
// it is open.
type fileRows struct {
	c     *fileConn
	inner driver.Rows
	cols  []string
	types []string // declared types, nil if the driver reports none
	lost  error    // set when the connection was dropped under the cursor
	done  bool
}

var _ driver.RowsColumnTypeDatabaseTypeName = (*fileRows)(nil)

// Columns implements driver.Rows.
func (r *fileRows) Columns() []string { return r.cols }

// ColumnTypeDatabaseTypeName is the column's declared type.
func (r *fileRows) ColumnTypeDatabaseTypeName(i int) string {
	if r.types == nil {
		return ""
	}
	return r.types[i]
}

// ColumnTypeScanType: values come as the driver returns them.
func (r *fileRows) ColumnTypeScanType(int) reflect.Type { return reflect.TypeFor[any]() }

// Next implements driver.Rows.
func (r *fileRows) Next(dest []driver.Value) error {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	if r.lost != nil {
		return r.lost
	}
	if r.done {
		return errors.New("sqlite: rows are closed")
	}
	return r.inner.Next(dest)
}

// Close implements driver.Rows.
func (r *fileRows) Close() error {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	if r.done {
		return nil
	}
	r.done = true
	if r.lost != nil {
		return nil // closed when the connection was dropped
	}
	delete(r.c.rows, r)
	return r.inner.Close()
}

// fileTx is a database/sql transaction on one inner connection.
type fileTx struct {
	c     *fileConn
	inner driver.Tx
	gen   int
}

// Commit commits, unless the file the transaction ran on was replaced.
func (t *fileTx) Commit() error {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.c.inner == nil || t.c.gen != t.gen {
		err := t.c.lost
		t.c.lost = nil
		if err == nil {
			err = pgcode.New(pgcode.ConnectionFailure, fmt.Sprintf("the database file %q was replaced while the transaction was open", t.c.fc.path))
		}
		return err
	}
	if cur, err := os.Stat(t.c.fc.path); err != nil || !os.SameFile(cur, t.c.file) {
		t.c.drop(err != nil)
		err := t.c.lost
		t.c.lost = nil
		return err
	}
	t.c.inTx = false
	return t.inner.Commit()
}

// Rollback rolls back; a transaction its file took away is already gone.
func (t *fileTx) Rollback() error {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.c.inner == nil || t.c.gen != t.gen {
		t.c.lost = nil
		return nil
	}
	t.c.inTx = false
	return t.inner.Rollback()
}

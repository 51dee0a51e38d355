package bridge

import (
	"container/list"
	"context"
	"database/sql"
)

// stmtCacheSize is how many prepared statements a session keeps. Drivers
// that prepare (pgx's statement cache, JDBC after five executions) and
// drivers that send the same text again (the simple protocol, unnamed
// statements) both then skip the data source's parse and plan.
const stmtCacheSize = 64

// stmtCache keeps a session's prepared statements, least recently used
// first out. A statement in use by an open cursor is not evicted: closing
// it would finalize the statement under the cursor.
type stmtCache struct {
	conn  *sql.Conn
	ll    *list.List // of *cachedStmt, most recent first
	items map[string]*list.Element
}

type cachedStmt struct {
	query  string
	stmt   *sql.Stmt
	inUse  int
	orphan bool // forgotten while in use: closed by the last put
}

func newStmtCache(conn *sql.Conn) *stmtCache {
	return &stmtCache{conn: conn, ll: list.New(), items: map[string]*list.Element{}}
}

// get returns the prepared statement for query, preparing it if needed.
// The caller must call put when it no longer uses it.
func (c *stmtCache) get(ctx context.Context, query string) (*cachedStmt, error) {
	if e, ok := c.items[query]; ok {
		c.ll.MoveToFront(e)
		cs := e.Value.(*cachedStmt)
		if cs.inUse == 0 {
			cs.inUse++
			return cs, nil
		}
		// A statement handle runs one execution at a time; another portal
		// of the same text (two cursors open at once) gets its own.
		st, err := c.conn.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		return &cachedStmt{query: query, stmt: st, inUse: 1, orphan: true}, nil
	}
	st, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{query: query, stmt: st, inUse: 1}
	c.items[query] = c.ll.PushFront(cs)
	for e := c.ll.Back(); c.ll.Len() > stmtCacheSize && e != nil; {
		prev := e.Prev()
		if old := e.Value.(*cachedStmt); old.inUse == 0 {
			c.ll.Remove(e)
			delete(c.items, old.query)
			_ = old.stmt.Close()
		}
		e = prev
	}
	return cs, nil
}

func (c *stmtCache) put(cs *cachedStmt) {
	if cs == nil || cs.inUse == 0 {
		return
	}
	cs.inUse--
	if cs.inUse == 0 && cs.orphan {
		_ = cs.stmt.Close()
	}
}

// exec runs a statement through the cache.
func (c *stmtCache) exec(ctx context.Context, query string) error {
	cs, err := c.get(ctx, query)
	if err != nil {
		return err
	}
	_, err = cs.stmt.ExecContext(ctx)
	c.put(cs)
	return err
}

// forget drops a statement whose use failed, so that a broken prepared
// statement is prepared again next time.
func (c *stmtCache) forget(cs *cachedStmt) {
	if e, ok := c.items[cs.query]; ok && e.Value == cs {
		c.ll.Remove(e)
		delete(c.items, cs.query)
		if cs.inUse == 0 {
			_ = cs.stmt.Close()
		} else {
			cs.orphan = true
		}
	}
}

func (c *stmtCache) close() {
	for e := c.ll.Front(); e != nil; e = e.Next() {
		_ = e.Value.(*cachedStmt).stmt.Close()
	}
	c.ll.Init()
	clear(c.items)
}

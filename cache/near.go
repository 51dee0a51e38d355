package cache

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// Near keeps one caller's most recent small answers in front of the
// shared cache, so that a session running the same few reads again and
// again finds them without a bigcache lookup, a copy of the entry, or the
// locks other sessions take too. Every answer it serves passes the tests
// Get applies, against the same invalidation marks: it is fresh by the
// cache's clock, younger than MaxAge, and nothing it read was invalidated
// since its statement ran. It can only hold an answer the shared cache
// gave out, and it may go on serving it after bigcache dropped the entry
// for room, which is never wrong: the answer is still fresh and valid.
//
// A Near belongs to one goroutine at a time (a session); it is not safe
// for concurrent use. Its memory is bounded by entries × entryBytes and
// is not part of Config.MaxBytes.
type Near struct {
	c          *Cache
	entries    int
	entryBytes int
	m          map[string]*nearEntry // by ID digest
}

type nearEntry struct {
	frames  []byte
	snap    Generation
	stored  time.Time
	expires time.Time
	state   *connState
	// marks are the invalidation marks of the tables the answer read,
	// taken from state when it was kept. A mark map folded into the
	// connection-wide one afterwards raises state.all past snap first.
	marks []*atomic.Uint64
}

// Near returns an empty near cache holding up to entries answers of up to
// entryBytes each.
func (c *Cache) Near(entries, entryBytes int) *Near {
	return &Near{c: c, entries: entries, entryBytes: entryBytes}
}

// Do is Cache.Do with the near answers first: a fresh and valid one is a
// hit (counted as one). An answer the shared cache returns is kept for
// next time when it is small enough.
func (n *Near) Do(ctx context.Context, id ID, tables []string, fn func() (Fill, error)) (Result, error) {
	if e, ok := n.m[id.key]; ok {
		if n.valid(e) {
			e.state.stats.hits.Add(1)
			return Result{Frames: e.frames, Source: FromCache}, nil
		}
		delete(n.m, id.key)
	}
	if e, ok := n.c.Get(id); ok {
		n.keep(id, e)
		return Result{Frames: e.Frames, Source: FromCache}, nil
	}
	return n.c.run(ctx, id, tables, fn)
}

// Len reports how many answers n holds.
func (n *Near) Len() int { return len(n.m) }

func (n *Near) valid(e *nearEntry) bool {
	if e.state.all.Load() > uint64(e.snap) {
		return false
	}
	for _, m := range e.marks {
		if m.Load() > uint64(e.snap) {
			return false
		}
	}
	now := n.c.cfg.Now()
	return now.Before(e.expires) && now.Sub(e.stored) <= n.c.cfg.MaxAge
}

// keep remembers e, which Get just returned for id (so it is this
// caller's copy).
func (n *Near) keep(id ID, e Entry) {
	if n.entries <= 0 || len(e.Frames) > n.entryBytes {
		return
	}
	s := n.c.state(id.conn)
	marks, ok := s.marksOf(e.tables)
	if !ok {
		return
	}
	if n.m == nil {
		n.m = make(map[string]*nearEntry, n.entries)
	}
	if len(n.m) >= n.entries {
		for k := range n.m { // any one: the set is small and turns over
			delete(n.m, k)
			break
		}
	}
	n.m[id.key] = &nearEntry{frames: e.Frames, snap: e.Snapshot, stored: e.Stored, expires: e.Expires,
		state: s, marks: marks}
}

// marksOf returns the marks of the encoded tables, making the missing
// ones (at 0: never invalidated) so that a later Invalidate raises the
// very counter the caller holds. It declines when making them would
// outgrow maxTables: the fold that follows would invalidate the whole
// connection for the sake of a read.
func (s *connState) marksOf(encoded []byte) ([]*atomic.Uint64, bool) {
	var marks []*atomic.Uint64
	var missing [][]byte
	s.mu.RLock()
	for b := encoded; len(b) > 0; {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			s.mu.RUnlock()
			return nil, false
		}
		name := b[k : k+int(n)]
		if m, ok := s.tables[string(name)]; ok {
			marks = append(marks, m)
		} else {
			missing = append(missing, name)
		}
		b = b[k+int(n):]
	}
	s.mu.RUnlock()
	if len(missing) == 0 {
		return marks, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tables)+len(missing) > maxTables {
		return nil, false
	}
	for _, name := range missing {
		m, ok := s.tables[string(name)]
		if !ok {
			m = new(atomic.Uint64)
			s.tables[string(name)] = m
		}
		marks = append(marks, m)
	}
	return marks, true
}

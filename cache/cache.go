package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allegro/bigcache/v3"
)

// Errors returned by Put, and by Do to the callers that did not run the
// statement themselves. Put's errors say why a result was not stored; none
// of them is a failure of the statement.
var (
	// ErrTooLarge: the entry exceeds Config.MaxEntryBytes.
	ErrTooLarge = errors.New("cache: result larger than MaxEntryBytes, not stored")
	// ErrInvalidated: a table the statement read (or the whole
	// connection) was invalidated after its Snapshot, so the result may
	// predate a write.
	ErrInvalidated = errors.New("cache: a table it read was written while it ran, not stored")
	// ErrNegativeTTL: Put or Do got a negative TTL.
	ErrNegativeTTL = errors.New("cache: negative TTL, not stored")
	// ErrNoStore: Do's fn asked for its result not to be stored.
	ErrNoStore = errors.New("cache: the statement's runner asked not to store it")
	// ErrAbandoned is what Do's waiters get when the caller running the
	// statement panicked or called runtime.Goexit: they should run the
	// statement themselves.
	ErrAbandoned = errors.New("cache: the caller running the statement panicked or exited")
)

// Generation is a point on the cache's invalidation clock, which moves
// forward at every Invalidate and InvalidateAll. Take one with Snapshot
// before a statement reaches the backend and store its result with it: the
// result is valid as long as none of its tables, nor its connection, has
// been invalidated after that point.
type Generation uint64

// Cache is a result cache over bigcache. It is safe for concurrent use.
type Cache struct {
	cfg   Config
	bc    *bigcache.BigCache
	clock atomic.Uint64 // the invalidation clock: the last Generation handed out
	conns sync.Map      // connection name -> *connState

	// stripes serialise Put's delete-then-set per key: bigcache does not
	// report an overwritten entry to OnRemove, so Put deletes the old one
	// first, and two Puts of one key must not interleave or an entry's
	// bytes would never leave the statistics.
	stripes [64]sync.Mutex

	flightMu sync.Mutex
	flights  map[string]*flight

	bufs      sync.Pool // *[]byte for encoding entries
	closeOnce sync.Once
}

// connState is one connection's invalidation marks and statistics.
type connState struct {
	all    atomic.Uint64 // clock value of the last InvalidateAll
	mu     sync.RWMutex  // guards the map; marks are atomics
	tables map[string]*atomic.Uint64
	stats  counters
}

// maxTables bounds a connection's per-table marks. Past it the marks are
// folded into one InvalidateAll, which is always correct (it only
// invalidates more) and keeps memory bounded whatever names clients use.
const maxTables = 1 << 16

// New creates a cache. It fails with Validate's error for a config that
// cannot work.
func New(cfg Config) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Cache{cfg: cfg, flights: map[string]*flight{}}
	c.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	bcfg := bigcache.Config{
		Shards:     cfg.Shards,
		LifeWindow: cfg.MaxAge,
		// No cleaning goroutine: entries past their TTL stay until the
		// ring needs their room or MaxAge passes (stale_if_error wants
		// them), and Get checks ages itself.
		CleanWindow: 0,
		// Only the initial allocation: 10 entries of 4 KiB per shard; the
		// queues grow by doubling up to MaxBytes/Shards.
		MaxEntriesInWindow: cfg.Shards * 10,
		MaxEntrySize:       4096,
		HardMaxCacheSize:   int(cfg.MaxBytes / mib),
		Logger:             nopLogger{},
		OnRemoveWithReason: c.onRemove,
	}
	bc, err := bigcache.New(context.Background(), bcfg)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c.bc = bc
	return c, nil
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// Close releases the cache; calling it again does nothing. It does not
// wait for Do calls in flight.
func (c *Cache) Close() error {
	var err error
	c.closeOnce.Do(func() { err = c.bc.Close() })
	return err
}

// Config returns the configuration in use, defaults applied.
func (c *Cache) Config() Config { return c.cfg }

func (c *Cache) state(conn string) *connState {
	if s, ok := c.conns.Load(conn); ok {
		return s.(*connState)
	}
	s, _ := c.conns.LoadOrStore(conn, &connState{tables: map[string]*atomic.Uint64{}})
	return s.(*connState)
}

func (c *Cache) existingState(conn string) *connState {
	if s, ok := c.conns.Load(conn); ok {
		return s.(*connState)
	}
	return nil
}

// Snapshot returns the current point of the invalidation clock. Take it
// before the statement is sent to the backend and pass it to Put with the
// result; Do takes it itself.
func (c *Cache) Snapshot() Generation { return Generation(c.clock.Load()) }

// Invalidate marks tables of connection conn as written now: every entry
// of conn that read one of them, and every statement that read one of
// them and started before now, is no longer served or stored. Call it
// after the write completed on the backend (for a transaction, again after
// COMMIT) and before the client learns that it did, so that the client's
// next read cannot find the old rows. Table names are compared exactly:
// use one normalisation (sqltext.Table.Key) for reads and writes.
func (c *Cache) Invalidate(conn string, tables ...string) {
	if len(tables) == 0 {
		return
	}
	s := c.state(conn)
	g := c.clock.Add(1)
	for _, t := range tables {
		s.mark(t, g, &c.clock)
	}
	s.stats.invalidations.Add(1)
}

// InvalidateAll marks the whole connection as written now: nothing it
// cached before is served again. For DDL, and writes whose tables cannot
// be told.
func (c *Cache) InvalidateAll(conn string) {
	s := c.state(conn)
	raise(&s.all, c.clock.Add(1))
	s.stats.invalidations.Add(1)
}

// raise sets a to g unless it is already higher: invalidations racing each
// other must never move a mark back.
func raise(a *atomic.Uint64, g uint64) {
	for {
		old := a.Load()
		if old >= g || a.CompareAndSwap(old, g) {
			return
		}
	}
}

func (s *connState) mark(table string, g uint64, clock *atomic.Uint64) {
	s.mu.RLock()
	m, ok := s.tables[table]
	s.mu.RUnlock()
	if ok {
		raise(m, g)
		return
	}
	s.mu.Lock()
	if m, ok = s.tables[table]; !ok {
		if len(s.tables) >= maxTables {
			// Fold every mark into the connection-wide one. It is raised
			// before the map is dropped, under the lock readers take.
			raise(&s.all, clock.Add(1))
			s.tables = map[string]*atomic.Uint64{}
		}
		m = new(atomic.Uint64)
		s.tables[table] = m
	}
	s.mu.Unlock()
	raise(m, g)
}

// validAt reports whether nothing the entry depends on was invalidated
// after snap. The table names come as strings (Put) or encoded as stored
// (Get), so that Get allocates nothing for them.
func (s *connState) validAt(snap Generation, tables []string, encoded []byte) bool {
	if s == nil {
		return true
	}
	if s.all.Load() > uint64(snap) {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, t := range tables {
		if m, ok := s.tables[t]; ok && m.Load() > uint64(snap) {
			return false
		}
	}
	for b := encoded; len(b) > 0; {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return false
		}
		if m, ok := s.tables[string(b[k:k+int(n)])]; ok && m.Load() > uint64(snap) {
			return false
		}
		b = b[k+int(n):]
	}
	// The fold in mark raises all before dropping the map, under the
	// write lock: a mark we could not see is covered by all.
	return s.all.Load() <= uint64(snap)
}

// Get returns the fresh entry stored for id, if any. An entry is fresh
// until its expiry, and valid while none of its tables nor its connection
// has been invalidated after its Snapshot.
func (c *Cache) Get(id ID) (Entry, bool) {
	e, ok := c.lookup(id, false, 0)
	s := c.state(id.conn)
	if ok {
		s.stats.hits.Add(1)
	} else {
		s.stats.misses.Add(1)
	}
	return e, ok
}

// GetStale returns an entry for id that expired less than window ago (or
// is still fresh), for serving when the backend cannot be reached
// (stale_if_error). Invalidated entries are never returned: a write went
// through the proxy, so the entry is known to be wrong. Entries live at
// most Config.MaxAge after they were stored, and less when bigcache needs
// their room.
func (c *Cache) GetStale(id ID, window time.Duration) (Entry, bool) {
	e, ok := c.lookup(id, true, window)
	if ok {
		c.state(id.conn).stats.staleHits.Add(1)
	}
	return e, ok
}

func (c *Cache) lookup(id ID, stale bool, window time.Duration) (Entry, bool) {
	v, err := c.bc.Get(id.key)
	if err != nil {
		return Entry{}, false
	}
	d, ok := decodeEntry(v)
	if !ok || string(d.conn) != id.conn {
		return Entry{}, false
	}
	if !c.existingState(id.conn).validAt(d.Snapshot, nil, d.tables) {
		return Entry{}, false
	}
	now := c.cfg.Now()
	if now.Sub(d.Stored) > c.cfg.MaxAge {
		return Entry{}, false
	}
	if now.Before(d.Expires) {
		return d.Entry, true
	}
	if stale && now.Sub(d.Expires) <= window {
		d.Stale = true
		return d.Entry, true
	}
	return Entry{}, false
}

// Put stores frames, the complete response to the statement identified by
// id, for ttl (0 means Config.DefaultTTL; beyond MaxAge is cut to it).
// snap is the Snapshot taken before the statement was sent, tables the
// names (as given to Invalidate) of the tables it read. The error says why
// nothing was stored: ErrTooLarge, ErrInvalidated, ErrNegativeTTL, or a
// bigcache failure.
func (c *Cache) Put(id ID, snap Generation, tables []string, ttl time.Duration, frames []byte) error {
	switch {
	case ttl < 0:
		return ErrNegativeTTL
	case ttl == 0:
		ttl = c.cfg.DefaultTTL
	case ttl > c.cfg.MaxAge:
		ttl = c.cfg.MaxAge
	}
	if entrySize(id.conn, tables, frames) > c.cfg.MaxEntryBytes {
		return ErrTooLarge
	}
	s := c.state(id.conn)
	if !s.validAt(snap, tables, nil) {
		return ErrInvalidated
	}
	now := c.cfg.Now()
	bp := c.bufs.Get().(*[]byte)
	v := appendEntry((*bp)[:0], id.conn, now, now.Add(ttl), snap, tables, frames)
	stripe := 0
	if len(id.key) > 0 {
		stripe = int(id.key[0]) % len(c.stripes)
	}
	size := int64(len(v))
	mu := &c.stripes[stripe]
	mu.Lock()
	_ = c.bc.Delete(id.key) // reported to onRemove; a miss is fine
	// Counted before Set: another Set may evict this entry, and report
	// it, before this one returns.
	s.stats.entries.Add(1)
	s.stats.bytes.Add(size)
	err := c.bc.Set(id.key, v)
	mu.Unlock()
	if cap(v) <= 256<<10 {
		*bp = v
		c.bufs.Put(bp)
	}
	if err != nil {
		s.stats.entries.Add(-1)
		s.stats.bytes.Add(-size)
		return fmt.Errorf("cache: storing: %w", err)
	}
	s.stats.stores.Add(1)
	return nil
}

// onRemove is bigcache's callback, called with the shard locked for every
// entry that leaves: evicted for room or age, or deleted by Put.
func (c *Cache) onRemove(_ string, v []byte, reason bigcache.RemoveReason) {
	conn, _, ok := entryConn(v)
	if !ok {
		return
	}
	s := c.existingState(string(conn))
	if s == nil {
		return
	}
	s.stats.entries.Add(-1)
	s.stats.bytes.Add(-int64(len(v)))
	if reason == bigcache.Expired || reason == bigcache.NoSpace {
		s.stats.evictions.Add(1)
	}
}

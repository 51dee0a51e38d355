package cache

import "sync/atomic"

// Stats are one connection's counters since the cache was created.
type Stats struct {
	// Hits and Misses count Get (and Do's own lookup).
	Hits, Misses uint64
	// StaleHits counts GetStale calls that returned an entry.
	StaleHits uint64
	// Shared counts Do callers that received another caller's run.
	Shared uint64
	// Stores counts entries written by Put (and Do).
	Stores uint64
	// Evictions counts entries bigcache removed for room or age; entries
	// replaced by a newer Put are not evictions.
	Evictions uint64
	// Invalidations counts Invalidate and InvalidateAll calls.
	Invalidations uint64
	// Entries and Bytes are what the connection holds now: the number of
	// entries and their stored size (frames plus the entry header), not
	// counting bigcache's own 50 bytes or so per entry.
	Entries, Bytes int64
}

type counters struct {
	hits, misses, staleHits, shared, stores, evictions, invalidations atomic.Uint64
	entries, bytes                                                    atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Hits:          c.hits.Load(),
		Misses:        c.misses.Load(),
		StaleHits:     c.staleHits.Load(),
		Shared:        c.shared.Load(),
		Stores:        c.stores.Load(),
		Evictions:     c.evictions.Load(),
		Invalidations: c.invalidations.Load(),
		Entries:       c.entries.Load(),
		Bytes:         c.bytes.Load(),
	}
}

// Stats returns a snapshot of every connection's counters, by connection
// name. Each counter is read atomically; the set is not one instant.
func (c *Cache) Stats() map[string]Stats {
	out := map[string]Stats{}
	c.conns.Range(func(k, v any) bool {
		out[k.(string)] = v.(*connState).stats.snapshot()
		return true
	})
	return out
}

// Total adds up the counters of every connection.
func Total(all map[string]Stats) Stats {
	var t Stats
	for _, s := range all {
		t.Hits += s.Hits
		t.Misses += s.Misses
		t.StaleHits += s.StaleHits
		t.Shared += s.Shared
		t.Stores += s.Stores
		t.Evictions += s.Evictions
		t.Invalidations += s.Invalidations
		t.Entries += s.Entries
		t.Bytes += s.Bytes
	}
	return t
}

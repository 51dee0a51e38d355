package cache

import (
	"fmt"
	"time"
)

// Defaults for the zero fields of Config.
const (
	// DefaultMaxBytes is the byte budget: 256 MiB holds some 200,000
	// typical 1 KB results, or 4,000 of 64 KB, and is small next to the
	// memory a database server gets.
	DefaultMaxBytes = 256 << 20
	// DefaultTTL applies to a Put or Do without a TTL of its own.
	DefaultTTL = time.Minute
	// DefaultMaxAge is the longest any entry is kept, fresh or stale.
	DefaultMaxAge = 24 * time.Hour
	// maxDefaultShards and minShardBytes choose Shards when it is zero:
	// the most shards up to 64 (less lock contention) that leave each at
	// least 4 MiB (room for a 1 MiB entry and its neighbours).
	maxDefaultShards = 64
	minShardBytes    = 4 << 20
	// defaultMaxEntryBytes caps MaxEntryBytes when it is zero.
	defaultMaxEntryBytes = 1 << 20
	// mib is bigcache's unit for its budget (HardMaxCacheSize).
	mib = 1 << 20
)

// Config configures a Cache. The zero value is valid: every zero field
// takes its default.
type Config struct {
	// MaxBytes is the budget for stored entries, in bytes, as bigcache
	// enforces it (HardMaxCacheSize): rounded down to whole MiB, at least
	// 1 MiB. When it is full the oldest entries are evicted. Zero means
	// DefaultMaxBytes (256 MiB).
	MaxBytes int64
	// DefaultTTL is how long an entry is fresh when Put or Do is given no
	// TTL. Zero means DefaultTTL (1 minute). It must not exceed MaxAge.
	DefaultTTL time.Duration
	// MaxAge is the longest an entry is kept after it was stored, fresh
	// or stale: longer TTLs are cut to it, and GetStale finds nothing
	// older. It is bigcache's life window, so it must cover the longest
	// TTL plus the longest stale_if_error window. Zero means
	// DefaultMaxAge (24 hours); at least one second.
	MaxAge time.Duration
	// Shards is the number of bigcache shards, a power of two. Each holds
	// MaxBytes/Shards bytes and has its own lock. Zero picks the largest
	// power of two up to 64 that leaves every shard at least 4 MiB.
	Shards int
	// MaxEntryBytes is the largest entry stored (the frames plus about
	// 40 bytes of header and table names), in bytes. A larger result is
	// still delivered to every caller of Do, never stored. It must be at
	// most half a shard, because bigcache empties a whole shard trying to
	// fit an entry that cannot fit. Zero means 1 MiB or a quarter of a
	// shard, whichever is smaller.
	MaxEntryBytes int
	// Now is the clock for expiry and ages. Nil means time.Now. Tests
	// inject a fake clock so that they never sleep.
	Now func() time.Time
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.DefaultTTL == 0 {
		c.DefaultTTL = DefaultTTL
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Shards == 0 {
		c.Shards = maxDefaultShards
		for c.Shards > 1 && c.MaxBytes/int64(c.Shards) < minShardBytes {
			c.Shards /= 2
		}
	}
	if c.MaxEntryBytes == 0 && c.Shards > 0 {
		c.MaxEntryBytes = int(min(defaultMaxEntryBytes, c.shardBytes()/4))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// shardBytes is the capacity of one shard as bigcache computes it.
func (c Config) shardBytes() int64 {
	return c.MaxBytes / mib * mib / int64(c.Shards)
}

// Validate reports the first setting that cannot work, saying what to
// change. Zero fields are checked with their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.MaxBytes < mib:
		return fmt.Errorf("cache: MaxBytes is %d bytes, below the 1 MiB minimum: set cache_size to \"1MiB\" or more", c.MaxBytes)
	case c.Shards < 1 || c.Shards > 1<<16 || c.Shards&(c.Shards-1) != 0:
		return fmt.Errorf("cache: Shards is %d: use a power of two from 1 to 65536", c.Shards)
	case c.shardBytes() < 4096:
		return fmt.Errorf("cache: %d shards leave %d bytes each: use fewer Shards or raise MaxBytes", c.Shards, c.shardBytes())
	case c.shardBytes() >= 1<<32:
		return fmt.Errorf("cache: %d shards of %d bytes exceed bigcache's 4 GiB per shard: raise Shards to at least %d",
			c.Shards, c.shardBytes(), nextPow2(c.MaxBytes>>32+1))
	case c.DefaultTTL < 0:
		return fmt.Errorf("cache: DefaultTTL is %v: it must not be negative", c.DefaultTTL)
	case c.MaxAge < time.Second:
		return fmt.Errorf("cache: MaxAge is %v: it must be at least 1s (bigcache counts in seconds)", c.MaxAge)
	case c.DefaultTTL > c.MaxAge:
		return fmt.Errorf("cache: DefaultTTL %v exceeds MaxAge %v: raise MaxAge or lower DefaultTTL", c.DefaultTTL, c.MaxAge)
	case c.MaxEntryBytes < 1:
		return fmt.Errorf("cache: MaxEntryBytes is %d: it must be positive", c.MaxEntryBytes)
	case int64(c.MaxEntryBytes) > c.shardBytes()/2:
		return fmt.Errorf("cache: MaxEntryBytes %d is more than half a shard (%d bytes = MaxBytes/Shards): lower MaxEntryBytes, use fewer Shards or raise MaxBytes",
			c.MaxEntryBytes, c.shardBytes())
	}
	return nil
}

func nextPow2(n int64) int64 {
	p := int64(1)
	for p < n {
		p *= 2
	}
	return p
}

package cache

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// nearGet asks n for id with a run that must not happen: the answer is
// expected from the near entries or the shared cache.
func nearGet(t *testing.T, n *Near, id ID) (string, bool) {
	t.Helper()
	ran := false
	res, err := n.Do(context.Background(), id, nil, func() (Fill, error) {
		ran = true
		return Fill{NoStore: true}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ran {
		return "", false
	}
	if res.Source != FromCache {
		t.Fatalf("source %v without a run", res.Source)
	}
	return string(res.Frames), true
}

func TestNearServesWhatTheCacheGave(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	n := c.Near(4, 64)
	id := testID("pets", "SELECT * FROM orders")
	if _, ok := nearGet(t, n, id); ok {
		t.Fatal("hit on an empty cache")
	}
	c.Put(id, c.Snapshot(), []string{"orders"}, time.Minute, []byte("rows"))
	if got, ok := nearGet(t, n, id); !ok || got != "rows" {
		t.Fatalf("first read: %q, %v", got, ok)
	}
	if n.Len() != 1 {
		t.Fatalf("near holds %d answers, want 1", n.Len())
	}
	// Served from near now, even once bigcache dropped the entry: it is
	// still fresh and nothing it read was written.
	c.bc.Delete(id.key)
	if got, ok := nearGet(t, n, id); !ok || got != "rows" {
		t.Fatalf("near read: %q, %v", got, ok)
	}
	if st := c.Stats()["pets"]; st.Hits != 2 || st.Misses != 1 {
		t.Errorf("hits %d misses %d, want 2 and 1: a near hit is a hit", st.Hits, st.Misses)
	}
}

func TestNearExpiresWithTheClock(t *testing.T) {
	c, clock := newTestCache(t, Config{MaxAge: time.Hour})
	n := c.Near(4, 64)
	id := testID("pets", "SELECT 1")
	c.Put(id, c.Snapshot(), nil, 10*time.Second, []byte("one"))
	if _, ok := nearGet(t, n, id); !ok {
		t.Fatal("miss on a fresh entry")
	}
	clock.Advance(9 * time.Second)
	if _, ok := nearGet(t, n, id); !ok {
		t.Fatal("near entry gone before its TTL")
	}
	clock.Advance(time.Second)
	if _, ok := nearGet(t, n, id); ok {
		t.Fatal("near entry served at its expiry")
	}
	if n.Len() != 0 {
		t.Error("an expired answer stays in near")
	}
}

func TestNearFollowsInvalidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(c *Cache)
		hit   bool
	}{
		{"write to the table read", func(c *Cache) { c.Invalidate("pets", "orders") }, false},
		{"write to another table", func(c *Cache) { c.Invalidate("pets", "customers") }, true},
		{"write to the table on another connection", func(c *Cache) { c.Invalidate("shop", "orders") }, true},
		{"DDL", func(c *Cache) { c.InvalidateAll("pets") }, false},
		{"marks folded", func(c *Cache) {
			for i := 0; i <= maxTables; i++ {
				c.Invalidate("pets", fmt.Sprintf("t%d", i))
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newTestCache(t, Config{})
			n := c.Near(4, 64)
			id := testID("pets", "SELECT * FROM orders")
			// orders has never been written: its mark is made when the
			// near entry is kept, and the write below must raise it.
			c.Put(id, c.Snapshot(), []string{"orders"}, time.Minute, []byte("old"))
			if _, ok := nearGet(t, n, id); !ok {
				t.Fatal("miss")
			}
			tc.write(c)
			if _, ok := nearGet(t, n, id); ok != tc.hit {
				t.Fatalf("hit = %v after the write, want %v", ok, tc.hit)
			}
			if tc.hit {
				return
			}
			// Read again after the write, the new answer is kept.
			c.Put(id, c.Snapshot(), []string{"orders"}, time.Minute, []byte("new"))
			if got, ok := nearGet(t, n, id); !ok || got != "new" {
				t.Fatalf("after re-reading: %q, %v", got, ok)
			}
			if got, ok := nearGet(t, n, id); !ok || got != "new" {
				t.Fatalf("near after re-reading: %q, %v", got, ok)
			}
		})
	}
}

func TestNearBounds(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	n := c.Near(2, 8)
	big := testID("pets", "SELECT big")
	c.Put(big, c.Snapshot(), nil, time.Minute, []byte("more than eight bytes"))
	if _, ok := nearGet(t, n, big); !ok || n.Len() != 0 {
		t.Fatalf("hit %v, near holds %d: a large answer is served but not kept", ok, n.Len())
	}
	for i := range 5 {
		id := testID("pets", fmt.Sprintf("SELECT %d", i))
		c.Put(id, c.Snapshot(), nil, time.Minute, []byte("small"))
		if _, ok := nearGet(t, n, id); !ok {
			t.Fatal("miss")
		}
	}
	if n.Len() != 2 {
		t.Fatalf("near holds %d answers, bound 2", n.Len())
	}
	z := c.Near(0, 8)
	nearGet(t, z, testID("pets", "SELECT 0"))
	if z.Len() != 0 {
		t.Fatal("a near of 0 entries keeps answers")
	}
}

// A table whose marks would outgrow the bound is not kept near: making
// its mark would fold every mark and invalidate the connection.
func TestNearDoesNotFoldMarks(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	for i := 0; i < maxTables; i++ {
		c.Invalidate("pets", fmt.Sprintf("t%d", i))
	}
	id := testID("pets", "SELECT * FROM fresh")
	c.Put(id, c.Snapshot(), []string{"fresh"}, time.Minute, []byte("x"))
	n := c.Near(4, 64)
	if _, ok := nearGet(t, n, id); !ok {
		t.Fatal("miss")
	}
	if n.Len() != 0 {
		t.Error("kept an answer whose mark did not fit")
	}
	if _, ok := c.Get(id); !ok {
		t.Error("the marks folded")
	}
}

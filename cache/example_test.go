package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/xconnproxy/xconnproxy/cache"
)

func Example() {
	c, err := cache.New(cache.Config{MaxBytes: 16 << 20})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()

	key := cache.Key{Conn: "pets_db", ConfigHash: "v1", User: "app", Shape: "Q",
		Statement: "SELECT name FROM pets"}
	id := key.ID()
	tables := []string{"pets"} // from sqltext.Cacheability, by Table.Key
	query := func() (cache.Fill, error) {
		// The proxy runs the statement here and returns the frames it sent.
		return cache.Fill{Frames: []byte("T...D...C...Z..."), TTL: time.Minute}, nil
	}

	r, _ := c.Do(ctx, id, tables, query)
	fmt.Println(r.Source, string(r.Frames))
	r, _ = c.Do(ctx, id, tables, query)
	fmt.Println(r.Source)

	// INSERT INTO pets ... completed: invalidate before the client hears.
	c.Invalidate("pets_db", "pets")
	r, _ = c.Do(ctx, id, tables, query)
	fmt.Println(r.Source)

	s := c.Stats()["pets_db"]
	fmt.Printf("hits=%d misses=%d stores=%d invalidations=%d entries=%d\n",
		s.Hits, s.Misses, s.Stores, s.Invalidations, s.Entries)
	// Output:
	// ran T...D...C...Z...
	// cache
	// ran
	// hits=1 misses=2 stores=2 invalidations=1 entries=1
}

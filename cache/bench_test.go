package cache

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

var benchSizes = []int{1 << 10, 64 << 10}

func benchIDs(n int) []ID {
	ids := make([]ID, n)
	for i := range ids {
		k := Key{Conn: "pets", ConfigHash: "h", User: "app", Shape: "PBDES",
			Statement: "SELECT * FROM t WHERE id = $1", Params: [][]byte{[]byte(fmt.Sprint(i))}}
		ids[i] = k.ID()
	}
	return ids
}

func sizeName(n int) string { return fmt.Sprintf("%dKB", n>>10) }

func BenchmarkKeyID(b *testing.B) {
	k := Key{Conn: "pets", ConfigHash: "h", User: "app", Shape: "PBDES",
		Statement:     "SELECT id, name, email FROM users WHERE tenant_id = $1 AND status = 'active' ORDER BY id LIMIT $2",
		ParamFormats:  []int16{0, 0},
		Params:        [][]byte{[]byte("42"), []byte("100")},
		ResultFormats: []int16{1},
		Settings:      Settings{SearchPath: "public", TimeZone: "UTC", DateStyle: "ISO, MDY", ClientEncoding: "UTF8"}}
	b.ReportAllocs()
	for b.Loop() {
		k.ID()
	}
}

func BenchmarkGetHit(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			c, _ := newTestCache(b, Config{MaxBytes: 256 << 20})
			ids := benchIDs(1024)
			frames := make([]byte, size)
			for _, id := range ids {
				if err := c.Put(id, c.Snapshot(), []string{"t"}, time.Hour, frames); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				if _, ok := c.Get(ids[i%len(ids)]); !ok {
					b.Fatal("miss")
				}
				i++
			}
		})
	}
}

// BenchmarkPut measures Put in the steady state of a full 32 MiB cache:
// the rings have reached their size, every Put replaces or evicts.
func BenchmarkPut(b *testing.B) {
	const budget = 32 << 20
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			c, _ := newTestCache(b, Config{MaxBytes: budget})
			ids := benchIDs(2 * budget / size)
			frames := make([]byte, size)
			for _, id := range ids { // warm up: grow every ring to its size
				if err := c.Put(id, c.Snapshot(), []string{"t"}, time.Hour, frames); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				if err := c.Put(ids[i%len(ids)], c.Snapshot(), []string{"t"}, time.Hour, frames); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkMemoryPerEntry fills a 32 MiB cache past full and reports the
// heap it takes per entry held (B/entry) and what that adds to the frames
// (overhead-B/entry): entry header, key, bigcache's index and any room the
// rings cannot use.
func BenchmarkMemoryPerEntry(b *testing.B) {
	const budget = 32 << 20
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			ids := benchIDs(2 * budget / size)
			frames := make([]byte, size)
			var perEntry float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				c, err := New(Config{MaxBytes: budget})
				if err != nil {
					b.Fatal(err)
				}
				for _, id := range ids {
					if err := c.Put(id, c.Snapshot(), []string{"t"}, time.Hour, frames); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				held := Total(c.Stats()).Entries
				perEntry = float64(after.HeapInuse-before.HeapInuse) / float64(held)
				runtime.KeepAlive(c)
				c.Close()
			}
			b.ReportMetric(perEntry, "B/entry")
			b.ReportMetric(perEntry-float64(size), "overhead-B/entry")
		})
	}
}

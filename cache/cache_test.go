package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is the injected clock: tests move it instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func newTestCache(t testing.TB, cfg Config) (*Cache, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 8 << 20
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, clock
}

func testID(conn, stmt string) ID {
	k := Key{Conn: conn, ConfigHash: "h1", User: "app", Shape: "Q", Statement: stmt}
	return k.ID()
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for none
	}{
		{"zero value", Config{}, ""},
		{"small budget picks one shard", Config{MaxBytes: 2 << 20}, ""},
		{"below one MiB", Config{MaxBytes: 1000}, `set cache_size to "1MiB" or more`},
		{"shards not a power of two", Config{Shards: 3}, "use a power of two"},
		{"negative shards", Config{Shards: -4}, "use a power of two"},
		{"shards too small", Config{MaxBytes: 1 << 20, Shards: 1024}, "use fewer Shards or raise MaxBytes"},
		{"entry over half a shard", Config{MaxBytes: 4 << 20, Shards: 2, MaxEntryBytes: 2 << 20}, "lower MaxEntryBytes, use fewer Shards or raise MaxBytes"},
		{"negative entry size", Config{MaxEntryBytes: -1}, "must be positive"},
		{"negative ttl", Config{DefaultTTL: -time.Second}, "must not be negative"},
		{"ttl beyond max age", Config{DefaultTTL: 2 * time.Hour, MaxAge: time.Hour}, "raise MaxAge or lower DefaultTTL"},
		{"max age under a second", Config{MaxAge: time.Millisecond, DefaultTTL: time.Millisecond}, "at least 1s"},
		{"shard over 4 GiB", Config{MaxBytes: 8 << 30, Shards: 1, MaxEntryBytes: 1 << 20}, "raise Shards to at least 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
			if _, nerr := New(tc.cfg); (nerr == nil) != (err == nil) {
				t.Fatalf("New and Validate disagree: %v vs %v", nerr, err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name      string
		in        Config
		shards    int
		maxEntry  int
		maxBytes  int64
		ttl, life time.Duration
	}{
		{"zero", Config{}, 64, 1 << 20, DefaultMaxBytes, DefaultTTL, DefaultMaxAge},
		{"2 MiB", Config{MaxBytes: 2 << 20}, 1, 512 << 10, 2 << 20, DefaultTTL, DefaultMaxAge},
		{"64 MiB", Config{MaxBytes: 64 << 20}, 16, 1 << 20, 64 << 20, DefaultTTL, DefaultMaxAge},
		{"explicit kept", Config{MaxBytes: 32 << 20, Shards: 4, MaxEntryBytes: 100, DefaultTTL: time.Second, MaxAge: time.Hour},
			4, 100, 32 << 20, time.Second, time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.in.withDefaults()
			if c.Shards != tc.shards || c.MaxEntryBytes != tc.maxEntry || c.MaxBytes != tc.maxBytes ||
				c.DefaultTTL != tc.ttl || c.MaxAge != tc.life || c.Now == nil {
				t.Errorf("withDefaults() = %+v", c)
			}
		})
	}
}

func TestKeyEveryFieldCounts(t *testing.T) {
	base := func() Key {
		return Key{
			Conn: "pets", ConfigHash: "cfg1", User: "app", Shape: "PBDES",
			Statement:     "SELECT * FROM t WHERE a = $1 AND b = $2",
			ParamTypes:    []uint32{23, 25},
			ParamFormats:  []int16{0, 1},
			Params:        [][]byte{[]byte("1"), []byte("x")},
			ResultFormats: []int16{1},
			MaxRows:       0,
			Settings: Settings{
				SearchPath: `"$user", public`, TimeZone: "UTC", DateStyle: "ISO, MDY",
				IntervalStyle: "postgres", ExtraFloatDigits: "1", ByteaOutput: "hex",
				ClientEncoding: "UTF8", Other: map[string]string{"role": "reader"},
			},
		}
	}
	changes := []struct {
		name string
		f    func(*Key)
	}{
		{"conn", func(k *Key) { k.Conn = "pets2" }},
		{"config hash", func(k *Key) { k.ConfigHash = "cfg2" }},
		{"user", func(k *Key) { k.User = "admin" }},
		{"shape", func(k *Key) { k.Shape = "Q" }},
		{"statement", func(k *Key) { k.Statement += " " }},
		{"param type", func(k *Key) { k.ParamTypes[1] = 1043 }},
		{"param types dropped", func(k *Key) { k.ParamTypes = nil }},
		{"param format", func(k *Key) { k.ParamFormats[0] = 1 }},
		{"param value", func(k *Key) { k.Params[0] = []byte("2") }},
		{"param NULL vs empty", func(k *Key) { k.Params[1] = nil }},
		{"param empty vs value", func(k *Key) { k.Params[1] = []byte{} }},
		{"params split differently", func(k *Key) { k.Params = [][]byte{[]byte("1x")} }},
		{"result format", func(k *Key) { k.ResultFormats = []int16{0} }},
		{"result formats added", func(k *Key) { k.ResultFormats = append(k.ResultFormats, 1) }},
		{"max rows", func(k *Key) { k.MaxRows = 10 }},
		{"search_path", func(k *Key) { k.Settings.SearchPath = "other" }},
		{"TimeZone", func(k *Key) { k.Settings.TimeZone = "Europe/Paris" }},
		{"DateStyle", func(k *Key) { k.Settings.DateStyle = "German" }},
		{"IntervalStyle", func(k *Key) { k.Settings.IntervalStyle = "iso_8601" }},
		{"extra_float_digits", func(k *Key) { k.Settings.ExtraFloatDigits = "3" }},
		{"bytea_output", func(k *Key) { k.Settings.ByteaOutput = "escape" }},
		{"client_encoding", func(k *Key) { k.Settings.ClientEncoding = "LATIN1" }},
		{"other value", func(k *Key) { k.Settings.Other["role"] = "writer" }},
		{"other added", func(k *Key) { k.Settings.Other["lc_monetary"] = "C" }},
		{"other removed", func(k *Key) { k.Settings.Other = nil }},
		{"other name/value boundary", func(k *Key) { k.Settings.Other = map[string]string{"rol": "ereader"} }},
		{"boundary between fields", func(k *Key) { k.Conn, k.ConfigHash = "petsc", "fg1" }},
		{"value moved to next setting", func(k *Key) { k.Settings.TimeZone, k.Settings.DateStyle = "UTCISO", ", MDY" }},
	}
	b := base()
	want := b.ID()
	if again := base(); again.ID() != want {
		t.Fatal("equal keys hash differently")
	}
	seen := map[ID]string{want: "base"}
	for _, ch := range changes {
		t.Run(ch.name, func(t *testing.T) {
			k := base()
			ch.f(&k)
			id := k.ID()
			if prev, dup := seen[id]; dup {
				t.Fatalf("changing %s gives the same ID as %s", ch.name, prev)
			}
			seen[id] = ch.name
		})
	}
	t.Run("map order does not matter", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			k := base()
			k.Settings.Other = map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "role": "reader"}
			k2 := base()
			k2.Settings.Other = map[string]string{"role": "reader", "d": "4", "c": "3", "b": "2", "a": "1"}
			if k.ID() != k2.ID() {
				t.Fatal("same settings in another map order hash differently")
			}
		}
	})
	t.Run("id string", func(t *testing.T) {
		s := want.String()
		if want.Conn() != "pets" || !strings.HasPrefix(s, "pets/") || len(s) != len("pets/")+64 {
			t.Fatalf("ID.String() = %q, Conn() = %q", s, want.Conn())
		}
	})
}

func TestGetExpiresWithTheClock(t *testing.T) {
	c, clock := newTestCache(t, Config{})
	id := testID("pets", "SELECT 1")
	if _, ok := c.Get(id); ok {
		t.Fatal("hit on an empty cache")
	}
	if err := c.Put(id, c.Snapshot(), []string{"t"}, 10*time.Second, []byte("frames")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(9 * time.Second)
	e, ok := c.Get(id)
	if !ok || string(e.Frames) != "frames" || e.Stale {
		t.Fatalf("Get after 9s = %+v, %v; want a fresh hit", e, ok)
	}
	if got := e.Expires.Sub(e.Stored); got != 10*time.Second {
		t.Errorf("Expires - Stored = %v, want 10s", got)
	}
	if tb := e.Tables(); len(tb) != 1 || tb[0] != "t" {
		t.Errorf("Tables() = %q", tb)
	}
	clock.Advance(time.Second)
	if _, ok := c.Get(id); ok {
		t.Fatal("hit at exactly the expiry")
	}
}

func TestPutTTLs(t *testing.T) {
	c, clock := newTestCache(t, Config{DefaultTTL: 5 * time.Second, MaxAge: time.Minute})
	def := testID("pets", "default ttl")
	long := testID("pets", "long ttl")
	if err := c.Put(def, c.Snapshot(), nil, 0, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(long, c.Snapshot(), nil, time.Hour, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(def, c.Snapshot(), nil, -time.Second, []byte("c")); !errors.Is(err, ErrNegativeTTL) {
		t.Fatalf("negative TTL: %v", err)
	}
	clock.Advance(6 * time.Second)
	if _, ok := c.Get(def); ok {
		t.Error("a zero TTL did not use DefaultTTL")
	}
	clock.Advance(time.Minute)
	if _, ok := c.Get(long); ok {
		t.Error("a TTL beyond MaxAge was not cut to MaxAge")
	}
}

func TestInvalidateTable(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	orders := testID("pets", "SELECT * FROM orders")
	both := testID("pets", "SELECT * FROM orders JOIN customers USING (id)")
	customers := testID("pets", "SELECT * FROM customers")
	other := testID("shop", "SELECT * FROM orders")
	for _, p := range []struct {
		id     ID
		tables []string
	}{{orders, []string{"orders"}}, {both, []string{"orders", "customers"}}, {customers, []string{"customers"}}, {other, []string{"orders"}}} {
		if err := c.Put(p.id, c.Snapshot(), p.tables, time.Minute, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	c.Invalidate("pets", "orders")
	for _, tc := range []struct {
		name string
		id   ID
		hit  bool
	}{{"reader of orders", orders, false}, {"reader of both", both, false}, {"reader of customers only", customers, true}, {"orders of another connection", other, true}} {
		if _, ok := c.Get(tc.id); ok != tc.hit {
			t.Errorf("%s: hit = %v, want %v", tc.name, ok, tc.hit)
		}
	}
	// A result read after the write is cached again.
	if err := c.Put(orders, c.Snapshot(), []string{"orders"}, time.Minute, []byte("y")); err != nil {
		t.Fatal(err)
	}
	if e, ok := c.Get(orders); !ok || string(e.Frames) != "y" {
		t.Errorf("re-read after invalidation: %q, %v", e.Frames, ok)
	}
	// Names are exact: normalising is the caller's job.
	c.Invalidate("pets", "ORDERS")
	if _, ok := c.Get(orders); !ok {
		t.Error("invalidating ORDERS removed orders")
	}
}

func TestInvalidateAll(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	a := testID("pets", "SELECT 1")
	b := testID("pets", "SELECT * FROM t")
	other := testID("shop", "SELECT 1")
	c.Put(a, c.Snapshot(), nil, time.Minute, []byte("a"))
	c.Put(b, c.Snapshot(), []string{"t"}, time.Minute, []byte("b"))
	c.Put(other, c.Snapshot(), nil, time.Minute, []byte("o"))
	c.InvalidateAll("pets")
	if _, ok := c.Get(a); ok {
		t.Error("an entry without tables survived InvalidateAll")
	}
	if _, ok := c.Get(b); ok {
		t.Error("an entry with tables survived InvalidateAll")
	}
	if _, ok := c.Get(other); !ok {
		t.Error("InvalidateAll reached another connection")
	}
}

// TestWriteRacingRead covers the three orders of a read and a write to
// the table it reads.
func TestWriteRacingRead(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	id := testID("pets", "SELECT * FROM t")

	// The write completes while the read runs: the result may hold the
	// old rows and must not be stored.
	snap := c.Snapshot()
	c.Invalidate("pets", "t")
	if err := c.Put(id, snap, []string{"t"}, time.Minute, []byte("old")); !errors.Is(err, ErrInvalidated) {
		t.Fatalf("Put after a racing write = %v, want ErrInvalidated", err)
	}
	if _, ok := c.Get(id); ok {
		t.Fatal("hit on a result that raced a write")
	}

	// The write is invalidated between Put's check and a later read: Get
	// must still refuse the entry, by its snapshot.
	snap = c.Snapshot()
	if err := c.Put(id, snap, []string{"t"}, time.Minute, []byte("v1")); err != nil {
		t.Fatal(err)
	}
	c.Invalidate("pets", "t")
	if _, ok := c.Get(id); ok {
		t.Fatal("hit after the table was written")
	}

	// The write completed before the read started: the read saw it.
	c.Invalidate("pets", "t")
	snap = c.Snapshot()
	if err := c.Put(id, snap, []string{"t"}, time.Minute, []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if e, ok := c.Get(id); !ok || string(e.Frames) != "v2" {
		t.Fatalf("read after a completed write: %q %v", e.Frames, ok)
	}

	// A write to another table does not matter.
	snap = c.Snapshot()
	c.Invalidate("pets", "u")
	if err := c.Put(id, snap, []string{"t"}, time.Minute, []byte("v3")); err != nil {
		t.Fatalf("Put after a write to another table: %v", err)
	}
}

// TestInvalidationClockConcurrent races writers (bump the data, then
// invalidate, then acknowledge) against readers (Get, or snapshot, read
// and Put) and checks the promise the proxy makes to clients: a read that
// starts after a write was acknowledged never sees data older than that
// write. Run with -race.
func TestInvalidationClockConcurrent(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	var data, acked atomic.Int64
	id := testID("pets", "SELECT v FROM t")
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for w := 0; w < 2; w++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				v := data.Add(1)          // the write completes on the backend
				c.Invalidate("pets", "t") // the proxy invalidates
				raiseInt(&acked, v)       // then the client hears of it
			}
		}()
	}
	var readers sync.WaitGroup
	for r := 0; r < 4; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for i := 0; i < 2000; i++ {
				floor := acked.Load()
				if e, ok := c.Get(id); ok {
					var got int64
					fmt.Sscan(string(e.Frames), &got)
					if got < floor {
						t.Errorf("served %d after write %d was acknowledged", got, floor)
						return
					}
					continue
				}
				snap := c.Snapshot()
				v := data.Load() // the read on the backend
				c.Put(id, snap, []string{"t"}, time.Minute, []byte(fmt.Sprint(v)))
			}
		}()
	}
	readers.Wait()
	close(stop)
	writers.Wait()
}

func raiseInt(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if old >= v || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func TestGetStale(t *testing.T) {
	c, clock := newTestCache(t, Config{MaxAge: time.Hour})
	id := testID("pets", "SELECT 1")
	c.Put(id, c.Snapshot(), []string{"t"}, 10*time.Second, []byte("x"))
	if e, ok := c.GetStale(id, time.Minute); !ok || e.Stale {
		t.Fatalf("fresh entry through GetStale: %+v %v", e, ok)
	}
	clock.Advance(30 * time.Second) // expired 20s ago
	if _, ok := c.Get(id); ok {
		t.Fatal("Get returned an expired entry")
	}
	if e, ok := c.GetStale(id, time.Minute); !ok || !e.Stale || string(e.Frames) != "x" {
		t.Fatalf("GetStale within the window: %+v %v", e, ok)
	}
	if _, ok := c.GetStale(id, 10*time.Second); ok {
		t.Fatal("GetStale beyond a 10s window")
	}
	clock.Advance(time.Hour)
	if _, ok := c.GetStale(id, 2*time.Hour); ok {
		t.Fatal("GetStale beyond MaxAge")
	}
	// Invalidated entries are never served stale.
	id2 := testID("pets", "SELECT 2")
	c.Put(id2, c.Snapshot(), []string{"t"}, time.Second, []byte("y"))
	clock.Advance(2 * time.Second)
	c.Invalidate("pets", "t")
	if _, ok := c.GetStale(id2, time.Minute); ok {
		t.Fatal("GetStale served an invalidated entry")
	}
	if s := c.Stats()["pets"]; s.StaleHits != 2 {
		t.Errorf("StaleHits = %d, want 2", s.StaleHits)
	}
}

func TestStats(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	id := testID("pets", "SELECT 1")
	frames := bytes.Repeat([]byte("r"), 1000)
	c.Get(id) // miss
	if err := c.Put(id, c.Snapshot(), []string{"t"}, time.Minute, frames); err != nil {
		t.Fatal(err)
	}
	c.Get(id) // hit
	c.Get(id) // hit
	s := c.Stats()["pets"]
	if s.Hits != 2 || s.Misses != 1 || s.Stores != 1 || s.Entries != 1 {
		t.Fatalf("stats %+v", s)
	}
	size := s.Bytes
	if size < 1000 || size > 1100 {
		t.Fatalf("Bytes = %d for 1000 bytes of frames", size)
	}
	// Replacing an entry moves no bytes out of the books.
	if err := c.Put(id, c.Snapshot(), []string{"t"}, time.Minute, frames); err != nil {
		t.Fatal(err)
	}
	s = c.Stats()["pets"]
	if s.Entries != 1 || s.Bytes != size || s.Stores != 2 || s.Evictions != 0 {
		t.Fatalf("after replacing: %+v", s)
	}
	c.Invalidate("pets", "t")
	c.InvalidateAll("pets")
	c.Get(id) // miss: invalidated
	s = c.Stats()["pets"]
	if s.Invalidations != 2 || s.Misses != 2 {
		t.Fatalf("after invalidations: %+v", s)
	}
	if tot := Total(c.Stats()); tot.Hits != 2 || tot.Stores != 2 {
		t.Fatalf("Total = %+v", tot)
	}
}

func TestEvictionByByteBudget(t *testing.T) {
	c, _ := newTestCache(t, Config{MaxBytes: 1 << 20, Shards: 1, MaxEntryBytes: 64 << 10})
	frames := bytes.Repeat([]byte("x"), 32<<10)
	var ids []ID
	for i := 0; i < 64; i++ { // 2 MiB into a 1 MiB budget
		id := testID("pets", fmt.Sprintf("SELECT %d", i))
		ids = append(ids, id)
		if err := c.Put(id, c.Snapshot(), nil, time.Hour, frames); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	s := c.Stats()["pets"]
	if s.Evictions == 0 || s.Stores != 64 {
		t.Fatalf("no eviction after 2 MiB into 1 MiB: %+v", s)
	}
	if s.Bytes > 1<<20 || s.Entries != int64(s.Stores-s.Evictions) {
		t.Fatalf("books do not balance: %+v", s)
	}
	if _, ok := c.Get(ids[0]); ok {
		t.Error("the oldest entry survived")
	}
	if _, ok := c.Get(ids[63]); !ok {
		t.Error("the newest entry was evicted")
	}
	if err := c.Put(ids[0], c.Snapshot(), nil, time.Hour, bytes.Repeat([]byte("x"), 64<<10)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Put over MaxEntryBytes = %v, want ErrTooLarge", err)
	}
}

func TestTableMarksFold(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	id := testID("pets", "SELECT * FROM x")
	c.Put(id, c.Snapshot(), []string{"x"}, time.Minute, []byte("x"))
	for i := 0; i < maxTables; i++ {
		c.Invalidate("pets", fmt.Sprintf("t%d", i))
	}
	if _, ok := c.Get(id); !ok {
		t.Fatal("entry gone before the marks fold")
	}
	c.Invalidate("pets", "one_more") // the fold: everything older is invalid
	if _, ok := c.Get(id); ok {
		t.Fatal("entry survived the fold of the table marks")
	}
	if n := len(c.state("pets").tables); n != 1 {
		t.Fatalf("%d marks after the fold, want 1", n)
	}
	c.Put(id, c.Snapshot(), []string{"x"}, time.Minute, []byte("x"))
	if _, ok := c.Get(id); !ok {
		t.Fatal("entry stored after the fold is not served")
	}
}

func TestEntryDecodeRejectsGarbage(t *testing.T) {
	for _, v := range [][]byte{nil, {}, {2}, {1, 0x80}, {1, 5, 'a'}, {1, 1, 'a', 0, 0}} {
		if _, ok := decodeEntry(v); ok {
			t.Errorf("decodeEntry(%v) accepted", v)
		}
	}
	v := appendEntry(nil, "c", time.Unix(1, 0), time.Unix(2, 0), 7, []string{"a", "bc"}, []byte("fr"))
	d, ok := decodeEntry(v)
	if !ok || string(d.conn) != "c" || d.Snapshot != 7 || string(d.Frames) != "fr" || strings.Join(d.Tables(), ",") != "a,bc" {
		t.Fatalf("round trip: %+v %v", d, ok)
	}
	for n := 0; n < len(v)-2; n++ { // every truncation short of the frames fails
		if _, ok := decodeEntry(v[:n]); ok && n < len(v)-len("fr") {
			t.Errorf("decodeEntry accepted %d of %d bytes", n, len(v))
		}
	}
}

func TestDoCoalesces(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	id := testID("pets", "SELECT count(*) FROM big")
	const n = 32
	var runs atomic.Int32
	release := make(chan struct{})
	results := make(chan Result, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.Do(context.Background(), id, []string{"big"}, func() (Fill, error) {
				runs.Add(1)
				<-release
				return Fill{Frames: []byte("42"), TTL: time.Minute}, nil
			})
			results <- r
			errs <- err
		}()
	}
	waitFor(t, func() bool { return runs.Load() == 1 && c.waiting(id) == n-1 })
	close(release)
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	count := map[Source]int{}
	for r := range results {
		count[r.Source]++
		if string(r.Frames) != "42" {
			t.Fatalf("frames %q", r.Frames)
		}
		if r.Source == Ran && r.NotStored != nil {
			t.Fatalf("not stored: %v", r.NotStored)
		}
	}
	if runs.Load() != 1 || count[Ran] != 1 || count[Shared] != n-1 {
		t.Fatalf("runs %d, sources %v", runs.Load(), count)
	}
	if r, _ := c.Do(context.Background(), id, []string{"big"}, func() (Fill, error) { t.Fatal("ran again"); return Fill{}, nil }); r.Source != FromCache {
		t.Fatalf("after the run: %v", r.Source)
	}
	if s := c.Stats()["pets"]; s.Shared != n-1 || s.Stores != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// waiting counts the callers waiting on id's run.
func (c *Cache) waiting(id ID) int {
	c.flightMu.Lock()
	defer c.flightMu.Unlock()
	if f, ok := c.flights[id.key]; ok {
		return int(f.waiters.Load())
	}
	return 0
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		runtime.Gosched()
	}
}

func TestDoErrorIsSharedNotCached(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	id := testID("pets", "SELECT * FROM missing")
	boom := errors.New("relation does not exist")
	release := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Do(context.Background(), id, nil, func() (Fill, error) {
				<-release
				return Fill{}, boom
			})
			errs <- err
		}()
	}
	waitFor(t, func() bool { return c.waiting(id) == 3 })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the runner's error", err)
		}
	}
	if _, ok := c.Get(id); ok {
		t.Fatal("an error was cached")
	}
	r, err := c.Do(context.Background(), id, nil, func() (Fill, error) { return Fill{Frames: []byte("ok")}, nil })
	if err != nil || r.Source != Ran {
		t.Fatalf("next Do after an error: %v %v", r.Source, err)
	}
}

func TestDoPanicAbandonsWaiters(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	id := testID("pets", "SELECT 1")
	release := make(chan struct{})
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		c.Do(context.Background(), id, nil, func() (Fill, error) {
			<-release
			panic("runner broke")
		})
	}()
	waitFor(t, func() bool { return c.waiting(id) == 0 && c.inFlight(id) })
	waiterErr := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), id, nil, func() (Fill, error) { return Fill{}, nil })
		waiterErr <- err
	}()
	waitFor(t, func() bool { return c.waiting(id) == 1 })
	close(release)
	if p := <-panicked; p != "runner broke" {
		t.Fatalf("the panic did not reach the runner: %v", p)
	}
	if err := <-waiterErr; !errors.Is(err, ErrAbandoned) {
		t.Fatalf("waiter err = %v, want ErrAbandoned", err)
	}
	if c.inFlight(id) {
		t.Fatal("the run is still registered")
	}
	r, err := c.Do(context.Background(), id, nil, func() (Fill, error) { return Fill{Frames: []byte("x")}, nil })
	if err != nil || r.Source != Ran {
		t.Fatalf("Do after a panic: %v %v", r.Source, err)
	}
}

func (c *Cache) inFlight(id ID) bool {
	c.flightMu.Lock()
	defer c.flightMu.Unlock()
	_, ok := c.flights[id.key]
	return ok
}

func TestDoLargeResultDeliveredNotStored(t *testing.T) {
	c, _ := newTestCache(t, Config{MaxBytes: 1 << 20, Shards: 1, MaxEntryBytes: 1024})
	id := testID("pets", "SELECT * FROM big")
	big := bytes.Repeat([]byte("z"), 4096)
	shared := make(chan Result, 1)
	r, err := c.Do(context.Background(), id, nil, func() (Fill, error) {
		// The waiter starts only once this run is under way, so that it
		// joins it rather than running first.
		go func() {
			r, _ := c.Do(context.Background(), id, nil, func() (Fill, error) { return Fill{Frames: []byte("never")}, nil })
			shared <- r
		}()
		waitFor(t, func() bool { return c.waiting(id) == 1 })
		return Fill{Frames: big}, nil
	})
	if err != nil || r.Source != Ran || !errors.Is(r.NotStored, ErrTooLarge) || len(r.Frames) != 4096 {
		t.Fatalf("runner: %v %v %v %d", r.Source, r.NotStored, err, len(r.Frames))
	}
	if w := <-shared; w.Source != Shared || len(w.Frames) != 4096 {
		t.Fatalf("waiter: %v %d", w.Source, len(w.Frames))
	}
	if _, ok := c.Get(id); ok {
		t.Fatal("an oversized result was stored")
	}
}

func TestDoWriteDuringRun(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	id := testID("pets", "SELECT * FROM t")
	inRun := make(chan struct{})
	release := make(chan struct{})
	first := make(chan Result, 1)
	go func() {
		r, _ := c.Do(context.Background(), id, []string{"t"}, func() (Fill, error) {
			close(inRun)
			<-release
			return Fill{Frames: []byte("old")}, nil
		})
		first <- r
	}()
	<-inRun
	c.Invalidate("pets", "t") // a write completes while the read runs
	// A caller arriving now must not get the old run's rows: it runs its
	// own (were it to wait for the old run, the timeout would end it).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.Do(ctx, id, []string{"t"}, func() (Fill, error) {
		return Fill{Frames: []byte("new")}, nil
	})
	if err != nil || r.Source != Ran || string(r.Frames) != "new" || r.NotStored != nil {
		t.Fatalf("caller after the write: %v %q %v %v", r.Source, r.Frames, r.NotStored, err)
	}
	close(release)
	if r := <-first; r.Source != Ran || !errors.Is(r.NotStored, ErrInvalidated) {
		t.Fatalf("the racing run: %v %v", r.Source, r.NotStored)
	}
	if e, ok := c.Get(id); !ok || string(e.Frames) != "new" {
		t.Fatalf("cache holds %q %v, want the new rows", e.Frames, ok)
	}
}

func TestDoNoStoreAndContext(t *testing.T) {
	c, _ := newTestCache(t, Config{})
	id := testID("pets", "SELECT 1")
	r, err := c.Do(context.Background(), id, nil, func() (Fill, error) {
		return Fill{Frames: []byte("x"), NoStore: true}, nil
	})
	if err != nil || !errors.Is(r.NotStored, ErrNoStore) {
		t.Fatalf("NoStore: %v %v", r.NotStored, err)
	}
	if _, ok := c.Get(id); ok {
		t.Fatal("NoStore result stored")
	}
	release := make(chan struct{})
	defer close(release)
	go c.Do(context.Background(), id, nil, func() (Fill, error) { <-release; return Fill{}, nil })
	waitFor(t, func() bool { return c.inFlight(id) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Do(ctx, id, nil, func() (Fill, error) { t.Error("waiter ran"); return Fill{}, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
}

func TestSourceString(t *testing.T) {
	if Shared.String() != "shared" || Source(0).String() != "Source(?)" {
		t.Errorf("%q %q", Shared.String(), Source(0).String())
	}
}

func TestMarksNeverMoveBack(t *testing.T) {
	var a atomic.Uint64
	raise(&a, 5)
	raise(&a, 3)
	if a.Load() != 5 {
		t.Fatalf("mark moved back to %d", a.Load())
	}
	s := &connState{tables: map[string]*atomic.Uint64{}}
	var clock atomic.Uint64
	s.mark("t", 9, &clock)
	s.mark("t", 4, &clock) // an Invalidate that took its generation earlier and finished later
	if !s.validAt(9, []string{"t"}, nil) || s.validAt(8, []string{"t"}, nil) {
		t.Fatalf("mark of t is %d, want 9", s.tables["t"].Load())
	}
}

func TestCloseTwice(t *testing.T) {
	c, err := New(Config{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLargestEntryFits puts entries of the largest allowed size into a
// full shard: bigcache must always make room (it fails, after emptying the
// shard, only for entries larger than Validate allows).
func TestLargestEntryFits(t *testing.T) {
	c, _ := newTestCache(t, Config{MaxBytes: 1 << 20, Shards: 1, MaxEntryBytes: 512 << 10})
	for i, n := range []int{300 << 10, 100 << 10, 400 << 10, (512 << 10) - 200, 10, (512 << 10) - 200, 250 << 10, (512 << 10) - 200} {
		id := testID("pets", fmt.Sprint("SELECT ", i))
		if err := c.Put(id, c.Snapshot(), []string{"t"}, time.Hour, make([]byte, n)); err != nil {
			t.Fatalf("Put %d of %d bytes: %v", i, n, err)
		}
		if _, ok := c.Get(id); !ok {
			t.Fatalf("entry %d of %d bytes not found right after Put", i, n)
		}
	}
	if s := c.Stats()["pets"]; s.Bytes > 1<<20 || s.Entries < 1 {
		t.Fatalf("stats %+v", s)
	}
}

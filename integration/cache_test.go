package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/cache"
	"github.com/xconnproxy/xconnproxy/secrets"
)

// The result cache, end to end: real clients, real backends, a cache the
// test owns (so that it can read the statistics and move the clock).

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestCache(t testing.TB) (*cache.Cache, *fakeClock) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c, err := cache.New(cache.Config{MaxBytes: 16 << 20, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, clock
}

// cacheBackend is a backend the cache tests run on.
type cacheBackend struct {
	name    string
	secrets func(t *testing.T, extra string) string
}

func cacheBackends() []cacheBackend {
	return []cacheBackend{
		{"sqlite", func(t *testing.T, extra string) string {
			return sqliteSecrets("app") + extra + "\n"
		}},
		{"postgres", func(t *testing.T, extra string) string {
			return pgSecrets(t, "app", extra)
		}},
		{"postgres-transaction-mode", func(t *testing.T, extra string) string {
			return pgSecrets(t, "app", "pool_mode = \"transaction\"\n"+extra)
		}},
		{"mysql", func(t *testing.T, extra string) string {
			directMySQL(t) // skips (or fails in CI) when MariaDB is down
			return fmt.Sprintf("[connections.app]\nurl = %q\n%s\n", mysqlURL(), extra)
		}},
	}
}

// cachedProxy starts a proxy whose connection "app" caches for a minute,
// with a fresh table of three rows.
func cachedProxy(t *testing.T, b cacheBackend, extra string) (*testProxy, *cache.Cache, *fakeClock, string) {
	c, clock := newTestCache(t)
	p := startProxy(t, b.secrets(t, "cache_ttl = \"1m\"\n"+extra), proxyOptions{cache: c, quiet: true})
	table := "xcp_cache_" + randHex()
	setup := p.Connect(t, "app")
	mustExec(t, setup, "CREATE TABLE "+table+" (id INT PRIMARY KEY, name TEXT)")
	mustExec(t, setup, "INSERT INTO "+table+" VALUES (1, 'one'), (2, 'two'), (3, 'three')")
	t.Cleanup(func() {
		c := p.Connect(t, "app")
		_, _ = c.Exec(context.Background(), "DROP TABLE "+table)
	})
	return p, c, clock, table
}

func stats(c *cache.Cache) cache.Stats { return c.Stats()["app"] }

// rawAnswer sends msgs and returns the answer up to ReadyForQuery, each
// message encoded again: equal bytes mean equal answers.
func rawAnswer(t *testing.T, rc *rawClient, msgs ...pgproto3.FrontendMessage) []byte {
	t.Helper()
	rc.send(msgs...)
	var out []byte
	for _, m := range rc.untilReady() {
		b, err := m.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// A hit is the miss's answer byte for byte, in the simple and in the
// extended protocol; the client can tell them apart only by speed.
func TestCacheHitIsTheMissByteForByte(t *testing.T) {
	for _, b := range cacheBackends() {
		t.Run(b.name, func(t *testing.T) {
			p, c, _, table := cachedProxy(t, b, "")
			rc := startRaw(t, p, "app")
			q := "SELECT id, name FROM " + table + " ORDER BY id"
			miss := rawAnswer(t, rc, &pgproto3.Query{String: q})
			hit := rawAnswer(t, rc, &pgproto3.Query{String: q})
			if !bytes.Equal(miss, hit) {
				t.Fatalf("simple protocol: the hit differs from the miss\nmiss %q\nhit  %q", miss, hit)
			}
			if s := stats(c); s.Hits != 1 || s.Stores != 1 {
				t.Fatalf("after two runs: %+v", s)
			}
			ext := []pgproto3.FrontendMessage{
				&pgproto3.Parse{Query: "SELECT id, name FROM " + table + " WHERE id >= $1 ORDER BY id"},
				&pgproto3.Bind{Parameters: [][]byte{[]byte("2")}, ResultFormatCodes: []int16{1, 0}},
				&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{},
			}
			miss = rawAnswer(t, rc, ext...)
			hit = rawAnswer(t, rc, ext...)
			if !bytes.Equal(miss, hit) {
				t.Fatalf("extended protocol: the hit differs from the miss\nmiss %q\nhit  %q", miss, hit)
			}
			if s := stats(c); s.Hits != 2 || s.Stores != 2 {
				t.Fatalf("after the extended runs: %+v", s)
			}
			// The unnamed statement the hit's Parse named is the client's.
			again := rawAnswer(t, rc, &pgproto3.Bind{Parameters: [][]byte{[]byte("3")}}, &pgproto3.Execute{}, &pgproto3.Sync{})
			if !bytes.Contains(again, []byte("three")) || bytes.Contains(again, []byte("two")) {
				t.Fatalf("binding the unnamed statement after a hit: %q", again)
			}
		})
	}
}

// A write through the proxy is seen by the next read, in every pgx mode,
// and other parameters or statements get their own entries.
func TestCacheWriteIsSeenByNextRead(t *testing.T) {
	for _, b := range cacheBackends() {
		t.Run(b.name, func(t *testing.T) {
			p, c, _, table := cachedProxy(t, b, "")
			next := 10
			for _, mode := range allModes {
				conn := p.Connect(t, "app", mode)
				other := p.Connect(t, "app", mode)
				count := func(cn *pgx.Conn) int {
					var n int
					if err := cn.QueryRow(ctxT(t), "SELECT count(*) FROM "+table+" WHERE id > $1", 0).Scan(&n); err != nil {
						t.Fatalf("%v: %v", mode, err)
					}
					return n
				}
				before := count(conn)
				if count(other) != before {
					t.Fatalf("%v: two clients disagree", mode)
				}
				if _, err := conn.Exec(ctxT(t), "INSERT INTO "+table+" (id, name) VALUES ($1, 'new')", next); err != nil {
					t.Fatalf("%v: %v", mode, err)
				}
				next++
				if got := count(other); got != before+1 {
					t.Fatalf("%v: after an insert another client reads %d rows, want %d", mode, got, before+1)
				}
				// A write inside a transaction block: seen by the writer at
				// once (never from the cache), by others after the commit.
				tx, err := conn.Begin(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(ctxT(t), "DELETE FROM "+table+" WHERE id = $1", next-1); err != nil {
					t.Fatalf("%v: %v", mode, err)
				}
				var inside int
				if err := tx.QueryRow(ctxT(t), "SELECT count(*) FROM "+table+" WHERE id > $1", 0).Scan(&inside); err != nil || inside != before {
					t.Fatalf("%v: inside the transaction %d rows (%v), want %d", mode, inside, err, before)
				}
				if b.name != "sqlite" { // SQLite's writer lock keeps other readers on their snapshot; fine either way
					if got := count(other); got != before+1 {
						t.Fatalf("%v: before the commit another client reads %d rows, want %d", mode, got, before+1)
					}
				}
				if err := tx.Commit(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				if got := count(other); got != before {
					t.Fatalf("%v: after the commit another client reads %d rows, want %d", mode, got, before)
				}
			}
			if s := stats(c); s.Hits == 0 || s.Invalidations == 0 {
				t.Fatalf("the cache was not used: %+v", s)
			}
		})
	}
}

// Statements inside a transaction block are never answered from the
// cache; SET xconn.cache and the hints switch it per session and per
// statement; entries expire with their TTL.
func TestCacheControls(t *testing.T) {
	for _, b := range cacheBackends() {
		t.Run(b.name, func(t *testing.T) {
			p, c, clock, table := cachedProxy(t, b, "")
			conn := p.Connect(t, "app", pgx.QueryExecModeSimpleProtocol)
			q := "SELECT name FROM " + table + " WHERE id = 1"
			queryString(t, conn, q)
			base := stats(c)
			tx, err := conn.Begin(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				var s string
				if err := tx.QueryRow(ctxT(t), q).Scan(&s); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if s := stats(c); s.Hits != base.Hits {
				t.Fatalf("a statement inside a transaction block was served from the cache: %+v", s)
			}

			queryString(t, conn, q)
			if s := stats(c); s.Hits != base.Hits+1 {
				t.Fatalf("no hit outside the transaction: %+v", s)
			}
			mustExec(t, conn, "SET xconn.cache = off")
			queryString(t, conn, q)
			if s := stats(c); s.Hits != base.Hits+1 {
				t.Fatalf("SET xconn.cache = off still hit: %+v", s)
			}
			mustExec(t, conn, "SET xconn.cache = on")
			queryString(t, conn, q)
			if s := stats(c); s.Hits != base.Hits+2 {
				t.Fatalf("SET xconn.cache = on: %+v", s)
			}
			if _, err := conn.Exec(ctxT(t), "SET xconn.cache = sometimes"); err == nil {
				t.Fatal("SET xconn.cache = sometimes was accepted")
			}

			stores := stats(c).Stores
			queryString(t, conn, "/* xconn:nocache */ "+q)
			queryString(t, conn, "/* xconn:nocache */ "+q)
			if s := stats(c); s.Stores != stores {
				t.Fatalf("xconn:nocache was stored: %+v", s)
			}
			hinted := "/* xconn:ttl=5s */ " + q
			queryString(t, conn, hinted)
			queryString(t, conn, hinted)
			h := stats(c).Hits
			clock.Advance(6 * time.Second)
			queryString(t, conn, hinted)
			if s := stats(c); s.Hits != h {
				t.Fatalf("an entry past its hinted TTL was served: %+v", s)
			}
			queryString(t, conn, q)
			h = stats(c).Hits
			clock.Advance(61 * time.Second)
			queryString(t, conn, q)
			if s := stats(c); s.Hits != h {
				t.Fatalf("an entry past the connection's TTL was served: %+v", s)
			}
		})
	}
}

// Clients whose search_path differs read different tables under one name:
// they never share an entry.
func TestCacheSearchPathSeparates(t *testing.T) {
	c, _ := newTestCache(t)
	p := startProxy(t, pgSecrets(t, "app", "cache_ttl = \"1m\""), proxyOptions{cache: c, quiet: true})
	admin := directPG(t)
	sa, sb := "xcp_ca_"+randHex(), "xcp_cb_"+randHex()
	for _, sc := range []string{sa, sb} {
		if err := admin.Exec(ctxT(t), fmt.Sprintf("CREATE SCHEMA %s; CREATE TABLE %s.t (v text); INSERT INTO %s.t VALUES ('%s')", sc, sc, sc, sc)).Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = admin.Exec(context.Background(), "DROP SCHEMA "+sa+" CASCADE; DROP SCHEMA "+sb+" CASCADE").Close()
	})
	for round := 0; round < 2; round++ {
		for _, sc := range []string{sa, sb} {
			conn := connectPgconn(t, p.URL("app"), func(cfg *pgconn.Config) { cfg.RuntimeParams["search_path"] = sc })
			res, err := conn.Exec(ctxT(t), "SELECT v FROM t").ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if got := string(res[0].Rows[0][0]); got != sc {
				t.Fatalf("search_path %s read %s", sc, got)
			}
			conn.Close(context.Background())
		}
	}
	if s := stats(c); s.Hits != 2 || s.Stores != 2 {
		t.Fatalf("want one entry per search_path and a hit each: %+v", s)
	}
	// A SET of search_path moves the session to the other entry.
	conn := p.Connect(t, "app", pgx.QueryExecModeSimpleProtocol)
	mustExec(t, conn, "SET search_path = "+sa)
	if got := queryString(t, conn, "SELECT v FROM t"); got != sa {
		t.Fatalf("after SET search_path: %s", got)
	}
	mustExec(t, conn, "SET search_path = "+sb)
	if got := queryString(t, conn, "SELECT v FROM t"); got != sb {
		t.Fatalf("after the second SET search_path: %s", got)
	}
	// The same in the extended protocol, with the same Parse and Bind
	// every time: a session remembers the key of a repeated Bind, and a
	// SET must make that stale. Each read runs twice (a miss or a hit on
	// the other session's entry, then a hit on the remembered key).
	pc := connectPgconn(t, p.URL("app"), nil)
	for round := 0; round < 3; round++ {
		for _, sc := range []string{sa, sb} {
			if err := pc.Exec(ctxT(t), "SET search_path = "+sc).Close(); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				res := pc.ExecParams(ctxT(t), "SELECT v FROM t WHERE $1::int = 1", [][]byte{[]byte("1")}, nil, nil, nil).Read()
				if res.Err != nil {
					t.Fatal(res.Err)
				}
				if len(res.Rows) != 1 || string(res.Rows[0][0]) != sc {
					t.Fatalf("round %d, read %d after SET search_path = %s (extended): %q", round, i, sc, res.Rows)
				}
			}
		}
	}
	if s := stats(c); s.Hits < 2+2+10 {
		t.Fatalf("the extended reads were not served from the cache: %+v", s)
	}
}

// The same connection name pointing somewhere else (a reload, another
// proxy sharing the cache) never gets the old rows: the key holds the
// configuration's fingerprint.
func TestCacheConfigChangeNeverServesOldRows(t *testing.T) {
	c, _ := newTestCache(t)
	first := startProxy(t, sqliteSecrets("app")+"cache_ttl = \"1m\"\n", proxyOptions{cache: c, quiet: true})
	second := startProxy(t, sqliteSecrets("app")+"cache_ttl = \"1m\"\n", proxyOptions{cache: c, quiet: true})
	for i, p := range []*testProxy{first, second} {
		conn := p.Connect(t, "app")
		mustExec(t, conn, "CREATE TABLE which (v INT)")
		mustExec(t, conn, fmt.Sprintf("INSERT INTO which VALUES (%d)", i))
	}
	for round := 0; round < 2; round++ {
		for i, p := range []*testProxy{first, second} {
			if got := queryString(t, p.Connect(t, "app"), "SELECT v::text FROM which"); got != fmt.Sprint(i) {
				t.Fatalf("proxy %d read %s", i, got)
			}
		}
	}
}

// Concurrent misses of one statement run it once; the others get its
// answer.
func TestCacheCoalescesConcurrentMisses(t *testing.T) {
	c, _ := newTestCache(t)
	p := startProxy(t, pgSecrets(t, "app", "cache_ttl = \"1m\"\npool_size = 10"), proxyOptions{cache: c, quiet: true})
	const n = 8
	conns := make([]*pgx.Conn, n)
	for i := range conns {
		conns[i] = p.Connect(t, "app", pgx.QueryExecModeSimpleProtocol)
	}
	q := "SELECT count(*) FROM generate_series(1, 3000000) AS g"
	var wg sync.WaitGroup
	var failures atomic.Int32
	start := make(chan struct{})
	for _, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if got := queryString(t, conn, q); got != "3000000" {
				failures.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatal("wrong answers")
	}
	s := stats(c)
	if s.Stores != 1 || s.Shared+s.Hits != n-1 {
		t.Fatalf("want one run shared by the others: %+v", s)
	}
}

// stale_if_error: when the backend cannot answer (here: every server
// connection is busy past pool_timeout), an expired entry inside the
// window is served with a warning instead of the error.
func TestCacheStaleIfError(t *testing.T) {
	c, clock := newTestCache(t)
	p := startProxy(t, pgSecrets(t, "app", "cache_ttl = \"10s\"\nstale_if_error = \"1h\"\npool_mode = \"transaction\"\npool_size = 1\npool_timeout = \"200ms\""),
		proxyOptions{cache: c, quiet: true})
	reader := p.Connect(t, "app", pgx.QueryExecModeSimpleProtocol)
	q := "SELECT 'fresh' || (1 + 1)::text"
	if got := queryString(t, reader, q); got != "fresh2" {
		t.Fatal(got)
	}
	clock.Advance(time.Minute)
	holder := p.Connect(t, "app")
	tx, err := holder.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	var notices []string
	rc := startRaw(t, p, "app")
	msgs := rawAnswer(t, rc, &pgproto3.Query{String: q})
	if !bytes.Contains(msgs, []byte("fresh2")) {
		t.Fatalf("no stale answer: %q", msgs)
	}
	for _, part := range strings.Split(string(msgs), "\x00") {
		if strings.Contains(part, "cached result") {
			notices = append(notices, part)
		}
	}
	if len(notices) != 1 {
		t.Fatalf("want one notice saying the result is stale: %q", msgs)
	}
	if s := stats(c); s.StaleHits != 1 {
		t.Fatalf("stats: %+v", s)
	}
	// Without the window: the error.
	other := startRaw(t, p, "app")
	if got := rawAnswer(t, other, &pgproto3.Query{String: "SELECT 'never cached' || (2 + 2)::text"}); !bytes.Contains(got, []byte("53300")) {
		t.Fatalf("a statement with nothing cached: %q", got)
	}
}

// A statement the classifier takes for a read (here a function a TTL hint
// vouches for) that writes: the backend refuses it inside the proxy's READ
// ONLY transaction, the proxy runs it again as sent, and nothing is
// stored. The client sees what PostgreSQL says without the proxy.
func TestCacheBackendRefusesAHiddenWrite(t *testing.T) {
	p, c, _, table := cachedProxy(t, cacheBackends()[1], "")
	admin := directPG(t)
	fn := "xcp_writer_" + randHex()
	if err := admin.Exec(ctxT(t), "CREATE FUNCTION "+fn+"() RETURNS int LANGUAGE sql AS $$ INSERT INTO "+table+" VALUES (99, 'hidden') RETURNING 1 $$").Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP FUNCTION "+fn).Close() })
	conn := p.Connect(t, "app", pgx.QueryExecModeSimpleProtocol)
	for i := 0; i < 2; i++ {
		_ = queryString(t, conn, "/* xconn:ttl=1m */ SELECT "+fn+"()")
		mustExec(t, conn, "DELETE FROM "+table+" WHERE id = 99")
	}
	if s := stats(c); s.Hits != 0 {
		t.Fatalf("a writing statement was answered from the cache: %+v", s)
	}
	if got := queryString(t, conn, "SELECT count(*)::text FROM "+table); got != "3" {
		t.Fatalf("rows: %s", got)
	}
}

// A reload that points a connection elsewhere: the next read gets the new
// database's rows, never the cached ones of the old.
func TestCacheReloadNeverServesOldRows(t *testing.T) {
	c, _ := newTestCache(t)
	p := startProxy(t, sqliteSecrets("app")+"cache_ttl = \"1m\"\n"+sqliteSecrets("other"), proxyOptions{cache: c, quiet: true})
	for i, name := range []string{"app", "other"} {
		conn := p.Connect(t, name)
		mustExec(t, conn, "CREATE TABLE which (v INT)")
		mustExec(t, conn, fmt.Sprintf("INSERT INTO which VALUES (%d)", i))
	}
	read := func() string { return queryString(t, p.Connect(t, "app"), "SELECT v::text FROM which") }
	if read() != "0" || read() != "0" || stats(c).Hits != 1 {
		t.Fatalf("before the reload: %+v", stats(c))
	}
	file := filepath.Join(p.Dir, "moved.toml")
	body := fmt.Sprintf("[connections.app]\nurl = \"sqlite:///%s/other.db\"\ncache_ttl = \"1m\"\n", p.Dir)
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := secrets.Load(secrets.LoadOptions{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	if changed := p.Reg.Reload(cfg); len(changed) == 0 {
		t.Fatal("nothing changed")
	}
	if got := read(); got != "1" {
		t.Fatalf("after the reload app read %s", got)
	}
}

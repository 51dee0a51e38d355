package integration

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Tests from a second review of the result cache's hit path (the key's
// session prefix, the Bind keyed as sent, the batch arena, the unnamed
// statement and the per-session memo). Each expectation is what
// PostgreSQL answers when the client talks to it directly.

// In "BPES" the portal that Execute runs is bound to the named statement;
// the unnamed Parse that follows the Bind only replaces the unnamed
// statement. The answer therefore depends on the named statement, which
// PostgreSQL answers as 'first' and then 'second'. The cache keys such a
// batch by the text of the last Parse, so two different named statements
// with the same trailing Parse share one entry.
func TestCacheReview2BindBeforeUnnamedParse(t *testing.T) {
	pg := cacheBackends()[1]
	p, _, _, table := cachedProxy(t, pg, "")
	rc := startRaw(t, p, "app")
	rc.send(&pgproto3.Parse{Name: "s1", Query: "SELECT 'first'::text AS v FROM " + table + " WHERE id = $1"},
		&pgproto3.Parse{Name: "s2", Query: "SELECT 'second'::text AS v FROM " + table + " WHERE id = $1"},
		&pgproto3.Sync{})
	expectMsgs(t, rc.untilReady(), "ParseComplete", "ParseComplete", "ReadyForQuery")
	decoy := &pgproto3.Parse{Query: "SELECT name FROM " + table + " WHERE id = $1"}
	run := func(stmt string) string {
		rc.send(&pgproto3.Bind{PreparedStatement: stmt, Parameters: [][]byte{[]byte("1")}},
			decoy, &pgproto3.Execute{}, &pgproto3.Sync{})
		return firstValue(t, rc.untilReady())
	}
	if got := run("s1"); got != "first" {
		t.Fatalf("Bind s1, Parse, Execute: %q, PostgreSQL says \"first\"", got)
	}
	if got := run("s2"); got != "second" {
		t.Fatalf("Bind s2, Parse, Execute: %q, PostgreSQL says \"second\" (the entry of s1 was served)", got)
	}
}

// The same with the unnamed statement: in "PBPES" the Execute runs the
// portal of the first Parse, not the second.
func TestCacheReview2ParseBindParse(t *testing.T) {
	pg := cacheBackends()[1]
	p, _, _, table := cachedProxy(t, pg, "")
	rc := startRaw(t, p, "app")
	run := func(first string) string {
		rc.send(&pgproto3.Parse{Query: "SELECT '" + first + "'::text AS v FROM " + table + " WHERE id = $1"},
			&pgproto3.Bind{Parameters: [][]byte{[]byte("1")}},
			&pgproto3.Parse{Query: "SELECT name FROM " + table + " WHERE id = $1"},
			&pgproto3.Execute{}, &pgproto3.Sync{})
		return firstValue(t, rc.untilReady())
	}
	if got := run("alpha"); got != "alpha" {
		t.Fatalf("first run: %q, PostgreSQL says \"alpha\"", got)
	}
	if got := run("beta"); got != "beta" {
		t.Fatalf("second run: %q, PostgreSQL says \"beta\" (the entry of the first run was served)", got)
	}
}

// A hit of "BPBES" (Bind of a named statement, then Parse/Bind of the
// unnamed one) takes the place of an unnamed Parse the server never sees,
// but the proxy only remembers that for batches starting with 'P'. A
// later Bind of the unnamed statement then runs whatever unnamed
// statement the server had before. PostgreSQL binds the statement the
// client last parsed: "new".
func TestCacheReview2UnnamedParseNotFirstInHitBatch(t *testing.T) {
	pg := cacheBackends()[1]
	p, _, _, table := cachedProxy(t, pg, "")
	rc := startRaw(t, p, "app")
	rc.send(&pgproto3.Parse{Name: "s1", Query: "SELECT 1"}, &pgproto3.Sync{})
	expectMsgs(t, rc.untilReady(), "ParseComplete", "ReadyForQuery")
	// An unnamed statement the server keeps: not cacheable (random()), so
	// it is sent as is, without the proxy's transaction around it.
	old := func() {
		rc.send(&pgproto3.Parse{Query: "SELECT 'old'::text AS v WHERE random() >= 0"},
			&pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
		if got := firstValue(t, rc.untilReady()); got != "old" {
			t.Fatalf("setup: %q", got)
		}
	}
	newBatch := []pgproto3.FrontendMessage{
		&pgproto3.Bind{PreparedStatement: "s1"},
		&pgproto3.Parse{Query: "SELECT 'new'::text AS v FROM " + table + " WHERE id = $1"},
		&pgproto3.Bind{Parameters: [][]byte{[]byte("1")}},
		&pgproto3.Execute{}, &pgproto3.Sync{},
	}
	old()
	rc.send(newBatch...) // miss
	if got := firstValue(t, rc.untilReady()); got != "new" {
		t.Fatalf("miss: %q", got)
	}
	old()
	rc.send(newBatch...) // hit
	if got := firstValue(t, rc.untilReady()); got != "new" {
		t.Fatalf("hit: %q", got)
	}
	rc.send(&pgproto3.Bind{Parameters: [][]byte{[]byte("2")}}, &pgproto3.Execute{}, &pgproto3.Sync{})
	ms := rc.untilReady()
	if e, ok := findMsg[*pgproto3.ErrorResponse](ms); ok {
		t.Fatalf("Bind of the unnamed statement after the hit: %s %s, PostgreSQL says \"new\"", e.Code, e.Message)
	}
	if got := firstValue(t, ms); got != "new" {
		t.Fatalf("Bind of the unnamed statement after the hit: %q, PostgreSQL says \"new\"", got)
	}
}

// A text-typed parameter sent in binary format is the same bytes as in
// text format: "now" cast to timestamptz is the current time, so
// PostgreSQL answers two executions some milliseconds apart differently.
// The time-dependent check only looks at text-format parameters.
func TestCacheReview2BinaryNowParameter(t *testing.T) {
	pg := cacheBackends()[1]
	p, c, _, _ := cachedProxy(t, pg, "")
	rc := startRaw(t, p, "app")
	run := func() string {
		rc.send(&pgproto3.Parse{Query: "SELECT ($1::text)::timestamptz::text AS t", ParameterOIDs: []uint32{25}},
			&pgproto3.Bind{ParameterFormatCodes: []int16{1}, Parameters: [][]byte{[]byte("now")}},
			&pgproto3.Execute{}, &pgproto3.Sync{})
		return firstValue(t, rc.untilReady())
	}
	a := run()
	time.Sleep(20 * time.Millisecond)
	b := run()
	if a == b {
		t.Fatalf("'now' as a binary text parameter, 20ms apart: both %q (stats %+v); PostgreSQL gives two times", a, stats(c))
	}
}

// 'today 10:00' (and 'tomorrow 08:00', 'yesterday noon'...) is a
// time-dependent value PostgreSQL accepts: TimeDependentLiteral only knows
// the bare words of at most 9 characters, so the answer (today's date) is
// stored and served after midnight. Checked through the statistics: the
// second execution must not be a hit.
func TestCacheReview2TodayWithTimeParameter(t *testing.T) {
	pg := cacheBackends()[1]
	p, c, _, _ := cachedProxy(t, pg, "")
	rc := startRaw(t, p, "app")
	for i := 0; i < 2; i++ {
		rc.send(&pgproto3.Parse{Query: "SELECT $1::timestamp::text AS t"},
			&pgproto3.Bind{Parameters: [][]byte{[]byte("today 10:00")}},
			&pgproto3.Execute{}, &pgproto3.Sync{})
		firstValue(t, rc.untilReady())
	}
	if s := stats(c); s.Hits != 0 || s.Stores != 0 {
		t.Fatalf("'today 10:00' as a parameter was cached: %+v (it is a different day tomorrow)", s)
	}
	rc.send(&pgproto3.Query{String: "SELECT 'today 10:00'::timestamp::text AS t"})
	firstValue(t, rc.untilReady())
	rc.send(&pgproto3.Query{String: "SELECT 'today 10:00'::timestamp::text AS t"})
	firstValue(t, rc.untilReady())
	if s := stats(c); s.Hits != 0 || s.Stores != 0 {
		t.Fatalf("'today 10:00' as a literal was cached: %+v", s)
	}
}

// Pipelined batches mixing hits and misses with different parameter
// values: each answer must be the row of its own parameter. A body of a
// batch that reached a backend must never be overwritten by the arena of
// a later batch (bridged backends keep references to Bind's values).
func TestCacheReview2PipelinedHitsAndMisses(t *testing.T) {
	for _, b := range cacheBackends() {
		t.Run(b.name, func(t *testing.T) {
			p, _, _, table := cachedProxy(t, b, "")
			rc := startRaw(t, p, "app")
			q := "SELECT name FROM " + table + " WHERE id = $1"
			names := map[string]string{"1": "one", "2": "two", "3": "three"}
			// Warm 1 and 2; 3 stays a miss until its first run.
			for _, id := range []string{"1", "2"} {
				rc.send(&pgproto3.Parse{Query: q}, &pgproto3.Bind{Parameters: [][]byte{[]byte(id)}},
					&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{})
				if got := firstValue(t, rc.untilReady()); got != names[id] {
					t.Fatalf("warming %s: %q", id, got)
				}
			}
			order := []string{"1", "3", "2", "1", "3", "2", "2", "1"}
			var msgs []pgproto3.FrontendMessage
			for i, id := range order {
				switch i % 3 {
				case 0: // Parse, Bind, Describe, Execute
					msgs = append(msgs, &pgproto3.Parse{Query: q}, &pgproto3.Bind{Parameters: [][]byte{[]byte(id)}},
						&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{})
				case 1: // binary parameter, binary id
					msgs = append(msgs, &pgproto3.Parse{Query: q, ParameterOIDs: []uint32{23}},
						&pgproto3.Bind{ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{0, 0, 0, id[0] - '0'}}},
						&pgproto3.Execute{}, &pgproto3.Sync{})
				default: // a Flush in the middle
					msgs = append(msgs, &pgproto3.Parse{Query: q}, &pgproto3.Bind{Parameters: [][]byte{[]byte(id)}},
						&pgproto3.Flush{}, &pgproto3.Execute{}, &pgproto3.Sync{})
				}
			}
			rc.send(msgs...)
			for i, id := range order {
				ms := rc.untilReady()
				if got := firstValue(t, ms); got != names[id] {
					t.Fatalf("pipelined request %d (id %s): %q, want %q\n%s", i, id, got, names[id], describeMsgs(ms))
				}
			}
		})
	}
}

// Settings: a SET in a simple Query pipelined right behind a cached read
// in the extended protocol, and back again, in two sessions with
// different search_paths. Each read must see its own schema's table.
func TestCacheReview2SearchPathPipelined(t *testing.T) {
	pg := cacheBackends()[1]
	p, _, _, _ := cachedProxy(t, pg, "")
	setup := p.Connect(t, "app")
	sa, sb := "xcp_a_"+randHex(), "xcp_b_"+randHex()
	for _, s := range []string{sa, sb} {
		mustExec(t, setup, "CREATE SCHEMA "+s)
		mustExec(t, setup, "CREATE TABLE "+s+".t (v text)")
		mustExec(t, setup, "INSERT INTO "+s+".t VALUES ('"+s+"')")
	}
	t.Cleanup(func() {
		c := p.Connect(t, "app")
		for _, s := range []string{sa, sb} {
			_, _ = c.Exec(ctxT(t), "DROP SCHEMA "+s+" CASCADE")
		}
	})
	read := []pgproto3.FrontendMessage{&pgproto3.Parse{Query: "SELECT v FROM t WHERE $1::int = 1"},
		&pgproto3.Bind{Parameters: [][]byte{[]byte("1")}}, &pgproto3.Execute{}, &pgproto3.Sync{}}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, pair := range [][2]string{{sa, sb}, {sb, sa}} {
		wg.Add(1)
		go func(first, second string) {
			defer wg.Done()
			rc := startRaw(t, p, "app")
			for i := 0; i < 10; i++ {
				for _, s := range []string{first, second} {
					msgs := append([]pgproto3.FrontendMessage{&pgproto3.Query{String: "SET search_path TO " + s}}, read...)
					msgs = append(msgs, read...)
					for _, m := range msgs {
						rc.fe.Send(m)
					}
					if err := rc.fe.Flush(); err != nil {
						errs <- err
						return
					}
					var all []pgproto3.BackendMessage
					for k := 0; k < 3; k++ {
						for {
							m, err := rc.recv()
							if err != nil {
								errs <- err
								return
							}
							all = append(all, m)
							if _, ok := m.(*pgproto3.ReadyForQuery); ok {
								break
							}
						}
					}
					if v := dataValues(all); len(v) != 2 || v[0] != s || v[1] != s {
						errs <- fmt.Errorf("search_path %s: reads gave %q\n%s", s, v, describeMsgs(all))
						return
					}
				}
			}
		}(pair[0], pair[1])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// search_path spelled with a quoted identifier differs from the unquoted
// one: PostgreSQL folds xcp to lower case but keeps "XCP...". Two sessions
// that set them must not share an entry.
func TestCacheReview2QuotedSearchPath(t *testing.T) {
	pg := cacheBackends()[1]
	p, _, _, _ := cachedProxy(t, pg, "")
	setup := p.Connect(t, "app")
	base := "xcp_q_" + randHex()
	upper := strings.ToUpper(base)
	mustExec(t, setup, "CREATE SCHEMA "+base)
	mustExec(t, setup, `CREATE SCHEMA "`+upper+`"`)
	mustExec(t, setup, "CREATE TABLE "+base+".t (v text)")
	mustExec(t, setup, `CREATE TABLE "`+upper+`".t (v text)`)
	mustExec(t, setup, "INSERT INTO "+base+".t VALUES ('lower')")
	mustExec(t, setup, `INSERT INTO "`+upper+`".t VALUES ('upper')`)
	t.Cleanup(func() {
		c := p.Connect(t, "app")
		_, _ = c.Exec(ctxT(t), "DROP SCHEMA "+base+" CASCADE")
		_, _ = c.Exec(ctxT(t), `DROP SCHEMA "`+upper+`" CASCADE`)
	})
	for _, c := range []struct{ set, want string }{
		{"SET search_path TO " + upper, "lower"}, // unquoted: folded
		{`SET search_path TO "` + upper + `"`, "upper"},
		{"SET search_path = '" + base + "'", "lower"},
		{"SET search_path = '" + upper + "'", "upper"}, // a string keeps its case
	} {
		rc := startRaw(t, p, "app")
		rc.send(&pgproto3.Query{String: c.set})
		rc.untilReady()
		rc.send(&pgproto3.Query{String: "SELECT v FROM t"})
		if got := firstValue(t, rc.untilReady()); got != c.want {
			t.Errorf("%s; SELECT v FROM t: %q, PostgreSQL says %q", c.set, got, c.want)
		}
	}
}

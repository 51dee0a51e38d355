package proxy

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/cache"
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
	"github.com/xconnproxy/xconnproxy/routing"
)

func newTestResultCache() *resultCache {
	rc := &resultCache{conn: "pets_db", pol: routing.CachePolicy{ConfigHash: "h", User: "u", Dialect: sqltext.Postgres}}
	rc.tee = &tee{rc: rc, settings: cache.Settings{Other: map[string]string{}}, status: 'I'}
	return rc
}

// bindRest is the part of a Bind body the key covers: from the parameter
// format codes on.
func bindRest(t testing.TB, b pgproto3.Bind) []byte {
	wire, err := b.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, rest, ok := bindNames(wire[5:])
	if !ok {
		t.Fatal("bindNames refused a Bind pgproto3 wrote")
	}
	return rest
}

// batchID remembers IDs, so it must give what hashing the key again gives,
// whatever order requests come in: a remembered ID for another statement,
// Bind, shape, parameter types or settings would serve another request's
// answer. A random walk over all of these compares every answer with a
// fresh hash.
func TestBatchIDIsTheKeysID(t *testing.T) {
	rc := newTestResultCache()
	texts := []string{
		"SELECT count(*) FROM pgbench_accounts WHERE bid = $1",
		"SELECT * FROM pets WHERE name = $1",
		"SELECT $1::int + 1",
	}
	long := bytes.Repeat([]byte("x"), maxMemoBind) // past the memo's bound with its header
	binds := [][]byte{
		bindRest(t, pgproto3.Bind{Parameters: [][]byte{[]byte("1")}}),
		bindRest(t, pgproto3.Bind{Parameters: [][]byte{[]byte("2")}}),
		bindRest(t, pgproto3.Bind{Parameters: [][]byte{nil}}),
		bindRest(t, pgproto3.Bind{Parameters: [][]byte{{}}}),
		bindRest(t, pgproto3.Bind{Parameters: [][]byte{[]byte("1")}, ResultFormatCodes: []int16{1}}),
		bindRest(t, pgproto3.Bind{ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{0, 0, 0, 1}}}),
		bindRest(t, pgproto3.Bind{Parameters: [][]byte{long}}),
	}
	types := [][]uint32{nil, {23}, {25}}
	shapes := []string{"PBDES", "BDES", "PBES", "BES"}
	r := rand.New(rand.NewPCG(1, 2))
	ids := map[string]string{} // request -> ID, to see distinct requests get distinct IDs
	for i := 0; i < 20000; i++ {
		if r.IntN(500) == 0 {
			rc.tee.setting("search_path", fmt.Sprintf("s%d", r.IntN(3)))
		}
		q := texts[r.IntN(len(texts))]
		key := rc.key(shapes[r.IntN(len(shapes))], q)
		key.ParamTypes = types[r.IntN(len(types))]
		key.Bind = binds[r.IntN(len(binds))]
		got, ok := rc.batchID(&key, rc.classifyEntry(q))
		if !ok {
			t.Fatalf("batchID refused %+v", key)
		}
		if want := key.ID(); got != want {
			t.Fatalf("request %d: batchID = %s, hashing the key gives %s (%+v)", i, got, want, key)
		}
		req := fmt.Sprintf("%q %q %v %x %s", key.Shape, q, key.ParamTypes, key.Bind, key.Settings.SearchPath)
		if prev, ok := ids[got.String()]; ok && prev != req {
			t.Fatalf("two requests share an ID: %s and %s", prev, req)
		}
		ids[got.String()] = req
	}
	if len(ids) < 100 {
		t.Fatalf("the walk met only %d distinct requests", len(ids))
	}
	// Short Binds are remembered, long ones not.
	for _, b := range rc.batchIDs {
		if len(b.bind) > maxMemoBind {
			t.Fatalf("a Bind of %d bytes was remembered", len(b.bind))
		}
	}
}

// A parameter that names a moment relative to now ('today') is never
// cached, also when the same statement was remembered with another value.
func TestBatchIDTimeDependentParameter(t *testing.T) {
	rc := newTestResultCache()
	q := "SELECT * FROM orders WHERE day = $1::date"
	e := rc.classifyEntry(q)
	for _, c := range []struct {
		v  string
		ok bool
	}{{"2024-01-01", true}, {"today", false}, {"2024-01-01", true}, {"Tomorrow", false}} {
		key := rc.key("PBDES", q)
		key.Bind = bindRest(t, pgproto3.Bind{Parameters: [][]byte{[]byte(c.v)}})
		if _, ok := rc.batchID(&key, e); ok != c.ok {
			t.Errorf("batchID with %q: cacheable %v, want %v", c.v, ok, c.ok)
		}
	}
}

// The memo's hit path is what an extended cache hit pays for its key.
func BenchmarkBatchID(b *testing.B) {
	rc := newTestResultCache()
	q := "SELECT count(*), sum(abalance) FROM pgbench_accounts WHERE bid = $1"
	e := rc.classifyEntry(q)
	key := rc.key("PBDES", q)
	key.Bind = bindRest(b, pgproto3.Bind{Parameters: [][]byte{[]byte("7")}})
	b.Run("remembered", func(b *testing.B) {
		for b.Loop() {
			rc.batchID(&key, e)
		}
	})
	b.Run("hashed", func(b *testing.B) {
		for b.Loop() {
			key.IDWith(rc.prefix)
		}
	})
}

package integration

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Regression tests from a review of the result cache: each case is a
// sequence in which the cache once served a wrong answer, lost a message
// or hung.

// dataValues returns the first column of every DataRow in ms.
func dataValues(ms []pgproto3.BackendMessage) []string {
	var out []string
	for _, m := range ms {
		if d, ok := m.(*pgproto3.DataRow); ok && len(d.Values) > 0 {
			out = append(out, string(d.Values[0]))
		}
	}
	return out
}

// firstValue is the first column of the first DataRow, or the error.
func firstValue(t *testing.T, ms []pgproto3.BackendMessage) string {
	t.Helper()
	for _, m := range ms {
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			t.Fatalf("error %s: %s", e.Code, e.Message)
		}
	}
	v := dataValues(ms)
	if len(v) == 0 {
		t.Fatalf("no row: %s", msgNames(ms))
	}
	return v[0]
}

// waitActive waits until a server session runs a statement containing
// marker and returns its pid.
func waitActive(t *testing.T, admin *pgconn.PgConn, marker string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		res, err := execSimple(ctxT(t), admin, "SELECT pid::text FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%"+marker+"%' AND pid <> pg_backend_pid()")
		if err != nil {
			t.Error(err)
			return ""
		}
		if len(res) > 0 && len(res[0].Rows) > 0 {
			return string(res[0].Rows[0][0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("the statement never showed in pg_stat_activity")
	return ""
}

func TestCacheRegress(t *testing.T) {
	pg := cacheBackends()[1]

	// The miss runs inside the proxy's BEGIN READ ONLY, and SHOW of the
	// transaction's own settings is cacheable: the client (and everyone
	// after it, from the cache) reads "on" where PostgreSQL says "off".
	t.Run("SHOW transaction_read_only is the server's answer", func(t *testing.T) {
		p, _, _, _ := cachedProxy(t, pg, "")
		rc := startRaw(t, p, "app")
		rc.send(&pgproto3.Query{String: "SHOW transaction_read_only"})
		if got := firstValue(t, rc.untilReady()); got != "off" {
			t.Fatalf("SHOW transaction_read_only outside a transaction: %q, PostgreSQL says \"off\"", got)
		}
	})

	// A FATAL during a miss (the server connection is terminated) ends
	// the captured unit, but the proxy then waited for the answer to its
	// COMMIT, which never came: the client heard nothing, forever. Now
	// it hears the server's error (as an ERROR: its session goes on, on
	// a new server connection) and ReadyForQuery.
	t.Run("FATAL during a miss reaches the client", func(t *testing.T) {
		p, _, _, _ := cachedProxy(t, pg, "")
		admin := directPG(t)
		marker := "xcp_fatal_" + randHex()
		rc := startRaw(t, p, "app")
		rc.send(&pgproto3.Query{String: "SELECT count(*) AS " + marker + " FROM generate_series(1, 2000000000) AS g"})
		pid := waitActive(t, admin, marker)
		if pid == "" {
			return
		}
		if _, err := execSimple(ctxT(t), admin, "SELECT pg_terminate_backend("+pid+")"); err != nil {
			t.Fatal(err)
		}
		var ms []pgproto3.BackendMessage
		var failure *pgproto3.ErrorResponse
		for {
			m, err := rc.recv()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("the server connection was terminated during a miss; the client heard nothing in %v (got %s)", rawTimeout, msgNames(ms))
				}
				t.Fatalf("want the server's error, got %s then %v", describeMsgs(ms), err)
			}
			ms = append(ms, m)
			if e, ok := m.(*pgproto3.ErrorResponse); ok {
				failure = e
			}
			if _, ok := m.(*pgproto3.ReadyForQuery); ok {
				if failure == nil || failure.Code != "57P01" || failure.Severity != "ERROR" {
					t.Fatalf("want ERROR 57P01 before ReadyForQuery, got %s", describeMsgs(ms))
				}
				rc.send(&pgproto3.Query{String: "SELECT 1"})
				if got := firstValue(t, rc.untilReady()); got != "1" {
					t.Fatalf("the session after the failure: %q", got)
				}
				return
			}
		}
	})

	// A notification for a listening session that arrives during a
	// miss is delivered by the server with the proxy's COMMIT, whose
	// answer is dropped: the client never gets it.
	t.Run("notification during a miss is not lost", func(t *testing.T) {
		p, _, _, _ := cachedProxy(t, pg, "")
		admin := directPG(t)
		ch := "xcp_ch_" + randHex()
		marker := "xcp_listen_" + randHex()
		rc := startRaw(t, p, "app")
		rc.send(&pgproto3.Query{String: "LISTEN " + ch})
		rc.untilReady()
		rc.send(&pgproto3.Query{String: "SELECT count(*) AS " + marker + " FROM generate_series(1, 20000000) AS g"})
		if waitActive(t, admin, marker) == "" {
			return
		}
		if _, err := execSimple(ctxT(t), admin, "NOTIFY "+ch+", 'hello'"); err != nil {
			t.Fatal(err)
		}
		ms := rc.untilReady()
		time.Sleep(300 * time.Millisecond)
		rc.send(&pgproto3.Query{String: "/* xconn:nocache */ SELECT 1"})
		ms = append(ms, rc.untilReady()...)
		if _, ok := findMsg[*pgproto3.NotificationResponse](ms); !ok {
			t.Fatalf("the notification sent during the statement never reached the client: %s", msgNames(ms))
		}
	})

	// After a COPY FROM STDIN sent with the extended protocol (its Sync
	// pipelined after the Execute, as the protocol allows), dropSyncs keeps
	// the COPY's own unit (index 0) and the units shift by one: the end of
	// each later write ends the previous unit, so its completion-time
	// invalidation comes one request late. A read by another session that
	// ran while the write was blocked stays in the cache after the write.
	t.Run("write after an extended COPY is invalidated when it completes", func(t *testing.T) {
		p, _, _, table := cachedProxy(t, pg, "")
		a := startRaw(t, p, "app")
		a.send(&pgproto3.Parse{Query: "COPY " + table + " FROM STDIN"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
		for {
			m := a.mustRecv()
			if _, ok := m.(*pgproto3.CopyInResponse); ok {
				break
			}
			if e, ok := m.(*pgproto3.ErrorResponse); ok {
				t.Fatalf("COPY: %s", e.Message)
			}
		}
		a.send(&pgproto3.CopyData{Data: []byte("4\tfour\n")}, &pgproto3.CopyDone{}, &pgproto3.Sync{})
		a.untilReady()

		count := "SELECT count(*)::text FROM " + table
		b := p.Connect(t, "app", pgx.QueryExecModeSimpleProtocol)
		if got := queryString(t, b, count); got != "4" {
			t.Fatalf("after the COPY: %s rows", got)
		}
		locker := directPG(t)
		if _, err := execSimple(ctxT(t), locker, "BEGIN; LOCK TABLE "+table+" IN SHARE MODE"); err != nil {
			t.Fatal(err)
		}
		marker := "xcp_ins_" + randHex()
		a.send(&pgproto3.Query{String: "INSERT INTO " + table + " VALUES (5, '" + marker + "')"})
		if waitActive(t, directPG(t), marker) == "" {
			return
		}
		if got := queryString(t, b, count); got != "4" { // the INSERT waits for the lock
			t.Fatalf("while the INSERT waits: %s rows", got)
		}
		if _, err := execSimple(ctxT(t), locker, "COMMIT"); err != nil {
			t.Fatal(err)
		}
		for _, m := range a.untilReady() {
			if e, ok := m.(*pgproto3.ErrorResponse); ok {
				t.Fatalf("INSERT: %s", e.Message)
			}
		}
		if got := queryString(t, b, count); got != "5" {
			t.Fatalf("after an INSERT completed through the proxy another session reads %s rows from the cache, want 5", got)
		}
	})

	// A FunctionCall ('F', the fast-path protocol) runs any function,
	// writing ones included, but the proxy invalidates nothing for it.
	t.Run("FunctionCall that writes invalidates", func(t *testing.T) {
		p, _, _, table := cachedProxy(t, pg, "")
		admin := directPG(t)
		fn := "xcp_fpwriter_" + randHex()
		if _, err := execSimple(ctxT(t), admin, "CREATE FUNCTION "+fn+"() RETURNS int LANGUAGE sql AS $$ INSERT INTO "+table+" VALUES (77, 'fastpath') RETURNING 1 $$"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP FUNCTION "+fn).Close() })
		res, err := execSimple(ctxT(t), admin, "SELECT '"+fn+"'::regproc::oid::text")
		if err != nil {
			t.Fatal(err)
		}
		var oid uint32
		for _, c := range string(res[0].Rows[0][0]) {
			oid = oid*10 + uint32(c-'0')
		}
		b := p.Connect(t, "app", pgx.QueryExecModeSimpleProtocol)
		count := "SELECT count(*)::text FROM " + table
		if got := queryString(t, b, count); got != "3" {
			t.Fatal(got)
		}
		a := startRaw(t, p, "app")
		a.send(&pgproto3.FunctionCall{Function: oid, ResultFormatCode: 0})
		for _, m := range a.untilReady() {
			if e, ok := m.(*pgproto3.ErrorResponse); ok {
				t.Fatalf("FunctionCall: %s", e.Message)
			}
		}
		if got := queryString(t, b, count); got != "4" {
			t.Fatalf("after a FunctionCall inserted a row another session reads %s rows, want 4", got)
		}
	})

	// RESET search_path returns to the value the client gave at startup
	// (PostgreSQL keeps it as the session default), but the proxy records
	// "" — the key of sessions that never set it — so the session reads
	// another search_path's entry.
	t.Run("RESET search_path after a startup search_path", func(t *testing.T) {
		c, _ := newTestCache(t)
		p := startProxy(t, pgSecrets(t, "app", "cache_ttl = \"1m\""), proxyOptions{cache: c, quiet: true})
		admin := directPG(t)
		sc, tbl := "xcp_rs_"+randHex(), "xcp_rt_"+randHex()
		if _, err := execSimple(ctxT(t), admin, "CREATE SCHEMA "+sc+"; CREATE TABLE "+sc+"."+tbl+" (v text); INSERT INTO "+sc+"."+tbl+" VALUES ('"+sc+"'); "+
			"CREATE TABLE public."+tbl+" (v text); INSERT INTO public."+tbl+" VALUES ('public')"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = admin.Exec(context.Background(), "DROP SCHEMA "+sc+" CASCADE; DROP TABLE public."+tbl).Close()
		})
		q := "SELECT v FROM " + tbl
		// PostgreSQL itself: RESET keeps the startup value.
		direct := connectPgconn(t, pgURL(), func(cfg *pgconn.Config) { cfg.RuntimeParams["search_path"] = sc })
		res, err := execSimple(ctxT(t), direct, "RESET search_path; "+q)
		if err != nil || string(res[1].Rows[0][0]) != sc {
			t.Fatalf("PostgreSQL after RESET: %v %v", res, err)
		}
		plain := p.Connect(t, "app", pgx.QueryExecModeSimpleProtocol)
		if got := queryString(t, plain, q); got != "public" {
			t.Fatal(got)
		}
		conn := connectPgconn(t, p.URL("app"), func(cfg *pgconn.Config) { cfg.RuntimeParams["search_path"] = sc })
		if _, err := execSimple(ctxT(t), conn, "RESET search_path"); err != nil {
			t.Fatal(err)
		}
		res, err = execSimple(ctxT(t), conn, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(res[0].Rows[0][0]); got != sc {
			t.Fatalf("after RESET search_path (startup search_path=%s) the proxy answered %q, PostgreSQL answers %q", sc, got, sc)
		}
	})

	// SQL-level DEALLOCATE/PREPARE share the namespace of protocol-level
	// named statements, but the proxy's map of named statements ignores
	// them: a Bind of the re-prepared name is keyed (and invalidated) as
	// the statement the name had before.
	t.Run("re-PREPAREd statement name keeps its old key", func(t *testing.T) {
		p, _, _, table := cachedProxy(t, pg, "")
		secret := "xcp_secret_" + randHex()
		setup := p.Connect(t, "app")
		mustExec(t, setup, "CREATE TABLE "+secret+" (v text)")
		mustExec(t, setup, "INSERT INTO "+secret+" VALUES ('secret')")
		t.Cleanup(func() { _, _ = p.Connect(t, "app").Exec(context.Background(), "DROP TABLE "+secret) })
		q := "SELECT name FROM " + table + " WHERE id = 1"

		a := startRaw(t, p, "app")
		rawAnswer(t, a, &pgproto3.Parse{Name: "s1", Query: q}, &pgproto3.Sync{})
		rawAnswer(t, a, &pgproto3.Query{String: "DEALLOCATE s1"})
		rawAnswer(t, a, &pgproto3.Query{String: "PREPARE s1 AS SELECT v AS name FROM " + secret})
		a.send(&pgproto3.Bind{PreparedStatement: "s1"}, &pgproto3.Execute{}, &pgproto3.Sync{})
		if got := firstValue(t, a.untilReady()); got != "secret" {
			t.Fatalf("the re-prepared statement: %q", got)
		}

		b := startRaw(t, p, "app")
		rawAnswer(t, b, &pgproto3.Parse{Name: "s2", Query: q}, &pgproto3.Sync{})
		b.send(&pgproto3.Bind{PreparedStatement: "s2"}, &pgproto3.Execute{}, &pgproto3.Sync{})
		if got := firstValue(t, b.untilReady()); got != "one" {
			t.Fatalf("%s through another session answered %q (another statement's rows), want \"one\"", q, got)
		}
	})

	t.Run("re-PREPAREd statement name that writes invalidates", func(t *testing.T) {
		p, _, _, table := cachedProxy(t, pg, "")
		count := "SELECT count(*)::text FROM " + table
		b := p.Connect(t, "app", pgx.QueryExecModeSimpleProtocol)
		a := startRaw(t, p, "app")
		rawAnswer(t, a, &pgproto3.Parse{Name: "s1", Query: "SELECT name FROM " + table + " WHERE id = $1"}, &pgproto3.Sync{})
		rawAnswer(t, a, &pgproto3.Query{String: "DEALLOCATE s1"})
		rawAnswer(t, a, &pgproto3.Query{String: "PREPARE s1 (int) AS DELETE FROM " + table + " WHERE id = $1"})
		if got := queryString(t, b, count); got != "3" {
			t.Fatal(got)
		}
		// Execute with a row limit: not a cacheable batch, so the backend's
		// READ ONLY refusal never reveals the write.
		a.send(&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{[]byte("1")}}, &pgproto3.Execute{MaxRows: 10}, &pgproto3.Sync{})
		for _, m := range a.untilReady() {
			if e, ok := m.(*pgproto3.ErrorResponse); ok {
				t.Fatalf("DELETE: %s", e.Message)
			}
		}
		if got := queryString(t, b, count); got != "2" {
			t.Fatalf("after a DELETE through the proxy another session reads %s rows, want 2", got)
		}
	})
}

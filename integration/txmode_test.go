package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// PostgreSQL behind the proxy in transaction pool mode. The sequences here
// are the ones that break a naive transaction pooler: statements prepared in
// one transaction and used in another, errors in the middle of a pipeline,
// settings of one client reaching another, a client that leaves mid-way.
// Each is checked against the same client talking to PostgreSQL directly.

// txSecrets is a PostgreSQL section in transaction mode.
func txSecrets(t testing.TB, extra string) string {
	return pgSecrets(t, "pg", "pool_mode = \"transaction\"\n"+extra)
}

// txStep is what a client sends before it waits for ready ReadyForQuery
// messages (one when ready is zero).
type txStep struct {
	msgs  []pgproto3.FrontendMessage
	raw   []byte // sent after msgs, as they are
	ready int
}

// render is a message as the differential comparison sees it:
// ParameterStatus is left out (it depends on the route), errors keep their
// severity, code and message.
func render(ms []pgproto3.BackendMessage) []string {
	var out []string
	for _, m := range ms {
		switch x := m.(type) {
		case *pgproto3.ParameterStatus, *pgproto3.NoticeResponse:
		case *pgproto3.ErrorResponse:
			out = append(out, fmt.Sprintf("Error %s %s %s", x.Severity, x.Code, x.Message))
		case *pgproto3.DataRow:
			out = append(out, fmt.Sprintf("DataRow %q", x.Values))
		case *pgproto3.CommandComplete:
			out = append(out, "CommandComplete "+string(x.CommandTag))
		case *pgproto3.ReadyForQuery:
			out = append(out, "ReadyForQuery "+string(x.TxStatus))
		case *pgproto3.RowDescription:
			var names []string
			for _, f := range x.Fields {
				names = append(names, fmt.Sprintf("%s:%d", f.Name, f.DataTypeOID))
			}
			out = append(out, "RowDescription "+strings.Join(names, ","))
		case *pgproto3.ParameterDescription:
			out = append(out, fmt.Sprint("ParameterDescription ", x.ParameterOIDs))
		default:
			out = append(out, msgName(m))
		}
	}
	return out
}

// runSteps sends the steps and renders every answer. between runs after
// each step (the proxy run uses it to let another client take the server
// connection).
func runSteps(t *testing.T, rc *rawClient, steps []txStep, between func()) []string {
	t.Helper()
	var out []string
	for i, st := range steps {
		for _, m := range st.msgs {
			rc.fe.Send(m)
		}
		if err := rc.fe.Flush(); err != nil {
			t.Fatal(err)
		}
		if st.raw != nil {
			if _, err := rc.conn.Write(st.raw); err != nil {
				t.Fatal(err)
			}
		}
		for n := max(st.ready, 1); n > 0; n-- {
			out = append(out, render(rc.untilReady())...)
		}
		out = append(out, fmt.Sprintf("-- step %d", i+1))
		if between != nil {
			between()
		}
	}
	return out
}

// disturb uses the (single) server connection the way another client
// would: its own unnamed statement, named statement, settings and an
// error left behind in a batch.
// It runs in the background: while the client under test holds the
// connection in a transaction, it waits its turn.
func disturb(t *testing.T, rc *rawClient) func() {
	busy := make(chan struct{}, 1)
	t.Cleanup(func() { busy <- struct{}{} })
	return func() {
		select {
		case busy <- struct{}{}:
		default:
			return // the last one still waits
		}
		done := make(chan struct{})
		go func() {
			defer func() { <-busy }()
			defer close(done)
			disturbOnce(rc)
		}()
		select {
		case <-done:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func disturbOnce(rc *rawClient) {
	{
		rc.send(
			&pgproto3.Parse{Query: "SELECT 'other' AS who, $1::int AS n"},
			&pgproto3.Bind{Parameters: [][]byte{[]byte("7")}},
			&pgproto3.Execute{},
			&pgproto3.Parse{Name: "s1", Query: "SELECT 'not yours'"},
			&pgproto3.Sync{},
			&pgproto3.Query{String: "SET TimeZone = 'Asia/Tokyo'"},
		)
		rc.untilReady()
		rc.untilReady()
	}
}

func bindMsg(stmt string, params ...string) *pgproto3.Bind {
	b := &pgproto3.Bind{PreparedStatement: stmt}
	for _, p := range params {
		b.Parameters = append(b.Parameters, []byte(p))
	}
	return b
}

// rawMsg is a message with a hand-made (possibly malformed) body.
func rawMsg(typ byte, body []byte) []byte {
	out := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(len(body)+4))
	return append(out, body...)
}

func TestTxModeMatchesDirect(t *testing.T) {
	exec := &pgproto3.Execute{}
	sync := &pgproto3.Sync{}
	cases := []struct {
		name  string
		steps []txStep
	}{
		{"named statement across transactions", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "s1", Query: "SELECT $1::int + 1 AS n"}, sync}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("s1", "41"), &pgproto3.Describe{ObjectType: 'P'}, exec, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Describe{ObjectType: 'S', Name: "s1"}, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Close{ObjectType: 'S', Name: "s1"}, sync}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("s1", "1"), exec, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "s1", Query: "SELECT 'again' AS n"}, bindMsg("s1"), exec, sync}},
		}},
		{"unnamed statement across a Sync (describe-exec)", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Query: "SELECT $1::text AS t"}, &pgproto3.Describe{ObjectType: 'S'}, sync}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("", "mine"), exec, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Describe{ObjectType: 'S'}, bindMsg("", "still mine"), exec, sync}},
		}},
		{"a simple query destroys the unnamed statement", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Query: "SELECT 1"}, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "SELECT 2"}}},
			{msgs: []pgproto3.FrontendMessage{bindMsg(""), exec, sync}},
		}},
		{"no unnamed statement at all", []txStep{
			{msgs: []pgproto3.FrontendMessage{bindMsg(""), exec, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Describe{ObjectType: 'S'}, sync}},
		}},
		{"error in the middle of a batch", []txStep{
			{msgs: []pgproto3.FrontendMessage{
				&pgproto3.Parse{Name: "a", Query: "SELECT 1 AS a"},
				&pgproto3.Parse{Name: "b", Query: "SELEC 2"},
				&pgproto3.Parse{Name: "c", Query: "SELECT 3 AS c"},
				&pgproto3.Close{ObjectType: 'S', Name: "a"},
				sync}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("a"), exec, sync}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("c"), exec, sync}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("b"), exec, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "c", Query: "SELECT 'c now' AS c"}, bindMsg("c"), exec, sync}},
		}},
		{"an execution error skips the statements after it", []txStep{
			{msgs: []pgproto3.FrontendMessage{
				&pgproto3.Parse{Name: "z", Query: "SELECT 1/$1::int AS q"},
				bindMsg("z", "0"), exec,
				&pgproto3.Parse{Name: "y", Query: "SELECT 'y' AS y"},
				sync}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("y"), exec, bindMsg("z", "4"), exec, sync}},
		}},
		{"a second Parse of a name in use", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "d", Query: "SELECT 1 AS d"}, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "d", Query: "SELECT 2 AS d"}, bindMsg("d"), exec, sync}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("d"), exec, sync}},
		}},
		{"pipelined transactions in one write", []txStep{
			{msgs: []pgproto3.FrontendMessage{
				&pgproto3.Parse{Name: "p", Query: "SELECT $1::int * 2 AS p"}, bindMsg("p", "1"), exec, sync,
				bindMsg("p", "2"), exec, sync,
				&pgproto3.Query{String: "BEGIN"},
				bindMsg("p", "3"), exec, sync,
				&pgproto3.Query{String: "COMMIT"},
				bindMsg("p", "4"), exec, sync,
			}, ready: 6},
		}},
		{"flush without sync", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "f", Query: "SELECT 5 AS f"}, bindMsg("f"), exec, &pgproto3.Flush{}, &pgproto3.Flush{}, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Flush{}, sync}},
			{msgs: []pgproto3.FrontendMessage{sync}},
		}},
		{"DEALLOCATE ALL and DISCARD ALL forget the client's statements", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "e", Query: "SELECT 6 AS e"}, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "DEALLOCATE ALL"}}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("e"), exec, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "e", Query: "SELECT 7 AS e"}, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "DISCARD ALL"}}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("e"), exec, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "SHOW TimeZone"}}},
		}},
		{"transaction block across statements", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "BEGIN; SELECT 1"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "t", Query: "SELECT 1/0"}, bindMsg("t"), exec, sync}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("t"), exec, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "ROLLBACK"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "SHOW TimeZone"}}},
		}},
		{"malformed messages", []txStep{
			{raw: append(rawMsg('B', []byte("no terminator")), rawMsg('S', nil)...)},
			{raw: append(rawMsg('P', []byte("x\x00SELECT 1\x00\x00")), rawMsg('S', nil)...)},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "SELECT 'fine'"}}},
		}},
		{"SQL EXECUTE and DEALLOCATE of a protocol-level statement, in and out of an aborted transaction", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "s", Query: "SELECT 'sql' AS s"}, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "BEGIN"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "SELECT 1/0"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "EXECUTE s"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "DEALLOCATE s"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "ROLLBACK"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "EXECUTE s"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "DEALLOCATE PREPARE s"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "EXECUTE s"}}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("s"), exec, sync}},
		}},
		{"settings of this client", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "SET search_path = xcp_nowhere, public"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "SET statement_timeout = '7s'"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "SET DateStyle = 'SQL, DMY'"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "SELECT current_setting('search_path'), current_setting('statement_timeout'), current_setting('TimeZone'), '2024-03-01'::date::text"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "RESET statement_timeout"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "BEGIN; SET LOCAL search_path = pg_catalog; SELECT current_setting('search_path'); COMMIT"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "SELECT current_setting('search_path'), current_setting('statement_timeout')"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "RESET ALL"}}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "SELECT current_setting('search_path'), current_setting('DateStyle')"}}},
		}},
	}
	p := startProxy(t, txSecrets(t, "pool_size = 1"))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			direct := runSteps(t, startRawPG(t), tc.steps, nil)
			rc := startRaw(t, p, "pg")
			other := startRaw(t, p, "pg")
			proxied := runSteps(t, rc, tc.steps, disturb(t, other))
			if d, g := strings.Join(direct, "\n"), strings.Join(proxied, "\n"); d != g {
				t.Fatalf("through the proxy:\n%s\n\ndirect:\n%s", g, d)
			}
		})
	}
}

// Fifty clients share five server connections, each running transactions
// with named prepared statements (pgx's default mode); every row lands and
// the server never sees more than five connections.
func TestTxModeManyClientsFewConnections(t *testing.T) {
	table := "xcp_tx50_" + randHex()
	admin := directPG(t)
	if err := admin.Exec(ctxT(t), "CREATE TABLE "+table+" (client INT, i INT)").Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP TABLE "+table).Close() })
	app := "xcp_tx50_" + randHex()
	secretsTOML := strings.Replace(txSecrets(t, "pool_size = 5\npool_timeout = \"60s\""),
		"\nurl = \"", "\nquery = { application_name = \""+app+"\" }\nurl = \"", 1)
	p := startProxy(t, secretsTOML, proxyOptions{quiet: true})

	var peak atomic.Int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watcher := directPG(t)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			res, err := watcher.Exec(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"+app+"'").ReadAll()
			if err != nil || len(res) == 0 || len(res[0].Rows) == 0 {
				continue
			}
			var n int64
			fmt.Sscan(string(res[0].Rows[0][0]), &n)
			if n > peak.Load() {
				peak.Store(n)
			}
		}
	}()

	const clients, txs = 50, 10
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := p.Connect(t, "pg")
			ctx := ctxT(t)
			for i := 0; i < txs; i++ {
				err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, "INSERT INTO "+table+" (client, i) VALUES ($1, $2)", c, i); err != nil {
						return err
					}
					var n int
					if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE client = $1", c).Scan(&n); err != nil {
						return err
					}
					if n != i+1 {
						return fmt.Errorf("client %d sees %d of its rows, want %d", c, n, i+1)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-watched
	var n int
	if err := admin.Exec(ctxT(t), "SELECT 1").Close(); err != nil {
		t.Fatal(err)
	}
	res, err := admin.Exec(ctxT(t), "SELECT count(*), count(DISTINCT (client, i)) FROM "+table).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscan(string(res[0].Rows[0][0]), &n)
	if n != clients*txs || string(res[0].Rows[0][1]) != fmt.Sprint(clients*txs) {
		t.Fatalf("%s rows (%s distinct), want %d", res[0].Rows[0][0], res[0].Rows[0][1], clients*txs)
	}
	if got := peak.Load(); got > 5 || got == 0 {
		t.Fatalf("the server saw at most %d proxy connections, want 1..5", got)
	}
}

// Every pgx exec mode through a pool smaller than the number of clients:
// statements move between connections in every form pgx uses.
func TestTxModeEveryExecMode(t *testing.T) {
	p := startProxy(t, txSecrets(t, "pool_size = 2"), proxyOptions{quiet: true})
	var wg sync.WaitGroup
	for _, mode := range allModes {
		for k := 0; k < 2; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := ctxT(t)
				c := p.Connect(t, "pg", mode)
				for i := 0; i < 30; i++ {
					var s string
					var n int64
					if err := c.QueryRow(ctx, "SELECT $1::text || '!', $2::int8 * 2", fmt.Sprint(mode, i), i).Scan(&s, &n); err != nil {
						t.Errorf("%v: %v", mode, err)
						return
					}
					if s != fmt.Sprint(mode, i)+"!" || n != int64(2*i) {
						t.Errorf("%v: got %q %d", mode, s, n)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
}

// Settings a client makes stay with it, and never reach the client that
// gets the same server connection next.
func TestTxModeSettingsStayWithTheirClient(t *testing.T) {
	p := startProxy(t, txSecrets(t, "pool_size = 1"))
	ctx := ctxT(t)
	a := p.Connect(t, "pg")
	b := p.Connect(t, "pg")
	for _, q := range []string{
		"SET TimeZone = 'Asia/Tokyo'",
		"SET standard_conforming_strings = off",
		"SET search_path = xcp_a, public",
		"SET statement_timeout = '7s'",
		"SET application_name = 'client a'",
	} {
		mustExec(t, a, q)
	}
	show := "SELECT current_setting('TimeZone'), current_setting('standard_conforming_strings'), current_setting('search_path'), current_setting('statement_timeout'), current_setting('application_name')"
	if got := queryString(t, b, "SELECT concat_ws('|', "+strings.TrimPrefix(show, "SELECT ")+")"); strings.Contains(got, "Tokyo") || strings.Contains(got, "off") || strings.Contains(got, "xcp_a") || strings.Contains(got, "7s") || strings.Contains(got, "client a") {
		t.Fatalf("client b sees client a's settings: %s", got)
	}
	if got := queryString(t, a, "SELECT concat_ws('|', "+strings.TrimPrefix(show, "SELECT ")+")"); got != "Asia/Tokyo|off|xcp_a, public|7s|client a" {
		t.Fatalf("client a lost its settings: %s", got)
	}
	if v := a.PgConn().ParameterStatus("TimeZone"); v != "Asia/Tokyo" {
		t.Fatalf("client a was told TimeZone %q", v)
	}
	if v := b.PgConn().ParameterStatus("TimeZone"); v == "Asia/Tokyo" {
		t.Fatal("client b was told client a's TimeZone")
	}
	// A setting made inside a transaction block lasts until it ends, on
	// both sides.
	tx, err := b.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SET search_path = xcp_b"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, b, "SELECT current_setting('search_path')"); got != `"$user", public` {
		t.Fatalf("after a rolled back SET, search_path %q", got)
	}
}

// Startup parameters reach the server as a direct login gives them: a
// list stays a list (search_path), values are normalised by the server.
func TestStartupParametersMatchDirect(t *testing.T) {
	params := map[string]string{
		"search_path": "xcp_one, public", "DateStyle": "sql, dmy", "TimeZone": "europe/paris",
		"extra_float_digits": "0", "IntervalStyle": "iso_8601", "application_name": "startup check",
	}
	show := "SELECT current_setting('search_path'), current_setting('DateStyle'), current_setting('TimeZone'), current_setting('extra_float_digits'), current_setting('IntervalStyle'), current_setting('application_name'), 1.0::float8/3, '1 day 2 hours'::interval::text, '2024-03-01 10:00+00'::timestamptz::text"
	run := func(url string) ([][]byte, map[string]string) {
		c := connectPgconn(t, url, func(cfg *pgconn.Config) {
			for k, v := range params {
				cfg.RuntimeParams[k] = v
			}
		})
		defer c.Close(context.Background())
		res, err := c.Exec(ctxT(t), show).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		ps := map[string]string{}
		for _, k := range []string{"DateStyle", "TimeZone", "IntervalStyle", "application_name"} {
			ps[k] = c.ParameterStatus(k)
		}
		return res[0].Rows[0], ps
	}
	wantRow, wantPS := run(pgURL())
	for _, mode := range []string{"session", "transaction"} {
		t.Run(mode, func(t *testing.T) {
			p := startProxy(t, pgSecrets(t, "pg", "pool_mode = \""+mode+"\"\npool_size = 1"))
			for i := 0; i < 2; i++ { // the second login is the cached one in transaction mode
				row, ps := run(p.URL("pg"))
				if fmt.Sprintf("%q", row) != fmt.Sprintf("%q", wantRow) || fmt.Sprint(ps) != fmt.Sprint(wantPS) {
					t.Fatalf("through the proxy %q %v\ndirect %q %v", row, ps, wantRow, wantPS)
				}
			}
		})
	}
}

// What only DISCARD ALL undoes (LISTEN, temporary tables, session
// advisory locks, WITH HOLD cursors) never reaches the next client.
func TestTxModeSessionStateDoesNotLeak(t *testing.T) {
	p := startProxy(t, txSecrets(t, "pool_size = 1"))
	a := p.Connect(t, "pg")
	b := p.Connect(t, "pg")
	mustExec(t, b, "SELECT 1") // b's statements exist before a dirties the connection
	for _, q := range []string{
		"LISTEN xcp_chan",
		"CREATE TEMP TABLE xcp_mine (x int)",
		"SELECT pg_advisory_lock(4242)",
		"BEGIN; DECLARE xcp_cur CURSOR WITH HOLD FOR SELECT 1; COMMIT",
		"PREPARE xcp_sql AS SELECT 1",
	} {
		if _, err := a.Exec(ctxT(t), q, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		got := queryString(t, b, `SELECT concat_ws('|', (SELECT count(*) FROM pg_listening_channels()),
			to_regclass('pg_temp.xcp_mine') IS NULL,
			(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
			(SELECT count(*) FROM pg_cursors WHERE name = 'xcp_cur'), (SELECT count(*) FROM pg_prepared_statements WHERE name = 'xcp_sql'))`)
		if got != "0|t|0|0|0" {
			t.Fatalf("after %q, the next client found listeners|no temp table|advisory locks|cursors|statements = %s", q, got)
		}
	}
	mustExec(t, b, "SELECT 1")
}

// A client that vanishes inside a transaction leaves a clean server
// connection for the next one.
func TestTxModeDisconnectMidTransaction(t *testing.T) {
	table := "xcp_txclean_" + randHex()
	admin := directPG(t)
	if err := admin.Exec(ctxT(t), "CREATE TABLE "+table+" (id INT)").Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP TABLE "+table).Close() })
	p := startProxy(t, txSecrets(t, "pool_size = 1"))
	first, err := pgconn.Connect(ctxT(t), p.URL("pg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"BEGIN", "SET application_name = 'dirty'", "INSERT INTO " + table + " VALUES (1)"} {
		if err := first.Exec(ctxT(t), q).Close(); err != nil {
			t.Fatal(err)
		}
	}
	first.Conn().Close()
	second := p.Connect(t, "pg")
	if got := queryString(t, second, "SELECT current_setting('application_name') || '|' || (SELECT count(*) FROM "+table+")"); got != "|0" {
		t.Fatalf("the next client found application_name|rows = %s", got)
	}
}

// An exhausted pool: a transaction that waits past pool_timeout fails
// with 53300 as an ERROR; the session goes on and its next transaction
// runs once a connection is free.
func TestTxModePoolTimeout(t *testing.T) {
	p := startProxy(t, txSecrets(t, "pool_size = 1\npool_timeout = \"300ms\""))
	ctx := ctxT(t)
	holder := p.Connect(t, "pg")
	waiter := p.Connect(t, "pg") // logs in without a server connection
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		_, err := waiter.Exec(ctx, "SELECT 1", mode)
		pe := wantCode(t, err, "53300")
		if pe.Severity != "ERROR" || !strings.Contains(pe.Message, "pool") && !strings.Contains(pe.Message, "in use") {
			t.Fatalf("%v: %s %s", mode, pe.Severity, pe.Message)
		}
	}
	// A login with parameters already seen takes no connection either.
	late := p.Connect(t, "pg")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, waiter, "SELECT 1")
	mustExec(t, late, "SELECT 1")
}

// A cancel reaches the statement the client runs, on whichever server
// connection it runs.
func TestTxModeCancel(t *testing.T) {
	p := startProxy(t, txSecrets(t, "pool_size = 2"))
	c := p.Connect(t, "pg")
	other := p.Connect(t, "pg")
	mustExec(t, c, "SELECT 1")
	done := make(chan error, 1)
	go func() { // keeps the other connection busy, so c's runs on the second one
		_, err := other.Exec(ctxT(t), "SELECT pg_sleep(0.5)")
		done <- err
	}()
	start := time.Now()
	err := runCancelled(t, c, "SELECT pg_sleep(10)")
	if time.Since(start) > time.Second {
		t.Fatalf("the cancel took %v", time.Since(start))
	}
	wantCode(t, err, "57014")
	if err := <-done; err != nil {
		t.Fatalf("the other client's statement: %v", err)
	}
	mustExec(t, c, "SELECT 1")
}

// COPY both ways while another client shares the connection.
func TestTxModeCopy(t *testing.T) {
	p := startProxy(t, txSecrets(t, "pool_size = 1"))
	ctx := ctxT(t)
	c := connectPgconn(t, p.URL("pg"), nil)
	other := p.Connect(t, "pg")
	table := "xcp_txcopy_" + randHex()
	if err := c.Exec(ctx, "CREATE TABLE "+table+" (id int, name text)").Close(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Exec(context.Background(), "DROP TABLE "+table).Close() }()
	tag, err := c.CopyFrom(ctx, strings.NewReader("1\tone\n2\ttwo\n"), "COPY "+table+" FROM STDIN")
	if err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("copy in: %v %v", tag, err)
	}
	mustExec(t, other, "SELECT 1")
	_, err = c.CopyFrom(ctx, strings.NewReader("3\tthree\nbad\n"), "COPY "+table+" FROM STDIN")
	wantCode(t, err, "22P02")
	var out strings.Builder
	if _, err := c.CopyTo(ctx, &out, "COPY "+table+" TO STDOUT"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "1\tone\n2\ttwo\n" {
		t.Fatalf("copy out: %q", out.String())
	}
	mustExec(t, other, "SELECT 1")
}

// The 2000-query pipelined batch of 16 kB rows that once deadlocked a
// transaction pooler.
func TestTxModeLargePipelinedBatch(t *testing.T) {
	p := startProxy(t, txSecrets(t, "pool_size = 1"), proxyOptions{quiet: true})
	c := p.Connect(t, "pg")
	other := p.Connect(t, "pg")
	largePipelinedBatch(t, c)
	mustExec(t, other, "SELECT 1")
}

// psql runs the same script directly and through the proxy in both pool
// modes, with the same output: results, errors, notices, COPY, settings.
// (SQL-level PREPARE lasts one transaction in transaction mode, as
// docs/postgresql.md says, so the script keeps it inside one.)
func TestPostgresPsqlMatchesDirect(t *testing.T) {
	psql := psqlPath(t)
	table := "xcp_psql_" + randHex()
	script := strings.ReplaceAll(`
\set ON_ERROR_STOP 0
CREATE TABLE TBL (id int PRIMARY KEY, name text, at timestamptz);
SET TimeZone = 'America/New_York';
SET search_path = pg_catalog, public;
INSERT INTO TBL VALUES (1, 'one', '2024-01-02 03:04:05+00'), (2, 'two', NULL);
INSERT INTO TBL VALUES (1, 'dup', NULL);
BEGIN;
UPDATE TBL SET name = 'uno' WHERE id = 1;
SELECT 1/0;
SELECT 'not run';
ROLLBACK;
\copy TBL FROM stdin
3	three	\N
\.
SELECT * FROM TBL ORDER BY id;
SELECT current_setting('search_path'), now() IS NOT NULL AS has_now;
SELECT $$dollar ; quoted$$ AS q \gset
\echo :q
BEGIN;
PREPARE p(int) AS SELECT name FROM TBL WHERE id = $1;
EXECUTE p(1);
COMMIT;
DO $$ BEGIN RAISE NOTICE 'hello from %', 'plpgsql'; END $$;
\copy (SELECT id, name FROM TBL ORDER BY id) TO stdout
DROP TABLE TBL;
`, "TBL", table)
	run := func(url string) string {
		cmd := exec.Command(psql, "-X", "-d", url)
		cmd.Stdin = strings.NewReader(script)
		cmd.Env = append(os.Environ(), "PGSSLMODE=disable")
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	want := run(pgURL())
	if !strings.Contains(want, "hello from plpgsql") || !strings.Contains(want, "23505") && !strings.Contains(want, "duplicate key") {
		t.Fatalf("the direct run did not go as planned:\n%s", want)
	}
	for _, mode := range []string{"session", "transaction"} {
		t.Run(mode, func(t *testing.T) {
			p := startProxy(t, pgSecrets(t, "pg", "pool_mode = \""+mode+"\"\npool_size = 2"), proxyOptions{quiet: true})
			if got := run(p.URL("pg")); got != want {
				t.Fatalf("through the proxy:\n%s\ndirect:\n%s", got, want)
			}
		})
	}
}

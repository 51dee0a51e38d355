package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// PostgreSQL behind the proxy (session pool mode): what a client sees must
// be what PostgreSQL says directly.

// pgSecrets is a secrets file with one PostgreSQL connection to the test
// server, plus extra section keys.
func pgSecrets(t testing.TB, name, extra string) string {
	t.Helper()
	directPG(t) // skip (or fail in CI) when PostgreSQL is down
	u, err := url.Parse(pgURL())
	if err != nil {
		t.Fatal(err)
	}
	u.RawQuery = ""
	return fmt.Sprintf("[connections.%s]\nurl = %q\n%s\n", name, u.String(), extra)
}

func TestPostgresPetsEveryMode(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", "pool_size = 4"))
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := ctxT(t)
			c := p.Connect(t, "pg", mode)
			mustExec(t, c, "CREATE TEMP TABLE pet_owners (person TEXT, pet TEXT)")
			tx, err := c.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, po := range pets {
				if _, err := tx.Exec(ctx, "INSERT INTO pet_owners (person, pet) VALUES ($1, $2)", po[0], po[1]); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := c.QueryRow(ctx, "SELECT count(*) FROM pet_owners WHERE pet <> $1", "cat").Scan(&n); err != nil || n != 2 {
				t.Fatalf("count = %d, %v", n, err)
			}
		})
	}
}

// The backend user is the section's; the client's user name does not reach
// the server. Startup parameters do.
func TestPostgresStartupParameters(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", ""))
	cfg, err := pgconn.ParseConfig(p.URL("pg") + "&application_name=xcp_test&options=-c%20search_path%3Dxcp_schema")
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgconn.ConnectConfig(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	res, err := c.Exec(ctxT(t), "SELECT current_user, current_setting('application_name'), current_setting('search_path')").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	row := res[0].Rows[0]
	if string(row[0]) != "postgres" || string(row[1]) != "xcp_test" || string(row[2]) != "xcp_schema" {
		t.Fatalf("got %q", row)
	}
	if v := c.ParameterStatus("application_name"); v != "xcp_test" {
		t.Errorf("ParameterStatus application_name = %q", v)
	}
	if v := c.ParameterStatus("server_version"); !strings.HasPrefix(v, "15") {
		t.Errorf("server_version %q: the real server's value should reach the client", v)
	}
	// An unknown startup parameter: FATAL, as PostgreSQL answers it.
	_, err = pgconn.Connect(ctxT(t), p.URL("pg")+"&no_such_parameter=1")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42704" {
		t.Fatalf("unknown parameter: %v", err)
	}
}

func TestPostgresCopyBothWays(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", ""))
	c := p.Connect(t, "pg")
	ctx := ctxT(t)
	mustExec(t, c, "CREATE TEMP TABLE cp (id INT PRIMARY KEY, name TEXT)")
	var in bytes.Buffer
	for i := 1; i <= 10000; i++ {
		fmt.Fprintf(&in, "%d\tname %d\n", i, i)
	}
	tag, err := c.PgConn().CopyFrom(ctx, bytes.NewReader(in.Bytes()), "COPY cp FROM STDIN")
	if err != nil || tag.RowsAffected() != 10000 {
		t.Fatalf("COPY FROM: %v %v", tag, err)
	}
	var out bytes.Buffer
	tag, err = c.PgConn().CopyTo(ctx, &out, "COPY (SELECT * FROM cp ORDER BY id) TO STDOUT")
	if err != nil || tag.RowsAffected() != 10000 || !bytes.Equal(out.Bytes(), in.Bytes()) {
		t.Fatalf("COPY TO: %v %v (%d bytes, want %d)", tag, err, out.Len(), in.Len())
	}
	// An error mid-stream: the duplicate key fails the COPY, the session goes on.
	_, err = c.PgConn().CopyFrom(ctx, strings.NewReader("20001\ta\n1\tdup\n"), "COPY cp FROM STDIN")
	wantCode(t, err, "23505")
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM cp").Scan(&n); err != nil || n != 10000 {
		t.Fatalf("after the failed COPY: %d, %v", n, err)
	}
}

func TestPostgresListenNotify(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", ""))
	listener := p.Connect(t, "pg")
	notifier := p.Connect(t, "pg")
	mustExec(t, listener, "LISTEN xcp_channel")
	mustExec(t, notifier, "SELECT pg_notify('xcp_channel', 'hello')")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The notification arrives while the listener is idle: the proxy must
	// forward it without waiting for the listener's next query.
	n, err := listener.WaitForNotification(ctx)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	if n.Channel != "xcp_channel" || n.Payload != "hello" {
		t.Fatalf("got %+v", n)
	}
}

func TestPostgresCancel(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", ""))
	c := p.Connect(t, "pg")
	err := runCancelled(t, c, "SELECT pg_sleep(10)")
	wantCode(t, err, "57014")
	if got := queryString(t, c, "SELECT 'still here'"); got != "still here" {
		t.Fatalf("after the cancel: %q", got)
	}
}

func TestPostgresLargeResult(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", ""))
	c := p.Connect(t, "pg")
	var total int
	rows, err := c.Query(ctxT(t), "SELECT repeat('x', 1000) FROM generate_series(1, 20000)")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		total += len(s)
	}
	if rows.Err() != nil || total != 20_000_000 {
		t.Fatalf("got %d bytes, %v", total, rows.Err())
	}
	// One row of 20 MB.
	var big string
	if err := c.QueryRow(ctxT(t), "SELECT repeat('y', 20000000)").Scan(&big); err != nil || len(big) != 20_000_000 {
		t.Fatalf("one big row: %d, %v", len(big), err)
	}
}

// Binary round trips of PostgreSQL's own types, checked against the server
// directly: the proxy must not change a byte.
func TestPostgresBinaryTypesMatchDirect(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", ""))
	const q = `SELECT $1::int[], $2::jsonb, $3::json, $4::uuid, $5::timestamptz, $6::numeric, $7::interval, $8::text[]`
	args := []any{[]int32{1, 2, 3}, map[string]any{"a": 1.5}, `{"b": [1, 2]}`, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC), "12345678901234567890.0123456789", 90 * time.Minute, []string{"x", "y z"}}
	read := func(c *pgx.Conn) []any {
		rows, err := c.Query(ctxT(t), q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		if !rows.Next() {
			t.Fatal(rows.Err())
		}
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		return vals
	}
	direct, err := pgx.Connect(ctxT(t), pgURL())
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(context.Background())
	want := read(direct)
	got := read(p.Connect(t, "pg"))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("through the proxy:\n%v\ndirect:\n%v", got, want)
	}
}

func TestPostgresBatchAndPipeline(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", ""))
	c := p.Connect(t, "pg")
	ctx := ctxT(t)
	mustExec(t, c, "CREATE TEMP TABLE bp (id INT PRIMARY KEY)")
	b := &pgx.Batch{}
	for i := 1; i <= 100; i++ {
		b.Queue("INSERT INTO bp VALUES ($1)", i)
	}
	b.Queue("SELECT count(*) FROM bp")
	br := c.SendBatch(ctx, b)
	for i := 0; i < 100; i++ {
		if _, err := br.Exec(); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := br.QueryRow().Scan(&n); err != nil || n != 100 {
		t.Fatalf("count %d, %v", n, err)
	}
	br.Close()

	pl := c.PgConn().StartPipeline(ctx)
	for i := 0; i < 50; i++ {
		pl.SendQueryParams("SELECT $1::int", [][]byte{[]byte(fmt.Sprint(i))}, nil, nil, nil)
	}
	if err := pl.Sync(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		res, err := pl.GetResults()
		if err != nil {
			t.Fatal(err)
		}
		rr := res.(*pgconn.ResultReader).Read()
		if rr.Err != nil || string(rr.Rows[0][0]) != fmt.Sprint(i) {
			t.Fatalf("result %d: %v %v", i, rr.Rows, rr.Err)
		}
	}
	if _, err := pl.GetResults(); err != nil { // the Sync
		t.Fatal(err)
	}
	if err := pl.Close(); err != nil {
		t.Fatal(err)
	}
}

// A client that vanishes mid-transaction leaves a clean server connection
// for the next client: its transaction rolled back, its settings and temp
// tables gone (session pool of one, so the next client gets the same one).
func TestPostgresDisconnectLeavesCleanBackend(t *testing.T) {
	table := "xcp_clean_" + randHex()
	admin := directPG(t)
	if err := admin.Exec(ctxT(t), "CREATE TABLE "+table+" (id INT)").Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP TABLE "+table).Close() })

	p := startProxy(t, pgSecrets(t, "pg", "pool_size = 1"))
	first, err := pgconn.Connect(ctxT(t), p.URL("pg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"BEGIN", "SET application_name = 'dirty'", "CREATE TEMP TABLE mine (x INT)", "INSERT INTO " + table + " VALUES (1)"} {
		if err := first.Exec(ctxT(t), q).Close(); err != nil {
			t.Fatal(err)
		}
	}
	first.Conn().Close() // vanish, mid-transaction

	second, err := pgconn.Connect(ctxT(t), p.URL("pg"))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close(context.Background())
	res, err := second.Exec(ctxT(t), "SELECT current_setting('application_name'), (SELECT count(*) FROM "+table+"), to_regclass('pg_temp.mine') IS NULL").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	row := res[0].Rows[0]
	if string(row[0]) == "dirty" || string(row[1]) != "0" || string(row[2]) != "t" {
		t.Fatalf("the next client found application_name=%s, %s uncommitted rows, temp table gone=%s", row[0], row[1], row[2])
	}
	if second.TxStatus() != 'I' {
		t.Fatalf("status %c", second.TxStatus())
	}
}

// All server connections in use: the next client waits pool_timeout, then
// gets 53300; when one is released, clients get in again.
func TestPostgresPoolExhausted(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", "pool_size = 1\npool_timeout = \"300ms\""))
	holder, err := pgconn.Connect(ctxT(t), p.URL("pg"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = pgconn.Connect(ctxT(t), p.URL("pg"))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53300" || pe.Severity != "FATAL" {
		t.Fatalf("second client while the pool is full: %v", err)
	}
	holder.Close(ctxT(t))
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pgconn.Connect(ctxT(t), p.URL("pg"))
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close(context.Background())
			if err := c.Exec(ctxT(t), "SELECT pg_sleep(0.01)").Close(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// Errors reach the client with every field PostgreSQL set: the same as on
// a direct connection.
func TestPostgresErrorFieldsIntact(t *testing.T) {
	table := "xcp_err_" + randHex()
	admin := directPG(t)
	if err := admin.Exec(ctxT(t), "CREATE TABLE "+table+" (id INT CONSTRAINT "+table+"_pk PRIMARY KEY, v INT CHECK (v > 0))").Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP TABLE "+table).Close() })
	p := startProxy(t, pgSecrets(t, "pg", ""))
	proxied, err := pgconn.Connect(ctxT(t), strings.Replace(p.URL("pg"), "tester@", "postgres@", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer proxied.Close(context.Background())
	direct, err := pgconn.Connect(ctxT(t), pgURL())
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(context.Background())
	for _, q := range []string{
		"INSERT INTO " + table + " VALUES (1, 1); INSERT INTO " + table + " VALUES (1, 1)",
		"INSERT INTO " + table + " VALUES (2, -1)",
		"SELECT nope FROM " + table,
		"SELEC 1",
		"SELECT 1/0",
	} {
		_ = admin.Exec(ctxT(t), "DELETE FROM "+table).Close()
		_, errD := direct.Exec(ctxT(t), q).ReadAll()
		_ = admin.Exec(ctxT(t), "DELETE FROM "+table).Close()
		_, errP := proxied.Exec(ctxT(t), q).ReadAll()
		var d, x *pgconn.PgError
		if !errors.As(errD, &d) || !errors.As(errP, &x) {
			t.Fatalf("%s: direct %v, proxy %v", q, errD, errP)
		}
		if *d != *x {
			t.Errorf("%s:\n direct %+v\n  proxy %+v", q, *d, *x)
		}
	}
}

// A server connection ended under an idle session (pg_terminate_backend,
// a restart): the client does not notice; its next statement runs on a new
// server connection. The next client gets a working connection too.
func TestPostgresServerConnectionEnds(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", "pool_size = 1"))
	c, err := pgconn.Connect(ctxT(t), p.URL("pg"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Exec(ctxT(t), "SELECT pg_backend_pid()").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	pid := string(res[0].Rows[0][0])
	admin := directPG(t)
	if err := admin.Exec(ctxT(t), "SELECT pg_terminate_backend("+pid+")").Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the server ends the connection
	res, err = c.Exec(ctxT(t), "SELECT pg_backend_pid()").ReadAll()
	if err != nil {
		t.Fatalf("after the server connection ended: %v", err)
	}
	if got := string(res[0].Rows[0][0]); got == pid {
		t.Fatalf("the statement ran on the terminated server process %s", got)
	}
	c.Close(context.Background())

	next, err := pgconn.Connect(ctxT(t), p.URL("pg"))
	if err != nil {
		t.Fatalf("the next client (pool of one): %v", err)
	}
	defer next.Close(context.Background())
	if err := next.Exec(ctxT(t), "SELECT 1").Close(); err != nil {
		t.Fatal(err)
	}
}

// A client that vanishes while a large result streams to it (its socket
// buffers full, the proxy's writes blocked) gives its pool slot back.
func TestPostgresVanishingReaderReleasesSlot(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", "pool_size = 1\npool_timeout = \"5s\""))
	raw, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	fe := pgproto3.NewFrontend(raw, raw)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "u", "database": "pg"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	// Ask for far more than the socket buffers hold, and never read it.
	fe.Send(&pgproto3.Query{String: "SELECT repeat('z', 1000) FROM generate_series(1, 100000)"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the proxy's writes to us block (not a timing assertion)
	raw.Close()

	next, err := pgconn.Connect(ctxT(t), p.URL("pg"))
	if err != nil {
		t.Fatalf("the pool slot did not come back: %v", err)
	}
	next.Close(context.Background())
}

// rawPG is a raw protocol client through the proxy, past startup.
func rawPG(t *testing.T, p *testProxy, db string) (*pgproto3.Frontend, net.Conn) {
	t.Helper()
	raw, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	_ = raw.SetDeadline(time.Now().Add(20 * time.Second)) // a lost answer fails, not hangs
	fe := pgproto3.NewFrontend(raw, raw)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "u", "database": db}})
	untilReady(t, fe)
	return fe, raw
}

func untilReady(t *testing.T, fe *pgproto3.Frontend, msgs ...pgproto3.FrontendMessage) []pgproto3.BackendMessage {
	t.Helper()
	for _, m := range msgs {
		fe.Send(m)
	}
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []pgproto3.BackendMessage
	for {
		m, err := fe.Receive()
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		switch m := m.(type) {
		case *pgproto3.ReadyForQuery:
			return got
		case *pgproto3.FunctionCallResponse:
			got = append(got, &pgproto3.FunctionCallResponse{Result: append([]byte(nil), m.Result...)})
		default:
			got = append(got, m)
		}
	}
}

// A FunctionCall is forwarded and answered, and the accounting of answers
// stays right: the next client on the same server connection gets its own.
func TestPostgresFunctionCall(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", "pool_size = 1"))
	fe, raw := rawPG(t, p, "pg")
	const int4pl = 177 // int4 + int4
	got := untilReady(t, fe, &pgproto3.FunctionCall{Function: int4pl, ArgFormatCodes: []uint16{1},
		Arguments: [][]byte{{0, 0, 0, 2}, {0, 0, 0, 3}}, ResultFormatCode: 1})
	if len(got) != 1 {
		t.Fatalf("got %#v", got)
	}
	if r := got[0].(*pgproto3.FunctionCallResponse).Result; !bytes.Equal(r, []byte{0, 0, 0, 5}) {
		t.Fatalf("2 + 3 = %v", r)
	}
	raw.Close()
	next := p.Connect(t, "pg")
	if got := queryString(t, next, "SELECT 'mine'"); got != "mine" {
		t.Fatalf("the next client got %q", got)
	}
}

// COPY FROM STDIN through the extended protocol: the Sync sent after the
// Execute reaches the server in copy-in mode and gets no answer. The
// session must still end up idle: a drain then completes at once instead
// of waiting out its timeout.
func TestPostgresExtendedCopyThenDrain(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", ""))
	fe, _ := rawPG(t, p, "pg")
	untilReady(t, fe, &pgproto3.Query{String: "CREATE TEMP TABLE ec (x INT)"})
	fe.Send(&pgproto3.Parse{Query: "COPY ec FROM STDIN"})
	fe.Send(&pgproto3.Bind{})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.(*pgproto3.CopyInResponse); ok {
			break
		}
	}
	got := untilReady(t, fe, &pgproto3.CopyData{Data: []byte("1\n2\n")}, &pgproto3.CopyDone{}, &pgproto3.Sync{})
	if cc, ok := got[len(got)-1].(*pgproto3.CommandComplete); !ok || string(cc.CommandTag) != "COPY 2" {
		t.Fatalf("got %#v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Server.Shutdown(ctx); err != nil {
		t.Fatalf("the drain did not see the session idle: %v", err)
	}
}

// A drain lets a running pass-through statement finish and deliver its
// result, then ends the session, without waiting out its timeout.
func TestPostgresDrainLetsStatementFinish(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", ""))
	c := p.Connect(t, "pg")
	result := make(chan error, 1)
	go func() {
		var s string
		result <- c.QueryRow(context.Background(), "SELECT 'done' FROM pg_sleep(0.3)").Scan(&s)
	}()
	time.Sleep(50 * time.Millisecond) // let the statement start (not a timing assertion)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Server.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-result; err != nil {
		t.Fatalf("the running statement was cut: %v", err)
	}
}

// Startup settings that change results reach the server; later changes
// reach the client as ParameterStatus; notices pass through.
func TestPostgresSettingsAndNotices(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", ""))
	cfg, err := pgconn.ParseConfig(p.URL("pg"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"DateStyle": "ISO, DMY", "TimeZone": "Europe/Paris", "extra_float_digits": "0", "IntervalStyle": "iso_8601"} {
		cfg.RuntimeParams[k] = v
	}
	var notices []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Severity+" "+n.Message) }
	c, err := pgconn.ConnectConfig(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	res, err := c.Exec(ctxT(t), "SELECT current_setting('DateStyle'), current_setting('TimeZone'), (1.0/3)::float8::text, interval '90 minutes'").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	row := res[0].Rows[0]
	want := []string{"ISO, DMY", "Europe/Paris", "0.333333333333333", "PT1H30M"}
	for i, w := range want {
		if string(row[i]) != w {
			t.Errorf("column %d = %q, want %q", i, row[i], w)
		}
	}
	if err := c.Exec(ctxT(t), "SET TimeZone = 'UTC'").Close(); err != nil {
		t.Fatal(err)
	}
	if v := c.ParameterStatus("TimeZone"); v != "UTC" {
		t.Errorf("ParameterStatus TimeZone after SET = %q, want UTC", v)
	}
	if err := c.Exec(ctxT(t), "DO $$ BEGIN RAISE NOTICE 'hello from the server'; END $$").Close(); err != nil {
		t.Fatal(err)
	}
	if len(notices) != 1 || notices[0] != "NOTICE hello from the server" {
		t.Errorf("notices %q", notices)
	}
}

// A large pipelined batch (the client writes everything before reading)
// flows through: neither direction of the pass-through waits on the other.
func TestPostgresLargePipelinedBatch(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", ""), proxyOptions{quiet: true})
	largePipelinedBatch(t, p.Connect(t, "pg"))
}

// largePipelinedBatch sends 2000 queries of 16 kB rows in one batch: the
// client writes everything before it reads.
func largePipelinedBatch(t *testing.T, c *pgx.Conn) {
	t.Helper()
	param := strings.Repeat("p", 8000)
	b := &pgx.Batch{}
	for i := 0; i < 2000; i++ {
		b.Queue("SELECT repeat('x', 8000) || $1::text", param)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br := c.SendBatch(ctx, b)
	for i := 0; i < 2000; i++ {
		var s string
		if err := br.QueryRow().Scan(&s); err != nil || len(s) != 16000 {
			t.Fatalf("result %d: %d bytes, %v", i, len(s), err)
		}
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
}

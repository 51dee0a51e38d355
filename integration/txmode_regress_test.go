package integration

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Regression tests from an adversarial review of transaction pooling: each
// sequence once gave a client of the proxy in transaction mode something
// other than what a direct PostgreSQL connection shows.

// TestTxModeRegressMatchesDirect: one client, the same steps directly and
// through a one-connection pool that another client disturbs between
// steps (the harness of TestTxModeMatchesDirect).
func TestTxModeRegressMatchesDirect(t *testing.T) {
	exec := &pgproto3.Execute{}
	sync := &pgproto3.Sync{}
	q := func(s string) *pgproto3.Query { return &pgproto3.Query{String: s} }
	cases := []struct {
		name  string
		steps []txStep
	}{
		// PostgreSQL drops the unnamed statement before it parses the new
		// one (exec_parse_message: drop_unnamed_stmt); the proxy's undo
		// gives the client the old one back.
		{"failed unnamed Parse leaves no unnamed statement", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Query: "SELECT 'first' AS u"}, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Query: "SELEC 2"}, sync}},
			{msgs: []pgproto3.FrontendMessage{bindMsg(""), exec, sync}},
		}},
		{"SET through the extended protocol lasts", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Query: "SET search_path = xcp_nowhere, public"}, bindMsg(""), exec, sync}},
			{msgs: []pgproto3.FrontendMessage{q("SHOW search_path")}},
		}},
		{"SET inside BEGIN..COMMIT lasts", []txStep{
			{msgs: []pgproto3.FrontendMessage{q("BEGIN")}},
			{msgs: []pgproto3.FrontendMessage{q("SET statement_timeout = '7s'")}},
			{msgs: []pgproto3.FrontendMessage{q("COMMIT")}},
			{msgs: []pgproto3.FrontendMessage{q("SHOW statement_timeout")}},
		}},
		{"set_config(..., false) lasts", []txStep{
			{msgs: []pgproto3.FrontendMessage{q("SELECT set_config('statement_timeout', '8s', false)")}},
			{msgs: []pgproto3.FrontendMessage{q("SHOW statement_timeout")}},
		}},
		{"SET pipelined after another Query lasts", []txStep{
			{msgs: []pgproto3.FrontendMessage{q("SELECT 1"), q("SET statement_timeout = '9s'")}, ready: 2},
			{msgs: []pgproto3.FrontendMessage{q("SHOW statement_timeout")}},
		}},
		// psycopg 3 (libpq < 17) closes protocol-level statements this way.
		{"SQL DEALLOCATE of a protocol-level statement", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "d1", Query: "SELECT 1 AS d"}, sync}},
			{msgs: []pgproto3.FrontendMessage{q("DEALLOCATE d1")}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("d1"), exec, sync}},
		}},
		{"DEALLOCATE ALL inside a transaction block forgets the statements", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "k1", Query: "SELECT 1 AS k"}, sync}},
			{msgs: []pgproto3.FrontendMessage{q("BEGIN")}},
			{msgs: []pgproto3.FrontendMessage{q("DEALLOCATE ALL")}},
			{msgs: []pgproto3.FrontendMessage{q("COMMIT")}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("k1"), exec, sync}},
		}},
		{"DEALLOCATE ALL through the extended protocol forgets the statements", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "k2", Query: "SELECT 2 AS k"}, sync}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Query: "DEALLOCATE ALL"}, bindMsg(""), exec, sync}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("k2"), exec, sync}},
		}},
		// Inside an aborted transaction PostgreSQL refuses a Parse (25P02);
		// when the connection already has the text prepared, the proxy
		// answers with a Close standing in for it, which the server allows.
		{"Parse inside an aborted transaction block", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "ab1", Query: "SELECT 'ab' AS ab"}, &pgproto3.Close{ObjectType: 'S', Name: "ab1"}, sync}},
			{msgs: []pgproto3.FrontendMessage{q("BEGIN; SELECT 1/0")}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "ab2", Query: "SELECT 'ab' AS ab"}, sync}},
			{msgs: []pgproto3.FrontendMessage{q("ROLLBACK")}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("ab2"), exec, sync}},
		}},
		// A statement re-prepared on another connection (here: after the
		// DISCARD ALL a LISTEN causes) is parsed under the client's current
		// DateStyle, not the one it was prepared under.
		{"re-injected statement is parsed under the current DateStyle", []txStep{
			{msgs: []pgproto3.FrontendMessage{q("SET DateStyle = 'ISO, DMY'")}},
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "ds", Query: "SELECT '01/02/2024'::date AS d"}, sync}},
			{msgs: []pgproto3.FrontendMessage{q("LISTEN xcp_rv_chan")}},
			{msgs: []pgproto3.FrontendMessage{q("SET DateStyle = 'ISO, MDY'")}},
			{msgs: []pgproto3.FrontendMessage{bindMsg("ds"), exec, sync}},
		}},
		{"SQL EXECUTE of a protocol-level statement", []txStep{
			{msgs: []pgproto3.FrontendMessage{&pgproto3.Parse{Name: "x1", Query: "SELECT 11 AS x"}, sync}},
			{msgs: []pgproto3.FrontendMessage{q("EXECUTE x1")}},
		}},
	}
	p := startProxy(t, txSecrets(t, "pool_size = 1"))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.name, "re-injected statement") {
				// PostgreSQL keeps the constants a statement folded when it was
				// parsed; a statement prepared again on another connection is
				// parsed under the client's settings of that moment. A known
				// deviation, documented in docs/postgresql.md.
				t.Skip("known deviation: a re-prepared statement is parsed under the current DateStyle/TimeZone")
			}
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

// xStep is a step of client number who.
type xStep struct {
	who int
	txStep
}

// runCross runs steps of several clients in order and renders every answer,
// prefixed by the client's number.
func runCross(t *testing.T, clients []*rawClient, steps []xStep) []string {
	t.Helper()
	var out []string
	for i, st := range steps {
		got := runSteps(t, clients[st.who], []txStep{st.txStep}, nil)
		for _, l := range got[:len(got)-1] {
			out = append(out, string(rune('A'+st.who))+": "+l)
		}
		out = append(out, "-- step "+string(rune('1'+i)))
	}
	return out
}

// TestTxModeRegressCrossClient: two clients, each on its own direct
// connection, against the same two clients sharing one server connection
// through the proxy. What one client does must not change what the other
// sees.
func TestTxModeRegressCrossClient(t *testing.T) {
	admin := directPG(t)
	for _, sql := range []string{
		"DROP SCHEMA IF EXISTS xcp_rv_a CASCADE", "DROP TABLE IF EXISTS public.xcp_rv_t, public.xcp_rv_gone",
		"CREATE SCHEMA xcp_rv_a", "CREATE TABLE xcp_rv_a.xcp_rv_t (x int)", "INSERT INTO xcp_rv_a.xcp_rv_t VALUES (1)",
		"CREATE TABLE public.xcp_rv_t (y text)", "INSERT INTO public.xcp_rv_t VALUES ('public row')",
	} {
		if _, err := execSimple(ctxT(t), admin, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	t.Cleanup(func() {
		_, _ = execSimple(context.Background(), admin, "DROP SCHEMA IF EXISTS xcp_rv_a CASCADE; DROP TABLE IF EXISTS public.xcp_rv_t, public.xcp_rv_gone")
	})

	exec := &pgproto3.Execute{}
	sync := &pgproto3.Sync{}
	q := func(s string) *pgproto3.Query { return &pgproto3.Query{String: s} }
	m := func(who int, ready int, msgs ...pgproto3.FrontendMessage) xStep {
		return xStep{who: who, txStep: txStep{msgs: msgs, ready: ready}}
	}
	const A, B = 0, 1
	cases := []struct {
		name  string
		steps []xStep
	}{
		// translate, Close of "": "the unnamed statement is the client's own
		// on this connection or absent" is false; it may be B's.
		{"Close of the unnamed statement closes another client's", []xStep{
			m(B, 0, &pgproto3.Parse{Query: "SELECT 'b' AS b"}, sync),
			m(A, 0, &pgproto3.Close{ObjectType: 'S'}, sync),
			m(B, 0, bindMsg(""), exec, sync),
		}},
		// A failed unnamed Parse drops the connection's unnamed statement
		// (B's); undo says B still has it there.
		{"failed unnamed Parse destroys another client's unnamed statement", []xStep{
			m(B, 0, &pgproto3.Parse{Query: "SELECT 'b' AS b"}, sync),
			m(A, 0, &pgproto3.Parse{Query: "SELEC 1"}, sync),
			m(B, 0, bindMsg(""), exec, sync),
		}},
		{"DEALLOCATE ALL through the extended protocol drops another client's statements", []xStep{
			m(B, 0, &pgproto3.Parse{Name: "bs", Query: "SELECT 'b' AS b"}, sync),
			m(A, 0, &pgproto3.Parse{Query: "DEALLOCATE ALL"}, bindMsg(""), exec, sync),
			m(B, 0, bindMsg("bs"), exec, sync),
		}},
		{"DISCARD ALL through the extended protocol drops another client's statements", []xStep{
			m(B, 0, &pgproto3.Parse{Name: "bs", Query: "SELECT 'b' AS b"}, sync),
			m(A, 0, &pgproto3.Parse{Query: "DISCARD ALL"}, bindMsg(""), exec, sync),
			m(B, 0, bindMsg("bs"), exec, sync),
		}},
		// A's Parse is named (serverName) with the search_path before the
		// SET it follows, but prepared under the new one; B, with the
		// default search_path, shares it by name and PostgreSQL refuses to
		// replan it to another result type.
		{"a Parse pipelined after SET search_path is shared with the wrong search_path", []xStep{
			m(A, 2, q("SET search_path = xcp_rv_a"), &pgproto3.Parse{Name: "a1", Query: "SELECT * FROM xcp_rv_t"}, sync),
			m(A, 0, bindMsg("a1"), exec, sync),
			m(B, 0, &pgproto3.Parse{Name: "b1", Query: "SELECT * FROM xcp_rv_t"}, bindMsg("b1"), &pgproto3.Describe{ObjectType: 'P'}, exec, sync),
		}},
		// A Parse of a text another client prepared on the connection is
		// answered ParseComplete without the server parsing it again.
		{"Parse that fails directly succeeds when another client prepared the text", []xStep{
			m(B, 0, q("CREATE TABLE public.xcp_rv_gone (x int)")),
			m(B, 0, &pgproto3.Parse{Name: "g", Query: "SELECT * FROM xcp_rv_gone"}, sync),
			m(B, 0, q("DROP TABLE public.xcp_rv_gone")),
			m(A, 0, &pgproto3.Parse{Name: "g2", Query: "SELECT * FROM xcp_rv_gone"}, sync),
		}},
		// serverName keys a shared statement on text, parameter types and
		// search_path only; literals are coerced at parse time under the
		// DateStyle (and TimeZone) of whoever prepared it first.
		{"a statement shared with a client of another DateStyle keeps the first one's literals", []xStep{
			m(A, 0, q("SET DateStyle = 'ISO, DMY'")),
			m(A, 0, &pgproto3.Parse{Name: "a", Query: "SELECT '01/02/2024'::date AS d"}, bindMsg("a"), exec, sync),
			m(B, 0, &pgproto3.Parse{Name: "b", Query: "SELECT '01/02/2024'::date AS d"}, bindMsg("b"), exec, sync),
		}},
		{"a statement shared with a client of another TimeZone keeps the first one's literals", []xStep{
			m(A, 0, q("SET TimeZone = 'Asia/Tokyo'")),
			m(A, 0, &pgproto3.Parse{Name: "a", Query: "SELECT extract(epoch FROM '2024-01-01 00:00'::timestamptz)::int8 AS e"}, bindMsg("a"), exec, sync),
			m(B, 0, &pgproto3.Parse{Name: "b", Query: "SELECT extract(epoch FROM '2024-01-01 00:00'::timestamptz)::int8 AS e"}, bindMsg("b"), exec, sync),
		}},
		// analyze: CREATE TABLE pg_temp.x is not seen as creating a
		// temporary object (hasWord looks for TEMP/TEMPORARY), so no DISCARD ALL.
		{"CREATE TABLE pg_temp.x leaks to the next client", []xStep{
			m(A, 0, q("CREATE TABLE pg_temp.xcp_rv_tmp2 (x int)")),
			m(B, 0, q("SELECT count(*) FROM pg_temp.xcp_rv_tmp2")),
		}},
	}
	p := startProxy(t, txSecrets(t, "pool_size = 1"))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			direct := runCross(t, []*rawClient{startRawPG(t), startRawPG(t)}, tc.steps)
			proxied := runCross(t, []*rawClient{startRaw(t, p, "pg"), startRaw(t, p, "pg")}, tc.steps)
			if d, g := strings.Join(direct, "\n"), strings.Join(proxied, "\n"); d != g {
				t.Fatalf("through the proxy:\n%s\n\ndirect:\n%s", g, d)
			}
		})
	}
}

// startRawParams is startRawAt with extra startup parameters.
func startRawParams(t testing.TB, addr, user, db string, params map[string]string) *rawClient {
	t.Helper()
	rc := dialRaw(t, addr)
	ps := map[string]string{"user": user, "database": db}
	for k, v := range params {
		ps[k] = v
	}
	rc.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: ps})
	rc.Startup = rc.untilReady()
	for _, m := range rc.Startup {
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			t.Fatalf("startup failed: %s %s: %s", e.Severity, e.Code, e.Message)
		}
	}
	return rc
}

// TestTxModeRegressResetToStartupValues: RESET, RESET ALL and DISCARD ALL
// bring a setting back to the value the client gave at startup, not to the
// server's default.
func TestTxModeRegressResetToStartupValues(t *testing.T) {
	q := func(s string) *pgproto3.Query { return &pgproto3.Query{String: s} }
	params := map[string]string{"TimeZone": "Europe/Paris", "application_name": "xcp review", "search_path": "xcp_rv_s, public"}
	cases := []struct {
		name  string
		steps []txStep
	}{
		{"RESET TimeZone", []txStep{
			{msgs: []pgproto3.FrontendMessage{q("SET TimeZone = 'Asia/Tokyo'")}},
			{msgs: []pgproto3.FrontendMessage{q("RESET TimeZone")}},
			{msgs: []pgproto3.FrontendMessage{q("SELECT current_setting('TimeZone')")}},
		}},
		{"RESET ALL", []txStep{
			{msgs: []pgproto3.FrontendMessage{q("RESET ALL")}},
			{msgs: []pgproto3.FrontendMessage{q("SELECT current_setting('TimeZone'), current_setting('application_name'), current_setting('search_path')")}},
		}},
		{"DISCARD ALL", []txStep{
			{msgs: []pgproto3.FrontendMessage{q("DISCARD ALL")}},
			{msgs: []pgproto3.FrontendMessage{q("SELECT current_setting('TimeZone'), current_setting('application_name'), current_setting('search_path')")}},
		}},
		{"RESET search_path pipelined with a query", []txStep{
			{msgs: []pgproto3.FrontendMessage{q("RESET search_path"), q("SELECT current_setting('search_path')")}, ready: 2},
		}},
	}
	u, err := url.Parse(pgURL())
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"transaction", "session"} {
		p := startProxy(t, pgSecrets(t, "pg", "pool_mode = \""+mode+"\"\npool_size = 1"))
		for _, tc := range cases {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				direct := runSteps(t, startRawParams(t, u.Host, u.User.Username(), strings.TrimPrefix(u.Path, "/"), params), tc.steps, nil)
				rc := startRawParams(t, p.Addr, "tester", "pg", params)
				proxied := runSteps(t, rc, tc.steps, nil)
				if d, g := strings.Join(direct, "\n"), strings.Join(proxied, "\n"); d != g {
					t.Fatalf("through the proxy:\n%s\n\ndirect:\n%s", g, d)
				}
			})
		}
	}
}

// TestTxModeRegressSyncRacesRelease: a message that arrives while the pump
// gives the connection back (after the previous Query's ReadyForQuery)
// must not be queued on the released connection; a bare Sync then gets
// its ReadyForQuery from the proxy.
func TestTxModeRegressSyncRacesRelease(t *testing.T) {
	p := startProxy(t, txSecrets(t, "pool_size = 1"), proxyOptions{quiet: true})
	rc := startRaw(t, p, "pg")
	deadline := time.Now().Add(4 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		rc.fe.Send(&pgproto3.Query{String: "SELECT 1"})
		if err := rc.fe.Flush(); err != nil {
			t.Fatal(err)
		}
		// A spin of varying length, so that the Sync arrives around the
		// time the server's ReadyForQuery does.
		for n := (i * 37) % 4000; n > 0; n-- {
			_ = time.Now()
		}
		rc.fe.Send(&pgproto3.Sync{})
		if err := rc.fe.Flush(); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 2; k++ {
			_ = rc.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			for {
				m, err := rc.fe.Receive()
				if err != nil {
					t.Fatalf("iteration %d: ReadyForQuery %d of 2 never came: %v", i, k+1, err)
				}
				if _, ok := m.(*pgproto3.ReadyForQuery); ok {
					break
				}
			}
		}
	}
}

// TestTxModeRegressStartupSessionAuthorization: PostgreSQL ignores a
// session_authorization startup parameter (the session user is the one
// that logged in). learnLogin applies it with set_config, as the backend's
// (superuser) user, and since session_authorization is a reported setting
// that is not in settable, syncSettings never resets it: the learning
// connection goes back to the pool running as that role, and the next
// client (whose login is cached) runs as it too.
func TestTxModeRegressStartupSessionAuthorization(t *testing.T) {
	admin := directPG(t)
	if _, err := execSimple(ctxT(t), admin, "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'xcp_rv_role') THEN CREATE ROLE xcp_rv_role; END IF; END$$"); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(pgURL())
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{"session_authorization": "xcp_rv_role"}
	steps := []txStep{{msgs: []pgproto3.FrontendMessage{&pgproto3.Query{String: "SELECT current_user::text = session_user::text AS same, current_user = 'xcp_rv_role' AS as_role"}}}}
	p := startProxy(t, txSecrets(t, "pool_size = 1"))
	other := startRaw(t, p, "pg") // its (empty) login is learnt first
	t.Run("the client itself", func(t *testing.T) {
		direct := runSteps(t, startRawParams(t, u.Host, u.User.Username(), strings.TrimPrefix(u.Path, "/"), params), steps, nil)
		proxied := runSteps(t, startRawParams(t, p.Addr, "tester", "pg", params), steps, nil)
		if d, g := strings.Join(direct, "\n"), strings.Join(proxied, "\n"); d != g {
			t.Errorf("through the proxy:\n%s\n\ndirect:\n%s", g, d)
		}
	})
	t.Run("the next client", func(t *testing.T) {
		direct := runSteps(t, startRawPG(t), steps, nil)
		proxied := runSteps(t, other, steps, nil)
		if d, g := strings.Join(direct, "\n"), strings.Join(proxied, "\n"); d != g {
			t.Errorf("through the proxy:\n%s\n\ndirect:\n%s", g, d)
		}
	})
}

// TestTxModeRegressCloseInErrorSkip: a client leaves after an error in an
// unsynced batch (the server now discards everything up to a Sync). Close
// sends ROLLBACK as a simple Query, which the server discards too, and
// waits cleanupTimeout (5 s) for an answer, holding the pool's only
// connection; the next client waits that long for a SELECT 1.
func TestTxModeRegressCloseInErrorSkip(t *testing.T) {
	p := startProxy(t, txSecrets(t, "pool_size = 1"))
	a := startRaw(t, p, "pg")
	b := startRaw(t, p, "pg")
	a.send(&pgproto3.Parse{Query: "SELEC 1"}, &pgproto3.Flush{})
	if _, ok := a.mustRecv().(*pgproto3.ErrorResponse); !ok {
		t.Fatal("no ErrorResponse")
	}
	a.conn.Close()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	b.send(&pgproto3.Query{String: "SELECT 1"})
	b.untilReady()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the next client waited %v for a connection", d)
	}
}

// TestTxModeRegressCancelWhileWaitingForPool: a CancelRequest for a client
// that waits for a server connection does nothing (Cancel: "between
// transactions there is nothing to cancel"); the client waits out
// pool_timeout instead of getting 57014.
func TestTxModeRegressCancelWhileWaitingForPool(t *testing.T) {
	p := startProxy(t, txSecrets(t, "pool_size = 1\npool_timeout = \"4s\""))
	holder := startRaw(t, p, "pg")
	waiter := startRaw(t, p, "pg")
	holder.send(&pgproto3.Query{String: "BEGIN"})
	holder.untilReady()
	var key *pgproto3.BackendKeyData
	for _, m := range waiter.Startup {
		if k, ok := m.(*pgproto3.BackendKeyData); ok {
			key = k
		}
	}
	if key == nil {
		t.Fatal("no BackendKeyData")
	}
	start := time.Now()
	waiter.send(&pgproto3.Query{String: "SELECT 1"})
	time.Sleep(200 * time.Millisecond)
	cr := dialRaw(t, p.Addr)
	cr.send(&pgproto3.CancelRequest{ProcessID: key.ProcessID, SecretKey: key.SecretKey})
	got := waiter.untilReady()
	e, _ := findMsg[*pgproto3.ErrorResponse](got)
	if d := time.Since(start); d > 2*time.Second || e == nil || e.Code != "57014" {
		code := ""
		if e != nil {
			code = e.Code + " " + e.Message
		}
		t.Fatalf("after %v: %s (want 57014 soon after the cancel)", d, code)
	}
}

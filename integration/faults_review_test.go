package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Review 6: session-mode and reconnection findings.

// A named statement parsed in the same batch as the read that uses it
// (Parse "s", Bind, Execute, Sync in one write, as pipelining drivers
// send it): the ParseComplete and BindComplete reach the client, then the
// connection is cut while the read runs. The read only reads and nothing
// of its answer went out, so the proxy sends the batch again on a new
// connection. The client must then get the read's rows as PostgreSQL
// would have sent them, not "prepared statement "s" already exists": the
// replayed Parse is the same Parse, not a second one of the name.
func TestReview6ReplayOfNamedParseInBatch(t *testing.T) {
	for _, mode := range poolModes {
		t.Run(mode, func(t *testing.T) {
			r := startRelay(t, mustHost(t))
			p := newProxy(t, relayedSecretsMode(t, r, mode, ""))
			rc := startRaw(t, p, "pg")
			rc.send(
				&pgproto3.Parse{Name: "s1", Query: "SELECT 'answer' || pg_sleep(1)::text"},
				&pgproto3.Bind{PreparedStatement: "s1"},
				&pgproto3.Execute{},
				&pgproto3.Sync{},
			)
			time.Sleep(400 * time.Millisecond)
			r.cut()
			got := rc.untilReady()
			expectMsgs(t, got, "ParseComplete", "BindComplete", "DataRow", "CommandComplete", "ReadyForQuery")
			// The statement is still usable afterwards.
			rc.send(&pgproto3.Bind{PreparedStatement: "s1"}, &pgproto3.Execute{}, &pgproto3.Sync{})
			expectMsgs(t, rc.untilReady(), "BindComplete", "DataRow", "CommandComplete", "ReadyForQuery")
		})
	}
}

// Extended protocol with Flush: Parse "s" and Describe, then Flush; the
// client reads the descriptions and only then sends Bind, Execute, Sync.
// A cut in between (the client is waiting on nothing) must not turn the
// later Execute into an error: the proxy replays the Parse and Describe
// on a new connection (they were sent, not yet synced), and the replayed
// Parse must not collide with the client's own statement.
func TestReview6NamedParseFlushCutExecute(t *testing.T) {
	for _, mode := range poolModes {
		t.Run(mode, func(t *testing.T) {
			r := startRelay(t, mustHost(t))
			p := newProxy(t, relayedSecretsMode(t, r, mode, ""))
			rc := startRaw(t, p, "pg")
			rc.send(
				&pgproto3.Parse{Name: "s1", Query: "SELECT $1::int * 2 AS v"},
				&pgproto3.Describe{ObjectType: 'S', Name: "s1"},
				&pgproto3.Flush{},
			)
			var got []pgproto3.BackendMessage
			for len(got) < 3 {
				got = append(got, rc.mustRecv())
			}
			expectMsgs(t, got, "ParseComplete", "ParameterDescription", "RowDescription")
			r.cut()
			time.Sleep(300 * time.Millisecond)
			rc.send(
				&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{[]byte("21")}},
				&pgproto3.Execute{},
				&pgproto3.Sync{},
			)
			got = rc.untilReady()
			expectMsgs(t, got, "BindComplete", "DataRow", "CommandComplete", "ReadyForQuery")
			if d, _ := findMsg[*pgproto3.DataRow](got); string(d.Values[0]) != "42" {
				t.Fatalf("value %q", d.Values[0])
			}
		})
	}
}

// MariaDB: statements that leave state on the server connection must make
// the loss of that connection end the session with FATAL 08006 (as
// TestMySQLConnectionKilledAfterSessionState shows for SET @v): a session
// that silently went on without its lock, variable or prepared statement
// would act on state that is no longer there. Each case runs the
// statement, has the connection killed while the session is idle, and
// expects FATAL on the next statement.
func TestReview6MySQLStatefulStatementsEndSessionOnLoss(t *testing.T) {
	cases := []struct{ name, setup, stmt string }{
		{"set-user-var", "", "SET @xcp_v = 1"},
		{"select-assign-var", "", "SELECT @xcp_v := 1"},
		{"select-into-var", "", "SELECT 1 INTO @xcp_v"},
		{"get-lock", "", "SELECT GET_LOCK('xcp_r6_lock', 0)"},
		{"temp-table", "", "CREATE TEMPORARY TABLE xcp_r6_tmp (a INT)"},
		{"lock-tables", "CREATE TABLE {{t}} (a INT)", "LOCK TABLES {{t}} READ"},
		{"sql-prepare", "", "PREPARE xcp_r6_st FROM 'SELECT 1'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, prefix := mysqlProxy(t, "my", "")
			admin := directMySQL(t)
			table := prefix + "locked"
			if tc.setup != "" {
				if _, err := admin.Exec(strings.ReplaceAll(tc.setup, "{{t}}", table)); err != nil {
					t.Fatal(err)
				}
			}
			c := p.Connect(t, "my", pgx.QueryExecModeSimpleProtocol)
			if _, err := c.Exec(ctxT(t), strings.ReplaceAll(tc.stmt, "{{t}}", table)); err != nil {
				t.Skipf("%s: %v (not accepted by the proxy)", tc.stmt, err)
			}
			var id int64
			if err := c.QueryRow(ctxT(t), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.Exec(fmt.Sprintf("KILL %d", id)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(150 * time.Millisecond)
			_, err := c.Exec(ctxT(t), "SELECT 1")
			if err == nil {
				t.Fatalf("after %q and the loss of the connection, the session went on silently", strings.ReplaceAll(tc.stmt, "{{t}}", table))
			}
			if pe := wantCode(t, err, "08006"); pe.Severity != "FATAL" {
				t.Fatalf("severity %s: %s", pe.Severity, pe.Message)
			}
		})
	}
}

// Session mode: a superuser sets a superuser-only setting, then SET ROLE
// to an ordinary role (on a direct connection both hold). The connection
// is cut while idle; the new one must be given the session back. The
// proxy restores unreported settings with set_config in name order, so
// "role" comes before "session_replication_role": as the ordinary role,
// setting session_replication_role is refused (42501), and every
// statement after the cut fails with that error.
// PostgreSQL itself keeps both (SHOW gives them); the proxy should set the
// role last.
func TestReview6SetRoleRestoredAfterPrivilegedSetting(t *testing.T) {
	admin := directPG(t)
	role := "xcp_r6_" + randHex()
	if err := admin.Exec(ctxT(t), "CREATE ROLE "+role).Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role).Close() })
	r := startRelay(t, mustHost(t))
	p := newProxy(t, relayedSecretsMode(t, r, "session", ""))
	c := p.Connect(t, "pg")
	mustExec(t, c, "SET session_replication_role = replica")
	mustExec(t, c, "SET ROLE "+role)
	r.cut()
	time.Sleep(200 * time.Millisecond)
	var user, srr string
	if err := c.QueryRow(ctxT(t), "SELECT current_user::text, current_setting('session_replication_role')").Scan(&user, &srr); err != nil {
		t.Fatalf("after the cut: %v", err)
	}
	if user != role || srr != "replica" {
		t.Fatalf("after the cut: current_user %q, session_replication_role %q", user, srr)
	}
}

// The server refuses connections; retry_timeout is 4 s. Client A's
// statement is retrying to open a connection; client B's statement waits
// for A's retry (Reconnector: one retrier, the others wait). B sends a
// cancel request: "a cancel request while the transaction waits for a
// connection ends the wait, as it would end the statement" (TxSession.take).
// B must get 57014 at once. Reconnector.Do waits for the retrier with
// r.mu.Lock(), which no context or cancel can end, so B waits until A's
// retry window runs out.
func TestReview6CancelWhileWaitingForAnotherRetry(t *testing.T) {
	for _, mode := range poolModes {
		t.Run(mode, func(t *testing.T) {
			r := startRelay(t, mustHost(t))
			p := newProxy(t, relayedSecretsMode(t, r, mode, "retry_timeout = \"4s\""))
			a := startRaw(t, p, "pg")
			b := startRaw(t, p, "pg")
			for _, rc := range []*rawClient{a, b} {
				rc.send(&pgproto3.Query{String: "SELECT 1"})
				rc.untilReady()
			}
			key, ok := findMsg[*pgproto3.BackendKeyData](b.Startup)
			if !ok {
				t.Fatal("no BackendKeyData")
			}
			r.refusing.Store(true)
			r.cut()
			time.Sleep(100 * time.Millisecond)
			a.send(&pgproto3.Query{String: "SELECT 1"})
			time.Sleep(200 * time.Millisecond) // A is the retrier
			b.send(&pgproto3.Query{String: "SELECT 2"})
			time.Sleep(200 * time.Millisecond) // B waits for A's retry
			start := time.Now()
			cc := dialRaw(t, p.Addr)
			cc.send(&pgproto3.CancelRequest{ProcessID: key.ProcessID, SecretKey: key.SecretKey})
			got := b.untilReady()
			d := time.Since(start)
			e, _ := findMsg[*pgproto3.ErrorResponse](got)
			t.Logf("B after %v: %s", d, describeMsgs(got))
			if e == nil || e.Code != "57014" || d > time.Second {
				t.Fatalf("B's cancel while it waited for the retry: answered after %v with\n%s", d, describeMsgs(got))
			}
			r.refusing.Store(false)
		})
	}
}

// A superuser client that changes its session user with set_config (not
// only with SET SESSION AUTHORIZATION) must not hand that user to the
// next client of its server connection (transaction mode, pool of one),
// and in session mode its session cannot go on without it after a cut.
func TestSessionAuthorizationBySetConfig(t *testing.T) {
	admin := directPG(t)
	role := "xcp_auth_" + randHex()
	if err := admin.Exec(ctxT(t), "CREATE ROLE "+role+" LOGIN").Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP ROLE "+role).Close() })
	setUser := "SELECT set_config('session_authorization', '" + role + "', false)"

	t.Run("transaction", func(t *testing.T) {
		p := startProxy(t, pgSecrets(t, "pg", "pool_mode = \"transaction\"\npool_size = 1"), proxyOptions{quiet: true})
		a := p.Connect(t, "pg")
		mustExec(t, a, setUser)
		b := p.Connect(t, "pg")
		if got := queryString(t, b, "SELECT session_user::text"); got == role {
			t.Fatalf("the next client runs as %s", got)
		}
	})
	t.Run("session", func(t *testing.T) {
		r := startRelay(t, mustHost(t))
		p := startProxy(t, relayedSecretsMode(t, r, "session", ""), proxyOptions{quiet: true})
		c := p.Connect(t, "pg")
		mustExec(t, c, setUser)
		r.cut()
		time.Sleep(200 * time.Millisecond)
		_, err := c.Exec(ctxT(t), "SELECT session_user")
		if pe := wantCode(t, err, "08006"); pe.Severity != "FATAL" {
			t.Fatalf("severity %s: the session went on as another user", pe.Severity)
		}
	})
}

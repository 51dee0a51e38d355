package integration

import (
	"context"
	"io"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Session mode: a session whose server connection is cut while it is idle
// gets a new one with the session given back before its next statement
// runs: startup parameters, settings changed by SET and set_config, its
// prepared statements and the channels it listens to.
func TestSessionStateSurvivesCut(t *testing.T) {
	r := startRelay(t, mustHost(t))
	p := startProxy(t, relayedSecretsMode(t, r, "session", ""), proxyOptions{quiet: true})
	u, err := url.Parse(p.URL("pg"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctxT(t), u.String()+"&application_name=xcp_restore&options=-c%20statement_timeout%3D12345")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })

	channel := "xcp_restore_" + randHex()
	mustExec(t, c, "SET TimeZone = 'Asia/Tokyo'")
	mustExec(t, c, "SET search_path = xcp_nowhere, public")
	mustExec(t, c, "SELECT set_config('work_mem', '7MB', false)")
	mustExec(t, c, "SET intervalstyle = 'iso_8601'")
	mustExec(t, c, "LISTEN "+channel)
	if _, err := c.Prepare(ctxT(t), "double", "SELECT $1::int * 2"); err != nil {
		t.Fatal(err)
	}
	pid := queryString(t, c, "SELECT pg_backend_pid()::text")

	r.cut()
	time.Sleep(200 * time.Millisecond)

	if got := queryString(t, c, "SELECT pg_backend_pid()::text"); got == pid {
		t.Fatalf("still on server process %s after the cut", got)
	}
	for setting, want := range map[string]string{
		"TimeZone":          "Asia/Tokyo",
		"search_path":       "xcp_nowhere, public",
		"work_mem":          "7MB",
		"IntervalStyle":     "iso_8601",
		"application_name":  "xcp_restore",
		"statement_timeout": "12345ms",
	} {
		if got := queryString(t, c, "SHOW "+setting); got != want {
			t.Errorf("SHOW %s after the cut: %q, want %q", setting, got, want)
		}
	}
	var n int
	if err := c.QueryRow(ctxT(t), "double", 21).Scan(&n); err != nil || n != 42 {
		t.Errorf("the prepared statement after the cut: %d, %v", n, err)
	}
	admin := directPG(t)
	if err := admin.Exec(ctxT(t), "NOTIFY "+channel+", 'after the cut'").Close(); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctxT(t), 5*time.Second)
	defer cancel()
	note, err := c.WaitForNotification(wctx)
	if err != nil || note.Channel != channel || note.Payload != "after the cut" {
		t.Fatalf("notification after the cut: %+v, %v", note, err)
	}

	// UNLISTEN is followed too: a second cut does not listen again.
	mustExec(t, c, "UNLISTEN "+channel)
	r.cut()
	time.Sleep(200 * time.Millisecond)
	if got := queryString(t, c, "SELECT count(*)::text FROM pg_listening_channels()"); got != "0" {
		t.Fatalf("channels after UNLISTEN and a cut: %s", got)
	}
}

// Session mode: state the proxy cannot give a new connection (here a
// temporary table, a statement prepared with SQL PREPARE) makes the loss
// of the connection end the session with FATAL 08006, rather than let it
// go on without it. After DISCARD ALL (or DISCARD TEMP, DEALLOCATE, CLOSE
// ALL for what each drops) nothing of it is left, and the session
// survives a cut again.
func TestSessionStateThatCannotBeRestored(t *testing.T) {
	r := startRelay(t, mustHost(t))
	p := startProxy(t, relayedSecretsMode(t, r, "session", ""), proxyOptions{quiet: true})

	c := p.Connect(t, "pg")
	mustExec(t, c, "CREATE TEMP TABLE xcp_scratch (a int)")
	mustExec(t, c, "DISCARD ALL")
	r.cut()
	time.Sleep(200 * time.Millisecond)
	mustExec(t, c, "SELECT 1")

	// What is dropped again is forgotten too: DISCARD TEMP, DEALLOCATE,
	// CLOSE ALL.
	c = p.Connect(t, "pg")
	mustExec(t, c, "CREATE TEMP TABLE xcp_scratch (a int)")
	mustExec(t, c, "DISCARD TEMP")
	mustExec(t, c, "PREPARE xcp_q AS SELECT 1")
	mustExec(t, c, "DEALLOCATE xcp_q")
	mustExec(t, c, "BEGIN; DECLARE xcp_c CURSOR WITH HOLD FOR SELECT 1; COMMIT")
	mustExec(t, c, "CLOSE ALL")
	r.cut()
	time.Sleep(200 * time.Millisecond)
	mustExec(t, c, "SELECT 1")

	// A statement still prepared: FATAL.
	c = p.Connect(t, "pg")
	mustExec(t, c, "PREPARE xcp_q AS SELECT 1")
	mustExec(t, c, "PREPARE xcp_r AS SELECT 2")
	mustExec(t, c, "DEALLOCATE xcp_q")
	r.cut()
	time.Sleep(200 * time.Millisecond)
	_, err := c.Exec(ctxT(t), "EXECUTE xcp_r")
	if pe := wantCode(t, err, "08006"); pe.Severity != "FATAL" {
		t.Fatalf("%s %s", pe.Severity, pe.Message)
	}

	c = p.Connect(t, "pg")
	mustExec(t, c, "CREATE TEMP TABLE xcp_scratch (a int)")
	r.cut()
	time.Sleep(200 * time.Millisecond)
	_, err = c.Exec(ctxT(t), "SELECT count(*) FROM xcp_scratch")
	pe := wantCode(t, err, "08006")
	if pe.Severity != "FATAL" || !strings.Contains(pe.Message, "temporary tables") {
		t.Fatalf("%s %s", pe.Severity, pe.Message)
	}
}

// psql, a real client, in session mode: its connection is cut between two
// statements (and it is told nothing); the second statement runs on a new
// server connection with the session's settings and prepared statement,
// and psql never reconnects or reports an error.
func TestPsqlSessionSurvivesCut(t *testing.T) {
	psql := psqlPath(t)
	r := startRelay(t, mustHost(t))
	p := startProxy(t, relayedSecretsMode(t, r, "session", ""), proxyOptions{quiet: true})
	cmd := exec.Command(psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", p.URL("pg"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	send := func(s string) {
		t.Helper()
		if _, err := io.WriteString(stdin, s+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	send("SET TimeZone = 'Asia/Tokyo';")
	send("PREPARE q AS SELECT 1;") // SQL PREPARE would end the session: not used
	send("DEALLOCATE q;")
	send("SELECT pg_backend_pid() AS before \\gset")
	time.Sleep(500 * time.Millisecond)
	r.cut()
	time.Sleep(200 * time.Millisecond)
	send("SELECT current_setting('TimeZone'), pg_backend_pid() <> :before;")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("psql: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if got := lines[len(lines)-1]; got != "Asia/Tokyo|t" || errOut.Len() > 0 {
		t.Fatalf("after the cut: %q (stderr %q)", out.String(), errOut.String())
	}
}

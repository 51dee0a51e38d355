package integration

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Faults between the proxy and MariaDB, through the same TCP relay as
// PostgreSQL's (faults_test.go).

// relayedMySQL is a MariaDB section that reaches the server through r.
func relayedMySQL(t *testing.T, r *relay, extra string) string {
	cfg := directMySQLConfig(t)
	u := url.URL{Scheme: "mysql", Host: r.Addr(), Path: "/" + cfg.DBName}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	} else {
		u.User = url.User(cfg.User)
	}
	return fmt.Sprintf("[connections.my]\nurl = %q\n%s\n", u.String(), extra)
}

// startMySQLRelay is a relay to the test server, which must be on TCP.
func startMySQLRelay(t *testing.T) *relay {
	directMySQL(t)
	cfg := directMySQLConfig(t)
	if cfg.Net != "tcp" {
		t.Skipf("the test server is reached over %s; the relay needs TCP", cfg.Net)
	}
	return startRelay(t, cfg.Addr)
}

// mysqlRead is the readers' statement on MariaDB.
const mysqlRead = "SELECT CAST($1 AS SIGNED) + COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'xcp_none'"

// Sixteen clients reading MariaDB in a loop while every server connection
// is cut again and again, then while the server refuses connections for
// five seconds: an idle session's dead connection is found before a
// statement is sent on it and replaced, a read whose connection is lost
// under it runs again, and no client sees an error.
func TestMySQLReadsSurviveCutsAndRefusals(t *testing.T) {
	r := startMySQLRelay(t)
	p := startProxy(t, relayedMySQL(t, r, "pool_size = 32"), proxyOptions{quiet: true})
	conns := make([]*pgx.Conn, 16)
	for i := range conns {
		conns[i] = p.Connect(t, "my")
	}
	survive(t, r, conns, mysqlRead)
}

// Past retry_timeout every MariaDB client gets a clear error naming the
// cause, and its session recovers when the server is back.
func TestMySQLRetryTimeout(t *testing.T) {
	r := startMySQLRelay(t)
	p := startProxy(t, relayedMySQL(t, r, "retry_timeout = \"500ms\"\npool_size = 32"), proxyOptions{quiet: true})
	conns := make([]*pgx.Conn, 16)
	for i := range conns {
		conns[i] = p.Connect(t, "my")
	}
	giveUpAndRecover(t, r, conns, `database "my"`)
}

// A cut inside a MariaDB transaction: the client gets 08006 as an ERROR,
// nothing of the transaction is committed, and the session's next
// transaction runs and commits on a new connection.
func TestMySQLCutInsideTransaction(t *testing.T) {
	r := startMySQLRelay(t)
	p := startProxy(t, relayedMySQL(t, r, ""), proxyOptions{quiet: true})
	admin := directMySQL(t)
	table := "xcp_cut_" + randHex()
	if _, err := admin.Exec("CREATE TABLE " + table + " (id INT)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP TABLE " + table) })
	count := func() int {
		var n int
		if err := admin.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	c := p.Connect(t, "my")
	tx, err := c.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctxT(t), "INSERT INTO "+table+" VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	r.cut()
	time.Sleep(100 * time.Millisecond)
	_, err = tx.Exec(ctxT(t), "INSERT INTO "+table+" VALUES (2)")
	if pe := wantCode(t, err, "08006"); pe.Severity != "ERROR" {
		t.Fatalf("severity %s", pe.Severity)
	}
	_ = tx.Rollback(ctxT(t))
	if n := count(); n != 0 {
		t.Fatalf("%d rows committed by the lost transaction", n)
	}

	tx, err = c.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctxT(t), "INSERT INTO "+table+" VALUES (3)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d rows after the next transaction", n)
	}

	// A write while the session is idle is not lost either: the dead
	// connection is found before the statement is sent.
	r.cut()
	time.Sleep(100 * time.Millisecond)
	mustExec(t, c, "INSERT INTO "+table+" VALUES (4)")
	if n := count(); n != 2 {
		t.Fatalf("%d rows after a write following a cut", n)
	}
}

// pool_max_lifetime: a MariaDB server connection older than its lifetime
// (give or take a tenth) is closed when it is next idle, not handed to the
// next client.
func TestMySQLMaxLifetime(t *testing.T) {
	p, _ := mysqlProxy(t, "my", "pool_max_lifetime = \"1s\"\npool_size = 1")
	id := func() int64 {
		c := p.Connect(t, "my")
		defer c.Close(ctxT(t))
		var n int64
		if err := c.QueryRow(ctxT(t), "SELECT CONNECTION_ID()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := id()
	if again := id(); again != first {
		t.Fatalf("a young connection was not reused: %d, then %d", first, again)
	}
	time.Sleep(1200 * time.Millisecond)
	if later := id(); later == first {
		t.Fatalf("connection %d outlived pool_max_lifetime", later)
	}
}

// A MariaDB that accepts connections and then says nothing: past
// connect_timeout and retry_timeout the client gets 08001, never a hang,
// and recovers with the server.
func TestMySQLStalledServer(t *testing.T) {
	r := startMySQLRelay(t)
	sec := strings.Replace(relayedMySQL(t, r, "retry_timeout = \"1s\""), `/test"`, `/test?connect_timeout=2"`, 1)
	if !strings.Contains(sec, "connect_timeout") {
		t.Fatalf("test setup: %s", sec)
	}
	p := startProxy(t, sec, proxyOptions{quiet: true})
	stallAndRecover(t, r, p.Connect(t, "my"))
}

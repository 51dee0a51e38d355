package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Faults injected for real: a TCP relay between the proxy and PostgreSQL
// that can cut every connection or refuse new ones.

type relay struct {
	t        testing.TB
	l        net.Listener
	target   string
	refusing atomic.Bool

	mu    sync.Mutex
	conns map[net.Conn]bool
}

func startRelay(t testing.TB, target string) *relay {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{t: t, l: l, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { l.Close(); r.cut() })
	go r.serve()
	return r
}

func (r *relay) Addr() string { return r.l.Addr().String() }

func (r *relay) serve() {
	for {
		c, err := r.l.Accept()
		if err != nil {
			return
		}
		if r.refusing.Load() {
			c.Close() // the server is not there
			continue
		}
		s, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns[c], r.conns[s] = true, true
		r.mu.Unlock()
		go func() { _, _ = io.Copy(s, c); s.Close(); c.Close() }()
		go func() { _, _ = io.Copy(c, s); s.Close(); c.Close() }()
	}
}

// cut closes every connection through the relay, as a network failure or
// a server restart would.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		c.Close()
	}
	clear(r.conns)
}

// relayedSecrets is a PostgreSQL section that reaches the server through r.
func relayedSecrets(t *testing.T, r *relay, extra string) string {
	directPG(t)
	u, err := url.Parse(pgURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Host, u.RawQuery = r.Addr(), "sslmode=disable"
	return fmt.Sprintf("[connections.pg]\nurl = %q\npool_mode = \"transaction\"\n%s\n", u.String(), extra)
}

// Clients between transactions do not notice their server connections
// being cut, nor the server refusing connections for a while: the proxy
// finds the dead connections before using them, and waits for the server.
func TestTxModeSurvivesCutsAndRefusals(t *testing.T) {
	r := startRelay(t, mustHost(t))
	p := startProxy(t, relayedSecrets(t, r, "pool_size = 8"), proxyOptions{quiet: true})
	const clients = 8
	conns := make([]*pgx.Conn, clients)
	for i := range conns {
		conns[i] = p.Connect(t, "pg")
	}
	round := func(what string) time.Duration {
		t.Helper()
		start := time.Now()
		var wg sync.WaitGroup
		var errs atomic.Int32
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < 5; k++ {
					var n int
					if err := c.QueryRow(ctxT(t), "SELECT $1::int + 1", i).Scan(&n); err != nil || n != i+1 {
						t.Errorf("%s: client %d: %d, %v", what, i, n, err)
						errs.Add(1)
						return
					}
				}
			}()
		}
		wg.Wait()
		if errs.Load() > 0 {
			t.FailNow()
		}
		return time.Since(start)
	}
	round("warm-up")
	r.cut()
	round("after every connection was cut")
	r.refusing.Store(true)
	r.cut()
	go func() { time.Sleep(time.Second); r.refusing.Store(false) }()
	if d := round("while the server refused connections for a second"); d < 500*time.Millisecond {
		t.Fatalf("the round took %v: the refusal was not exercised", d)
	}
	round("after the refusal")
}

// Past retry_timeout the client gets a clear error naming the connection
// and the cause; its session stays usable and recovers with the server.
func TestTxModeRetryTimeout(t *testing.T) {
	r := startRelay(t, mustHost(t))
	p := startProxy(t, relayedSecrets(t, r, "retry_timeout = \"500ms\""), proxyOptions{quiet: true})
	c := p.Connect(t, "pg")
	mustExec(t, c, "SELECT 1")
	r.refusing.Store(true)
	r.cut()
	_, err := c.Exec(ctxT(t), "SELECT 1")
	pe := wantCode(t, err, "08001")
	if !strings.Contains(pe.Message, `connection "pg"`) || !strings.Contains(pe.Message, "unreachable") || pe.Severity != "ERROR" {
		t.Fatalf("%s %s", pe.Severity, pe.Message)
	}
	r.refusing.Store(false)
	mustExec(t, c, "SELECT 1")
}

func mustHost(t *testing.T) string {
	u, err := url.Parse(pgURL())
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// A connection that fails under a running statement, or inside a
// transaction block: the client gets 08006 as an ERROR, never a silent
// commit, and its session goes on with a new server connection.
func TestTxModeFailureUnderTheClient(t *testing.T) {
	r := startRelay(t, mustHost(t))
	p := startProxy(t, relayedSecrets(t, r, ""), proxyOptions{quiet: true})
	table := "xcp_lost_" + randHex()
	admin := directPG(t)
	if err := admin.Exec(ctxT(t), "CREATE TABLE "+table+" (id INT)").Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP TABLE "+table).Close() })

	c := p.Connect(t, "pg")
	mustExec(t, c, "INSERT INTO "+table+" VALUES (0)")
	done := make(chan error, 1)
	go func() {
		// A write may have run: it is not sent again.
		_, err := c.Exec(ctxT(t), "UPDATE "+table+" SET id = id WHERE pg_sleep(3) IS NOT NULL")
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	r.cut()
	pe := wantCode(t, <-done, "08006")
	if pe.Severity != "ERROR" {
		t.Fatalf("severity %s", pe.Severity)
	}
	mustExec(t, c, "SELECT 1")

	// Inside a transaction block, idle: the COMMIT must not succeed on a
	// new connection as if nothing happened.
	tx, err := c.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctxT(t), "INSERT INTO "+table+" VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	r.cut()
	time.Sleep(100 * time.Millisecond)
	wantCode(t, tx.Commit(ctxT(t)), "08006")
	if got := queryString(t, c, "SELECT count(*)::text FROM "+table); got != "1" {
		t.Fatalf("rows after the lost transaction: %s", got)
	}
}

// Sixteen clients reading in a loop while every server connection is cut,
// again and again: reads whose answer had not started are sent again on a
// new connection, and no client sees an error.
func TestTxModeReadsSurviveRepeatedCuts(t *testing.T) {
	r := startRelay(t, mustHost(t))
	p := startProxy(t, relayedSecrets(t, r, "pool_size = 16"), proxyOptions{quiet: true})
	const clients = 16
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, errs atomic.Int64
	for i := 0; i < clients; i++ {
		c := p.Connect(t, "pg")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				if err := c.QueryRow(ctxT(t), "SELECT $1::int + count(*)::int FROM pg_class WHERE oid < 0", i).Scan(&n); err != nil || n != i {
					errs.Add(1)
					t.Errorf("client %d: %d, %v", i, n, err)
					return
				}
				reads.Add(1)
			}
		}()
	}
	for k := 0; k < 5; k++ {
		time.Sleep(150 * time.Millisecond)
		r.cut()
	}
	time.Sleep(150 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d reads, %d errors across 5 cuts", reads.Load(), errs.Load())
	if errs.Load() > 0 || reads.Load() < clients*5 {
		t.Fatalf("%d errors, %d reads", errs.Load(), reads.Load())
	}
}

// A server that ends a connection under a read (pg_terminate_backend, as
// a fast shutdown does to every backend) sends FATAL 57P01 first: the read
// runs again on a new connection and the client sees its answer.
func TestTxModeTerminatedReadRunsAgain(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", "pool_mode = \"transaction\""), proxyOptions{quiet: true})
	c := p.Connect(t, "pg")
	var pid int
	if err := c.QueryRow(ctxT(t), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var got string
	go func() { done <- c.QueryRow(ctxT(t), "SELECT 'answer' FROM pg_sleep(1)").Scan(&got) }()
	time.Sleep(300 * time.Millisecond)
	admin := directPG(t)
	if err := admin.Exec(ctxT(t), fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid)).Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || got != "answer" {
		t.Fatalf("the terminated read: %q, %v", got, err)
	}
}

// MariaDB ends the session's server connection (KILL, a restart,
// wait_timeout): the client gets 08006 as an ERROR, its session goes on
// with a new server connection, and an open transaction fails as after any
// error (its COMMIT rolls back).
func TestMySQLConnectionKilledUnderTheSession(t *testing.T) {
	p, prefix := mysqlProxy(t, "my", "")
	admin := directMySQL(t)
	table := prefix + "killed"
	if _, err := admin.Exec("CREATE TABLE " + table + " (id INT)"); err != nil {
		t.Fatal(err)
	}
	c := p.Connect(t, "my", pgx.QueryExecModeSimpleProtocol)
	kill := func() {
		t.Helper()
		var id int64
		if err := c.QueryRow(ctxT(t), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(fmt.Sprintf("KILL %d", id)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	kill()
	_, err := c.Exec(ctxT(t), "SELECT 1")
	if pe := wantCode(t, err, "08006"); pe.Severity != "ERROR" {
		t.Fatalf("severity %s", pe.Severity)
	}
	mustExec(t, c, "SELECT 1")

	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO "+table+" VALUES (1)")
	kill()
	_, err = c.Exec(ctxT(t), "INSERT INTO "+table+" VALUES (2)")
	wantCode(t, err, "08006")
	if _, err := c.Exec(ctxT(t), "SELECT 1"); err == nil {
		t.Fatal("the failed transaction accepted a statement")
	}
	tag, err := c.Exec(ctxT(t), "COMMIT")
	if err != nil || tag.String() != "ROLLBACK" {
		t.Fatalf("COMMIT of the failed transaction: %q, %v", tag, err)
	}
	var n int
	if err := admin.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows: %d, %v", n, err)
	}
}

// A session that left state on its MariaDB connection (here USE of another
// database would be; a user variable is the test) cannot go on without it:
// losing the connection ends it with FATAL, as before.
func TestMySQLConnectionKilledAfterSessionState(t *testing.T) {
	p, _ := mysqlProxy(t, "my", "")
	admin := directMySQL(t)
	c := p.Connect(t, "my", pgx.QueryExecModeSimpleProtocol)
	mustExec(t, c, "SET @xcp_state = 1")
	var id int64
	if err := c.QueryRow(ctxT(t), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(fmt.Sprintf("KILL %d", id)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	_, err := c.Exec(ctxT(t), "SELECT @xcp_state")
	if pe := wantCode(t, err, "08006"); pe.Severity != "FATAL" {
		t.Fatalf("severity %s: the session went on without its variables", pe.Severity)
	}
}

package integration

import (
	"context"
	"errors"
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
	"github.com/jackc/pgx/v5/pgconn"
)

// Faults injected for real: a TCP relay between the proxy and PostgreSQL
// that can cut every connection or refuse new ones.

type relay struct {
	t        testing.TB
	l        net.Listener
	target   string
	refusing atomic.Bool
	refused  atomic.Int64 // connections refused
	// stalling: new connections are accepted and then get no answer, as
	// from a server that hangs.
	stalling atomic.Bool

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
			r.refused.Add(1)
			c.Close() // the server is not there
			continue
		}
		if r.stalling.Load() {
			r.mu.Lock()
			r.conns[c] = true // held, silent, until cut
			r.mu.Unlock()
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

// relayedSecrets is a PostgreSQL section in transaction mode that reaches
// the server through r.
func relayedSecrets(t *testing.T, r *relay, extra string) string {
	return relayedSecretsMode(t, r, "transaction", extra)
}

// relayedSecretsMode is a PostgreSQL section in the given pool mode that
// reaches the server through r.
func relayedSecretsMode(t *testing.T, r *relay, mode, extra string) string {
	directPG(t)
	u, err := url.Parse(pgURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Host, u.RawQuery = r.Addr(), "sslmode=disable&connect_timeout=2"
	return fmt.Sprintf("[connections.pg]\nurl = %q\npool_mode = %q\n%s\n", u.String(), mode, extra)
}

// poolModes are the PostgreSQL pool modes the fault tests run in.
var poolModes = []string{"session", "transaction"}

// readers are clients that run autocommit reads in a loop, each checking
// its answer, until stopped.
type readers struct {
	t     *testing.T
	stop  chan struct{}
	wg    sync.WaitGroup
	reads atomic.Int64
	errs  atomic.Int64

	mu       sync.Mutex
	firstErr error
}

// pgRead is the readers' statement on PostgreSQL: $1 back, from a read
// that touches a table.
const pgRead = "SELECT $1::int + count(*)::int FROM pg_class WHERE oid < 0"

func startReaders(t *testing.T, conns []*pgx.Conn, read string) *readers {
	rs := &readers{t: t, stop: make(chan struct{})}
	for i, c := range conns {
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			for {
				select {
				case <-rs.stop:
					return
				default:
				}
				var n int
				err := c.QueryRow(ctxT(t), read, i).Scan(&n)
				if err == nil && n != i {
					err = fmt.Errorf("client %d read %d", i, n)
				}
				if err != nil {
					rs.errs.Add(1)
					rs.mu.Lock()
					if rs.firstErr == nil {
						rs.firstErr = err
					}
					rs.mu.Unlock()
					time.Sleep(20 * time.Millisecond)
					continue
				}
				rs.reads.Add(1)
			}
		}()
	}
	return rs
}

// wait stops the readers and returns the reads and errors they counted.
func (rs *readers) wait() (reads, errs int64, first error) {
	close(rs.stop)
	rs.wg.Wait()
	return rs.reads.Load(), rs.errs.Load(), rs.firstErr
}

// Sixteen clients reading in a loop, in either pool mode, while every
// server connection is cut again and again, and then while the server
// refuses connections for five seconds: reads whose answer had not
// started are sent again on a new connection, idle sessions get a new
// one, and no client sees an error, only a delay.
func TestReadsSurviveCutsAndRefusals(t *testing.T) {
	for _, mode := range poolModes {
		t.Run(mode, func(t *testing.T) {
			r := startRelay(t, mustHost(t))
			p := startProxy(t, relayedSecretsMode(t, r, mode, "pool_size = 16"), proxyOptions{quiet: true})
			conns := make([]*pgx.Conn, 16)
			for i := range conns {
				conns[i] = p.Connect(t, "pg")
			}
			survive(t, r, conns, pgRead)
		})
	}
}

// survive runs readers on conns while r cuts every connection five times,
// then while it refuses connections for five seconds, and fails the test
// on any client error.
func survive(t *testing.T, r *relay, conns []*pgx.Conn, read string) {
	rs := startReaders(t, conns, read)
	for k := 0; k < 5; k++ {
		time.Sleep(150 * time.Millisecond)
		r.cut()
	}
	time.Sleep(150 * time.Millisecond)
	reads, errs, first := rs.wait()
	t.Logf("%d reads, %d errors across 5 cuts", reads, errs)
	// The reads only show that the clients got on (how many depends on
	// the machine's load); the errors are the point.
	if errs > 0 || reads < int64(len(conns)) {
		t.Fatalf("%d errors (first: %v), %d reads", errs, first, reads)
	}

	rs = startReaders(t, conns, read)
	time.Sleep(100 * time.Millisecond)
	r.refusing.Store(true)
	r.cut()
	time.Sleep(100 * time.Millisecond)
	r.cut() // connections being opened during the first cut
	before := rs.reads.Load()
	time.Sleep(5 * time.Second)
	during := rs.reads.Load() - before
	r.refusing.Store(false)
	time.Sleep(500 * time.Millisecond)
	reads, errs, first = rs.wait()
	t.Logf("refused for 5s: %d connections refused, %d reads during the refusal, %d in all; %d errors",
		r.refused.Load(), during, reads, errs)
	if errs > 0 {
		t.Fatalf("%d errors while the server refused connections (first: %v)", errs, first)
	}
	// A read in flight when the refusal began may finish after it was
	// counted from; a client still served past that would read thousands.
	if r.refused.Load() == 0 || during > int64(len(conns)) {
		t.Fatalf("%d refused, %d reads during the refusal: the refusal was not exercised", r.refused.Load(), during)
	}
	if reads <= before+during {
		t.Fatal("no read after the server came back")
	}
}

// Past retry_timeout every client gets a clear error naming the
// connection and the cause; its session stays usable and recovers with
// the server.
func TestRetryTimeout(t *testing.T) {
	for _, mode := range poolModes {
		t.Run(mode, func(t *testing.T) {
			r := startRelay(t, mustHost(t))
			p := startProxy(t, relayedSecretsMode(t, r, mode, "retry_timeout = \"500ms\"\npool_size = 16"), proxyOptions{quiet: true})
			conns := make([]*pgx.Conn, 16)
			for i := range conns {
				conns[i] = p.Connect(t, "pg")
			}
			giveUpAndRecover(t, r, conns, `connection "pg"`)
		})
	}
}

// giveUpAndRecover makes r refuse connections past the proxy's
// retry_timeout (at most a second or so) while every client of conns runs
// a statement: each gets ERROR 08001 saying the server was unreachable
// (and naming what mention names) within three seconds, and runs its next
// statement once the server is back.
func giveUpAndRecover(t *testing.T, r *relay, conns []*pgx.Conn, mention string) {
	for _, c := range conns {
		mustExec(t, c, "SELECT 1")
	}
	r.refusing.Store(true)
	r.cut()
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, err := c.Exec(ctxT(t), "SELECT 1")
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "08001" || pe.Severity != "ERROR" ||
				!strings.Contains(pe.Message, mention) || !strings.Contains(pe.Message, "unreachable") {
				t.Errorf("client %d past retry_timeout: %v", i, err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("client %d waited %v", i, d)
			}
		}()
	}
	wg.Wait()
	r.refusing.Store(false)
	for _, c := range conns {
		mustExec(t, c, "SELECT 1")
	}
}

// A server that accepts connections and then says nothing (hung, or a
// black hole in the network) does not hold clients either: each attempt
// to open a connection ends with connect_timeout or the retry window, and
// past retry_timeout the client gets 08001; it recovers with the server.
func TestStalledServer(t *testing.T) {
	for _, mode := range poolModes {
		t.Run(mode, func(t *testing.T) {
			r := startRelay(t, mustHost(t))
			p := startProxy(t, relayedSecretsMode(t, r, mode, "retry_timeout = \"1s\""), proxyOptions{quiet: true})
			stallAndRecover(t, r, p.Connect(t, "pg"))
		})
	}
}

// stallAndRecover makes r stall new connections (and cuts the others)
// while c runs a statement: with connect_timeout 2 s and retry_timeout
// 1 s, c gets ERROR 08001 within six seconds, and its next statement runs
// once the server answers again.
func stallAndRecover(t *testing.T, r *relay, c *pgx.Conn) {
	mustExec(t, c, "SELECT 1")
	r.stalling.Store(true)
	r.cut()
	start := time.Now()
	_, err := c.Exec(ctxT(t), "SELECT 1")
	if pe := wantCode(t, err, "08001"); pe.Severity != "ERROR" {
		t.Fatalf("severity %s", pe.Severity)
	}
	// The first attempt waits for connect_timeout, then the retry
	// window runs.
	if d := time.Since(start); d > 6*time.Second {
		t.Fatalf("the client waited %v", d)
	}
	r.stalling.Store(false)
	r.cut()
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
func TestFailureUnderTheClient(t *testing.T) {
	for _, mode := range poolModes {
		t.Run(mode, func(t *testing.T) { testFailureUnderTheClient(t, mode) })
	}
}

func testFailureUnderTheClient(t *testing.T, mode string) {
	r := startRelay(t, mustHost(t))
	p := startProxy(t, relayedSecretsMode(t, r, mode, ""), proxyOptions{quiet: true})
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
	// The next transaction runs and commits.
	tx, err = c.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctxT(t), "INSERT INTO "+table+" VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, c, "SELECT count(*)::text FROM "+table); got != "2" {
		t.Fatalf("rows after the next transaction: %s", got)
	}
}

// A server that ends a connection under a read (pg_terminate_backend, as
// a fast shutdown does to every backend) sends FATAL 57P01 first: the read
// runs again on a new connection and the client sees its answer.
func TestTerminatedReadRunsAgain(t *testing.T) {
	for _, mode := range poolModes {
		t.Run(mode, func(t *testing.T) { testTerminatedReadRunsAgain(t, mode) })
	}
}

func testTerminatedReadRunsAgain(t *testing.T, mode string) {
	p := startProxy(t, pgSecrets(t, "pg", fmt.Sprintf("pool_mode = %q", mode)), proxyOptions{quiet: true})
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
// wait_timeout). While the session is idle the proxy finds the connection
// dead before it sends the next statement, which runs on a new one. Under
// an open transaction the client gets 08006 as an ERROR, its session goes
// on with a new server connection, and the transaction fails as after any
// error (its COMMIT rolls back).
func TestMySQLConnectionKilledUnderTheSession(t *testing.T) {
	p, prefix := mysqlProxy(t, "my", "")
	admin := directMySQL(t)
	table := prefix + "killed"
	if _, err := admin.Exec("CREATE TABLE " + table + " (id INT)"); err != nil {
		t.Fatal(err)
	}
	c := p.Connect(t, "my", pgx.QueryExecModeSimpleProtocol)
	connID := func() int64 {
		t.Helper()
		var id int64
		if err := c.QueryRow(ctxT(t), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	kill := func() {
		t.Helper()
		if _, err := admin.Exec(fmt.Sprintf("KILL %d", connID())); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	before := connID()
	kill()
	if after := connID(); after == before {
		t.Fatalf("still on server connection %d after KILL", after)
	}

	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO "+table+" VALUES (1)")
	kill()
	_, err := c.Exec(ctxT(t), "INSERT INTO "+table+" VALUES (2)")
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

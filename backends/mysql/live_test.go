package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/secrets"
)

// These tests need a MySQL or MariaDB server: XCONNPROXY_TEST_MYSQL (a
// mysql:// url), by default the local MariaDB's test database. They skip
// when it is unreachable, and fail instead under
// XCONNPROXY_REQUIRE_BACKENDS=1 (CI).

func testURL() string {
	if v := os.Getenv("XCONNPROXY_TEST_MYSQL"); v != "" {
		return v
	}
	return "mysql://root@127.0.0.1:3306/test"
}

func openTest(t *testing.T, adjust func(*Config)) *Backend {
	t.Helper()
	c, err := secrets.ParseURL(testURL())
	if err != nil {
		t.Fatalf("XCONNPROXY_TEST_MYSQL: %v", err)
	}
	cfg := Config{Name: "test", Host: c.Host, Port: c.Port, User: c.Username, Password: c.Password,
		Database: c.Database, Socket: c.Query["unix_socket"], ConnectTimeout: 3 * time.Second}
	if adjust != nil {
		adjust(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := Open(ctx, cfg)
	if err != nil {
		msg := fmt.Sprintf("MySQL at %s: %v", c.URL(), err)
		if os.Getenv("XCONNPROXY_REQUIRE_BACKENDS") == "1" {
			t.Fatalf("required test dependency missing: %s", msg)
		}
		t.Skipf("skipping: %s (set XCONNPROXY_REQUIRE_BACKENDS=1 to make this a failure)", msg)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func testConn(t *testing.T, b *Backend) *sql.Conn {
	t.Helper()
	c, err := b.DB().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustExec(t *testing.T, c *sql.Conn, q string, args ...any) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// tempTable creates a table unique to the test, dropped at its end.
func tempTable(t *testing.T, c *sql.Conn, columns string) string {
	t.Helper()
	name := fmt.Sprintf("xcp_%s_%d", strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())), time.Now().UnixNano()%1e6)
	mustExec(t, c, "CREATE TABLE "+name+" ("+columns+")")
	t.Cleanup(func() { c.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+name) })
	return name
}

// TestDriverFieldLayout checks what fields.go reads from go-sql-driver by
// reflection: if a driver upgrade changes its layout, this fails.
func TestDriverFieldLayout(t *testing.T) {
	b := openTest(t, nil)
	c := testConn(t, b)
	tbl := tempTable(t, c, "b BOOL, t TINYINT, u TINYINT UNSIGNED, b1 BIT(1), b5 BIT(5)")
	mustExec(t, c, "INSERT INTO "+tbl+" VALUES (1, 2, 3, b'1', b'101')")
	st, err := c.PrepareContext(context.Background(), "SELECT b, t, u, b1, b5, b AS alias FROM "+tbl)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.QueryContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	want := []string{"TINYINT(1)", "TINYINT", "UNSIGNED TINYINT", "BIT(1)", "BIT", "TINYINT(1)"}
	for i, ct := range types {
		if ct.DatabaseTypeName() != want[i] {
			t.Errorf("column %s: %s, want %s", ct.Name(), ct.DatabaseTypeName(), want[i])
		}
	}
	var cols []string
	c.Raw(func(dc any) error {
		cn := dc.(*conn)
		if !cn.c.mariadb.Load() {
			return nil // MySQL sends no columns with a prepare response
		}
		if !cn.meta {
			t.Error("MariaDB connection without the cache-metadata capability")
		}
		bc, err := cn.describe(context.Background(), "SELECT b, t, b5 FROM "+tbl)
		if err != nil {
			t.Fatal(err)
		}
		for _, col := range bc {
			cols = append(cols, col.Name+" "+col.DBType)
		}
		return nil
	})
	if cols != nil && strings.Join(cols, ", ") != "b TINYINT(1), t TINYINT, b5 BIT" {
		t.Errorf("described %v", cols)
	}
}

// Describe never runs a statement that writes, whichever way it describes.
func TestDescribeDoesNotWrite(t *testing.T) {
	b := openTest(t, nil)
	c := testConn(t, b)
	tbl := tempTable(t, c, "id INT PRIMARY KEY, doc JSON")
	d := &Dialect{c: nil}
	c.Raw(func(dc any) error { d.c = dc.(*conn).c; return nil })
	ctx := context.Background()
	count := func() int {
		var n int
		if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tbl).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if d.Name() == "MariaDB" {
		cols, err := d.Columns(ctx, c, "INSERT INTO "+tbl+" VALUES (?, '{}') RETURNING id, doc")
		if err != nil {
			t.Fatal(err)
		}
		if len(cols) != 2 || cols[0].DBType != "INT" || cols[1].DBType != "JSON" {
			t.Errorf("INSERT ... RETURNING described as %+v", cols)
		}
	}
	cols, err := d.Columns(ctx, c, "UPDATE "+tbl+" SET doc = '[]'")
	if err != nil || cols != nil {
		t.Errorf("UPDATE described as %+v, %v", cols, err)
	}
	// Without prepare metadata (MySQL), reads run and writes are refused.
	c.Raw(func(dc any) error { dc.(*conn).meta = false; return nil })
	defer c.Raw(func(dc any) error { dc.(*conn).meta = dc.(*conn).c.mariadb.Load(); return nil })
	cols, err = d.Columns(ctx, c, "SELECT id, doc, 1 + ? AS n FROM "+tbl)
	if err != nil || len(cols) != 3 || cols[0].Name != "id" || cols[2].Name != "n" {
		t.Errorf("SELECT described as %+v, %v", cols, err)
	}
	cols, err = d.Columns(ctx, c, "SELECT 1 AS a, 2 AS a") // a derived table refuses duplicate names
	if err != nil || len(cols) != 2 {
		t.Errorf("duplicate names described as %+v, %v", cols, err)
	}
	// RETURNING is described as a SELECT of its list from the table.
	cols, err = d.Columns(ctx, c, "INSERT INTO "+tbl+" VALUES (7, '{}') RETURNING id, doc AS d")
	if err != nil || len(cols) != 2 || cols[0].DBType != "INT" || cols[1].Name != "d" {
		t.Errorf("INSERT ... RETURNING described as %+v, %v", cols, err)
	}
	_, err = d.Columns(ctx, c, "ANALYZE TABLE "+tbl)
	var pe *pgcode.Error
	if !errors.As(err, &pe) || pe.Code != pgcode.FeatureNotSupported {
		t.Errorf("describing a statement that is not a read, without metadata: %v, want 0A000", err)
	}
	if n := count(); n != 0 {
		t.Fatalf("describing wrote %d rows", n)
	}
}

// A result left open while other statements run is read into memory and
// then served whole (MySQL has one result on the wire at a time).
func TestOpenResultSurvivesOtherStatements(t *testing.T) {
	b := openTest(t, nil)
	c := testConn(t, b)
	ctx := context.Background()
	st, err := c.PrepareContext(ctx, "SELECT seq, CONCAT('row ', seq) FROM seq_1_to_2000")
	if err != nil {
		t.Skipf("no sequence engine: %v", err)
	}
	defer st.Close()
	rows, err := st.QueryContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int
	var s string
	if !rows.Next() || rows.Scan(&n, &s) != nil || n != 1 {
		t.Fatalf("first row %d %v", n, rows.Err())
	}
	var other int
	if err := c.QueryRowContext(ctx, "SELECT 42").Scan(&other); err != nil || other != 42 {
		t.Fatalf("statement while a result is open: %d, %v", other, err)
	}
	want := 2
	for rows.Next() {
		if err := rows.Scan(&n, &s); err != nil {
			t.Fatal(err)
		}
		if n != want || s != fmt.Sprintf("row %d", want) {
			t.Fatalf("row %d, %q; want %d", n, s, want)
		}
		want++
	}
	if rows.Err() != nil || want != 2001 {
		t.Fatalf("read to %d, err %v", want-1, rows.Err())
	}
}

// A cancelled statement is stopped with KILL QUERY; the connection goes on.
func TestCancelKeepsTheConnection(t *testing.T) {
	b := openTest(t, nil)
	c := testConn(t, b)
	var id1, id2 int64
	c.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	var slept int
	err := c.QueryRowContext(ctx, "SELECT SLEEP(5)").Scan(&slept)
	if time.Since(start) > 3*time.Second {
		t.Fatalf("the cancelled statement ran %v", time.Since(start))
	}
	// SLEEP() interrupted by KILL QUERY returns 1 rather than an error;
	// either way the statement ended early.
	if err == nil && slept != 1 {
		t.Fatalf("SLEEP returned %d, want 1 (interrupted)", slept)
	}
	if err := c.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id2); err != nil {
		t.Fatalf("the connection is unusable after a cancel: %v", err)
	}
	if id1 != id2 {
		t.Fatalf("connection %d replaced by %d", id1, id2)
	}
}

// A connection whose session a client changed is not handed to the next
// client; an unchanged one is.
func TestChangedSessionsAreNotReused(t *testing.T) {
	b := openTest(t, func(c *Config) { c.PoolSize = 1 })
	ctx := context.Background()
	id := func(c *sql.Conn) (n int64) {
		if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	c1, _ := b.DB().Conn(ctx)
	first := id(c1)
	c1.Close()
	c2, _ := b.DB().Conn(ctx)
	if got := id(c2); got != first {
		t.Errorf("a clean connection was not reused (%d, then %d)", first, got)
	}
	if _, err := c2.ExecContext(ctx, "SET @leftover = 5"); err != nil {
		t.Fatal(err)
	}
	c2.Close()
	c3, _ := b.DB().Conn(ctx)
	defer c3.Close()
	if got := id(c3); got == first {
		t.Error("a connection with a user variable set went back to the pool")
	}
	var v sql.NullInt64
	c3.QueryRowContext(ctx, "SELECT @leftover").Scan(&v)
	if v.Valid {
		t.Errorf("the next client sees @leftover = %d", v.Int64)
	}
}

// Exec of a prepared statement that returns rows (ANALYZE TABLE) must not
// hang: go-sql-driver v1.10 does with MariaDB's cache metadata.
func TestExecOfARowReturningStatement(t *testing.T) {
	b := openTest(t, nil)
	c := testConn(t, b)
	tbl := tempTable(t, c, "id INT")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.PrepareContext(ctx, "ANALYZE TABLE "+tbl)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; i < 2; i++ {
		if _, err := st.ExecContext(ctx); err != nil {
			t.Fatalf("exec %d: %v", i, err)
		}
	}
	if _, err := c.ExecContext(ctx, "SHOW TABLES"); err != nil {
		t.Fatal(err)
	}
}

// The server itself agrees with Rewrite: $n inside strings, quoted
// identifiers and comments stays as it is, the others become ? in order.
func TestPlaceholdersOnTheServer(t *testing.T) {
	b := openTest(t, nil)
	c := testConn(t, b)
	d := &Dialect{}
	q, order := d.Rewrite("SELECT '$1' AS a, \"$2\" AS b, `$1`.`$3` AS c, $2 AS d, /* $1 */ $1 AS e -- $2\n FROM (SELECT 'x' AS `$3`) AS `$1`")
	if len(order) != 2 || order[0] != 2 || order[1] != 1 {
		t.Fatalf("order %v for %s", order, q)
	}
	var a, bb, cc, dd, e string
	if err := c.QueryRowContext(context.Background(), q, "second", "first").Scan(&a, &bb, &cc, &dd, &e); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if a != "$1" || bb != "$2" || cc != "x" || dd != "second" || e != "first" {
		t.Errorf("got %q %q %q %q %q", a, bb, cc, dd, e)
	}
	// A backslash is an ordinary character (NO_BACKSLASH_ESCAPES): the
	// string ends where PostgreSQL's would, and $1 after it is live.
	q, _ = d.Rewrite(`SELECT 'C:\', $1`)
	var s1, s2 string
	if err := c.QueryRowContext(context.Background(), q, "live").Scan(&s1, &s2); err != nil || s1 != `C:\` || s2 != "live" {
		t.Errorf("%s: %q %q %v", q, s1, s2, err)
	}
}

// The server's own socket (@@socket), when this machine has it, serves the
// same database as TCP.
func TestUnixSocket(t *testing.T) {
	b := openTest(t, nil)
	c := testConn(t, b)
	var sock string
	if err := c.QueryRowContext(context.Background(), "SELECT COALESCE(@@socket, '')").Scan(&sock); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); sock == "" || err != nil {
		t.Skipf("the server's socket %q is not on this machine", sock)
	}
	bs := openTest(t, func(cfg *Config) { cfg.Socket, cfg.Host, cfg.Port = sock, "", 0 })
	var db, via string
	err := testConn(t, bs).QueryRowContext(context.Background(),
		"SELECT DATABASE(), (SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID())").Scan(&db, &via)
	if err != nil {
		t.Fatal(err)
	}
	if db != cfg(t).Database || strings.Contains(via, ":") {
		t.Errorf("over the socket: database %q, client host %q (a TCP client has a port)", db, via)
	}
}

func cfg(t *testing.T) Config {
	c, err := secrets.ParseURL(testURL())
	if err != nil {
		t.Fatal(err)
	}
	return Config{Database: c.Database}
}

// ssl_mode=required fails against a server without TLS, with an error
// that says so; the default (preferred) falls back to plain text. Against
// a server with TLS, required encrypts.
func TestTLSAgainstTheServer(t *testing.T) {
	b := openTest(t, nil)
	var name, haveSSL string
	if err := testConn(t, b).QueryRowContext(context.Background(), "SHOW VARIABLES LIKE 'have_ssl'").Scan(&name, &haveSSL); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _ := secrets.ParseURL(testURL())
	if c.Query["unix_socket"] != "" {
		t.Skip("the test server is reached over a socket")
	}
	req := Config{Host: c.Host, Port: c.Port, User: c.Username, Password: c.Password, Database: c.Database,
		TLS: TLSConfig{Mode: TLSRequired}}
	rb, err := Open(ctx, req)
	if haveSSL != "YES" {
		if err == nil {
			rb.Close()
			t.Fatal("ssl_mode=required connected to a server without TLS")
		}
		var pe *pgcode.Error
		if !errors.As(err, &pe) || pe.Code != pgcode.SQLClientUnableToEstablishConn || !strings.Contains(pe.Message, "TLS") {
			t.Errorf("error %v, want 08001 saying the server offers no TLS", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("ssl_mode=required against a server with TLS: %v", err)
	}
	defer rb.Close()
	var v, cipher string
	if err := testConn(t, rb).QueryRowContext(ctx, "SHOW STATUS LIKE 'Ssl_cipher'").Scan(&v, &cipher); err != nil || cipher == "" {
		t.Errorf("not encrypted: cipher %q, %v", cipher, err)
	}
}

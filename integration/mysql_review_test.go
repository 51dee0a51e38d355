package integration

import (
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Regression tests from a review of the MySQL backend: each case is something a PostgreSQL client
// once saw differently from PostgreSQL, or state that leaked from one client
// to the next through the pool. Every case names its tables with the
// test's prefix (dropped at the end).

func reviewCount(t *testing.T, c *pgconn.PgConn, table string) string {
	t.Helper()
	res, err := execSimple(ctxT(t), c, "SELECT count(*) FROM "+table)
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return string(res[0].Rows[0][0])
}

func reviewMust(t *testing.T, c *pgconn.PgConn, q string) []*pgconn.Result {
	t.Helper()
	res, err := execSimple(ctxT(t), c, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res
}

func TestMySQLReview(t *testing.T) {
	p, prefix := mysqlProxy(t, "local", "pool_size = 1")
	url := p.URL("local")

	// SET of the reserved variables is refused (docs/mysql.md), but only
	// when written `SET autocommit = 0`; `SET @@autocommit = 0` reaches the
	// server, which then stops committing while the proxy reports 'I'.
	t.Run("autocommit via @@ is not refused and rows vanish", func(t *testing.T) {
		table := prefix + "ac"
		a := connectPgconn(t, url, nil)
		reviewMust(t, a, "CREATE TABLE "+table+" (id INT)")
		_, setErr := execSimple(ctxT(t), a, "SET @@autocommit = 0")
		reviewMust(t, a, "INSERT INTO "+table+" VALUES (1)")
		if s := a.TxStatus(); s != 'I' {
			t.Fatalf("status %c after INSERT", s)
		}
		a.Close(ctxT(t))
		b := connectPgconn(t, url, nil)
		if n := reviewCount(t, b, table); n != "1" {
			t.Errorf("SET @@autocommit = 0 (err %v); INSERT reported INSERT 0 1 with status I, but the row is gone: count %s, want 1", setErr, n)
		}
	})

	// Same for sql_mode: `SET @@SESSION.sql_mode = ''` drops
	// NO_BACKSLASH_ESCAPES, while the proxy still reports
	// standard_conforming_strings = on.
	t.Run("sql_mode via @@session drops NO_BACKSLASH_ESCAPES", func(t *testing.T) {
		a := connectPgconn(t, url, nil)
		_, setErr := execSimple(ctxT(t), a, "SET @@SESSION.sql_mode = ''")
		res := reviewMust(t, a, `SELECT 'C:\new'`)
		if got := string(res[0].Rows[0][0]); got != `C:\new` {
			t.Errorf("after SET @@SESSION.sql_mode = '' (err %v): SELECT 'C:\\new' = %q, want %q (standard_conforming_strings is %s)",
				setErr, got, `C:\new`, a.ParameterStatus("standard_conforming_strings"))
		}
	})

	t.Run("sql_mode in a SET list is not refused", func(t *testing.T) {
		a := connectPgconn(t, url, nil)
		_, setErr := execSimple(ctxT(t), a, "SET foreign_key_checks = 1, sql_mode = ''")
		res := reviewMust(t, a, `SELECT 'a\tb'`)
		if got := string(res[0].Rows[0][0]); got != `a\tb` {
			t.Errorf("after SET foreign_key_checks = 1, sql_mode = '' (err %v): got %q, want %q", setErr, got, `a\tb`)
		}
	})

	// SET CHARACTER SET latin1 reaches the server and changes
	// character_set_results (a reserved variable): the client, told UTF8,
	// gets Latin-1 bytes for stored text.
	t.Run("SET CHARACTER SET sends non-UTF-8 to a UTF8 client", func(t *testing.T) {
		table := prefix + "cs"
		a := connectPgconn(t, url, nil)
		reviewMust(t, a, "CREATE TABLE "+table+" (s VARCHAR(10) CHARACTER SET utf8mb4)")
		reviewMust(t, a, "INSERT INTO "+table+" VALUES ('é€')")
		_, setErr := execSimple(ctxT(t), a, "SET CHARACTER SET latin1")
		res := reviewMust(t, a, "SELECT s FROM "+table)
		got := res[0].Rows[0][0]
		if !utf8.Valid(got) || string(got) != "é€" {
			t.Errorf("after SET CHARACTER SET latin1 (err %v): stored 'é€' reads %q (client_encoding %s), want \"é€\"",
				setErr, got, a.ParameterStatus("client_encoding"))
		}
	})

	// MySQL reads `--` not followed by a space as two minus signs, so
	// `10--$1` is 10 - -$1; the proxy's scanner takes it for a comment and
	// leaves $1 in the text.
	t.Run("placeholder after -- without a space", func(t *testing.T) {
		c := p.Connect(t, "local", pgx.QueryExecModeExec)
		var n int64
		if err := c.QueryRow(ctxT(t), "SELECT 10--$1", int64(3)).Scan(&n); err != nil || n != 13 {
			t.Errorf("SELECT 10--$1 with $1 = 3: %d, %v; want 13 (MySQL: 10 - -3)", n, err)
		}
	})

	// MySQL commits the open transaction before a DDL statement even when
	// the statement then fails, which PostgreSQL's behaviour (ROLLBACK
	// undoes the INSERT) cannot follow. The proxy warns (25001), as after
	// DDL that succeeded, and keeps the block's state the server's: failed
	// (E) until ROLLBACK, savepoints gone, the INSERT committed
	// (docs/mysql.md, "DDL commits").
	t.Run("failed DDL in a transaction commits earlier work", func(t *testing.T) {
		table := prefix + "fddl"
		var mu sync.Mutex
		var notices []string
		a := connectPgconn(t, url, func(c *pgconn.Config) {
			c.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
				mu.Lock()
				notices = append(notices, n.Code)
				mu.Unlock()
			}
		})
		reviewMust(t, a, "CREATE TABLE "+table+" (id INT)")
		reviewMust(t, a, "BEGIN")
		reviewMust(t, a, "INSERT INTO "+table+" VALUES (1)")
		_, err := execSimple(ctxT(t), a, "DROP TABLE "+prefix+"nosuch")
		wantCode(t, err, "42P01")
		if s := a.TxStatus(); s != 'E' {
			t.Errorf("status %c, want E", s)
		}
		mu.Lock()
		if len(notices) != 1 || notices[0] != "25001" {
			t.Errorf("notices %v, want one 25001 warning that the INSERT was committed", notices)
		}
		mu.Unlock()
		reviewMust(t, a, "ROLLBACK")
		if n := reviewCount(t, a, table); n != "1" {
			t.Errorf("BEGIN; INSERT; DROP TABLE nosuch (fails); ROLLBACK: count %s, want 1 (MySQL committed before the DROP)", n)
		}
		// A syntax error commits nothing.
		reviewMust(t, a, "BEGIN")
		reviewMust(t, a, "INSERT INTO "+table+" VALUES (2)")
		_, err = execSimple(ctxT(t), a, "DROP TABLE "+table+" nonsense nonsense")
		wantCode(t, err, "42601")
		reviewMust(t, a, "ROLLBACK")
		if n := reviewCount(t, a, table); n != "1" {
			t.Errorf("BEGIN; INSERT; DROP with a syntax error; ROLLBACK: count %s, want 1", n)
		}
	})

	// The savepoint went with MySQL's transaction: ROLLBACK TO it fails
	// (3B001) instead of pretending, and the block stays failed until
	// ROLLBACK; nothing after the failed DDL runs outside a transaction.
	t.Run("failed DDL after a savepoint: the savepoint is gone", func(t *testing.T) {
		table := prefix + "fddls"
		a := connectPgconn(t, url, nil)
		reviewMust(t, a, "CREATE TABLE "+table+" (id INT)")
		reviewMust(t, a, "BEGIN")
		reviewMust(t, a, "SAVEPOINT s1")
		_, err := execSimple(ctxT(t), a, "DROP TABLE "+prefix+"nosuch")
		wantCode(t, err, "42P01")
		_, err = execSimple(ctxT(t), a, "ROLLBACK TO SAVEPOINT s1")
		wantCode(t, err, "3B001")
		if s := a.TxStatus(); s != 'E' {
			t.Errorf("status %c after ROLLBACK TO a dropped savepoint, want E", s)
		}
		_, err = execSimple(ctxT(t), a, "INSERT INTO "+table+" VALUES (1)")
		wantCode(t, err, "25P02")
		reviewMust(t, a, "ROLLBACK")
		if n := reviewCount(t, a, table); n != "0" {
			t.Errorf("INSERT inside the failed block ran: count %s, want 0", n)
		}
	})

	// SET TRANSACTION inside a block is recorded by the proxy but never
	// reaches MySQL: the transaction stays READ COMMITTED.
	t.Run("SET TRANSACTION ISOLATION LEVEL inside BEGIN is ignored", func(t *testing.T) {
		table := prefix + "iso"
		a := connectPgconn(t, url, nil)
		reviewMust(t, a, "CREATE TABLE "+table+" (id INT)")
		reviewMust(t, a, "BEGIN")
		reviewMust(t, a, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
		first := reviewCount(t, a, table)
		// Another client (own server connection: the pool of this proxy has
		// one, so use MariaDB directly) commits a row.
		db := directMySQL(t)
		if _, err := db.Exec("INSERT INTO " + table + " VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		second := reviewCount(t, a, table)
		reviewMust(t, a, "COMMIT")
		if first != second {
			t.Errorf("REPEATABLE READ transaction saw a concurrent commit: count %s then %s", first, second)
		}
	})

	// INSERT ... ON DUPLICATE KEY UPDATE of one row is PostgreSQL's INSERT
	// ... ON CONFLICT DO UPDATE: tag INSERT 0 1. MySQL counts an updated
	// row as 2.
	t.Run("ON DUPLICATE KEY UPDATE tag", func(t *testing.T) {
		table := prefix + "odku"
		a := connectPgconn(t, url, nil)
		reviewMust(t, a, "CREATE TABLE "+table+" (id INT PRIMARY KEY, v INT)")
		reviewMust(t, a, "INSERT INTO "+table+" VALUES (1, 1)")
		res := reviewMust(t, a, "INSERT INTO "+table+" VALUES (1, 2) ON DUPLICATE KEY UPDATE v = VALUES(v)")
		if tag := res[0].CommandTag.String(); tag != "INSERT 0 1" {
			t.Errorf("upsert of one row: tag %q, want INSERT 0 1", tag)
		}
	})

	// A client's LAST_INSERT_ID() reaches the next client of the pooled
	// connection (PostgreSQL: lastval() is not yet defined in a new
	// session).
	t.Run("LAST_INSERT_ID leaks to the next client", func(t *testing.T) {
		table := prefix + "lid"
		a := connectPgconn(t, url, nil)
		reviewMust(t, a, "CREATE TABLE "+table+" (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
		reviewMust(t, a, "INSERT INTO "+table+" (v) VALUES (1), (2), (3)")
		a.Close(ctxT(t))
		time.Sleep(50 * time.Millisecond)
		b := connectPgconn(t, url, nil)
		res := reviewMust(t, b, "SELECT LAST_INSERT_ID()")
		if got := string(res[0].Rows[0][0]); got != "0" {
			t.Errorf("new client's LAST_INSERT_ID() = %s, want 0 (another client's insert)", got)
		}
	})

	// DISCARD ALL resets the session in PostgreSQL, temporary tables
	// included.
	t.Run("DISCARD ALL keeps temporary tables", func(t *testing.T) {
		a := connectPgconn(t, url, nil)
		reviewMust(t, a, "CREATE TEMPORARY TABLE "+prefix+"tmp (id INT)")
		reviewMust(t, a, "DISCARD ALL")
		_, err := execSimple(ctxT(t), a, "SELECT * FROM "+prefix+"tmp")
		if err == nil {
			t.Errorf("temporary table survived DISCARD ALL, want 42P01")
		}
	})

	// PostgreSQL's savepoint names are identifiers: "quoted" works.
	t.Run("quoted savepoint name", func(t *testing.T) {
		table := prefix + "qsp"
		a := connectPgconn(t, url, nil)
		reviewMust(t, a, "CREATE TABLE "+table+" (id INT)")
		reviewMust(t, a, "BEGIN")
		if _, err := execSimple(ctxT(t), a, `SAVEPOINT "_pg3_1"`); err != nil {
			t.Errorf(`SAVEPOINT "_pg3_1": %v`, err)
			reviewMust(t, a, "ROLLBACK")
			return
		}
		reviewMust(t, a, "INSERT INTO "+table+" VALUES (1)")
		if _, err := execSimple(ctxT(t), a, `ROLLBACK TO SAVEPOINT "_pg3_1"`); err != nil {
			t.Errorf(`ROLLBACK TO SAVEPOINT "_pg3_1": %v`, err)
		}
		reviewMust(t, a, "COMMIT")
	})

	// statement_timeout bounds each statement; a cursor opened earlier
	// must still FETCH after the timeout has passed since DECLARE.
	t.Run("statement_timeout kills a later FETCH of an open cursor", func(t *testing.T) {
		a := connectPgconn(t, url, nil)
		reviewMust(t, a, "SET statement_timeout = '300ms'")
		reviewMust(t, a, "BEGIN")
		reviewMust(t, a, "DECLARE c CURSOR FOR SELECT seq FROM seq_1_to_200000")
		reviewMust(t, a, "FETCH 5 FROM c")
		time.Sleep(700 * time.Millisecond)
		res, err := execSimple(ctxT(t), a, "FETCH 5 FROM c")
		if err != nil {
			t.Errorf("FETCH 5 FROM c 0.7s after DECLARE (statement_timeout 300ms): %v", err)
		} else if len(res[0].Rows) != 5 || string(res[0].Rows[0][0]) != "6" {
			t.Errorf("FETCH: %d rows, first %q", len(res[0].Rows), res[0].Rows)
		}
		execSimple(ctxT(t), a, "ROLLBACK")
	})

}

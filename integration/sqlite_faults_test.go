package integration

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Issue 6, stale backends: the SQLite file is locked or replaced by another
// process. The other process is this test binary run again as a small
// SQLite shell (TestSQLiteHelperProcess), so its locks are another
// process's, as a sqlite3 CLI's or a backup tool's would be.

// sqliteHelperEnv names the file the helper process opens; unset, the
// helper test does nothing.
const sqliteHelperEnv = "XCONNPROXY_SQLITE_HELPER_DB"

// TestSQLiteHelperProcess is the other process. It runs each line of its
// standard input as one SQL statement on one connection and answers "ok",
// "row <values>" lines then "ok" for a query, or "error <message>".
func TestSQLiteHelperProcess(t *testing.T) {
	path := os.Getenv(sqliteHelperEnv)
	if path == "" {
		return
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		q := in.Text()
		if strings.HasPrefix(strings.ToUpper(q), "SELECT") || strings.HasPrefix(strings.ToUpper(q), "PRAGMA") {
			err = helperQuery(ctx, conn, q)
		} else {
			_, err = conn.ExecContext(ctx, q)
		}
		if err != nil {
			fmt.Println("error", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Println("ok")
	}
	conn.Close()
	db.Close()
	os.Exit(0)
}

func helperQuery(ctx context.Context, conn *sql.Conn, q string) error {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		fmt.Println("row", fmt.Sprint(vals...))
	}
	return rows.Err()
}

// sqliteProc drives a helper process.
type sqliteProc struct {
	t   testing.TB
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// startSQLiteProc starts another process with path open; it ends with the
// test, or at quit.
func startSQLiteProc(t testing.TB, path string) *sqliteProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSQLiteHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), sqliteHelperEnv+"="+path)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &sqliteProc{t: t, cmd: cmd, in: in, out: bufio.NewScanner(out)}
	t.Cleanup(p.quit)
	return p
}

// try runs one statement in the other process and returns its rows.
func (p *sqliteProc) try(q string) ([]string, error) {
	p.t.Helper()
	if _, err := fmt.Fprintln(p.in, q); err != nil {
		p.t.Fatalf("helper process: %v", err)
	}
	var rows []string
	for p.out.Scan() {
		line := p.out.Text()
		switch {
		case line == "ok":
			return rows, nil
		case strings.HasPrefix(line, "row "):
			rows = append(rows, strings.TrimPrefix(line, "row "))
		case strings.HasPrefix(line, "error "):
			return rows, fmt.Errorf("%s", strings.TrimPrefix(line, "error "))
		}
	}
	p.t.Fatalf("helper process ended during %q: %v", q, p.out.Err())
	return nil, nil
}

// run runs statements in the other process, each of which must succeed.
func (p *sqliteProc) run(qs ...string) []string {
	p.t.Helper()
	var rows []string
	for _, q := range qs {
		r, err := p.try(q)
		if err != nil {
			p.t.Fatalf("helper process: %s: %v", q, err)
		}
		rows = append(rows, r...)
	}
	return rows
}

// quit ends the other process, which releases its locks.
func (p *sqliteProc) quit() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.in.Close()
	_ = p.cmd.Wait()
}

// sqliteFaultSecrets is a SQLite connection "faults" on {{dir}}/faults.db
// with a short busy timeout, so that waiting for another process's lock
// ends quickly.
const sqliteFaultSecrets = "[connections.faults]\nurl = \"sqlite:///{{dir}}/faults.db?timeout=0.3\"\n"

// faultsProxy starts a proxy on a fresh faults.db holding the table pets
// (name, kind) with one row, and returns it with the file's path.
func faultsProxy(t *testing.T) (*testProxy, string) {
	t.Helper()
	p := newProxy(t, sqliteFaultSecrets)
	c := p.Connect(t, "faults")
	mustExec(t, c, "CREATE TABLE pets (name TEXT PRIMARY KEY, kind TEXT)")
	mustExec(t, c, "INSERT INTO pets VALUES ('rex', 'dog')")
	c.Close(context.Background())
	return p, filepath.Join(p.Dir, "faults.db")
}

// names returns the pets' names in order, joined by commas.
func names(t testing.TB, c *pgx.Conn) string {
	t.Helper()
	rows, err := c.Query(ctxT(t), "SELECT name FROM pets ORDER BY name")
	if err != nil {
		t.Fatalf("reading pets: %v", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("reading pets: %v", err)
	}
	return strings.Join(got, ",")
}

func TestSQLiteWriteLockedByAnotherProcess(t *testing.T) {
	p, path := faultsProxy(t)
	ctx := ctxT(t)
	c := p.Connect(t, "faults")
	other := startSQLiteProc(t, path)
	other.run("BEGIN IMMEDIATE", "INSERT INTO pets VALUES ('tom', 'cat')")

	// WAL: reads go on while the other process writes, and see what was
	// committed.
	if got := names(t, c); got != "rex" {
		t.Fatalf("read during the other process's write: %q, want rex", got)
	}

	start := time.Now()
	_, err := c.Exec(ctx, "INSERT INTO pets VALUES ('kit', 'cat')")
	pe := wantCode(t, err, "55P03")
	if !strings.Contains(pe.Message, path) || !strings.Contains(pe.Message, "another process") {
		t.Errorf("message %q should say another process locks %s", pe.Message, path)
	}
	if pe.Hint == "" || pe.Severity != "ERROR" {
		t.Errorf("severity %q hint %q: want an ERROR with a hint", pe.Severity, pe.Hint)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 5*time.Second {
		t.Errorf("the write failed after %s; the timeout is 0.3 s", d)
	}

	// A transaction that writes takes the lock at BEGIN: it fails the
	// same way, and the block is failed until ROLLBACK, as in PostgreSQL.
	tx, err := c.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, "INSERT INTO pets VALUES ('kit', 'cat')")
		wantCode(t, err, "55P03")
		if err := tx.Rollback(ctx); err != nil {
			t.Fatalf("rollback after the lock error: %v", err)
		}
	} else {
		wantCode(t, err, "55P03")
	}

	// The session is still usable, and once the other process commits,
	// the same write succeeds.
	if got := names(t, c); got != "rex" {
		t.Fatalf("read after the lock error: %q, want rex", got)
	}
	other.run("COMMIT")
	mustExec(t, c, "INSERT INTO pets VALUES ('kit', 'cat')")
	if got := names(t, c); got != "kit,rex,tom" {
		t.Fatalf("after the other process committed: %q, want kit,rex,tom", got)
	}
	if rows := other.run("SELECT count(*) FROM pets"); len(rows) != 1 || rows[0] != "3" {
		t.Fatalf("the other process sees %v, want 3 rows", rows)
	}
}

func TestSQLiteExclusiveLockByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "faults.db")
	other := startSQLiteProc(t, path)
	other.run("PRAGMA journal_mode=WAL", "CREATE TABLE pets (name TEXT PRIMARY KEY, kind TEXT)",
		"INSERT INTO pets VALUES ('rex', 'dog')")
	// In exclusive locking mode the other process keeps the file to itself
	// from its first write on, readers included.
	other.run("PRAGMA locking_mode=EXCLUSIVE", "BEGIN EXCLUSIVE", "INSERT INTO pets VALUES ('tom', 'cat')", "COMMIT")

	p := newProxy(t, strings.ReplaceAll(sqliteFaultSecrets, "{{dir}}", dir))
	start := time.Now()
	err := connectErr(t, p.URL("faults"))
	pe := wantCode(t, err, "08001")
	if !strings.Contains(pe.Message, path) || !strings.Contains(pe.Message, "locked") {
		t.Errorf("message %q should say %s is locked", pe.Message, path)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the connection failed after %s; the timeout is 0.3 s", d)
	}

	// When the other process lets go of the file, clients connect, read
	// its commit and write.
	other.quit()
	c := p.Connect(t, "faults")
	if got := names(t, c); got != "rex,tom" {
		t.Fatalf("after the other process ended: %q, want rex,tom", got)
	}
	mustExec(t, c, "UPDATE pets SET kind = 'wolf' WHERE name = 'rex'")

	// While the proxy has the file open, another process cannot take it
	// for itself: the proxy's readers never wait for an exclusive lock.
	other = startSQLiteProc(t, path)
	other.run("PRAGMA busy_timeout=100", "PRAGMA locking_mode=EXCLUSIVE")
	if _, err := other.try("BEGIN EXCLUSIVE"); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("another process's BEGIN EXCLUSIVE while the proxy is connected: %v, want database is locked", err)
	}
	if got := queryString(t, c, "SELECT kind FROM pets WHERE name = 'rex'"); got != "wolf" {
		t.Fatalf("kind %q, want wolf", got)
	}
}

// newDatabase writes a WAL database at path holding pets with the given
// names, made and closed by another process as a deploy would, so that it
// has no -wal of its own when it is moved into place.
func newDatabase(t *testing.T, path string, pets ...string) {
	t.Helper()
	other := startSQLiteProc(t, path)
	other.run("PRAGMA journal_mode=WAL", "CREATE TABLE pets (name TEXT PRIMARY KEY, kind TEXT)")
	for _, name := range pets {
		other.run(fmt.Sprintf("INSERT INTO pets VALUES ('%s', 'new')", name))
	}
	other.quit()
}

func TestSQLiteFileReplaced(t *testing.T) {
	p, path := faultsProxy(t)
	ctx := ctxT(t)
	idle := p.Connect(t, "faults")
	inTx := p.Connect(t, "faults")
	temp := p.Connect(t, "faults")
	if got := names(t, idle); got != "rex" {
		t.Fatalf("before: %q", got)
	}
	mustExec(t, temp, "CREATE TEMP TABLE scratch (x INTEGER)")
	tx, err := inTx.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO pets VALUES ('old', 'lost')"); err != nil {
		t.Fatal(err)
	}

	// A deploy renames a new file over the old one.
	fresh := filepath.Join(p.Dir, "fresh.db")
	newDatabase(t, fresh, "ada", "bob")
	if err := os.Rename(fresh, path); err != nil {
		t.Fatal(err)
	}

	// An idle session reads the new file at once, with no error; so does
	// a new one.
	if got := names(t, idle); got != "ada,bob" {
		t.Fatalf("idle session after the replace: %q, want ada,bob", got)
	}
	if got := names(t, p.Connect(t, "faults")); got != "ada,bob" {
		t.Fatalf("new session after the replace: %q, want ada,bob", got)
	}

	// The open transaction was on the old file: its next statement fails
	// instead of committing into a file no one reads, then the session
	// goes on with the new file.
	_, err = tx.Exec(ctx, "INSERT INTO pets VALUES ('old2', 'lost')")
	pe := wantCode(t, err, "08006")
	if !strings.Contains(pe.Message, "replaced") || !strings.Contains(pe.Message, "transaction") || pe.Hint == "" {
		t.Errorf("message %q hint %q: want the replace and the lost transaction explained", pe.Message, pe.Hint)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	mustExec(t, inTx, "INSERT INTO pets VALUES ('cy', 'new')")
	if got := names(t, inTx); got != "ada,bob,cy" {
		t.Fatalf("after the lost transaction: %q, want ada,bob,cy", got)
	}

	// The session with a temporary table is told once that it is gone.
	_, err = temp.Exec(ctx, "SELECT count(*) FROM scratch")
	pe = wantCode(t, err, "08006")
	if !strings.Contains(pe.Message, "temporary tables") {
		t.Errorf("message %q: want the lost temporary tables named", pe.Message)
	}
	if got := names(t, temp); got != "ada,bob,cy" {
		t.Fatalf("temp-table session after the error: %q", got)
	}

	// What went through the proxy is in the new file, whole, for any
	// other reader.
	other := startSQLiteProc(t, path)
	if rows := other.run("SELECT group_concat(name) FROM (SELECT name FROM pets ORDER BY name)"); len(rows) != 1 || rows[0] != "ada,bob,cy" {
		t.Fatalf("another process reads %v, want ada,bob,cy", rows)
	}
	if rows := other.run("PRAGMA integrity_check"); len(rows) != 1 || rows[0] != "ok" {
		t.Fatalf("integrity_check: %v", rows)
	}
}

func TestSQLiteFileReplacedTwiceUnderLoad(t *testing.T) {
	p, path := faultsProxy(t)
	ctx := ctxT(t)
	conns := make([]*pgx.Conn, 4)
	for i := range conns {
		conns[i] = p.Connect(t, "faults")
	}
	for round, want := range []string{"a1,a2", "b1"} {
		fresh := filepath.Join(p.Dir, fmt.Sprintf("fresh%d.db", round))
		newDatabase(t, fresh, strings.Split(want, ",")...)
		done := make(chan error, len(conns))
		stop := make(chan struct{})
		for i, c := range conns {
			go func() {
				// Writers that keep going while the file is replaced:
				// each statement fails clearly or lands in a file.
				for n := 0; ; n++ {
					select {
					case <-stop:
						done <- nil
						return
					default:
					}
					_, err := c.Exec(ctx, "INSERT INTO pets VALUES ($1, 'load')", fmt.Sprintf("w%d-%d-%d", round, i, n))
					if err != nil && !strings.Contains(err.Error(), "SQLSTATE 08006") && !strings.Contains(err.Error(), "SQLSTATE 55P03") {
						done <- err
						return
					}
				}
			}()
		}
		time.Sleep(50 * time.Millisecond)
		if err := os.Rename(fresh, path); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		close(stop)
		for range conns {
			if err := <-done; err != nil {
				t.Fatalf("round %d: a writer failed: %v", round, err)
			}
		}
		for _, c := range conns {
			mustExec(t, c, "DELETE FROM pets WHERE kind = 'load'")
			if got := names(t, c); got != want {
				t.Fatalf("round %d: %q, want %q", round, got, want)
			}
		}
	}
	other := startSQLiteProc(t, path)
	if rows := other.run("PRAGMA integrity_check"); len(rows) != 1 || rows[0] != "ok" {
		t.Fatalf("integrity_check: %v", rows)
	}
}

func TestSQLiteFileRemoved(t *testing.T) {
	p, path := faultsProxy(t)
	ctx := ctxT(t)
	c := p.Connect(t, "faults")
	if got := names(t, c); got != "rex" {
		t.Fatalf("before: %q", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SELECT name FROM pets", "INSERT INTO pets VALUES ('tom', 'cat')"} {
		_, err := c.Exec(ctx, q)
		pe := wantCode(t, err, "58P01")
		if !strings.Contains(pe.Message, path) || !strings.Contains(pe.Message, "does not exist") || pe.Hint == "" {
			t.Errorf("%s: message %q hint %q: want the missing file named, with a hint", q, pe.Message, pe.Hint)
		}
	}
	// The proxy does not make an empty database in its place.
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the removed file is back after failed statements: %v", err)
	}
	// A transaction block fails like any other statement, and ends.
	tx, err := c.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, "SELECT 1 FROM pets")
		_ = tx.Rollback(ctx)
	}
	wantCode(t, err, "58P01")

	// When a file is back at the path, the same session goes on with it.
	fresh := filepath.Join(p.Dir, "fresh.db")
	newDatabase(t, fresh, "ada")
	if err := os.Rename(fresh, path); err != nil {
		t.Fatal(err)
	}
	if got := names(t, c); got != "ada" {
		t.Fatalf("after the file came back: %q, want ada", got)
	}
	mustExec(t, c, "INSERT INTO pets VALUES ('tom', 'cat')")
	if got := names(t, p.Connect(t, "faults")); got != "ada,tom" {
		t.Fatalf("new session: %q, want ada,tom", got)
	}
}

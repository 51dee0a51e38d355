package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestConcurrentWritersOneFile: 8 clients write to one SQLite file at once,
// in explicit transactions and in autocommit statements, each checking its
// own count inside and after every transaction. Every write must succeed
// (no "database is locked"), every count must be exact, and the final
// total must be the sum. Run with -race.
func TestConcurrentWritersOneFile(t *testing.T) {
	const (
		clients  = 8
		batches  = 10
		perBatch = 5
	)
	p := newProxy(t, sqliteSecrets("conc_db"))
	setup := p.Connect(t, "conc_db")
	mustExec(t, setup, "CREATE TABLE items (id INTEGER PRIMARY KEY, worker INTEGER NOT NULL, seq INTEGER NOT NULL, UNIQUE (worker, seq))")

	// Connect every client first, so the writes overlap.
	conns := make([]*pgx.Conn, clients)
	for i := range conns {
		conns[i] = p.Connect(t, "conc_db", allModes[i%len(allModes)])
	}

	ctx := ctxT(t)
	var (
		mu   sync.Mutex
		errs []string
	)
	report := func(w int, format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, fmt.Sprintf("client %d (%s): ", w, conns[w].Config().DefaultQueryExecMode)+fmt.Sprintf(format, args...))
	}
	// count reads a worker's rows in exec mode (see countRows).
	count := func(q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}, w int) (int64, error) {
		var n int64
		err := q.QueryRow(ctx, "SELECT count(*) FROM items WHERE worker = $1", pgx.QueryExecModeExec, int64(w)).Scan(&n)
		return n, err
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	for w, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			seq := 0
			for b := range batches {
				want := int64((b + 1) * perBatch)
				if w%2 == 0 || b%2 == 0 {
					// An explicit transaction: its own count includes its
					// uncommitted rows.
					tx, err := c.Begin(ctx)
					if err != nil {
						report(w, "BEGIN: %v", err)
						return
					}
					for range perBatch {
						if _, err := tx.Exec(ctx, "INSERT INTO items (worker, seq) VALUES ($1, $2)", int64(w), int64(seq)); err != nil {
							report(w, "INSERT in a transaction: %v", err)
							_ = tx.Rollback(ctx)
							return
						}
						seq++
					}
					if n, err := count(tx, w); err != nil || n != want {
						report(w, "count inside the transaction: %d, %v; want %d", n, err, want)
					}
					if err := tx.Commit(ctx); err != nil {
						report(w, "COMMIT: %v", err)
						return
					}
				} else {
					for range perBatch {
						if _, err := c.Exec(ctx, "INSERT INTO items (worker, seq) VALUES ($1, $2)", int64(w), int64(seq)); err != nil {
							report(w, "autocommit INSERT: %v", err)
							return
						}
						seq++
					}
				}
				if n, err := count(c, w); err != nil || n != want {
					report(w, "count after batch %d: %d, %v; want %d", b, n, err, want)
				}
			}
		}()
	}
	close(start)
	wg.Wait()

	for _, e := range errs {
		t.Error(e)
		if strings.Contains(e, "locked") {
			t.Errorf("a client saw a lock error: SQLite's locking must not reach clients")
		}
	}
	if n := countRows(t, setup, "items"); n != clients*batches*perBatch {
		t.Errorf("final count %d, want %d", n, clients*batches*perBatch)
	}
	var distinct int64
	if err := setup.QueryRow(ctx, "SELECT count(DISTINCT worker) FROM items", pgx.QueryExecModeExec).Scan(&distinct); err != nil || distinct != clients {
		t.Errorf("rows from %d workers (%v), want %d", distinct, err, clients)
	}
}

// TestConcurrentReadersDuringWriteTransaction: while one client holds an
// open write transaction, other clients still read (WAL) and see only
// committed rows; the writer's rows appear to them after COMMIT.
func TestConcurrentReadersDuringWriteTransaction(t *testing.T) {
	p := newProxy(t, sqliteSecrets("wal_db"))
	writer := p.Connect(t, "wal_db")
	mustExec(t, writer, "CREATE TABLE t (v INTEGER)")
	mustExec(t, writer, "INSERT INTO t VALUES (1)")

	ctx := ctxT(t)
	tx, err := writer.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}

	const readers = 4
	var wg sync.WaitGroup
	counts := make([]int64, readers)
	errs := make([]error, readers)
	for i := range readers {
		c := p.Connect(t, "wal_db", allModes[i%len(allModes)])
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.QueryRow(ctx, "SELECT count(*) FROM t", pgx.QueryExecModeExec).Scan(&counts[i])
		}()
	}
	wg.Wait()
	for i := range readers {
		if errs[i] != nil || counts[i] != 1 {
			t.Errorf("reader %d during the write transaction: %d, %v; want 1 (committed rows only)", i, counts[i], errs[i])
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	reader := p.Connect(t, "wal_db")
	if n := countRows(t, reader, "t"); n != 2 {
		t.Errorf("after COMMIT: %d rows, want 2", n)
	}
}

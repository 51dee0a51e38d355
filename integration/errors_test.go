package integration

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// wantTx checks the transaction status of the last ReadyForQuery.
func wantTx(t testing.TB, c *pgconn.PgConn, want byte, after string) {
	t.Helper()
	if got := c.TxStatus(); got != want {
		t.Fatalf("after %s: ReadyForQuery status %q, want %q", after, got, want)
	}
}

// TestErrorInTransactionThenRollback: an error inside BEGIN fails the
// transaction (E), later statements get 25P02, ROLLBACK undoes the good
// insert that preceded the error, and the session carries on.
func TestErrorInTransactionThenRollback(t *testing.T) {
	p := newProxy(t, sqliteSecrets("err_db"))
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := ctxT(t)
			c := p.Connect(t, "err_db", mode)
			pc := c.PgConn()
			mustExec(t, c, "DROP TABLE IF EXISTS items")
			mustExec(t, c, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
			wantTx(t, pc, 'I', "CREATE TABLE")

			mustExec(t, c, "BEGIN")
			wantTx(t, pc, 'T', "BEGIN")
			mustExec(t, c, "INSERT INTO items VALUES ($1, $2)", int64(1), "good")
			wantTx(t, pc, 'T', "a good INSERT")

			_, err := c.Exec(ctx, "INSERT INTO no_such_table VALUES (1)")
			wantCode(t, err, "42P01")
			wantTx(t, pc, 'E', "a failing statement")

			_, err = c.Exec(ctx, "SELECT name FROM items")
			pe := wantCode(t, err, "25P02")
			if !strings.Contains(pe.Message, "current transaction is aborted") {
				t.Errorf("25P02 message %q", pe.Message)
			}
			wantTx(t, pc, 'E', "a statement in a failed transaction")

			tag, err := c.Exec(ctx, "ROLLBACK")
			if err != nil {
				t.Fatal(err)
			}
			if tag.String() != "ROLLBACK" {
				t.Errorf("ROLLBACK tag %q", tag)
			}
			wantTx(t, pc, 'I', "ROLLBACK")

			if n := countRows(t, c, "items"); n != 0 {
				t.Errorf("%d rows after ROLLBACK, want 0: the good insert must be undone", n)
			}
			mustExec(t, c, "INSERT INTO items VALUES ($1, $2)", int64(2), "after")
			if got := queryString(t, c, "SELECT name FROM items WHERE id = $1", int64(2)); got != "after" {
				t.Errorf("name = %q, want after", got)
			}
		})
	}
}

// TestCommitOfFailedTransactionRollsBack: COMMIT of a failed transaction
// answers with the tag ROLLBACK and keeps nothing, as PostgreSQL does.
func TestCommitOfFailedTransactionRollsBack(t *testing.T) {
	p := newProxy(t, sqliteSecrets("err_db"))
	c := p.Connect(t, "err_db")
	ctx := ctxT(t)
	mustExec(t, c, "CREATE TABLE items (id INTEGER PRIMARY KEY)")
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO items VALUES (1)")
	if _, err := c.Exec(ctx, "SELECT nope FROM items"); err == nil {
		t.Fatal("want an error")
	}
	tag, err := c.Exec(ctx, "COMMIT")
	if err != nil {
		t.Fatal(err)
	}
	if tag.String() != "ROLLBACK" {
		t.Errorf("COMMIT of a failed transaction: tag %q, want ROLLBACK", tag)
	}
	wantTx(t, c.PgConn(), 'I', "COMMIT")
	if n := countRows(t, c, "items"); n != 0 {
		t.Errorf("%d rows, want 0", n)
	}
}

// TestSQLiteErrorCodes: SQLite's errors reach the client with the SQLSTATE
// PostgreSQL uses for the same mistake and SQLite's own message.
func TestSQLiteErrorCodes(t *testing.T) {
	p := newProxy(t, sqliteSecrets("codes_db"))
	setup := p.Connect(t, "codes_db")
	for _, s := range []string{
		"CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT UNIQUE)",
		"CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id), qty INTEGER CHECK (qty > 0))",
		"INSERT INTO parent VALUES (1, 'one')",
		"INSERT INTO child VALUES (1, 1, 5)",
	} {
		mustExec(t, setup, s)
	}
	tests := []struct {
		name    string
		sql     string
		code    string
		message string // SQLite's message, or a prefix of it
	}{
		{"unique", "INSERT INTO parent VALUES (2, 'one')", "23505", "UNIQUE constraint failed: parent.name"},
		{"primary key", "INSERT INTO parent VALUES (1, 'uno')", "23505", "UNIQUE constraint failed: parent.id"},
		{"not null", "INSERT INTO child (id, parent_id, qty) VALUES (2, NULL, 1)", "23502", "NOT NULL constraint failed: child.parent_id"},
		{"foreign key", "INSERT INTO child VALUES (3, 99, 1)", "23503", "FOREIGN KEY constraint failed"},
		{"foreign key on delete", "DELETE FROM parent WHERE id = 1", "23503", "FOREIGN KEY constraint failed"},
		{"check", "UPDATE child SET qty = 0 WHERE id = 1", "23514", "CHECK constraint failed"},
		{"no such table", "SELECT * FROM missing", "42P01", "no such table: missing"},
		{"no such column", "SELECT missing FROM parent", "42703", "no such column: missing"},
		{"syntax", "SELEC 1", "42601", `near "SELEC": syntax error`},
		{"incomplete", "SELECT * FROM parent WHERE", "42601", "incomplete input"},
	}
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			c := p.Connect(t, "codes_db", mode)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					_, err := c.Exec(ctxT(t), tt.sql)
					pe := wantCode(t, err, tt.code)
					if !strings.HasPrefix(pe.Message, tt.message) {
						t.Errorf("message %q, want it to start with %q", pe.Message, tt.message)
					}
					if pe.Severity != "ERROR" {
						t.Errorf("severity %q, want ERROR", pe.Severity)
					}
					wantTx(t, c.PgConn(), 'I', "a failed statement outside a transaction")
				})
			}
			// Nothing above changed anything.
			if n := countRows(t, c, "parent"); n != 1 {
				t.Errorf("parent has %d rows, want 1", n)
			}
			if got := queryString(t, c, "SELECT qty FROM child WHERE id = 1"); got != "5" {
				t.Errorf("child qty %q, want 5", got)
			}
		})
	}
}

// TestMultiStatementQueryIsOneTransaction: the statements of one simple
// Query run in one implicit transaction: a failure rolls back the ones
// before it, and the ones after it are not run.
func TestMultiStatementQueryIsOneTransaction(t *testing.T) {
	p := newProxy(t, sqliteSecrets("multi_db"))
	c := p.Connect(t, "multi_db")
	mustExec(t, c, "CREATE TABLE u (id INTEGER PRIMARY KEY)")
	pc := c.PgConn()
	ctx := ctxT(t)

	results, err := pc.Exec(ctx, "INSERT INTO u VALUES (1); INSERT INTO u VALUES (1); INSERT INTO u VALUES (2)").ReadAll()
	wantCode(t, err, "23505")
	// pgconn returns the results before the failing one.
	if len(results) != 1 || results[0].CommandTag.String() != "INSERT 0 1" || results[0].Err != nil {
		t.Fatalf("results %+v, want just the first INSERT's", results)
	}
	wantTx(t, pc, 'I', "a failed multi-statement query")
	if n := countRows(t, c, "u"); n != 0 {
		t.Errorf("%d rows, want 0: the first INSERT must be rolled back with the second", n)
	}

	// The same statements without the duplicate commit together.
	results, err = execSimple(ctx, pc, "INSERT INTO u VALUES (1); INSERT INTO u VALUES (2); SELECT count(*) FROM u")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 || string(results[2].Rows[0][0]) != "2" {
		t.Fatalf("results %v", results)
	}
	if tag := results[2].CommandTag.String(); tag != "SELECT 1" {
		t.Errorf("SELECT tag %q", tag)
	}
	wantTx(t, pc, 'I', "a multi-statement query")
	if n := countRows(t, c, "u"); n != 2 {
		t.Errorf("%d rows, want 2", n)
	}

	// On the wire: the statement after the failing one gets no answer at
	// all, and ReadyForQuery says the implicit transaction is over.
	rc := startRaw(t, p, "multi_db")
	rc.send(&pgproto3.Query{String: "INSERT INTO u VALUES (3); INSERT INTO u VALUES (1); INSERT INTO u VALUES (4)"})
	msgs := rc.untilReady()
	expectMsgs(t, msgs, "CommandComplete", "ErrorResponse", "ReadyForQuery")
	if rfq := msgs[2].(*pgproto3.ReadyForQuery); rfq.TxStatus != 'I' {
		t.Errorf("ReadyForQuery %q, want I", rfq.TxStatus)
	}
	if n := countRows(t, c, "u"); n != 2 {
		t.Errorf("%d rows, want 2: 3 must be rolled back and 4 never inserted", n)
	}
}

// TestTransactionWarnings: COMMIT, ROLLBACK and SET LOCAL with no
// transaction, and BEGIN inside one, are warnings, not errors; the tags are
// as usual.
func TestTransactionWarnings(t *testing.T) {
	p := newProxy(t, sqliteSecrets("warn_db"))
	var mu sync.Mutex
	var notices []*pgconn.Notice
	pc := connectPgconn(t, p.URL("warn_db"), func(cfg *pgconn.Config) {
		cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
			mu.Lock()
			defer mu.Unlock()
			notices = append(notices, n)
		}
	})
	tests := []struct {
		name     string
		sql      string
		tag      string
		code     string
		message  string
		txStatus byte
	}{
		{"COMMIT outside a transaction", "COMMIT", "COMMIT", "25P01", "there is no transaction in progress", 'I'},
		{"ROLLBACK outside a transaction", "ROLLBACK", "ROLLBACK", "25P01", "there is no transaction in progress", 'I'},
		{"SET LOCAL outside a transaction", "SET LOCAL search_path = x", "SET", "25P01", "SET LOCAL can only be used in transaction blocks", 'I'},
		{"BEGIN", "BEGIN", "BEGIN", "", "", 'T'},
		{"BEGIN inside a transaction", "BEGIN", "BEGIN", "25001", "there is already a transaction in progress", 'T'},
		{"COMMIT", "COMMIT", "COMMIT", "", "", 'I'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			notices = nil
			mu.Unlock()
			results, err := execSimple(ctxT(t), pc, tt.sql)
			if err != nil {
				t.Fatal(err)
			}
			if tag := results[0].CommandTag.String(); tag != tt.tag {
				t.Errorf("tag %q, want %q", tag, tt.tag)
			}
			wantTx(t, pc, tt.txStatus, tt.sql)
			mu.Lock()
			defer mu.Unlock()
			if tt.code == "" {
				if len(notices) != 0 {
					t.Errorf("unexpected notices: %+v", notices)
				}
				return
			}
			if len(notices) != 1 {
				t.Fatalf("%d notices, want 1", len(notices))
			}
			n := notices[0]
			if n.Severity != "WARNING" || n.Code != tt.code || n.Message != tt.message {
				t.Errorf("notice %s %s %q, want WARNING %s %q", n.Severity, n.Code, n.Message, tt.code, tt.message)
			}
		})
	}
}

// TestSavepoints: SAVEPOINT, ROLLBACK TO SAVEPOINT and RELEASE keep and undo
// exactly what PostgreSQL would, including recovery from an error.
func TestSavepoints(t *testing.T) {
	p := newProxy(t, sqliteSecrets("sp_db"))
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := ctxT(t)
			c := p.Connect(t, "sp_db", mode)
			pc := c.PgConn()
			mustExec(t, c, "DROP TABLE IF EXISTS s")
			mustExec(t, c, "CREATE TABLE s (id INTEGER PRIMARY KEY)")
			steps := []struct {
				sql  string
				tag  string
				code string
				tx   byte
			}{
				{"BEGIN", "BEGIN", "", 'T'},
				{"INSERT INTO s VALUES (1)", "INSERT 0 1", "", 'T'},
				{"SAVEPOINT a", "SAVEPOINT", "", 'T'},
				{"INSERT INTO s VALUES (2)", "INSERT 0 1", "", 'T'},
				{"ROLLBACK TO SAVEPOINT a", "ROLLBACK", "", 'T'},
				{"INSERT INTO s VALUES (3)", "INSERT 0 1", "", 'T'},
				{"SAVEPOINT b", "SAVEPOINT", "", 'T'},
				{"INSERT INTO s VALUES (4)", "INSERT 0 1", "", 'T'},
				{"RELEASE SAVEPOINT b", "RELEASE", "", 'T'},
				{"SAVEPOINT c", "SAVEPOINT", "", 'T'},
				{"INSERT INTO s VALUES (1)", "", "23505", 'E'},
				{"INSERT INTO s VALUES (5)", "", "25P02", 'E'},
				{"ROLLBACK TO c", "ROLLBACK", "", 'T'},
				{"INSERT INTO s VALUES (6)", "INSERT 0 1", "", 'T'},
				{"ROLLBACK TO SAVEPOINT nope", "", "3B001", 'E'},
				{"ROLLBACK TO SAVEPOINT a", "ROLLBACK", "", 'T'},
				{"INSERT INTO s VALUES (7)", "INSERT 0 1", "", 'T'},
				{"COMMIT", "COMMIT", "", 'I'},
			}
			for _, st := range steps {
				tag, err := c.Exec(ctx, st.sql)
				if st.code != "" {
					wantCode(t, err, st.code)
				} else if err != nil {
					t.Fatalf("%s: %v", st.sql, err)
				} else if tag.String() != st.tag {
					t.Errorf("%s: tag %q, want %q", st.sql, tag, st.tag)
				}
				wantTx(t, pc, st.tx, st.sql)
			}
			rows, err := c.Query(ctx, "SELECT id FROM s ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				t.Fatal(err)
			}
			// 1 before any savepoint; 2, 3, 4 and 6 were after a, which the
			// last ROLLBACK TO undid; 7 after it.
			if want := []int64{1, 7}; !equalSlices(ids, want) {
				t.Errorf("ids %v, want %v", ids, want)
			}

			// Savepoints outside a transaction block are errors.
			_, err = c.Exec(ctx, "SAVEPOINT x")
			wantCode(t, err, "25P01")
			_, err = c.Exec(ctx, "RELEASE SAVEPOINT x")
			wantCode(t, err, "25P01")
			wantTx(t, pc, 'I', "SAVEPOINT outside a transaction")
		})
	}
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSetIsTransactional: SET inside a transaction is undone by ROLLBACK
// (and by ROLLBACK TO a savepoint before it), kept by COMMIT; SET LOCAL
// lasts until the transaction ends either way.
func TestSetIsTransactional(t *testing.T) {
	p := newProxy(t, sqliteSecrets("set_db"))
	const def = `"$user", public`
	tests := []struct {
		name  string
		steps []string
		want  string // SHOW search_path afterwards
	}{
		{"SET then ROLLBACK", []string{"BEGIN", "SET search_path = a", "ROLLBACK"}, def},
		{"SET then COMMIT", []string{"BEGIN", "SET search_path = a", "COMMIT"}, "a"},
		{"SET in a failed transaction's earlier part", []string{"BEGIN", "SET search_path = a", "SELECT * FROM missing", "ROLLBACK"}, def},
		{"SET LOCAL then COMMIT", []string{"BEGIN", "SET LOCAL search_path = b", "COMMIT"}, def},
		{"SET LOCAL then ROLLBACK", []string{"BEGIN", "SET LOCAL search_path = b", "ROLLBACK"}, def},
		{"SET LOCAL over a session SET", []string{"SET search_path = s", "BEGIN", "SET LOCAL search_path = b", "COMMIT"}, "s"},
		{"ROLLBACK TO undoes SET", []string{"BEGIN", "SET search_path = a", "SAVEPOINT p", "SET search_path = b", "ROLLBACK TO SAVEPOINT p", "COMMIT"}, "a"},
		{"SET outside a transaction", []string{"SET search_path = c"}, "c"},
		{"RESET", []string{"SET search_path = c", "RESET search_path"}, def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := p.Connect(t, "set_db")
			for _, s := range tt.steps {
				_, _ = c.Exec(ctxT(t), s) // some steps fail on purpose
			}
			wantTx(t, c.PgConn(), 'I', strings.Join(tt.steps, "; "))
			if got := queryString(t, c, "SHOW search_path"); got != tt.want {
				t.Errorf("search_path %q, want %q", got, tt.want)
			}
			if got := queryString(t, c, "SELECT current_setting('search_path')"); got != tt.want {
				t.Errorf("current_setting('search_path') %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("SET LOCAL visible inside the transaction", func(t *testing.T) {
		c := p.Connect(t, "set_db")
		mustExec(t, c, "BEGIN")
		mustExec(t, c, "SET LOCAL search_path = inside")
		if got := queryString(t, c, "SHOW search_path"); got != "inside" {
			t.Errorf("inside: search_path %q, want inside", got)
		}
		mustExec(t, c, "COMMIT")
		if got := queryString(t, c, "SHOW search_path"); got != def {
			t.Errorf("after COMMIT: search_path %q, want %q", got, def)
		}
	})
}

// TestTxStatusEveryMode: pgx's Begin, Commit and a rolled-back BeginFunc
// move ReadyForQuery's status between I and T in every mode, and the rolled
// back insert is gone.
func TestTxStatusEveryMode(t *testing.T) {
	p := newProxy(t, sqliteSecrets("txs_db"))
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := ctxT(t)
			c := p.Connect(t, "txs_db", mode)
			mustExec(t, c, "DROP TABLE IF EXISTS x")
			mustExec(t, c, "CREATE TABLE x (v INTEGER)")
			tx, err := c.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantTx(t, c.PgConn(), 'T', "Begin")
			if _, err := tx.Exec(ctx, "INSERT INTO x VALUES ($1)", int64(1)); err != nil {
				t.Fatal(err)
			}
			wantTx(t, c.PgConn(), 'T', "INSERT in a transaction")
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			wantTx(t, c.PgConn(), 'I', "Commit")
			err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "INSERT INTO x VALUES ($1)", int64(2))
				if err != nil {
					return err
				}
				return context.Canceled // roll back
			})
			if err != context.Canceled {
				t.Fatalf("BeginFunc: %v", err)
			}
			wantTx(t, c.PgConn(), 'I', "a rolled back transaction")
			if got := queryString(t, c, "SELECT group_concat(v) FROM x"); got != "1" {
				t.Errorf("values %q, want just 1", got)
			}
		})
	}
}

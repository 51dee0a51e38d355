package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// The differential tests run the same statements directly on PostgreSQL and
// through the proxy on SQLite, and compare what a client sees: command tags,
// SQLSTATEs, notices, row values (as text) and the transaction status after
// each query. The SQL is written to mean the same on both.

// outcome is what one simple-protocol Query produced.
type outcome struct {
	results []string // per statement: tag, or "ERROR <code>", with rows
	notices []string // SQLSTATEs of notices/warnings
	status  byte
}

func (o outcome) String() string {
	return fmt.Sprintf("results=%q notices=%q status=%c", o.results, o.notices, o.status)
}

// runScript runs each query of script on c and records the outcomes.
func runScript(ctx context.Context, c *pgconn.PgConn, notices *[]string, script []string) []outcome {
	var out []outcome
	for _, q := range script {
		*notices = nil
		var o outcome
		mrr := c.Exec(ctx, q)
		for mrr.NextResult() {
			r := mrr.ResultReader()
			var rows []string
			for r.NextRow() {
				vals := make([]string, len(r.Values()))
				for i, v := range r.Values() {
					if v == nil {
						vals[i] = "NULL"
					} else {
						vals[i] = string(v)
					}
				}
				rows = append(rows, strings.Join(vals, "|"))
			}
			tag, err := r.Close()
			if err != nil {
				o.results = append(o.results, errCode(err))
				continue
			}
			s := tag.String()
			if len(rows) > 0 {
				s += " [" + strings.Join(rows, "; ") + "]"
			}
			o.results = append(o.results, s)
		}
		if err := mrr.Close(); err != nil {
			o.results = append(o.results, errCode(err))
		}
		o.notices = append(o.notices, *notices...)
		o.status = c.TxStatus()
		out = append(out, o)
	}
	return out
}

func errCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return "ERROR " + pe.Code
	}
	return "ERROR " + err.Error()
}

// connectNoticing connects with a notice recorder.
func connectNoticing(t *testing.T, url string, params map[string]string) (*pgconn.PgConn, *[]string) {
	t.Helper()
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	var notices []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Severity+" "+n.Code) }
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	c, err := pgconn.ConnectConfig(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c, &notices
}

var differentialScripts = []struct {
	name   string
	script []string
}{
	{"dml and tags", []string{
		"CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
		"INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'it''s')",
		"SELECT id, name FROM t ORDER BY id",
		"UPDATE t SET name = 'c' WHERE id >= 2",
		"UPDATE t SET name = 'z' WHERE id = 99",
		"DELETE FROM t WHERE id = 2",
		"SELECT count(*) FROM t",
		"INSERT INTO t (id, name) VALUES (7, 'r') RETURNING id, name",
		"VALUES (1, 'one'), (2, 'two')",
	}},
	{"ddl tags", []string{
		"CREATE TABLE d (id INTEGER, name TEXT)",
		"CREATE INDEX d_name ON d (name)",
		"CREATE UNIQUE INDEX d_id ON d (id)",
		"DROP INDEX d_name",
		"CREATE VIEW dv AS SELECT id FROM d",
		"DROP VIEW dv",
		"ALTER TABLE d ADD COLUMN extra TEXT",
		"DROP TABLE d",
	}},
	{"errors", []string{
		"CREATE TABLE e (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER CHECK (n > 0))",
		"CREATE TABLE e_child (eid INTEGER REFERENCES e (id))",
		"INSERT INTO e VALUES (1, 'a', 1)",
		"INSERT INTO e VALUES (1, 'dup', 1)",
		"INSERT INTO e (id, n) VALUES (2, 1)",
		"INSERT INTO e VALUES (3, 'c', -1)",
		"INSERT INTO e_child VALUES (42)",
		"SELECT * FROM no_such_table",
		"SELECT no_such_column FROM e",
		"SELEC 1",
		"CREATE TABLE e (id INTEGER)",
		"SELECT name FROM e",
	}},
	{"failed transaction", []string{
		"CREATE TABLE f (id INTEGER PRIMARY KEY)",
		"BEGIN",
		"INSERT INTO f VALUES (1)",
		"INSERT INTO f VALUES (1)",
		"SELECT 1",
		"INSERT INTO f VALUES (2)",
		"ROLLBACK",
		"SELECT count(*) FROM f",
		"BEGIN",
		"INSERT INTO f VALUES (1)",
		"INSERT INTO f VALUES (1)",
		"COMMIT",
		"SELECT count(*) FROM f",
	}},
	{"transaction warnings", []string{
		"COMMIT",
		"ROLLBACK",
		"BEGIN",
		"BEGIN",
		"START TRANSACTION",
		"COMMIT",
		"BEGIN READ ONLY",
		"END",
		"START TRANSACTION",
		"ABORT",
	}},
	{"savepoints", []string{
		"CREATE TABLE s (id INTEGER PRIMARY KEY)",
		"SAVEPOINT outside",
		"RELEASE SAVEPOINT outside",
		"ROLLBACK TO SAVEPOINT outside",
		"BEGIN",
		"INSERT INTO s VALUES (1)",
		"SAVEPOINT a",
		"INSERT INTO s VALUES (1)",
		"SELECT 1",
		"ROLLBACK TO SAVEPOINT a",
		"INSERT INTO s VALUES (2)",
		"SAVEPOINT b",
		"INSERT INTO s VALUES (3)",
		"RELEASE SAVEPOINT b",
		"ROLLBACK TO SAVEPOINT nosuch",
		"ROLLBACK",
		"BEGIN",
		"INSERT INTO s VALUES (10)",
		"SAVEPOINT x",
		"INSERT INTO s VALUES (11)",
		"RELEASE x",
		"COMMIT",
		"SELECT id FROM s ORDER BY id",
	}},
	{"multi-statement queries", []string{
		"CREATE TABLE m (id INTEGER PRIMARY KEY)",
		"INSERT INTO m VALUES (1); INSERT INTO m VALUES (2); SELECT count(*) FROM m",
		"INSERT INTO m VALUES (3); INSERT INTO m VALUES (1); INSERT INTO m VALUES (4)",
		"SELECT id FROM m ORDER BY id",
		"BEGIN; INSERT INTO m VALUES (5)",
		"INSERT INTO m VALUES (6); COMMIT",
		"INSERT INTO m VALUES (7); COMMIT; INSERT INTO m VALUES (7)",
		"SELECT id FROM m ORDER BY id",
		"BEGIN; INSERT INTO m VALUES (1)",
		"ROLLBACK",
		"SELECT 1; SAVEPOINT p",
	}},
	{"empty queries", []string{
		"",
		";",
		"  ;  ; ",
		"-- only a comment",
		"SELECT 1;",
	}},
	{"settings", []string{
		"SHOW DateStyle",
		"SET DateStyle = 'ISO, DMY'",
		"SHOW DateStyle",
		"SET DateStyle TO DEFAULT",
		"SHOW datestyle",
		"SET application_name = 'abc'",
		"SHOW application_name",
		"BEGIN",
		"SET application_name = 'in_tx'",
		"SHOW application_name",
		"ROLLBACK",
		"SHOW application_name",
		"BEGIN",
		"SET LOCAL application_name = 'local'",
		"SHOW application_name",
		"COMMIT",
		"SHOW application_name",
		"RESET application_name",
		"SHOW application_name",
		"SET no_such_parameter = 1",
		"SHOW no_such_parameter",
		"SET xconn.custom = 'v'",
		"SHOW xconn.custom",
		"SET extra_float_digits = 3",
		"SHOW extra_float_digits",
		"SET extra_float_digits = 99",
		"SET server_version = '1'",
		"SHOW standard_conforming_strings",
		"SHOW integer_datetimes",
		"SHOW server_encoding",
		"SHOW client_encoding",
		"SHOW IntervalStyle",
		"SHOW default_transaction_read_only",
		"SHOW transaction_isolation",
		"SELECT current_setting('DateStyle'), current_user",
		"SET statement_timeout = '5s'",
		"SHOW statement_timeout",
		"RESET ALL",
		"SHOW application_name",
	}},
	{"discard", []string{
		"DISCARD ALL",
		"BEGIN",
		"DISCARD ALL",
		"ROLLBACK",
	}},
	{"cursors and deallocate", []string{
		"CREATE TABLE cur (id INTEGER PRIMARY KEY, name TEXT)",
		"INSERT INTO cur VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')",
		"DECLARE outside CURSOR FOR SELECT id FROM cur",
		"BEGIN",
		"DECLARE c CURSOR FOR SELECT id, name FROM cur ORDER BY id",
		"FETCH 2 FROM c",
		"FETCH NEXT FROM c",
		"FETCH FORWARD 1 IN c",
		"MOVE 1 c",
		"FETCH ALL FROM c",
		"FETCH c",
		"FETCH FORWARD ALL FROM c",
		"DECLARE ns NO SCROLL CURSOR FOR SELECT id FROM cur",
		"FETCH 1 FROM ns",
		"FETCH PRIOR FROM ns",
		"ROLLBACK",
		"BEGIN",
		"DECLARE c CURSOR FOR SELECT id FROM cur ORDER BY id",
		"DECLARE c CURSOR FOR SELECT id FROM cur",
		"ROLLBACK",
		"BEGIN",
		"DECLARE c2 CURSOR FOR SELECT name FROM cur ORDER BY id DESC",
		"FETCH 3 FROM c2",
		"CLOSE c2",
		"FETCH 1 FROM c2",
		"ROLLBACK",
		"BEGIN",
		"DECLARE h CURSOR WITH HOLD FOR SELECT id FROM cur ORDER BY id",
		"COMMIT",
		"FETCH 2 FROM h",
		"CLOSE h",
		"CLOSE nosuch",
		"DEALLOCATE nosuch",
		"DEALLOCATE ALL",
		"DEALLOCATE PREPARE ALL",
	}},
	{"read only transactions", []string{
		"CREATE TABLE ro (id INTEGER)",
		"BEGIN READ ONLY",
		"SELECT count(*) FROM ro",
		"INSERT INTO ro VALUES (1)",
		"ROLLBACK",
		"SET default_transaction_read_only = on",
		"INSERT INTO ro VALUES (2)",
		"BEGIN",
		"SHOW transaction_read_only",
		"ROLLBACK",
		"SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
		"INSERT INTO ro VALUES (3)",
		"BEGIN ISOLATION LEVEL SERIALIZABLE",
		"SHOW transaction_isolation",
		"SET TRANSACTION READ ONLY",
		"SHOW transaction_read_only",
		"COMMIT",
		"SET TRANSACTION READ ONLY",
		"SELECT count(*) FROM ro",
	}},
	{"catalog lookups drivers make on connect", []string{
		"SELECT t.oid, typarray FROM pg_type t JOIN pg_namespace ns ON typnamespace = ns.oid WHERE typname = 'hstore'",
		"SELECT t.oid, typarray FROM pg_type t JOIN pg_namespace ns ON typnamespace = ns.oid WHERE typname = 'int4'",
		"SELECT typname, typlen, typcategory FROM pg_catalog.pg_type WHERE oid IN (16, 20, 25, 1184) ORDER BY oid",
		"SELECT nspname FROM pg_namespace WHERE oid = 2200",
	}},
	{"casts", []string{
		"CREATE TABLE c (n INTEGER, r DOUBLE PRECISION, b BYTEA, d DATE, f BOOLEAN)",
		"INSERT INTO c VALUES ('42'::int, '2.5'::float8, '\\x00ff'::bytea, '2024-05-01'::date, 'yes'::boolean)",
		"SELECT n::text, r::numeric, b, d, f FROM c",
		"SELECT count(*)::int, (n + 1)::bigint FROM c GROUP BY n",
	}},
	{"values and types", []string{
		"CREATE TABLE v (i INTEGER, f DOUBLE PRECISION, t TEXT, b BOOLEAN)",
		"INSERT INTO v VALUES (1, 0.1, 'x', true), (-2, 1e20, 'é ü 😀', false), (NULL, 123456789.125, '', NULL), (3, -0.5, 'a''b\\c', true)",
		"SELECT i, f, t, b FROM v ORDER BY i NULLS LAST",
		"SELECT f FROM v WHERE f > 1000000000000000 OR f < 0.2 ORDER BY f",
		"SELECT count(*), sum(i) FROM v",
	}},
}

func TestDifferentialAgainstPostgres(t *testing.T) {
	directPG(t) // skips (or fails in CI) when PostgreSQL is down

	for _, sc := range differentialScripts {
		t.Run(sc.name, func(t *testing.T) {
			ctx := ctxT(t)
			// A fresh schema on PostgreSQL, a fresh file through the proxy.
			schema := "xcp_diff_" + randHex()
			admin, _ := connectNoticing(t, pgURL(), nil)
			if err := admin.Exec(ctx, "CREATE SCHEMA "+schema).Close(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE").Close()
			})
			pg, pgNotices := connectNoticing(t, pgURL(), map[string]string{"search_path": schema})
			db := "diff_" + strings.ReplaceAll(sc.name, " ", "_")
			pTOML := fmt.Sprintf("[connections.%s]\nurl = \"sqlite:///{{dir}}/%s.db\"\n", db, db)
			px := startProxy(t, pTOML)
			// Same user on both sides: current_user is compared.
			xc, xNotices := connectNoticing(t, strings.Replace(px.URL(db), "tester@", "postgres@", 1), nil)

			want := runScript(ctx, pg, pgNotices, sc.script)
			got := runScript(ctx, xc, xNotices, sc.script)
			for i := range sc.script {
				if want[i].String() != got[i].String() {
					t.Errorf("query %q\n postgres: %v\n    proxy: %v", sc.script[i], want[i], got[i])
				}
			}
		})
	}
}

func randHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// runBatch sends every statement of batch as Parse/Bind/Describe/Execute
// with text parameters, then one Sync, and records each result.
func runBatch(ctx context.Context, c *pgconn.PgConn, batch [][2]string) []string {
	b := &pgconn.Batch{}
	for _, st := range batch {
		var params [][]byte
		if st[1] != "" {
			for _, p := range strings.Split(st[1], ",") {
				params = append(params, []byte(p))
			}
		}
		b.ExecParams(st[0], params, nil, nil, nil)
	}
	var out []string
	results, err := c.ExecBatch(ctx, b).ReadAll()
	for _, r := range results {
		if r.Err != nil {
			out = append(out, errCode(r.Err))
			continue
		}
		s := r.CommandTag.String()
		for _, row := range r.Rows {
			vals := make([]string, len(row))
			for i, v := range row {
				vals[i] = string(v)
			}
			s += " [" + strings.Join(vals, "|") + "]"
		}
		out = append(out, s)
	}
	if err != nil {
		out = append(out, "batch: "+errCode(err))
	}
	return append(out, "status "+string(c.TxStatus()))
}

var differentialBatches = [][][2]string{
	{{"CREATE TABLE x (id INTEGER PRIMARY KEY, name TEXT)", ""}},
	{{"INSERT INTO x VALUES ($1, $2)", "1,one"}, {"INSERT INTO x VALUES ($1, $2)", "2,two"}},
	// The third statement fails: PostgreSQL rolls back the whole batch
	// (one implicit transaction up to Sync) and skips the rest.
	{{"INSERT INTO x VALUES ($1, $2)", "3,three"}, {"INSERT INTO x VALUES ($1, $2)", "1,dup"}, {"INSERT INTO x VALUES ($1, $2)", "4,four"}},
	{{"SELECT id, name FROM x WHERE id > $1 ORDER BY id", "0"}},
	{{"UPDATE x SET name = $1 WHERE id = $2", "uno,1"}, {"SELECT name FROM x WHERE id = $1", "1"}},
	{{"BEGIN", ""}, {"INSERT INTO x VALUES ($1, $2)", "5,five"}},
	{{"SELECT count(*) FROM x", ""}, {"SELECT nope FROM x", ""}},
	{{"ROLLBACK", ""}},
	{{"SELECT count(*) FROM x", ""}},
	{{"", ""}},
	// Untyped text parameters take the type of the column they meet.
	{{"CREATE TABLE u (id INTEGER, flag BOOLEAN, day DATE, at TIMESTAMP, raw BYTEA)", ""}},
	{{"INSERT INTO u VALUES ($1, $2, $3, $4, $5)", "1,true,2024-05-01 +00,2024-05-01 10:00:00+02,\\x0102"}},
	{{"INSERT INTO u (raw, id, flag) VALUES ($1, $2, $3)", "\\xff,2,f"}},
	{{"INSERT INTO u (id, flag) VALUES (3, TRUE)", ""}},
	{{"SELECT id, flag, day, at, raw FROM u ORDER BY id", ""}},
	{{"SELECT id FROM u WHERE flag = $1 ORDER BY id", "yes"}},
	{{"SELECT id FROM u WHERE day = $1", "2024-05-01"}},
	{{"SELECT id FROM u WHERE id IN ($1, $2) AND flag = $3 ORDER BY id", "1,3,on"}},
	{{"UPDATE u SET flag = $1 WHERE id = $2", "off,3"}},
	{{"SELECT count(*) FROM u WHERE NOT flag", ""}},
	{{"DELETE FROM u WHERE raw = $1", "\\xff"}},
	{{"SELECT count(*) FROM u", ""}},
}

func TestDifferentialExtendedAgainstPostgres(t *testing.T) {
	directPG(t)
	batches := differentialBatches
	admin, _ := connectNoticing(t, pgURL(), nil)
	schema := "xcp_diffx_" + randHex()
	if err := admin.Exec(ctxT(t), "CREATE SCHEMA "+schema).Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE").Close() })
	pg, _ := connectNoticing(t, pgURL(), map[string]string{"search_path": schema})
	px := startProxy(t, sqliteSecrets("diffx"))
	xc, _ := connectNoticing(t, px.URL("diffx"), nil)
	for _, b := range batches {
		want := runBatch(ctxT(t), pg, b)
		got := runBatch(ctxT(t), xc, b)
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			t.Errorf("batch %q\n postgres: %q\n    proxy: %q", b, want, got)
		}
	}
}

// The same scripts through the proxy to PostgreSQL: pass-through must be
// invisible, so every outcome equals the direct one.
func TestDifferentialPostgresPassthrough(t *testing.T) {
	directPG(t)
	p := startProxy(t, pgSecrets(t, "pg", ""))
	for _, sc := range differentialScripts {
		t.Run(sc.name, func(t *testing.T) {
			ctx := ctxT(t)
			admin, _ := connectNoticing(t, pgURL(), nil)
			direct, proxied := "xcp_d_"+randHex(), "xcp_p_"+randHex()
			for _, schema := range []string{direct, proxied} {
				if err := admin.Exec(ctx, "CREATE SCHEMA "+schema).Close(); err != nil {
					t.Fatal(err)
				}
				schema := schema
				t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE").Close() })
			}
			pg, pgNotices := connectNoticing(t, pgURL(), map[string]string{"search_path": direct})
			xc, xNotices := connectNoticing(t, strings.Replace(p.URL("pg"), "tester@", "postgres@", 1), map[string]string{"search_path": proxied})
			want := runScript(ctx, pg, pgNotices, sc.script)
			got := runScript(ctx, xc, xNotices, sc.script)
			for i := range sc.script {
				if want[i].String() != got[i].String() {
					t.Errorf("query %q\n postgres: %v\n    proxy: %v", sc.script[i], want[i], got[i])
				}
			}
		})
	}
}

// The extended-protocol batches through the proxy to PostgreSQL.
func TestDifferentialExtendedPostgresPassthrough(t *testing.T) {
	directPG(t)
	p := startProxy(t, pgSecrets(t, "pg", ""))
	admin, _ := connectNoticing(t, pgURL(), nil)
	direct, proxied := "xcp_dx_"+randHex(), "xcp_px_"+randHex()
	for _, schema := range []string{direct, proxied} {
		if err := admin.Exec(ctxT(t), "CREATE SCHEMA "+schema).Close(); err != nil {
			t.Fatal(err)
		}
		schema := schema
		t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE").Close() })
	}
	pg, _ := connectNoticing(t, pgURL(), map[string]string{"search_path": direct})
	xc, _ := connectNoticing(t, strings.Replace(p.URL("pg"), "tester@", "postgres@", 1), map[string]string{"search_path": proxied})
	for _, b := range differentialBatches {
		want := runBatch(ctxT(t), pg, b)
		got := runBatch(ctxT(t), xc, b)
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			t.Errorf("batch %q\n postgres: %q\n    proxy: %q", b, want, got)
		}
	}
}

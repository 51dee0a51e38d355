package integration

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/xconnproxy/xconnproxy/secrets"
)

// MySQL and MariaDB behind the proxy (issue 4): real clients through the
// proxy to the server of XCONNPROXY_TEST_MYSQL (a mysql:// url; by default
// the local MariaDB's test database). Each test names its tables with a
// prefix of its own and drops them at its end.

func mysqlURL() string {
	if v := os.Getenv("XCONNPROXY_TEST_MYSQL"); v != "" {
		return v
	}
	return "mysql://root@127.0.0.1:3306/test"
}

// directMySQLConfig is go-sql-driver's config for the test server.
func directMySQLConfig(t testing.TB) *gomysql.Config {
	t.Helper()
	c, err := secrets.ParseURL(mysqlURL())
	if err != nil {
		t.Fatalf("XCONNPROXY_TEST_MYSQL: %v", err)
	}
	cfg := gomysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName = c.Username, c.Password, c.Database
	cfg.Net, cfg.Addr = "tcp", "127.0.0.1:3306"
	if c.Host != "" || c.Port != 0 {
		port := c.Port
		if port == 0 {
			port = 3306
		}
		cfg.Addr = fmt.Sprintf("%s:%d", c.Host, port)
	}
	if s := c.Query["unix_socket"]; s != "" {
		cfg.Net, cfg.Addr = "unix", s
	}
	cfg.Timeout = 3 * time.Second
	return cfg
}

// directMySQL connects to the test server itself, or skips (fails under
// XCONNPROXY_REQUIRE_BACKENDS=1) when it is unreachable.
func directMySQL(t testing.TB) *sql.DB {
	t.Helper()
	conn, err := gomysql.NewConnector(directMySQLConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		unavailable(t, "MySQL at %s: %v", mysqlURL(), err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mysqlProxy starts a proxy serving the test server as database name, and
// returns it with a table prefix unique to the test; every table and view
// with that prefix is dropped when the test ends.
func mysqlProxy(t testing.TB, name, extra string) (*testProxy, string) {
	t.Helper()
	db := directMySQL(t)
	prefix := "xcp_" + randHex() + "_"
	t.Cleanup(func() { dropPrefixed(db, prefix) })
	p := newProxy(t, fmt.Sprintf("[connections.%s]\nurl = %q\n%s\n", name, mysqlURL(), extra))
	return p, prefix
}

func dropPrefixed(db *sql.DB, prefix string) {
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		return
	}
	defer c.Close()
	rows, err := c.QueryContext(ctx, "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND LEFT(TABLE_NAME, ?) = ?", len(prefix), prefix)
	if err != nil {
		return
	}
	var names, kinds []string
	for rows.Next() {
		var n, k string
		if rows.Scan(&n, &k) == nil {
			names, kinds = append(names, n), append(kinds, k)
		}
	}
	rows.Close()
	c.ExecContext(ctx, "SET FOREIGN_KEY_CHECKS = 0")
	for i, n := range names {
		kind := "TABLE"
		if kinds[i] == "VIEW" {
			kind = "VIEW"
		}
		c.ExecContext(ctx, "DROP "+kind+" IF EXISTS `"+n+"`")
	}
}

// prefixed replaces {p} in each statement with the prefix.
func prefixed(prefix string, stmts ...string) []string {
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = strings.ReplaceAll(s, "{p}", prefix)
	}
	return out
}

func TestMySQLPetsEveryMode(t *testing.T) {
	p, prefix := mysqlProxy(t, "local", "")
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := ctxT(t)
			c := p.Connect(t, "local", mode)
			table := prefix + "pets_" + strings.NewReplacer(" ", "", "_", "").Replace(mode.String())
			mustExec(t, c, "CREATE TABLE "+table+" (person TEXT, pet TEXT)")
			tx, err := c.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, po := range pets {
				tag, err := tx.Exec(ctx, "INSERT INTO "+table+" (person, pet) VALUES ($1, $2)", po[0], po[1])
				if err != nil {
					t.Fatalf("insert %v: %v", po, err)
				}
				if tag.String() != "INSERT 0 1" {
					t.Errorf("tag %q, want INSERT 0 1", tag)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			rows, err := c.Query(ctx, "SELECT person, pet FROM "+table+" ORDER BY person")
			if err != nil {
				t.Fatal(err)
			}
			got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Person, Pet string }])
			if err != nil {
				t.Fatal(err)
			}
			want := []struct{ Person, Pet string }{{"alex", "puppy"}, {"barbara", "cat"}, {"jerry", "fish"}}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			if tag := rows.CommandTag().String(); tag != "SELECT 3" {
				t.Errorf("command tag %q, want SELECT 3", tag)
			}
			var n int64
			if err := c.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE pet <> $1", "cat").Scan(&n); err != nil || n != 2 {
				t.Fatalf("count = %d, %v", n, err)
			}
		})
	}
}

func TestMySQLPetsDatabaseSQL(t *testing.T) {
	p, prefix := mysqlProxy(t, "local", "")
	db, err := sql.Open("pgx", p.URL("local"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := ctxT(t)
	table := prefix + "pet_owners"
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+table+" (person TEXT, pet TEXT)"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, po := range pets {
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" (person, pet) VALUES ($1, $2)", po[0], po[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE pet <> $1", "cat").Scan(&n); err != nil || n != 2 {
		t.Fatalf("count = %d, %v", n, err)
	}
	var pet string
	if err := db.QueryRowContext(ctx, "SELECT pet FROM "+table+" WHERE person = $1", "jerry").Scan(&pet); err != nil || pet != "fish" {
		t.Fatalf("jerry's pet = %q, %v", pet, err)
	}
	res, err := db.ExecContext(ctx, "UPDATE "+table+" SET pet = $1 WHERE person <> $2", "fish", "nobody")
	if err != nil {
		t.Fatal(err)
	}
	// Matched rows, as PostgreSQL counts them: jerry's pet was fish already.
	if n, _ := res.RowsAffected(); n != 3 {
		t.Errorf("UPDATE affected %d rows, want 3 (matched, not changed)", n)
	}
}

func TestMySQLPetsPsql(t *testing.T) {
	psql := psqlPath(t)
	p, prefix := mysqlProxy(t, "local", "")
	script := strings.Join(prefixed(prefix,
		"CREATE TABLE {p}pet_owners (person TEXT, pet TEXT);",
		"BEGIN;",
		"INSERT INTO {p}pet_owners (person, pet) VALUES ('jerry', 'fish');",
		"INSERT INTO {p}pet_owners (person, pet) VALUES ('barbara', 'cat');",
		"INSERT INTO {p}pet_owners (person, pet) VALUES ('alex', 'puppy');",
		"COMMIT;",
		"SELECT * FROM {p}pet_owners ORDER BY person;",
		"SHOW TABLES LIKE '{p}%';",
	), "\n")
	cmd := exec.Command(psql, "-X", "-v", "ON_ERROR_STOP=1", "-d", p.URL("local"))
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	want := ` person  |  pet  
---------+-------
 alex    | puppy
 barbara | cat
 jerry   | fish
(3 rows)`
	if !strings.Contains(string(out), want) {
		t.Fatalf("psql output:\n%s\nwant it to contain:\n%s", out, want)
	}
	for _, s := range []string{"CREATE TABLE", "BEGIN", "INSERT 0 1", "COMMIT", prefix + "pet_owners\n(1 row)"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("psql output lacks %q:\n%s", s, out)
		}
	}
}

// mysqlTypesTable has a column of every type issue 4 maps.
const mysqlTypesTable = `CREATE TABLE {p}types (
	id INT PRIMARY KEY,
	b BOOL, ti TINYINT, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT, i INT, iu INT UNSIGNED,
	bi BIGINT, bu BIGINT UNSIGNED, de DECIMAL(15,3), f FLOAT, db DOUBLE,
	c CHAR(3), vc VARCHAR(40), tx TEXT, e ENUM('a', 'b'), st SET('x', 'y'),
	bn BINARY(2), vb VARBINARY(8), bl BLOB,
	d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), y YEAR, j JSON,
	bt1 BIT(1), bt BIT(12))`

const mysqlTypesColumns = "b, ti, si, su, mi, i, iu, bi, bu, de, f, db, c, vc, tx, e, st, bn, vb, bl, d, dt, ts, tm, y, j, bt1, bt"

// mysqlTypesOIDs are the PostgreSQL types of mysqlTypesColumns.
var mysqlTypesOIDs = []uint32{
	pgtype.BoolOID, pgtype.Int2OID, pgtype.Int2OID, pgtype.Int4OID, pgtype.Int4OID, pgtype.Int4OID, pgtype.Int8OID,
	pgtype.Int8OID, pgtype.NumericOID, pgtype.NumericOID, pgtype.Float4OID, pgtype.Float8OID,
	pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID,
	pgtype.ByteaOID, pgtype.ByteaOID, pgtype.ByteaOID,
	pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestampOID, pgtype.TimeOID, pgtype.Int2OID, pgtype.JSONOID,
	pgtype.BoolOID, pgtype.ByteaOID,
}

var (
	typesText = `it's "q" \back\ ü 🐘 $1 ?`
	typesLong = strings.Repeat("long text ", 700)
	typesJSON = `{"a": [1, 2.5, "x"], "b": null}`
)

// mysqlTypesLiteral inserts row 1 with MySQL literals (so that it can be
// read through every mode, the simple protocol included) and row 2 as
// NULLs.
var mysqlTypesLiteral = []string{
	`INSERT INTO {p}types VALUES (1, TRUE, -128, -32768, 65535, -8388608, 2147483647, 4294967295,
		-9223372036854775808, 18446744073709551615, -123456789.125, 1.5, 0.1,
		'abc', 'it''s "q" \back\ ü 🐘 $1 ?', REPEAT('long text ', 700), 'b', 'x,y',
		x'00ff', x'', x'deadbeef00',
		'2024-02-29', '2024-01-02 03:04:05.123456', '2024-06-30 23:59:59.999999', '23:59:59.999999', 2155,
		'{"a": [1, 2.5, "x"], "b": null}', b'1', b'101010101010')`,
	`INSERT INTO {p}types (id) VALUES (2)`,
}

func numeric(s string) pgtype.Numeric {
	var n pgtype.Numeric
	if err := n.Scan(s); err != nil {
		panic(err)
	}
	return n
}

// mysqlTypesRow is row 1 as pgx decodes it (rows.Values), column by column.
var mysqlTypesRow = []any{
	true, int16(-128), int16(-32768), int32(65535), int32(-8388608), int32(2147483647), int64(4294967295),
	int64(math.MinInt64), numeric("18446744073709551615"), numeric("-123456789.125"), float32(1.5), 0.1,
	"abc", typesText, typesLong, "b", "x,y",
	[]byte{0, 0xff}, []byte{}, []byte{0xde, 0xad, 0xbe, 0xef, 0},
	time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC),
	time.Date(2024, 6, 30, 23, 59, 59, 999999000, time.UTC), pgtype.Time{Microseconds: 86399999999, Valid: true},
	int16(2155), map[string]any{"a": []any{1.0, 2.5, "x"}, "b": nil}, true, []byte{0x0a, 0xaa},
}

// sameValue compares a decoded value with what it should be.
func sameValue(got, want any) bool {
	switch w := want.(type) {
	case pgtype.Numeric:
		g, ok := got.(pgtype.Numeric)
		return ok && numericString(g) == numericString(w) && numericRat(g).Cmp(numericRat(w)) == 0
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(w)
	case []byte:
		g, ok := got.([]byte)
		return ok && g != nil && bytes.Equal(g, w)
	}
	return reflect.DeepEqual(got, want)
}

func checkTypesRow(t *testing.T, fields []pgconn.FieldDescription, vals []any, want []any) {
	t.Helper()
	for i, fd := range fields {
		if fd.DataTypeOID != mysqlTypesOIDs[i] {
			t.Errorf("column %s: type OID %d, want %d", fd.Name, fd.DataTypeOID, mysqlTypesOIDs[i])
		}
		w := any(nil)
		if want != nil {
			w = want[i]
		}
		if !sameValue(vals[i], w) {
			t.Errorf("column %s (format %d): got %#v, want %#v", fd.Name, fd.Format, vals[i], w)
		}
	}
}

// TestMySQLTypesEveryMode reads every type in every pgx mode (the
// describing modes read results in binary, exec and simple in text), and
// writes them through parameters in the modes that bind them.
func TestMySQLTypesEveryMode(t *testing.T) {
	p, prefix := mysqlProxy(t, "local", "")
	setup := p.Connect(t, "local")
	for _, s := range prefixed(prefix, append([]string{mysqlTypesTable}, mysqlTypesLiteral...)...) {
		mustExec(t, setup, s)
	}
	sel := prefixed(prefix, "SELECT "+mysqlTypesColumns+" FROM {p}types WHERE id = $1")[0]
	ins := prefixed(prefix, "INSERT INTO {p}types (id, "+mysqlTypesColumns+") VALUES ("+
		"$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)")[0]
	for n, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := ctxT(t)
			c := p.Connect(t, "local", mode)
			read := func(id int64, want []any) {
				t.Helper()
				rows, err := c.Query(ctx, sel, id)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				if !rows.Next() {
					t.Fatalf("row %d: none (%v)", id, rows.Err())
				}
				vals, err := rows.Values()
				if err != nil {
					t.Fatal(err)
				}
				checkTypesRow(t, rows.FieldDescriptions(), vals, want)
			}
			read(1, mysqlTypesRow)
			read(2, nil)
			if mode == pgx.QueryExecModeSimpleProtocol {
				return // pgx writes bytea and timestamps into the SQL text in PostgreSQL's syntax (docs/mysql.md)
			}
			id := int64(10 + n)
			args := []any{id, true, int16(-128), int16(-32768), int32(65535), int32(-8388608), int32(2147483647),
				int64(4294967295), int64(math.MinInt64), "18446744073709551615", "-123456789.125", float32(1.5), 0.1,
				"abc", typesText, typesLong, "b", "x,y", []byte{0, 0xff}, []byte{}, []byte{0xde, 0xad, 0xbe, 0xef, 0},
				time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC),
				time.Date(2024, 6, 30, 23, 59, 59, 999999000, time.UTC), "23:59:59.999999", int16(2155),
				typesJSON, true, []byte{0x0a, 0xaa}}
			tag, err := c.Exec(ctx, ins, args...)
			if err != nil {
				t.Fatalf("insert: %v", err)
			}
			if tag.String() != "INSERT 0 1" {
				t.Errorf("tag %q", tag)
			}
			read(id, mysqlTypesRow)
			nulls := make([]any, 29)
			nulls[0] = id + 100
			if _, err := c.Exec(ctx, ins, nulls...); err != nil {
				t.Fatalf("insert NULLs: %v", err)
			}
			read(id+100, nil)
		})
	}
}

// TestMySQLTypesExplicitFormats drives pgconn directly: parameters declared
// with their types, sent in text and in binary; results asked for in text
// and in binary; decoded by pgtype with the OID the proxy describes.
func TestMySQLTypesExplicitFormats(t *testing.T) {
	p, prefix := mysqlProxy(t, "local", "")
	c := p.Connect(t, "local")
	mustExec(t, c, prefixed(prefix, mysqlTypesTable)[0])
	pc := c.PgConn()
	m := pgtype.NewMap()
	paramOIDs := append([]uint32{pgtype.Int4OID}, mysqlTypesOIDs...)
	paramOIDs[26] = pgtype.JSONOID
	values := append([]any{}, mysqlTypesRow...)
	values[25] = typesJSON // json parameters are JSON text
	ins := prefixed(prefix, "INSERT INTO {p}types (id, "+mysqlTypesColumns+") VALUES ("+
		"$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)")[0]
	sel := prefixed(prefix, "SELECT "+mysqlTypesColumns+" FROM {p}types WHERE id = $1")[0]
	for id, pf := range []int16{pgtype.TextFormatCode, pgtype.BinaryFormatCode} {
		params := make([][]byte, len(paramOIDs))
		formats := make([]int16, len(paramOIDs))
		for i, oid := range paramOIDs {
			v := any(int32(id))
			if i > 0 {
				v = values[i-1]
			}
			b, err := m.Encode(oid, pf, v, []byte{}) // non-nil: an empty bytea is not NULL
			if err != nil {
				t.Fatalf("encoding parameter %d (%T): %v", i+1, v, err)
			}
			params[i], formats[i] = b, pf
		}
		if _, err := pc.ExecParams(ctxT(t), ins, params, paramOIDs, formats, nil).Close(); err != nil {
			t.Fatalf("insert with %d-format parameters: %v", pf, err)
		}
		for _, rf := range []int16{pgtype.TextFormatCode, pgtype.BinaryFormatCode} {
			t.Run(fmt.Sprintf("params %d results %d", pf, rf), func(t *testing.T) {
				res := pc.ExecParams(ctxT(t), sel, [][]byte{[]byte(fmt.Sprint(id))}, nil, nil, []int16{rf}).Read()
				if res.Err != nil {
					t.Fatal(res.Err)
				}
				if len(res.Rows) != 1 {
					t.Fatalf("%d rows", len(res.Rows))
				}
				vals := make([]any, len(res.FieldDescriptions))
				for i, fd := range res.FieldDescriptions {
					if fd.Format != rf {
						t.Errorf("column %s sent in format %d, asked for %d", fd.Name, fd.Format, rf)
					}
					typ, ok := m.TypeForOID(fd.DataTypeOID)
					if !ok {
						t.Fatalf("column %s: unknown OID %d", fd.Name, fd.DataTypeOID)
					}
					v, err := typ.Codec.DecodeValue(m, fd.DataTypeOID, rf, res.Rows[0][i])
					if err != nil {
						t.Fatalf("column %s: decoding %q: %v", fd.Name, res.Rows[0][i], err)
					}
					vals[i] = v
				}
				checkTypesRow(t, res.FieldDescriptions, vals, mysqlTypesRow)
			})
		}
	}
}

// TestMySQLErrorCodes checks MySQL-only failures: the SQLSTATE, MySQL's
// message, and its error number in the detail.
func TestMySQLErrorCodes(t *testing.T) {
	p, prefix := mysqlProxy(t, "local", "")
	c := p.Connect(t, "local")
	for _, s := range prefixed(prefix,
		"CREATE TABLE {p}e (id INT PRIMARY KEY, d DATE, n TINYINT, doc JSON)",
		"INSERT INTO {p}e (id) VALUES (1)") {
		mustExec(t, c, s)
	}
	tests := []struct {
		sql, code, number string
	}{
		{"INSERT INTO {p}e (id, d) VALUES (2, '2024-13-45')", "22007", "1292"},
		{"INSERT INTO {p}e (id, n) VALUES (3, 1000)", "22003", "1264"},
		{"INSERT INTO {p}e (id, doc) VALUES (4, 'not json')", "23514", "4025"},
		{"SELECT * FROM nosuchdb.t", "42P01", ""},
		{"SELECT 1 FROM {p}e WHERE id = (SELECT id FROM {p}e UNION SELECT 5)", "21000", "1242"},
		{"SET sql_mode = 'ANSI'", "42704", ""},
		{"SET SESSION no_such_variable = 1", "42704", "1193"},
	}
	for _, tt := range tests {
		q := prefixed(prefix, tt.sql)[0]
		_, err := c.Exec(ctxT(t), q)
		if tt.code == "23514" {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23514" && strings.Contains(pe.Detail, "MySQL") {
				continue // MySQL's JSON type refuses with its own error; MariaDB's check with 4025
			}
		}
		pe := wantCode(t, err, tt.code)
		if tt.number != "" && !strings.Contains(pe.Detail, "error "+tt.number+" ") {
			t.Errorf("%s: detail %q lacks MySQL's error number %s", q, pe.Detail, tt.number)
		}
	}
}

// A zero date (which the server's sql_mode may allow) has no PostgreSQL
// value: reading it fails with 22007 rather than inventing year 1.
func TestMySQLZeroDate(t *testing.T) {
	p, prefix := mysqlProxy(t, "local", "")
	c := p.Connect(t, "local")
	mustExec(t, c, "CREATE TABLE "+prefix+"zd (d DATE)")
	if _, err := c.Exec(ctxT(t), "INSERT INTO "+prefix+"zd VALUES ('0000-00-00')"); err != nil {
		t.Skipf("the server's sql_mode refuses zero dates: %v", err)
	}
	var d pgtype.Date
	err := c.QueryRow(ctxT(t), "SELECT d FROM "+prefix+"zd").Scan(&d)
	wantCode(t, err, "22007")
	if got := queryString(t, c, "SELECT 'still here'"); got != "still here" {
		t.Errorf("got %q", got)
	}
}

// With every server connection of the section taken, a new client waits
// pool_timeout and then gets FATAL 53300.
func TestMySQLPoolTimeout(t *testing.T) {
	p, _ := mysqlProxy(t, "small", "pool_size = 1\npool_timeout = \"200ms\"")
	first := p.Connect(t, "small")
	err := connectErr(t, p.URL("small"))
	pe := wantCode(t, err, "53300")
	if pe.Severity != "FATAL" {
		t.Errorf("severity %s", pe.Severity)
	}
	first.Close(context.Background())
	if err := connectErr(t, p.URL("small")); err != nil {
		t.Fatalf("after the first client left: %v", err)
	}
}

// TestMySQLLockErrors: a lock wait that times out is 55P03, a deadlock
// 40P01, and both sessions go on.
func TestMySQLLockErrors(t *testing.T) {
	p, prefix := mysqlProxy(t, "local", "")
	ctx := ctxT(t)
	a, b := p.Connect(t, "local"), p.Connect(t, "local")
	table := prefix + "locks"
	mustExec(t, a, "CREATE TABLE "+table+" (id INT PRIMARY KEY, v INT)")
	mustExec(t, a, "INSERT INTO "+table+" VALUES (1, 0), (2, 0)")
	mustExec(t, b, "SET SESSION innodb_lock_wait_timeout = 1")

	txA, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExecTx(t, txA, "UPDATE "+table+" SET v = 1 WHERE id = 1")
	_, err = b.Exec(ctx, "UPDATE "+table+" SET v = 2 WHERE id = 1")
	wantCode(t, err, "55P03")
	txA.Rollback(ctx)

	// Deadlock: a holds 1 and wants 2, b holds 2 and wants 1.
	mustExec(t, b, "SET SESSION innodb_lock_wait_timeout = 10")
	txA, _ = a.Begin(ctx)
	txB, _ := b.Begin(ctx)
	mustExecTx(t, txA, "UPDATE "+table+" SET v = 1 WHERE id = 1")
	mustExecTx(t, txB, "UPDATE "+table+" SET v = 2 WHERE id = 2")
	errA := make(chan error, 1)
	go func() {
		_, err := txA.Exec(ctx, "UPDATE "+table+" SET v = 1 WHERE id = 2")
		errA <- err
	}()
	time.Sleep(100 * time.Millisecond) // let a wait for b's lock
	_, errB := txB.Exec(ctx, "UPDATE "+table+" SET v = 2 WHERE id = 1")
	eA := <-errA
	deadlocked := errB
	if deadlocked == nil {
		deadlocked = eA
	}
	wantCode(t, deadlocked, "40P01")
	txA.Rollback(ctx)
	txB.Rollback(ctx)
	if n := countRows(t, a, table); n != 2 {
		t.Errorf("%d rows after the rollbacks", n)
	}
}

func mustExecTx(t *testing.T, tx pgx.Tx, q string) {
	t.Helper()
	if _, err := tx.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// mysqlDifferentialScripts mean the same in MySQL's SQL and PostgreSQL's;
// the proxy's answers on MySQL must be PostgreSQL's: tags, SQLSTATEs,
// notices, values as text and the transaction status.
var mysqlDifferentialScripts = []struct {
	name   string
	script []string
}{
	{"dml and tags", []string{
		"CREATE TABLE {p}t (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL)",
		"INSERT INTO {p}t VALUES (1, 'a'), (2, 'b'), (3, 'it''s')",
		"SELECT id, name FROM {p}t ORDER BY id",
		"UPDATE {p}t SET name = 'c' WHERE id >= 2",
		"UPDATE {p}t SET name = 'c' WHERE id >= 2",
		"UPDATE {p}t SET name = 'z' WHERE id = 99",
		"DELETE FROM {p}t WHERE id = 2",
		"SELECT count(*) FROM {p}t",
		"SELECT id, name FROM {p}t WHERE name LIKE 'i%'",
		"ALTER TABLE {p}t ADD COLUMN extra VARCHAR(5)",
		"CREATE INDEX {p}t_name ON {p}t (name)",
		"CREATE VIEW {p}v AS SELECT id FROM {p}t",
		"SELECT id FROM {p}v ORDER BY id",
		"DROP VIEW {p}v",
		"DROP TABLE {p}t",
	}},
	{"errors", []string{
		"CREATE TABLE {p}e (id INTEGER PRIMARY KEY, name VARCHAR(5) NOT NULL)",
		"CREATE TABLE {p}c (eid INTEGER, FOREIGN KEY (eid) REFERENCES {p}e (id))",
		"INSERT INTO {p}e VALUES (1, 'a'), (2, 'b')",
		"INSERT INTO {p}e VALUES (1, 'dup')",
		"INSERT INTO {p}e (id) VALUES (3)",
		"INSERT INTO {p}e VALUES (3, 'toolong')",
		"INSERT INTO {p}e VALUES ('x', 'a')",
		"INSERT INTO {p}c VALUES (42)",
		"INSERT INTO {p}c VALUES (1)",
		"DELETE FROM {p}e WHERE id = 1",
		"SELECT * FROM {p}nosuch",
		"SELECT nosuch FROM {p}e",
		"SELEC 1",
		"CREATE TABLE {p}e (id INTEGER)",
		"SELECT (SELECT id FROM {p}e) FROM {p}e",
		"DROP TABLE {p}nosuch",
		"SELECT name FROM {p}e ORDER BY id",
		"DROP TABLE {p}c",
		"DROP TABLE {p}e",
	}},
	{"transactions", []string{
		"CREATE TABLE {p}f (id INTEGER PRIMARY KEY)",
		"BEGIN",
		"INSERT INTO {p}f VALUES (1)",
		"INSERT INTO {p}f VALUES (1)",
		"SELECT 1",
		"INSERT INTO {p}f VALUES (2)",
		"ROLLBACK",
		"SELECT count(*) FROM {p}f",
		"BEGIN",
		"INSERT INTO {p}f VALUES (1)",
		"INSERT INTO {p}f VALUES (1)",
		"COMMIT",
		"SELECT count(*) FROM {p}f",
		"BEGIN",
		"INSERT INTO {p}f VALUES (1)",
		"SAVEPOINT a",
		"INSERT INTO {p}f VALUES (1)",
		"SELECT 1",
		"ROLLBACK TO SAVEPOINT a",
		"INSERT INTO {p}f VALUES (2)",
		"RELEASE SAVEPOINT a",
		"ROLLBACK TO SAVEPOINT a",
		"COMMIT",
		"SELECT id FROM {p}f ORDER BY id",
		"COMMIT",
		"BEGIN",
		"BEGIN",
		"COMMIT",
		"BEGIN READ ONLY",
		"SELECT count(*) FROM {p}f",
		"INSERT INTO {p}f VALUES (9)",
		"ROLLBACK",
		"INSERT INTO {p}f VALUES (3); INSERT INTO {p}f VALUES (1); INSERT INTO {p}f VALUES (4)",
		"INSERT INTO {p}f VALUES (5); INSERT INTO {p}f VALUES (6)",
		"BEGIN; INSERT INTO {p}f VALUES (7)",
		"ROLLBACK",
		"SELECT id FROM {p}f ORDER BY id",
		"DROP TABLE {p}f",
	}},
	{"session", []string{
		"SET application_name = 'mysql test'",
		"SHOW application_name",
		"SELECT current_setting('application_name'), current_user",
		"SHOW standard_conforming_strings",
		"SHOW client_encoding",
		"SHOW no_such_parameter",
		"SET extra_float_digits = 3",
		"SHOW extra_float_digits",
		"SHOW transaction_isolation",
		"DISCARD ALL",
		"SHOW application_name",
	}},
	{"strings and comments", []string{
		"SELECT 'a''b', 'C:\\new', 'tab\\t' -- a comment 'with quote",
		"SELECT /* a ; comment */ 'x;y'",
		"SELECT 1; SELECT 'two'",
		"SELECT '', 'é ü 😀'",
	}},
}

// TestMySQLDifferential runs the scripts on PostgreSQL and through the
// proxy on MySQL, and compares what the client sees.
func TestMySQLDifferential(t *testing.T) {
	directPG(t)
	for _, sc := range mysqlDifferentialScripts {
		t.Run(sc.name, func(t *testing.T) {
			ctx := ctxT(t)
			schema := "xcp_mydiff_" + randHex()
			admin, _ := connectNoticing(t, pgURL(), nil)
			if err := admin.Exec(ctx, "CREATE SCHEMA "+schema).Close(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE").Close() })
			pg, pgNotices := connectNoticing(t, pgURL(), map[string]string{"search_path": schema})
			px, prefix := mysqlProxy(t, "local", "")
			xc, xNotices := connectNoticing(t, strings.Replace(px.URL("local"), "tester@", "postgres@", 1), nil)
			script := prefixed(prefix, sc.script...)
			want := runScript(ctx, pg, pgNotices, script)
			got := runScript(ctx, xc, xNotices, script)
			for i := range script {
				if want[i].String() != got[i].String() {
					t.Errorf("query %q\n postgres: %v\n    proxy: %v", script[i], want[i], got[i])
				}
			}
		})
	}
}

// mysqlDifferentialBatches are extended-protocol batches (text parameters,
// one Sync each) that mean the same on both.
var mysqlDifferentialBatches = [][][2]string{
	{{"CREATE TABLE {p}x (id INTEGER PRIMARY KEY, name VARCHAR(10))", ""}},
	{{"INSERT INTO {p}x VALUES ($1, $2)", "1,one"}, {"INSERT INTO {p}x VALUES ($1, $2)", "2,two"}},
	{{"INSERT INTO {p}x VALUES ($1, $2)", "3,three"}, {"INSERT INTO {p}x VALUES ($1, $2)", "1,dup"}, {"INSERT INTO {p}x VALUES ($1, $2)", "4,four"}},
	{{"SELECT id, name FROM {p}x WHERE id > $1 ORDER BY id", "0"}},
	{{"SELECT name FROM {p}x ORDER BY id LIMIT $1", "1"}},
	{{"UPDATE {p}x SET name = $1 WHERE id = $2", "uno,1"}, {"SELECT name FROM {p}x WHERE id = $1", "1"}},
	{{"BEGIN", ""}, {"INSERT INTO {p}x VALUES ($1, $2)", "5,five"}},
	{{"SELECT count(*) FROM {p}x", ""}, {"SELECT nope FROM {p}x", ""}},
	{{"ROLLBACK", ""}},
	{{"SELECT count(*) FROM {p}x", ""}},
	{{"SELECT $2, $1, '$1'", "a,b"}},
	// Untyped text parameters take the type of the column they meet.
	{{"CREATE TABLE {p}u (id INTEGER, flag BOOLEAN, day DATE, at TIMESTAMP NULL)", ""}},
	{{"INSERT INTO {p}u VALUES ($1, $2, $3, $4)", "1,true,2024-05-01,2024-05-01 10:00:00+02"}},
	{{"INSERT INTO {p}u (at, id, flag) VALUES ($1, $2, $3)", "2024-05-02 01:02:03,2,f"}},
	{{"INSERT INTO {p}u (id, flag) VALUES (3, TRUE)", ""}},
	{{"SELECT id, flag, day, at FROM {p}u ORDER BY id", ""}},
	{{"SELECT id FROM {p}u WHERE flag = $1 ORDER BY id", "yes"}},
	{{"SELECT id FROM {p}u WHERE day = $1", "2024-05-01"}},
	{{"SELECT id FROM {p}u WHERE id IN ($1, $2) AND flag = $3 ORDER BY id", "1,3,on"}},
	{{"UPDATE {p}u SET flag = $1 WHERE id = $2", "off,3"}},
	{{"SELECT count(*) FROM {p}u WHERE NOT flag", ""}},
	{{"DROP TABLE {p}u", ""}, {"DROP TABLE {p}x", ""}},
}

func TestMySQLDifferentialExtended(t *testing.T) {
	directPG(t)
	admin, _ := connectNoticing(t, pgURL(), nil)
	schema := "xcp_mydiffx_" + randHex()
	if err := admin.Exec(ctxT(t), "CREATE SCHEMA "+schema).Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE").Close() })
	pg, _ := connectNoticing(t, pgURL(), map[string]string{"search_path": schema})
	px, prefix := mysqlProxy(t, "local", "")
	xc, _ := connectNoticing(t, px.URL("local"), nil)
	for _, b := range mysqlDifferentialBatches {
		batch := make([][2]string, len(b))
		for i, st := range b {
			batch[i] = [2]string{prefixed(prefix, st[0])[0], st[1]}
		}
		want := runBatch(ctxT(t), pg, batch)
		got := runBatch(ctxT(t), xc, batch)
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			t.Errorf("batch %q\n postgres: %q\n    proxy: %q", batch, want, got)
		}
	}
}

// TestMySQLTransactions covers what differs from PostgreSQL and what the
// server must see: DDL commits the open transaction (a new one starts, and
// the client is warned), BEGIN's isolation level and READ ONLY reach
// MySQL, and an extended-protocol batch is one transaction.
func TestMySQLTransactions(t *testing.T) {
	p, prefix := mysqlProxy(t, "local", "")
	ctx := ctxT(t)
	var notices []string
	var mu sync.Mutex
	pc := connectPgconn(t, p.URL("local"), func(c *pgconn.Config) {
		c.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
			mu.Lock()
			notices = append(notices, n.Code+" "+n.Message)
			mu.Unlock()
		}
	})
	table := prefix + "tx"
	if _, err := execSimple(ctx, pc, "CREATE TABLE "+table+" (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	_, err := execSimple(ctx, pc, "BEGIN; INSERT INTO "+table+" VALUES (1); CREATE TABLE "+prefix+"other (id INT); INSERT INTO "+table+" VALUES (2)")
	if err != nil {
		t.Fatal(err)
	}
	if pc.TxStatus() != 'T' {
		t.Fatalf("status %c after DDL in a transaction block, want T", pc.TxStatus())
	}
	if _, err := execSimple(ctx, pc, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(notices) != 1 || !strings.HasPrefix(notices[0], "25001 ") || !strings.Contains(notices[0], "committed") {
		t.Errorf("notices %q, want one 25001 warning about the implicit commit", notices)
	}
	mu.Unlock()
	res, err := execSimple(ctx, pc, "SELECT id FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Rows) != 1 || string(res[0].Rows[0][0]) != "1" {
		t.Errorf("rows %q: want only 1 (committed by the DDL; 2 rolled back)", res[0].Rows)
	}

	// The isolation level reaches the server: READ COMMITTED (the session's
	// default, PostgreSQL's) sees a row another session commits meanwhile,
	// REPEATABLE READ does not.
	c := p.Connect(t, "local")
	other := p.Connect(t, "local")
	for i, iso := range []pgx.TxIsoLevel{pgx.ReadCommitted, pgx.RepeatableRead, ""} {
		tx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: iso})
		if err != nil {
			t.Fatal(err)
		}
		var before, after int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&before); err != nil {
			t.Fatal(err)
		}
		mustExec(t, other, "INSERT INTO "+table+" VALUES ($1)", 100+i)
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&after); err != nil {
			t.Fatal(err)
		}
		tx.Rollback(ctx)
		if sees := after > before; sees != (iso != pgx.RepeatableRead) {
			t.Errorf("isolation %q: count %d, then %d after another session's commit", iso, before, after)
		}
		mustExec(t, other, "DELETE FROM "+table+" WHERE id = $1", 100+i)
	}
	tx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		t.Fatal(err)
	}
	tx.Rollback(ctx)
	tx, err = c.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, "INSERT INTO "+table+" VALUES (3)")
	wantCode(t, err, "25006")
	tx.Rollback(ctx)

	// A pgx batch is one implicit transaction: a failure undoes it all.
	br := c.SendBatch(ctx, &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{
		{SQL: "INSERT INTO " + table + " VALUES ($1)", Arguments: []any{10}},
		{SQL: "INSERT INTO " + table + " VALUES ($1)", Arguments: []any{1}},
	}})
	br.Exec()
	_, err = br.Exec()
	wantCode(t, err, "23505")
	br.Close()
	if n := countRows(t, c, table); n != 1 {
		t.Errorf("%d rows after the failed batch, want 1", n)
	}
}

// TestMySQLConcurrentClients: 8 clients at once, each writing its own rows
// in transactions and autocommit statements and reading everyone's.
func TestMySQLConcurrentClients(t *testing.T) {
	const clients, rounds = 8, 10
	p, prefix := mysqlProxy(t, "local", "")
	table := prefix + "items"
	mustExec(t, p.Connect(t, "local"), "CREATE TABLE "+table+" (worker INT NOT NULL, seq INT NOT NULL, PRIMARY KEY (worker, seq))")
	conns := make([]*pgx.Conn, clients)
	for i := range conns {
		conns[i] = p.Connect(t, "local", allModes[i%len(allModes)])
	}
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for w, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				if r%2 == 0 {
					tx, err := c.Begin(ctx)
					if err != nil {
						errs <- err
						return
					}
					for k := range 3 {
						if _, err := tx.Exec(ctx, "INSERT INTO "+table+" VALUES ($1, $2)", w, r*3+k); err != nil {
							errs <- fmt.Errorf("client %d: %w", w, err)
							tx.Rollback(ctx)
							return
						}
					}
					var n int64
					if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE worker = $1", w).Scan(&n); err != nil || n != int64(r*3+3) {
						errs <- fmt.Errorf("client %d: own count %d inside its transaction, %v; want %d", w, n, err, r*3+3)
						tx.Rollback(ctx)
						return
					}
					if err := tx.Commit(ctx); err != nil {
						errs <- err
						return
					}
					continue
				}
				for k := range 3 {
					if _, err := c.Exec(ctx, "INSERT INTO "+table+" VALUES ($1, $2)", w, r*3+k); err != nil {
						errs <- fmt.Errorf("client %d: %w", w, err)
						return
					}
				}
				var total int64
				if err := c.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&total); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := countRows(t, conns[0], table); n != clients*rounds*3 {
		t.Errorf("%d rows, want %d", n, clients*rounds*3)
	}
}

// TestMySQLSessionCommands: what the bridge answers (version(), settings)
// and what it passes to MySQL (SHOW TABLES, SET of a MySQL variable).
func TestMySQLSessionCommands(t *testing.T) {
	p, prefix := mysqlProxy(t, "local", "")
	c := p.Connect(t, "local")
	if v := queryString(t, c, "SELECT version()"); !strings.Contains(v, "xconnproxy") || !strings.Contains(strings.ToLower(v), "mysql") && !strings.Contains(v, "MariaDB") {
		t.Errorf("version() = %q", v)
	}
	if v := queryString(t, c, "SELECT current_database()"); v != "local" {
		t.Errorf("current_database() = %q", v)
	}
	if v := queryString(t, c, "SELECT current_user"); v != "tester" {
		t.Errorf("current_user = %q", v)
	}
	if v := queryString(t, c, "SHOW server_version"); v != "15.0" {
		t.Errorf("server_version = %q", v)
	}
	if v := queryString(t, c, "SELECT DATABASE()"); v == "" {
		t.Error("DATABASE() is empty: MySQL's own functions must reach the server")
	}
	mustExec(t, c, "CREATE TABLE "+prefix+"shown (id INT)")
	if v := queryString(t, c, "SHOW TABLES LIKE '"+prefix+"%'"); v != prefix+"shown" {
		t.Errorf("SHOW TABLES LIKE = %q", v)
	}
	first := func(q string) any {
		rows, err := c.Query(ctxT(t), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		if !rows.Next() {
			t.Fatalf("%s: no row (%v)", q, rows.Err())
		}
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		return vals[0]
	}
	if v := first("DESCRIBE " + prefix + "shown"); v != "id" {
		t.Errorf("DESCRIBE's first field = %v", v)
	}
	if v := first("SHOW CREATE TABLE " + prefix + "shown"); v != prefix+"shown" {
		t.Errorf("SHOW CREATE TABLE's first column = %v", v)
	}
	mustExec(t, c, "SET SESSION group_concat_max_len = 12345")
	if v := queryString(t, c, "SELECT CAST(@@SESSION.group_concat_max_len AS CHAR)"); v != "12345" {
		t.Errorf("group_concat_max_len = %q after SET", v)
	}
	if v := queryString(t, c, "SELECT @@SESSION.sql_mode"); !strings.Contains(v, "NO_BACKSLASH_ESCAPES") {
		t.Errorf("sql_mode %q lacks NO_BACKSLASH_ESCAPES", v)
	}
	if v := queryString(t, c, "SELECT @@SESSION.time_zone"); v != "+00:00" {
		t.Errorf("time_zone = %q", v)
	}
	rows, err := c.Query(ctxT(t), "SHOW WARNINGS")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if rows.Err() != nil {
		t.Fatalf("SHOW WARNINGS: %v", rows.Err())
	}
}

// TestMySQLPlaceholders: $n inside strings ('...', "..."), quoted
// identifiers and comments stays as it is, in every mode; the others bind
// in the order they are numbered.
func TestMySQLPlaceholders(t *testing.T) {
	p, prefix := mysqlProxy(t, "local", "")
	table := prefix + "ph"
	mustExec(t, p.Connect(t, "local"), "CREATE TABLE "+table+" (`$1` VARCHAR(10), v VARCHAR(10))")
	mustExec(t, p.Connect(t, "local"), "INSERT INTO "+table+" VALUES ('col', 'v')")
	q := "SELECT '$1' AS a, \"$2\" AS b, `$1` AS c, $2 AS d, /* $1 */ $1 AS e -- $2 '\n FROM " + table + " WHERE v = $3"
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			c := p.Connect(t, "local", mode)
			q := q
			if mode == pgx.QueryExecModeSimpleProtocol {
				// pgx writes the values into the text itself, and its scanner
				// does not know backticks: keep $1 out of them here.
				q = strings.Replace(q, "`$1` AS c", "'col' AS c", 1)
			}
			var a, b, cc, d, e string
			if err := c.QueryRow(ctxT(t), q, "first", "second", "v").Scan(&a, &b, &cc, &d, &e); err != nil {
				t.Fatal(err)
			}
			if a != "$1" || b != "$2" || cc != "col" || d != "second" || e != "first" {
				t.Errorf("got %q %q %q %q %q", a, b, cc, d, e)
			}
		})
	}
	// A ? in the text is a placeholder to MySQL: a clear error, not a wrong answer.
	_, err := p.Connect(t, "local").Exec(ctxT(t), "SELECT ? + $1", 1)
	wantCode(t, err, "08P01")
}

// TestMySQLPortalsAndCursors: a portal read in parts and a cursor stay
// open while other statements run (MySQL itself has one result at a time).
func TestMySQLPortalsAndCursors(t *testing.T) {
	p, prefix := mysqlProxy(t, "local", "")
	table := prefix + "cur"
	setup := p.Connect(t, "local")
	mustExec(t, setup, "CREATE TABLE "+table+" (id INT PRIMARY KEY)")
	mustExec(t, setup, "INSERT INTO "+table+" VALUES (1), (2), (3), (4), (5), (6)")

	rc := startRaw(t, p, "local")
	rc.send(&pgproto3.Query{String: "BEGIN"})
	rc.untilReady()
	rc.send(
		&pgproto3.Parse{Name: "s1", Query: "SELECT id FROM " + table + " ORDER BY id"},
		&pgproto3.Bind{DestinationPortal: "p1", PreparedStatement: "s1"},
		&pgproto3.Execute{Portal: "p1", MaxRows: 2},
		&pgproto3.Parse{Name: "s2", Query: "SELECT count(*) FROM " + table},
		&pgproto3.Bind{DestinationPortal: "p2", PreparedStatement: "s2"},
		&pgproto3.Execute{Portal: "p2"},
		&pgproto3.Execute{Portal: "p1", MaxRows: 3},
		&pgproto3.Execute{Portal: "p1"},
		&pgproto3.Sync{},
	)
	got := rc.untilReady()
	var rows []string
	for _, m := range got {
		switch x := m.(type) {
		case *pgproto3.DataRow:
			rows = append(rows, string(x.Values[0]))
		case *pgproto3.PortalSuspended:
			rows = append(rows, "suspended")
		case *pgproto3.CommandComplete:
			rows = append(rows, string(x.CommandTag))
		case *pgproto3.ErrorResponse:
			t.Fatalf("error: %s %s", x.Code, x.Message)
		}
	}
	want := "1 2 suspended 6 SELECT 1 3 4 5 suspended 6 SELECT 1"
	if strings.Join(rows, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(rows, " "), want)
	}
	rc.send(&pgproto3.Query{String: "DECLARE c CURSOR FOR SELECT id FROM " + table + " ORDER BY id; FETCH 2 FROM c; SELECT 42; FETCH ALL FROM c; CLOSE c; COMMIT"})
	rows = nil
	for _, m := range rc.untilReady() {
		switch x := m.(type) {
		case *pgproto3.DataRow:
			rows = append(rows, string(x.Values[0]))
		case *pgproto3.ErrorResponse:
			t.Fatalf("error: %s %s", x.Code, x.Message)
		}
	}
	if strings.Join(rows, " ") != "1 2 42 3 4 5 6" {
		t.Errorf("cursor rows %v", rows)
	}
}

// TestMySQLCancel: a cancelled statement ends with 57014 and the session
// (and its server connection) goes on.
func TestMySQLCancel(t *testing.T) {
	p, _ := mysqlProxy(t, "local", "")
	c := p.Connect(t, "local")
	id := queryString(t, c, "SELECT CAST(CONNECTION_ID() AS CHAR)")
	start := time.Now()
	err := runCancelled(t, c, "SELECT SLEEP(10), 1")
	if time.Since(start) > 5*time.Second {
		t.Fatalf("the statement ran %v", time.Since(start))
	}
	if err != nil {
		wantCode(t, err, "57014")
	}
	if got := queryString(t, c, "SELECT CAST(CONNECTION_ID() AS CHAR)"); got != id {
		t.Errorf("server connection %s replaced by %s", id, got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.Exec(ctx, "SELECT SLEEP(10)")
	if err == nil {
		t.Fatal("a statement past its context's deadline succeeded")
	}
}

// BenchmarkMySQLPointSelect compares a primary-key lookup through the proxy
// (pgx, per exec mode) with the same lookup by go-sql-driver on the server
// directly. The ratio is the cost of the proxy: a second hop over loopback,
// the PostgreSQL protocol and the bridge.
func BenchmarkMySQLPointSelect(b *testing.B) {
	db := directMySQL(b)
	prefix := "xcp_" + randHex() + "_"
	b.Cleanup(func() { dropPrefixed(db, prefix) })
	table := prefix + "bench"
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+table+" (id INT PRIMARY KEY, person VARCHAR(20), pet VARCHAR(20))"); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s SELECT seq, CONCAT('person', seq), CONCAT('pet', seq) FROM seq_1_to_%d", table, benchRows)); err != nil {
		b.Skipf("no sequence engine: %v", err)
	}
	b.Run("direct-go-sql-driver", func(b *testing.B) {
		st, err := db.PrepareContext(ctx, "SELECT person, pet FROM "+table+" WHERE id = ?")
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		b.ReportAllocs()
		var person, pet string
		for i := 0; b.Loop(); i++ {
			if err := st.QueryRowContext(ctx, i%benchRows+1).Scan(&person, &pet); err != nil {
				b.Fatal(err)
			}
		}
	})
	p := startProxy(b, fmt.Sprintf("[connections.bench]\nurl = %q\n", mysqlURL()), proxyOptions{quiet: true})
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		b.Run("proxy-pgx-"+mode.String(), func(b *testing.B) {
			c := p.Connect(b, "bench", mode)
			b.ReportAllocs()
			var person, pet string
			for i := 0; b.Loop(); i++ {
				if err := c.QueryRow(ctx, "SELECT person, pet FROM "+table+" WHERE id = $1", i%benchRows+1).Scan(&person, &pet); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

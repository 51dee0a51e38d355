package integration

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// typedTable has one column of every declared type the SQLite dialect maps.
const typedTable = `CREATE TABLE typed (
	id INTEGER PRIMARY KEY,
	i  INTEGER,
	r  REAL,
	t  TEXT,
	b  BLOB,
	bo BOOLEAN,
	n  NUMERIC,
	d  DATE,
	ts TIMESTAMP
)`

// typedOIDs are the PostgreSQL types the columns of typed (after id) must be
// described as.
var typedOIDs = []uint32{
	pgtype.Int8OID, pgtype.Float8OID, pgtype.TextOID, pgtype.ByteaOID,
	pgtype.BoolOID, pgtype.NumericOID, pgtype.DateOID, pgtype.TimestampOID,
}

// typedValues is one row of typed. A nil field is SQL NULL. Numeric is the
// exact decimal text; numericArg, when set, is what is sent instead of it.
type typedValues struct {
	i          *int64
	r          *float64
	t          *string
	b          []byte
	bo         *bool
	numeric    *string
	numericArg any
	d          *time.Time
	ts         *time.Time
}

func ptr[T any](v T) *T { return &v }

func date(y int, m time.Month, d int) *time.Time {
	return ptr(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// typedCases are the rows every mode round-trips. Numerics stay within 15
// significant digits: SQLite stores a NUMERIC column's decimal text as a
// REAL, which keeps no more (https://sqlite.org/datatype3.html, 3.0).
var typedCases = []struct {
	name string
	v    typedValues
}{
	{"typical", typedValues{
		i: ptr(int64(42)), r: ptr(3.25), t: ptr("plain"), b: []byte("abc"), bo: ptr(true),
		numeric: ptr("12345.678"), d: date(2024, 2, 29),
		ts: ptr(time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)),
	}},
	{"extremes", typedValues{
		i: ptr(int64(math.MaxInt64)), r: ptr(math.MaxFloat64), t: ptr(strings.Repeat("long ", 2000)),
		b: bytes.Repeat([]byte{0, 0xff}, 5000), bo: ptr(false), numeric: ptr("-98765432.1234567"),
		d: date(9999, 12, 31), ts: ptr(time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)),
	}},
	{"negative and tiny", typedValues{
		i: ptr(int64(math.MinInt64)), r: ptr(-5e-324), t: ptr("x"), b: []byte{0},
		bo: ptr(true), numeric: ptr("-0.000001"), d: date(1970, 1, 1),
		ts: ptr(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)),
	}},
	{"awkward text and bytes", typedValues{
		i: ptr(int64(-1)), r: ptr(0.1 + 0.2),
		t:  ptr("it's \"quoted\" \\back\\slash\\x41 $1 ? ünïcödé 日本語 🐘\n\ttab; --not a comment"),
		b:  []byte{0, 1, 2, 0, 255, '\\', 'x', '4', '1', 0, '\'', '"'},
		bo: ptr(false), numeric: ptr("0.5"), d: date(2000, 1, 1),
		ts: ptr(time.Date(2000, 1, 1, 12, 0, 0, 500000000, time.UTC)),
	}},
	{"zero values are not NULL", typedValues{
		i: ptr(int64(0)), r: ptr(0.0), t: ptr(""), b: []byte{}, bo: ptr(false),
		numeric: ptr("0"), d: date(2001, 9, 9), ts: ptr(time.Date(2001, 9, 9, 1, 46, 40, 0, time.UTC)),
	}},
	{"numeric as pgtype.Numeric", typedValues{
		i: ptr(int64(7)), r: ptr(1e300), t: ptr("n"), b: []byte("n"), bo: ptr(true),
		numeric:    ptr("1234.5"),
		numericArg: pgtype.Numeric{Int: big.NewInt(12345), Exp: -1, Valid: true},
		d:          date(1999, 12, 31), ts: ptr(time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)),
	}},
	{"all NULL", typedValues{}},
}

// args returns the values as query arguments: untyped nil for NULL.
func (v typedValues) args() []any {
	orNil := func(ok bool, x func() any) any {
		if !ok {
			return nil
		}
		return x()
	}
	num := any(nil)
	switch {
	case v.numericArg != nil:
		num = v.numericArg
	case v.numeric != nil:
		num = *v.numeric
	}
	var b any
	if v.b != nil {
		b = v.b
	}
	return []any{
		orNil(v.i != nil, func() any { return *v.i }),
		orNil(v.r != nil, func() any { return *v.r }),
		orNil(v.t != nil, func() any { return *v.t }),
		b,
		orNil(v.bo != nil, func() any { return *v.bo }),
		num,
		orNil(v.d != nil, func() any { return *v.d }),
		orNil(v.ts != nil, func() any { return *v.ts }),
	}
}

// scannedRow receives a row of typed with pgtype's nullable types.
type scannedRow struct {
	i  pgtype.Int8
	r  pgtype.Float8
	t  pgtype.Text
	b  []byte
	bo pgtype.Bool
	n  pgtype.Numeric
	d  pgtype.Date
	ts pgtype.Timestamp
}

func (s *scannedRow) dests() []any {
	return []any{&s.i, &s.r, &s.t, &s.b, &s.bo, &s.n, &s.d, &s.ts}
}

// compare reports every difference between a scanned row and the values
// that were inserted.
func (s *scannedRow) compare(want typedValues) []string {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	switch {
	case want.i == nil && s.i.Valid, want.i != nil && (!s.i.Valid || s.i.Int64 != *want.i):
		add("INTEGER: got %v, want %v", fmtNull(s.i.Valid, s.i.Int64), fmtPtr(want.i))
	}
	switch {
	case want.r == nil && s.r.Valid,
		want.r != nil && (!s.r.Valid || math.Float64bits(s.r.Float64) != math.Float64bits(*want.r)):
		add("REAL: got %v, want %v", fmtNull(s.r.Valid, s.r.Float64), fmtPtr(want.r))
	}
	switch {
	case want.t == nil && s.t.Valid, want.t != nil && (!s.t.Valid || s.t.String != *want.t):
		add("TEXT: got %q, want %q", fmtNull(s.t.Valid, s.t.String), fmtPtr(want.t))
	}
	switch {
	case want.b == nil && s.b != nil, want.b != nil && (s.b == nil || !bytes.Equal(s.b, want.b)):
		add("BLOB: got %s, want %s", fmtBytes(s.b), fmtBytes(want.b))
	}
	switch {
	case want.bo == nil && s.bo.Valid, want.bo != nil && (!s.bo.Valid || s.bo.Bool != *want.bo):
		add("BOOLEAN: got %v, want %v", fmtNull(s.bo.Valid, s.bo.Bool), fmtPtr(want.bo))
	}
	if want.numeric == nil {
		if s.n.Valid {
			add("NUMERIC: got %s, want NULL", numericString(s.n))
		}
	} else {
		w, _ := new(big.Rat).SetString(*want.numeric)
		if g := numericRat(s.n); g == nil || g.Cmp(w) != 0 {
			add("NUMERIC: got %s, want %s", numericString(s.n), *want.numeric)
		}
	}
	switch {
	case want.d == nil && s.d.Valid,
		want.d != nil && (!s.d.Valid || s.d.InfinityModifier != pgtype.Finite || !s.d.Time.Equal(*want.d)):
		add("DATE: got %v, want %v", fmtNull(s.d.Valid, s.d.Time), fmtPtr(want.d))
	}
	switch {
	case want.ts == nil && s.ts.Valid,
		want.ts != nil && (!s.ts.Valid || s.ts.InfinityModifier != pgtype.Finite || !s.ts.Time.Equal(*want.ts)):
		add("TIMESTAMP: got %v, want %v", fmtNull(s.ts.Valid, s.ts.Time), fmtPtr(want.ts))
	}
	return diffs
}

func fmtNull[T any](valid bool, v T) any {
	if !valid {
		return "NULL"
	}
	return v
}

func fmtPtr[T any](p *T) any {
	if p == nil {
		return "NULL"
	}
	return *p
}

func fmtBytes(b []byte) string {
	if b == nil {
		return "NULL"
	}
	if len(b) > 24 {
		return fmt.Sprintf("%d bytes %x...", len(b), b[:24])
	}
	return fmt.Sprintf("%d bytes %x", len(b), b)
}

// numericRat is n's exact value, or nil when n is NULL, NaN or infinite.
func numericRat(n pgtype.Numeric) *big.Rat {
	if !n.Valid || n.NaN || n.InfinityModifier != pgtype.Finite || n.Int == nil {
		return nil
	}
	r := new(big.Rat).SetInt(n.Int)
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(n.Exp))), nil)
	if n.Exp >= 0 {
		return r.Mul(r, new(big.Rat).SetInt(scale))
	}
	return r.Quo(r, new(big.Rat).SetInt(scale))
}

func numericString(n pgtype.Numeric) string {
	if !n.Valid {
		return "NULL"
	}
	if r := numericRat(n); r != nil {
		return r.FloatString(max(0, int(-n.Exp)))
	}
	return fmt.Sprintf("%+v", n)
}

func abs(n int32) int32 {
	if n < 0 {
		return -n
	}
	return n
}

const (
	insertTyped = "INSERT INTO typed (id, i, r, t, b, bo, n, d, ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
	selectTyped = "SELECT i, r, t, b, bo, n, d, ts FROM typed WHERE id = $1"
)

// TestTypesRoundTripEveryMode inserts typed values through parameters and
// reads them back in every pgx mode: the describing modes read results in
// binary, the exec and simple modes in text.
func TestTypesRoundTripEveryMode(t *testing.T) {
	p := newProxy(t, sqliteSecrets("types_db"))
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := ctxT(t)
			c := p.Connect(t, "types_db", mode)
			mustExec(t, c, "DROP TABLE IF EXISTS typed")
			mustExec(t, c, typedTable)
			for id, tc := range typedCases {
				args := append([]any{int64(id)}, tc.v.args()...)
				tag, err := c.Exec(ctx, insertTyped, args...)
				if err != nil {
					t.Fatalf("insert %s: %v", tc.name, err)
				}
				if tag.String() != "INSERT 0 1" {
					t.Errorf("insert %s: tag %q, want INSERT 0 1", tc.name, tag)
				}
			}
			for id, tc := range typedCases {
				t.Run(tc.name, func(t *testing.T) {
					rows, err := c.Query(ctx, selectTyped, int64(id))
					if err != nil {
						t.Fatal(err)
					}
					var got scannedRow
					n := 0
					for rows.Next() {
						n++
						if err := rows.Scan(got.dests()...); err != nil {
							t.Fatalf("scan: %v", err)
						}
					}
					if err := rows.Err(); err != nil {
						t.Fatal(err)
					}
					if n != 1 {
						t.Fatalf("%d rows, want 1", n)
					}
					for i, fd := range rows.FieldDescriptions() {
						if fd.DataTypeOID != typedOIDs[i] {
							t.Errorf("column %s: type OID %d, want %d", fd.Name, fd.DataTypeOID, typedOIDs[i])
						}
					}
					for _, d := range got.compare(tc.v) {
						t.Error(d)
					}
				})
			}
		})
	}
}

// TestTypesExplicitFormats drives the protocol directly: parameters declared
// with their types and sent in text or binary, results asked for in text or
// binary, every combination, decoded with pgtype by the OID the proxy
// describes.
func TestTypesExplicitFormats(t *testing.T) {
	p := newProxy(t, sqliteSecrets("types_db"))
	c := p.Connect(t, "types_db")
	mustExec(t, c, typedTable)
	pc := c.PgConn()
	m := pgtype.NewMap()
	paramOIDs := append([]uint32{pgtype.Int8OID}, typedOIDs...)
	formats := []struct {
		name   string
		format int16
	}{{"text", pgtype.TextFormatCode}, {"binary", pgtype.BinaryFormatCode}}

	id := int64(0)
	for _, pf := range formats {
		for _, rf := range formats {
			t.Run("params "+pf.name+", results "+rf.name, func(t *testing.T) {
				for _, tc := range typedCases {
					t.Run(tc.name, func(t *testing.T) {
						ctx := ctxT(t)
						id++
						args := append([]any{id}, tc.v.args()...)
						if tc.v.numericArg == nil && tc.v.numeric != nil {
							// A numeric parameter declared numeric must be a
							// numeric value, not a Go string, in binary.
							var n pgtype.Numeric
							if err := n.Scan(*tc.v.numeric); err != nil {
								t.Fatal(err)
							}
							args[6] = n
						}
						values := make([][]byte, len(args))
						for i, a := range args {
							if a == nil {
								continue
							}
							// A non-nil buffer: an empty value must stay
							// non-NULL.
							buf, err := m.Encode(paramOIDs[i], pf.format, a, []byte{})
							if err != nil {
								t.Fatalf("encoding parameter %d (%T): %v", i+1, a, err)
							}
							values[i] = buf
						}
						res := pc.ExecParams(ctx, insertTyped, values, paramOIDs, []int16{pf.format}, nil).Read()
						if res.Err != nil {
							t.Fatalf("insert: %v", res.Err)
						}
						if tag := res.CommandTag.String(); tag != "INSERT 0 1" {
							t.Errorf("insert tag %q, want INSERT 0 1", tag)
						}

						idParam, err := m.Encode(pgtype.Int8OID, pgtype.TextFormatCode, id, nil)
						if err != nil {
							t.Fatal(err)
						}
						res = pc.ExecParams(ctx, selectTyped, [][]byte{idParam}, nil, nil, []int16{rf.format}).Read()
						if res.Err != nil {
							t.Fatalf("select: %v", res.Err)
						}
						if len(res.Rows) != 1 {
							t.Fatalf("%d rows, want 1", len(res.Rows))
						}
						var got scannedRow
						dests := got.dests()
						for i, fd := range res.FieldDescriptions {
							if fd.DataTypeOID != typedOIDs[i] {
								t.Errorf("column %s: type OID %d, want %d", fd.Name, fd.DataTypeOID, typedOIDs[i])
							}
							if fd.Format != rf.format {
								t.Errorf("column %s: format %d, want %d", fd.Name, fd.Format, rf.format)
							}
							if err := m.Scan(fd.DataTypeOID, fd.Format, res.Rows[0][i], dests[i]); err != nil {
								t.Fatalf("column %s (%s %q): %v", fd.Name, rf.name, res.Rows[0][i], err)
							}
						}
						for _, d := range got.compare(tc.v) {
							t.Error(d)
						}
					})
				}
			})
		}
	}
}

// TestExpressionTypesEveryMode: a result column without a declared type
// (count(*), arithmetic, literals) is typed by its value, and a client can
// scan it into the matching Go type in every mode, as it can from
// PostgreSQL (count(*) is bigint there).
func TestExpressionTypesEveryMode(t *testing.T) {
	p := newProxy(t, sqliteSecrets("expr_db"))
	setup := p.Connect(t, "expr_db")
	mustExec(t, setup, "CREATE TABLE things (x INTEGER)")
	mustExec(t, setup, "INSERT INTO things VALUES (1), (2), (3)")
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := ctxT(t)
			c := p.Connect(t, "expr_db", mode)
			var n int64
			if err := c.QueryRow(ctx, "SELECT count(*) FROM things").Scan(&n); err != nil {
				t.Errorf("SELECT count(*): %v", err)
			} else if n != 3 {
				t.Errorf("count(*) = %d, want 3", n)
			}
			var sum int64
			var f float64
			var s string
			var b []byte
			err := c.QueryRow(ctx, "SELECT sum(x) * 2, 1.5, 'x', x'00ff' FROM things").Scan(&sum, &f, &s, &b)
			if err != nil {
				t.Fatalf("SELECT expressions: %v", err)
			}
			if sum != 12 || f != 1.5 || s != "x" || !bytes.Equal(b, []byte{0, 0xff}) {
				t.Errorf("got %d, %v, %q, %x; want 12, 1.5, \"x\", 00ff", sum, f, s, b)
			}
			// Expressions whose value depends on a parameter.
			withParams := []struct {
				sql  string
				arg  int64
				want int64
			}{
				{"SELECT sum(x) FROM things WHERE x > $1", 0, 6},
				{"SELECT max(x) FROM things WHERE x < $1", 3, 2},
				{"SELECT x * 10 FROM things WHERE x = $1", 2, 20},
				{"SELECT count(*) + $1 FROM things", 1, 4},
			}
			for _, tt := range withParams {
				var got int64
				if err := c.QueryRow(ctx, tt.sql, tt.arg).Scan(&got); err != nil {
					t.Errorf("%s [%d]: %v", tt.sql, tt.arg, err)
				} else if got != tt.want {
					t.Errorf("%s [%d] = %d, want %d", tt.sql, tt.arg, got, tt.want)
				}
			}
		})
	}
}

// TestTypesLiteralsPsql inserts SQL literals with psql and checks the text
// output psql prints, which is PostgreSQL's text format for each type.
func TestTypesLiteralsPsql(t *testing.T) {
	psql := psqlPath(t)
	p := newProxy(t, sqliteSecrets("lit_db"))
	script := typedTable + `;
INSERT INTO typed VALUES (1, 42, 2.5, 'it''s "q" \back\slash ünï 🐘', x'00ff5c', true, 12.25, '2024-02-29', '2024-01-02 03:04:05.5');
INSERT INTO typed VALUES (2, -9223372036854775808, -0.125, '', x'', false, -3, '1970-01-01', '1999-12-31 23:59:59');
INSERT INTO typed VALUES (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT i, r, t, b, bo, n, d, ts FROM typed ORDER BY id;
`
	cmd := exec.Command(psql, "-X", "-q", "-A", "-t", "-F", "|", "-P", "null=<null>", "-v", "ON_ERROR_STOP=1", "-d", p.URL("lit_db"))
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	want := strings.Join([]string{
		`42|2.5|it's "q" \back\slash ünï 🐘|\x00ff5c|t|12.25|2024-02-29|2024-01-02 03:04:05.5`,
		`-9223372036854775808|-0.125||\x|f|-3|1970-01-01|1999-12-31 23:59:59`,
		`<null>|<null>|<null>|<null>|<null>|<null>|<null>|<null>`,
	}, "\n") + "\n"
	if string(out) != want {
		t.Errorf("psql output:\n%s\nwant:\n%s", out, want)
	}
}

// TestTypesReadAcrossModes: values written by one client (simple protocol) are
// read identically by another in each mode (the same stored value, encoded
// text or binary as each client asks).
func TestTypesReadAcrossModes(t *testing.T) {
	p := newProxy(t, sqliteSecrets("across_db"))
	w := p.Connect(t, "across_db", pgx.QueryExecModeSimpleProtocol)
	mustExec(t, w, typedTable)
	for id, tc := range typedCases {
		mustExec(t, w, insertTyped, append([]any{int64(id)}, tc.v.args()...)...)
	}
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			c := p.Connect(t, "across_db", mode)
			for id, tc := range typedCases {
				var got scannedRow
				if err := c.QueryRow(ctxT(t), selectTyped, int64(id)).Scan(got.dests()...); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				for _, d := range got.compare(tc.v) {
					t.Errorf("%s: %s", tc.name, d)
				}
			}
		})
	}
}

// TestReturningEveryMode: RETURNING columns carry their declared types, so
// the usual "INSERT ... RETURNING id" scans into an int64 in every mode.
func TestReturningEveryMode(t *testing.T) {
	p := newProxy(t, sqliteSecrets("ret_db"))
	setup := p.Connect(t, "ret_db")
	mustExec(t, setup, "CREATE TABLE r (id INTEGER PRIMARY KEY, name TEXT, at TIMESTAMP)")
	want := int64(0)
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := ctxT(t)
			c := p.Connect(t, "ret_db", mode)
			want++
			var id int64
			var name string
			var at time.Time
			stamp := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
			err := c.QueryRow(ctx, "INSERT INTO r (name, at) VALUES ($1, $2) RETURNING id, name, at", "n", stamp).Scan(&id, &name, &at)
			if err != nil {
				t.Fatalf("INSERT ... RETURNING: %v", err)
			}
			if id != want || name != "n" || !at.Equal(stamp) {
				t.Errorf("RETURNING %d, %q, %v; want %d, n, %v", id, name, at, want, stamp)
			}
			rows, err := c.Query(ctx, "UPDATE r SET name = upper(name) WHERE id <= $1 RETURNING id", id)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				t.Fatalf("UPDATE ... RETURNING: %v", err)
			}
			if int64(len(ids)) != want {
				t.Errorf("UPDATE ... RETURNING gave %d rows, want %d", len(ids), want)
			}
			if tag := rows.CommandTag().String(); tag != fmt.Sprintf("UPDATE %d", want) {
				t.Errorf("tag %q", tag)
			}
		})
	}
}

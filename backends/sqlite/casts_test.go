package sqlite

import "testing"

func TestRewriteCasts(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT '42'::int", "SELECT CAST('42' AS INTEGER)"},
		{"SELECT $1::bigint + x::double precision", "SELECT CAST($1 AS INTEGER) + CAST(x AS REAL)"},
		{`INSERT INTO t VALUES ('\x0001ff'::bytea, '2024-05-01'::date, '2024-05-01T10:00:00'::timestamp)`, "INSERT INTO t VALUES (X'0001ff', '2024-05-01', '2024-05-01T10:00:00')"},
		{"SELECT 'true'::boolean, 'off'::bool, flag::boolean", "SELECT 1, 0, flag"},
		{"SELECT t.price::numeric(10,2) FROM t", "SELECT CAST(t.price AS NUMERIC) FROM t"},
		{"SELECT count(*)::int, (a + b)::float8", "SELECT CAST(count(*) AS INTEGER), CAST((a + b) AS REAL)"},
		{"SELECT '1 day'::interval, x::timestamp with time zone, '{1,2}'::int[]", "SELECT '1 day', x, '{1,2}'"},
		{"SELECT '::int' AS s, \"a::b\" -- ::text\n", "SELECT '::int' AS s, \"a::b\" -- ::text\n"},
		{"SELECT '5'::int::text", "SELECT CAST('5' AS INTEGER)"},
		{"SELECT '5'::text::int", "SELECT CAST('5' AS INTEGER)"},
		{"SELECT $1::regtype", "SELECT $1"},
		{"SELECT ::int", "SELECT ::int"},
		{"SELECT a::", "SELECT a::"},
	}
	for _, tt := range tests {
		if got := rewriteCasts(tt.in); got != tt.want {
			t.Errorf("rewriteCasts(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func FuzzRewriteCasts(f *testing.F) {
	f.Add("SELECT '5'::int::text, (a)::numeric(1,2)[], f(x)::bytea FROM t WHERE y::date > $1::date")
	f.Fuzz(func(t *testing.T, q string) {
		_ = rewriteCasts(q)
	})
}

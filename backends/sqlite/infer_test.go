package sqlite

import (
	"context"
	"testing"
)

func TestInferredColumnTypes(t *testing.T) {
	ctx := context.Background()
	conn := testConn(t, `CREATE TABLE things (x INTEGER, r REAL, name TEXT, price NUMERIC(10,2), flag BOOLEAN, born DATE);
		CREATE TABLE owners (id INTEGER, thing_x INTEGER, nick VARCHAR(20))`)
	tests := []struct {
		query string
		want  []string
	}{
		{"SELECT x, name FROM things", []string{"INTEGER", "TEXT"}},
		{"SELECT count(*) FROM things", []string{"INTEGER"}},
		{"SELECT sum(x), max(r), min(name), avg(x), total(x) FROM things WHERE x > $1", []string{"INTEGER", "REAL", "TEXT", "REAL", "REAL"}},
		{"SELECT x * 10, x / 2, x + r, -x, x % 3 FROM things WHERE x = $1", []string{"INTEGER", "INTEGER", "REAL", "INTEGER", "INTEGER"}},
		{"SELECT sum(x) AS total, max(r) biggest FROM things", []string{"INTEGER", "REAL"}},
		{"SELECT x > 1, name IS NULL, x BETWEEN 1 AND 2, name LIKE 'a%' FROM things", []string{"BOOLEAN", "BOOLEAN", "BOOLEAN", "BOOLEAN"}},
		{"SELECT name || '!', upper(name), length(name), substr(name, 1, 2) FROM things", []string{"TEXT", "TEXT", "INTEGER", "TEXT"}},
		{"SELECT CAST(x AS TEXT), CAST(name AS INTEGER), CAST(r AS DOUBLE PRECISION) FROM things", []string{"TEXT", "INTEGER", "DOUBLE PRECISION"}},
		{"SELECT coalesce(r, 0), ifnull(name, ''), abs(x) FROM things", []string{"REAL", "TEXT", "INTEGER"}},
		{"SELECT CASE WHEN x > 1 THEN 'big' ELSE 'small' END FROM things", []string{"TEXT"}},
		{"SELECT CASE x WHEN 1 THEN NULL ELSE r END FROM things", []string{"REAL"}},
		{"SELECT 1, 2.5, 'a', x'00', NULL, true", []string{"INTEGER", "REAL", "TEXT", "BLOB", "", "BOOLEAN"}},
		{"SELECT t.x + 1, o.nick FROM things t JOIN owners o ON o.thing_x = t.x", []string{"INTEGER", "VARCHAR(20)"}},
		{"SELECT sum(price) FROM things GROUP BY name ORDER BY 1", []string{"NUMERIC(10,2)"}},
		{"WITH big AS (SELECT x FROM things WHERE x > 10) SELECT count(*), max(x) FROM big", []string{"INTEGER", "INTEGER"}},
		{"SELECT CASE WHEN x > 1 THEN x ELSE 0 END + 1, x FROM things", []string{"INTEGER", "INTEGER"}},
		{"SELECT (SELECT max(x) FROM things), (x + 1) * 2 FROM things", []string{"", "INTEGER"}},
		{"SELECT DISTINCT round(r, 1), date(born) FROM things", []string{"REAL", "TEXT"}},
		{"SELECT sum(x) FILTER (WHERE x > 0) FROM things", []string{"INTEGER"}},
		{"SELECT * FROM things", []string{"INTEGER", "REAL", "TEXT", "NUMERIC(10,2)", "BOOLEAN", "DATE"}},
		{"SELECT nope(x) FROM things", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			cols, err := (Dialect{}).Columns(ctx, conn, tt.query)
			if err != nil && tt.query != "SELECT nope(x) FROM things" {
				t.Fatal(err)
			}
			if err != nil {
				return // SQLite refuses an unknown function at prepare: nothing to type
			}
			if len(cols) != len(tt.want) {
				t.Fatalf("%d columns, want %d", len(cols), len(tt.want))
			}
			for i, c := range cols {
				if c.DBType != tt.want[i] {
					t.Errorf("column %d (%s): %q, want %q", i, c.Name, c.DBType, tt.want[i])
				}
			}
		})
	}
}

func TestParseSelectNeverPanics(t *testing.T) {
	for _, q := range []string{"", "SELECT", "SELECT (", "SELECT a,", "SELECT ) FROM", "WITH x AS (", "SELECT CAST(", "SELECT CASE", "SELECT f(,) FROM t", "SELECT a AS"} {
		inferTypes(q, []string{"", ""}, func(string) ([]string, error) { return nil, nil })
	}
}

// FuzzInferTypes: the select-list parser and typer see client SQL; they
// must never panic, whatever the text.
func FuzzInferTypes(f *testing.F) {
	for _, s := range []string{
		"SELECT sum(x) AS s, CASE WHEN a > 1 THEN 'x' END FROM t WHERE y = $1 GROUP BY z",
		"WITH c AS (SELECT 1) SELECT CAST(a AS INT), (SELECT 2), f(DISTINCT a, b) FILTER (WHERE c) OVER w FROM c",
		"SELECT -x * (2.5 + y) || 'a', x IS NOT NULL, t.* FROM t JOIN u USING (id) ORDER BY 1 LIMIT 2",
		"SELECT CASE CASE a WHEN 1 THEN 2 END WHEN 2 THEN x'00' ELSE NULL END",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		cols := []string{"", "", ""}
		inferTypes(q, cols, func(string) ([]string, error) { return []string{"INTEGER"}, nil })
	})
}

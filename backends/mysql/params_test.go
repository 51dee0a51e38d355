package mysql

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// testTables is a schema for the parameter typing tests.
var testTables = map[string]*tableInfo{
	"pets":   {cols: []columnInfo{{"id", "INT"}, {"name", "VARCHAR"}, {"alive", "TINYINT(1)"}, {"photo", "BLOB"}, {"born", "DATETIME"}}},
	"owners": {cols: []columnInfo{{"id", "INT"}, {"pet_id", "INT"}, {"since", "DATE"}, {"doc", "JSON"}}},
}

func TestParamTypes(t *testing.T) {
	tests := []struct {
		name  string
		query string
		n     int
		want  []string
	}{
		{"insert with columns", "INSERT INTO pets (name, alive, photo) VALUES ($1, $2, $3)", 3, []string{"VARCHAR", "TINYINT(1)", "BLOB"}},
		{"insert without columns", "INSERT INTO pets VALUES ($1, $2, $3, $4, $5)", 5, []string{"INT", "VARCHAR", "TINYINT(1)", "BLOB", "DATETIME"}},
		{"insert several rows", "INSERT INTO pets (alive, born) VALUES ($1, $2), ($3, $4)", 4, []string{"TINYINT(1)", "DATETIME", "TINYINT(1)", "DATETIME"}},
		{"insert ignore, backticks", "INSERT IGNORE INTO `pets` (`alive`) VALUES ($1)", 1, []string{"TINYINT(1)"}},
		{"insert expression is not the column's", "INSERT INTO pets (id, name) VALUES ($1 + 1, CONCAT($2, 'x'))", 2, []string{"", ""}},
		{"insert on duplicate key update", "INSERT INTO pets (id, alive) VALUES ($1, $2) ON DUPLICATE KEY UPDATE alive = $3", 3, []string{"INT", "TINYINT(1)", "TINYINT(1)"}},
		{"insert set", "INSERT INTO pets SET alive = $1, born = $2", 2, []string{"TINYINT(1)", "DATETIME"}},
		{"update", "UPDATE pets SET alive = $1, photo = $2 WHERE id = $3", 3, []string{"TINYINT(1)", "BLOB", "INT"}},
		{"where both sides", "SELECT * FROM pets WHERE $1 < born AND alive <> $2", 2, []string{"DATETIME", "TINYINT(1)"}},
		{"alias", "SELECT p.name FROM pets AS p JOIN owners o ON o.pet_id = p.id WHERE o.since >= $1 AND p.alive = $2", 2, []string{"DATE", "TINYINT(1)"}},
		{"bare alias", "SELECT * FROM pets p WHERE p.born = $1", 1, []string{"DATETIME"}},
		{"column of the second table", "SELECT * FROM pets, owners WHERE since = $1", 1, []string{"DATE"}},
		{"in list", "DELETE FROM pets WHERE alive IN ($1, $2)", 2, []string{"TINYINT(1)", "TINYINT(1)"}},
		{"limit and offset", "SELECT * FROM pets LIMIT $1 OFFSET $2", 2, []string{"BIGINT", "BIGINT"}},
		{"limit with comma", "SELECT * FROM pets LIMIT $1, $2", 2, []string{"BIGINT", "BIGINT"}},
		{"repeated parameter keeps its first type", "SELECT * FROM pets WHERE alive = $1 OR id = $1", 1, []string{"TINYINT(1)"}},
		{"unknown table", "SELECT * FROM nowhere WHERE x = $1", 1, []string{""}},
		{"unknown column", "SELECT * FROM pets WHERE nope = $1", 1, []string{""}},
		{"in a string is no parameter", "SELECT * FROM pets WHERE name = '$1' AND alive = $1", 1, []string{"TINYINT(1)"}},
		{"no tables", "SELECT $1", 1, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := paramTypes(tt.query, tt.n, testTables)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("paramTypes(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

func TestTableRefs(t *testing.T) {
	tests := []struct {
		query string
		want  []tableRef
	}{
		{"SELECT * FROM a", []tableRef{{"a", ""}}},
		{"SELECT * FROM a AS x, `B` y WHERE 1", []tableRef{{"a", "x"}, {"b", "y"}}},
		{"SELECT * FROM a JOIN b ON a.id = b.id LEFT JOIN c USING (id)", []tableRef{{"a", ""}, {"b", ""}, {"c", ""}}},
		{"SELECT * FROM (SELECT * FROM inner_t) AS d", []tableRef{{"inner_t", ""}}},
		{"SELECT * FROM otherdb.t", nil},
		{"INSERT INTO t (a) VALUES (1)", []tableRef{{"t", ""}}},
		{"INSERT t (a) VALUES (1)", []tableRef{{"t", ""}}},
		{"REPLACE LOW_PRIORITY INTO t VALUES (1)", []tableRef{{"t", ""}}},
		{"UPDATE t SET a = 1", []tableRef{{"t", ""}}},
		{"DELETE FROM t WHERE a = 1", []tableRef{{"t", ""}}},
		{"SELECT REPLACE(a, 'x', 'y') FROM t", []tableRef{{"t", ""}}},
		{`SELECT "FROM x" FROM t`, []tableRef{{"t", ""}}},
	}
	for _, tt := range tests {
		got := tableRefs(sqltext.Significant(tt.query))
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("tableRefs(%q) = %v, want %v", tt.query, got, tt.want)
		}
	}
}

func TestColumnsQueryQuotes(t *testing.T) {
	s := newSchema(true)
	q := s.columnsQuery([]string{"pets", "o'brien"})
	if want := "IN ('pets', 'o''brien')"; !strings.Contains(q, want) {
		t.Errorf("columnsQuery = %s\nwant it to contain %s", q, want)
	}
	if !strings.Contains(q, "json_valid") {
		t.Errorf("MariaDB's query does not look for json_valid checks: %s", q)
	}
	if strings.Contains(newSchema(false).columnsQuery([]string{"t"}), "CHECK_CONSTRAINTS") {
		t.Error("MySQL's query reads CHECK_CONSTRAINTS, which has no TABLE_NAME there")
	}
}

// The schema cache reads what it lacks in one query, trusts it for the
// TTL, remembers tables that do not exist, and forgets everything on DDL.
func TestSchemaCache(t *testing.T) {
	s := newSchema(false)
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	var queries []string
	run := func(_ context.Context, q string) ([][]string, error) {
		queries = append(queries, q)
		return [][]string{{"Pets", "ID", "int(11)", "0"}, {"pets", "alive", "tinyint(1)", "0"}}, nil
	}
	ctx := context.Background()
	got, err := s.lookup(ctx, run, []string{"pets", "nowhere"})
	if err != nil {
		t.Fatal(err)
	}
	if got["pets"].column("alive") != "TINYINT(1)" || got["pets"].column("id") != "INT" {
		t.Errorf("pets = %+v", got["pets"])
	}
	if c := got["nowhere"]; c == nil || len(c.cols) != 0 {
		t.Errorf("a missing table is remembered as empty, got %+v", c)
	}
	if _, err := s.lookup(ctx, run, []string{"pets", "nowhere"}); err != nil || len(queries) != 1 {
		t.Fatalf("cached lookup ran %d queries, want 1 (err %v)", len(queries), err)
	}
	now = now.Add(schemaTTL)
	s.lookup(ctx, run, []string{"pets"})
	if len(queries) != 2 {
		t.Fatalf("after the TTL: %d queries, want 2", len(queries))
	}
	s.invalidate()
	s.lookup(ctx, run, []string{"pets"})
	if len(queries) != 3 {
		t.Fatalf("after invalidate: %d queries, want 3", len(queries))
	}
	if _, err := s.lookup(ctx, run, []string{`back\slash`}); err != nil || len(queries) != 3 {
		t.Errorf("a name with a backslash was asked for (%d queries, err %v)", len(queries), err)
	}
}

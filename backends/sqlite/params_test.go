package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// testConn opens a database in a temp dir with schema and returns one of
// its connections; everything closes when the test ends.
func testConn(t *testing.T, schema string) *sql.Conn {
	t.Helper()
	ctx := context.Background()
	b, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "t.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if _, err := b.DB().ExecContext(ctx, schema); err != nil {
		t.Fatal(err)
	}
	conn, err := b.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestParamTypes(t *testing.T) {
	ctx := context.Background()
	conn := testConn(t, `CREATE TABLE u (id INTEGER, flag BOOLEAN, day DATE, raw BLOB);
		CREATE TABLE o (uid INTEGER, note TEXT)`)
	tests := []struct {
		query string
		n     int
		want  []string
	}{
		{"INSERT INTO u VALUES ($1, $2, $3, $4)", 4, []string{"INTEGER", "BOOLEAN", "DATE", "BLOB"}},
		{"INSERT INTO u (raw, flag) VALUES ($2, $1), ($3, $4)", 4, []string{"BOOLEAN", "BLOB", "BLOB", "BOOLEAN"}},
		{"INSERT INTO u (id) VALUES ($1 + 1)", 1, []string{""}},
		{"INSERT OR REPLACE INTO u (day) VALUES ($1) RETURNING id", 1, []string{"DATE"}},
		{"UPDATE u SET flag = $1, day = $2 WHERE id = $3", 3, []string{"BOOLEAN", "DATE", "INTEGER"}},
		{"DELETE FROM u WHERE raw = $1 OR $2 < day", 2, []string{"BLOB", "DATE"}},
		{"SELECT id FROM u WHERE flag = $1 AND id IN ($2, $3)", 3, []string{"BOOLEAN", "INTEGER", "INTEGER"}},
		{"SELECT u.id FROM u JOIN o ON o.uid = u.id WHERE o.note = $1 AND u.flag <> $2", 2, []string{"TEXT", "BOOLEAN"}},
		{"SELECT $1", 1, []string{""}},
		{"SELECT id FROM u WHERE nosuch = $1", 1, []string{""}},
		{"VACUUM", 0, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := (Dialect{}).ParamTypes(ctx, conn, tt.query, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("$%d: %q, want %q", i+1, got[i], tt.want[i])
				}
			}
		})
	}
}

func FuzzParamTypes(f *testing.F) {
	f.Add("INSERT INTO u (a, b) VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING", 4)
	f.Add("UPDATE OR IGNORE t SET a = $1 WHERE b IN ($2, $3) AND $4 > c.d", 4)
	f.Add("DELETE FROM s.t WHERE x = $9", 9)
	f.Fuzz(func(t *testing.T, q string, n int) {
		if n < 0 || n > 100 {
			return
		}
		if got := paramTypes(q, n, func(string) ([]string, error) { return []string{"INTEGER"}, nil }); len(got) != n {
			t.Fatalf("%d types for %d parameters", len(got), n)
		}
	})
}

package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

func TestParamTypes(t *testing.T) {
	ctx := context.Background()
	b, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.DB().ExecContext(ctx, `CREATE TABLE u (id INTEGER, flag BOOLEAN, day DATE, raw BLOB);
		CREATE TABLE o (uid INTEGER, note TEXT)`); err != nil {
		t.Fatal(err)
	}
	conn, err := b.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
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

package mysql

import (
	"testing"

	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// FuzzParamTypes feeds client statements to the parameter typing and the
// table finder, which read any text a client sends: they must not panic,
// and must type exactly n parameters.
func FuzzParamTypes(f *testing.F) {
	for _, q := range []string{
		"INSERT INTO pets (name, alive) VALUES ($1, $2), ($3, $4)",
		"INSERT INTO pets VALUES ($1",
		"UPDATE pets p SET p.alive = $1 WHERE p.id IN ($2, $3",
		"SELECT * FROM pets AS p JOIN owners o ON o.pet_id = p.id WHERE $1 < p.born LIMIT $2, $3",
		"DELETE FROM `pets` WHERE `alive` = $1 -- $2",
		"SELECT * FROM (SELECT * FROM owners) x, pets WHERE since = $1 OR alive <=> $2",
		"INSERT INTO owners SET doc = $1 ON DUPLICATE KEY UPDATE since = $2 RETURNING id",
		"FROM , , JOIN . INTO ( TABLE",
		"INSERT INTO pets ( VALUES ) ,$1",
	} {
		f.Add(q, uint8(4))
	}
	f.Fuzz(func(t *testing.T, q string, n uint8) {
		refs := tableRefs(sqltext.Significant(q))
		for _, r := range refs {
			if r.name == "" {
				t.Fatalf("empty table name from %q", q)
			}
		}
		if got := paramTypes(q, int(n), testTables); len(got) != int(n) {
			t.Fatalf("%d types for %d parameters", len(got), n)
		}
		declTypeName(q, n%2 == 0)
	})
}

package integration

import (
	"testing"
)

func TestScratch(t *testing.T) {
	p := startProxy(t, sqliteSecrets("db"))
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			c := p.Connect(t, "db", mode)
			mustExec(t, c, "CREATE TABLE IF NOT EXISTS t (a INTEGER)")
			mustExec(t, c, "INSERT INTO t VALUES (1),(2)")
			var n int64
			err := c.QueryRow(ctxT(t), "SELECT count(*) FROM t").Scan(&n)
			t.Logf("count: %d %v", n, err)
			var f float64
			var s string
			var b []byte
			err = c.QueryRow(ctxT(t), "SELECT 1.5, 'x', x'00ff'").Scan(&f, &s, &b)
			t.Logf("expr: %v %q %v %v", f, s, b, err)
			rows, _ := c.Query(ctxT(t), "SELECT 1+1, 1.5, 'x', x'00ff', NULL")
			for rows.Next() {
				v, err := rows.Values()
				t.Logf("values %#v %v", v, err)
				for _, fd := range rows.FieldDescriptions() { t.Logf("fd %s %d %d", fd.Name, fd.DataTypeOID, fd.Format) }
			}
			t.Log(rows.Err())
		})
	}
}

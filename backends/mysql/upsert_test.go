package mysql

import "testing"

func TestUpsertRows(t *testing.T) {
	for q, want := range map[string]int64{
		"INSERT INTO t VALUES (1, 2) ON DUPLICATE KEY UPDATE v = VALUES(v)":                  1,
		"insert into t (a, b) values (1, 2), (3, (4)), (?, ?) on duplicate key update b = 1": 3,
		"INSERT INTO t VALUES (1, 2) AS n ON DUPLICATE KEY UPDATE v = n.v":                   1,
		"INSERT INTO t VALUE (1), (2) ON DUPLICATE KEY UPDATE v = 1":                         2,
		"INSERT INTO t SET a = 1, b = (2) ON DUPLICATE KEY UPDATE b = 3":                     1,
		"INSERT INTO t SELECT * FROM u ON DUPLICATE KEY UPDATE b = 3":                        0,
		"INSERT INTO t VALUES (1, 2)":                                                        0,
		"INSERT INTO t VALUES ('ON DUPLICATE KEY UPDATE')":                                   0,
		"UPDATE t SET duplicate = 1":                                                         0,
	} {
		if got := upsertRows(q); got != want {
			t.Errorf("%s: %d, want %d", q, got, want)
		}
	}
}

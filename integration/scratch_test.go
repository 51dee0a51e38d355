package integration

import (
	"testing"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestScratch(t *testing.T) {
	pc := connectPgconn(t, pgURL(), func(c *pgconn.Config){ c.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice){ t.Logf("NOTICE %s %s %s", n.Severity, n.Code, n.Message) } })
	ctx := ctxT(t)
	for _, s := range []string{"CREATE TEMP TABLE s (id int primary key)", "BEGIN", "INSERT INTO s VALUES (1)", "SAVEPOINT a", "INSERT INTO s VALUES (2)", "ROLLBACK TO SAVEPOINT a",
	"SAVEPOINT b", "RELEASE SAVEPOINT b", "SAVEPOINT c", "INSERT INTO s VALUES (1)", "INSERT INTO s VALUES (5)", "ROLLBACK TO c", "ROLLBACK TO SAVEPOINT nope", "ROLLBACK TO SAVEPOINT a", "COMMIT", "SAVEPOINT x", "RELEASE SAVEPOINT x", "SET LOCAL search_path = x", "SHOW search_path", "ROLLBACK TO SAVEPOINT x"} {
		res, err := execSimple(ctx, pc, s)
		tag := ""
		if len(res) > 0 { tag = res[0].CommandTag.String() }
		t.Logf("%-35s %q %v %c", s, tag, err, pc.TxStatus())
	}
}

package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Transaction pooling: clients hold a server connection only while a
// transaction or request is in progress.

// 50 clients share 5 server connections, each using named prepared
// statements (pgx's statement cache) inside and outside transactions.
func TestPostgresTransactionPool50Clients(t *testing.T) {
	table := "xcp_tx_" + randHex()
	admin := directPG(t)
	if err := admin.Exec(ctxT(t), "CREATE TABLE "+table+" (client INT, n INT)").Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP TABLE "+table).Close() })
	p := startProxy(t, pgSecrets(t, "pg", "pool_size = 5\npool_mode = \"transaction\"\npool_timeout = \"60s\""), proxyOptions{quiet: true})

	const clients, rounds = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, p.URL("pg")) // cache_statement: named statements
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(ctx)
			for i := 0; i < rounds; i++ {
				tx, err := conn.Begin(ctx)
				if err != nil {
					errs <- err
					return
				}
				if _, err := tx.Exec(ctx, "INSERT INTO "+table+" VALUES ($1, $2)", c, i); err != nil {
					errs <- fmt.Errorf("client %d insert: %w", c, err)
					return
				}
				var mine int
				if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE client = $1", c).Scan(&mine); err != nil || mine != i+1 {
					errs <- fmt.Errorf("client %d sees %d of its rows inside its transaction, want %d: %v", c, mine, i+1, err)
					return
				}
				if err := tx.Commit(ctx); err != nil {
					errs <- err
					return
				}
				var one int
				if err := conn.QueryRow(ctx, "SELECT $1::int + 0", 1).Scan(&one); err != nil || one != 1 {
					errs <- fmt.Errorf("client %d: %v", c, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	res, err := admin.Exec(ctxT(t), "SELECT count(*), count(DISTINCT client) FROM "+table).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res[0].Rows[0][0]) + "/" + string(res[0].Rows[0][1]); got != fmt.Sprintf("%d/%d", clients*rounds, clients) {
		t.Fatalf("rows/clients = %s", got)
	}
}

// The pool never has more than pool_size server connections, whatever the
// number of clients.
func TestPostgresTransactionPoolSize(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", "pool_size = 2\npool_mode = \"transaction\"\nquery = { application_name = \"xcp_pool_size\" }"), proxyOptions{quiet: true})
	var conns []*pgconn.PgConn
	for i := 0; i < 10; i++ {
		c, err := pgconn.Connect(ctxT(t), p.URL("pg"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		if err := c.Exec(ctxT(t), "SELECT 1").Close(); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	admin := directPG(t)
	res, err := admin.Exec(ctxT(t), "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'xcp_pool_size'").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if n := string(res[0].Rows[0][0]); n == "0" || n > "2" {
		t.Fatalf("%s server connections for 10 clients, want 1 or 2", n)
	}
}

// An error in the middle of a batch rolls the batch back and the client
// goes on; named statements keep working on whatever connection comes next.
func TestPostgresTransactionPoolErrors(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", "pool_size = 1\npool_mode = \"transaction\""))
	c := p.Connect(t, "pg")
	ctx := ctxT(t)
	mustExec(t, c, "CREATE TABLE IF NOT EXISTS xcp_txerr (id INT PRIMARY KEY)")
	t.Cleanup(func() { _ = directPG(t).Exec(context.Background(), "DROP TABLE IF EXISTS xcp_txerr").Close() })
	mustExec(t, c, "DELETE FROM xcp_txerr")
	b := &pgx.Batch{}
	b.Queue("INSERT INTO xcp_txerr VALUES ($1)", 1)
	b.Queue("INSERT INTO xcp_txerr VALUES ($1)", 1)
	b.Queue("INSERT INTO xcp_txerr VALUES ($1)", 2)
	err := c.SendBatch(ctx, b).Close()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" {
		t.Fatalf("batch: %v", err)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM xcp_txerr").Scan(&n); err != nil || n != 0 {
		t.Fatalf("after the failed batch: %d rows, %v", n, err)
	}
	// A failing Parse inside a batch does not leave a phantom statement.
	_, err = c.Exec(ctx, "SELECT nope FROM xcp_txerr WHERE id = $1", 1)
	if !errors.As(err, &pe) || pe.Code != "42703" {
		t.Fatalf("bad column: %v", err)
	}
	other := p.Connect(t, "pg")
	for i := 0; i < 3; i++ {
		for _, conn := range []*pgx.Conn{c, other} {
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM xcp_txerr WHERE id > $1", i).Scan(&n); err != nil {
				t.Fatalf("named statement after errors: %v", err)
			}
		}
	}
}

// Each client keeps its own settings on a shared server connection.
func TestPostgresTransactionPoolSettings(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", "pool_size = 1\npool_mode = \"transaction\""))
	a, err := pgconn.Connect(ctxT(t), p.URL("pg")+"&application_name=client_a&options=-c%20search_path%3Da_schema")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	b, err := pgconn.Connect(ctxT(t), p.URL("pg")+"&application_name=client_b")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	for i := 0; i < 3; i++ {
		for name, c := range map[string]*pgconn.PgConn{"client_a": a, "client_b": b} {
			res, err := c.Exec(ctxT(t), "SELECT current_setting('application_name'), current_setting('search_path')").ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			row := res[0].Rows[0]
			if string(row[0]) != name {
				t.Fatalf("%s sees application_name %q", name, row[0])
			}
			if name == "client_a" && string(row[1]) != "a_schema" || name == "client_b" && strings.Contains(string(row[1]), "a_schema") {
				t.Fatalf("%s sees search_path %q", name, row[1])
			}
		}
	}
}

// Every pgx exec mode works under transaction pooling with clients
// interleaved on few connections, the unnamed-statement modes included
// (describe-exec parses in one Sync and binds in the next).
func TestPostgresTransactionPoolEveryMode(t *testing.T) {
	p := startProxy(t, pgSecrets(t, "pg", "pool_size = 2\npool_mode = \"transaction\""), proxyOptions{quiet: true})
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			cfg, err := pgx.ParseConfig(p.URL("pg"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.DefaultQueryExecMode = mode
			var wg sync.WaitGroup
			for c := 0; c < 6; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					conn, err := pgx.ConnectConfig(ctxT(t), cfg)
					if err != nil {
						t.Error(err)
						return
					}
					defer conn.Close(context.Background())
					for j := 0; j < 30; j++ {
						var got string
						if err := conn.QueryRow(ctxT(t), "SELECT $1::text || $2::text", fmt.Sprint(c), fmt.Sprint(j)).Scan(&got); err != nil || got != fmt.Sprint(c)+fmt.Sprint(j) {
							t.Errorf("client %d round %d: %q, %v", c, j, got, err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/xconnproxy/xconnproxy/backends/sqlite"
)

const benchRows = 10000

// BenchmarkPointSelect compares a primary-key lookup run on modernc
// in-process (the floor: no network, no protocol) with the same lookup
// through the proxy over loopback, per pgx exec mode. The ratio is the cost
// of the protocol, the socket round trip and the bridge.
func BenchmarkPointSelect(b *testing.B) {
	p := startProxy(b, sqliteSecrets("bench"), proxyOptions{quiet: true})
	ctx := context.Background()
	setup := p.Connect(b, "bench")
	mustExec(b, setup, "CREATE TABLE pet_owners (id INTEGER PRIMARY KEY, person TEXT, pet TEXT)")
	mustExec(b, setup, fmt.Sprintf(`INSERT INTO pet_owners (id, person, pet)
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
		SELECT i, 'person' || i, 'pet' || i FROM n`, benchRows))

	b.Run("modernc-in-process", func(b *testing.B) {
		be, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(p.Dir, "bench.db")})
		if err != nil {
			b.Fatal(err)
		}
		defer be.Close()
		conn, err := be.DB().Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		st, err := conn.PrepareContext(ctx, "SELECT person, pet FROM pet_owners WHERE id = ?")
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		b.ReportAllocs()
		b.ResetTimer()
		var person, pet string
		for i := 0; b.Loop(); i++ {
			if err := st.QueryRowContext(ctx, int64(i%benchRows+1)).Scan(&person, &pet); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The protocol's own floor: the same lookup by pgx on PostgreSQL itself
	// over the same loopback, when PostgreSQL is there.
	b.Run("postgres-direct-pgx-cache_statement", func(b *testing.B) {
		c, err := pgx.Connect(ctx, pgURL())
		if err != nil {
			b.Skipf("PostgreSQL not reachable: %v", err)
		}
		defer c.Close(ctx)
		mustExec(b, c, "CREATE TEMP TABLE pet_owners (id INTEGER PRIMARY KEY, person TEXT, pet TEXT)")
		mustExec(b, c, fmt.Sprintf("INSERT INTO pet_owners SELECT i, 'person' || i, 'pet' || i FROM generate_series(1, %d) i", benchRows))
		b.ReportAllocs()
		b.ResetTimer()
		var person, pet string
		for i := 0; b.Loop(); i++ {
			if err := c.QueryRow(ctx, "SELECT person, pet FROM pet_owners WHERE id = $1", int64(i%benchRows+1)).Scan(&person, &pet); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		b.Run("proxy-pgx-"+mode.String(), func(b *testing.B) {
			c := p.Connect(b, "bench", mode)
			b.ReportAllocs()
			b.ResetTimer()
			var person, pet string
			for i := 0; b.Loop(); i++ {
				if err := c.QueryRow(ctx, "SELECT person, pet FROM pet_owners WHERE id = $1", int64(i%benchRows+1)).Scan(&person, &pet); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPostgresPoolModes is one autocommit point query per iteration
// through the proxy in each pool mode, and directly: the cost of taking and
// giving back a server connection per transaction.
func BenchmarkPostgresPoolModes(b *testing.B) {
	directPG(b) // skips when PostgreSQL is down
	for _, mode := range []string{"direct", "session", "transaction"} {
		b.Run(mode, func(b *testing.B) {
			url := pgURL()
			if mode != "direct" {
				p := startProxy(b, pgSecrets(b, "pg", "pool_mode = \""+mode+"\""), proxyOptions{quiet: true})
				url = p.URL("pg")
			}
			c, err := pgx.Connect(context.Background(), url)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(context.Background())
			var n int64
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := c.QueryRow(context.Background(), "SELECT $1::int8 + 1", int64(i)).Scan(&n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

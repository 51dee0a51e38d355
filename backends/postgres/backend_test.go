package postgres

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xconnproxy/xconnproxy/backends"
)

func testConfig(t *testing.T) *pgconn.Config {
	t.Helper()
	url := os.Getenv("XCONNPROXY_TEST_PG")
	if url == "" {
		url = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		if os.Getenv("XCONNPROXY_REQUIRE_BACKENDS") == "1" {
			t.Fatalf("PostgreSQL required: %v", err)
		}
		t.Skipf("PostgreSQL not reachable: %v", err)
	}
	c.Close(ctx)
	return cfg
}

// The idle timeout closes the oldest idle connections first and keeps
// MinIdle; the reaper is driven with an explicit time, not by sleeping.
func TestReapIdleKeepsMinimum(t *testing.T) {
	b := New(testConfig(t), Options{Name: "t", PoolSize: 5, IdleTimeout: -1, MinIdle: 1})
	b.opts.IdleTimeout = time.Minute // the reaper goroutine is off (negative), reapIdle is called by hand
	defer b.Close()
	ctx := context.Background()
	var sessions []backends.Session
	for i := 0; i < 3; i++ {
		s, err := b.Open(ctx, backends.SessionParams{User: "u", Database: "d"})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	for _, s := range sessions {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.Idle(); n != 3 {
		t.Fatalf("%d idle connections after three sessions, want 3 (returned clean)", n)
	}
	if closed := b.reapIdle(time.Now()); closed != 0 {
		t.Fatalf("reaped %d connections that were not idle long enough", closed)
	}
	if closed := b.reapIdle(time.Now().Add(2 * time.Minute)); closed != 2 || b.Idle() != 1 {
		t.Fatalf("reaped %d, %d left; want 2 reaped and MinIdle = 1 kept", closed, b.Idle())
	}
	// The kept connection still works.
	s, err := b.Open(ctx, backends.SessionParams{User: "u", Database: "d"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

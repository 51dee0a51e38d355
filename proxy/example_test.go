package proxy_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"

	"github.com/xconnproxy/xconnproxy/proxy"
	"github.com/xconnproxy/xconnproxy/routing"
	"github.com/xconnproxy/xconnproxy/secrets"
)

// Serve a Streamlit secrets file and query it with pgx.
func Example() {
	dir, _ := os.MkdirTemp("", "xconnproxy-example")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "secrets.toml")
	os.WriteFile(file, []byte("[connections.pets_db]\nurl = \"sqlite://\"\n"), 0o600)

	cfg, err := secrets.Load(secrets.LoadOptions{Files: []string{file}})
	if err != nil {
		panic(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := routing.New(cfg, routing.Options{Logger: quiet})
	defer reg.Close()
	srv, err := proxy.New(proxy.Config{Router: reg, Logger: quiet})
	if err != nil {
		panic(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)
	defer srv.Close()

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, "postgres://me@"+l.Addr().String()+"/pets_db?sslmode=disable")
	if err != nil {
		panic(err)
	}
	defer conn.Close(ctx)
	conn.Exec(ctx, "CREATE TABLE pet_owners (person TEXT, pet TEXT)")
	conn.Exec(ctx, "INSERT INTO pet_owners VALUES ($1, $2)", "jerry", "fish")
	var person, pet string
	var n int64
	conn.QueryRow(ctx, "SELECT person, pet, count(*) FROM pet_owners").Scan(&person, &pet, &n)
	fmt.Println(person, pet, n)
	// Output: jerry fish 1
}

// Command xconnproxy serves the connections of Streamlit secrets files over
// the PostgreSQL wire protocol. Run `xconnproxy help` for usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	os.Exit(run(context.Background(), os.Args[1:], env{lookup: os.LookupEnv, stdout: os.Stdout, stderr: os.Stderr,
		signals: sig, hup: hup}))
}

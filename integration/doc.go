// Package integration holds xconnproxy's end-to-end tests: the proxy started
// in-process on 127.0.0.1:0, driven by real clients (pgx in every exec mode,
// database/sql with pgx's stdlib driver, the psql binary) against real
// backends (SQLite files in t.TempDir(), the local PostgreSQL and MariaDB).
//
// Services are found through XCONNPROXY_TEST_PG (a libpq URL, default
// postgres://postgres@127.0.0.1:5432/postgres) and XCONNPROXY_TEST_MYSQL
// (default root@tcp(127.0.0.1:3306)/test). A test that needs a missing
// service or binary skips with a message saying what is missing, unless
// XCONNPROXY_REQUIRE_BACKENDS=1 (CI sets it), where it fails instead.
//
// Benchmark scripts live under integration/bench.
package integration

// Package postgres will hold the PostgreSQL pass-through backend: client
// frames forwarded to a real server connection opened with pgconn (issue 3).
// For now it holds that backend's configuration mapping, ParseConfig, which
// turns the parts of a [connections.<name>] section into a *pgconn.Config.
//
// The package imports nothing of secrets (backends sit below it, see
// DESIGN.md); routing.PostgresSection copies a secrets.Connection into a
// Section.
package postgres

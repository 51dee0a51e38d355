package routing

import (
	"github.com/xconnproxy/xconnproxy/backends/postgres"
	"github.com/xconnproxy/xconnproxy/secrets"
)

// PostgresSection maps a connection section whose dialect is postgresql to
// the PostgreSQL backend's settings; postgres.ParseConfig turns them into a
// pgconn config. Every url form reads the same: postgresql://, postgres://,
// psql:// and the SQLAlchemy driver forms (postgresql+psycopg2://, +psycopg,
// +asyncpg, +pg8000, or any other driver), since secrets has already folded
// them into one dialect and the proxy opens every PostgreSQL connection with
// pgconn whatever Python driver the url names; c.Driver is therefore not
// passed on. The section's Query map is shared, not copied: ParseConfig only
// reads it.
func PostgresSection(c *secrets.Connection) postgres.Section {
	return postgres.Section{
		Username: c.Username,
		Password: c.Password,
		Host:     c.Host,
		Port:     c.Port,
		Database: c.Database,
		Query:    c.Query,
	}
}

package routing

import (
	"context"
	"fmt"

	"github.com/xconnproxy/xconnproxy/backends"
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

// OpenPostgres opens a PostgreSQL connection section: a pool of server
// connections with the section's credentials, never the client's.
//
// Pool settings are keys of the section: pool_size (default 20),
// pool_timeout (how long a client waits for a free server connection,
// default "30s"), pool_idle_timeout (default "10m"; "0" keeps idle
// connections), pool_min_idle (idle connections the idle timeout leaves
// open, default 0), retry_timeout (how long opening a server connection is
// retried while the server is unreachable, default "30s"),
// pool_max_lifetime (default "1h"; "0" keeps connections), pool_mode ("session", the default, or "transaction":
// see postgres.TxSession).
func OpenPostgres(ctx context.Context, c *secrets.Connection) (backends.Backend, error) {
	cfg, err := postgres.ParseConfig(PostgresSection(c))
	if err != nil {
		return nil, err
	}
	opts := postgres.Options{Name: c.Name}
	for key, v := range c.Options {
		switch key {
		case "pool_size":
			n, err := poolSize(v)
			if err != nil {
				return nil, err
			}
			opts.PoolSize = n
		case "pool_timeout":
			d, err := positiveDuration(key, v)
			if err != nil {
				return nil, err
			}
			opts.PoolTimeout = d
		case "pool_idle_timeout":
			d, err := keepDuration(key, v)
			if err != nil {
				return nil, err
			}
			opts.IdleTimeout = d
		case "pool_min_idle":
			n, ok := v.(int64)
			if !ok || n < 0 {
				return nil, fmt.Errorf("pool_min_idle = %v: want a whole number, 0 or more", v)
			}
			opts.MinIdle = int(n)
		case "retry_timeout":
			d, err := positiveDuration(key, v)
			if err != nil {
				return nil, err
			}
			opts.RetryTimeout = d
		case "pool_max_lifetime":
			d, err := keepDuration(key, v)
			if err != nil {
				return nil, err
			}
			opts.MaxLifetime = d
		case "pool_mode":
			switch v {
			case "session":
				opts.Mode = postgres.SessionMode
			case "transaction":
				opts.Mode = postgres.TransactionMode
			default:
				return nil, fmt.Errorf(`pool_mode = %v: want "session" or "transaction"`, v)
			}
		}
	}
	return postgres.New(cfg, opts), nil
}

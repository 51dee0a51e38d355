package routing

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/backends/sqlite"
	"github.com/xconnproxy/xconnproxy/secrets"
)

// DefaultOpeners returns the openers of every dialect this build serves.
func DefaultOpeners() map[string]Opener {
	return map[string]Opener{
		"sqlite":     OpenSQLite,
		"postgresql": OpenPostgres,
		"mysql":      OpenMySQL,
		"mariadb":    OpenMySQL,
	}
}

// SQLiteConfig maps a connection section to the SQLite backend's config.
// The path is taken as SQLAlchemy does: sqlite:///pets.db is relative to the
// proxy's working directory, sqlite:////abs/pets.db is absolute, and
// sqlite:// is an in-memory database. Query parameters: mode=ro opens
// read-only; timeout (seconds, as Python's sqlite3.connect takes it) sets the
// busy timeout.
func SQLiteConfig(c *secrets.Connection) (sqlite.Config, error) {
	cfg := sqlite.Config{Path: c.Database}
	if cfg.Path != "" && cfg.Path != ":memory:" {
		abs, err := filepath.Abs(cfg.Path)
		if err != nil {
			return cfg, err
		}
		cfg.Path = abs
	}
	for k, v := range c.Query {
		switch k {
		case "mode":
			switch v {
			case "ro":
				cfg.ReadOnly = true
			case "rw", "rwc":
			default:
				return cfg, fmt.Errorf("query parameter mode=%q: use ro, rw or rwc", v)
			}
		case "timeout":
			secs, err := strconv.ParseFloat(v, 64)
			if err != nil || secs < 0 {
				return cfg, fmt.Errorf("query parameter timeout=%q: want a number of seconds", v)
			}
			cfg.BusyTimeout = time.Duration(secs * float64(time.Second))
		case "uri", "check_same_thread", "cached_statements", "isolation_level", "detect_types":
			// Python sqlite3 connect arguments with no meaning here.
		default:
			return cfg, fmt.Errorf("unknown query parameter %q for sqlite (known: mode, timeout)", k)
		}
	}
	return cfg, nil
}

// OpenSQLite opens a SQLite connection section.
func OpenSQLite(ctx context.Context, c *secrets.Connection) (backends.Backend, error) {
	cfg, err := SQLiteConfig(c)
	if err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, cfg)
}

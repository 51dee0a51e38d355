package bridge

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

// Options tune a bridged backend.
type Options struct {
	// SerializeWrites makes writers take an in-process lock, one writer at a
	// time: a write statement outside a transaction holds it for the
	// statement, a transaction that may write holds it from BEGIN to its end.
	// SQLite needs this: its own busy handler polls and cannot resolve two
	// deferred transactions that both want to write.
	SerializeWrites bool
	// LockTimeout is how long a writer waits for the lock before failing with
	// 55P03. Zero means 5 seconds.
	LockTimeout time.Duration
	// ZonelessTimestamps passes timestamptz parameters to the driver as UTC
	// text without a zone ("2024-05-01 12:00:00.5"), which is what
	// PostgreSQL stores when such a value meets a timestamp column with
	// TimeZone UTC. MySQL needs this: its DATETIME input refuses a zone
	// suffix. False keeps the zone ("...Z"), which SQLite stores as text.
	ZonelessTimestamps bool
	// RetryTimeout is how long opening a server connection is retried,
	// with backoff, while the data source cannot be reached (a restart,
	// a network cut). Zero means one attempt (SQLite: a file).
	RetryTimeout time.Duration
	// MaxIdle is the pool's most idle connections (db.SetMaxIdleConns),
	// restored after a lost connection closed the idle ones (see reset).
	// Zero: the pool is never reset.
	MaxIdle int
}

// startTime answers pg_postmaster_start_time().
var startTime = time.Now()

// DefaultLockTimeout is Options.LockTimeout's default.
const DefaultLockTimeout = 5 * time.Second

// Backend serves PostgreSQL sessions from a database/sql pool.
type Backend struct {
	db      *sql.DB
	dialect Dialect
	lock    chan struct{} // nil unless SerializeWrites
	opts    Options
	retry   backends.Reconnector // opens connections while the server is down

	mu      sync.Mutex
	version string // the data source's version, once known
}

var _ backends.Backend = (*Backend)(nil)

// New returns a bridge over db. The Backend owns db and closes it.
func New(db *sql.DB, d Dialect, opts Options) *Backend {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	b := &Backend{db: db, dialect: d, opts: opts}
	b.retry.Timeout = opts.RetryTimeout
	if opts.SerializeWrites {
		b.lock = make(chan struct{}, 1)
	}
	return b
}

// DB returns the pool, for dialect-specific tests and tools.
func (b *Backend) DB() *sql.DB { return b.db }

// Ping checks the data source with a real round trip.
func (b *Backend) Ping(ctx context.Context) error {
	if err := b.db.PingContext(ctx); err != nil {
		return b.dialect.Error(err)
	}
	return nil
}

// Describe names the data source and its version.
func (b *Backend) Describe(ctx context.Context) (string, error) {
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return "", b.dialect.Error(err)
	}
	defer conn.Close()
	v, err := b.dialect.Version(ctx, conn)
	if err != nil {
		return "", b.dialect.Error(err)
	}
	return b.dialect.Name() + " " + v, nil
}

// Close closes the pool.
func (b *Backend) Close() error { return b.db.Close() }

// acquire takes the writer lock, waiting at most LockTimeout.
func (b *Backend) acquire(ctx context.Context) error {
	if b.lock == nil {
		return nil
	}
	select {
	case b.lock <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(b.opts.LockTimeout)
	defer t.Stop()
	select {
	case b.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return pgcode.WithHint(pgcode.LockNotAvailable,
			fmt.Sprintf("could not obtain the write lock within %s: another session is writing", b.opts.LockTimeout),
			"Another client holds an open transaction that writes; retry when it has committed.")
	}
}

func (b *Backend) release() {
	if b.lock != nil {
		<-b.lock
	}
}

// Open starts a client session on a connection of its own.
func (b *Backend) Open(ctx context.Context, p backends.SessionParams) (backends.Session, error) {
	set, err := startupSettings(p)
	if err != nil {
		return nil, err
	}
	conn, err := b.connect(ctx, p.Database)
	if err != nil {
		return nil, err
	}
	return newSession(b, conn, p, set, b.sourceVersion(ctx, conn)), nil
}

// reset closes the pool's idle connections: after one was found dead,
// the others opened before it are suspect (a restart or a network cut
// takes them all). Connections in use are checked before their next
// statement.
func (b *Backend) reset() {
	if b.opts.MaxIdle > 0 {
		b.db.SetMaxIdleConns(0)
		b.db.SetMaxIdleConns(b.opts.MaxIdle)
	}
}

// Unreachable reports whether the data source is known to be down: the
// last attempt to open a connection to it failed.
func (b *Backend) Unreachable() bool { return b.retry.Down() }

// connect takes a connection from the pool, opening one if none is idle.
// While the data source cannot be reached, opening is retried with backoff
// up to RetryTimeout, one session at a time (the others wait for it).
func (b *Backend) connect(ctx context.Context, database string) (*sql.Conn, error) {
	var conn *sql.Conn
	_, err := b.retry.Do(ctx, func(ctx context.Context) (err error) {
		conn, err = b.db.Conn(ctx)
		return err
	}, func(err error) bool {
		return ctx.Err() == nil && b.dialect.Error(err).Code == pgcode.ConnectionFailure
	}, func(last error) error {
		return &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.SQLClientUnableToEstablishConn,
			Message: fmt.Sprintf("could not open %s for database %q: the server was unreachable for %s; last error: %s",
				b.dialect.Name(), database, b.opts.RetryTimeout, b.dialect.Error(last).Message),
			Hint: "Check that the server is up and reachable; retry_timeout sets how long xconnproxy keeps trying."}
	})
	var pe *pgcode.Error
	switch {
	case err == nil:
		return conn, nil
	case errors.As(err, &pe):
		return nil, pe
	}
	e := b.dialect.Error(err)
	return nil, &pgcode.Error{Severity: pgcode.SeverityFatal, Code: pgcode.SQLClientUnableToEstablishConn,
		Message: fmt.Sprintf("could not open %s for database %q: %s", b.dialect.Name(), database, e.Message), Hint: e.Hint}
}

// sourceVersion asks the data source for its version once.
func (b *Backend) sourceVersion(ctx context.Context, conn *sql.Conn) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.version == "" {
		v, err := b.dialect.Version(ctx, conn)
		if err != nil {
			return "unknown"
		}
		b.version = v
	}
	return b.version
}

package proxy

import (
	"context"

	"github.com/jackc/pgx/v5/pgproto3"
)

// An Authenticator checks a client during startup, after the proxy knows
// which connection the client asked for and before it sends
// AuthenticationOk. It may exchange messages with the client through the
// frontend (password, SASL). Returning a *pgcode.Error sends it as FATAL.
type Authenticator interface {
	Authenticate(ctx context.Context, c AuthConn, user, database string) error
}

// AuthConn is the client connection during authentication.
type AuthConn interface {
	Send(pgproto3.BackendMessage) error
	Flush() error
	Receive() (pgproto3.FrontendMessage, error)
}

// Trust accepts every client, like PostgreSQL's "trust" method. The proxy
// listens on loopback by default for that reason.
type Trust struct{}

// Authenticate accepts.
func (Trust) Authenticate(context.Context, AuthConn, string, string) error { return nil }

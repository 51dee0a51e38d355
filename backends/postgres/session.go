package postgres

import (
	"context"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/backends"
)

// serverFlushThreshold bounds the client messages held before writing them
// to the server when no message asks for an answer yet (a long COPY).
const serverFlushThreshold = 32 << 10

// cleanupTimeout bounds the ROLLBACK and DISCARD ALL run before a server
// connection goes back to the pool.
const cleanupTimeout = 5 * time.Second

// ignoredStartup are startup parameters that are not run-time settings.
// session_authorization is what PostgreSQL sets from the authenticated
// user itself; a startup value for it is ignored there too.
var ignoredStartup = map[string]bool{"user": true, "database": true, "replication": true, "session_authorization": true}

// Open gives the client a server connection opened with its startup
// parameters, as if it had connected itself (an idle one opened with the
// same ones is reused).
func (b *Backend) Open(ctx context.Context, p backends.SessionParams) (backends.Session, error) {
	pairs, err := startupPairs(p.Options)
	if err != nil {
		return nil, err
	}
	st := newStartup(pairs)
	if b.opts.Mode == TransactionMode {
		return b.openTx(ctx, st)
	}
	// Session mode: the connection is the client's until it leaves. The
	// session is served as in transaction mode, with the connection
	// pinned, so that a lost one can be replaced (see TxSession).
	sc, err := b.acquire(ctx, st)
	if err != nil {
		return nil, err
	}
	l := loginOf(sc)
	return &TxSession{b: b, id: b.sessions.Add(1), startup: st, params: l.params, stmts: map[string]*stmtDef{},
		want: l.want, fixed: map[string]string{}, pinned: true, parked: sc}, nil
}

// startupPairs lists the run-time settings among startup parameters,
// sorted by name, with those of the options parameter (-c name=value).
func startupPairs(opts map[string]string) ([][2]string, error) {
	var pairs [][2]string
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		v := opts[k]
		switch {
		case ignoredStartup[k] || strings.HasPrefix(k, "_pq_."):
		case k == "options":
			kvs, err := backends.ParseOptions(v)
			if err != nil {
				return nil, err
			}
			for _, kv := range kvs {
				pairs = append(pairs, [2]string{kv[0], kv[1]})
			}
		default:
			pairs = append(pairs, [2]string{k, v})
		}
	}
	return pairs, nil
}

// setConfigSQL is one SELECT of set_config(name, value, false) per pair,
// evaluated left to right.
func setConfigSQL(pairs [][2]string) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, kv := range pairs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("pg_catalog.set_config(" + quoteLiteral(kv[0]) + ", " + quoteLiteral(kv[1]) + ", false)")
	}
	return b.String()
}

// cancel sends a cancel request for sc, as a client would: on a new
// connection to the same address, with the server's process ID and key.
func (sc *serverConn) cancel(ctx context.Context) error {
	addr := sc.conn.RemoteAddr()
	var d net.Dialer
	c, err := d.DialContext(ctx, addr.Network(), addr.String())
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	msg, err := (&pgproto3.CancelRequest{ProcessID: sc.pid, SecretKey: sc.secret}).Encode(nil)
	if err != nil {
		return err
	}
	if _, err := c.Write(msg); err != nil {
		return err
	}
	_, _ = c.Read(make([]byte, 1)) // the server closes when done
	return nil
}

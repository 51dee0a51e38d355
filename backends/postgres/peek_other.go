//go:build !unix

package postgres

import "net"

// peekSocket cannot look without waiting here: idle connections are
// taken as they are, and a dead one fails on use.
func peekSocket(net.Conn) bool { return false }

//go:build unix

package postgres

import (
	"net"
	"syscall"
)

// peekSocket reports whether c has something to read or was closed by the
// peer, without waiting and without consuming anything (MSG_PEEK).
func peekSocket(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	readable := false
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read is EAGAIN; data (n > 0), EOF (n == 0) and
		// errors such as ECONNRESET all mean the connection is done.
		_ = n
		readable = err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
		return true // never wait
	})
	return readable || err != nil
}

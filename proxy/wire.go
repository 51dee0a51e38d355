package proxy

import (
	"encoding/binary"
	"net"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"
)

// flushThreshold bounds how much output a session buffers before writing:
// a 20 MB result streams in 64 KiB writes instead of piling up in memory.
const flushThreshold = 64 << 10

// msgWriter buffers backend messages for one client and writes them in as
// few syscalls as the protocol allows: at ReadyForQuery, at a Flush request,
// or when the buffer is full.
//
// It is safe for concurrent use: a forwarding backend's reader goroutine
// writes the server's messages while the session goroutine may flush.
type msgWriter struct {
	mu   sync.Mutex
	conn net.Conn
	buf  []byte
	err  error // sticky: after a failed write the client is gone
	// onError, when set (debug logging), sees every ErrorResponse sent.
	onError func(*pgproto3.ErrorResponse)
}

// Send encodes msg into the buffer before returning, so the caller may reuse
// msg's memory at once.
func (w *msgWriter) Send(msg pgproto3.BackendMessage) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.onError != nil {
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			w.onError(e)
		}
	}
	var err error
	if w.buf, err = msg.Encode(w.buf); err != nil {
		return err
	}
	if len(w.buf) >= flushThreshold {
		return w.flush()
	}
	return nil
}

// SendFrame appends a message that is already encoded: type and body.
func (w *msgWriter) SendFrame(typ byte, body []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.buf = append(w.buf, typ)
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(len(body)+4))
	w.buf = append(w.buf, body...)
	if len(w.buf) >= flushThreshold {
		return w.flush()
	}
	return nil
}

// SendRaw appends messages already encoded back to back (a cached answer).
func (w *msgWriter) SendRaw(frames []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.buf = append(w.buf, frames...)
	if len(w.buf) >= flushThreshold {
		return w.flush()
	}
	return nil
}

// Flush writes what is buffered.
func (w *msgWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flush()
}

func (w *msgWriter) flush() error {
	if w.err != nil || len(w.buf) == 0 {
		return w.err
	}
	_, w.err = w.conn.Write(w.buf)
	if cap(w.buf) > 4*flushThreshold {
		w.buf = nil // do not keep a large result's buffer for an idle session
	} else {
		w.buf = w.buf[:0]
	}
	return w.err
}

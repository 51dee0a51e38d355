package proxy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/backends"
)

// readBufferSize is the client read buffer; a message body that fits is
// decoded in place, without a copy.
const readBufferSize = 32 << 10

// Startup packet limits and codes (protocol section 55.7): a protocol
// version has the major version in the high 16 bits; the special requests
// use 1234.
const (
	maxStartupPacket  = 10000
	codeCancelRequest = 1234<<16 | 5678
	codeSSLRequest    = 1234<<16 | 5679
	codeGSSENCRequest = 1234<<16 | 5680
)

// frontend reads a client's messages. It does the framing itself, and lets
// pgproto3 decode the bodies, so that the two kinds of bad input can be
// told apart as PostgreSQL tells them: broken framing (a bad length, an
// unknown type) leaves the stream unusable and is FATAL, while a well
// framed message whose body does not decode has been consumed whole, so it
// is an ERROR and the session goes on.
type frontend struct {
	r       *bufio.Reader
	maxBody int
	body    []byte // for bodies larger than the read buffer
	skip    int    // bytes of the previous body still to discard from r

	// msgs holds one message per type, made on first use and reused, so
	// decoding allocates nothing per message.
	msgs [256]pgproto3.FrontendMessage
}

func newFrontend(r io.Reader, maxBody int) *frontend {
	return &frontend{r: bufio.NewReaderSize(r, readBufferSize), maxBody: maxBody}
}

// framingError is input after which the stream cannot be followed.
type framingError struct{ msg string }

func (e *framingError) Error() string { return e.msg }

// unsupportedProtocol is a startup packet asking for a protocol other than 3.x.
type unsupportedProtocol struct{ major, minor uint32 }

func (e *unsupportedProtocol) Error() string {
	return fmt.Sprintf("unsupported frontend protocol %d.%d: server supports 3.0 to 3.0", e.major, e.minor)
}

// receiveStartup reads one startup packet: a StartupMessage, SSLRequest,
// GSSEncRequest or CancelRequest.
func (f *frontend) receiveStartup() (pgproto3.FrontendMessage, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(f.r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:]))) - 4
	if n < 4 || n > maxStartupPacket {
		return nil, &framingError{fmt.Sprintf("invalid length of startup packet: %d", n+4)}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(f.r, body); err != nil {
		return nil, err
	}
	code := binary.BigEndian.Uint32(body)
	var msg pgproto3.FrontendMessage
	switch {
	case code == codeSSLRequest:
		msg = &pgproto3.SSLRequest{}
	case code == codeGSSENCRequest:
		msg = &pgproto3.GSSEncRequest{}
	case code == codeCancelRequest:
		msg = &pgproto3.CancelRequest{}
	case code>>16 == 3:
		msg = &pgproto3.StartupMessage{}
	default:
		return nil, &unsupportedProtocol{code >> 16, code & 0xffff}
	}
	if err := msg.Decode(body); err != nil {
		return nil, &framingError{"invalid startup packet: " + err.Error()}
	}
	return msg, nil
}

// ready reports whether the next message's header is already read from
// the connection: receiving it will not wait for the client.
func (f *frontend) ready() bool {
	return f.r.Buffered()-f.skip >= 5
}

// receive reads one message frame. The frame (and anything decoded from
// it) is valid until the next call. Its body is not decoded here: a
// backend that forwards messages never needs it decoded, and a malformed
// body is the backend session's to answer.
func (f *frontend) receive() (backends.Frame, error) {
	if f.skip > 0 {
		if _, err := f.r.Discard(f.skip); err != nil {
			return backends.Frame{}, err
		}
		f.skip = 0
	}
	hdr, err := f.r.Peek(5)
	if err != nil {
		if len(hdr) > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return backends.Frame{}, err
	}
	typ := hdr[0]
	length := int(int32(binary.BigEndian.Uint32(hdr[1:])))
	if length < 4 {
		return backends.Frame{}, &framingError{fmt.Sprintf("invalid message length: %d", length)}
	}
	n := length - 4
	if n > f.maxBody {
		return backends.Frame{}, &pgproto3.ExceededMaxBodyLenErr{MaxExpectedBodyLen: f.maxBody, ActualBodyLen: n}
	}
	if f.message(typ) == nil {
		return backends.Frame{}, &framingError{fmt.Sprintf("invalid frontend message type %d", typ)}
	}
	f.r.Discard(5)
	var body []byte
	if n <= f.r.Size() {
		if body, err = f.r.Peek(n); err != nil {
			return backends.Frame{}, unexpectedEOF(err)
		}
		f.skip = n // discarded on the next call, once the message is used
	} else {
		if cap(f.body) < n {
			f.body = make([]byte, n)
		}
		body = f.body[:n]
		if _, err := io.ReadFull(f.r, body); err != nil {
			return backends.Frame{}, unexpectedEOF(err)
		}
	}
	return backends.NewFrame(typ, body, f), nil
}

// Decode implements backends.Decoder with one reused message per type.
func (f *frontend) Decode(typ byte, body []byte) (pgproto3.FrontendMessage, error) {
	msg := f.message(typ)
	if msg == nil {
		return nil, fmt.Errorf("unknown message type %q", typ)
	}
	return msg, msg.Decode(body)
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// message returns the reused message for typ, or nil for a type a client
// may not send after startup.
func (f *frontend) message(typ byte) pgproto3.FrontendMessage {
	if f.msgs[typ] == nil {
		f.msgs[typ] = backends.NewMessage(typ)
	}
	return f.msgs[typ]
}

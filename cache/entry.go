package cache

import (
	"encoding/binary"
	"time"
)

// Entry is a stored response as Get returns it.
type Entry struct {
	// Frames is the complete response, as the proxy gave it to Put. It is
	// this caller's copy (bigcache copies on read) except from Do, where
	// callers sharing one run share one slice: never modify it.
	Frames []byte
	// Snapshot is the Generation taken before the statement ran.
	Snapshot Generation
	// Stored is when the entry was written, Expires when it stops being
	// fresh (by the cache's clock).
	Stored, Expires time.Time
	// Stale is set when GetStale returned the entry after Expires.
	Stale bool

	tables []byte // the encoded table list, decoded by Tables
}

// Tables returns the tables the entry's statement read.
func (e Entry) Tables() []string {
	var out []string
	b := e.tables
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			break
		}
		out = append(out, string(b[k:k+int(n)]))
		b = b[k+int(n):]
	}
	return out
}

// The value stored in bigcache:
//
//	version byte (1)
//	uvarint len(conn), conn
//	int64 stored, int64 expires (Unix nanoseconds, big-endian)
//	uint64 snapshot generation
//	uvarint len(tables), tables: each uvarint len(name), name
//	frames: the rest
//
// The connection name lets the eviction callback, which sees only bytes,
// charge the right connection's statistics.
const entryVersion = 1

func entrySize(conn string, tables []string, frames []byte) int {
	n := 1 + binary.MaxVarintLen64 + len(conn) + 24 + binary.MaxVarintLen64 + len(frames)
	for _, t := range tables {
		n += binary.MaxVarintLen64 + len(t)
	}
	return n
}

func appendEntry(b []byte, conn string, stored, expires time.Time, snap Generation, tables []string, frames []byte) []byte {
	b = append(b, entryVersion)
	b = binary.AppendUvarint(b, uint64(len(conn)))
	b = append(b, conn...)
	b = binary.BigEndian.AppendUint64(b, uint64(stored.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(expires.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(snap))
	n := 0
	for _, t := range tables {
		n += uvarintLen(uint64(len(t))) + len(t)
	}
	b = binary.AppendUvarint(b, uint64(n))
	for _, t := range tables {
		b = binary.AppendUvarint(b, uint64(len(t)))
		b = append(b, t...)
	}
	return append(b, frames...)
}

// decodedEntry is a stored value split into its parts; conn is a view
// into the value.
type decodedEntry struct {
	conn []byte
	Entry
}

// entryConn returns the connection name of a stored value and the offset
// after it, without decoding the rest.
func entryConn(v []byte) ([]byte, int, bool) {
	if len(v) < 1 || v[0] != entryVersion {
		return nil, 0, false
	}
	n, k := binary.Uvarint(v[1:])
	if k <= 0 || uint64(len(v)-1-k) < n {
		return nil, 0, false
	}
	end := 1 + k + int(n)
	return v[1+k : end], end, true
}

func decodeEntry(v []byte) (decodedEntry, bool) {
	var d decodedEntry
	conn, next, ok := entryConn(v)
	if !ok {
		return d, false
	}
	d.conn = conn
	rest := v[next:]
	if len(rest) < 24 {
		return d, false
	}
	d.Stored = time.Unix(0, int64(binary.BigEndian.Uint64(rest)))
	d.Expires = time.Unix(0, int64(binary.BigEndian.Uint64(rest[8:])))
	d.Snapshot = Generation(binary.BigEndian.Uint64(rest[16:]))
	rest = rest[24:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || uint64(len(rest)-k) < n {
		return d, false
	}
	d.tables = rest[k : k+int(n)]
	d.Frames = rest[k+int(n):]
	return d, true
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

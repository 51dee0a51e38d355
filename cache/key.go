package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"sync"
)

// Key is everything that can change the response to a statement. Two
// requests share a cache entry only when every field is equal, so a field
// left out is a way for one client to receive another's answer: when in
// doubt, put it in Settings.Other.
type Key struct {
	// Conn is the connection name the client's database resolved to.
	Conn string
	// ConfigHash identifies the connection's resolved configuration (any
	// stable digest of URL, options and credentials), so that after a
	// reload that changes the backend no entry of the old one is served.
	ConfigHash string
	// User is the backend user the statement runs as.
	User string
	// Shape names the client messages that shape the response: "Q" for a
	// simple Query; for the extended protocol, the message types in order
	// (for example "PBDES" for Parse, Bind, Describe portal, Execute,
	// Sync), since a ParseComplete or a RowDescription in the response
	// depends on them.
	Shape string
	// Statement is the SQL text, exactly as the client sent it.
	Statement string
	// ParamTypes are the parameter type OIDs given to Parse.
	ParamTypes []uint32
	// ParamFormats are Bind's parameter format codes.
	ParamFormats []int16
	// Params are Bind's parameter values; nil is NULL, distinct from an
	// empty value.
	Params [][]byte
	// ResultFormats are Bind's result-column format codes.
	ResultFormats []int16
	// Bind, when not nil, stands for ParamFormats, Params and
	// ResultFormats: the Bind message's body from its parameter format
	// codes on, exactly as sent, which encodes the three unambiguously.
	// (Two spellings of the same request, such as one format code for
	// all parameters or one each, then have different keys: a miss, never
	// a wrong answer.)
	Bind []byte
	// MaxRows is Execute's row limit (0 for none).
	MaxRows int32
	// Settings are the session settings that change output.
	Settings Settings
}

// Settings are the session settings that change what a statement returns
// or how its values are written. Unset and "" are the same.
type Settings struct {
	SearchPath       string // search_path: which table an unqualified name is
	TimeZone         string // TimeZone: timestamptz output
	DateStyle        string // DateStyle: date output and input
	IntervalStyle    string // IntervalStyle: interval output
	ExtraFloatDigits string // extra_float_digits: float output
	ByteaOutput      string // bytea_output: hex or escape
	ClientEncoding   string // client_encoding: the bytes of every text value
	// Other holds any further setting that changes results (role,
	// lc_monetary, lc_numeric, standard_conforming_strings, MySQL's
	// current database, a per-session flag...), by lower-case name. Map
	// order does not matter.
	Other map[string]string
}

// ID is a Key reduced to its connection name and a SHA-256 digest of an
// unambiguous encoding of every field. It is what the cache stores under.
type ID struct {
	conn string
	key  string // the 32-byte digest
}

// Conn returns the connection name of the key.
func (id ID) Conn() string { return id.conn }

// String returns "conn/digest" in hex, for logs.
func (id ID) String() string { return id.conn + "/" + hex.EncodeToString([]byte(id.key)) }

// Field tags of the encoding. Each field is its tag, then its content,
// with every variable-length part preceded by its length, so no two
// different keys encode alike: ("ab", "c") and ("a", "bc") differ in the
// first length.
const (
	tagConn byte = iota + 1
	tagConfig
	tagUser
	tagShape
	tagStatement
	tagParamTypes
	tagParamFormats
	tagParams
	tagResultFormats
	tagMaxRows
	tagSearchPath
	tagTimeZone
	tagDateStyle
	tagIntervalStyle
	tagExtraFloatDigits
	tagByteaOutput
	tagClientEncoding
	tagOther
	tagBind
)

var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Prefix is the digest of the part of a key that a session keeps from one
// statement to the next: connection, configuration, user and settings.
// The ID hashes it with the rest, so a session that computed it once (and
// again when a setting changes) hashes only the request itself.
type Prefix [sha256.Size]byte

// Prefix returns the digest of k's session part.
func (k *Key) Prefix() Prefix {
	bp := keyBufs.Get().(*[]byte)
	b := k.appendSession((*bp)[:0])
	sum := sha256.Sum256(b)
	putKeyBuf(bp, b)
	return sum
}

// ID hashes the key. It allocates the 32-byte digest string; the encoding
// goes through a pooled buffer.
func (k *Key) ID() ID { return k.IDWith(k.Prefix()) }

// IDWith hashes the key with p, which must be k.Prefix() (computed
// earlier for the same connection, configuration, user and settings).
func (k *Key) IDWith(p Prefix) ID {
	bp := keyBufs.Get().(*[]byte)
	b := k.appendRequest(append((*bp)[:0], p[:]...))
	sum := sha256.Sum256(b)
	putKeyBuf(bp, b)
	return ID{conn: k.Conn, key: string(sum[:])}
}

func putKeyBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b
		keyBufs.Put(bp)
	}
}

func appendString(b []byte, tag byte, s string) []byte {
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendInt16s(b []byte, tag byte, v []int16) []byte {
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(len(v)))
	for _, x := range v {
		b = binary.BigEndian.AppendUint16(b, uint16(x))
	}
	return b
}

// appendRequest writes the request part of k: what the client's messages
// say. Every part is tagged and its length given, so it follows the
// fixed-length Prefix or the session part unambiguously.
func (k *Key) appendRequest(b []byte) []byte {
	b = appendString(b, tagShape, k.Shape)
	b = appendString(b, tagStatement, k.Statement)
	b = append(b, tagParamTypes)
	b = binary.AppendUvarint(b, uint64(len(k.ParamTypes)))
	for _, t := range k.ParamTypes {
		b = binary.BigEndian.AppendUint32(b, t)
	}
	if k.Bind != nil {
		b = append(b, tagBind)
		b = binary.AppendUvarint(b, uint64(len(k.Bind)))
		b = append(b, k.Bind...)
		b = append(b, tagMaxRows)
		return binary.BigEndian.AppendUint32(b, uint32(k.MaxRows))
	}
	b = appendInt16s(b, tagParamFormats, k.ParamFormats)
	b = append(b, tagParams)
	b = binary.AppendUvarint(b, uint64(len(k.Params)))
	for _, p := range k.Params {
		if p == nil {
			b = append(b, 0) // NULL
			continue
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	b = appendInt16s(b, tagResultFormats, k.ResultFormats)
	b = append(b, tagMaxRows)
	return binary.BigEndian.AppendUint32(b, uint32(k.MaxRows))
}

// appendSession writes the session part of k: connection, configuration,
// user and settings.
func (k *Key) appendSession(b []byte) []byte {
	b = appendString(b, tagConn, k.Conn)
	b = appendString(b, tagConfig, k.ConfigHash)
	b = appendString(b, tagUser, k.User)
	s := &k.Settings
	b = appendString(b, tagSearchPath, s.SearchPath)
	b = appendString(b, tagTimeZone, s.TimeZone)
	b = appendString(b, tagDateStyle, s.DateStyle)
	b = appendString(b, tagIntervalStyle, s.IntervalStyle)
	b = appendString(b, tagExtraFloatDigits, s.ExtraFloatDigits)
	b = appendString(b, tagByteaOutput, s.ByteaOutput)
	b = appendString(b, tagClientEncoding, s.ClientEncoding)
	b = append(b, tagOther)
	b = binary.AppendUvarint(b, uint64(len(s.Other)))
	if len(s.Other) > 0 {
		names := make([]string, 0, len(s.Other))
		for n := range s.Other {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			b = binary.AppendUvarint(b, uint64(len(n)))
			b = append(b, n...)
			v := s.Other[n]
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return b
}

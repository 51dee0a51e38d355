package bridge

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

// decodeParam turns one Bind parameter into the value handed to the
// database/sql driver. oid is the type the client declared in Parse (0 when
// it left the type to the server). Untyped text parameters stay strings: the
// data source's own type rules (SQLite affinity, MySQL conversion) apply, as
// PostgreSQL would resolve an unknown-typed literal from its context.
func decodeParam(m *pgtype.Map, oid uint32, format int16, raw []byte, n int) (any, error) {
	if raw == nil {
		return nil, nil
	}
	if format == textFormat {
		return decodeTextParam(oid, string(raw), n)
	}
	if format != binaryFormat {
		return nil, pgcode.New(pgcode.ProtocolViolation, fmt.Sprintf("unsupported format code: %d", format))
	}
	bad := func() error {
		return pgcode.New(pgcode.InvalidParameterValue,
			fmt.Sprintf("incorrect binary data format in bind parameter %d", n))
	}
	switch oid {
	case pgtype.Int8OID:
		if len(raw) != 8 {
			return nil, bad()
		}
		return int64(binary.BigEndian.Uint64(raw)), nil
	case pgtype.Int4OID:
		if len(raw) != 4 {
			return nil, bad()
		}
		return int64(int32(binary.BigEndian.Uint32(raw))), nil
	case pgtype.Int2OID:
		if len(raw) != 2 {
			return nil, bad()
		}
		return int64(int16(binary.BigEndian.Uint16(raw))), nil
	case pgtype.Float8OID:
		if len(raw) != 8 {
			return nil, bad()
		}
		return math.Float64frombits(binary.BigEndian.Uint64(raw)), nil
	case pgtype.Float4OID:
		if len(raw) != 4 {
			return nil, bad()
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(raw))), nil
	case pgtype.BoolOID:
		if len(raw) != 1 {
			return nil, bad()
		}
		return raw[0] != 0, nil
	case pgtype.ByteaOID:
		b := make([]byte, len(raw)) // never nil: an empty bytea is not NULL
		copy(b, raw)
		return b, nil
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.UnknownOID, pgtype.JSONOID:
		return string(raw), nil
	case pgtype.JSONBOID:
		if len(raw) == 0 || raw[0] != 1 {
			return nil, bad()
		}
		return string(raw[1:]), nil
	case 0:
		// Drivers send binary with no declared type for one thing: raw
		// bytes (node-postgres Buffers). PostgreSQL would read them as the
		// type the context gives; bytes are what they are.
		b := make([]byte, len(raw))
		copy(b, raw)
		return b, nil
	case pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID:
		v, err := decodeValue(m, oid, format, raw)
		t, ok := v.(time.Time)
		if err != nil || !ok {
			return nil, bad()
		}
		switch oid {
		case pgtype.DateOID:
			return t.Format("2006-01-02"), nil
		case pgtype.TimestamptzOID:
			return t.UTC().Format("2006-01-02 15:04:05.999999Z07:00"), nil
		}
		return t.Format("2006-01-02 15:04:05.999999"), nil
	case pgtype.TimeOID:
		var t pgtype.Time
		if err := m.Scan(oid, format, raw, &t); err != nil || !t.Valid {
			return nil, bad()
		}
		return clockText(t.Microseconds), nil
	case pgtype.NumericOID:
		var num pgtype.Numeric
		if err := m.Scan(oid, format, raw, &num); err != nil {
			return nil, bad()
		}
		v, err := num.Value()
		if err != nil {
			return nil, bad()
		}
		return v, nil
	}
	// Everything else: let pgtype decode, then store its text form.
	v, err := decodeValue(m, oid, format, raw)
	if err != nil {
		return nil, bad()
	}
	return storeValue(v), nil
}

// decodeTextParam parses typed text parameters into typed driver values, so
// that an int8 parameter binds as an integer, and checks them the way
// PostgreSQL's input functions would.
func decodeTextParam(oid uint32, s string, n int) (any, error) {
	switch oid {
	case pgtype.Int8OID, pgtype.Int4OID, pgtype.Int2OID:
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, invalidInput(oid, s)
		}
		return v, nil
	case pgtype.Float8OID, pgtype.Float4OID:
		f, ok := parseFloat(s)
		if !ok {
			return nil, invalidInput(oid, s)
		}
		return f, nil
	case pgtype.BoolOID:
		b, ok := ParseBool(s)
		if !ok {
			return nil, invalidInput(oid, s)
		}
		return b, nil
	case pgtype.ByteaOID:
		if b, ok := ParseByteaText(s); ok {
			return b, nil
		}
		return []byte(s), nil
	}
	return s, nil
}

// storeValue converts a decoded pgtype value to what the data sources store:
// ISO text for dates and times, text for the rest.
func storeValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.Format("2006-01-02 15:04:05.999999")
	case string, int64, float64, bool, []byte, nil:
		return x
	case [16]uint8: // uuid
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// decodeValue decodes raw with the codec registered for oid.
func decodeValue(m *pgtype.Map, oid uint32, format int16, raw []byte) (any, error) {
	t, ok := m.TypeForOID(oid)
	if !ok {
		return nil, fmt.Errorf("unknown type oid %d", oid)
	}
	return t.Codec.DecodeValue(m, oid, format, raw)
}

// coerceUntyped reads a parameter the client sent as untyped text the way
// PostgreSQL's input function for the column's type would, when the text
// is valid input for it: 'true' for a boolean column becomes true, a date
// with a zone suffix becomes the date, '\x0102' for a blob becomes bytes.
// Text that is not valid input is kept as it is, since SQLite columns hold
// any value.
func coerceUntyped(oid uint32, s string) any {
	switch oid {
	case pgtype.Int8OID, pgtype.Int4OID, pgtype.Int2OID:
		// MySQL takes no text where it needs an integer (LIMIT ?); SQLite's
		// integer affinity would have made the same number of it.
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	case pgtype.BoolOID:
		if b, ok := ParseBool(s); ok {
			return b
		}
	case pgtype.ByteaOID:
		if b, ok := ParseByteaText(s); ok {
			return b
		}
	case pgtype.DateOID:
		if t, ok := parseTime(s); ok {
			return t.Format("2006-01-02")
		}
	case pgtype.TimestampOID:
		if t, ok := parseTime(s); ok {
			return t.Format("2006-01-02 15:04:05.999999") // the zone is ignored, as by timestamp_in
		}
	case pgtype.TimestamptzOID:
		if t, ok := parseTime(s); ok {
			return t.UTC().Format("2006-01-02 15:04:05.999999-07:00")
		}
	}
	return s
}

// clockText writes a time of day (microseconds since midnight) as
// PostgreSQL's time output does: HH:MM:SS with a fraction only when needed.
func clockText(us int64) string {
	s := fmt.Sprintf("%02d:%02d:%02d", us/3600e6, us/60e6%60, us/1e6%60)
	if frac := us % 1e6; frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
	}
	return s
}

// zonelessTimestamp turns a timestamptz parameter (text with a zone, as
// decodeParam and drivers write it) into UTC text without a zone; a value
// it cannot read is left for the data source to refuse.
func zonelessTimestamp(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	t, ok := parseTime(s)
	if !ok {
		return v
	}
	return t.UTC().Format("2006-01-02 15:04:05.999999")
}

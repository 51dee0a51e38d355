package bridge

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

// Text and binary format codes (protocol section 55.2.3).
const (
	textFormat   int16 = 0
	binaryFormat int16 = 1
)

// typeNames gives the PostgreSQL type name used in error messages.
var typeNames = map[uint32]string{
	pgtype.Int2OID: "smallint", pgtype.Int4OID: "integer", pgtype.Int8OID: "bigint",
	pgtype.Float4OID: "real", pgtype.Float8OID: "double precision", pgtype.NumericOID: "numeric",
	pgtype.BoolOID: "boolean", pgtype.TextOID: "text", pgtype.VarcharOID: "character varying",
	pgtype.ByteaOID: "bytea", pgtype.DateOID: "date", pgtype.TimestampOID: "timestamp without time zone",
	pgtype.TimestamptzOID: "timestamp with time zone", pgtype.TimeOID: "time without time zone",
	pgtype.JSONOID: "json", pgtype.JSONBOID: "jsonb", pgtype.UUIDOID: "uuid",
}

func typeName(oid uint32) string {
	if n, ok := typeNames[oid]; ok {
		return n
	}
	return "oid " + strconv.FormatUint(uint64(oid), 10)
}

// typeSize is RowDescription's DataTypeSize for the types the bridge reports.
func typeSize(oid uint32) int16 {
	switch oid {
	case pgtype.BoolOID:
		return 1
	case pgtype.Int2OID:
		return 2
	case pgtype.Int4OID, pgtype.Float4OID, pgtype.DateOID:
		return 4
	case pgtype.Int8OID, pgtype.Float8OID, pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.TimeOID:
		return 8
	case pgtype.UUIDOID:
		return 16
	case pgtype.NameOID:
		return 64
	}
	return -1
}

// OIDOfValue types an expression column by the Go value the driver returned
// for it, for columns that have no declared type.
func OIDOfValue(v any) uint32 {
	switch v.(type) {
	case int64, int32, int:
		return pgtype.Int8OID
	case float64, float32:
		return pgtype.Float8OID
	case []byte:
		return pgtype.ByteaOID
	case bool:
		return pgtype.BoolOID
	case time.Time:
		return pgtype.TimestampOID
	}
	return pgtype.TextOID
}

func invalidInput(oid uint32, v any) *pgcode.Error {
	return pgcode.New(pgcode.InvalidTextRepresentation,
		fmt.Sprintf("invalid input syntax for type %s: %q", typeName(oid), fmt.Sprint(v)))
}

// encoder appends column values in a client's chosen format. The fast paths
// cover what rows carry most often; everything else goes through pgtype.
type encoder struct {
	m          *pgtype.Map
	floatDigit int // extra_float_digits
}

// appendValue appends v, a value a database/sql driver returned, encoded as
// type oid in format. It converts between the storage class the data source
// used and the declared type where PostgreSQL's input functions would
// (SQLite lets any column hold any value).
func (e *encoder) appendValue(buf []byte, oid uint32, format int16, v any) ([]byte, error) {
	switch oid {
	case pgtype.Int8OID, pgtype.Int4OID, pgtype.Int2OID:
		n, err := toInt(oid, v)
		if err != nil {
			return buf, err
		}
		if format == textFormat {
			return strconv.AppendInt(buf, n, 10), nil
		}
		switch oid {
		case pgtype.Int8OID:
			return binary.BigEndian.AppendUint64(buf, uint64(n)), nil
		case pgtype.Int4OID:
			if n < math.MinInt32 || n > math.MaxInt32 {
				return buf, pgcode.New(pgcode.NumericValueOutOfRange, "integer out of range")
			}
			return binary.BigEndian.AppendUint32(buf, uint32(int32(n))), nil
		default:
			if n < math.MinInt16 || n > math.MaxInt16 {
				return buf, pgcode.New(pgcode.NumericValueOutOfRange, "smallint out of range")
			}
			return binary.BigEndian.AppendUint16(buf, uint16(int16(n))), nil
		}
	case pgtype.Float8OID, pgtype.Float4OID:
		f, err := toFloat(oid, v)
		if err != nil {
			return buf, err
		}
		if format == textFormat {
			bits := 64
			if oid == pgtype.Float4OID {
				bits = 32
			}
			return AppendFloat(buf, f, bits, e.floatDigit), nil
		}
		if oid == pgtype.Float4OID {
			return binary.BigEndian.AppendUint32(buf, math.Float32bits(float32(f))), nil
		}
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(f)), nil
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.UnknownOID:
		// text and binary formats of text types are the same bytes.
		return appendText(buf, v, e.floatDigit), nil
	case pgtype.BoolOID:
		b, err := toBool(v)
		if err != nil {
			return buf, err
		}
		if format == textFormat {
			if b {
				return append(buf, 't'), nil
			}
			return append(buf, 'f'), nil
		}
		if b {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case pgtype.ByteaOID:
		b := toBytes(v)
		if format == textFormat {
			buf = append(buf, '\\', 'x')
			return hex.AppendEncode(buf, b), nil
		}
		return append(buf, b...), nil
	case pgtype.NumericOID:
		s, err := numericText(v)
		if err != nil {
			return buf, err
		}
		if format == textFormat {
			return append(buf, s...), nil
		}
		var n pgtype.Numeric
		if err := n.Scan(s); err != nil {
			return buf, invalidInput(oid, v)
		}
		return e.encode(buf, oid, format, n)
	case pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID:
		t, err := toTime(oid, v)
		if err != nil {
			return buf, err
		}
		if oid == pgtype.DateOID {
			return e.encode(buf, oid, format, pgtype.Date{Time: t, Valid: true})
		}
		if oid == pgtype.TimestamptzOID {
			return e.encode(buf, oid, format, pgtype.Timestamptz{Time: t, Valid: true})
		}
		return e.encode(buf, oid, format, pgtype.Timestamp{Time: t, Valid: true})
	case pgtype.TimeOID:
		us, err := toClock(v)
		if err != nil {
			return buf, err
		}
		if format == textFormat {
			return append(buf, clockText(us)...), nil
		}
		return binary.BigEndian.AppendUint64(buf, uint64(us)), nil
	case pgtype.JSONOID, pgtype.JSONBOID:
		s := appendText(nil, v, e.floatDigit)
		if format == binaryFormat && oid == pgtype.JSONBOID {
			buf = append(buf, 1) // jsonb binary format version
		}
		return append(buf, s...), nil
	}
	return e.encode(buf, oid, format, v)
}

func (e *encoder) encode(buf []byte, oid uint32, format int16, v any) ([]byte, error) {
	out, err := e.m.Encode(oid, format, v, buf)
	if err != nil {
		return buf, pgcode.New(pgcode.DatatypeMismatch,
			fmt.Sprintf("cannot encode %T as %s: %v", v, typeName(oid), err))
	}
	return out, nil
}

func toInt(oid uint32, v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, pgcode.New(pgcode.NumericValueOutOfRange, typeName(oid)+" out of range")
		}
		return int64(x), nil
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt64 && x <= math.MaxInt64 {
			return int64(x), nil
		}
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n, nil
		}
	case []byte:
		if n, err := strconv.ParseInt(strings.TrimSpace(string(x)), 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, invalidInput(oid, v)
}

func toFloat(oid uint32, v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case string:
		if f, ok := parseFloat(x); ok {
			return f, nil
		}
	case []byte:
		if f, ok := parseFloat(string(x)); ok {
			return f, nil
		}
	}
	return 0, invalidInput(oid, v)
}

func parseFloat(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "infinity", "+infinity", "inf", "+inf":
		return math.Inf(1), true
	case "-infinity", "-inf":
		return math.Inf(-1), true
	case "nan":
		return math.NaN(), true
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// ParseBool accepts PostgreSQL's boolean input forms (boolin): t/f, true/false,
// yes/no, on/off, 1/0, any unique prefix, case-insensitive.
func ParseBool(s string) (bool, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return false, false
	}
	for _, w := range []string{"true", "yes"} {
		if strings.HasPrefix(w, s) {
			return true, true
		}
	}
	for _, w := range []string{"false", "no"} {
		if strings.HasPrefix(w, s) {
			return false, true
		}
	}
	switch s {
	case "on", "1":
		return true, true
	case "off", "of", "0":
		return false, true
	}
	return false, false
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int64:
		return x != 0, nil
	case float64:
		return x != 0, nil
	case string:
		if b, ok := ParseBool(x); ok {
			return b, nil
		}
	case []byte:
		if len(x) == 1 && (x[0] == 0 || x[0] == 1) { // MySQL BIT(1)
			return x[0] == 1, nil
		}
		if b, ok := ParseBool(string(x)); ok {
			return b, nil
		}
	}
	return false, invalidInput(pgtype.BoolOID, v)
}

// toBytes converts a stored value to bytea. A text value is read with
// PostgreSQL's bytea input syntax (the hex form \x0102 that drivers send for
// untyped parameters); anything else is taken byte for byte.
func toBytes(v any) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		if b, ok := ParseByteaText(x); ok {
			return b
		}
		return []byte(x)
	}
	return appendText(nil, v, 1)
}

// ParseByteaText parses bytea's hex input form (\x followed by hex digits).
func ParseByteaText(s string) ([]byte, bool) {
	if len(s) < 2 || s[0] != '\\' || (s[1] != 'x' && s[1] != 'X') {
		return nil, false
	}
	b, err := hex.DecodeString(s[2:])
	if err != nil {
		return nil, false
	}
	return b, true
}

func numericText(v any) (string, error) {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		if math.IsNaN(x) {
			return "NaN", nil
		}
		if math.IsInf(x, 0) {
			if x > 0 {
				return "Infinity", nil
			}
			return "-Infinity", nil
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case string, []byte:
		s := strings.TrimSpace(fmt.Sprintf("%s", x))
		if _, ok := new(big.Float).SetString(s); ok || s == "NaN" {
			return s, nil
		}
	}
	return "", invalidInput(pgtype.NumericOID, v)
}

// Time layouts accepted for text stored in date and timestamp columns: the
// ISO forms SQLite's date functions write and PostgreSQL's output uses.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999-07",
	"2006-01-02 15:04:05.999999999 -07",
	"2006-01-02 15:04:05.999999999 -07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02 -07",
	"2006-01-02 -07:00",
	"2006-01-02Z07:00",
	"2006-01-02",
}

func toTime(oid uint32, v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case int64:
		return time.Unix(x, 0).UTC(), nil
	case string:
		if t, ok := parseTime(x); ok {
			return t, nil
		}
	case []byte:
		if t, ok := parseTime(string(x)); ok {
			return t, nil
		}
	}
	return time.Time{}, pgcode.New(pgcode.InvalidDatetimeFormat,
		fmt.Sprintf("invalid input syntax for type %s: %q", typeName(oid), fmt.Sprint(v)))
}

func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// appendText renders any driver value in PostgreSQL's text output form.
func appendText(buf []byte, v any, floatDigits int) []byte {
	switch x := v.(type) {
	case string:
		return append(buf, x...)
	case []byte:
		if utf8.Valid(x) {
			return append(buf, x...)
		}
		buf = append(buf, '\\', 'x')
		return hex.AppendEncode(buf, x)
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case uint64:
		return strconv.AppendUint(buf, x, 10)
	case float64:
		return AppendFloat(buf, x, 64, floatDigits)
	case bool:
		if x {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case time.Time:
		return x.AppendFormat(buf, "2006-01-02 15:04:05.999999")
	case nil:
		return buf
	}
	return fmt.Append(buf, v)
}

// AppendFloat formats f as PostgreSQL's float8out/float4out do: with
// extra_float_digits > 0 (the default since PostgreSQL 12) the shortest text
// that reads back exactly, in plain notation for decimal exponents from -4 to
// 14 (float4: to 5) and in exponent notation (1e+20) outside; otherwise %g with
// 15 (float4: 6) plus extra_float_digits significant digits.
func AppendFloat(buf []byte, f float64, bits, extraFloatDigits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	digits := 15
	if bits == 32 {
		digits = 6
	}
	if extraFloatDigits <= 0 {
		return strconv.AppendFloat(buf, f, 'g', max(digits+extraFloatDigits, 1), bits)
	}
	if f == 0 {
		if math.Signbit(f) {
			return append(buf, "-0"...)
		}
		return append(buf, '0')
	}
	exp := int(math.Floor(math.Log10(math.Abs(f))))
	// Log10 can be off by one near powers of ten; the 'e' form is exact.
	e := strconv.AppendFloat(nil, f, 'e', -1, bits)
	if i := strings.LastIndexByte(string(e), 'e'); i >= 0 {
		if n, err := strconv.Atoi(string(e[i+1:])); err == nil {
			exp = n
		}
	}
	if exp < -4 || exp >= digits {
		return append(buf, e...)
	}
	return strconv.AppendFloat(buf, f, 'f', -1, bits)
}

// toClock reads a time of day as microseconds since midnight: text
// HH:MM:SS[.ffffff] (MySQL's TIME output) or a time.Time's clock. MySQL's
// TIME also holds durations (-838:59:59 to 838:59:59); PostgreSQL's time
// cannot, so those fail with 22008 rather than wrap.
func toClock(v any) (int64, error) {
	var s string
	switch x := v.(type) {
	case time.Time:
		h, m, sec := x.Clock()
		return (int64(h)*3600+int64(m)*60+int64(sec))*1e6 + int64(x.Nanosecond()/1000), nil
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return 0, invalidInput(pgtype.TimeOID, v)
	}
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	parts := strings.Split(strings.TrimPrefix(s, "-"), ":")
	if len(parts) != 3 {
		return 0, invalidInput(pgtype.TimeOID, v)
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	secText, fracText, _ := strings.Cut(parts[2], ".")
	sec, err3 := strconv.ParseInt(secText, 10, 64)
	var frac int64
	var err4 error
	if fracText != "" {
		if len(fracText) > 6 {
			fracText = fracText[:6]
		}
		frac, err4 = strconv.ParseInt(fracText+strings.Repeat("0", 6-len(fracText)), 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || m > 59 || sec > 59 || h < 0 || m < 0 || sec < 0 || frac < 0 {
		return 0, invalidInput(pgtype.TimeOID, v)
	}
	us := ((h*60+m)*60+sec)*1e6 + frac
	if neg && us != 0 || us > 24*3600e6 {
		return 0, pgcode.New(pgcode.DatetimeFieldOverflow, fmt.Sprintf("time out of range: %q", s))
	}
	return us, nil
}

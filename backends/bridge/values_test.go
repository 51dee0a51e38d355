package bridge

import (
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// The expected strings were read from PostgreSQL 15 (SELECT x::float8::text).
func TestAppendFloat(t *testing.T) {
	tests := []struct {
		name  string
		f     float64
		bits  int
		extra int
		want  string
	}{
		{"tenth", 0.1, 64, 1, "0.1"},
		{"large uses exponent", 1e20, 64, 1, "1e+20"},
		{"15 digits stay plain", 123456789012345, 64, 1, "123456789012345"},
		{"1e15 uses exponent", 1e15, 64, 1, "1e+15"},
		{"small plain", 0.0001, 64, 1, "0.0001"},
		{"smaller uses exponent", 0.00001, 64, 1, "1e-05"},
		{"negative", -0.5, 64, 1, "-0.5"},
		{"tiny", 1e-300, 64, 1, "1e-300"},
		{"fraction", 123456.789, 64, 1, "123456.789"},
		{"integral", 100, 64, 1, "100"},
		{"2.5e-5", 2.5e-5, 64, 1, "2.5e-05"},
		{"NaN", math.NaN(), 64, 1, "NaN"},
		{"Infinity", math.Inf(1), 64, 1, "Infinity"},
		{"-Infinity", math.Inf(-1), 64, 1, "-Infinity"},
		{"extra 0 third", 1.0 / 3, 64, 0, "0.333333333333333"},
		{"extra 0 large", 1e20, 64, 0, "1e+20"},
		{"extra 0 integral", 100, 64, 0, "100"},
		{"float4 tenth", float64(float32(0.1)), 32, 1, "0.1"},
		{"float4 million", 1e6, 32, 1, "1e+06"},
		{"float4 plain", 123456, 32, 1, "123456"},
		{"float4 small", float64(float32(1.5e-5)), 32, 1, "1.5e-05"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendFloat(nil, tt.f, tt.bits, tt.extra)); got != tt.want {
				t.Errorf("AppendFloat(%v) = %q, want %q", tt.f, got, tt.want)
			}
		})
	}
}

func TestAppendValue(t *testing.T) {
	e := encoder{m: pgtype.NewMap(), floatDigit: 1}
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		oid     uint32
		format  int16
		v       any
		want    string // text format result, or hex-free bytes for binary
		wantBin []byte
		err     bool
	}{
		{name: "int8 text", oid: pgtype.Int8OID, v: int64(-42), want: "-42"},
		{name: "int8 from text storage", oid: pgtype.Int8OID, v: " 42", want: "42"},
		{name: "int8 from integral real", oid: pgtype.Int8OID, v: 3.0, want: "3"},
		{name: "int8 from fraction fails", oid: pgtype.Int8OID, v: 3.5, err: true},
		{name: "int8 from word fails", oid: pgtype.Int8OID, v: "abc", err: true},
		{name: "int8 binary", oid: pgtype.Int8OID, format: 1, v: int64(1), wantBin: []byte{0, 0, 0, 0, 0, 0, 0, 1}},
		{name: "int4 binary range", oid: pgtype.Int4OID, format: 1, v: int64(1 << 40), err: true},
		{name: "bool from int", oid: pgtype.BoolOID, v: int64(1), want: "t"},
		{name: "bool from text", oid: pgtype.BoolOID, v: "false", want: "f"},
		{name: "bool binary", oid: pgtype.BoolOID, format: 1, v: int64(0), wantBin: []byte{0}},
		{name: "bool from junk", oid: pgtype.BoolOID, v: "maybe", err: true},
		{name: "bytea hex", oid: pgtype.ByteaOID, v: []byte{0, 1, 0xff}, want: `\x0001ff`},
		{name: "bytea from hex text", oid: pgtype.ByteaOID, format: 1, v: `\x0102`, wantBin: []byte{1, 2}},
		{name: "bytea from plain text", oid: pgtype.ByteaOID, format: 1, v: "ab", wantBin: []byte("ab")},
		{name: "text from int", oid: pgtype.TextOID, v: int64(7), want: "7"},
		{name: "text from real", oid: pgtype.TextOID, v: 0.1, want: "0.1"},
		{name: "text keeps bytes", oid: pgtype.TextOID, v: []byte("é"), want: "é"},
		{name: "float8 text", oid: pgtype.Float8OID, v: 1e20, want: "1e+20"},
		{name: "float8 from int", oid: pgtype.Float8OID, v: int64(2), want: "2"},
		{name: "numeric from int", oid: pgtype.NumericOID, v: int64(12), want: "12"},
		{name: "numeric from real", oid: pgtype.NumericOID, v: 1.25, want: "1.25"},
		{name: "numeric from text", oid: pgtype.NumericOID, v: "123.4500", want: "123.4500"},
		{name: "numeric from junk", oid: pgtype.NumericOID, v: "12x", err: true},
		{name: "date from time", oid: pgtype.DateOID, v: day, want: "2024-05-01"},
		{name: "date from text", oid: pgtype.DateOID, v: "2024-05-01", want: "2024-05-01"},
		{name: "date from junk", oid: pgtype.DateOID, v: "yesterday", err: true},
		{name: "timestamp from text", oid: pgtype.TimestampOID, v: "2024-05-01 10:20:30.5", want: "2024-05-01 10:20:30.5"},
		{name: "json passes through", oid: pgtype.JSONOID, v: `{"a":1}`, want: `{"a":1}`},
		{name: "jsonb binary has version", oid: pgtype.JSONBOID, format: 1, v: `{}`, wantBin: []byte{1, '{', '}'}},
		{name: "time from MySQL text", oid: pgtype.TimeOID, v: []byte("12:34:56"), want: "12:34:56"},
		{name: "time keeps the fraction", oid: pgtype.TimeOID, v: "07:08:09.250000", want: "07:08:09.25"},
		{name: "time end of day", oid: pgtype.TimeOID, v: "24:00:00", want: "24:00:00"},
		{name: "time from time.Time clock", oid: pgtype.TimeOID, v: time.Date(2024, 5, 1, 1, 2, 3, 4000, time.UTC), want: "01:02:03.000004"},
		{name: "time binary", oid: pgtype.TimeOID, format: 1, v: "00:00:01.5", wantBin: []byte{0, 0, 0, 0, 0, 0x16, 0xe3, 0x60}},
		{name: "time negative duration fails", oid: pgtype.TimeOID, v: "-01:00:00", err: true},
		{name: "time beyond a day fails", oid: pgtype.TimeOID, v: "838:59:59", err: true},
		{name: "time junk fails", oid: pgtype.TimeOID, v: "noon", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.appendValue(nil, tt.oid, tt.format, tt.v)
			if (err != nil) != tt.err {
				t.Fatalf("error = %v, want error %v", err, tt.err)
			}
			if tt.err {
				return
			}
			if tt.wantBin != nil {
				if string(got) != string(tt.wantBin) {
					t.Errorf("got %v, want %v", got, tt.wantBin)
				}
				return
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// Binary encodings must decode with pgtype to the same value: what a pgx
// client would read.
func TestAppendValueBinaryRoundTrip(t *testing.T) {
	m := pgtype.NewMap()
	e := encoder{m: m, floatDigit: 1}
	ts := time.Date(2024, 5, 1, 10, 20, 30, 500000000, time.UTC)
	tests := []struct {
		name string
		oid  uint32
		v    any
		want any
	}{
		{"int2", pgtype.Int2OID, int64(-5), int16(-5)},
		{"int4", pgtype.Int4OID, int64(70000), int32(70000)},
		{"float8", pgtype.Float8OID, 0.1, 0.1},
		{"float4", pgtype.Float4OID, 0.5, float32(0.5)},
		{"timestamp", pgtype.TimestampOID, ts, ts},
		{"date", pgtype.DateOID, "2024-05-01", time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)},
		{"text", pgtype.TextOID, "héllo", "héllo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf, err := e.appendValue(nil, tt.oid, binaryFormat, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			typ, _ := m.TypeForOID(tt.oid)
			got, err := typ.Codec.DecodeValue(m, tt.oid, binaryFormat, buf)
			if err != nil {
				t.Fatal(err)
			}
			if gt, ok := got.(time.Time); ok {
				if !gt.Equal(tt.want.(time.Time)) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeParam(t *testing.T) {
	m := pgtype.NewMap()
	tests := []struct {
		name   string
		oid    uint32
		format int16
		raw    []byte
		want   any
		err    bool
	}{
		{name: "null", oid: pgtype.Int8OID, raw: nil, want: nil},
		{name: "untyped text stays text", oid: 0, raw: []byte("42"), want: "42"},
		{name: "int8 text", oid: pgtype.Int8OID, raw: []byte("42"), want: int64(42)},
		{name: "int8 text junk", oid: pgtype.Int8OID, raw: []byte("4x"), err: true},
		{name: "int4 binary", oid: pgtype.Int4OID, format: 1, raw: []byte{0xff, 0xff, 0xff, 0xfe}, want: int64(-2)},
		{name: "int4 binary short", oid: pgtype.Int4OID, format: 1, raw: []byte{1}, err: true},
		{name: "bool text", oid: pgtype.BoolOID, raw: []byte("yes"), want: true},
		{name: "bytea text hex", oid: pgtype.ByteaOID, raw: []byte(`\x00ff`), want: []byte{0, 0xff}},
		{name: "bytea binary", oid: pgtype.ByteaOID, format: 1, raw: []byte{0, 1}, want: []byte{0, 1}},
		{name: "float8 text", oid: pgtype.Float8OID, raw: []byte("Infinity"), want: math.Inf(1)},
		{name: "date binary", oid: pgtype.DateOID, format: 1, raw: []byte{0, 0, 0x22, 0x9a}, want: "2024-04-02"},
		{name: "untyped binary is bytes", oid: 0, format: 1, raw: []byte{1, 0}, want: []byte{1, 0}},
		{name: "bad format code", oid: 0, format: 7, raw: []byte{1}, err: true},
		{name: "jsonb binary", oid: pgtype.JSONBOID, format: 1, raw: []byte("\x01{}"), want: "{}"},
		{name: "time binary", oid: pgtype.TimeOID, format: 1, raw: []byte{0, 0, 0, 0x0b, 0xc0, 0x71, 0x70, 0x20}, want: "14:01:13.3"},
		{name: "time binary whole seconds", oid: pgtype.TimeOID, format: 1, raw: []byte{0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00}, want: "00:16:40"},
		{name: "time text stays text", oid: pgtype.TimeOID, raw: []byte("10:00"), want: "10:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeParam(m, tt.oid, tt.format, tt.raw, 1)
			if (err != nil) != tt.err {
				t.Fatalf("error = %v, want error %v", err, tt.err)
			}
			if b, ok := tt.want.([]byte); ok {
				if string(got.([]byte)) != string(b) {
					t.Errorf("got %v, want %v", got, b)
				}
				return
			}
			if !tt.err && got != tt.want {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestZonelessTimestamp(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"utc suffix", "2024-05-01 10:20:30.5Z", "2024-05-01 10:20:30.5"},
		{"offset converts to UTC", "2024-05-01 10:20:30+02:00", "2024-05-01 08:20:30"},
		{"short offset", "2024-05-01 00:30:00-01", "2024-05-01 01:30:00"},
		{"no zone is kept", "2024-05-01 10:20:30", "2024-05-01 10:20:30"},
		{"junk is left for the data source", "not a time", "not a time"},
		{"non-text is left alone", int64(5), int64(5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := zonelessTimestamp(tt.in); got != tt.want {
				t.Errorf("zonelessTimestamp(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

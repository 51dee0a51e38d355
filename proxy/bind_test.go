package proxy

import (
	"bytes"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// bindNames and eachBindParam read what pgproto3 writes, for every shape of
// format codes, and refuse truncated bodies.
func TestBindWalk(t *testing.T) {
	for _, b := range []pgproto3.Bind{
		{DestinationPortal: "p", PreparedStatement: "s", Parameters: [][]byte{[]byte("1"), nil, {}}},
		{ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{0, 0, 0, 1}, {0, 0, 0, 2}}, ResultFormatCodes: []int16{1}},
		{ParameterFormatCodes: []int16{0, 1}, Parameters: [][]byte{[]byte("now"), {0, 1}}},
		{},
	} {
		wire, err := b.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		body := wire[5:]
		portal, stmt, rest, ok := bindNames(body)
		if !ok || string(portal) != b.DestinationPortal || string(stmt) != b.PreparedStatement {
			t.Fatalf("bindNames(%+v) = %q, %q, %v", b, portal, stmt, ok)
		}
		var got [][]byte
		var formats []int16
		if !eachBindParam(rest, func(f int16, v []byte) bool {
			got, formats = append(got, v), append(formats, f)
			return true
		}) {
			t.Fatalf("eachBindParam(%+v) refused it", b)
		}
		if len(got) != len(b.Parameters) {
			t.Fatalf("%d parameters, want %d", len(got), len(b.Parameters))
		}
		for i, v := range got {
			want := int16(0)
			switch {
			case len(b.ParameterFormatCodes) == 1:
				want = b.ParameterFormatCodes[0]
			case i < len(b.ParameterFormatCodes):
				want = b.ParameterFormatCodes[i]
			}
			if !bytes.Equal(v, b.Parameters[i]) || (v == nil) != (b.Parameters[i] == nil) || formats[i] != want {
				t.Fatalf("parameter %d: %q (format %d), want %q (format %d)", i, v, formats[i], b.Parameters[i], want)
			}
		}
		// Cut before the end of the last value: refused. (The result
		// formats after it are the server's to check.)
		valuesEnd := len(rest) - 2 - 2*len(b.ResultFormatCodes)
		for n := 0; n < valuesEnd; n++ {
			if eachBindParam(rest[:n], func(int16, []byte) bool { return true }) {
				t.Fatalf("a body cut at %d of %d was accepted", n, len(rest))
			}
		}
	}
}

package bridge_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/backends/sqlite"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

type discardWriter struct{ n int }

func (w *discardWriter) Send(msg pgproto3.BackendMessage) error {
	b, err := msg.Encode(nil)
	w.n += len(b)
	return err
}

func encode(msgs ...pgproto3.FrontendMessage) []byte {
	var out []byte
	for _, m := range msgs {
		out, _ = m.Encode(out)
	}
	return out
}

// FuzzSession feeds arbitrary frontend message streams to a bridged SQLite
// session: it must never panic, and every error it returns must be a
// protocol error for the client (*pgcode.Error), never anything else.
func FuzzSession(f *testing.F) {
	f.Add(encode(&pgproto3.Query{String: "CREATE TABLE IF NOT EXISTS t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x')"}))
	f.Add(encode(&pgproto3.Query{String: "BEGIN; SELECT * FROM t; SAVEPOINT s; ROLLBACK TO s; COMMIT"}))
	f.Add(encode(
		&pgproto3.Parse{Name: "s1", Query: "SELECT a, b FROM t WHERE a = $1", ParameterOIDs: []uint32{20}},
		&pgproto3.Describe{ObjectType: 'S', Name: "s1"},
		&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{{0, 0, 0, 0, 0, 0, 0, 1}}, ParameterFormatCodes: []int16{1}, ResultFormatCodes: []int16{1}},
		&pgproto3.Describe{ObjectType: 'P'},
		&pgproto3.Execute{MaxRows: 1},
		&pgproto3.Execute{},
		&pgproto3.Close{ObjectType: 'S', Name: "s1"},
		&pgproto3.Sync{},
	))
	f.Add(encode(
		&pgproto3.Parse{Query: "INSERT INTO t VALUES ($1, $2)"},
		&pgproto3.Bind{Parameters: [][]byte{[]byte("2"), []byte("y")}},
		&pgproto3.Execute{},
		&pgproto3.Parse{Query: "SELECT count(*), sum(a) FROM t"},
		&pgproto3.Describe{ObjectType: 'S'},
		&pgproto3.Bind{},
		&pgproto3.Execute{MaxRows: 0},
		&pgproto3.Sync{},
	))
	f.Add(encode(&pgproto3.Query{String: "SET application_name = 'f'; SHOW ALL; SELECT version(), current_setting('TimeZone')"}))
	f.Add(encode(&pgproto3.Bind{PreparedStatement: "nope"}, &pgproto3.Execute{Portal: "nope"}, &pgproto3.Sync{}))
	f.Add(encode(&pgproto3.Query{String: ""}, &pgproto3.Query{String: ";"}, &pgproto3.Flush{}))

	ctx := context.Background()
	b, err := sqlite.Open(ctx, sqlite.Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close() })

	f.Fuzz(func(t *testing.T, stream []byte) {
		s, err := b.Open(ctx, backends.SessionParams{User: "u", Database: "f",
			Options: map[string]string{"statement_timeout": "200ms"}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		w := &discardWriter{}
		// Frame the stream as the proxy does; bodies go to the session
		// undecoded, so malformed ones are fuzzed too.
		for i := 0; i < 64 && len(stream) >= 5; i++ {
			typ, n := stream[0], int(binary.BigEndian.Uint32(stream[1:5]))-4
			if n < 0 || n > len(stream)-5 || backends.NewMessage(typ) == nil {
				return // framing errors are the proxy's: FATAL 08P01
			}
			f := backends.NewFrame(typ, stream[5:5+n], backends.MessageDecoder{})
			stream = stream[5+n:]
			if typ == 'X' {
				return
			}
			hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err = s.Handle(hctx, f, w)
			cancel()
			if err != nil {
				var pe *pgcode.Error
				if !errors.As(err, &pe) {
					t.Fatalf("Handle(%q) returned a non-protocol error: %v", typ, err)
				}
				return
			}
			if st := s.TxStatus(); st != 'I' && st != 'T' && st != 'E' {
				t.Fatalf("transaction status %q", st)
			}
		}
	})
}

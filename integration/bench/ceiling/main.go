// Command ceiling is the fastest PostgreSQL server there can be for the
// cache benchmark (integration/bench/cache.sh): it speaks enough of the v3
// protocol for pgbench and psql, and answers every statement with the one
// row the benchmark's aggregate returns (count bigint, sum bigint), without
// looking at it. A cache hit cannot beat it: what remains is the cost of the
// client, the loopback and one read and one write per request, which is
// what a result cache's throughput is measured against.
//
//	go run ./integration/bench/ceiling -listen 127.0.0.1:6439
//
// There is no authentication, no transaction state and no error path
// beyond closing the connection: it is a yardstick, not a server.
package main

import (
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// The constant answer: what SELECT count(*), sum(abalance) FROM
// pgbench_accounts WHERE bid = :b returns on a fresh scale-10 database.
const (
	countText = "100000"
	sumText   = "0"
	countBin  = 100000
	sumBin    = 0
	int8OID   = 20
	int4OID   = 23
)

// Every reply is encoded once at start; a request appends ready bytes to
// the connection's write buffer.
var (
	readyIdle      = encode(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	parseComplete  = encode(&pgproto3.ParseComplete{})
	bindComplete   = encode(&pgproto3.BindComplete{})
	closeComplete  = encode(&pgproto3.CloseComplete{})
	noData         = encode(&pgproto3.NoData{})
	emptyQuery     = encode(&pgproto3.EmptyQueryResponse{})
	selectComplete = encode(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})

	// Indexed by the result formats of the two columns: count + 2*sum,
	// each 0 (text) or 1 (binary).
	rowDescription [4][]byte
	dataRow        [4][]byte

	// paramDescription[n] declares n int4 parameters.
	paramDescription [8][]byte

	startupReply []byte
)

func init() {
	for i := range 4 {
		fc, fs := int16(i&1), int16(i>>1)
		rowDescription[i] = encode(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{
			{Name: []byte("count"), DataTypeOID: int8OID, DataTypeSize: 8, TypeModifier: -1, Format: fc},
			{Name: []byte("sum"), DataTypeOID: int8OID, DataTypeSize: 8, TypeModifier: -1, Format: fs},
		}})
		dataRow[i] = encode(&pgproto3.DataRow{Values: [][]byte{value(fc, countText, countBin), value(fs, sumText, sumBin)}})
	}
	for n := range paramDescription {
		oids := make([]uint32, n)
		for i := range oids {
			oids[i] = int4OID
		}
		paramDescription[n] = encode(&pgproto3.ParameterDescription{ParameterOIDs: oids})
	}
	startupReply = encode(&pgproto3.AuthenticationOk{})
	for _, kv := range [][2]string{
		{"server_version", "15.0"},
		{"client_encoding", "UTF8"},
		{"server_encoding", "UTF8"},
		{"standard_conforming_strings", "on"},
		{"DateStyle", "ISO, MDY"},
		{"integer_datetimes", "on"},
		{"TimeZone", "UTC"},
	} {
		startupReply = append(startupReply, encode(&pgproto3.ParameterStatus{Name: kv[0], Value: kv[1]})...)
	}
	startupReply = append(startupReply, encode(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})...)
	startupReply = append(startupReply, readyIdle...)
}

func encode(m pgproto3.BackendMessage) []byte {
	b, err := m.Encode(nil)
	if err != nil {
		panic(err)
	}
	return b
}

func value(format int16, text string, bin uint64) []byte {
	if format == 0 {
		return []byte(text)
	}
	b := make([]byte, 8)
	for i := range 8 {
		b[i] = byte(bin >> (56 - 8*i))
	}
	return b
}

// formats maps Bind's result format codes to an index of rowDescription
// and dataRow: none means text, one applies to both columns.
func formats(codes []int16) int {
	var fc, fs int16
	switch len(codes) {
	case 0:
	case 1:
		fc, fs = codes[0], codes[0]
	default:
		fc, fs = codes[0], codes[1]
	}
	return int(fc&1) + 2*int(fs&1)
}

// statement is what a Parse left: how many parameters it declared and
// whether it is empty (answered with NoData and EmptyQueryResponse, as a
// real server does).
type statement struct {
	params int
	empty  bool
}

type portal struct {
	formats int
	empty   bool
}

func main() {
	listen := flag.String("listen", "127.0.0.1:6439", "address to listen on (host:port)")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("ceiling: listening on %s", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			// Out of file descriptors, most likely: wait and go on
			// rather than end the benchmark.
			log.Printf("ceiling: accept: %v", err)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go serve(c)
	}
}

func serve(c net.Conn) {
	defer c.Close()
	be := pgproto3.NewBackend(c, c) // used for reading only: replies are pre-encoded
	if !startup(c, be) {
		return
	}
	out := make([]byte, 0, 4096)
	stmts := map[string]statement{}
	portals := map[string]portal{}
	for {
		msg, err := be.Receive()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				log.Printf("ceiling: %v", err)
			}
			return
		}
		flush := false
		switch m := msg.(type) {
		case *pgproto3.Query:
			if isEmpty(m.String) {
				out = append(out, emptyQuery...)
			} else {
				out = append(out, rowDescription[0]...)
				out = append(out, dataRow[0]...)
				out = append(out, selectComplete...)
			}
			out = append(out, readyIdle...)
			flush = true
		case *pgproto3.Parse:
			n := len(m.ParameterOIDs)
			if n == 0 {
				n = 1
			}
			stmts[m.Name] = statement{params: min(n, len(paramDescription)-1), empty: isEmpty(m.Query)}
			out = append(out, parseComplete...)
		case *pgproto3.Bind:
			portals[m.DestinationPortal] = portal{formats: formats(m.ResultFormatCodes), empty: stmts[m.PreparedStatement].empty}
			out = append(out, bindComplete...)
		case *pgproto3.Describe:
			if m.ObjectType == 'S' {
				s := stmts[m.Name]
				out = append(out, paramDescription[s.params]...)
				if s.empty {
					out = append(out, noData...)
				} else {
					out = append(out, rowDescription[0]...)
				}
			} else if p := portals[m.Name]; p.empty {
				out = append(out, noData...)
			} else {
				out = append(out, rowDescription[p.formats]...)
			}
		case *pgproto3.Execute:
			if p := portals[m.Portal]; p.empty {
				out = append(out, emptyQuery...)
			} else {
				out = append(out, dataRow[p.formats]...)
				out = append(out, selectComplete...)
			}
		case *pgproto3.Close:
			if m.ObjectType == 'S' {
				delete(stmts, m.Name)
			} else {
				delete(portals, m.Name)
			}
			out = append(out, closeComplete...)
		case *pgproto3.Sync:
			// Portals live until the end of the transaction, and
			// every Sync ends one here.
			clear(portals)
			out = append(out, readyIdle...)
			flush = true
		case *pgproto3.Flush:
			flush = true
		case *pgproto3.Terminate:
			return
		default:
			log.Printf("ceiling: unsupported message %T, closing", msg)
			return
		}
		if flush && len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
	}
}

// startup answers SSL and GSS encryption requests with 'N' (plain TCP
// only) and a StartupMessage with AuthenticationOk and the usual
// parameters. It reports whether the session goes on.
func startup(c net.Conn, be *pgproto3.Backend) bool {
	for {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return false
		}
		switch msg.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			if _, err := c.Write([]byte{'N'}); err != nil {
				return false
			}
		case *pgproto3.StartupMessage:
			_, err := c.Write(startupReply)
			return err == nil
		default: // CancelRequest: nothing to cancel
			return false
		}
	}
}

// isEmpty reports a statement made of nothing but blanks and semicolons,
// which PostgreSQL answers with EmptyQueryResponse.
func isEmpty(q string) bool { return strings.Trim(q, " \t\r\n;") == "" }

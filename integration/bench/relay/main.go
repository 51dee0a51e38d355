// Command relay is a control for the pass-through benchmark
// (integration/bench/pgbench.sh, docs/benchmarks.md): the least a Go
// proxy can do between a client and PostgreSQL, with no pooling, no
// routing and no protocol work beyond finding message boundaries. What it
// costs is the floor of any design built on Go's network poller.
//
//	go run ./integration/bench/relay -mode copy -listen 127.0.0.1:7001 -server 127.0.0.1:5432
//	go run ./integration/bench/relay -mode sync -listen 127.0.0.1:7002 -server 127.0.0.1:5432
//
// Two designs:
//
//	copy  a goroutine per direction (io.Copy each way): a request and its
//	      answer cross two goroutines, as in xconnproxy's forwarding.
//	sync  one goroutine per client: read the client's messages up to a
//	      Query or Sync, write them, read the server's answer up to its
//	      ReadyForQuery, write it. Enough for pgbench and psql; a client
//	      that waits for an answer without a Sync (a Flush, COPY) stalls.
//
// It answers an SSLRequest with N, passes the startup and authentication
// through, and does nothing else: a yardstick, not a proxy.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
)

const sslRequestCode = 80877103

func main() {
	listen := flag.String("listen", "127.0.0.1:7001", "address to listen on")
	server := flag.String("server", "127.0.0.1:5432", "PostgreSQL to relay to")
	mode := flag.String("mode", "copy", "copy (a goroutine per direction) or sync (one goroutine per client)")
	flag.Parse()
	if *mode != "copy" && *mode != "sync" {
		log.Fatalf("relay: unknown -mode %q", *mode)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			s, err := net.Dial("tcp", *server)
			if err != nil {
				log.Print(err)
				return
			}
			defer s.Close()
			if *mode == "copy" {
				go func() { _, _ = io.Copy(s, c); s.Close() }()
				_, _ = io.Copy(c, s)
				return
			}
			if err := relaySync(c, s); err != nil && !errors.Is(err, io.EOF) {
				log.Print(err)
			}
		}()
	}
}

// relaySync serves one client on one goroutine.
func relaySync(c, s net.Conn) error {
	cr := bufio.NewReaderSize(c, 32<<10)
	sr := bufio.NewReaderSize(s, 32<<10)
	startup, err := readStartup(cr, c)
	if err != nil {
		return err
	}
	if _, err := s.Write(startup); err != nil {
		return err
	}
	// Authentication and the startup answer, up to the first
	// ReadyForQuery. (A password exchange would need the client's
	// messages relayed too; trust authentication has none.)
	var in, out []byte
	var typ byte
	if out, _, err = readUntil(sr, out[:0], 'Z'); err != nil {
		return err
	}
	if _, err := c.Write(out); err != nil {
		return err
	}
	for {
		if in, typ, err = readUntil(cr, in[:0], 'Q', 'S', 'X'); err != nil {
			return err
		}
		if typ == 'X' {
			return nil
		}
		if _, err := s.Write(in); err != nil {
			return err
		}
		if out, _, err = readUntil(sr, out[:0], 'Z'); err != nil {
			return err
		}
		if _, err := c.Write(out); err != nil {
			return err
		}
	}
}

// readStartup reads the startup packet, answering an SSLRequest with N
// first.
func readStartup(r *bufio.Reader, c net.Conn) ([]byte, error) {
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, err
		}
		n := int(binary.BigEndian.Uint32(hdr[:4]))
		if n < 8 || n > 10000 {
			return nil, fmt.Errorf("relay: startup packet of %d bytes", n)
		}
		if binary.BigEndian.Uint32(hdr[4:]) == sslRequestCode {
			if _, err := c.Write([]byte{'N'}); err != nil {
				return nil, err
			}
			continue
		}
		pkt := make([]byte, n)
		copy(pkt, hdr[:])
		_, err := io.ReadFull(r, pkt[8:])
		return pkt, err
	}
}

// readUntil appends whole messages from r to buf until one of a type in
// last, which ends buf; it returns that type.
func readUntil(r *bufio.Reader, buf []byte, last ...byte) ([]byte, byte, error) {
	for {
		hdr, err := r.Peek(5)
		if err != nil {
			return buf, 0, err
		}
		typ, n := hdr[0], int(binary.BigEndian.Uint32(hdr[1:]))+1
		if n < 5 {
			return buf, 0, fmt.Errorf("relay: message length %d", n-1)
		}
		start := len(buf)
		buf = append(buf, make([]byte, n)...)
		if _, err := io.ReadFull(r, buf[start:]); err != nil {
			return buf, 0, err
		}
		for _, t := range last {
			if typ == t {
				return buf, typ, nil
			}
		}
	}
}

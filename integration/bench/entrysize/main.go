// Command entrysize measures what one cached answer costs xconnproxy's
// result cache, for a real statement rather than the cache benchmark's
// synthetic 1 KB and 64 KB entries (go test -bench MemoryPerEntry
// ./cache/).
//
// It asks a server for the statement's complete answer, in the simple
// protocol and in the extended form pgbench -M extended sends (Parse, Bind,
// Describe portal, Execute, Sync), up to and including ReadyForQuery: the
// bytes the proxy stores. Then, as BenchmarkMemoryPerEntry does, it fills a
// 32 MiB cache past full with those bytes under distinct keys and divides
// the heap it grew by the entries it holds.
//
//	go run ./integration/bench/entrysize -url postgres://postgres@127.0.0.1:5432/db \
//		-query 'SELECT count(*), sum(abalance) FROM pgbench_accounts WHERE bid = $1' -param 1
//
// Output, tab-separated: protocol, answer bytes, heap bytes per entry, the
// answer's messages.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/cache"
)

func main() {
	url := flag.String("url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "server to ask (libpq URL)")
	query := flag.String("query", "SELECT 1", "statement; $1 is the -param value (inlined for the simple protocol)")
	param := flag.String("param", "1", "value of $1, in text format")
	table := flag.String("table", "pgbench_accounts", "table the statement reads (stored with the entry)")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, *url)
	if err != nil {
		log.Fatal(err)
	}
	// Hijacked, the connection is ours to speak the protocol on and to
	// keep the answer message by message.
	hc, err := conn.Hijack()
	if err != nil {
		log.Fatal(err)
	}
	defer hc.Conn.Close()
	fe := hc.Frontend

	fe.Send(&pgproto3.Query{String: strings.ReplaceAll(*query, "$1", *param)})
	frames, parts := answer(fe)
	fmt.Printf("simple\t%d\t%.0f\t%s\n", len(frames), perEntry(frames, *table), parts)

	fe.SendParse(&pgproto3.Parse{Query: *query})
	fe.SendBind(&pgproto3.Bind{Parameters: [][]byte{[]byte(*param)}})
	fe.SendDescribe(&pgproto3.Describe{ObjectType: 'P'})
	fe.SendExecute(&pgproto3.Execute{})
	fe.SendSync(&pgproto3.Sync{})
	frames, parts = answer(fe)
	fmt.Printf("extended\t%d\t%.0f\t%s\n", len(frames), perEntry(frames, *table), parts)

	fe.Send(&pgproto3.Terminate{})
	_ = fe.Flush()
}

// answer flushes the request and reads the answer up to ReadyForQuery,
// returning its bytes and the size of each message.
func answer(fe *pgproto3.Frontend) ([]byte, string) {
	if err := fe.Flush(); err != nil {
		log.Fatal(err)
	}
	var frames []byte
	var parts []string
	for {
		msg, err := fe.Receive()
		if err != nil {
			log.Fatal(err)
		}
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			log.Fatalf("server error: %s (%s)", e.Message, e.Code)
		}
		n := len(frames)
		if frames, err = msg.Encode(frames); err != nil {
			log.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s %d", strings.TrimPrefix(fmt.Sprintf("%T", msg), "*pgproto3."), len(frames)-n))
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			return frames, strings.Join(parts, ", ")
		}
	}
}

// perEntry fills a 32 MiB cache past full with frames under distinct
// keys and returns the heap it takes per entry held: the frames, the
// entry's header and table names, the key and bigcache's index.
func perEntry(frames []byte, table string) float64 {
	const budget = 32 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c, err := cache.New(cache.Config{MaxBytes: budget})
	if err != nil {
		log.Fatal(err)
	}
	for i := range 2 * budget / len(frames) {
		k := cache.Key{Conn: "bench", ConfigHash: "h", User: "postgres", Shape: "Q",
			Statement: "SELECT count(*), sum(abalance) FROM pgbench_accounts WHERE bid = " + strconv.Itoa(i)}
		if err := c.Put(k.ID(), c.Snapshot(), []string{table}, time.Hour, frames); err != nil {
			log.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := cache.Total(c.Stats()).Entries
	runtime.KeepAlive(c)
	_ = c.Close()
	// HeapAlloc after a GC is what is live; the keys made on the way
	// are garbage by then.
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(held)
}

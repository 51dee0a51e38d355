package sqltext_test

import (
	"fmt"

	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

func Example() {
	query := `/* app */ BEGIN; UPDATE t SET n = n + $1 WHERE note = '$2;'; SELECT * FROM t WHERE id = $2 FOR UPDATE; COMMIT`
	for _, stmt := range sqltext.Split(query) {
		info := sqltext.Classify(stmt)
		fmt.Printf("%-17s %-11v readonly=%v params=%d tx=%v\n", info.Command, info.Kind, info.ReadOnly, info.Params, info.Tx.Op)
	}
	// Output:
	// BEGIN             Transaction readonly=false params=0 tx=Begin
	// UPDATE            Write       readonly=false params=1 tx=None
	// SELECT            Write       readonly=false params=2 tx=None
	// COMMIT            Transaction readonly=false params=0 tx=Commit
}

func ExampleRewrite() {
	out, order, maxParam := sqltext.Rewrite(`SELECT $2, '$1', $1, $2 -- $3`, sqltext.StyleQuestion)
	fmt.Println(out)
	fmt.Println(order, maxParam)
	out, _, _ = sqltext.Rewrite(`SELECT $2, '$1', $1, $2 -- $3`, sqltext.StyleQuestionNumbered)
	fmt.Println(out)
	// Output:
	// SELECT ?, '$1', ?, ? -- $3
	// [2 1 2] 2
	// SELECT ?2, '$1', ?1, ?2 -- $3
}

func ExampleParseSet() {
	s, ok := sqltext.ParseSet(`SET LOCAL search_path = "$user", Public`)
	fmt.Printf("%v %q %q local=%v\n", ok, s.Name, s.Value, s.Local)
	// Output:
	// true "search_path" "\"$user\", public" local=true
}

func ExampleCacheability() {
	for _, q := range []string{
		`SELECT o.id, c.name FROM orders o JOIN "Sales".Customers c ON c.id = o.customer_id`,
		`WITH recent AS (SELECT * FROM orders WHERE ts > now() - interval '1 day') SELECT count(*) FROM recent`,
		`/* xconn:ttl=10m */ SELECT report.monthly($1)`,
	} {
		ci := sqltext.Cacheability(q, sqltext.Postgres)
		fmt.Printf("%v %v %v %q\n", ci.Cacheable, ci.Tables, ci.TTL, ci.Reason)
	}
	ws := sqltext.Writes(`INSERT INTO orders (id) SELECT id FROM staging`, sqltext.Postgres)
	fmt.Println(ws.Tables, ws.All, sqltext.TableKeys(ws.Tables))
	// Output:
	// true [orders "Sales".customers] 0s ""
	// false [orders] 0s "calls now(): depends on the time"
	// true [] 10m0s ""
	// [orders] false [orders]
}

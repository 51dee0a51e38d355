package integration

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// A wireTarget is a server the extended-protocol tests talk to message by
// message: the proxy, and PostgreSQL itself when it is available, so that
// the expected exchanges below are checked against the real thing too.
type wireTarget struct {
	name    string
	connect func(t *testing.T) *rawClient
}

func wireTargets() []wireTarget {
	return []wireTarget{
		{"proxy", func(t *testing.T) *rawClient {
			p := newProxy(t, sqliteSecrets("wire_db"))
			return startRaw(t, p, "wire_db")
		}},
		{"postgres", func(t *testing.T) *rawClient { return startRawPG(t) }},
	}
}

// wireTable is created in every session of these tests: five rows, types
// that are the same in PostgreSQL and through the proxy.
const wireTable = "CREATE TEMP TABLE w (v BIGINT, name TEXT)"

func setupWire(t *testing.T, rc *rawClient) {
	t.Helper()
	for _, q := range []string{wireTable, "INSERT INTO w VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')"} {
		rc.send(&pgproto3.Query{String: q})
		if msgs := rc.untilReady(); msgName(msgs[0]) != "CommandComplete" {
			t.Fatalf("%s:\n%s", q, describeMsgs(msgs))
		}
	}
}

// exchange sends msgs and reads the answers up to the ReadyForQuery of
// every Sync and Query among them, summarised one line per message.
func (rc *rawClient) exchange(msgs ...pgproto3.FrontendMessage) []string {
	rc.t.Helper()
	rc.send(msgs...)
	var out []string
	for _, m := range msgs {
		switch m.(type) {
		case *pgproto3.Sync, *pgproto3.Query:
			for _, b := range rc.untilReady() {
				out = append(out, summarize(b))
			}
		}
	}
	return out
}

// summarize renders a backend message as one comparable line.
func summarize(m pgproto3.BackendMessage) string {
	switch x := m.(type) {
	case *pgproto3.DataRow:
		vals := make([]string, len(x.Values))
		for i, v := range x.Values {
			vals[i] = renderValue(v)
		}
		return "DataRow " + strings.Join(vals, "|")
	case *pgproto3.CommandComplete:
		return "CommandComplete " + string(x.CommandTag)
	case *pgproto3.ErrorResponse:
		return "ErrorResponse " + x.Code
	case *pgproto3.ReadyForQuery:
		return "ReadyForQuery " + string(x.TxStatus)
	case *pgproto3.ParameterDescription:
		return fmt.Sprint("ParameterDescription ", x.ParameterOIDs)
	case *pgproto3.RowDescription:
		cols := make([]string, len(x.Fields))
		for i, f := range x.Fields {
			cols[i] = fmt.Sprintf("%s:%d/%d", f.Name, f.DataTypeOID, f.Format)
		}
		return "RowDescription " + strings.Join(cols, " ")
	}
	return msgName(m)
}

func renderValue(v []byte) string {
	if v == nil {
		return "NULL"
	}
	if utf8.Valid(v) && strings.IndexFunc(string(v), func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return string(v)
	}
	return fmt.Sprintf("0x%x", v)
}

func expectExchange(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestExtendedRowLimit: Execute with a row limit sends that many rows and
// PortalSuspended; the next Execute goes on where it stopped; a portal
// outlives Sync only inside a transaction block.
func TestExtendedRowLimit(t *testing.T) {
	for _, target := range wireTargets() {
		t.Run(target.name, func(t *testing.T) {
			rc := target.connect(t)
			setupWire(t, rc)

			t.Run("in one batch", func(t *testing.T) {
				got := rc.exchange(
					&pgproto3.Parse{Name: "all", Query: "SELECT v FROM w ORDER BY v"},
					&pgproto3.Bind{DestinationPortal: "c1", PreparedStatement: "all"},
					&pgproto3.Execute{Portal: "c1", MaxRows: 2},
					&pgproto3.Execute{Portal: "c1", MaxRows: 2},
					&pgproto3.Execute{Portal: "c1", MaxRows: 2},
					&pgproto3.Execute{Portal: "c1", MaxRows: 2},
					&pgproto3.Sync{},
				)
				expectExchange(t, got,
					"ParseComplete", "BindComplete",
					"DataRow 1", "DataRow 2", "PortalSuspended",
					"DataRow 3", "DataRow 4", "PortalSuspended",
					"DataRow 5", "CommandComplete SELECT 1",
					"CommandComplete SELECT 0", // the portal is exhausted
					"ReadyForQuery I")
			})

			t.Run("across Syncs in a transaction", func(t *testing.T) {
				got := rc.exchange(
					&pgproto3.Query{String: "BEGIN"},
					&pgproto3.Bind{DestinationPortal: "c2", PreparedStatement: "all", ResultFormatCodes: []int16{1}},
					&pgproto3.Execute{Portal: "c2", MaxRows: 3},
					&pgproto3.Sync{},
					&pgproto3.Execute{Portal: "c2", MaxRows: 0},
					&pgproto3.Sync{},
					&pgproto3.Query{String: "COMMIT"},
				)
				expectExchange(t, got,
					"CommandComplete BEGIN", "ReadyForQuery T",
					"BindComplete",
					"DataRow 0x0000000000000001", "DataRow 0x0000000000000002", "DataRow 0x0000000000000003",
					"PortalSuspended", "ReadyForQuery T",
					"DataRow 0x0000000000000004", "DataRow 0x0000000000000005", "CommandComplete SELECT 2",
					"ReadyForQuery T",
					"CommandComplete COMMIT", "ReadyForQuery I")
			})

			t.Run("a suspended portal ends with its implicit transaction", func(t *testing.T) {
				got := rc.exchange(
					&pgproto3.Bind{DestinationPortal: "c3", PreparedStatement: "all"},
					&pgproto3.Execute{Portal: "c3", MaxRows: 1},
					&pgproto3.Sync{},
					&pgproto3.Execute{Portal: "c3", MaxRows: 1},
					&pgproto3.Sync{},
				)
				expectExchange(t, got,
					"BindComplete", "DataRow 1", "PortalSuspended", "ReadyForQuery I",
					"ErrorResponse 34000", "ReadyForQuery I")
			})
		})
	}
}

// TestExtendedRowLimitPgconn: the same through pgconn's low-level API, with
// a statement prepared by pgconn and a portal read in chunks.
func TestExtendedRowLimitPgconn(t *testing.T) {
	p := newProxy(t, sqliteSecrets("wire_db"))
	c := p.Connect(t, "wire_db")
	mustExec(t, c, "CREATE TABLE w (v BIGINT)")
	mustExec(t, c, "INSERT INTO w VALUES (1), (2), (3)")
	pc := c.PgConn()
	ctx := ctxT(t)
	sd, err := pc.Prepare(ctx, "three", "SELECT v FROM w ORDER BY v", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.Fields) != 1 || sd.Fields[0].DataTypeOID != 20 {
		t.Fatalf("description %+v", sd.Fields)
	}
	fe := pc.Frontend()
	fe.Send(&pgproto3.Bind{DestinationPortal: "cur", PreparedStatement: "three"})
	fe.Send(&pgproto3.Execute{Portal: "cur", MaxRows: 2})
	fe.Send(&pgproto3.Execute{Portal: "cur", MaxRows: 2})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		m, err := pc.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, summarize(m))
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	expectExchange(t, got, "BindComplete", "DataRow 1", "DataRow 2", "PortalSuspended",
		"DataRow 3", "CommandComplete SELECT 1", "ReadyForQuery I")
}

// TestExtendedNamedStatementsAndPortals: named statements and portals live
// side by side, each portal with its own position; names are unique; Close
// removes them (and closing what does not exist is not an error).
func TestExtendedNamedStatementsAndPortals(t *testing.T) {
	for _, target := range wireTargets() {
		t.Run(target.name, func(t *testing.T) {
			rc := target.connect(t)
			setupWire(t, rc)
			tests := []struct {
				name string
				msgs []pgproto3.FrontendMessage
				want []string
			}{
				{"two portals of one statement, interleaved", []pgproto3.FrontendMessage{
					&pgproto3.Query{String: "BEGIN"},
					&pgproto3.Parse{Name: "above", Query: "SELECT v, name FROM w WHERE v > $1 ORDER BY v", ParameterOIDs: []uint32{20}},
					&pgproto3.Bind{DestinationPortal: "from2", PreparedStatement: "above", Parameters: [][]byte{[]byte("2")}},
					&pgproto3.Bind{DestinationPortal: "from1", PreparedStatement: "above", Parameters: [][]byte{[]byte("1")}},
					&pgproto3.Execute{Portal: "from2", MaxRows: 1},
					&pgproto3.Execute{Portal: "from1", MaxRows: 1},
					&pgproto3.Execute{Portal: "from2", MaxRows: 1},
					&pgproto3.Execute{Portal: "from1", MaxRows: 0},
					&pgproto3.Execute{Portal: "from2", MaxRows: 0},
					&pgproto3.Sync{},
					&pgproto3.Query{String: "COMMIT"},
				}, []string{
					"CommandComplete BEGIN", "ReadyForQuery T",
					"ParseComplete", "BindComplete", "BindComplete",
					"DataRow 3|c", "PortalSuspended",
					"DataRow 2|b", "PortalSuspended",
					"DataRow 4|d", "PortalSuspended",
					"DataRow 3|c", "DataRow 4|d", "DataRow 5|e", "CommandComplete SELECT 3",
					"DataRow 5|e", "CommandComplete SELECT 1",
					"ReadyForQuery T",
					"CommandComplete COMMIT", "ReadyForQuery I",
				}},
				{"portals of two statements with the same text, interleaved", []pgproto3.FrontendMessage{
					&pgproto3.Query{String: "BEGIN"},
					&pgproto3.Parse{Name: "all1", Query: "SELECT v FROM w ORDER BY v"},
					&pgproto3.Parse{Name: "all2", Query: "SELECT v FROM w ORDER BY v"},
					&pgproto3.Bind{DestinationPortal: "a1", PreparedStatement: "all1"},
					&pgproto3.Bind{DestinationPortal: "a2", PreparedStatement: "all2"},
					&pgproto3.Execute{Portal: "a1", MaxRows: 1},
					&pgproto3.Execute{Portal: "a2", MaxRows: 1},
					&pgproto3.Execute{Portal: "a1", MaxRows: 1},
					&pgproto3.Sync{},
					&pgproto3.Query{String: "COMMIT"},
				}, []string{
					"CommandComplete BEGIN", "ReadyForQuery T",
					"ParseComplete", "ParseComplete", "BindComplete", "BindComplete",
					"DataRow 1", "PortalSuspended",
					"DataRow 1", "PortalSuspended",
					"DataRow 2", "PortalSuspended",
					"ReadyForQuery T",
					"CommandComplete COMMIT", "ReadyForQuery I",
				}},
				{"the statement outlives the transaction", []pgproto3.FrontendMessage{
					&pgproto3.Bind{PreparedStatement: "above", Parameters: [][]byte{[]byte("4")}},
					&pgproto3.Execute{},
					&pgproto3.Sync{},
				}, []string{"BindComplete", "DataRow 5|e", "CommandComplete SELECT 1", "ReadyForQuery I"}},
				{"a duplicate statement name", []pgproto3.FrontendMessage{
					&pgproto3.Parse{Name: "above", Query: "SELECT 1"},
					&pgproto3.Sync{},
				}, []string{"ErrorResponse 42P05", "ReadyForQuery I"}},
				{"the unnamed statement is replaced freely", []pgproto3.FrontendMessage{
					&pgproto3.Parse{Query: "SELECT name FROM w WHERE v = 1"},
					&pgproto3.Parse{Query: "SELECT name FROM w WHERE v = 2"},
					&pgproto3.Bind{},
					&pgproto3.Execute{},
					&pgproto3.Sync{},
				}, []string{"ParseComplete", "ParseComplete", "BindComplete", "DataRow b", "CommandComplete SELECT 1", "ReadyForQuery I"}},
				{"a duplicate portal name", []pgproto3.FrontendMessage{
					&pgproto3.Query{String: "BEGIN"},
					&pgproto3.Bind{DestinationPortal: "dup", PreparedStatement: "above", Parameters: [][]byte{[]byte("1")}},
					&pgproto3.Bind{DestinationPortal: "dup", PreparedStatement: "above", Parameters: [][]byte{[]byte("1")}},
					&pgproto3.Sync{},
					&pgproto3.Query{String: "ROLLBACK"},
				}, []string{
					"CommandComplete BEGIN", "ReadyForQuery T",
					"BindComplete", "ErrorResponse 42P03", "ReadyForQuery E",
					"CommandComplete ROLLBACK", "ReadyForQuery I",
				}},
				{"Close portal, then Execute it", []pgproto3.FrontendMessage{
					&pgproto3.Bind{DestinationPortal: "gone", PreparedStatement: "above", Parameters: [][]byte{[]byte("1")}},
					&pgproto3.Close{ObjectType: 'P', Name: "gone"},
					&pgproto3.Execute{Portal: "gone"},
					&pgproto3.Sync{},
				}, []string{"BindComplete", "CloseComplete", "ErrorResponse 34000", "ReadyForQuery I"}},
				{"Close statement, then Bind it", []pgproto3.FrontendMessage{
					&pgproto3.Close{ObjectType: 'S', Name: "above"},
					&pgproto3.Bind{PreparedStatement: "above", Parameters: [][]byte{[]byte("1")}},
					&pgproto3.Sync{},
				}, []string{"CloseComplete", "ErrorResponse 26000", "ReadyForQuery I"}},
				{"Close what does not exist", []pgproto3.FrontendMessage{
					&pgproto3.Close{ObjectType: 'S', Name: "never"},
					&pgproto3.Close{ObjectType: 'P', Name: "never"},
					&pgproto3.Sync{},
				}, []string{"CloseComplete", "CloseComplete", "ReadyForQuery I"}},
				{"the name is free again after Close", []pgproto3.FrontendMessage{
					&pgproto3.Parse{Name: "above", Query: "SELECT name FROM w WHERE v = 3"},
					&pgproto3.Bind{PreparedStatement: "above"},
					&pgproto3.Execute{},
					&pgproto3.Sync{},
				}, []string{"ParseComplete", "BindComplete", "DataRow c", "CommandComplete SELECT 1", "ReadyForQuery I"}},
				{"wrong number of parameters", []pgproto3.FrontendMessage{
					&pgproto3.Parse{Name: "two", Query: "SELECT name FROM w WHERE v = $1 OR v = $2", ParameterOIDs: []uint32{20, 20}},
					&pgproto3.Bind{PreparedStatement: "two", Parameters: [][]byte{[]byte("1")}},
					&pgproto3.Sync{},
				}, []string{"ParseComplete", "ErrorResponse 08P01", "ReadyForQuery I"}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					expectExchange(t, rc.exchange(tt.msgs...), tt.want...)
				})
			}
		})
	}
}

// TestExtendedDescribe: Describe of a statement gives the parameter types
// the client declared and the result columns; Describe of a portal gives
// the columns in the formats Bind asked for.
func TestExtendedDescribe(t *testing.T) {
	for _, target := range wireTargets() {
		t.Run(target.name, func(t *testing.T) {
			rc := target.connect(t)
			setupWire(t, rc)
			tests := []struct {
				name string
				msgs []pgproto3.FrontendMessage
				want []string
			}{
				{"statement with declared parameter types", []pgproto3.FrontendMessage{
					&pgproto3.Parse{Name: "q", Query: "SELECT v, name FROM w WHERE v > $1 AND name <> $2", ParameterOIDs: []uint32{20, 25}},
					&pgproto3.Describe{ObjectType: 'S', Name: "q"},
					&pgproto3.Sync{},
				}, []string{"ParseComplete", "ParameterDescription [20 25]", "RowDescription v:20/0 name:25/0", "ReadyForQuery I"}},
				{"statement without rows", []pgproto3.FrontendMessage{
					&pgproto3.Parse{Name: "ins", Query: "INSERT INTO w VALUES ($1, $2)", ParameterOIDs: []uint32{20, 25}},
					&pgproto3.Describe{ObjectType: 'S', Name: "ins"},
					&pgproto3.Sync{},
				}, []string{"ParseComplete", "ParameterDescription [20 25]", "NoData", "ReadyForQuery I"}},
				{"portal with mixed result formats", []pgproto3.FrontendMessage{
					&pgproto3.Bind{DestinationPortal: "", PreparedStatement: "q",
						Parameters: [][]byte{[]byte("3"), []byte("x")}, ResultFormatCodes: []int16{1, 0}},
					&pgproto3.Describe{ObjectType: 'P'},
					&pgproto3.Execute{},
					&pgproto3.Sync{},
				}, []string{"BindComplete", "RowDescription v:20/1 name:25/0",
					"DataRow 0x0000000000000004|d", "DataRow 0x0000000000000005|e", "CommandComplete SELECT 2", "ReadyForQuery I"}},
				{"portal with one format for all columns", []pgproto3.FrontendMessage{
					&pgproto3.Bind{PreparedStatement: "q",
						Parameters: [][]byte{[]byte("4"), []byte("x")}, ResultFormatCodes: []int16{1}},
					&pgproto3.Describe{ObjectType: 'P'},
					&pgproto3.Execute{},
					&pgproto3.Sync{},
				}, []string{"BindComplete", "RowDescription v:20/1 name:25/1",
					"DataRow 0x0000000000000005|e", "CommandComplete SELECT 1", "ReadyForQuery I"}},
				{"portal without rows", []pgproto3.FrontendMessage{
					&pgproto3.Bind{PreparedStatement: "ins", Parameters: [][]byte{[]byte("6"), []byte("f")}},
					&pgproto3.Describe{ObjectType: 'P'},
					&pgproto3.Execute{},
					&pgproto3.Sync{},
				}, []string{"BindComplete", "NoData", "CommandComplete INSERT 0 1", "ReadyForQuery I"}},
				{"a statement that does not exist", []pgproto3.FrontendMessage{
					&pgproto3.Describe{ObjectType: 'S', Name: "nope"},
					&pgproto3.Sync{},
				}, []string{"ErrorResponse 26000", "ReadyForQuery I"}},
				{"a portal that does not exist", []pgproto3.FrontendMessage{
					&pgproto3.Describe{ObjectType: 'P', Name: "nope"},
					&pgproto3.Sync{},
				}, []string{"ErrorResponse 34000", "ReadyForQuery I"}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					expectExchange(t, rc.exchange(tt.msgs...), tt.want...)
				})
			}
		})
	}
}

// TestExtendedDescribeUndeclaredParameters: SQLite cannot infer a
// parameter's type, so a parameter the client left untyped is described as
// 0 (unspecified), and one it typed keeps its type.
func TestExtendedDescribeUndeclaredParameters(t *testing.T) {
	p := newProxy(t, sqliteSecrets("wire_db"))
	rc := startRaw(t, p, "wire_db")
	setupWire(t, rc)
	got := rc.exchange(
		&pgproto3.Parse{Name: "q", Query: "SELECT name FROM w WHERE v = $1 OR v = $2 OR name = $3", ParameterOIDs: []uint32{0, 20}},
		&pgproto3.Describe{ObjectType: 'S', Name: "q"},
		&pgproto3.Sync{},
	)
	expectExchange(t, got, "ParseComplete", "ParameterDescription [0 20 0]", "RowDescription name:25/0", "ReadyForQuery I")
}

// TestExtendedErrorDiscardsUntilSync: after an error in an extended batch
// the server ignores every message up to Sync, and the batch's implicit
// transaction, with the writes that came before the error, is rolled back.
func TestExtendedErrorDiscardsUntilSync(t *testing.T) {
	for _, target := range wireTargets() {
		t.Run(target.name, func(t *testing.T) {
			rc := target.connect(t)
			setupWire(t, rc)
			got := rc.exchange(
				&pgproto3.Parse{Query: "INSERT INTO w VALUES (10, 'x')"}, &pgproto3.Bind{}, &pgproto3.Execute{},
				&pgproto3.Parse{Query: "INSERT INTO no_such_table VALUES (1)"}, &pgproto3.Bind{}, &pgproto3.Execute{},
				&pgproto3.Parse{Query: "INSERT INTO w VALUES (11, 'y')"}, &pgproto3.Bind{}, &pgproto3.Execute{},
				&pgproto3.Describe{ObjectType: 'P'},
				&pgproto3.Close{ObjectType: 'S'},
				&pgproto3.Sync{},
			)
			// PostgreSQL finds the missing table at Parse; SQLite only when
			// the statement runs, so the proxy may first acknowledge the
			// Parse and Bind. Nothing after the error may be answered.
			if len(got) < 5 || !equalSlices(got[:3], []string{"ParseComplete", "BindComplete", "CommandComplete INSERT 0 1"}) ||
				!equalSlices(got[len(got)-2:], []string{"ErrorResponse 42P01", "ReadyForQuery I"}) {
				t.Fatalf("got:\n  %s", strings.Join(got, "\n  "))
			}
			for _, m := range got[3 : len(got)-2] {
				if m != "ParseComplete" && m != "BindComplete" {
					t.Errorf("answer to a message after the failing one: %s\n  %s", m, strings.Join(got, "\n  "))
				}
			}
			// The first INSERT went with the batch; the session works.
			expectExchange(t, rc.exchange(&pgproto3.Query{String: "SELECT v FROM w WHERE v >= 10"}),
				"RowDescription v:20/0", "CommandComplete SELECT 0", "ReadyForQuery I")

			// In an explicit transaction the error fails the transaction,
			// and the discarding still ends at Sync.
			got = rc.exchange(
				&pgproto3.Query{String: "BEGIN"},
				&pgproto3.Parse{Query: "INSERT INTO w VALUES (12, 'z')"}, &pgproto3.Bind{}, &pgproto3.Execute{},
				&pgproto3.Parse{Query: "SELECT no_such_column FROM w"}, &pgproto3.Bind{}, &pgproto3.Execute{},
				&pgproto3.Parse{Query: "SELECT 1"}, &pgproto3.Bind{}, &pgproto3.Execute{},
				&pgproto3.Sync{},
				&pgproto3.Parse{Query: "SELECT 1"}, &pgproto3.Bind{}, &pgproto3.Execute{},
				&pgproto3.Sync{},
				&pgproto3.Query{String: "ROLLBACK"},
			)
			// Where the error arises (Parse or Execute) differs as above,
			// so the acknowledgements of Parse and Bind are left out.
			expectExchange(t, withoutAcks(got),
				"CommandComplete BEGIN", "ReadyForQuery T",
				"CommandComplete INSERT 0 1",
				"ErrorResponse 42703", "ReadyForQuery E",
				"ErrorResponse 25P02", "ReadyForQuery E",
				"CommandComplete ROLLBACK", "ReadyForQuery I")
			expectExchange(t, rc.exchange(&pgproto3.Query{String: "SELECT v FROM w WHERE v >= 10"}),
				"RowDescription v:20/0", "CommandComplete SELECT 0", "ReadyForQuery I")
		})
	}
}

// withoutAcks drops ParseComplete and BindComplete from an exchange.
func withoutAcks(got []string) []string {
	var out []string
	for _, m := range got {
		if m != "ParseComplete" && m != "BindComplete" {
			out = append(out, m)
		}
	}
	return out
}

// TestBatchErrorRollsBackEveryMode: a pgx batch is one implicit transaction
// in every mode: when its second statement fails, its first is undone.
func TestBatchErrorRollsBackEveryMode(t *testing.T) {
	p := newProxy(t, sqliteSecrets("batch_db"))
	setup := p.Connect(t, "batch_db")
	mustExec(t, setup, "CREATE TABLE b (id INTEGER PRIMARY KEY)")
	mustExec(t, setup, "INSERT INTO b VALUES (1)")
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			c := p.Connect(t, "batch_db", mode)
			batch := &pgx.Batch{}
			batch.Queue("INSERT INTO b VALUES ($1)", int64(100))
			batch.Queue("INSERT INTO b VALUES ($1)", int64(1)) // duplicate
			batch.Queue("INSERT INTO b VALUES ($1)", int64(101))
			err := c.SendBatch(ctxT(t), batch).Close()
			wantCode(t, err, "23505")
			wantTx(t, c.PgConn(), 'I', "a failed batch")
			if n := countRows(t, c, "b"); n != 1 {
				t.Errorf("%d rows, want 1: the batch's first INSERT must be rolled back", n)
			}
		})
	}
}

// TestEmptyQuery: an empty query string (or only a semicolon or a comment)
// gets EmptyQueryResponse, in the simple and the extended protocol.
func TestEmptyQuery(t *testing.T) {
	for _, target := range wireTargets() {
		t.Run(target.name, func(t *testing.T) {
			rc := target.connect(t)
			tests := []struct {
				name string
				msgs []pgproto3.FrontendMessage
				want []string
			}{
				{"simple, empty", []pgproto3.FrontendMessage{&pgproto3.Query{String: ""}},
					[]string{"EmptyQueryResponse", "ReadyForQuery I"}},
				{"simple, semicolon", []pgproto3.FrontendMessage{&pgproto3.Query{String: " ; "}},
					[]string{"EmptyQueryResponse", "ReadyForQuery I"}},
				{"simple, comment", []pgproto3.FrontendMessage{&pgproto3.Query{String: "-- nothing\n/* at all */"}},
					[]string{"EmptyQueryResponse", "ReadyForQuery I"}},
				{"extended", []pgproto3.FrontendMessage{
					&pgproto3.Parse{Query: ""}, &pgproto3.Bind{}, &pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{},
				}, []string{"ParseComplete", "BindComplete", "NoData", "EmptyQueryResponse", "ReadyForQuery I"}},
				{"extended, describe statement", []pgproto3.FrontendMessage{
					&pgproto3.Parse{Name: "empty", Query: "  "}, &pgproto3.Describe{ObjectType: 'S', Name: "empty"}, &pgproto3.Sync{},
				}, []string{"ParseComplete", "ParameterDescription []", "NoData", "ReadyForQuery I"}},
				{"in a transaction", []pgproto3.FrontendMessage{
					&pgproto3.Query{String: "BEGIN"}, &pgproto3.Query{String: ""}, &pgproto3.Query{String: "COMMIT"},
				}, []string{"CommandComplete BEGIN", "ReadyForQuery T", "EmptyQueryResponse", "ReadyForQuery T",
					"CommandComplete COMMIT", "ReadyForQuery I"}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					expectExchange(t, rc.exchange(tt.msgs...), tt.want...)
				})
			}
		})
	}

	t.Run("pgconn", func(t *testing.T) {
		p := newProxy(t, sqliteSecrets("wire_db"))
		c := p.Connect(t, "wire_db")
		results, err := c.PgConn().Exec(ctxT(t), "").ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(results) != 1 || results[0].CommandTag.String() != "" || len(results[0].Rows) != 0 {
			t.Errorf("results %+v", results)
		}
	})
}

// TestCommandTags: statements end with PostgreSQL's command tags, row
// counts included, in the simple and the extended protocol.
func TestCommandTags(t *testing.T) {
	steps := []struct{ sql, tag string }{
		{"CREATE TEMP TABLE tg (id BIGINT PRIMARY KEY, name TEXT)", "CREATE TABLE"},
		{"INSERT INTO tg VALUES (1, 'a'), (2, 'b'), (3, 'c')", "INSERT 0 3"},
		{"UPDATE tg SET name = 'x' WHERE id <= 2", "UPDATE 2"},
		{"UPDATE tg SET name = 'y' WHERE id > 100", "UPDATE 0"},
		{"DELETE FROM tg WHERE id = 3", "DELETE 1"},
		{"SELECT * FROM tg", "SELECT 2"},
		{"SELECT * FROM tg WHERE id > 100", "SELECT 0"},
		{"VALUES (1), (2), (3)", "SELECT 3"},
		{"INSERT INTO tg VALUES (4, 'd') RETURNING id", "INSERT 0 1"},
		{"UPDATE tg SET name = 'z' RETURNING id", "UPDATE 3"},
		{"DELETE FROM tg WHERE id = 4 RETURNING name", "DELETE 1"},
		{"CREATE INDEX tg_name ON tg (name)", "CREATE INDEX"},
		{"DROP INDEX tg_name", "DROP INDEX"},
		{"CREATE TEMP VIEW tv AS SELECT id FROM tg", "CREATE VIEW"},
		{"DROP VIEW tv", "DROP VIEW"},
		{"ALTER TABLE tg ADD COLUMN extra TEXT", "ALTER TABLE"},
		{"BEGIN", "BEGIN"},
		{"SAVEPOINT s", "SAVEPOINT"},
		{"RELEASE SAVEPOINT s", "RELEASE"},
		{"COMMIT", "COMMIT"},
		{"START TRANSACTION", "START TRANSACTION"},
		{"END", "COMMIT"},
		{"BEGIN", "BEGIN"},
		{"ABORT", "ROLLBACK"},
		{"SET application_name = 'tags'", "SET"},
		{"RESET application_name", "RESET"},
		{"SHOW application_name", "SHOW"},
		{"DROP TABLE tg", "DROP TABLE"},
	}
	for _, target := range wireTargets() {
		t.Run(target.name, func(t *testing.T) {
			for _, protocol := range []string{"simple", "extended"} {
				t.Run(protocol, func(t *testing.T) {
					rc := target.connect(t)
					for _, st := range steps {
						var got []string
						if protocol == "simple" {
							got = rc.exchange(&pgproto3.Query{String: st.sql})
						} else {
							got = rc.exchange(&pgproto3.Parse{Query: st.sql}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
						}
						tag := ""
						for _, m := range got {
							if rest, ok := strings.CutPrefix(m, "CommandComplete "); ok {
								tag = rest
							}
						}
						if tag != st.tag {
							t.Errorf("%s: tag %q, want %q\n  %s", st.sql, tag, st.tag, strings.Join(got, "\n  "))
						}
					}
				})
			}
		})
	}
}

// TestExtendedFlush: Flush makes the server send what it has without a
// Sync, so a client can read ParseComplete and a row before it syncs.
func TestExtendedFlush(t *testing.T) {
	for _, target := range wireTargets() {
		t.Run(target.name, func(t *testing.T) {
			rc := target.connect(t)
			setupWire(t, rc)
			rc.send(&pgproto3.Parse{Name: "f", Query: "SELECT name FROM w WHERE v = 1"}, &pgproto3.Flush{})
			if m := rc.mustRecv(); msgName(m) != "ParseComplete" {
				t.Fatalf("after Flush: %s, want ParseComplete", msgName(m))
			}
			rc.send(&pgproto3.Bind{PreparedStatement: "f"}, &pgproto3.Execute{}, &pgproto3.Flush{})
			var got []string
			for range 3 {
				got = append(got, summarize(rc.mustRecv()))
			}
			expectExchange(t, got, "BindComplete", "DataRow a", "CommandComplete SELECT 1")
			expectExchange(t, rc.exchange(&pgproto3.Sync{}), "ReadyForQuery I")
		})
	}
}

package sqltext

import (
	"reflect"
	"strings"
	"testing"
)

// The seed corpora live in testdata/fuzz/<Target>/ and run as ordinary
// tests with every `go test`. Run a target for real with, for example,
//
//	go test -run '^$' -fuzz '^FuzzSplit$' -fuzztime 20s ./internal/sqltext/

// FuzzTokens checks the lexer's contract: tokens are ordered, located by
// Pos, non-empty, separated only by whitespace, and Value never panics.
func FuzzTokens(f *testing.F) {
	f.Add("select 'a''b', E'\\'', $q$x$q$, \"i\", `b`, $1 /* c */ -- d")
	f.Fuzz(func(t *testing.T, in string) {
		end := 0
		for _, tk := range Tokens(in) {
			if tk.Pos < end || tk.Text == "" || in[tk.Pos:tk.End()] != tk.Text {
				t.Fatalf("bad token %+v after offset %d", tk, end)
			}
			if gap := in[end:tk.Pos]; trimSpace(gap) != "" {
				t.Fatalf("non-space %q skipped before %+v", gap, tk)
			}
			_ = tk.Value()
			end = tk.End()
		}
		if rest := in[end:]; trimSpace(rest) != "" {
			t.Fatalf("non-space tail %q dropped", rest)
		}
	})
}

// FuzzSplit checks that Split never panics, returns trimmed non-empty
// substrings, and is a fixed point: joining its statements with "\n;\n"
// and splitting again gives the same statements. The property holds
// because a statement can only end in an unterminated string, comment,
// parenthesis or body if it ran to the end of the input, which makes it
// the last one; the newline ends a trailing "--" comment.
func FuzzSplit(f *testing.F) {
	f.Add("select 1; select 2")
	f.Fuzz(func(t *testing.T, in string) {
		stmts := Split(in)
		at := 0
		for _, s := range stmts {
			if s == "" || trimSpace(s) != s {
				t.Fatalf("statement %q is empty or untrimmed", s)
			}
			i := strings.Index(in[at:], s)
			if i < 0 {
				t.Fatalf("statement %q is not a substring of the input after offset %d", s, at)
			}
			at += i + len(s)
		}
		again := Split(strings.Join(stmts, "\n;\n"))
		if !reflect.DeepEqual(again, stmts) {
			t.Fatalf("re-split differs:\n first %q\nsecond %q", stmts, again)
		}
	})
}

// writeWords are the keywords whose presence anywhere outside strings,
// identifiers and comments (other than as a qualified name after ".") must
// rule out ReadOnly.
var writeWords = []string{"INSERT", "UPDATE", "DELETE", "MERGE"}

// FuzzClassify checks that Classify never panics, that ReadOnly is never
// claimed for writes, and that Params is the highest $n.
func FuzzClassify(f *testing.F) {
	f.Add("with x as (delete from t returning *) select * from x")
	f.Fuzz(func(t *testing.T, in string) {
		info := Classify(in)
		maxParam := 0
		var prev Token
		hasWriteWord := false
		for _, tk := range Tokens(in) {
			if tk.Kind == TokComment {
				continue
			}
			if tk.Kind == TokParam {
				maxParam = max(maxParam, paramNumber(tk.Text))
			}
			if tk.Kind == TokIdent && !isOp(prev, ".") {
				for _, w := range writeWords {
					if strings.EqualFold(tk.Text, w) {
						hasWriteWord = true
					}
				}
			}
			prev = tk
		}
		if info.Params != maxParam {
			t.Fatalf("Params = %d, highest $n is %d", info.Params, maxParam)
		}
		if !info.ReadOnly {
			return
		}
		switch FirstKeyword(in) {
		case "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "COPY", "REPLACE":
			t.Fatalf("ReadOnly for a statement starting with %s: %+v", FirstKeyword(in), info)
		}
		if hasWriteWord {
			t.Fatalf("ReadOnly despite a write keyword: %+v", info)
		}
		if info.Kind != Read && info.Kind != Session {
			t.Fatalf("ReadOnly with Kind %v", info.Kind)
		}
	})
}

// FuzzParseSet checks that ParseSet and ParseShow never panic and agree
// with Classify about what they accepted.
func FuzzParseSet(f *testing.F) {
	f.Add(`SET search_path = "$user", public`)
	f.Fuzz(func(t *testing.T, in string) {
		if s, ok := ParseSet(in); ok {
			if cmd := Classify(in).Command; cmd != "SET" && cmd != "RESET" {
				t.Fatalf("ParseSet accepted a %q statement: %+v", cmd, s)
			}
			if s.Default && s.Value != "" {
				t.Fatalf("Default with a value: %+v", s)
			}
		}
		if name, ok := ParseShow(in); ok {
			if Classify(in).Command != "SHOW" || name == "" {
				t.Fatalf("ParseShow accepted %q as %q", in, name)
			}
		}
	})
}

// FuzzRewrite checks that Rewrite never panics, leaves no $n placeholder
// behind, reports every placeholder in order within 0..maxParam (0 only
// for a literal $0) and leaves text without placeholders untouched.
func FuzzRewrite(f *testing.F) {
	f.Add("select $1, '$2', $$ $3 $$, a$4 /* $5 */ -- $6")
	f.Fuzz(func(t *testing.T, in string) {
		var nums []int
		hasZero := false
		for _, tk := range Tokens(in) {
			if tk.Kind == TokParam {
				n := paramNumber(tk.Text)
				nums = append(nums, n)
				hasZero = hasZero || n == 0
			}
		}
		for _, style := range []Style{StyleDollar, StyleQuestionNumbered, StyleQuestion} {
			out, order, maxParam := Rewrite(in, style)
			if !reflect.DeepEqual(order, nums) {
				t.Fatalf("style %d: order %v, placeholders %v", style, order, nums)
			}
			for _, n := range order {
				if n > maxParam || n < 1 && !(n == 0 && hasZero) {
					t.Fatalf("style %d: order entry %d outside 1..%d", style, n, maxParam)
				}
			}
			if len(nums) == 0 && out != in {
				t.Fatalf("style %d: text without placeholders changed to %q", style, out)
			}
			if style == StyleDollar {
				if out != in {
					t.Fatalf("StyleDollar changed the text to %q", out)
				}
				continue
			}
			for _, tk := range Tokens(out) {
				if tk.Kind == TokParam {
					t.Fatalf("style %d: %q left placeholder %q in %q", style, in, tk.Text, out)
				}
			}
		}
	})
}

var dialects = [...]Dialect{AnyDialect, Postgres, MySQL, SQLite}

// FuzzCacheability checks that Cacheability and Writes never panic, that
// nothing cacheable is something Classify does not call a read-only read
// (or SHOW), starts with or contains a write keyword, or calls a known
// volatile function in a position where it can only be a call; that
// AnyDialect is at least as strict as every dialect; and that a write
// always names a table or says "everything".
func FuzzCacheability(f *testing.F) {
	f.Add("WITH x AS (SELECT * FROM t) SELECT nextval('s'), f(1) FROM x, u /* xconn:ttl=5s */")
	f.Fuzz(func(t *testing.T, in string) {
		info := Classify(in)
		toks := Significant(in)
		hasWriteWord := false
		volatileCall := ""
		for i, tk := range toks {
			afterDot := i > 0 && isOp(toks[i-1], ".")
			if tk.Kind != TokIdent || afterDot {
				continue
			}
			for _, w := range writeWords {
				if strings.EqualFold(tk.Text, w) {
					hasWriteWord = true
				}
			}
			name := strings.ToLower(tk.Text)
			if _, ok := volatileFunction(name); !ok || i+1 >= len(toks) || !isOp(toks[i+1], "(") || i == 0 {
				continue
			}
			// Only where the word cannot be an alias, a CTE name or a
			// column-list entry: after an operator or a clause keyword.
			p := toks[i-1]
			callOnly := p.Kind == TokOperator && p.Text != ")" && p.Text != "." && p.Text != ","
			switch kw(p) {
			case "SELECT", "WHERE", "AND", "OR", "NOT", "THEN", "ELSE", "WHEN":
				callOnly = true
			}
			if callOnly {
				volatileCall = name
			}
		}
		var anyCI CacheInfo
		var anyWS WriteSet
		for _, d := range dialects {
			ci := Cacheability(in, d)
			ws := Writes(in, d)
			if d == AnyDialect {
				anyCI, anyWS = ci, ws
			} else {
				if anyCI.Cacheable && !ci.Cacheable {
					t.Fatalf("cacheable for AnyDialect but not for %v: %q", d, ci.Reason)
				}
				if ws.All && !anyWS.All || ws.Session && !anyWS.Session {
					t.Fatalf("%v: %+v is stricter than AnyDialect's %+v", d, ws, anyWS)
				}
				for _, tb := range ws.Tables {
					if !anyWS.All && !slicesContains(anyWS.Tables, tb) {
						t.Fatalf("%v writes %v, AnyDialect does not: %+v", d, tb, anyWS)
					}
				}
			}
			if info.Kind == DDL && !ws.All {
				t.Fatalf("%v: DDL %q without All: %+v", d, info.Command, ws)
			}
			if info.Kind == Write && info.Command != "SELECT" && info.Command != "EXPLAIN" && !ws.All && len(ws.Tables) == 0 {
				t.Fatalf("%v: %s writes nothing: %+v", d, info.Command, ws)
			}
			if ci.Cacheable != (ci.Reason == "") || ci.TTL < 0 || ci.NoCache && ci.Cacheable {
				t.Fatalf("%v: inconsistent %+v", d, ci)
			}
			if !ci.Cacheable {
				continue
			}
			if !info.ReadOnly || info.Kind != Read && info.Command != "SHOW" {
				t.Fatalf("%v: cacheable, but Classify says %+v", d, info)
			}
			switch FirstKeyword(in) {
			case "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "COPY", "REPLACE", "CALL", "DO", "SET", "BEGIN":
				t.Fatalf("%v: cacheable statement starting with %s", d, FirstKeyword(in))
			}
			if hasWriteWord {
				t.Fatalf("%v: cacheable despite a write keyword", d)
			}
			if volatileCall != "" {
				t.Fatalf("%v: cacheable despite a call of %s()", d, volatileCall)
			}
		}
	})
}

func slicesContains(ts []Table, t Table) bool {
	for _, o := range ts {
		if o == t {
			return true
		}
	}
	return false
}

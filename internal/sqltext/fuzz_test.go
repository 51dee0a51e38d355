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

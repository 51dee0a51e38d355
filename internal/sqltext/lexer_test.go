package sqltext

import (
	"fmt"
	"strings"
	"testing"
)

// tok renders a token as "Kind:text" ("Kind!:text" when unterminated) so
// expectations read like the input.
func tok(t Token) string {
	if t.Unterminated {
		return fmt.Sprintf("%v!:%s", t.Kind, t.Text)
	}
	return fmt.Sprintf("%v:%s", t.Kind, t.Text)
}

func TestTokens(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"whitespace only", " \t\r\n\f\v", nil},
		{"keywords and idents", "SELECT a_1, b$2 FROM t",
			[]string{"Ident:SELECT", "Ident:a_1", "Operator:,", "Ident:b$2", "Ident:FROM", "Ident:t"}},
		{"non-ascii bytes are identifier chars", "select ñame\u00a0x",
			[]string{"Ident:select", "Ident:ñame\u00a0x"}},
		{"quoted identifier with doubled quote", `"a""b" "c;d"`,
			[]string{`QuotedIdent:"a""b"`, `QuotedIdent:"c;d"`}},
		{"backtick identifier", "`a``b` `x;$1`",
			[]string{"QuotedIdent:`a``b`", "QuotedIdent:`x;$1`"}},
		{"unicode identifier", `U&"d\0061t"`, []string{`QuotedIdent:U&"d\0061t"`}},
		{"string with doubled quote", `'it''s' 'x'`,
			[]string{`String:'it''s'`, `String:'x'`}},
		{"plain string keeps backslash", `'a\' , 1`,
			[]string{`String:'a\'`, "Operator:,", "Number:1"}},
		{"escape string", `E'\'' e'a\\' x`,
			[]string{`String:E'\''`, `String:e'a\\'`, "Ident:x"}},
		{"prefix only as whole word", `abe'x'`, []string{"Ident:abe", "String:'x'"}},
		{"bit, hex, national, unicode strings", `B'101' X'ff' N'n' U&'\0041' u&'q'`,
			[]string{"String:B'101'", "String:X'ff'", "String:N'n'", `String:U&'\0041'`, "String:u&'q'"}},
		{"U& not followed by quote", "u & v", []string{"Ident:u", "Operator:&", "Ident:v"}},
		{"dollar quote", "$$a;'b$1$$", []string{"String:$$a;'b$1$$"}},
		{"tagged dollar quote", "$fn$ x $$ y $fn$ z",
			[]string{"String:$fn$ x $$ y $fn$", "Ident:z"}},
		{"dollar tag is case sensitive", "$a$ $A$ $a$", []string{"String:$a$ $A$ $a$"}},
		{"params", "$1+$23", []string{"Param:$1", "Operator:+", "Param:$23"}},
		{"identifier containing dollar digit", "a$1", []string{"Ident:a$1"}},
		{"lone dollar", "$ x", []string{"Operator:$", "Ident:x"}},
		{"numbers", "1 1.5 .5 1e10 2.5E-3 0x1F 1_000 1..2",
			[]string{"Number:1", "Number:1.5", "Number:.5", "Number:1e10", "Number:2.5E-3", "Number:0x1F", "Number:1_000", "Number:1", "Operator:..", "Number:2"}},
		{"number then ident", "1e x 1ex", []string{"Number:1", "Ident:e", "Ident:x", "Number:1", "Ident:ex"}},
		{"line comment", "a -- c;$1\nb", []string{"Ident:a", "Comment:-- c;$1", "Ident:b"}},
		{"line comment ends at CR", "a --c\rb", []string{"Ident:a", "Comment:--c", "Ident:b"}},
		{"nested block comment", "/* a /* b */ c */ x",
			[]string{"Comment:/* a /* b */ c */", "Ident:x"}},
		{"operators", "a::int <> b || c ->> 'k' @> d",
			[]string{"Ident:a", "Operator:::", "Ident:int", "Operator:<>", "Ident:b", "Operator:||", "Ident:c", "Operator:->>", "String:'k'", "Operator:@>", "Ident:d"}},
		{"operator stops at comment", "a*/*c*/b+--c",
			[]string{"Ident:a", "Operator:*", "Comment:/*c*/", "Ident:b", "Operator:+", "Comment:--c"}},
		{"trailing minus split off", "a=-1 b<=+2 c@-3",
			[]string{"Ident:a", "Operator:=", "Operator:-", "Number:1", "Ident:b", "Operator:<=", "Operator:+", "Number:2", "Ident:c", "Operator:@-", "Number:3"}},
		{"hash is an operator", "a # b", []string{"Ident:a", "Operator:#", "Ident:b"}},
		{"punctuation", "f(a[1]);", []string{"Ident:f", "Operator:(", "Ident:a", "Operator:[", "Number:1", "Operator:]", "Operator:)", "Semicolon:;"}},
		{"colon forms", "a := :b", []string{"Ident:a", "Operator::=", "Operator::", "Ident:b"}},
		{"unterminated string", "select 'abc", []string{"Ident:select", "String!:'abc"}},
		{"unterminated doubled quote", "'a''", []string{"String!:'a''"}},
		{"unterminated escape string", `E'a\'`, []string{`String!:E'a\'`}},
		{"unterminated quoted identifier", `"ab`, []string{`QuotedIdent!:"ab`}},
		{"unterminated block comment", "x /* a /* b */", []string{"Ident:x", "Comment!:/* a /* b */"}},
		{"unterminated dollar quote", "$q$ abc $q", []string{"String!:$q$ abc $q"}},
		{"odd bytes", "\x00{}\\", []string{"Operator:\x00", "Operator:{", "Operator:}", "Operator:\\"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			toks := Tokens(tc.in)
			var got []string
			for _, tk := range toks {
				got = append(got, tok(tk))
				if tc.in[tk.Pos:tk.End()] != tk.Text {
					t.Errorf("token %s: Pos %d does not locate its text", tok(tk), tk.Pos)
				}
			}
			if strings.Join(got, " | ") != strings.Join(tc.want, " | ") {
				t.Errorf("Tokens(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTokenValue(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"ident is lower-cased", "MyTable", "mytable"},
		{"ident keeps non-ascii", "ÄbC", "Äbc"},
		{"ident truncated to 63 bytes", strings.Repeat("a", 70), strings.Repeat("a", 63)},
		{"truncation keeps utf-8 whole", strings.Repeat("a", 62) + "é", strings.Repeat("a", 62)},
		{"quoted ident keeps case", `"My""T"`, `My"T`},
		{"backtick ident", "`a``b`", "a`b"},
		{"unicode ident", `U&"d\0061t"`, "dat"},
		{"string", `'it''s'`, "it's"},
		{"empty string", `''`, ""},
		{"plain string backslash literal", `'a\n'`, `a\n`},
		{"escape string", `E'a\'b\\c\n\t\x41\101\u00e9'`, "a'b\\c\n\tAAé"},
		{"escape string surrogate pair", `E'\uD83D\uDE00'`, "😀"},
		{"escape string doubled quote", `E'it''s'`, "it's"},
		{"unicode string", `U&'\0041\+00263A\\'`, "A☺\\"},
		{"dollar quote", "$t$a'b$t$", "a'b"},
		{"empty dollar quote", "$$$$", ""},
		{"unterminated string", `'abc`, "abc"},
		{"unterminated doubled quote", `'a''`, "a'"},
		{"unterminated dollar", "$x$abc", "abc"},
		{"hex string", "X'ff'", "ff"},
		{"param", "$12", "12"},
		{"number", "1.5", "1.5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			toks := Tokens(tc.in)
			if len(toks) != 1 {
				t.Fatalf("Tokens(%q) = %d tokens, want 1", tc.in, len(toks))
			}
			if got := toks[0].Value(); got != tc.want {
				t.Errorf("Value(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLexerLookahead(t *testing.T) {
	l := NewLexer("a b")
	saved := *l
	first, _ := l.Next()
	again, _ := saved.Next()
	if first != again {
		t.Fatalf("a copied Lexer should rescan the same token: %v vs %v", first, again)
	}
	l.Reset("c")
	if tk, ok := l.Next(); !ok || tk.Text != "c" || l.Pos() != 1 {
		t.Fatalf("after Reset: %v %v pos %d", tk, ok, l.Pos())
	}
	if _, ok := l.Next(); ok {
		t.Fatal("Next after the end should report false")
	}
}

package sqltext

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestKeywordLiteralsKnown guards kw: every upper-case word the package's
// code compares against must be in keywordList, or lower-case input would
// silently never match it.
func TestKeywordLiteralsKnown(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !isUpperWords(s) || s == "DDL" { // DDL: Kind.String

				return true
			}
			for _, w := range strings.Fields(s) {
				if _, ok := keywords[w]; !ok {
					t.Errorf("%s: %q uses %q, which is missing from keywordList", fset.Position(lit.Pos()), s, w)
				}
			}
			return true
		})
	}
}

func isUpperWords(s string) bool {
	if len(s) < 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c == '_' || c == ' ') {
			return false
		}
	}
	return true
}

func TestKw(t *testing.T) {
	tests := []struct {
		name string
		tok  Token
		want string
	}{
		{"lower", Token{Kind: TokIdent, Text: "select"}, "SELECT"},
		{"mixed", Token{Kind: TokIdent, Text: "SeLeCt"}, "SELECT"},
		{"unknown", Token{Kind: TokIdent, Text: "frob"}, ""},
		{"too long", Token{Kind: TokIdent, Text: "selectselectselectselect"}, ""},
		{"quoted is never a keyword", Token{Kind: TokQuotedIdent, Text: `"select"`}, ""},
		{"non-ascii", Token{Kind: TokIdent, Text: "sélect"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := kw(tc.tok); got != tc.want {
				t.Errorf("kw(%q) = %q, want %q", tc.tok.Text, got, tc.want)
			}
		})
	}
}

func TestQuoteIdent(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "public", "public"},
		{"underscore digits", "_a1", "_a1"},
		{"upper case", "App", `"App"`},
		{"leading digit", "1a", `"1a"`},
		{"dollar", "$user", `"$user"`},
		{"reserved keyword", "select", `"select"`},
		{"unreserved keyword", "begin", "begin"},
		{"inner quote", `a"b`, `"a""b"`},
		{"empty", "", `""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := quoteIdent(tc.in); got != tc.want {
				t.Errorf("quoteIdent(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

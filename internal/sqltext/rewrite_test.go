package sqltext

import (
	"reflect"
	"testing"
)

func TestRewrite(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		style    Style
		want     string
		order    []int
		maxParam int
	}{
		{"no dollar", "select 1", StyleQuestion, "select 1", nil, 0},
		{"numbered", "select $1, $2, $1", StyleQuestionNumbered, "select ?1, ?2, ?1", []int{1, 2, 1}, 2},
		{"question", "select $2 + $1 + $2", StyleQuestion, "select ? + ? + ?", []int{2, 1, 2}, 2},
		{"dollar style reports only", "select $3", StyleDollar, "select $3", []int{3}, 3},
		{"adjacent to operators", "a=$1,b<$2", StyleQuestionNumbered, "a=?1,b<?2", []int{1, 2}, 2},
		{"multi-digit", "values ($10, $2)", StyleQuestion, "values (?, ?)", []int{10, 2}, 10},
		{"in plain string", "select '$1', $2", StyleQuestion, "select '$1', ?", []int{2}, 2},
		{"in escape string", `select E'\'$1', $2`, StyleQuestion, `select E'\'$1', ?`, []int{2}, 2},
		{"in quoted identifier", `select "$1", $2`, StyleQuestion, `select "$1", ?`, []int{2}, 2},
		{"in backtick identifier", "select `$1`, $2", StyleQuestion, "select `$1`, ?", []int{2}, 2},
		{"in dollar quote", "select $$ $1 $$, $2", StyleQuestion, "select $$ $1 $$, ?", []int{2}, 2},
		{"in tagged dollar quote", "select $q$ $1 $q$, $2", StyleQuestion, "select $q$ $1 $q$, ?", []int{2}, 2},
		{"in line comment", "select $2 -- $1\n", StyleQuestion, "select ? -- $1\n", []int{2}, 2},
		{"in block comment", "select /* $1 /* $3 */ */ $2", StyleQuestion, "select /* $1 /* $3 */ */ ?", []int{2}, 2},
		{"identifier containing dollar", "select a$1, $1", StyleQuestion, "select a$1, ?", []int{1}, 1},
		{"only non-param dollars", "select $$x$$, a$1", StyleQuestion, "select $$x$$, a$1", nil, 0},
		{"dollar zero is reported", "select $0", StyleQuestion, "select ?", []int{0}, 0},
		{"huge number saturates", "select $99999999999", StyleQuestionNumbered, "select ?2147483647", []int{2147483647}, 2147483647},
		{"param followed by a word gets a space", "select $1abc, $2_x", StyleQuestionNumbered, "select ?1 abc, ?2 _x", []int{1, 2}, 2},
		{"fuzz: re-lexing cannot expose a param", "$0B0$0", StyleQuestionNumbered, "?0 B0$0", []int{0}, 0},
		{"fuzz: param then dot", "$0.E0$0", StyleQuestionNumbered, "?0 .E0$0", []int{0}, 0},
		{"param field access", "select $1.f", StyleQuestion, "select ? .f", []int{1}, 1},
		{"param followed by dollar quote", "$1$a$x$a$", StyleQuestion, "?$a$x$a$", []int{1}, 1},
		{"unterminated string swallows rest", "select $1, 'abc $2", StyleQuestion, "select ?, 'abc $2", []int{1}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, order, maxParam := Rewrite(tc.in, tc.style)
			if got != tc.want || !reflect.DeepEqual(order, tc.order) || maxParam != tc.maxParam {
				t.Errorf("Rewrite(%q) = %q, %v, %d; want %q, %v, %d", tc.in, got, order, maxParam, tc.want, tc.order, tc.maxParam)
			}
		})
	}
}

func TestRewriteNoParamAllocatesNothing(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"no dollar", "SELECT a, b FROM t WHERE c = 'x' ORDER BY a LIMIT 10"},
		{"dollar quote only", "SELECT $$x$$, a$1 FROM t"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(100, func() {
				out, _, _ := Rewrite(tc.in, StyleQuestion)
				if out != tc.in {
					t.Fatal("text changed")
				}
			})
			if allocs != 0 {
				t.Errorf("Rewrite allocated %v times, want 0", allocs)
			}
		})
	}
}

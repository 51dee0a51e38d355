package sqltext

import (
	"fmt"
	"testing"
)

func TestValuesParams(t *testing.T) {
	sql := "INSERT INTO t (a, b, c) VALUES ($1, $2 + 1, $3), ($4, '(', $5) ON CONFLICT DO NOTHING RETURNING $6"
	toks := Significant(sql)
	i := 0
	for toks[i].Text != "VALUES" {
		i++
	}
	var got []string
	ValuesParams(toks, i+1, func(p Token, k int) { got = append(got, fmt.Sprintf("%s@%d", p.Text, k)) })
	// $2 is in an expression, $6 after the list: neither is an element.
	if want := "[$1@0 $3@2 $4@0 $5@2]"; fmt.Sprint(got) != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}

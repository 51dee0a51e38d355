package mysql

import (
	"strings"

	"github.com/xconnproxy/xconnproxy/internal/sqltext"
)

// Normalize rewrites the two places where MySQL's comments differ from
// PostgreSQL's, so that the proxy's scanner (PostgreSQL's rules) reads the
// statement as MySQL will:
//
//   - "--" starts a comment in MySQL only when a space or a control
//     character follows it; otherwise it is two minus signs (10--$1 is
//     10 - -$1). Such a "--" becomes "- -".
//   - "#" starts a comment to the end of the line in MySQL; to PostgreSQL
//     it is an operator. It becomes " -- ", a comment to both.
//
// Strings, quoted identifiers and /* */ comments are left alone.
func (d *Dialect) Normalize(q string) string {
	if !strings.Contains(q, "--") && !strings.Contains(q, "#") {
		return q
	}
	// Each rewrite changes how the rest lexes, so start again after one;
	// every round removes one "--x" or "#" for good.
	for rounds := 0; rounds < 10000; rounds++ {
		lx := sqltext.NewLexer(q)
		changed := false
		for {
			t, ok := lx.Next()
			if !ok {
				break
			}
			switch t.Kind {
			case sqltext.TokComment:
				if len(t.Text) > 2 && t.Text[1] == '-' && t.Text[2] > ' ' && t.Text[2] != 0x7f {
					q = q[:t.Pos] + "- -" + q[t.Pos+2:]
					changed = true
				}
			case sqltext.TokOperator:
				if i := strings.IndexByte(t.Text, '#'); i >= 0 {
					at := t.Pos + i
					q = q[:at] + " -- " + q[at+1:]
					changed = true
				}
			}
			if changed {
				break
			}
		}
		if !changed {
			return q
		}
	}
	return q
}

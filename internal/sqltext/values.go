package sqltext

// ValuesParams walks the parenthesised tuples of a VALUES list, toks[i]
// being the first token after VALUES, and calls each for every parameter
// that stands alone as element k (from 0) of its tuple: what an INSERT puts
// into its k-th column. It stops at the first token after the list (ON
// CONFLICT, ON DUPLICATE KEY, RETURNING).
func ValuesParams(toks []Token, i int, each func(param Token, k int)) {
	depth, k := 0, 0
	for ; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.Text == "(" && t.Kind == TokOperator:
			depth++
			if depth == 1 {
				k = 0
			}
		case t.Text == ")" && t.Kind == TokOperator:
			depth--
		case t.Text == "," && t.Kind == TokOperator && depth == 1:
			k++
		case depth == 1 && t.Kind == TokParam:
			prevOK := i > 0 && (toks[i-1].Text == "(" || toks[i-1].Text == ",")
			nextOK := i+1 < len(toks) && (toks[i+1].Text == ")" || toks[i+1].Text == ",")
			if prevOK && nextOK {
				each(t, k)
			}
		case depth == 0 && t.Text != ",":
			return
		}
	}
}

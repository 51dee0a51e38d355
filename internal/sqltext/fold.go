package sqltext

// ContainsFold reports whether s contains any of the lower-case ASCII
// words in any case, without copying s: a cheap test for whether a
// statement can be of interest before it is tokenised.
func ContainsFold(s string, words ...string) bool {
	for _, w := range words {
		if hasFold(s, w) {
			return true
		}
	}
	return false
}

func hasFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for ; j < len(w); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

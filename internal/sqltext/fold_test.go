package sqltext

import "testing"

func TestContainsFold(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"SELECT 1", false}, {"SET search_path = x", true}, {"reset ALL", true}, {"select * from Settings", true}, {"", false}, {"se", false},
	} {
		if got := ContainsFold(tc.s, "set", "discard"); got != tc.want {
			t.Errorf("ContainsFold(%q) = %v", tc.s, got)
		}
	}
}

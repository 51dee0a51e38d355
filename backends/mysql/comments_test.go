package mysql

import "testing"

func TestNormalizeComments(t *testing.T) {
	d := &Dialect{}
	for in, want := range map[string]string{
		"SELECT 10--$1":                    "SELECT 10- -$1",
		"SELECT 10 -- $1":                  "SELECT 10 -- $1",
		"SELECT 1 --\tx":                   "SELECT 1 --\tx",
		"SELECT 1 --- c\n, 2":              "SELECT 1 - -- c\n, 2",
		"SELECT 1 # $1\n, $2":              "SELECT 1  --  $1\n, $2",
		"SELECT '--x', `a#b`, \"#\" /*#*/": "SELECT '--x', `a#b`, \"#\" /*#*/",
		"SELECT 10----1":                   "SELECT 10- - - -1",
		"SELECT 1":                         "SELECT 1",
	} {
		if got := d.Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

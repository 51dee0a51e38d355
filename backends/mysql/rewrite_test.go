package mysql

import (
	"reflect"
	"testing"
)

// Placeholders become MySQL's ? in order, never inside strings, quoted
// identifiers or comments. TestPlaceholdersOnTheServer runs such
// statements on the server, which must agree.
func TestRewrite(t *testing.T) {
	d := &Dialect{}
	tests := []struct {
		name  string
		in    string
		want  string
		order []int
	}{
		{"none", "SELECT 1", "SELECT 1", nil},
		{"in order", "SELECT * FROM t WHERE a = $1 AND b = $2", "SELECT * FROM t WHERE a = ? AND b = ?", []int{1, 2}},
		{"reordered and repeated", "SELECT $2, $1, $2", "SELECT ?, ?, ?", []int{2, 1, 2}},
		{"single-quoted string", "SELECT '$1', $1", "SELECT '$1', ?", []int{1}},
		{"doubled quote", "SELECT 'it''s $1', $2", "SELECT 'it''s $1', ?", []int{2}},
		{"double-quoted string", `SELECT "$1", $2`, `SELECT "$1", ?`, []int{2}},
		{"backticks", "SELECT `$1`, `a``$2` FROM t WHERE x = $3", "SELECT `$1`, `a``$2` FROM t WHERE x = ?", []int{3}},
		{"line comment", "SELECT $1 -- $2\n, $3", "SELECT ? -- $2\n, ?", []int{1, 3}},
		{"block comment", "SELECT /* $1 */ $2", "SELECT /* $1 */ ?", []int{2}},
		{"backslash ends nothing", `SELECT 'C:\', $1`, `SELECT 'C:\', ?`, []int{1}},
		{"dollar in an identifier", "SELECT a$1 FROM t WHERE b = $1", "SELECT a$1 FROM t WHERE b = ?", []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, order := d.Rewrite(tt.in)
			if got != tt.want || !reflect.DeepEqual(order, tt.order) {
				t.Errorf("Rewrite(%q) = %q %v, want %q %v", tt.in, got, order, tt.want, tt.order)
			}
		})
	}
}

package backends

import (
	"fmt"
	"strings"

	"github.com/xconnproxy/xconnproxy/internal/pgcode"
)

// ParseOptions reads the startup "options" parameter: command-line switches
// "-c name=value" and "--name=value", with backslash escaping spaces.
func ParseOptions(s string) ([][2]string, error) {
	var words []string
	var cur strings.Builder
	esc, have := false, false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc, have = true, true
		case r == ' ' || r == '\t':
			if have {
				words = append(words, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		words = append(words, cur.String())
	}
	var out [][2]string
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-c" && i+1 < len(words):
			i++
			w = words[i]
		case strings.HasPrefix(w, "-c"):
			w = w[2:]
		case strings.HasPrefix(w, "--"):
			w = w[2:]
		default:
			return nil, pgcode.Fatal(pgcode.FeatureNotSupported,
				fmt.Sprintf("unsupported command-line option %q in startup options", w))
		}
		name, value, ok := strings.Cut(w, "=")
		if !ok {
			return nil, pgcode.Fatal(pgcode.SyntaxError, fmt.Sprintf("-c %s requires a value", name))
		}
		out = append(out, [2]string{strings.ReplaceAll(name, "-", "_"), value})
	}
	return out, nil
}

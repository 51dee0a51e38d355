package secrets

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// envPrefix marks a value read from the environment.
const envPrefix = "env:"

// ResolveEnv returns $VAR for a value "env:VAR" and any other value unchanged.
// A variable that is not set (or an "env:" with no name) is an error naming
// the variable and wrapping [ErrMissingEnv]; a variable set to "" resolves to
// "". lookup nil means os.LookupEnv. Resolution is one level deep: a variable
// whose value starts with "env:" is taken as it is.
func ResolveEnv(value string, lookup func(string) (string, bool)) (string, error) {
	name, ok := strings.CutPrefix(value, envPrefix)
	if !ok {
		return value, nil
	}
	if name == "" {
		return "", fmt.Errorf(`%w: "env:" names no variable; write "env:VAR"`, ErrMissingEnv)
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(name)
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrMissingEnv, name)
	}
	return v, nil
}

// resolveTree returns a copy of v with every string resolved by ResolveEnv,
// visiting map keys in sorted order so that the first error reported is
// always the same one. The error is a *keyError naming the path of the value.
func resolveTree(v any, path string, lookup func(string) (string, bool)) (any, error) {
	switch v := v.(type) {
	case string:
		s, err := ResolveEnv(v, lookup)
		if err != nil {
			return nil, &keyError{key: path, err: err}
		}
		return s, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range sortedKeys(v) {
			r, err := resolveTree(v[k], joinKey(path, k), lookup)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			r, err := resolveTree(e, path+"["+strconv.Itoa(i)+"]", lookup)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	default:
		return v, nil
	}
}

// joinKey extends a dotted key path, quoting parts that are not bare keys.
func joinKey(path, k string) string {
	if path == "" {
		return tomlKey(k)
	}
	return path + "." + tomlKey(k)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package secrets

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseURL feeds ParseURL prefix+secret+suffix, and checks that:
//   - it never panics, and fails only with the package's url errors;
//   - what it accepts renders (password shown) and reads back to the same
//     parts, so URL() is faithful;
//   - URL() does not depend on the password at all;
//   - with the secret wrapped in a marker and placed after "://", no error
//     ever shows the marker, wherever in the url the secret lands (password,
//     port, host, query...).
//
// The committed corpus is in testdata/fuzz/FuzzParseURL.
func FuzzParseURL(f *testing.F) {
	for _, s := range [][3]string{
		{"postgresql://u:", "s3cret", "@host:5432/db"},
		{"postgresql://u:", "s3cret", "@host:notaport/db"},
		{"postgresql://u:", "s3cret", "/db"},
		{"postgresql://u:", "p@ss", "@host/db"},
		{"mysql+pymysql://me:", "a:b/c?d", "@[::1]:3306/db?charset=utf8mb4"},
		{"sqlite:///", "pets", ".db"},
		{"snowflake://u:", "s3cret", "@account/db"},
		{"postgresql://u:", "s3cret", "@[::1]x/db"},
		{"postgresql://h/db?sslpassword=", "s3cret", "&sslmode=require"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, prefix, secret, suffix string) {
		checkParseURL(t, prefix+secret+suffix)

		const marker = "Zq9Marker"
		lower := strings.ToLower
		if !strings.Contains(prefix, "://") || strings.Contains(lower(prefix+suffix), lower(marker)) {
			return // the marker would not be (only) the secret
		}
		raw := prefix + marker + secret + marker + suffix
		if _, err := ParseURL(raw); err != nil && strings.Contains(lower(err.Error()), lower(marker)) {
			t.Fatalf("ParseURL(%q): error %q shows the secret", raw, err)
		}
	})
}

func checkParseURL(t *testing.T, raw string) {
	t.Helper()
	c, err := ParseURL(raw)
	if err != nil {
		if !errors.Is(err, ErrBadURL) && !errors.Is(err, ErrUnsupportedDialect) {
			t.Fatalf("ParseURL(%q) = %v: not a url error", raw, err)
		}
		return
	}
	rendered := c.render(false)
	back, err := ParseURL(rendered)
	if err != nil {
		t.Fatalf("ParseURL(%q) = %+v renders as %q, which fails: %v", raw, partsOf(c), rendered, err)
	}
	if !reflect.DeepEqual(partsOf(back), partsOf(c)) {
		t.Fatalf("ParseURL(%q) = %+v renders as %q, which reads as %+v", raw, partsOf(c), rendered, partsOf(back))
	}
	if c.Password != "" {
		other := *c
		other.Password = "x" + c.Password
		if c.URL() != other.URL() {
			t.Fatalf("URL() depends on the password: %q vs %q", c.URL(), other.URL())
		}
	}
}

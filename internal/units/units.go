// Package units parses the durations and byte sizes of xconnproxy's
// settings, in the forms people write in TOML: "90s", "10m", "1d", a bare
// number of seconds; "64MB", "1GiB", a bare number of bytes.
package units

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration parses a duration setting. A string takes Go's units plus "d"
// (days), or is a bare number of seconds; a TOML integer or float is
// seconds. Negative values are errors.
func Duration(v any) (time.Duration, error) {
	var d time.Duration
	// seconds converts, refusing what a Duration cannot hold (about 292
	// years) instead of wrapping around.
	seconds := func(n float64) (time.Duration, error) {
		ns := n * float64(time.Second)
		if math.IsNaN(ns) || ns > math.MaxInt64 || ns < math.MinInt64 {
			return 0, fmt.Errorf("invalid duration %v: out of range", v)
		}
		return time.Duration(ns), nil
	}
	var err error
	switch x := v.(type) {
	case int64:
		if d, err = seconds(float64(x)); err != nil {
			return 0, err
		}
	case int:
		if d, err = seconds(float64(x)); err != nil {
			return 0, err
		}
	case float64:
		if d, err = seconds(x); err != nil {
			return 0, err
		}
	case time.Duration:
		d = x
	case string:
		s := strings.TrimSpace(x)
		if n, perr := strconv.ParseFloat(s, 64); perr == nil {
			if d, err = seconds(n); err != nil {
				return 0, err
			}
			break
		}
		if days, ok := strings.CutSuffix(s, "d"); ok {
			n, perr := strconv.ParseFloat(days, 64)
			if perr != nil {
				return 0, fmt.Errorf("invalid duration %q: want a number of days before d", x)
			}
			if d, err = seconds(n * 86400); err != nil {
				return 0, err
			}
			break
		}
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("invalid duration %q: use a number of seconds or units like 90s, 10m, 2h, 1d", x)
		}
	default:
		return 0, fmt.Errorf("invalid duration %v: want a string like \"90s\" or a number of seconds", v)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %v: must not be negative", v)
	}
	return d, nil
}

var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"k": 1 << 10, "m": 1 << 20, "g": 1 << 30,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// Bytes parses a size setting: a number of bytes, or a string with a unit
// (B, kB, MB, GB, TB in powers of 1000; KiB, MiB, GiB, TiB and the bare
// letters K, M, G in powers of 1024), case-insensitive.
func Bytes(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return 0, fmt.Errorf("invalid size %d: must not be negative", x)
		}
		return x, nil
	case int:
		return Bytes(int64(x))
	case string:
		s := strings.TrimSpace(x)
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		unit, ok := byteUnits[strings.ToLower(strings.TrimSpace(s[i:]))]
		if err != nil || !ok {
			return 0, fmt.Errorf("invalid size %q: use bytes or units like 64MB, 512KiB, 1GB", x)
		}
		b := n * unit
		if b > math.MaxInt64 {
			return 0, fmt.Errorf("invalid size %q: too large", x)
		}
		return int64(b), nil
	}
	return 0, fmt.Errorf("invalid size %v: want a string like \"64MB\" or a number of bytes", v)
}

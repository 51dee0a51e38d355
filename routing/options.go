package routing

import (
	"fmt"
	"time"

	"github.com/xconnproxy/xconnproxy/internal/units"
)

// Readers of the pool keys that several dialects share.

// positiveDuration reads a key whose value must be a positive duration
// ("30s", or a number of seconds).
func positiveDuration(key string, v any) (time.Duration, error) {
	d, err := units.Duration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s = %v: want a positive duration such as \"30s\"", key, v)
	}
	return d, nil
}

// keepDuration reads a key whose 0 means "keep them" (idle timeouts,
// lifetimes), returned as -1; the backends read zero as their default.
func keepDuration(key string, v any) (time.Duration, error) {
	d, err := units.Duration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	if d == 0 {
		d = -1
	}
	return d, nil
}

// poolSize reads pool_size.
func poolSize(v any) (int, error) {
	n, ok := v.(int64)
	if !ok || n < 1 || n > 10000 {
		return 0, fmt.Errorf("pool_size = %v: want a whole number from 1 to 10000", v)
	}
	return int(n), nil
}

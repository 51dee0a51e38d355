package units

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want time.Duration
		err  bool
	}{
		{name: "go units", in: "90s", want: 90 * time.Second},
		{name: "minutes", in: "10m", want: 10 * time.Minute},
		{name: "days", in: "1d", want: 24 * time.Hour},
		{name: "fractional days", in: "0.5d", want: 12 * time.Hour},
		{name: "bare string seconds", in: "30", want: 30 * time.Second},
		{name: "toml integer", in: int64(5), want: 5 * time.Second},
		{name: "toml float", in: 1.5, want: 1500 * time.Millisecond},
		{name: "zero", in: "0", want: 0},
		{name: "negative", in: "-1s", err: true},
		{name: "garbage", in: "soon", err: true},
		{name: "bad days", in: "xd", err: true},
		{name: "bool", in: true, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Duration(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("Duration(%v) error = %v, want error %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("Duration(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestBytes(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want int64
		err  bool
	}{
		{name: "megabytes", in: "64MB", want: 64_000_000},
		{name: "mebibytes", in: "64MiB", want: 64 << 20},
		{name: "bare letter", in: "256M", want: 256 << 20},
		{name: "lower case", in: "1gb", want: 1_000_000_000},
		{name: "space", in: "10 KiB", want: 10 << 10},
		{name: "plain bytes string", in: "1024", want: 1024},
		{name: "toml integer", in: int64(4096), want: 4096},
		{name: "unknown unit", in: "5 parsecs", err: true},
		{name: "negative", in: int64(-1), err: true},
		{name: "float type", in: 1.5, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Bytes(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("Bytes(%v) error = %v, want error %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("Bytes(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestDurationOutOfRange(t *testing.T) {
	for _, v := range []any{"1e300", "1e300d", 1e300, int64(1 << 62)} {
		if d, err := Duration(v); err == nil {
			t.Errorf("Duration(%v) = %v, want an error", v, d)
		}
	}
	if d, err := Duration("2d"); err != nil || d != 48*time.Hour {
		t.Errorf("Duration(2d) = %v, %v", d, err)
	}
}

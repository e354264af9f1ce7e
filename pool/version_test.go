package pool

import "testing"

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0", "1.000", 0},
		{"1", "1.0", 0},
		{"01.50", "1.5", 0},
		{"2017.12", "2017.06", 1},
		{"2017.06", "2017.12", -1},
		{"10", "9.5", 1},
		{"9.5", "10", -1},
		{"61.9", "61.4", 1},
		{"1.5", "1.45", 1},
		{"1.1", "1.11", -1},
		{"0.5", ".5", 0},
		{"0", "0.0", 0},
		{"24", "24", 0},
		{"100", "99.999", 1},
		{"abc", "1.0", -1}, // malformed sorts first
		{"1.0", "abc", 1},
		{"abc", "abd", -1},
	}
	for _, tt := range tests {
		if got := compareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

package licfile

import "testing"

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"2017.12", "2017.06", 1},
		{"61.9", "61.4", 1},
		{"1.0", "1.000", 0},
		{"10", "9.5", 1},
		{"1", "1.0", 0},
		{"01.5", "1.50", 0},
		{"1.05", "1.5", -1},
		{"0.9", ".9", 0},
		{"2020.111", "2020.1231", -1},
		{"24", "24", 0},
		// More digits than any float holds: compared exactly.
		{"1.00000000000000000001", "1", 1},
		{"99999999999999999999", "99999999999999999998.9", 1},
		// Invalid versions sort first, as strings.
		{"x", "1.0", -1},
		{"1.0", "x", 1},
		{"a", "b", -1},
	}
	for _, tt := range tests {
		if got := CompareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := CompareVersions(tt.b, tt.a); got != -tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestValidVersion(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"1.0", true}, {"24", true}, {"2017.12", true}, {"1.", true}, {".5", true},
		{"", false}, {".", false}, {"1.2.3", false}, {"v1", false}, {"1e3", false},
		{"-1", false}, {"+1", false}, {"1.0a", false}, {" 1", false},
	}
	for _, tt := range tests {
		if got := ValidVersion(tt.in); got != tt.want {
			t.Errorf("ValidVersion(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestNormVersion(t *testing.T) {
	for in, want := range map[string]string{"1.000": "1", "01.100": "1.1", ".0": "0", "2017.12": "2017.12", "0": "0", "bad": "bad"} {
		if got := normVersion(in); got != want {
			t.Errorf("normVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

package pool

import (
	"cmp"
	"strings"
)

// version is a feature version parsed for exact decimal comparison:
// integer digits without leading zeros and fraction digits without trailing
// zeros, so "1.0" == "1.000" and "2017.12" > "2017.06" > "10" > "9.5".
type version struct {
	whole, frac string
	ok          bool   // false: not a decimal number; compared as text
	raw         string // trimmed input
}

func parseVersion(s string) version {
	s = strings.TrimSpace(s)
	v := version{raw: s}
	w, f, _ := strings.Cut(s, ".")
	if w == "" && f == "" || !allDigits(w) || !allDigits(f) {
		return v
	}
	v.whole = strings.TrimLeft(w, "0")
	v.frac = strings.TrimRight(f, "0")
	v.ok = true
	return v
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cmp orders decimal versions numerically. Malformed versions sort before
// every valid one and among themselves by text, so the order stays total and
// deterministic.
func (a version) cmp(b version) int {
	switch {
	case !a.ok && !b.ok:
		return strings.Compare(a.raw, b.raw)
	case !a.ok:
		return -1
	case !b.ok:
		return 1
	}
	if c := cmp.Compare(len(a.whole), len(b.whole)); c != 0 {
		return c
	}
	if c := strings.Compare(a.whole, b.whole); c != 0 {
		return c
	}
	// Without trailing zeros, fractions compare as text: "5" > "45", "12" > "06".
	return strings.Compare(a.frac, b.frac)
}

// compareVersions compares two feature versions as decimal numbers and
// returns -1, 0 or +1.
func compareVersions(a, b string) int { return parseVersion(a).cmp(parseVersion(b)) }

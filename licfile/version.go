package licfile

import "strings"

// ValidVersion reports whether s is a FlexLM feature version: a decimal
// number with no sign, exponent or letters ("24", "1.000", "2017.12", ".5").
// Anything else is error -77, "Bad version number - must be floating point
// number, with no letters".
func ValidVersion(s string) bool {
	ip, fp, dot := strings.Cut(s, ".")
	switch {
	case ip == "" && fp == "":
		return false
	case ip != "" && !allDigits(ip):
		return false
	case dot && fp != "" && !allDigits(fp):
		return false
	}
	return true
}

// CompareVersions compares two versions as exact decimal numbers and returns
// -1, 0 or +1: "2017.12" > "2017.06", "61.9" > "61.4", "1.0" == "1.000",
// "10" > "9.5". Invalid versions sort before valid ones and among themselves
// as strings, so that the order stays total.
func CompareVersions(a, b string) int {
	va, vb := ValidVersion(a), ValidVersion(b)
	switch {
	case !va && !vb:
		return strings.Compare(a, b)
	case !va:
		return -1
	case !vb:
		return 1
	}
	ai, af := splitVersion(a)
	bi, bf := splitVersion(b)
	if len(ai) != len(bi) {
		return cmpInt(len(ai), len(bi))
	}
	if c := strings.Compare(ai, bi); c != 0 {
		return c
	}
	return strings.Compare(af, bf)
}

// splitVersion returns the integer part without leading zeros and the
// fraction without trailing zeros of a valid version.
func splitVersion(s string) (ip, fp string) {
	ip, fp, _ = strings.Cut(s, ".")
	return strings.TrimLeft(ip, "0"), strings.TrimRight(fp, "0")
}

// normVersion is the shortest text of a valid version's value: "01.100" is
// "1.1", "1.000" is "1", ".0" is "0". Pool keys use it so that 1.0 and 1.000
// lines share a pool, as they do in FlexLM.
func normVersion(s string) string {
	if !ValidVersion(s) {
		return s
	}
	ip, fp := splitVersion(s)
	if ip == "" {
		ip = "0"
	}
	if fp == "" {
		return ip
	}
	return ip + "." + fp
}

package licfile

import (
	"fmt"
	"strings"
	"testing"
)

// benchFile is a 10,000-line license file shaped like a large real one: a
// triad, one vendor, and FEATURE/INCREMENT/UPGRADE lines over 500 names,
// many with continuations, quoted values and several pool keys per name.
func benchFile(lines int) []byte {
	var b strings.Builder
	b.WriteString("SERVER alpha 17007ea8 2837 PRIMARY_IS_MASTER HEARTBEAT_INTERVAL=20\nSERVER beta 17004355 2837\nSERVER gamma 17003a02 2837\nVENDOR demo /opt/demo OPTIONS=/opt/demo.opt PORT=28000\n")
	for i := 4; i < lines; i++ {
		name := fmt.Sprintf("feature_%03d", i%500)
		switch {
		case i%500 == 4 || i < 504:
			fmt.Fprintf(&b, "FEATURE %s demo 1.0 31-dec-2099 10 SIGN=\"0123 4567 89AB CDEF 0123 4567\"\n", name)
		case i%5 == 0:
			fmt.Fprintf(&b, "INCREMENT %s demo 2.0 01-jan-2099 5 DUP_GROUP=UH ISSUED=01-jan-2024 \\\n", name)
			fmt.Fprintf(&b, "\tVENDOR_STRING=\"site %d\" NOTICE=\"Licensed to ACME\" SN=%d \\\n", i%3, i)
			b.WriteString("\tSIGN=\"0123 4567 89AB CDEF 0123 4567 89AB CDEF\"\n")
			i += 2 // three physical lines
		case i%7 == 0:
			fmt.Fprintf(&b, "UPGRADE %s demo 1.0 3.0 permanent 1 SIGN=\"0123 4567\"\n", name)
		default:
			fmt.Fprintf(&b, "INCREMENT %s demo 2.0 permanent %d BORROW=72 SIGN=\"0123 4567 89AB\"\n", name, i%9+1)
		}
	}
	return []byte(b.String())
}

// BenchmarkLoad10000Lines parses a 10,000-line license file and pools it.
// Goal: under 50 ms an iteration.
func BenchmarkLoad10000Lines(b *testing.B) {
	data := benchFile(10000)
	if n := strings.Count(string(data), "\n"); n != 10000 {
		b.Fatalf("generated %d lines, want 10000", n)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse("bench.lic", data)
		if err != nil {
			b.Fatal(err)
		}
		pools, _ := Pools([]*File{f}, poolNow)
		if len(pools) == 0 {
			b.Fatal("no pools")
		}
	}
}

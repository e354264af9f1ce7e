package lmstat

import (
	"io"
	"strconv"
	"testing"
)

// benchReport is a triad with n holders spread over 100 features.
func benchReport(n int) Report {
	r := triadReport(false)
	r.Features = make([]Feature, 100)
	for i := range r.Features {
		name := "feature" + strconv.Itoa(i)
		r.Features[i] = Feature{Name: name, Issued: n, Pools: []Pool{{Name: name, Version: "1.0", Vendor: "lmtriad", Expiry: "1-jan-2030"}}}
	}
	for i := range n {
		f := &r.Features[i%len(r.Features)]
		f.InUse++
		f.Pools[0].Holders = append(f.Pools[0].Holders, Holder{
			User: "user" + strconv.Itoa(i), Host: "host" + strconv.Itoa(i%500), Display: "/dev/pts/1",
			Version: "1.0", Handle: uint64(i), Start: at(i%24, i%60), Count: 1 + i%3,
		})
	}
	return r
}

func BenchmarkWrite10000Holders(b *testing.B) {
	r := benchReport(10000)
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(io.Discard, r, Options{All: true}); err != nil {
			b.Fatal(err)
		}
	}
}

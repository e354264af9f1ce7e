package options

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse or the queries panic, and that
// the canonical text of what was parsed parses back to the same lines
// without errors. Seeds: testdata/*.opt plus testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.opt")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := Parse("fuzz.opt", bytes.NewReader(data))
		if err != nil || o == nil {
			t.Fatalf("Parse: %v, %v", o, err)
		}
		for _, p := range o.Problems {
			if p.Pos.Line == 0 || len(data) > MaxLineBytes/2 {
				return // cut by a limit: the text is no longer the whole file
			}
		}
		r := Requester{User: "u", Host: "h", Display: "d", IP: "10.0.0.1", Project: "p"}
		for _, l := range o.Lines {
			fr := FeatureRef{Name: l.Feature.Name, Attrs: map[string]string{l.Feature.Key: l.Feature.Value}}
			o.Allowed(fr, r)
			o.BorrowAllowed(fr, r)
			o.Max(fr, r)
			o.Timeout(fr)
			for _, res := range o.Reservations(fr) {
				o.ReservationMatches(res, r)
			}
		}
		checkRoundTrip(t, o)
	})
}

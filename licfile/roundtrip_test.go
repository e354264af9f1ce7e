package licfile

import (
	"bytes"
	"reflect"
	"testing"
)

// stripped returns a copy of f without what Print does not keep: the name,
// the positions and the warnings.
func stripped(f *File) File {
	g := *f
	g.Name, g.Warnings = "", nil
	g.Servers = append([]Server(nil), f.Servers...)
	for i := range g.Servers {
		g.Servers[i].Pos = Pos{}
	}
	g.Vendors = append([]Vendor(nil), f.Vendors...)
	for i := range g.Vendors {
		g.Vendors[i].Pos = Pos{}
	}
	g.Features = append([]Feature(nil), f.Features...)
	for i := range g.Features {
		g.Features[i].Pos = Pos{}
	}
	g.Packages = append([]Package(nil), f.Packages...)
	for i := range g.Packages {
		g.Packages[i].Pos = Pos{}
	}
	return g
}

// checkRoundTrip prints f, parses the output and requires the same File.
// It returns the printed text.
func checkRoundTrip(t testing.TB, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Print(&buf, f); err != nil {
		t.Fatalf("Print: %v", err)
	}
	g, err := Parse("printed", buf.Bytes())
	if err != nil {
		t.Fatalf("parsing the printed file: %v\n%s", err, buf.Bytes())
	}
	if a, b := stripped(f), stripped(g); !reflect.DeepEqual(a, b) {
		t.Fatalf("parse(print(f)) != f\nprinted:\n%s\n got %+v\nwant %+v", buf.Bytes(), b, a)
	}
	return buf.Bytes()
}

package licfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that no input makes Parse panic or hang, and that a file
// parsed without errors prints to text that parses back to the same File.
// Seeds: every license file under ../testdata plus licfile/testdata/fuzz.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("../testdata/*.lic")
	broken, _ := filepath.Glob("../testdata/broken/*.lic")
	for _, p := range append(paths, broken...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.lic", data)
		if file == nil {
			t.Fatal("Parse returned a nil File")
		}
		Pools([]*File{file}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			return
		}
		checkRoundTrip(t, file)
	})
}

// FuzzParseSearchPath checks that ParseSearchPath never panics, that its
// entries are typed as their text says, and that nothing is reported twice.
func FuzzParseSearchPath(f *testing.F) {
	for _, s := range []string{
		"", "license.dat", "/opt/lic:27000@h", "@host", "27000@a,27000@b,27000@c",
		"1@a,2@b", "a;b;c", "::x::", "27000@", "x@y/z", "dir:dir", "65536@h", "@a,@b,@c",
	} {
		f.Add(s)
	}
	stat := func(name string) (fs.FileInfo, error) {
		if strings.HasPrefix(name, "dir") {
			return dirInfo{}, nil
		}
		return nil, fs.ErrNotExist
	}
	f.Fuzz(func(t *testing.T, s string) {
		entries, errs := ParseSearchPath(s, stat)
		seen := map[string]bool{}
		for _, e := range entries {
			if e.Index < 1 || e.Text == "" {
				t.Fatalf("entry %+v: bad Index or empty Text", e)
			}
			id := entryID(e)
			if seen[id] {
				t.Fatalf("entry %q listed twice", e.Text)
			}
			seen[id] = true
			switch e.Kind {
			case EntryFile, EntryDir:
				if e.Path == "" || len(e.Servers) != 0 {
					t.Fatalf("path entry %+v", e)
				}
			case EntryPortAtHost:
				if len(e.Servers) != 1 {
					t.Fatalf("port@host entry %+v", e)
				}
			case EntryTriad:
				if len(e.Servers) != 3 {
					t.Fatalf("triad entry %+v", e)
				}
				for _, hp := range e.Servers {
					if hp.Port == 0 {
						t.Fatalf("triad entry without port: %+v", e)
					}
				}
			default:
				t.Fatalf("entry %+v has no kind", e)
			}
		}
		for _, err := range errs {
			if _, ok := err.(*SearchPathError); !ok {
				t.Fatalf("error %v is a %T, want *SearchPathError", err, err)
			}
		}
	})
}

package licfile

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under ../testdata")

// TestGolden reads each ../testdata/NAME.lic, which must parse without
// errors, and compares Print's output with ../testdata/NAME.golden; the
// printed text must parse back to the same File. -update rewrites the golden
// files.
func TestGolden(t *testing.T) {
	paths, err := filepath.Glob("../testdata/*.lic")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no license files under ../testdata: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := ParseFile(path)
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			got := checkRoundTrip(t, f)
			compareGolden(t, strings.TrimSuffix(path, ".lic")+".golden", got)
		})
	}
}

// TestBroken parses each ../testdata/broken/NAME.lic, which must fail, and
// compares the error text (one error a line, file named by its base name)
// with ../testdata/broken/NAME.err. -update rewrites the .err files.
func TestBroken(t *testing.T) {
	paths, err := filepath.Glob("../testdata/broken/*.lic")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no license files under ../testdata/broken: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(filepath.Base(path), data)
			if err == nil {
				t.Fatalf("Parse: no error")
			}
			compareGolden(t, strings.TrimSuffix(path, ".lic")+".err", []byte(err.Error()+"\n"))
		})
	}
}

func compareGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./licfile -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test ./licfile -update rewrites it)\n got:\n%s\nwant:\n%s", golden, got, want)
	}
}

// TestPrintBuiltFile checks that a File built in code, with decoded fields
// and no Attrs, prints every field, and that the printed text is stable.
func TestPrintBuiltFile(t *testing.T) {
	f := &File{
		Servers: []Server{{Host: "h", HostID: "ANY", Port: 27000, HeartbeatInterval: 10}},
		Vendors: []Vendor{{Name: "demo", Options: "/etc/demo opt", Port: 2080}},
		Features: []Feature{{
			Kind: KindIncrement, Name: "f", Vendor: "demo", Version: "1.0", Expiry: Date{2030, time.January, 1},
			Uncounted: true, HostID: "ANY", Sign: "not hex", Issued: Date{2024, time.May, 2}, Supersede: []string{"f"},
			Borrow: 72, FloatOK: true, TSOK: true, UserBased: true, HostBased: true, Overdraft: 2, DupGroup: "UH",
			VendorString: "a b", Issuer: "me", Notice: "#1", SN: "7", Start: Date{2024, time.May, 1},
		}, {
			Kind: KindUpgrade, Name: "f", Vendor: "demo", FromVersion: "1.0", Version: "2.0", Count: 3, Sign: "ABC",
			Supersede: []string{"f", "g"}, Borrow: 168,
		}},
		Packages: []Package{{Name: "p", Vendor: "demo", Sign: "1",
			Components: []Component{{Name: "f"}, {Name: "g", Version: "2.0"}, {Name: "h", Count: 2}}},
			{Name: "s", Vendor: "demo", Version: "1.0", Suite: true, Sign: "1F", Components: []Component{{Name: "f"}}}},
	}
	var buf bytes.Buffer
	if err := Print(&buf, f); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	want := `SERVER h ANY 27000 HEARTBEAT_INTERVAL=10
VENDOR demo OPTIONS="/etc/demo opt" PORT=2080
INCREMENT f demo 1.0 1-jan-2030 uncounted SIGN="not hex" HOSTID=ANY \
	VENDOR_STRING="a b" ISSUER=me ISSUED=2-may-2024 NOTICE="#1" SN=7 \
	START=1-may-2024 DUP_GROUP=UH OVERDRAFT=2 SUPERSEDE USER_BASED \
	HOST_BASED BORROW=72 FLOAT_OK TS_OK
UPGRADE f demo 1.0 2.0 permanent 3 ABC SUPERSEDE="f g" BORROW
PACKAGE p demo COMPONENTS="f g:2.0 h::2" SIGN=1
PACKAGE s demo 1.0 1F COMPONENTS=f OPTIONS=SUITE
`
	if string(got) != want {
		t.Errorf("Print:\n%s\nwant:\n%s", got, want)
	}
	g, err := Parse("printed", got)
	if err != nil {
		t.Fatalf("parsing the printed file: %v", err)
	}
	if again := checkRoundTrip(t, g); string(again) != string(got) {
		t.Errorf("printing the parsed output gives:\n%s\nwant:\n%s", again, got)
	}
}

func TestPrintRefusesUnwritable(t *testing.T) {
	for _, f := range []*File{
		{Vendors: []Vendor{{Name: "v", Path: `a"b`}}},
		{Features: []Feature{{Kind: KindFeature, Name: "f", Vendor: "v", Version: "1", Count: 1, Sign: "1",
			Attrs: []Attr{{Key: "NOTICE", Value: "line\nbreak"}}}}},
		{Servers: []Server{{Host: "h", HostID: "x", Attrs: []Attr{{Key: "a b", Flag: true}}}}},
	} {
		if err := Print(&bytes.Buffer{}, f); err == nil {
			t.Errorf("Print(%+v): no error", f)
		}
	}
}

package licfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// canonicalOf parses one license line and returns its canonical form.
func canonicalOf(t *testing.T, text string) []byte {
	t.Helper()
	f, err := Parse("t.lic", []byte(text))
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	lines := f.SignedLines()
	if len(lines) != 1 {
		t.Fatalf("%q: %d signed lines, want 1", text, len(lines))
	}
	return lines[0].Canonical
}

func TestCanonicalGolden(t *testing.T) {
	got := canonicalOf(t, "feature solver demo 1.0 01-JAN-2030 05 vendor_string=\"a b=c\" TS_OK HOSTID=ANY SIGN=\"12 34\"\n")
	want := "lmtriad-license-v1\nFEATURE\n" +
		"name=6:solver\nvendor=4:demo\nversion=3:1.0\nexpiry=10:1-jan-2030\ncount=1:5\n" +
		"HOSTID=3:ANY\nTS_OK\nVENDOR_STRING=5:a b=c\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	got = canonicalOf(t, "UPGRADE solver demo 1.0 2.0 permanent uncounted 12AB HOSTID=ANY SUPERSEDE ISSUED=1-jan-2020\n")
	want = "lmtriad-license-v1\nUPGRADE\n" +
		"name=6:solver\nvendor=4:demo\nfrom-version=3:1.0\nversion=3:2.0\nexpiry=9:permanent\ncount=9:uncounted\n" +
		"HOSTID=3:ANY\nISSUED=10:1-jan-2020\nSUPERSEDE\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	got = canonicalOf(t, "PACKAGE suite demo COMPONENTS=\"a:1.0 b\" OPTIONS=SUITE SIGN=0\n")
	want = "lmtriad-license-v1\nPACKAGE\nname=5:suite\nvendor=4:demo\nversion=0:\n" +
		"COMPONENTS=7:a:1.0 b\nOPTIONS=5:SUITE\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

const canonBase = "FEATURE solver demo 1.0 1-jan-2030 5 HOSTID=ANY VENDOR_STRING=\"a b\" DUP_GROUP=UH SIGN=0\n"

// TestCanonicalSame lists writings of canonBase that grant the same and must
// give the same bytes.
func TestCanonicalSame(t *testing.T) {
	want := canonicalOf(t, canonBase)
	for _, text := range []string{
		"FEATURE solver demo 1.0 1-jan-2030 5 DUP_GROUP=UH VENDOR_STRING=\"a b\" HOSTID=ANY SIGN=0\n",
		"FEATURE solver demo 1.0 1-jan-2030 5 SIGN=\"ed1:other\" HOSTID=ANY VENDOR_STRING=\"a b\" DUP_GROUP=UH\n",
		"FEATURE solver demo 1.0 1-jan-2030 5 0123ABCD HOSTID=ANY VENDOR_STRING=\"a b\" DUP_GROUP=UH\n",
		"feature   solver\tdemo \"1.0\" 01-Jan-2030 05 \\\n\thostid=ANY \\  \n  Vendor_String=\"a b\" dup_group=\"UH\" sign=\"AB CD\"\r\n",
		"# a comment\n\nFEATURE solver demo 1.0 1-jan-2030 5 HOSTID=ANY VENDOR_STRING=\"a b\" DUP_GROUP=UH SIGN=0 \\\n# inside\n",
		"FEATURE solver demo 1.0 1-jan-2030 5 \\\n\tHOSTID=ANY \\\n\tVENDOR_STRING=\"a b\" \\\n\tDUP_GROUP=UH SIGN=0\n",
		"FEATURE solver demo 1.0 1-jan-2030 5 HOSTID=ANY VENDOR_STRING=\"a \\\nb\" DUP_GROUP=UH SIGN=0 # trailing comment\n",
	} {
		if got := canonicalOf(t, text); !bytes.Equal(got, want) {
			t.Errorf("%q:\ngot\n%s\nwant\n%s", text, got, want)
		}
	}
}

// TestCanonicalDiffers changes one granted field of canonBase at a time.
func TestCanonicalDiffers(t *testing.T) {
	base := canonicalOf(t, canonBase)
	edits := [][2]string{
		{"FEATURE", "INCREMENT"},
		{"solver", "solvers"},
		{" demo ", " demo2 "},
		{" 1.0 ", " 1.1 "},
		{" 1.0 ", " 1.00 "},
		{"1-jan-2030", "2-jan-2030"},
		{"1-jan-2030", "permanent"},
		{" 5 ", " 500 "},
		{" 5 ", " uncounted "},
		{"HOSTID=ANY", "HOSTID=DEMO"},
		{"HOSTID=ANY", "HOSTID=any"},
		{`"a b"`, `"a  b"`},
		{"DUP_GROUP=UH", "DUP_GROUP=U"},
		{" SIGN", " START=1-jan-2020 SIGN"},
		{" SIGN", " OVERDRAFT=5 SIGN"},
		{" SIGN", " USER_BASED SIGN"},
		{" SIGN", " USER_BASED=2 SIGN"},
		{" SIGN", " HOST_BASED SIGN"},
		{" SIGN", " BORROW SIGN"},
		{" SIGN", " BORROW=24 SIGN"},
		{" SIGN", " SN=123 SIGN"},
		{" SIGN", " SUPERSEDE ISSUED=1-jan-2020 SIGN"},
		{" SIGN", " ISSUED=1-jan-2020 SIGN"},
		{" SIGN", " ISSUER=acme SIGN"},
		{" SIGN", " NOTICE=x SIGN"},
		{" SIGN", " PLATFORMS=x64_lsb SIGN"},
		{" SIGN", " FLOAT_OK SIGN"},
		{" SIGN", " TS_OK SIGN"},
		{" SIGN", " SORT=100 SIGN"},
		{" SIGN", " FUTURE_THING=1 SIGN"},
		{" SIGN", " FUTURE_THING SIGN"},
		{" SIGN", ` FUTURE_THING="" SIGN`},
		{" SIGN", " AUTH=x SIGN"},
	}
	seen := map[string]string{string(base): "base"}
	for _, e := range edits {
		text := strings.Replace(canonBase, e[0], e[1], 1)
		if text == canonBase {
			t.Fatalf("edit %q changes nothing", e)
		}
		got := string(canonicalOf(t, text))
		if prev, dup := seen[got]; dup {
			t.Errorf("%q gives the same bytes as %s", text, prev)
		}
		seen[got] = text
	}

	up := "UPGRADE solver demo 1.0 2.0 permanent 5 SIGN=0\n"
	if a, b := canonicalOf(t, up), canonicalOf(t, strings.Replace(up, " 1.0 ", " 1.5 ", 1)); bytes.Equal(a, b) {
		t.Error("UPGRADE from-version not covered")
	}
	pk := "PACKAGE suite demo 1.0 COMPONENTS=\"a b:2.0\" SIGN=0\n"
	for _, e := range [][2]string{{"b:2.0", "b:2.0:3"}, {"a b", "a c"}, {" 1.0 ", " 2.0 "}, {"SIGN", "OPTIONS=SUITE SIGN"}} {
		if a, b := canonicalOf(t, pk), canonicalOf(t, strings.Replace(pk, e[0], e[1], 1)); bytes.Equal(a, b) {
			t.Errorf("PACKAGE edit %q not covered", e)
		}
	}
}

// TestCanonicalIgnoresServers: SERVER and VENDOR lines are not signed.
func TestCanonicalIgnoresServers(t *testing.T) {
	a := canonicalOf(t, "SERVER h1 ANY 27000\nVENDOR demo\n"+canonBase)
	b := canonicalOf(t, "SERVER h2 1234 27001\nVENDOR demo /opt/demo PORT=2080\n"+canonBase)
	if !bytes.Equal(a, b) {
		t.Error("SERVER/VENDOR lines change the canonical form")
	}
}

// TestCanonicalBuiltInCode: a Feature without Attrs signs as it prints.
func TestCanonicalBuiltInCode(t *testing.T) {
	f := &File{Features: []Feature{{Kind: KindFeature, Name: "x", Vendor: "demo", Version: "1.0",
		Count: 3, HostID: "ANY", Issued: Date{2020, 1, 2}, UserBased: true, Sign: "0"}}}
	var buf bytes.Buffer
	if err := Print(&buf, f); err != nil {
		t.Fatal(err)
	}
	if a, b := f.Features[0].Canonical(), canonicalOf(t, buf.String()); !bytes.Equal(a, b) {
		t.Errorf("built:\n%s\nprinted and parsed:\n%s", a, b)
	}
}

// FuzzCanonical checks that canonicalising never panics, is deterministic,
// and that a file printed by Print has the same canonical lines as the file
// it was printed from. Seeds: licfile/testdata/fuzz/FuzzCanonical and the
// license files under ../testdata.
func FuzzCanonical(f *testing.F) {
	f.Add([]byte(canonBase))
	paths, _ := filepath.Glob("../testdata/*.lic")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.lic", data)
		lines := file.SignedLines()
		for _, l := range lines {
			if again := file.SignedLines(); len(again) != len(lines) {
				t.Fatal("SignedLines is not stable")
			}
			if !bytes.HasPrefix(l.Canonical, []byte(CanonicalHeader+"\n")) {
				t.Fatalf("no header: %q", l.Canonical)
			}
		}
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Print(&buf, file); err != nil {
			return // a value Print cannot write
		}
		g, err := Parse("printed.lic", buf.Bytes())
		if err != nil {
			t.Fatalf("parsing the printed file: %v\n%s", err, buf.Bytes())
		}
		printed := g.SignedLines()
		if len(printed) != len(lines) {
			t.Fatalf("%d signed lines, %d after printing", len(lines), len(printed))
		}
		for i := range lines {
			if !bytes.Equal(lines[i].Canonical, printed[i].Canonical) {
				t.Fatalf("line %d: canonical form changed by printing\nbefore:\n%s\nafter:\n%s\nprinted:\n%s",
					lines[i].Pos.Line, lines[i].Canonical, printed[i].Canonical, buf.Bytes())
			}
			if !bytes.Equal(lines[i].Canonical, file.SignedLines()[i].Canonical) {
				t.Fatal("canonical form is not deterministic")
			}
		}
	})
}

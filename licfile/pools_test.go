package licfile

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// poolNow is the "now" of the pool tests.
var poolNow = time.Date(2026, time.June, 15, 13, 0, 0, 0, time.UTC)

func mustParse(t testing.TB, name, text string) *File {
	t.Helper()
	f, err := Parse(name, []byte(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

// summary is a pool in one line: vendor/name v<version> count, the lines.
func summary(p Pool) string {
	var lines []string
	for _, pos := range p.Lines {
		lines = append(lines, pos.String())
	}
	s := fmt.Sprintf("%s/%s v%s %d [%s]", p.Vendor, p.Name, p.Version, p.Count, strings.Join(lines, " "))
	if p.Uncounted {
		s += " uncounted"
	}
	if why := p.OutOfDate(DateOf(poolNow)); why != "" {
		s += " " + why
	}
	return s
}

func TestPools(t *testing.T) {
	tests := []struct {
		name     string
		files    []string // a.lic, b.lic, ...
		want     []string
		excluded []string
	}{
		{"first FEATURE wins", []string{
			"FEATURE f v 1.0 permanent 5" + sign + "\nFEATURE f v 2.0 permanent 7" + sign,
		}, []string{"v/f v1.0 5 [a.lic:1]"}, []string{
			"a.lic:2: FEATURE f: ignored: the FEATURE line at a.lic:1 comes first",
		}},
		{"first FEATURE wins across files", []string{
			"FEATURE f v 1.0 permanent 5" + sign, "FEATURE f v 1.0 permanent 10" + sign,
		}, []string{"v/f v1.0 5 [a.lic:1]"}, []string{
			"b.lic:1: FEATURE f: ignored: the FEATURE line at a.lic:1 comes first",
		}},
		{"INCREMENTs add up, versions compared as numbers", []string{
			"INCREMENT f v 1.0 permanent 5" + sign + "\nINCREMENT f v 1.000 1-jan-2030 3" + sign,
			"INCREMENT f v 01 permanent 2" + sign,
		}, []string{"v/f v1.0 10 [a.lic:1 a.lic:2 b.lic:1]"}, nil},
		{"FEATURE and INCREMENT share a pool", []string{
			"FEATURE f v 1.0 permanent 5" + sign + "\nINCREMENT f v 1.0 permanent 3" + sign,
		}, []string{"v/f v1.0 8 [a.lic:1 a.lic:2]"}, nil},
		{"key fields split pools", []string{
			"INCREMENT f v 1.0 permanent 1" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 2 DUP_GROUP=UH" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 4 dup_group=uh" + sign + "\n" +
				"INCREMENT f v 2.0 permanent 8" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 16 BORROW" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 32 BORROW=168" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 64 VENDOR_STRING=x" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 128 HOSTID=ANY" + sign + "\n" +
				"INCREMENT f v 1.0 permanent uncounted HOSTID=ANY" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 256 SN=1 ISSUER=me NOTICE=n" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 512 TZ=1" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 1024 PLATFORMS=x64_lsb" + sign,
		}, []string{
			"v/f v1.0 257 [a.lic:1 a.lic:10]",
			"v/f v1.0 6 [a.lic:2 a.lic:3]",
			"v/f v2.0 8 [a.lic:4]",
			"v/f v1.0 48 [a.lic:5 a.lic:6]",
			"v/f v1.0 64 [a.lic:7]",
			"v/f v1.0 128 [a.lic:8]",
			"v/f v1.0 0 [a.lic:9] uncounted",
			"v/f v1.0 512 [a.lic:11]",
			"v/f v1.0 1024 [a.lic:12]",
		}, nil},
		{"vendors apart", []string{
			"FEATURE f v 1.0 permanent 5" + sign + "\nFEATURE f w 1.0 permanent 3" + sign,
		}, []string{"v/f v1.0 5 [a.lic:1]", "w/f v1.0 3 [a.lic:2]"}, nil},
		{"expired and not started", []string{
			"INCREMENT f v 1.0 14-jun-2026 5" + sign + "\n" +
				"INCREMENT f v 1.0 15-jun-2026 3" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 2 START=16-jun-2026" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 1 START=15-jun-2026" + sign,
		}, []string{"v/f v1.0 4 [a.lic:2 a.lic:4]", "v/f v1.0 5 [a.lic:1] expired", "v/f v1.0 2 [a.lic:3] not started"}, []string{
			"a.lic:1: INCREMENT f: expired on 14-jun-2026",
			"a.lic:3: INCREMENT f: not started: START=16-jun-2026 is after 15-jun-2026",
		}},
		{"expired FEATURE gives way to the next", []string{
			"FEATURE f v 1.0 1-jan-2020 5" + sign + "\nFEATURE f v 1.0 permanent 3" + sign,
		}, []string{"v/f v1.0 3 [a.lic:2]", "v/f v1.0 5 [a.lic:1] expired"}, []string{"a.lic:1: FEATURE f: expired on 1-jan-2020"}},
		{"a copied signed line counts once", []string{
			"INCREMENT f v 1.0 permanent 5 SIGN=ed1:AAAA\nINCREMENT f v 1.0 permanent 5 SIGN=ed1:AAAA",
			"INCREMENT f v 1.0 permanent 5 SIGN=ed1:AAAA\nINCREMENT f v 1.0 permanent 5 SN=2 SIGN=ed1:BBBB",
		}, []string{"v/f v1.0 10 [a.lic:1 b.lic:2]"}, []string{
			"a.lic:2: INCREMENT f: ignored: a copy of the signed line at a.lic:1",
			"b.lic:1: INCREMENT f: ignored: a copy of the signed line at a.lic:1",
		}},
		{"FEATURE lines node-locked to different hosts are separate pools", []string{
			"FEATURE f v 1.0 permanent 1 HOSTID=aaaa" + sign + "\nFEATURE f v 1.0 permanent 2 HOSTID=BBBB" + sign +
				"\nFEATURE f v 1.0 permanent 4 HOSTID=AAAA" + sign,
		}, []string{"v/f v1.0 1 [a.lic:1]", "v/f v1.0 2 [a.lic:2]"}, []string{
			"a.lic:3: FEATURE f: ignored: the FEATURE line at a.lic:1 comes first",
		}},
		{"package expands into its components", []string{
			"FEATURE pk v 2.0 permanent 3 HOSTID=ANY" + sign + "\n" +
				`PACKAGE pk v 2.0 COMPONENTS="c1 c2:3.0 c3::2"` + sign + "\n" +
				"FEATURE c1 v 1.0 permanent 1" + sign,
		}, []string{
			"v/c1 v1.0 1 [a.lic:3]", "v/c1 v2.0 3 [a.lic:1 a.lic:2]", "v/c2 v3.0 3 [a.lic:1 a.lic:2]", "v/c3 v2.0 6 [a.lic:1 a.lic:2]",
		}, nil},
		{"package without version takes the enabling line's", []string{
			`PACKAGE pk v COMPONENTS="c1" OPTIONS=SUITE` + sign + "\nINCREMENT pk v 1.5 permanent 2" + sign +
				"\nINCREMENT pk v 1.5 permanent 1 SN=2" + sign,
		}, []string{"v/c1 v1.5 3 [a.lic:2 a.lic:3 a.lic:1]"}, nil},
		{"expired package feature", []string{
			"INCREMENT pk v 1.0 1-jan-2020 2" + sign + "\n" + `PACKAGE pk v 1.0 COMPONENTS="c1"` + sign,
		}, []string{"v/c1 v1.0 2 [a.lic:1 a.lic:2] expired"}, []string{"a.lic:1: INCREMENT pk: expired on 1-jan-2020"}},
		{"package without its enabling line", []string{
			"FEATURE pk v 1.0 permanent 2" + sign + "\n" + `PACKAGE pk v 2.0 COMPONENTS="c1"` + sign + "\n" +
				`PACKAGE other v COMPONENTS="c2"` + sign + "\n" + `PACKAGE pk w COMPONENTS="c3"` + sign,
		}, []string{"v/pk v1.0 2 [a.lic:1]"}, []string{
			"a.lic:2: PACKAGE pk: ignored: no FEATURE or INCREMENT line pk 2.0 of vendor v enables it",
			"a.lic:3: PACKAGE other: ignored: no FEATURE or INCREMENT line other of vendor v enables it",
			"a.lic:4: PACKAGE pk: ignored: no FEATURE or INCREMENT line pk of vendor w enables it",
		}},
		{"second PACKAGE of a name", []string{
			"FEATURE pk v 1.0 permanent 2" + sign + "\n" + `PACKAGE pk v COMPONENTS="c1"` + sign + "\n" +
				`PACKAGE pk v COMPONENTS="c2"` + sign,
		}, []string{"v/c1 v1.0 2 [a.lic:1 a.lic:2]"}, []string{
			"a.lic:3: PACKAGE pk: ignored: the PACKAGE line at a.lic:2 comes first",
		}},
		{"upgrade (LAG example)", []string{
			"INCREMENT f1 sampled 1.000 31-dec-2030 5" + sign + "\nUPGRADE f1 sampled 1.000 2.000 31-dec-2030 2" + sign,
		}, []string{"sampled/f1 v1.000 3 [a.lic:1]", "sampled/f1 v2.000 2 [a.lic:2]"}, nil},
		// "Up to num_lic from the closest preceding line" (LAG): only that line.
		{"upgrade takes from the closest line in range", []string{
			"INCREMENT f v 1.0 permanent 5" + sign + "\n" +
				"INCREMENT f v 1.5 permanent 1" + sign + "\n" +
				"INCREMENT f v 3.0 permanent 7" + sign + "\n" +
				"UPGRADE f v 1.0 2.0 permanent 4" + sign,
		}, []string{"v/f v1.0 5 [a.lic:1]", "v/f v1.5 0 [a.lic:2]", "v/f v3.0 7 [a.lic:3]", "v/f v2.0 1 [a.lic:4]"}, nil},
		{"upgrade joins a pool at its version", []string{
			"INCREMENT f v 1.0 permanent 5" + sign + "\nINCREMENT f v 2.0 permanent 1" + sign + "\nUPGRADE f v 1.0 2.0 permanent 2" + sign,
		}, []string{"v/f v1.0 3 [a.lic:1]", "v/f v2.0 3 [a.lic:2 a.lic:3]"}, nil},
		{"upgrade without a source", []string{
			"INCREMENT f v 2.0 permanent 5" + sign + "\nUPGRADE f v 1.0 2.0 permanent 2" + sign + "\nUPGRADE g v 1.0 2.0 permanent 2" + sign,
		}, []string{"v/f v2.0 5 [a.lic:1]"}, []string{
			"a.lic:2: UPGRADE f: no earlier FEATURE or INCREMENT line with version >= 1.0 and < 2.0",
			"a.lic:3: UPGRADE g: no earlier FEATURE or INCREMENT line with version >= 1.0 and < 2.0",
		}},
		{"upgrade of a used-up line", []string{
			"INCREMENT f v 1.0 permanent 2" + sign + "\nUPGRADE f v 1.0 2.0 permanent 2" + sign + "\nUPGRADE f v 1.0 3.0 permanent 2" + sign,
		}, []string{"v/f v1.0 0 [a.lic:1]", "v/f v2.0 2 [a.lic:2]"}, []string{
			"a.lic:3: UPGRADE f: nothing left to upgrade: every line with version >= 1.0 and < 3.0 is used up",
		}},
		{"supersede", []string{
			"INCREMENT f v 1.0 permanent 5 ISSUED=1-jan-2020" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 7" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 1 ISSUED=1-feb-2024" + sign + "\n" +
				"INCREMENT g v 1.0 permanent 9" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 3 SUPERSEDE=\"f g\" ISSUED=1-jan-2024" + sign + "\n" +
				"INCREMENT f v 1.0 permanent 2 ISSUED=1-jan-2019" + sign,
		}, []string{"v/f v1.0 6 [a.lic:3 a.lic:5 a.lic:6]"}, []string{
			"a.lic:1: INCREMENT f: superseded by a.lic:5 (ISSUED=1-jan-2024)",
			"a.lic:2: INCREMENT f: superseded by a.lic:5 (ISSUED=1-jan-2024)",
			"a.lic:4: INCREMENT g: superseded by a.lic:5 (ISSUED=1-jan-2024)",
		}},
		{"supersede lets a later FEATURE win", []string{
			"FEATURE f v 1.0 permanent 5" + sign, "FEATURE f v 2.0 permanent 8 SUPERSEDE ISSUED=1-jan-2024" + sign,
		}, []string{"v/f v2.0 8 [b.lic:1]"}, []string{
			"a.lic:1: FEATURE f: superseded by b.lic:1 (ISSUED=1-jan-2024)",
		}},
		{"sorted by name, then file order", []string{
			"INCREMENT b v 1.0 permanent 1" + sign + "\nINCREMENT a v 2.0 permanent 2" + sign + "\nINCREMENT a v 1.0 permanent 3" + sign,
		}, []string{"v/a v2.0 2 [a.lic:2]", "v/a v1.0 3 [a.lic:3]", "v/b v1.0 1 [a.lic:1]"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []*File
			for i, text := range tt.files {
				files = append(files, mustParse(t, string(rune('a'+i))+".lic", text))
			}
			pools, excluded := Pools(files, poolNow)
			var got, gotEx []string
			for _, p := range pools {
				got = append(got, summary(p))
			}
			for _, e := range excluded {
				gotEx = append(gotEx, e.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("pools:\n got %q\nwant %q", got, tt.want)
			}
			if !reflect.DeepEqual(gotEx, tt.excluded) {
				t.Errorf("excluded:\n got %q\nwant %q", gotEx, tt.excluded)
			}
		})
	}
}

func TestPoolFields(t *testing.T) {
	f := mustParse(t, "a.lic", "INCREMENT f v 1.0 permanent 5 DUP_GROUP=UH OVERDRAFT=1 VENDOR_STRING=vs USER_BASED"+sign+"\n"+
		"INCREMENT f v 1.00 31-dec-2030 3 DUP_GROUP=UH OVERDRAFT=2 VENDOR_STRING=vs USER_BASED START=1-jan-2026"+sign+"\n"+
		"INCREMENT f v 1.0 1-jan-2030 3 DUP_GROUP=UH VENDOR_STRING=vs USER_BASED"+sign)
	pools, _ := Pools([]*File{f}, poolNow)
	if len(pools) != 1 {
		t.Fatalf("got %d pools, want 1", len(pools))
	}
	p := pools[0]
	p.Key = ""
	want := Pool{Name: "f", Vendor: "v", Version: "1.0", Expiry: Date{2030, time.January, 1}, ExpiryText: "1-jan-2030",
		Count: 11, VendorString: "vs", DupGroup: "UH", Overdraft: 3, UserBased: true,
		Lines: []Pos{{"a.lic", 1}, {"a.lic", 2}, {"a.lic", 3}}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("pool:\n got %+v\nwant %+v", p, want)
	}
}

// TestPoolKeyStable checks that rereading the same lines gives the same
// keys, that distinct pools get distinct keys, and that a key does not
// depend on where a line sits.
func TestPoolKeyStable(t *testing.T) {
	text := "INCREMENT f v 1.0 permanent 5 DUP_GROUP=UH" + sign + "\nINCREMENT f v 1.0 permanent 5" + sign + "\nINCREMENT g v 1.0 permanent 5" + sign
	p1, _ := Pools([]*File{mustParse(t, "a.lic", text)}, poolNow)
	p2, _ := Pools([]*File{mustParse(t, "b.lic", "# moved\n\n"+text)}, poolNow)
	keys := map[string]bool{}
	for i := range p1 {
		if p1[i].Key != p2[i].Key {
			t.Errorf("pool %d: key %q on first read, %q on reread", i, p1[i].Key, p2[i].Key)
		}
		if keys[p1[i].Key] {
			t.Errorf("key %q names two pools", p1[i].Key)
		}
		keys[p1[i].Key] = true
	}
	if got, want := p1[1].Key, `"v" "f" v1`; got != want {
		t.Errorf("key = %q, want %q", got, want)
	}
}

func TestPoolsOfDemo(t *testing.T) {
	f, err := ParseFile("../testdata/demo.lic")
	if err != nil {
		t.Fatal(err)
	}
	pools, excluded := Pools([]*File{f}, poolNow)
	var got []string
	for _, p := range pools {
		got = append(got, fmt.Sprintf("%s %d", p.Name, p.Count))
	}
	if want := []string{"mesher 7", "solver 5", "viewer 2"}; !reflect.DeepEqual(got, want) || len(excluded) != 0 {
		t.Errorf("demo.lic pools = %q, excluded %v; want %q, none", got, excluded, want)
	}
}

func TestSuiteKey(t *testing.T) {
	f := mustParse(t, "a.lic", "FEATURE pk v 1.0 permanent 2"+sign+"\n"+
		`PACKAGE pk v 1.0 COMPONENTS="c1 c2" OPTIONS=SUITE`+sign+"\n"+
		"FEATURE pl v 1.0 permanent 2"+sign+"\n"+`PACKAGE pl v 1.0 COMPONENTS="c3"`+sign)
	pools, excluded := Pools([]*File{f}, poolNow)
	if len(excluded) != 0 {
		t.Fatalf("excluded %v", excluded)
	}
	suites := map[string]string{}
	for _, p := range pools {
		suites[p.Name] = SuiteKey(p.Key)
	}
	if suites["c1"] == "" || suites["c1"] != suites["c2"] || suites["c3"] != "" {
		t.Fatalf("got suites %q: want c1 and c2 in one suite, c3 in none", suites)
	}
	if !strings.Contains(suites["c1"], `"pk"`) {
		t.Fatalf("suite key %q: want the enabling pool's", suites["c1"])
	}
}

func TestPoolBorrowHours(t *testing.T) {
	text := "SERVER h ANY 27000\nVENDOR demo\n" +
		"FEATURE a demo 1.0 permanent 1 BORROW SIGN=0\n" +
		"FEATURE b demo 1.0 permanent 1 BORROW=72 SIGN=0\n" +
		"FEATURE c demo 1.0 permanent 1 SIGN=0\n"
	f, err := Parse("t.lic", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	pools, _ := Pools([]*File{f}, poolNow)
	got := map[string]int{}
	for _, p := range pools {
		got[p.Name] = p.Borrow
	}
	if want := map[string]int{"a": 168, "b": 72, "c": 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("Borrow hours = %v, want %v", got, want)
	}
}

package licfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sign is the signature the test lines carry; we check no signature.
const sign = ` SIGN="0"`

// TestParseErrors checks each rule that rejects a line: the whole error
// text, which names the file and the line.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // ErrorList.Error()
	}{
		{"bad expiry", "# c\n\nFEATURE f v 1.0 31-foo-2020 5" + sign,
			`t.lic:3: FEATURE f: expiry "31-foo-2020": want d-mmm-yyyy, "permanent" or year 0`},
		{"bad day", "FEATURE f v 1.0 30-feb-2020 5" + sign,
			`t.lic:1: FEATURE f: expiry "30-feb-2020": want d-mmm-yyyy, "permanent" or year 0`},
		{"bad version", "INCREMENT f v 1.0a permanent 5" + sign,
			`t.lic:1: INCREMENT f: version "1.0a": want a decimal number such as 1.0 or 2017.12 (-77: must be floating point number, with no letters)`},
		{"bad count", "FEATURE f v 1.0 permanent five" + sign,
			`t.lic:1: FEATURE f: count "five": want a number or "uncounted"`},
		{"negative count", "FEATURE f v 1.0 permanent -1" + sign,
			`t.lic:1: FEATURE f: count "-1": want a number or "uncounted"`},
		{"huge count", "FEATURE f v 1.0 permanent 99999999999" + sign,
			`t.lic:1: FEATURE f: count "99999999999": want a number or "uncounted"`},
		{"uncounted without hostid", "FEATURE f v 1.0 permanent uncounted" + sign,
			`t.lic:1: FEATURE f: uncounted license needs HOSTID=`},
		{"zero count without hostid", "FEATURE f v 1.0 permanent 0" + sign,
			`t.lic:1: FEATURE f: uncounted license needs HOSTID=`},
		{"no signature", "FEATURE f v 1.0 permanent 3",
			`t.lic:1: FEATURE f: no signature: want SIGN="..." or a license key after the count (-114: SIGN= keyword required)`},
		{"key and SIGN", "FEATURE f v 1.0 permanent 3 ABCDEF SIGN=12",
			`t.lic:1: FEATURE f: both a license key ABCDEF and SIGN=/AUTH=`},
		{"key and empty SIGN", `FEATURE f v 1.0 permanent 3 ABCDEF SIGN=""`,
			"t.lic:1: FEATURE f: both a license key ABCDEF and SIGN=/AUTH=\n" +
				`t.lic:1: FEATURE f: no signature: want SIGN="..." or a license key after the count (-114: SIGN= keyword required)`},
		{"short feature", "FEATURE f v 1.0 permanent",
			`t.lic:1: FEATURE: want FEATURE name vendor version expiry count SIGN=..., got 4 field(s)`},
		{"attribute in positional field", "FEATURE f v 1.0 permanent HOSTID=ANY" + sign,
			`t.lic:1: FEATURE: "HOSTID=ANY" where FEATURE expects name vendor version expiry count`},
		{"unknown line keyword", "SERVER h ANY\nLICENSE f v 1.0\n",
			`t.lic:2: unknown keyword "LICENSE": want SERVER, VENDOR, USE_SERVER, FEATURE, INCREMENT, UPGRADE or PACKAGE`},
		{"unterminated quote", "FEATURE f v 1.0 permanent 3 NOTICE=\"abc \\\n  def",
			`t.lic:1: FEATURE: unterminated quoted value`},
		{"duplicate attribute", "FEATURE f v 1.0 permanent 3 HOSTID=A hostid=B" + sign,
			`t.lic:1: FEATURE f: hostid given twice`},
		{"flag needing value", "FEATURE f v 1.0 permanent 3 HOSTID" + sign,
			`t.lic:1: FEATURE f: HOSTID needs a value: HOSTID=...`},
		{"value on a flag", "FEATURE f v 1.0 permanent 3 TS_OK=1" + sign,
			`t.lic:1: FEATURE f: TS_OK takes no value`},
		{"bad attribute date", "FEATURE f v 1.0 permanent 3 START=tomorrow" + sign,
			`t.lic:1: FEATURE f: START="tomorrow": want d-mmm-yyyy`},
		{"bad dup group", "FEATURE f v 1.0 permanent 3 DUP_GROUP=UX" + sign,
			`t.lic:1: FEATURE f: DUP_GROUP="UX": want NONE, SITE or letters of UHDV`},
		{"bad borrow", "FEATURE f v 1.0 permanent 3 BORROW=week" + sign,
			`t.lic:1: FEATURE f: BORROW="week": want a number`},
		{"bad attribute syntax", "FEATURE f v 1.0 permanent 3 a/b=c" + sign,
			`t.lic:1: FEATURE f: "a/b=c": want KEYWORD=value`},
		{"upgrade versions reversed", "UPGRADE f v 2.0 1.0 permanent 3" + sign,
			`t.lic:1: UPGRADE f: from-version 2.0 is not below to-version 1.0`},
		{"server without hostid", "SERVER h",
			`t.lic:1: SERVER: want SERVER host hostid [port], got 1 field(s)`},
		{"server two ports", "SERVER h ANY 27000 27001",
			`t.lic:1: SERVER: second port "27001"`},
		{"server bad port", "SERVER h ANY 70000",
			`t.lic:1: SERVER: port "70000": want a number from 1 to 65535`},
		{"primary twice", "SERVER h ANY PRIMARY_IS_MASTER 27000 primary_is_master",
			`t.lic:1: SERVER: PRIMARY_IS_MASTER given twice`},
		{"heartbeat range", "SERVER h ANY 27000 HEARTBEAT_INTERVAL=121",
			`t.lic:1: SERVER: HEARTBEAT_INTERVAL="121": want seconds from 0 to 120`},
		{"heartbeat twice", "SERVER h ANY 27000 HEARTBEAT_INTERVAL=20 SERVER_TIMEOUT=30",
			`t.lic:1: SERVER: SERVER_TIMEOUT given twice (SERVER_TIMEOUT is another name for HEARTBEAT_INTERVAL)`},
		{"two servers", "SERVER a ANY 1\nSERVER b ANY 1\n",
			`t.lic:2: SERVER: two SERVER lines: a triad needs three`},
		{"four servers", "SERVER a ANY 1\nSERVER b ANY 1\nSERVER c ANY 1\nSERVER d ANY 1\n",
			`t.lic:4: SERVER: 4 SERVER lines: want one, or three for a triad`},
		{"triad without port", "SERVER a ANY 1\nSERVER b ANY\nSERVER c ANY 1\n",
			`t.lic:2: SERVER: b has no port: every SERVER line of a triad needs one (FlexLM crashes without it)`},
		{"triad duplicate host", "SERVER a ANY 1\nSERVER B ANY 1\nSERVER b ANY 1\n",
			`t.lic:3: SERVER: host b repeats line 2: the three hosts of a triad must differ`},
		{"vendor bad port", "VENDOR v PORT=x",
			`t.lic:1: VENDOR: PORT "x": want a number from 0 to 65535`},
		{"vendor two ports", "DAEMON v /p 2080 PORT=2081",
			`t.lic:1: VENDOR: port given twice`},
		{"vendor extra field", "VENDOR v /p /o 1 x",
			`t.lic:1: VENDOR: unexpected field "x": want [path] [[OPTIONS=]file] [[PORT=]port]`},
		{"vendor without name", "VENDOR",
			`t.lic:1: VENDOR: want VENDOR name [path] [[OPTIONS=]file] [[PORT=]port]`},
		{"package without components", "PACKAGE p v 1.0" + sign,
			`t.lic:1: PACKAGE p: no COMPONENTS="feature[:version[:count]] ..." (-82: Invalid PACKAGE line)`},
		{"package bad component", `PACKAGE p v 1.0 COMPONENTS="a:x b:1.0:2:3"` + sign,
			"t.lic:1: PACKAGE p: component \"a:x\": want feature[:version[:count]]\n" +
				`t.lic:1: PACKAGE p: component "b:1.0:2:3": want feature[:version[:count]]`},
		{"suite component count", `PACKAGE p v 1.0 COMPONENTS="a:1.0:2" OPTIONS=SUITE` + sign,
			`t.lic:1: PACKAGE p: component "a:1.0:2": a count is not allowed with OPTIONS=SUITE`},
		{"package options", `PACKAGE p v COMPONENTS=a OPTIONS=SWEET` + sign,
			`t.lic:1: PACKAGE p: OPTIONS="SWEET": want OPTIONS=SUITE`},
		{"every error is reported", "FEATURE f v x permanent 1" + sign + "\nFEATURE g v 1.0 permanent y" + sign + "\nBOGUS\n",
			"t.lic:1: FEATURE f: version \"x\": want a decimal number such as 1.0 or 2017.12 (-77: must be floating point number, with no letters)\n" +
				"t.lic:2: FEATURE g: count \"y\": want a number or \"uncounted\"\n" +
				"t.lic:3: unknown keyword \"BOGUS\": want SERVER, VENDOR, USE_SERVER, FEATURE, INCREMENT, UPGRADE or PACKAGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("t.lic", []byte(tt.in))
			if f == nil {
				t.Fatalf("Parse returned a nil File")
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse error = %v (%T), want an ErrorList", err, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse errors:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseWarnings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"unknown attribute kept", "FEATURE f v 1.0 permanent 3 FOO=bar NEWFLAG" + sign,
			[]string{"t.lic:1: FEATURE f: unknown keyword FOO kept", "t.lic:1: FEATURE f: unknown keyword NEWFLAG kept"}},
		{"featureset", "FEATURESET v 0123", []string{"t.lic:1: FEATURESET: obsolete line ignored"}},
		{"vendor without VENDOR line", "VENDOR a\nFEATURE f b 1.0 permanent 3" + sign,
			[]string{"t.lic:2: FEATURE f: vendor b has no VENDOR line in this file"}},
		{"no VENDOR line at all", "FEATURE f b 1.0 permanent 3" + sign, nil},
		{"second FEATURE ignored", "FEATURE f v 1.0 permanent 3" + sign + "\nFEATURE f v 2.0 permanent 3" + sign,
			[]string{"t.lic:2: FEATURE f: ignored: the FEATURE line at line 1 comes first (use INCREMENT to add licenses)"}},
		{"supersede without issued", "INCREMENT f v 1.0 permanent 3 SUPERSEDE" + sign,
			[]string{"t.lic:1: INCREMENT f: SUPERSEDE without ISSUED= supersedes nothing"}},
		{"primary on second server", "SERVER a ANY 1\nSERVER b ANY 1 PRIMARY_IS_MASTER\nSERVER c ANY 1",
			[]string{"t.lic:2: SERVER: PRIMARY_IS_MASTER and HEARTBEAT_INTERVAL belong on the first SERVER line"}},
		{"unknown server keyword", "SERVER a ANY 1 FOO=1 PLAT=2", []string{"t.lic:1: SERVER: unknown keyword FOO kept"}},
		{"unknown vendor keyword", "VENDOR a FOO=1", []string{"t.lic:1: VENDOR: unknown keyword FOO ignored"}},
		{"duplicate vendor", "VENDOR a\nDAEMON a", []string{"t.lic:2: VENDOR: a repeats line 1"}},
		{"use_server argument", "USE_SERVER x", []string{`t.lic:1: USE_SERVER: takes no arguments; "x" ignored`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("t.lic", []byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var got []string
			for _, w := range f.Warnings {
				got = append(got, w.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("warnings:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestParseLines checks what each kind of line decodes to.
func TestParseLines(t *testing.T) {
	pos := func(line int) Pos { return Pos{File: "t.lic", Line: line} }
	tests := []struct {
		name string
		in   string
		want File
	}{
		{"server forms", "SERVER a 17007ea8 2837 PRIMARY_IS_MASTER HEARTBEAT_INTERVAL=30 PLAT=1\n" +
			"server b ID=12 primary_is_master 2837 server_timeout=20\nSERVER c \"ID=1 ID=2\" 2837",
			File{Servers: []Server{
				{Pos: pos(1), Host: "a", HostID: "17007ea8", Port: 2837, PrimaryIsMaster: true, HeartbeatInterval: 30,
					Attrs: []Attr{{Key: "PLAT", Value: "1"}}},
				{Pos: pos(2), Host: "b", HostID: "ID=12", Port: 2837, PrimaryIsMaster: true, HeartbeatInterval: 20},
				{Pos: pos(3), Host: "c", HostID: "ID=1 ID=2", Port: 2837},
			}}},
		{"vendor forms", "VENDOR sampled /etc/sampled OPTIONS=/etc/sampled.opt PORT=28000\n" +
			"VENDOR adskflex port=2080\nDAEMON MLM /bin/MLM /etc/MLM.opt\nVENDOR v /p /o 2090\n" +
			"VENDOR w options=/o\nVENDOR x /p 2091",
			File{Vendors: []Vendor{
				{Pos: pos(1), Name: "sampled", Path: "/etc/sampled", Options: "/etc/sampled.opt", Port: 28000},
				{Pos: pos(2), Name: "adskflex", Port: 2080},
				{Pos: pos(3), Name: "MLM", Path: "/bin/MLM", Options: "/etc/MLM.opt"},
				{Pos: pos(4), Name: "v", Path: "/p", Options: "/o", Port: 2090},
				{Pos: pos(5), Name: "w", Options: "/o"},
				{Pos: pos(6), Name: "x", Path: "/p", Port: 2091},
			}}},
		{"use_server", "use_server", File{UseServer: true}},
		{"feature with attributes", "INCREMENT f2 sampled 2.0 01-jan-2030 5 DUP_GROUP=UH BORROW \\\n" +
			"\tVENDOR_STRING=\"abc def\" ISSUED=01-jan-2024 SN=123 START=2-jan-2024 OVERDRAFT=3 \\\n" +
			"\tSUPERSEDE=\"f1 f2\" USER_BASED=4 HOST_BASED FLOAT_OK TS_OK NOTICE=n ISSUER=i HOSTID=ANY SIGN=\"1 2\"",
			File{Features: []Feature{{
				Pos: pos(1), Kind: KindIncrement, Name: "f2", Vendor: "sampled", Version: "2.0",
				Expiry: Date{2030, time.January, 1}, ExpiryText: "01-jan-2030", Count: 5, Sign: "1 2",
				Attrs: []Attr{{Key: "DUP_GROUP", Value: "UH"}, {Key: "BORROW", Flag: true},
					{Key: "VENDOR_STRING", Value: "abc def"}, {Key: "ISSUED", Value: "01-jan-2024"},
					{Key: "SN", Value: "123"}, {Key: "START", Value: "2-jan-2024"}, {Key: "OVERDRAFT", Value: "3"},
					{Key: "SUPERSEDE", Value: "f1 f2"}, {Key: "USER_BASED", Value: "4"}, {Key: "HOST_BASED", Flag: true},
					{Key: "FLOAT_OK", Flag: true}, {Key: "TS_OK", Flag: true}, {Key: "NOTICE", Value: "n"},
					{Key: "ISSUER", Value: "i"}, {Key: "HOSTID", Value: "ANY"}, {Key: "SIGN", Value: "1 2"}},
				HostID: "ANY", VendorString: "abc def", Issuer: "i", Issued: Date{2024, time.January, 1}, Notice: "n",
				SN: "123", Start: Date{2024, time.January, 2}, DupGroup: "UH", Overdraft: 3, Supersede: []string{"f1", "f2"},
				UserBased: true, HostBased: true, Borrow: 168, FloatOK: true, TSOK: true,
			}}}},
		{"bare key, year 0, uncounted", "feature m MLM 24 01-jan-0000 uncounted BDCE64A22A1DEF56F919 hostid=ANY borrow=4320 supersede",
			File{Features: []Feature{{
				Pos: pos(1), Kind: KindFeature, Name: "m", Vendor: "MLM", Version: "24", ExpiryText: "01-jan-0000",
				Uncounted: true, Sign: "BDCE64A22A1DEF56F919",
				Attrs:  []Attr{{Key: "hostid", Value: "ANY"}, {Key: "borrow", Value: "4320"}, {Key: "supersede", Flag: true}},
				HostID: "ANY", Borrow: 4320, Supersede: []string{"m"},
			}}}},
		{"flag in key position", "FEATURE f v 1 permanent 2 TS_OK AUTH=9",
			File{Features: []Feature{{
				Pos: pos(1), Kind: KindFeature, Name: "f", Vendor: "v", Version: "1", ExpiryText: "permanent", Count: 2,
				Sign: "9", TSOK: true, Attrs: []Attr{{Key: "TS_OK", Flag: true}, {Key: "AUTH", Value: "9"}},
			}}}},
		{"upgrade", "UPGRADE f1 sampled 1.000 2.000 31-dec-2020 2 SIGN=A",
			File{Features: []Feature{{
				Pos: pos(1), Kind: KindUpgrade, Name: "f1", Vendor: "sampled", FromVersion: "1.000", Version: "2.000",
				Expiry: Date{2020, time.December, 31}, ExpiryText: "31-dec-2020", Count: 2, Sign: "A",
				Attrs: []Attr{{Key: "SIGN", Value: "A"}},
			}}}},
		{"package", `PACKAGE p v 1.0 COMPONENTS="a b:2.0 c:3.0:4" SIGN=1` + "\nPACKAGE q v ABCDEF COMPONENTS=a OPTIONS=suite",
			File{Packages: []Package{
				{Pos: pos(1), Name: "p", Vendor: "v", Version: "1.0", Sign: "1",
					Components: []Component{{Name: "a"}, {Name: "b", Version: "2.0"}, {Name: "c", Version: "3.0", Count: 4}},
					Attrs:      []Attr{{Key: "COMPONENTS", Value: "a b:2.0 c:3.0:4"}, {Key: "SIGN", Value: "1"}}},
				{Pos: pos(2), Name: "q", Vendor: "v", Sign: "ABCDEF", Suite: true, Components: []Component{{Name: "a"}},
					Attrs: []Attr{{Key: "COMPONENTS", Value: "a"}, {Key: "OPTIONS", Value: "suite"}}},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("t.lic", []byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got.Warnings = nil
			tt.want.Name = "t.lic"
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

// TestParseKeepsGoodLines checks that a file with errors still yields its
// good lines, which lmcksum reports as OK.
func TestParseKeepsGoodLines(t *testing.T) {
	in := "FEATURE a v 1.0 permanent 1" + sign + "\nFEATURE b v x permanent 1" + sign + "\nFEATURE c v 1.0 permanent 1" + sign
	f, err := Parse("t.lic", []byte(in))
	if err == nil {
		t.Fatal("Parse: no error for a bad version")
	}
	var names []string
	for _, ft := range f.Features {
		names = append(names, ft.Name)
	}
	if got, want := strings.Join(names, " "), "a c"; got != want {
		t.Errorf("good lines = %q, want %q", got, want)
	}
}

func TestTriad(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"SERVER a ANY 1", false},
		{"SERVER a ANY 1\nSERVER b ANY 1\nSERVER c ANY 1", true},
		{"FEATURE f v 1 permanent 0 HOSTID=ANY" + sign, false},
	} {
		f, err := Parse("t.lic", []byte(tt.in))
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if got := f.Triad(); got != tt.want {
			t.Errorf("Triad() for %q = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestOversizedLinesAndValuesAreRefusedWithTheirLine(t *testing.T) {
	big := strings.Repeat("x", MaxValueBytes+1)
	text := "FEATURE ok v 1.0 permanent 1 SIGN=0\n" +
		"FEATURE vs v 1.0 permanent 1 VENDOR_STRING=\"" + big + "\" SIGN=0\n" +
		"FEATURE notice v 1.0 permanent 1 NOTICE=" + big + " SIGN=0\n" +
		"FEATURE long v 1.0 permanent 1 " + strings.Repeat("A=b ", MaxLineBytes/4) + "\n" +
		"FEATURE ok2 v 1.0 permanent 1 SIGN=0\n"
	f, err := Parse("big.lic", []byte(text))
	if err == nil {
		t.Fatal("oversized lines were accepted")
	}
	for _, want := range []string{
		"big.lic:2: FEATURE vs: VENDOR_STRING is 4097 bytes, at most 4096",
		"big.lic:3: FEATURE notice: NOTICE is 4097 bytes, at most 4096",
		"big.lic:4: line of ",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	var names []string
	for _, ft := range f.Features {
		names = append(names, ft.Name)
	}
	if strings.Join(names, " ") != "ok ok2" {
		t.Errorf("features kept: %v, want the good lines ok ok2", names)
	}
}

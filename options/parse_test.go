package options

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseString parses s as the file "t.opt".
func parseString(t testing.TB, s string) *Options {
	t.Helper()
	o, err := Parse("t.opt", strings.NewReader(s))
	require.NoError(t, err)
	return o
}

// problems renders o's problems as "severity file:line: msg".
func problems(o *Options) []string {
	var out []string
	for _, p := range o.Problems {
		out = append(out, p.Severity.String()+" "+p.Error())
	}
	return out
}

func TestParseKeywords(t *testing.T) {
	pos := Pos{File: "t.opt", Line: 1}
	tests := []struct {
		in   string
		want Line
	}{
		{"INCLUDE f1 USER jan", Line{Keyword: KeywordInclude, Feature: FeatureSpec{Name: "f1"}, Entity: Entity{TypeUser, "jan"}}},
		{"exclude f1 host h1", Line{Keyword: KeywordExclude, Feature: FeatureSpec{Name: "f1"}, Entity: Entity{TypeHost, "h1"}}},
		{"INCLUDEALL GROUP eng", Line{Keyword: KeywordIncludeAll, Entity: Entity{TypeGroup, "eng"}}},
		{"ExcludeAll DISPLAY :0", Line{Keyword: KeywordExcludeAll, Entity: Entity{TypeDisplay, ":0"}}},
		{"INCLUDE_BORROW f1 PROJECT apollo", Line{Keyword: KeywordIncludeBorrow, Feature: FeatureSpec{Name: "f1"}, Entity: Entity{TypeProject, "apollo"}}},
		{"EXCLUDE_BORROW f1 HOST_GROUP labs", Line{Keyword: KeywordExcludeBorrow, Feature: FeatureSpec{Name: "f1"}, Entity: Entity{TypeHostGroup, "labs"}}},
		{"RESERVE 3 f1:VERSION=2.0 INTERNET 10.*.*.1", Line{Keyword: KeywordReserve, Value: 3, Feature: FeatureSpec{"f1", "VERSION", "2.0"}, Entity: Entity{TypeInternet, "10.*.*.1"}}},
		{"MAX 0 f1:sn=77 user jan", Line{Keyword: KeywordMax, Feature: FeatureSpec{"f1", "SN", "77"}, Entity: Entity{TypeUser, "jan"}}},
		{"GROUP eng a b c", Line{Keyword: KeywordGroup, Group: "eng", Members: []string{"a", "b", "c"}}},
		{"HOST_GROUP labs h1", Line{Keyword: KeywordHostGroup, Group: "labs", Members: []string{"h1"}}},
		{"GROUPCASEINSENSITIVE on", Line{Keyword: KeywordGroupCaseInsensitive, On: true}},
		{"GROUPCASEINSENSITIVE OFF", Line{Keyword: KeywordGroupCaseInsensitive}},
		{"TIMEOUT f1 3600", Line{Keyword: KeywordTimeout, Feature: FeatureSpec{Name: "f1"}, Value: 3600}},
		{"TIMEOUTALL 1000", Line{Keyword: KeywordTimeoutAll, Value: 1000}},
		{"LINGER f1 30", Line{Keyword: KeywordLinger, Feature: FeatureSpec{Name: "f1"}, Value: 30}},
		{"NOLOG in", Line{Keyword: KeywordNoLog, Log: LogIn}},
		{"NOLOG OUT", Line{Keyword: KeywordNoLog, Log: LogOut}},
		{"NOLOG DENIED", Line{Keyword: KeywordNoLog, Log: LogDenied}},
		{"NOLOG QUEUED", Line{Keyword: KeywordNoLog, Log: LogQueued}},
		{"REPORTLOG +/var/r.log", Line{Keyword: KeywordReportLog, Path: "/var/r.log", Append: true}},
		{`REPORTLOG "/my logs/r.log"`, Line{Keyword: KeywordReportLog, Path: "/my logs/r.log"}},
		{"DEBUGLOG +d.log", Line{Keyword: KeywordDebugLog, Path: "d.log", Append: true}},
		{"MAX_OVERDRAFT f1 2", Line{Keyword: KeywordMaxOverdraft, Feature: FeatureSpec{Name: "f1"}, Value: 2}},
		{"BORROW_LOWWATER f1 3", Line{Keyword: KeywordBorrowLowwater, Feature: FeatureSpec{Name: "f1"}, Value: 3}},
		{"MAX_BORROW_HOURS f1 48", Line{Keyword: KeywordMaxBorrowHours, Feature: FeatureSpec{Name: "f1"}, Value: 48}},
		{`INCLUDE f1:VENDOR_STRING="a b:c=d" USER "John Smith"`, Line{Keyword: KeywordInclude, Feature: FeatureSpec{"f1", "VENDOR_STRING", "a b:c=d"}, Entity: Entity{TypeUser, "John Smith"}}},
		{`INCLUDE "f1:asset_info=x y" USER jan`, Line{Keyword: KeywordInclude, Feature: FeatureSpec{"f1", "ASSET_INFO", "x y"}, Entity: Entity{TypeUser, "jan"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			o := parseString(t, tt.in+"\n")
			assert.NoError(t, o.Errors())
			require.Len(t, o.Lines, 1)
			tt.want.Pos = pos
			assert.Equal(t, tt.want, o.Lines[0])
		})
	}
}

func TestParseLayout(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // "line: canonical text"
	}{
		{"comments and blanks", "# c\n\n   # indented comment\nNOLOG IN\n\n", []string{"4: NOLOG IN"}},
		{"continuation", "GROUP g a \\\n  b \\\n  c\nNOLOG IN\n", []string{"1: GROUP g a b c", "4: NOLOG IN"}},
		{"blanks after the backslash", "GROUP g a \\  \t\n b\n", []string{"1: GROUP g a b"}},
		{"comment inside a continuation", "GROUP g a \\\n# not b\n c\n", []string{"1: GROUP g a c"}},
		{"blank line ends a continuation", "GROUP g a \\\n\nNOLOG IN\n", []string{"1: GROUP g a", "3: NOLOG IN"}},
		{"file ends with a backslash", "GROUP g a \\", []string{"1: GROUP g a"}},
		{"no final newline, CRLF", "NOLOG IN\r\nNOLOG OUT", []string{"1: NOLOG IN", "2: NOLOG OUT"}},
		{"trailing comment", "GROUP g a b # c d\n", []string{"1: GROUP g a b"}},
		{"quoted names", `GROUP "my group" "a b" c` + "\n", []string{`1: GROUP "my group" "a b" c`}},
		{"quoted value across lines", "INCLUDE f:VENDOR_STRING=\"a \\\nb\" USER u\n", []string{`1: INCLUDE f:VENDOR_STRING="a b" USER u`}},
		{"tabs", "MAX\t2\tf\tUSER\tu\n", []string{"1: MAX 2 f USER u"}},
		{"unknown keyword kept", "FQDN_MATCHING lenient\n", []string{"1: FQDN_MATCHING lenient"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := parseString(t, tt.in)
			var got []string
			for _, l := range o.Lines {
				got = append(got, fmt.Sprintf("%d: %s", l.Pos.Line, l))
			}
			assert.Equal(t, tt.want, got)
			assert.NoError(t, o.Errors())
		})
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		in        string
		want      []string
		wantLines int
	}{
		{"INCLUDE f1 PERSON x", []string{`error t.opt:1: INCLUDE: unknown type "PERSON": want USER, HOST, DISPLAY, INTERNET, PROJECT, GROUP or HOST_GROUP`}, 0},
		{"INCLUDE f1 USER", []string{"error t.opt:1: INCLUDE: missing argument: want INCLUDE feature[:KEY=value] type name"}, 0},
		{"INCLUDE f1 USER a b", []string{`error t.opt:1: INCLUDE: unexpected field "b": want INCLUDE feature[:KEY=value] type name`}, 0},
		{"RESERVE two f1 USER a", []string{`error t.opt:1: RESERVE: count "two": want a whole number from 1`}, 0},
		{"RESERVE 0 f1 USER a", []string{`error t.opt:1: RESERVE: count "0": want a whole number from 1`}, 0},
		{"MAX -1 f1 USER a", []string{`error t.opt:1: MAX: count "-1": want a whole number`}, 0},
		{"MAX 99999999999 f1 USER a", []string{`error t.opt:1: MAX: count "99999999999": want a whole number`}, 0},
		{"TIMEOUT f1 1h", []string{`error t.opt:1: TIMEOUT: seconds "1h": want a whole number`}, 0},
		{"MAX_BORROW_HOURS f1 1.5", []string{`error t.opt:1: MAX_BORROW_HOURS: hours "1.5": want a whole number`}, 0},
		{"BORROW_LOWWATER f1 x", []string{`error t.opt:1: BORROW_LOWWATER: count "x": want a whole number`}, 0},
		{"TIMEOUTALL x", []string{`error t.opt:1: TIMEOUTALL: seconds "x": want a whole number`}, 0},
		{"TIMEOUT f1 60", []string{"warning t.opt:1: TIMEOUT: 60 seconds is below the minimum of 900: 900 applies"}, 1},
		{"TIMEOUTALL 5", []string{"warning t.opt:1: TIMEOUTALL: 5 seconds is below the minimum of 900: 900 applies"}, 1},
		{"INCLUDE f1: USER a", []string{`error t.opt:1: INCLUDE: "f1:": want feature:KEY=value`}, 0},
		{"INCLUDE f1:SN= USER a", []string{`error t.opt:1: INCLUDE: "f1:SN=": empty value`}, 0},
		{"INCLUDE :SN=1 USER a", []string{`error t.opt:1: INCLUDE: "": want a feature name`}, 0},
		{`INCLUDE f1 USER ""`, []string{"error t.opt:1: INCLUDE: USER: empty name"}, 0},
		{"INCLUDE f1 INTERNET 10.1.2", []string{`error t.opt:1: INCLUDE: INTERNET "10.1.2": want an IPv4 address with * for any octet, such as 192.168.*.*`}, 0},
		{"INCLUDE f1 INTERNET 10.1.2.256", []string{`error t.opt:1: INCLUDE: INTERNET "10.1.2.256": want an IPv4 address with * for any octet, such as 192.168.*.*`}, 0},
		{"GROUP eng", []string{"error t.opt:1: GROUP: missing argument: want GROUP name member..."}, 0},
		{"GROUPCASEINSENSITIVE YES", []string{`error t.opt:1: GROUPCASEINSENSITIVE: "YES": want ON or OFF`}, 0},
		{"NOLOG ALL", []string{`error t.opt:1: NOLOG: "ALL": want IN, OUT, DENIED or QUEUED`}, 0},
		{"REPORTLOG +", []string{"error t.opt:1: REPORTLOG: missing path"}, 0},
		{`GROUP g "a`, []string{"error t.opt:1: unterminated quoted value"}, 0},
		{"AUTOMATIC_REREAD OFF", []string{`warning t.opt:1: unknown keyword "AUTOMATIC_REREAD": kept, but it has no effect`}, 1},
		{"INCLUDE f1 GROUP nobody", []string{`warning t.opt:1: INCLUDE: GROUP "nobody" is not defined: this line matches nobody`}, 1},
		{"MAX 1 f1 HOST_GROUP nowhere", []string{`warning t.opt:1: MAX: HOST_GROUP "nowhere" is not defined: this line matches nobody`}, 1},
		{
			"NOLOG IN\nMAX x \\\n f1 USER a\nNOLOG OUT\nBOGUS 1\nNOLOG BAD\n",
			[]string{
				`error t.opt:2: MAX: count "x": want a whole number`,
				`warning t.opt:5: unknown keyword "BOGUS": kept, but it has no effect`,
				`error t.opt:6: NOLOG: "BAD": want IN, OUT, DENIED or QUEUED`,
			}, 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			o := parseString(t, tt.in)
			assert.Equal(t, tt.want, problems(o))
			assert.Len(t, o.Lines, tt.wantLines)
			hasErr := false
			for _, p := range o.Problems {
				hasErr = hasErr || p.Severity == Error
			}
			if hasErr {
				var pl ProblemList
				require.ErrorAs(t, o.Errors(), &pl)
			} else {
				assert.NoError(t, o.Errors())
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	lim := limits{line: 20, file: 200, lines: 3, problems: 2}
	parseLim := func(s string) *Options {
		o, err := parse("t.opt", strings.NewReader(s), lim)
		require.NoError(t, err)
		return o
	}
	t.Run("long line", func(t *testing.T) {
		o := parseLim("NOLOG IN\nGROUP g " + strings.Repeat("a ", 20) + "\nNOLOG OUT\n")
		assert.Equal(t, []string{"error t.opt:2: line longer than 20 bytes"}, problems(o))
		assert.Len(t, o.Lines, 2)
	})
	t.Run("long continued line", func(t *testing.T) {
		o := parseLim("GROUP g aaaaaaa \\\n bbbbbbbbbb \\\n ccccccccc\nNOLOG OUT\n")
		assert.Equal(t, []string{"error t.opt:1: line longer than 20 bytes"}, problems(o))
		assert.Equal(t, "NOLOG OUT\n", o.String())
	})
	t.Run("long line that continues", func(t *testing.T) {
		o := parseLim("GROUP g " + strings.Repeat("a", 30) + " \\\n b\nNOLOG OUT\n")
		assert.Equal(t, []string{"error t.opt:1: line longer than 20 bytes"}, problems(o))
		assert.Equal(t, "NOLOG OUT\n", o.String())
	})
	t.Run("long comment", func(t *testing.T) {
		o := parseLim("# " + strings.Repeat("c", 50) + "\nNOLOG OUT\n")
		assert.Empty(t, problems(o))
		assert.Equal(t, "NOLOG OUT\n", o.String())
	})
	t.Run("too many lines", func(t *testing.T) {
		o := parseLim("NOLOG IN\nNOLOG OUT\nNOLOG DENIED\nNOLOG QUEUED\nNOLOG IN\n")
		assert.Equal(t, []string{"error t.opt:4: more than 3 lines: this one and the rest are ignored"}, problems(o))
		assert.Len(t, o.Lines, 3)
	})
	t.Run("too large", func(t *testing.T) {
		o := parseLim(strings.Repeat("# comment comment\n", 20) + "NOLOG IN\n")
		assert.Equal(t, []string{"error t.opt: file larger than 200 bytes: the rest is ignored"}, problems(o))
		assert.Empty(t, o.Lines)
	})
	t.Run("too many problems", func(t *testing.T) {
		o := parseLim("A\nB\nC\nD\n")
		assert.Equal(t, []string{
			`warning t.opt:1: unknown keyword "A": kept, but it has no effect`,
			`warning t.opt:2: unknown keyword "B": kept, but it has no effect`,
			"error t.opt: 2 more problems not listed",
		}, problems(o))
	})
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	o, err := Parse("t.opt", io.MultiReader(strings.NewReader("NOLOG IN\n"), iotest.ErrReader(boom)))
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, "NOLOG IN\n", o.String())
}

func TestParseFile(t *testing.T) {
	o, err := ParseFile("testdata/site.opt")
	require.NoError(t, err)
	assert.Equal(t, "testdata/site.opt", o.Name)
	_, err = ParseFile("testdata/no-such.opt")
	assert.Error(t, err)
}

func TestProblemError(t *testing.T) {
	p := Problem{Pos: Pos{"a.opt", 3}, Severity: Error, Msg: "bad"}
	assert.Equal(t, "a.opt:3: bad", p.Error())
	assert.Equal(t, "a.opt: bad", Problem{Pos: Pos{File: "a.opt"}, Msg: "bad"}.Error())
	assert.Equal(t, "a.opt:3: bad\na.opt:4: worse", ProblemList{p, {Pos: Pos{"a.opt", 4}, Msg: "worse"}}.Error())
}

func TestStringers(t *testing.T) {
	for k := KeywordUnknown; k < numKeywords; k++ {
		assert.NotContains(t, k.String(), "(")
	}
	assert.Equal(t, "Keyword(99)", Keyword(99).String())
	assert.Equal(t, "Type(0)", Type(0).String())
	assert.Equal(t, "LogKind(0)", LogKind(0).String())
	assert.Equal(t, "Severity(0)", Severity(0).String())
	assert.Equal(t, `f:VENDOR_STRING="a b"`, FeatureSpec{"f", "VENDOR_STRING", "a b"}.String())
}

// endless is a reader that never ends: "GROUP g a a a a ...".
type endless struct{ started bool }

func (e *endless) Read(b []byte) (int, error) {
	n := 0
	if !e.started {
		n = copy(b, "GROUP g ")
		e.started = true
	}
	for n < len(b) {
		b[n] = "a "[n%2]
		n++
	}
	return n, nil
}

func TestParseEndlessInput(t *testing.T) {
	o, err := Parse("t.opt", &endless{})
	require.NoError(t, err)
	assert.Equal(t, []string{"error t.opt: file larger than 4194304 bytes: the rest is ignored"}, problems(o))
	assert.Empty(t, o.Lines)

	// Many lines stop at MaxFileBytes.
	line := "GROUP g a b c " + strings.Repeat("d", 85) + "\n" // 100 bytes
	o, err = Parse("t.opt", strings.NewReader(strings.Repeat(line, MaxFileBytes/100+10)))
	require.NoError(t, err)
	require.NotEmpty(t, o.Problems)
	assert.Equal(t, fmt.Sprintf("error t.opt: file larger than %d bytes: the rest is ignored", MaxFileBytes), problems(o)[len(o.Problems)-1])
	assert.Len(t, o.Group("g"), 4)
}

func TestParseBigGroup(t *testing.T) {
	var b strings.Builder
	b.WriteString("GROUP big")
	for i := range 100000 {
		fmt.Fprintf(&b, " u%d", i)
		if i%10 == 9 {
			b.WriteString(" \\\n")
		}
	}
	b.WriteString("\nINCLUDE f1 GROUP big\n")
	o := parseString(t, b.String())
	require.NoError(t, o.Errors())
	code, _ := o.Allowed(ref("f1"), Requester{User: "u99999"})
	assert.Equal(t, 0, code)
	assert.Equal(t, 10002, o.Lines[1].Pos.Line) // after 10,000 continued lines and a blank one
}

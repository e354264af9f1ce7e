package wire

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    *Error
		want string
	}{
		{NewError(CodeMaxUsers, 342), "Licensed number of users already reached. (-4,342)"},
		{NewError(CodeNoFeature, 346), "No such feature exists. (-5,346)"},
		{NewError(CodeCantConnect, 570).WithDetail(`111 "Connection refused"`),
			`Cannot connect to license server system. (-15,570:111 "Connection refused")`},
		{&Error{Code: CodeMaxUsers, Minor: 132}, "Licensed number of users already reached. (-4,132)"},
		{&Error{Code: -999, Minor: 1, Text: "Custom."}, "Custom. (-999,1)"},
		{&Error{Code: -999}, "Unknown error code. (-999,0)"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorMessageRoundTrip(t *testing.T) {
	for _, e := range []*Error{
		NewError(CodeMaxUsers, 342),
		NewError(CodeCantConnect, 570).WithDetail(`111 "Connection refused"`),
		{Code: CodeServBusy, Minor: 0, Text: "x\ny"},
	} {
		line := e.Message().String()
		m, err := ParseMessage(line)
		if err != nil {
			t.Fatalf("ParseMessage(%q): %v", line, err)
		}
		got := ErrorFromMessage(m)
		if *got != *e {
			t.Errorf("round trip through %q: got %#v, want %#v", line, got, e)
		}
	}
}

func TestErrorFromMessage(t *testing.T) {
	tests := []struct {
		line string
		want *Error // nil for nil
	}{
		{"OK", nil},
		{"OK handle=3", nil},
		{`ERR code=-20 minor=12 text="License server system busy (no majority)." master=27100@h2`,
			&Error{Code: -20, Minor: 12, Text: "License server system busy (no majority)."}},
		{"ERR code=-4", &Error{Code: -4, Text: "Licensed number of users already reached."}},
		{`ERR code=-4 minor=1 text=""`, &Error{Code: -4, Minor: 1}},
		{"ERR", &Error{Code: CodeBadComm, Minor: MinorBadReply, Text: Text(CodeBadComm), Detail: "ERR reply without a valid negative code="}},
		{"ERR code=x", &Error{Code: CodeBadComm, Minor: MinorBadReply, Text: Text(CodeBadComm), Detail: "ERR reply without a valid negative code="}},
		{"ERR code=4", &Error{Code: CodeBadComm, Minor: MinorBadReply, Text: Text(CodeBadComm), Detail: "ERR reply without a valid negative code="}},
		{"POOL feature=x", &Error{Code: CodeBadComm, Minor: MinorBadReply, Text: Text(CodeBadComm), Detail: `unexpected reply "POOL"`}},
	}
	for _, tt := range tests {
		m, err := ParseMessage(tt.line)
		if err != nil {
			t.Fatal(err)
		}
		got := ErrorFromMessage(m)
		if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
			t.Errorf("ErrorFromMessage(%s) = %#v, want %#v", tt.line, got, tt.want)
		}
	}
}

func TestErrorsIs(t *testing.T) {
	err := fmt.Errorf("checkout f1: %w", NewError(CodeMaxUsers, 342).WithDetail("x"))
	if !errors.Is(err, ErrMaxUsers) {
		t.Error("errors.Is(-4 error, ErrMaxUsers) = false")
	}
	if errors.Is(err, ErrNoFeature) {
		t.Error("errors.Is(-4 error, ErrNoFeature) = true")
	}
	if errors.Is(err, (*Error)(nil)) {
		t.Error("errors.Is(-4 error, nil *Error) = true")
	}
	var e *Error
	if !errors.As(err, &e) || e.Minor != 342 {
		t.Errorf("errors.As: %#v", e)
	}
	if !errors.Is(ErrServBusy, &Error{Code: -20, Minor: 77}) {
		t.Error("sentinel does not match an equal code")
	}
}

// TestCodeTable checks the constants, symbols and texts against the table
// of the FlexLM reference (flexlm.md §7), of which testdata holds a copy:
// lines "| code | LM_SYMBOL | exact text |".
func TestCodeTable(t *testing.T) {
	f, err := os.Open("testdata/flexlm-error-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile(`^\| (-\d+) \| (LM_\w+) \| (.*?)(?: \[counted from the table order\])? \|$`)
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := row.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n++
		code, _ := strconv.Atoi(m[1])
		if got := Symbol(code); got != m[2] {
			t.Errorf("Symbol(%d) = %q, want %q", code, got, m[2])
		}
		if got := Text(code); got != m[3] {
			t.Errorf("Text(%d) = %q, want %q", code, got, m[3])
		}
	}
	if n != len(codeTable) || n < 50 {
		t.Errorf("reference has %d codes, the package %d", n, len(codeTable))
	}
}

func TestSentinels(t *testing.T) {
	for _, s := range []*Error{ErrNoConfFile, ErrBadFile, ErrMaxUsers, ErrNoFeature, ErrNotThisHost, ErrLongGone,
		ErrBadComm, ErrCantConnect, ErrCantRead, ErrServBusy, ErrBusyNewServ, ErrTooMany, ErrTooEarly,
		ErrNeverCheckout, ErrNoServResp, ErrNotLicAdmin, ErrServerRemoved, ErrVendorDown, ErrServerMaxedOut,
		ErrMustBeLocal, ErrCantCheckoutJustPackage} {
		if s.Text != Text(s.Code) || s.Text == "" || Symbol(s.Code) == "" {
			t.Errorf("sentinel %d has text %q, table %q", s.Code, s.Text, Text(s.Code))
		}
	}
	if CodeNotThisHost != -9 || ErrNotThisHost.Text != "Invalid host." || CodeMustBeLocal != -119 {
		t.Error("code constants drifted")
	}
}

func TestSysDetail(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), `111 "Connection refused"`},
		{errors.New("i/o timeout"), `"i/o timeout"`},
	}
	for _, tt := range tests {
		if got := SysDetail(tt.err); got != tt.want {
			t.Errorf("SysDetail(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestToError(t *testing.T) {
	_, perr := ParseMessage("A k=\"x")
	_, aerr := New("CHECKOUT").Int("count")
	tests := []struct {
		err  error
		want string
	}{
		{NewError(CodeMaxUsers, 1), `ERR code=-4 minor=1 text="Licensed number of users already reached."`},
		{fmt.Errorf("x: %w", NewError(CodeMaxUsers, 1)), `ERR code=-4 minor=1 text="Licensed number of users already reached."`},
		{perr, `ERR code=-12 minor=901 text="Invalid returned data from license server system." detail="column 5: unterminated quoted value"`},
		{ErrLineTooLong, `ERR code=-12 minor=902 text="Invalid returned data from license server system." detail="line too long"`},
		{aerr, `ERR code=-12 minor=905 text="Invalid returned data from license server system." detail="CHECKOUT: missing argument count="`},
		{errors.New("disk on fire"), `ERR code=-12 minor=908 text="Invalid returned data from license server system." detail="disk on fire"`},
	}
	for _, tt := range tests {
		if got := ErrorReply(tt.err).String(); got != tt.want {
			t.Errorf("ErrorReply(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
	if ToError(nil) != nil {
		t.Error("ToError(nil) != nil")
	}
}

func TestCheckProto(t *testing.T) {
	tests := []struct {
		line string
		want string // "" for nil
	}{
		{"HELLO proto=1", ""},
		{"HELLO proto=1.3 vendor=demo", ""},
		{"HELLO", "Invalid returned data from license server system. (-12,903:HELLO without proto=, server proto=1)"},
		{"HELLO proto=2", "Version of vendor daemon is too old. (-83,903:client proto=2, server proto=1)"},
		{"HELLO proto=0", "Invalid returned data from license server system. (-12,903:client proto=0, server proto=1)"},
		{"HELLO proto=x", `Invalid returned data from license server system. (-12,903:invalid client proto="x", server proto=1)`},
		{"HELLO proto=+1", `Invalid returned data from license server system. (-12,903:invalid client proto="+1", server proto=1)`},
		{"INFO", "Invalid returned data from license server system. (-12,909:expected HELLO proto=1 as the first message)"},
	}
	for _, tt := range tests {
		m, _ := ParseMessage(tt.line)
		err := CheckProto(m)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("CheckProto(%s) = %q, want %q", tt.line, got, tt.want)
		}
	}
	if err := CheckProto(Hello("vendor", "demo", "role", RoleClient)); err != nil {
		t.Errorf("CheckProto(Hello()) = %v", err)
	}
	if got := Hello("vendor", "demo").String(); got != "HELLO proto=1 vendor=demo" {
		t.Errorf("Hello() = %s", got)
	}
	if !strings.HasPrefix(OK("a", "1").String(), "OK a=1") || !IsOK(OK()) || IsOK(ErrMaxUsers.Message()) {
		t.Error("OK/IsOK")
	}
}

package wire

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func args(kv ...string) []Arg { return New("", kv...).Args }

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Message
	}{
		{"verb only", "INFO", Message{Verb: "INFO"}},
		{"verb with digits", "V2_X", Message{Verb: "V2_X"}},
		{"newline", "INFO\n", Message{Verb: "INFO"}},
		{"crlf", "INFO\r\n", Message{Verb: "INFO"}},
		{"trailing blanks", "INFO  \t", Message{Verb: "INFO"}},
		{"bare args", "CHECKOUT feature=f1 version=1.0 count=2",
			Message{"CHECKOUT", args("feature", "f1", "version", "1.0", "count", "2")}},
		{"repeated blanks", "A  a=1\t\tb=2 ", Message{"A", args("a", "1", "b", "2")}},
		{"equals in bare value", "A k=a=b==", Message{"A", args("k", "a=b==")}},
		{"backslash in bare value", `A path=C:\lic\x`, Message{"A", args("path", `C:\lic\x`)}},
		{"utf8 bare", "A user=jürgen", Message{"A", args("user", "jürgen")}},
		{"empty quoted", `A k="" j=1`, Message{"A", args("k", "", "j", "1")}},
		{"empty bare", `A k= j=`, Message{"A", args("k", "", "j", "")}},
		{"quoted spaces", `ERR code=-4 text="Licensed number of users already reached."`,
			Message{"ERR", args("code", "-4", "text", "Licensed number of users already reached.")}},
		{"escapes", `A k="a\"b\\c\nd\re\tf\x00\x7F"`, Message{"A", args("k", "a\"b\\c\nd\re\tf\x00\x7f")}},
		{"raw tab in quotes", "A k=\"a\tb\"", Message{"A", args("k", "a\tb")}},
		{"quoted then bare", `A k="x y" j=z`, Message{"A", args("k", "x y", "j", "z")}},
		{"key with digits", "A k_2=1", Message{"A", args("k_2", "1")}},
		{"high bytes", "A k=\xff\xfe", Message{"A", args("k", "\xff\xfe")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMessage(tt.in)
			if err != nil {
				t.Fatalf("ParseMessage(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseMessage(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseMessageErrors(t *testing.T) {
	tests := []struct {
		in  string
		col int
		msg string // substring of the message
	}{
		{"", 1, "empty line"},
		{"\n", 1, "empty line"},
		{" INFO", 1, "starts with a blank"},
		{"info", 1, "upper-case"},
		{"1NFO", 1, "upper-case"},
		{"_X", 1, "upper-case"},
		{"\x80X", 1, "found byte 0x80"},
		{"A \xc3=1", 3, "found byte 0xc3"},
		{"INFo", 4, "in verb"},
		{"IN-FO", 3, "in verb"},
		{"INFO=1", 5, "in verb"},
		{"A Key=1", 3, "lower-case"},
		{"A 1=1", 3, "lower-case"},
		{"A =1", 3, "lower-case"},
		{`A "x"`, 3, "lower-case"},
		{"A force", 8, "missing '='"},
		{"A force x=1", 8, "missing '='"},
		{"A fo-rce=1", 5, "in key"},
		{"A k=1 k=2", 7, "duplicate key k"},
		{`A k=a"b`, 6, "quote inside"},
		{`A k=ab"`, 7, "quote inside"},
		{"A k=a\x01", 6, "control"},
		{"A k=a\x7f", 6, "control"},
		{"A k=a\rb", 6, "control"},
		{"A k=a\nb", 6, "control"},
		{"INFO\r", 5, "in verb"},
		{`A k="abc`, 5, "unterminated"},
		{`A k="abc\"`, 5, "unterminated"},
		{`A k="abc\`, 5, "unterminated"},
		{`A k="a\qb"`, 7, "unknown escape"},
		{`A k="a\x4"`, 7, `\x escape`},
		{`A k="a\xg0"`, 7, `\x escape`},
		{`A k="a\x`, 7, `\x escape`},
		{"A k=\"a\x01\"", 7, "control"},
		{"A k=\"a\\n\x02\"", 9, "control"},
		{`A k="a"b`, 8, "after the closing quote"},
		{`A k="a""b"`, 8, "after the closing quote"},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			m, err := ParseMessage(tt.in)
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseMessage(%q) = %v, %v; want a *ProtocolError", tt.in, m, err)
			}
			if pe.Col != tt.col || !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("ParseMessage(%q): got column %d %q, want column %d and %q", tt.in, pe.Col, pe.Msg, tt.col, tt.msg)
			}
			if m.Verb != "" || m.Args != nil {
				t.Errorf("ParseMessage(%q) returned %#v with its error, want the zero Message", tt.in, m)
			}
		})
	}
}

func TestProtocolErrorString(t *testing.T) {
	_, err := ParseMessage("A fo-rce=1")
	if got, want := err.Error(), `wire: column 5: invalid character '-' in key`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		in   Message
		want string
	}{
		{"verb only", New("INFO"), "INFO"},
		{"bare", New("CHECKOUT", "feature", "f1", "count", "2"), "CHECKOUT feature=f1 count=2"},
		{"empty", New("A", "k", ""), `A k=""`},
		{"space", New("A", "text", "a b"), `A text="a b"`},
		{"quote", New("A", "k", `say "hi"`), `A k="say \"hi\""`},
		{"quote alone", New("A", "k", `"`), `A k="\""`},
		{"backslash bare", New("A", "k", `a\b`), `A k=a\b`},
		{"backslash quoted", New("A", "k", `a\ b`), `A k="a\\ b"`},
		{"newline", New("A", "k", "a\nb\r\t"), `A k="a\nb\r\t"`},
		{"control", New("A", "k", "\x00\x1b[1m\x7f"), `A k="\x00\x1b[1m\x7f"`},
		{"equals", New("A", "k", "a=b"), "A k=a=b"},
		{"utf8", New("A", "user", "jürgen"), "A user=jürgen"},
		{"detail", NewError(CodeCantConnect, 570).WithDetail(`111 "Connection refused"`).Message(),
			`ERR code=-15 minor=570 text="Cannot connect to license server system." detail="111 \"Connection refused\""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.String()
			if got != tt.want {
				t.Errorf("String() = %s, want %s", got, tt.want)
			}
			if n := lineLen(tt.in); n != len(got) {
				t.Errorf("lineLen = %d, want %d", n, len(got))
			}
			back, err := ParseMessage(got)
			if err != nil {
				t.Fatalf("ParseMessage(%q): %v", got, err)
			}
			if !back.Equal(tt.in) {
				t.Errorf("round trip: got %#v, want %#v", back, tt.in)
			}
			if b := tt.in.AppendTo([]byte("x ")); string(b) != "x "+tt.want {
				t.Errorf("AppendTo = %q, want %q", b, "x "+tt.want)
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	m := New("CHECKOUT", "feature", "f1", "count", "3", "big", "18446744073709551615", "bad", "x1", "neg", "-2")
	if got := m.Get("feature"); got != "f1" {
		t.Errorf("Get(feature) = %q, want f1", got)
	}
	if got, ok := m.Lookup("nope"); ok || got != "" {
		t.Errorf("Lookup(nope) = %q, %v, want \"\", false", got, ok)
	}
	if n, err := m.Int("count"); n != 3 || err != nil {
		t.Errorf("Int(count) = %d, %v, want 3, nil", n, err)
	}
	if n, err := m.Uint64("big"); n != 1<<64-1 || err != nil {
		t.Errorf("Uint64(big) = %d, %v", n, err)
	}
	errTests := []struct {
		key   string
		uint  bool
		want  string
		cause error
	}{
		{"nope", false, "wire: CHECKOUT: missing argument nope=", ErrMissingArg},
		{"nope", true, "wire: CHECKOUT: missing argument nope=", ErrMissingArg},
		{"bad", false, `wire: CHECKOUT: argument bad="x1": invalid syntax`, strconv.ErrSyntax},
		{"neg", true, `wire: CHECKOUT: argument neg="-2": invalid syntax`, strconv.ErrSyntax},
		{"big", false, `wire: CHECKOUT: argument big="18446744073709551615": value out of range`, strconv.ErrRange},
	}
	for _, tt := range errTests {
		var err error
		if tt.uint {
			_, err = m.Uint64(tt.key)
		} else {
			_, err = m.Int(tt.key)
		}
		var ae *ArgError
		if !errors.As(err, &ae) || ae.Key != tt.key || err.Error() != tt.want || !errors.Is(err, tt.cause) {
			t.Errorf("%s (uint %v): got %v, want %q wrapping %v", tt.key, tt.uint, err, tt.want, tt.cause)
		}
	}

	m.Set("count", "4")
	m.SetInt("handle", 17)
	m.Del("big")
	m.Del("nope")
	want := "CHECKOUT feature=f1 count=4 bad=x1 neg=-2 handle=17"
	if got := m.String(); got != want {
		t.Errorf("after Set/SetInt/Del: %s, want %s", got, want)
	}
	c := m.Clone()
	c.Set("feature", "other")
	if m.Get("feature") != "f1" {
		t.Error("Clone shares Args with the original")
	}
	if !m.Has("neg") || m.Has("big") {
		t.Error("Has is wrong")
	}
}

func TestNewOddPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New with an odd number of strings did not panic")
		}
	}()
	New("A", "k")
}

func TestValidate(t *testing.T) {
	tests := []struct {
		m    Message
		want string // "" for valid
	}{
		{New("A", "k", "any \" value\n"), ""},
		{New("a"), `wire: invalid verb "a"`},
		{New(""), `wire: invalid verb ""`},
		{New("A B"), `wire: invalid verb "A B"`},
		{New("A", "K", "1"), `wire: A: invalid key "K"`},
		{New("A", "k x", "1"), `wire: A: invalid key "k x"`},
		{New("A", "k=1 j", "1"), `wire: A: invalid key "k=1 j"`},
		{New("A", "", "1"), `wire: A: invalid key ""`},
		{New("A", "k", "1", "k", "2"), `wire: A: duplicate key k`},
	}
	for _, tt := range tests {
		err := tt.m.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Validate(%#v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

package wire

import (
	"errors"
	"testing"
)

// FuzzParseMessage checks that ParseMessage never panics, that its errors
// are *ProtocolErrors with a column inside the line, and that a parsed
// message prints as a valid line that parses back to the same message (and
// prints the same again). Seeds: testdata/fuzz/FuzzParseMessage.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		"INFO",
		"HELLO proto=1 vendor=demo role=client user=alice host=ws1 display=/dev/pts/1 pid=4242",
		"CHECKOUT feature=f1 version=1.0 count=1 linger=0",
		`ERR code=-15 minor=570 text="Cannot connect to license server system." detail="111 \"Connection refused\""`,
		`A k="\x00\n\r\t\\\"" j= l=""`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		m, err := ParseMessage(line)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseMessage(%q) error %T %v, want *ProtocolError", line, err, err)
			}
			if pe.Col < 1 || pe.Col > len(line)+1 {
				t.Fatalf("ParseMessage(%q): column %d outside the line", line, pe.Col)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("ParseMessage(%q) = %#v, which does not validate: %v", line, m, err)
		}
		s := m.String()
		if n := lineLen(m); n != len(s) {
			t.Fatalf("lineLen = %d, len(String()) = %d for %q", n, len(s), s)
		}
		m2, err := ParseMessage(s)
		if err != nil {
			t.Fatalf("ParseMessage(%q) -> %q, which does not parse: %v", line, s, err)
		}
		if !m2.Equal(m) {
			t.Fatalf("round trip of %q through %q: got %#v, want %#v", line, s, m2, m)
		}
		if s2 := m2.String(); s2 != s {
			t.Fatalf("String not stable: %q then %q", s, s2)
		}
	})
}

// FuzzFormat checks that any value, written by AppendTo, reads back as
// itself.
func FuzzFormat(f *testing.F) {
	for _, s := range []string{"", "x", "a b", `"`, `\`, "\x00\xff", "k=v", "é\n"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, v1, v2 string) {
		m := New("CHECKOUT", "a", v1, "b", v2)
		s := m.String()
		if n := lineLen(m); n != len(s) {
			t.Fatalf("lineLen = %d, len(String()) = %d for %q", n, len(s), s)
		}
		got, err := ParseMessage(s)
		if err != nil {
			t.Fatalf("ParseMessage(%q): %v", s, err)
		}
		if !got.Equal(m) {
			t.Fatalf("got %#v, want %#v", got, m)
		}
	})
}

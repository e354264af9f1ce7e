package wire

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestProtocolDocExamples parses every example line of docs/protocol.md: the
// lines of its example sessions ("> " client, "< " server) must parse and be
// written in canonical form, and the garbage examples' ERR replies must be
// what the server sends.
func TestProtocolDocExamples(t *testing.T) {
	f, err := os.Open("../docs/protocol.md")
	if err != nil {
		t.Skipf("docs not available: %v", err)
	}
	defer f.Close()
	var prev string
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "> ") && !strings.HasPrefix(l, "< ") {
			continue
		}
		line := l[2:]
		m, err := ParseMessage(line)
		switch {
		case l[0] == '<' && strings.HasPrefix(line, "ERR code=-12 minor=901"):
			// The reply to the bad request just before it.
			_, perr := ParseMessage(prev)
			if got := ErrorReply(perr).String(); got != line {
				t.Errorf("reply to %q:\n got %s\nwant %s", prev, got, line)
			}
		case err != nil && l[0] == '<':
			t.Errorf("server line does not parse: %s: %v", line, err)
		}
		if err == nil {
			n++
			if got := m.String(); got != line {
				t.Errorf("not canonical:\n got %s\nwant %s", got, line)
			}
			if e := ErrorFromMessage(m); m.Verb == VerbErr && e.Text != Text(e.Code) {
				t.Errorf("%s: text differs from the table's %q", line, Text(e.Code))
			}
		}
		prev = line
	}
	if n < 20 {
		t.Errorf("found only %d example lines", n)
	}
}

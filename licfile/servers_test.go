package licfile

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSplitServerLines(t *testing.T) {
	for _, tc := range []struct {
		name, in, servers, rest string
	}{
		{"none", "VENDOR demo\nFEATURE f demo 1.0 permanent 1 SIGN=0\n", "", "VENDOR demo\nFEATURE f demo 1.0 permanent 1 SIGN=0\n"},
		{"three", "SERVER a ANY 1\nserver b ANY 1\r\nSERVER c ANY 1\nVENDOR demo\n",
			"SERVER a ANY 1\nserver b ANY 1\r\nSERVER c ANY 1\n", "VENDOR demo\n"},
		{"continued", "# head\nSERVER a \\\n  ANY 1\n\nFEATURE f demo 1.0 \\\n permanent 1 SIGN=0",
			"SERVER a \\\n  ANY 1\n", "# head\n\nFEATURE f demo 1.0 \\\n permanent 1 SIGN=0"},
		{"a comment inside a continuation belongs to the line", "SERVER a \\\n# x\nVENDOR demo\n", "SERVER a \\\n# x\n", "VENDOR demo\n"},
		{"server-like word", "SERVERS a\nUSE_SERVER\n", "", "SERVERS a\nUSE_SERVER\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, r := SplitServerLines([]byte(tc.in))
			assert.Equal(t, tc.servers, string(s))
			assert.Equal(t, tc.rest, string(r))
			assert.Equal(t, len(tc.in), len(s)+len(r), "every byte is kept")
		})
	}
}

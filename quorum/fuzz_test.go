package quorum

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzMessageFromFields feeds peer lines to the parser: it must never
// panic, and what it accepts must print and parse back to the same message.
// Seeds are in testdata/fuzz/FuzzMessageFromFields.
func FuzzMessageFromFields(f *testing.F) {
	f.Add("PING from=0 to=1 at=42 inc=7 master=0 serving=1 links=111 hosts=a,b,c sd=x ld=-")
	f.Add("PONG from=1 to=0 at=40 inc=9 echo=42 einc=7 grant=1 master=0 serving=1 links=110 hosts=a,b,c sd=- ld=-")
	f.Add("PING")
	f.Add("PING from=-1 links=1111 hosts=a,b")
	f.Fuzz(func(t *testing.T, line string) {
		m, err := MessageFromFields(strings.Fields(line))
		if err != nil {
			return
		}
		again, err := MessageFromFields(m.Fields())
		if err != nil {
			t.Fatalf("printed form %q does not parse: %v", m.Fields(), err)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, again)
		}
	})
}

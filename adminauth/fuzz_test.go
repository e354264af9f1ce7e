package adminauth

import (
	"testing"
)

// FuzzServerExchange feeds garbage to the server's side of a proof: it
// must answer with an error, never panic, and never accept.
func FuzzServerExchange(f *testing.F) {
	cred, err := NewCredential(LevelFull, "pw", MinIterations)
	if err != nil {
		f.Fatal(err)
	}
	lookup := func(level string) (Credential, bool) { return cred, level == LevelFull }
	f.Add("n,,n=full,r=abcdef", "c=biws,r=abcdef,p=AAAA")
	f.Add("n,,n=restricted,r=x", "")
	f.Add("y,,n=full,r=1", "c=eSws,r=1,p=")
	f.Add("p=tls-unique,,n=full,r=z", "c=biws")
	f.Fuzz(func(t *testing.T, first, final string) {
		ex, _, err := Begin(lookup, first)
		if err != nil {
			return
		}
		if _, err := ex.Finish(final); err == nil {
			t.Fatalf("a proof without the password was accepted: %q %q", first, final)
		}
	})
}

package enrol

import "testing"

func FuzzDecode(f *testing.F) {
	for _, e := range []Entry{
		{Proposer: 1, Files: []File{{Name: "a.lic", Doc: doc("FEATURE f demo 1.0 permanent 1 SIGN=0\n")}}},
		{Init: true, Files: []File{{Name: "b.lic", Removed: true}}},
		{Notice: "n"},
	} {
		b, _ := Encode(e)
		f.Add(b)
	}
	f.Add([]byte("E\x01{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Encode(e)
		if err != nil {
			t.Fatalf("a decoded entry does not encode: %v", err)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		s := NewSet()
		_, _, _ = s.Apply(e)
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	s := NewSet()
	_, _, _ = s.Apply(Entry{Files: []File{{Name: "a.lic", Doc: doc("x")}}})
	b, _ := EncodeSnapshot([]byte{2, 1}, s)
	f.Add(b)
	f.Add([]byte{'S', 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, set, err := DecodeSnapshot(b)
		if err == nil && set == nil {
			t.Fatal("nil set without an error")
		}
	})
}

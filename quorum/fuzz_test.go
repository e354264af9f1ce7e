package quorum

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

var genCorpus = flag.Bool("gen-corpus", false,
	"rewrite testdata/fuzz/FuzzUnmarshalEnvelope from envelopes of a simulated run")

// FuzzUnmarshalEnvelope feeds frames to the envelope decoder, which reads
// what peers send: it must never panic, every error must wrap ErrMalformed,
// and what it accepts must encode again, decode to the same envelope, and
// encode to the same bytes. The seed corpus (testdata/fuzz/...) holds real
// envelopes of a simulated triad: votes, pre-votes, appends with entries,
// heartbeats with ReadIndex contexts, rejections, a snapshot, a leadership
// transfer; TestGenerateFuzzCorpus -gen-corpus rewrites it.
func FuzzUnmarshalEnvelope(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{envelopeVersion, 0, 1, 7})
	f.Add([]byte{envelopeVersion, 0, 1, 7, 0, 0, 0, 0, 0})
	f.Add([]byte{envelopeVersion, 0, 1, 7 | flagRebuilding, 5, 0x81, 0x80, 0x80, 0x80, 0x80, 0x33, 0, 0, 0})
	f.Add([]byte{envelopeVersion, 0, 1, 0x40, 5, 0, 0, 0, 0})
	f.Add([]byte{envelopeVersion, 2, 2, 7, 0, 0, 0, 0, 0})
	f.Add([]byte{envelopeVersion + 1, 0, 1, 7, 0, 0, 0, 0, 0})
	f.Add([]byte{envelopeVersion - 1, 0, 1, 7, 0, 0, 0, 0})
	f.Add([]byte{envelopeVersion, 0, 1, 7, 0, 0, 0, 0, 2, 0, 0})
	f.Add([]byte{envelopeVersion, 0, 1, 7, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEnvelope(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if e.From < 0 || e.From >= Size || e.To < 0 || e.To >= Size || e.From == e.To {
			t.Fatalf("accepted an envelope from %d to %d", e.From, e.To)
		}
		b1, err := e.Marshal()
		if err != nil {
			t.Fatalf("a decoded envelope does not encode: %v", err)
		}
		e2, err := UnmarshalEnvelope(b1)
		if err != nil {
			t.Fatalf("a re-encoded envelope does not decode: %v", err)
		}
		if e2.From != e.From || e2.To != e.To || e2.Links != e.Links || e2.ServerDigest != e.ServerDigest ||
			e2.LicenseDigest != e.LicenseDigest || e2.Term != e.Term || e2.Rebuilding != e.Rebuilding || e2.WallClock != e.WallClock ||
			len(e2.Msgs) != len(e.Msgs) {
			t.Fatalf("round trip changed the envelope:\n%+v\n%+v", e, e2)
		}
		for i := range e.Msgs {
			if e.Msgs[i].Type != e2.Msgs[i].Type || e.Msgs[i].Term != e2.Msgs[i].Term ||
				e.Msgs[i].Index != e2.Msgs[i].Index || len(e.Msgs[i].Entries) != len(e2.Msgs[i].Entries) {
				t.Fatalf("round trip changed message %d:\n%v\n%v", i, e.Msgs[i], e2.Msgs[i])
			}
		}
		b2, err := e2.Marshal()
		if err != nil {
			t.Fatalf("a twice-decoded envelope does not encode: %v", err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not stable:\n%x\n%x", b1, b2)
		}
	})
}

// TestEnvelopeRoundTrip checks Marshal and UnmarshalEnvelope on every
// envelope of a simulated run with faults and a snapshot, and that the
// decoder refuses every truncation of them.
func TestEnvelopeRoundTrip(t *testing.T) {
	setRandom(t, 3)
	s := newSim(t, simOpts{compactEvery: 4, compactKeep: 1, loss: 0.1})
	kinds := map[raftpb.MessageType]int{}
	checked := 0
	s.tap = func(e Envelope, b []byte) {
		got, err := UnmarshalEnvelope(b)
		if err != nil {
			t.Fatalf("UnmarshalEnvelope(Marshal(%+v)): %v", e, err)
		}
		again, err := got.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs (%v):\n%x\n%x", err, b, again)
		}
		for _, m := range got.Msgs {
			kinds[m.Type]++
		}
		if checked%97 == 0 { // every truncation of some of them is refused
			for k := range len(b) {
				if _, err := UnmarshalEnvelope(b[:k]); !errors.Is(err, ErrMalformed) {
					t.Fatalf("a truncation to %d of %d bytes decodes (err %v)", k, len(b), err)
				}
			}
		}
		checked++
	}
	s.hook = func() {
		if r := s.servingRanks(); len(r) == 1 && s.stats.steps%7 == 0 {
			_, _ = s.propose(r[0], s.stats.steps%3 != 0)
		}
	}
	if _, ok := s.runUntil(100, func() bool { return len(s.servingRanks()) == 1 && s.stats.acked > 8 }); !ok {
		t.Fatal("no master granting")
	}
	old := s.servingRanks()[0]
	s.crash(old)
	s.run(40)
	s.restart(old) // catches up from the new master's snapshot
	s.run(60)
	if len(s.violations) > 0 {
		t.Fatal(strings.Join(s.violations, "\n"))
	}
	if r := s.servingRanks(); len(r) == 1 {
		p, m := s.m[old].tab, s.m[r[0]].tab
		if p.applied != m.applied || p.granted != m.granted || p.last != m.last || p.lastTerm != m.lastTerm {
			t.Errorf("the restarted %s's table %+v, the master's %+v", testHosts[old], p, m)
		}
	}
	for _, k := range []raftpb.MessageType{raftpb.MsgApp, raftpb.MsgAppResp, raftpb.MsgHeartbeat,
		raftpb.MsgHeartbeatResp, raftpb.MsgPreVote, raftpb.MsgVote, raftpb.MsgSnap} {
		if kinds[k] == 0 {
			t.Errorf("no %v in %d envelopes (kinds %v)", k, checked, kinds)
		}
	}
	t.Logf("%d envelopes, messages by kind %v", checked, kinds)
}

// TestGenerateFuzzCorpus writes the seed corpus of FuzzUnmarshalEnvelope
// when -gen-corpus is given: one envelope of each raft message type seen in
// a simulated run (with PRIMARY_IS_MASTER, faults, and a snapshot).
func TestGenerateFuzzCorpus(t *testing.T) {
	if !*genCorpus {
		t.Skip("rewrites testdata/fuzz/FuzzUnmarshalEnvelope with -gen-corpus")
	}
	setRandom(t, 5)
	seen := map[string][]byte{}
	s := newSim(t, simOpts{pim: true, compactEvery: 4, compactKeep: 1, license: "lic"})
	s.tap = func(e Envelope, b []byte) {
		key := "keepalive"
		if len(e.Msgs) > 0 {
			var types []string
			for _, m := range e.Msgs {
				k := m.Type.String()
				if m.Reject {
					k += "-reject"
				}
				if len(m.Context) > 0 {
					k += "-ctx"
				}
				if len(m.Entries) > 0 {
					k += "-entries"
				}
				if !slices.Contains(types, k) {
					types = append(types, k)
				}
			}
			slices.Sort(types)
			key = fmt.Sprint(types)
		}
		if _, ok := seen[key]; !ok {
			seen[key] = b
		}
	}
	s.hook = func() {
		if r := s.servingRanks(); len(r) == 1 && s.stats.steps%5 == 0 {
			_, _ = s.propose(r[0], true)
			_, _ = s.propose(r[0], false)
		}
	}
	s.runUntil(100, func() bool { return len(s.servingRanks()) == 1 })
	s.run(20)
	s.crash(Primary) // failover, then a PRIMARY_IS_MASTER handback
	s.run(40)
	s.restart(Primary)
	s.run(40)
	s.isolate(Tertiary)
	s.run(30)
	s.healAll()
	s.run(30)
	dir := filepath.Join("testdata", "fuzz", "FuzzUnmarshalEnvelope")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		name := fmt.Sprintf("seed-%02d", i)
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(seen[k])) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s (%d bytes)", name, k, len(seen[k]))
	}
}

package table

import (
	"testing"

	"github.com/lmtriad/lmtriad/pool"
)

// benchGrant is one Grant delta of a realistic holder and the tables it
// continues.
func benchGrant(b *testing.B) (*Tables, pool.Delta) {
	m := scenario(b, "demo")
	h := m.checkout(client(20, "zoe"), "viewer", "", 1, at(40*60*1e9))
	d := m.deltas[len(m.deltas)-1]
	if d.Kind != pool.Grant || d.Holder.Handle != h.Handle {
		b.Fatalf("last delta %v, want the Grant", d.Kind)
	}
	tb := New(demoOpts)
	if err := tb.Apply(Entry{Vendor: "demo", Deltas: m.deltas[:len(m.deltas)-1]}); err != nil {
		b.Fatal(err)
	}
	return tb, d
}

func BenchmarkEncodeEntry(b *testing.B) {
	_, d := benchGrant(b)
	e := Entry{Proposer: 1, Vendor: "demo", Gen: 4, Deltas: []pool.Delta{d}}
	var n int
	b.ReportAllocs()
	for b.Loop() {
		out, err := EncodeEntry(e)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.ReportMetric(float64(n), "bytes/entry")
}

func BenchmarkDecodeEntry(b *testing.B) {
	_, d := benchGrant(b)
	blob, err := EncodeEntry(Entry{Proposer: 1, Vendor: "demo", Gen: 4, Deltas: []pool.Delta{d}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEntry(blob); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEntryV1 decodes the same entry written in version 1 (JSON),
// as a log written before version 2 is.
func BenchmarkDecodeEntryV1(b *testing.B) {
	_, d := benchGrant(b)
	blob, err := encodeEntryV1(Entry{Proposer: 1, Vendor: "demo", Gen: 4, Deltas: []pool.Delta{d}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEntry(blob); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEntryBatch decodes an entry of 64 Grants; ns/op is per entry.
func BenchmarkDecodeEntryBatch(b *testing.B) {
	_, d := benchGrant(b)
	e := Entry{Proposer: 1, Vendor: "demo", Gen: 4}
	for range 64 {
		e.Deltas = append(e.Deltas, d)
		d.Seq++
		d.Holder.Handle++
	}
	blob, err := EncodeEntry(e)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ReportMetric(float64(len(blob)), "bytes/entry")
	for b.Loop() {
		if _, err := DecodeEntry(blob); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApply applies one Grant delta per entry: a new handle each time,
// in an uncounted pool (Apply trusts the master and re-checks no capacity).
func BenchmarkApply(b *testing.B) {
	tb, d := benchGrant(b)
	e := Entry{Proposer: 1, Vendor: "demo", Gen: 4, Deltas: []pool.Delta{d}}
	b.ReportAllocs()
	for b.Loop() {
		if err := tb.Apply(e); err != nil {
			b.Fatal(err)
		}
		d.Seq++
		d.Holder.Handle++
		e.Deltas = []pool.Delta{d}
	}
}

// BenchmarkDecodeApply is what a member does per committed entry of one Grant.
func BenchmarkDecodeApply(b *testing.B) {
	tb, d := benchGrant(b)
	var blobs [][]byte
	for range 1 << 16 {
		blob, err := EncodeEntry(Entry{Proposer: 1, Vendor: "demo", Gen: 4, Deltas: []pool.Delta{d}})
		if err != nil {
			b.Fatal(err)
		}
		blobs = append(blobs, blob)
		d.Seq++
		d.Holder.Handle++
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(blobs) {
			b.StopTimer()
			tb, _ = benchGrant(b)
			i = 0
			b.StartTimer()
		}
		e, err := DecodeEntry(blobs[i])
		if err != nil {
			b.Fatal(err)
		}
		if err := tb.Apply(e); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkMarshal encodes tables of 1000 holders (a raft snapshot).
func BenchmarkMarshal(b *testing.B) {
	tb, d := benchGrant(b)
	for range 1000 {
		if err := tb.Apply(Entry{Vendor: "demo", Deltas: []pool.Delta{d}}); err != nil {
			b.Fatal(err)
		}
		d.Seq++
		d.Holder.Handle++
		d.Holder.Session++
	}
	var n int
	b.ReportAllocs()
	for b.Loop() {
		out, err := tb.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.ReportMetric(float64(n), "bytes")
}

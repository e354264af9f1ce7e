package table

import (
	"bytes"
	"encoding/binary"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEncodingIsStableV2 pins the version 2 bytes of the entry
// TestEncodingIsStable pins in version 1: a change here is a new format
// version, not an edit. Both decode to the same entry, offsets included.
func TestEncodingIsStableV2(t *testing.T) {
	e := stableEntry()
	b, err := EncodeEntry(e)
	require.NoError(t, err)
	t1 := "\x01\x80\x83\xe2\x83\r\x00\x00"              // 2025-06-01T12:00:00Z
	t2 := "\x01\x80\x83\xe2\x83\r\xc0\x84=\xc0p"        // 2025-06-01T14:00:00.001+02:00
	t3 := "\x01\x82\x83\xe2\x83\r\x00\x00"              // 2025-06-01T12:00:01Z
	want := "\x01\x02" + "\x02" + "\x04demo" + "\x05" + // header, prop, vnd, gen
		"\x03" + // 3 deltas
		// seq 1, Reload, no reason, t, no holder, has pools, 1 pool
		"\x01\x04\x00" + t1 + "\x00" + "\x01" + "\x01" +
		"\x01k\x01f\x04demo\x031.0" + "\xdc\x1f\x18>" + "\v31-dec-2030" + "\x00\x00\x00" + // key..exp, expt, start
		"\x04" + "\x00" + "\x00\x00\x02UH" + "\x02" + "\x01\x05a.lic\x06" + // n, flags, hid vstr dup, od, lines
		// seq 2, Grant, no reason, t, holder of 44 bytes, has nothing
		"\x02\x01\x00" + t2 + "\x2c" +
		"\x01\x01f\x01k\x031.0\x00" + "\x02" + "\t" + "\x04r\xe9mi\x01h\x00" + "T" + // hnd..ver, n, sess, user host disp, pid
		"\x01\b10.0.0.1" + "\x00" + t2 + "\x00" + // ids, vdef, start, seen
		"\x00" +
		// seq 3, Release, checkin, t, holder of 16 bytes, has nothing
		"\x03\x03\x01" + t3 + "\x10" + "\x01\x00\x01k" + strings.Repeat("\x00", 12) + "\x00"
	assert.Equal(t, want, string(b))
	got, err := DecodeEntry([]byte(want))
	require.NoError(t, err)
	requireSame(t, e, got)
	assert.Equal(t, "r\xe9mi", got.Deltas[1].Holder.User)
	assert.Equal(t, "2025-06-01T14:00:00.001+02:00", got.Deltas[1].Holder.Start.Format(time.RFC3339Nano))

	v1, err := encodeEntryV1(e)
	require.NoError(t, err)
	got1, err := DecodeEntry(v1)
	require.NoError(t, err)
	requireSameExactly(t, got1, got)
}

// A version 2 blob, built field by field.
func u(v uint64) []byte       { return binary.AppendUvarint(nil, v) }
func z(v int64) []byte        { return binary.AppendVarint(nil, v) }
func s2(s string) []byte      { return append(u(uint64(len(s))), s...) }
func cat(ps ...[]byte) []byte { return bytes.Join(ps, nil) }
func v2(ps ...[]byte) []byte {
	return cat(append([][]byte{{formatEntry, entryVersion}}, ps...)...)
}

// wtime is a non-zero time field.
func wtime(sec int64, nsec uint64, off int64) []byte { return cat(u(1), z(sec), u(nsec), z(off)) }

// rec is a holder record (length-prefixed).
func rec(ps ...[]byte) []byte { b := cat(ps...); return cat(u(uint64(len(b))), b) }

func TestDecodeMalformedV2(t *testing.T) {
	head := cat(u(0), s2("v"), u(0)) // prop, vnd, gen
	// one delta: seq 1, the given kind and reason, time, holder, has, rest
	delta := func(k, r uint64, tm, h, has []byte, rest ...[]byte) []byte {
		return cat(u(1), u(k), u(r), tm, h, has, cat(rest...))
	}
	grant := func(tm []byte) []byte { return v2(head, u(1), delta(1, 0, tm, u(0), u(0))) }
	emptyHolder := func(tail ...[]byte) []byte {
		// the 15 fields of a zero holder but its handle
		return cat(u(1), bytes.Repeat([]byte{0}, 14), cat(tail...))
	}
	zeroSec := time.Time{}.Unix()
	// a pool: key name vnd ver, exp, expt, start, n, flags, hid vstr dup, od, lines
	pool1 := cat(s2("k"), s2("f"), s2("v"), s2("1"), z(2030), z(12), z(31), s2(""), z(0), z(0), z(0), z(1),
		u(poolUncounted|poolUserBased|poolHostBased), s2(""), s2(""), s2(""), z(0), u(0))
	// the same borrowable for 72 hours
	pool1b := cat(s2("k"), s2("f"), s2("v"), s2("1"), z(2030), z(12), z(31), s2(""), z(0), z(0), z(0), z(1),
		u(poolAll), z(72), s2(""), s2(""), s2(""), z(0), u(0))

	// The valid blobs the bad ones are made from decode.
	for _, b := range [][]byte{
		grant(u(0)),
		grant(wtime(zeroSec+1, 0, 0)),
		grant(wtime(maxLocalSec, 999999999, 0)),
		grant(wtime(minLocalSec+3600, 0, -3600)),
		v2(head, u(1), delta(1, 0, u(0), rec(emptyHolder()), u(0))),
		v2(head, u(1), delta(4, 0, u(0), u(0), u(hasPools), u(1), pool1)),
		v2(head, u(1), delta(4, 0, u(0), u(0), u(hasPools), u(1), pool1b)),
		v2(head, u(1), delta(4, 0, u(0), u(0), u(hasPools|hasMoves), u(1), pool1, u(1), u(1), s2("k"), s2("1"))),
	} {
		_, err := DecodeEntry(b)
		require.NoError(t, err, "%q", b)
	}

	tests := []struct {
		name string
		blob []byte
		want string // in the error text
	}{
		{"header only", v2(), "byte 2: prop: truncated"},
		{"no vendor", v2(u(0), s2(""), u(0), u(0)), "without a vendor"},
		{"proposer out of range", v2(u(math.MaxInt+1), s2("v"), u(0), u(0)), "prop 9223372036854775808 out of range"},
		{"varint overflow", v2(bytes.Repeat([]byte{0xff}, 11)), "prop: varint overflows 64 bits"},
		{"no delta count", v2(head), "d: truncated"},
		{"trailing byte", cat(grant(u(0)), []byte{0}), "1 bytes of trailing data"},
		{"too many deltas", v2(head, u(1<<40), make([]byte, 100)), "d: 1099511627776 items, more than the 100 bytes left can hold"},
		{"deltas past the end", v2(head, u(3), make([]byte, 17)), "more than the 17 bytes left"},
		{"vendor past the end", v2(u(0), u(1<<62), []byte("v")), "vnd: length 4611686018427387904, more than the 1 bytes left"},
		{"unknown kind", v2(head, u(1), delta(10, 0, u(0), u(0), u(0))), "delta 0 (seq 1): table: malformed data: unknown delta kind 10"},
		{"zero kind", v2(head, u(1), delta(0, 0, u(0), u(0), u(0))), "unknown delta kind 0"},
		{"huge kind", v2(head, u(1), delta(1<<32+1, 0, u(0), u(0), u(0))), "unknown delta kind"},
		{"unknown reason", v2(head, u(1), delta(3, 7, u(0), u(0), u(0))), "unknown release reason 7"},
		{"time flag", grant(u(2)), "t: time flag 2, want 0 or 1"},
		{"nanoseconds", grant(wtime(zeroSec+1, 1e9, 0)), "t: 1000000000 nanoseconds"},
		{"offset seconds", grant(wtime(zeroSec+1, 0, 30)), "UTC offset 30 s"},
		{"offset a day", grant(wtime(zeroSec+1, 0, 86400)), "UTC offset 86400 s"},
		{"year 10000", grant(wtime(maxLocalSec+1, 0, 0)), "outside years 0-9999"},
		{"year 10000 by offset", grant(wtime(maxLocalSec, 0, 60)), "outside years 0-9999"},
		{"year -1 by offset", grant(wtime(minLocalSec, 0, -60)), "outside years 0-9999"},
		{"seconds overflow", grant(wtime(math.MaxInt64, 0, 60)), "outside years 0-9999"},
		{"written zero time", grant(wtime(zeroSec, 0, 0)), "the zero time is written as flag 0"},
		{"truncated time", v2(head, u(1), u(1), u(1), u(0), u(1), z(zeroSec+1)), "t: truncated"},
		{"holder past the end", v2(head, u(1), delta(1, 0, u(0), u(100), u(0))), "h: length 100, more than the 1 bytes left"},
		{"holder record short", v2(head, u(1), delta(1, 0, u(0), rec(u(1), s2("f")), u(0))), "truncated"},
		{"holder string past its record", v2(head, u(1), delta(1, 0, u(0), cat(u(3), u(1), u(5), []byte("f")), u(0), make([]byte, 8))),
			"feat: length 5, more than the 1 bytes left"},
		{"holder record too long", v2(head, u(1), delta(1, 0, u(0), rec(emptyHolder(s2("s"), s2("10.0.0.1"), s2(""), u(0), z(0), wtime(zeroSec+1, 0, 0), u(0))), u(0))), "1 bytes left at the end of the holder record"},
		{"zero borrow end written", v2(head, u(1), delta(1, 0, u(0), rec(emptyHolder(s2("s"), s2("10.0.0.1"), s2(""), u(0), z(0), u(0))), u(0))), "bu: zero, but present"},
		{"empty tail written", v2(head, u(1), delta(1, 0, u(0), rec(emptyHolder(s2(""), s2(""), s2(""), u(0), z(0))), u(0))), "ip..lng: all empty, but present"},
		{"tail truncated", v2(head, u(1), delta(1, 0, u(0), rec(emptyHolder(s2("s"), s2("10.0.0.1"))), u(0))), "proj: truncated"},
		{"empty secret, nothing after", v2(head, u(1), delta(1, 0, u(0), rec(emptyHolder(s2(""))), u(0))), "sec: empty, but present"},
		{"empty secret written", v2(head, u(1), delta(1, 0, u(0), rec(emptyHolder(u(0))), u(0))), "sec: empty, but present"},
		{"secret past its record", v2(head, u(1), delta(1, 0, u(0), rec(emptyHolder(u(9), []byte("s"))), u(0))), "sec: length 9"},
		{"too many host ids", v2(head, u(1), delta(1, 0, u(0), rec(u(1), make([]byte, 10), u(9)), u(0))), "ids: 9 items"},
		{"unknown has bit", v2(head, u(1), delta(4, 0, u(0), u(0), u(8))), "has: unknown bits 0x8"},
		{"zero code", v2(head, u(1), delta(9, 0, u(0), u(0), u(hasCode), u(0))), "code: 0, but marked present"},
		{"no pools", v2(head, u(1), delta(4, 0, u(0), u(0), u(hasPools), u(0))), "pools: none, but marked present"},
		{"no moves", v2(head, u(1), delta(4, 0, u(0), u(0), u(hasMoves), u(0))), "moves: none, but marked present"},
		{"too many pools", v2(head, u(1), delta(4, 0, u(0), u(0), u(hasPools), u(2), pool1)), "pools: 2 items"},
		{"pool flags", v2(head, u(1), delta(4, 0, u(0), u(0), u(hasPools), u(1),
			cat(s2("k"), s2("f"), s2("v"), s2("1"), z(0), z(0), z(0), s2(""), z(0), z(0), z(0), z(1), u(16), make([]byte, 8)))),
			"pool flags: unknown bits 0x10"},
		{"zero borrow", v2(head, u(1), delta(4, 0, u(0), u(0), u(hasPools), u(1),
			cat(s2("k"), s2("f"), s2("v"), s2("1"), z(0), z(0), z(0), s2(""), z(0), z(0), z(0), z(1), u(8), z(0), make([]byte, 8)))),
			"bor: zero, but flagged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeEntry(tt.blob)
			require.ErrorIs(t, err, ErrMalformed)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestDecodeAllocationBound: whatever counts and lengths a blob claims,
// decoding it allocates at most a fixed multiple of its size.
func TestDecodeAllocationBound(t *testing.T) {
	const n = 1 << 20
	pad := make([]byte, n)
	head := cat(u(0), s2("v"), u(0))
	blobs := map[string][]byte{
		"deltas":   v2(head, u(n/minDelta), pad),
		"host ids": v2(head, u(1), u(1), u(1), u(0), u(0), u(n), u(1), make([]byte, 10), u(n-20), pad),
		"pools":    v2(head, u(1), u(1), u(4), u(0), u(0), u(0), u(hasPools), u(n/minPool), pad),
		"moves":    v2(head, u(1), u(1), u(4), u(0), u(0), u(0), u(hasMoves), u(n/minMove), pad),
		"string":   v2(u(0), u(n), pad),
	}
	// The least of a few runs: MemStats counts every goroutine of the test
	// binary, and another one allocating meanwhile must not fail this.
	allocated := func(b []byte) (uint64, error) {
		least := uint64(math.MaxUint64)
		var err error
		for range 5 {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err = DecodeEntry(b)
			runtime.ReadMemStats(&after)
			least = min(least, after.TotalAlloc-before.TotalAlloc)
		}
		return least, err
	}
	for name, b := range blobs {
		t.Run(name, func(t *testing.T) {
			alloc, err := allocated(b)
			require.ErrorIs(t, err, ErrMalformed)
			t.Logf("%d bytes allocated for %d bytes of input (%.1f×)", alloc, len(b), float64(alloc)/float64(len(b)))
			assert.Less(t, alloc, uint64(100*len(b)))
		})
	}
	// Claims the bytes left cannot hold fail before allocating.
	for _, b := range [][]byte{
		v2(head, u(1<<62), pad[:64]),
		v2(u(0), u(1<<62), pad[:64]),
		v2(head, u(1), u(1), u(1), u(0), u(0), u(1<<40), pad[:64]),
	} {
		alloc, err := allocated(b)
		require.ErrorIs(t, err, ErrMalformed)
		assert.Less(t, alloc, uint64(4096), "%d bytes allocated", alloc)
	}
}

// TestDecodeV2Sharing: a holder's strings come out of one allocation per
// holder, not out of the blob (which the caller may reuse) nor out of the
// other deltas' holders.
func TestDecodeV2Sharing(t *testing.T) {
	h := pool.Holder{Handle: 1, Feature: "f", PoolKey: "k", User: "u", HostIDs: []string{"id"}}
	b, err := EncodeEntry(Entry{Vendor: "v", Deltas: []pool.Delta{
		{Seq: 1, Kind: pool.Grant, Holder: h},
		{Seq: 2, Kind: pool.Reload, Pools: []licfile.Pool{{Key: "k", Lines: []licfile.Pos{{File: "a", Line: 1}}}},
			Moves: []pool.Move{{Handle: 1, PoolKey: "k", PoolVersion: "2"}}},
	}})
	require.NoError(t, err)
	e, err := DecodeEntry(b)
	require.NoError(t, err)
	clear(b)
	assert.Equal(t, h, e.Deltas[0].Holder)
	assert.Equal(t, "a", e.Deltas[1].Pools[0].Lines[0].File)
	assert.Equal(t, "2", e.Deltas[1].Moves[0].PoolVersion)
	assert.Equal(t, "v", e.Vendor)
}

package table

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTrip encodes e, decodes it and checks the result is e; it does the
// same with version 1, and checks that both versions decode to the same
// entry, time offsets included. It returns the version 2 blob.
func roundTrip(t *testing.T, e Entry) []byte {
	t.Helper()
	b, err := EncodeEntry(e)
	require.NoError(t, err)
	require.Equal(t, []byte{formatEntry, entryVersion}, b[:2])
	got, err := DecodeEntry(b)
	require.NoError(t, err)
	requireSame(t, e, got)

	b1, err := encodeEntryV1(e)
	require.NoError(t, err)
	require.Equal(t, []byte{formatEntry, entryVersion1}, b1[:2])
	got1, err := DecodeEntry(b1)
	require.NoError(t, err)
	requireSameExactly(t, got1, got)
	return b
}

// requireSameExactly fails unless a and b are the same entry with their
// times in the same offsets.
func requireSameExactly(t testing.TB, a, b Entry) {
	t.Helper()
	requireSame(t, a, b)
	require.Equal(t, entryTimes(a), entryTimes(b))
}

// entryTimes is every time of e as RFC 3339 text in its own offset.
func entryTimes(e Entry) []string {
	var out []string
	for _, d := range e.Deltas {
		for _, tm := range []time.Time{d.Time, d.Holder.Start, d.Holder.LastSeen} {
			out = append(out, tm.Format(time.RFC3339Nano))
		}
	}
	return out
}

func TestRoundTripDeltaKinds(t *testing.T) {
	m := scenario(t, "demo")
	find := func(kind pool.DeltaKind, reason pool.ReleaseReason, moves bool) pool.Delta {
		for _, d := range m.deltas {
			if d.Kind == kind && d.Reason == reason && (len(d.Moves) > 0) == moves {
				return d
			}
		}
		t.Fatalf("scenario has no %v delta with reason %v (moves %v)", kind, reason, moves)
		return pool.Delta{}
	}
	tests := []struct {
		name  string
		delta pool.Delta
		check func(t *testing.T, d pool.Delta)
	}{
		{"grant", find(pool.Grant, pool.NoReason, false), func(t *testing.T, d pool.Delta) {
			assert.NotEmpty(t, d.Holder.HostIDs)
			assert.False(t, d.Holder.Start.IsZero())
		}},
		{"rebind", find(pool.Rebind, pool.NoReason, false), nil},
		{"release checkin", find(pool.Release, pool.Checkin, false), nil},
		{"release session closed", find(pool.Release, pool.SessionClosed, false), nil},
		{"release timeout", find(pool.Release, pool.Timeout, false), nil},
		{"release removed", find(pool.Release, pool.Removed, false), nil},
		{"release reread", find(pool.Release, pool.Reread, false), nil},
		{"reload with pools", m.deltas[0], func(t *testing.T, d pool.Delta) {
			require.Len(t, d.Pools, 4)
			// licfile.Pools sorts by name: mesher, solver 1.0, solver 2.0, viewer.
			assert.Equal(t, "café", d.Pools[0].VendorString)
			assert.Equal(t, licfile.Date{Year: 2025, Month: time.January, Day: 1}, d.Pools[0].Start)
			assert.Equal(t, licfile.Date{Year: 2031, Month: time.January, Day: 1}, d.Pools[0].Expiry)
			assert.Equal(t, licfile.Date{Year: 2030, Month: time.December, Day: 31}, d.Pools[1].Expiry)
			assert.Len(t, d.Pools[2].Lines, 2, "two INCREMENT lines in one pool")
			assert.Equal(t, licfile.Pos{File: "/etc/lic/a.lic", Line: 5}, d.Pools[2].Lines[1])
			assert.Equal(t, 2, d.Pools[2].Overdraft, "OVERDRAFT adds up too")
			assert.True(t, d.Pools[3].Uncounted)
		}},
		{"reload with moves", find(pool.Reload, pool.NoReason, true), func(t *testing.T, d pool.Delta) {
			require.Len(t, d.Moves, 1)
			assert.Equal(t, "2.0", d.Moves[0].PoolVersion)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := roundTrip(t, Entry{Proposer: 2, Vendor: "demo", Gen: 3, Deltas: []pool.Delta{tt.delta}})
			got, err := DecodeEntry(b)
			require.NoError(t, err)
			require.Len(t, got.Deltas, 1)
			assert.True(t, got.Deltas[0].Time.Equal(tt.delta.Time))
			if tt.check != nil {
				tt.check(t, got.Deltas[0])
			}
			// The JSON uses the format's own names, not pool's Go field
			// names; the binary has no names.
			b1, err := encodeEntryV1(Entry{Proposer: 2, Vendor: "demo", Gen: 3, Deltas: []pool.Delta{tt.delta}})
			require.NoError(t, err)
			for _, goName := range []string{"Seq", "Holder", "PoolKey", "Handle", "Pools", "Lines"} {
				assert.NotContains(t, string(b1), `"`+goName+`"`)
				assert.NotContains(t, string(b), goName)
			}
			assert.Less(t, len(b), len(b1), "version 2 is the smaller")
		})
	}
	// The whole scenario in one entry.
	roundTrip(t, Entry{Proposer: 0, Vendor: "demo", Deltas: m.deltas})
}

func TestRoundTripTimes(t *testing.T) {
	tests := []struct {
		name       string
		tm         time.Time
		keepOffset bool
	}{
		{"zero", time.Time{}, true},
		{"UTC", t0, true},
		{"nanoseconds", t0.Add(123456789), true},
		{"east", time.Date(2025, 6, 1, 17, 30, 0, 1, time.FixedZone("IST", 5*3600+1800)), true},
		{"west", time.Date(2025, 6, 1, 7, 0, 0, 0, time.FixedZone("EST", -5*3600)), true},
		{"local", t0.Local(), true},
		{"monotonic", time.Now(), true},
		{"offset with seconds", time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 1172)), false},
		{"year 1", time.Time{}.Add(time.Nanosecond), true},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), true},
		{"zero in a zone", time.Time{}.In(time.FixedZone("X", 3600)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := pool.Delta{Seq: 1, Kind: pool.Grant, Time: tt.tm,
				Holder: pool.Holder{Handle: 1, Start: tt.tm, LastSeen: tt.tm}}
			b := roundTrip(t, Entry{Vendor: "v", Deltas: []pool.Delta{d}})
			got, err := DecodeEntry(b)
			require.NoError(t, err)
			g := got.Deltas[0]
			for _, tm := range []time.Time{g.Time, g.Holder.Start, g.Holder.LastSeen} {
				assert.True(t, tm.Equal(tt.tm), "%v != %v", tm, tt.tm)
				assert.Equal(t, tt.tm.IsZero(), tm.IsZero())
				if tt.keepOffset {
					assert.Equal(t, tt.tm.Format(time.RFC3339Nano), tm.Format(time.RFC3339Nano))
				}
			}
		})
	}
}

func TestEncodeRefuses(t *testing.T) {
	grant := func(mod func(*pool.Delta)) []pool.Delta {
		d := pool.Delta{Seq: 1, Kind: pool.Grant, Time: t0, Holder: pool.Holder{Handle: 1}}
		mod(&d)
		return []pool.Delta{d}
	}
	tests := []struct {
		name  string
		entry Entry
		want  string
	}{
		{"no vendor", Entry{}, "without a vendor"},
		{"negative proposer", Entry{Vendor: "v", Proposer: -1}, "proposer -1"},
		{"unknown kind", Entry{Vendor: "v", Deltas: grant(func(d *pool.Delta) { d.Kind = 10 })}, "unknown delta kind"},
		{"zero kind", Entry{Vendor: "v", Deltas: grant(func(d *pool.Delta) { d.Kind = 0 })}, "unknown delta kind"},
		{"unknown reason", Entry{Vendor: "v", Deltas: grant(func(d *pool.Delta) { d.Reason = 7 })}, "unknown release reason"},
		{"year 10000", Entry{Vendor: "v", Deltas: grant(func(d *pool.Delta) { d.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) })}, "year"},
		{"year -1 start", Entry{Vendor: "v", Deltas: grant(func(d *pool.Delta) { d.Holder.Start = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) })}, "year"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodeEntry(tt.entry)
			require.ErrorIs(t, err, ErrMalformed)
			assert.Contains(t, err.Error(), tt.want)
			// Apply refuses the same entries, before applying anything.
			if tt.entry.Vendor != "" && tt.entry.Proposer >= 0 {
				tb := New(demoOpts)
				require.ErrorIs(t, tb.Apply(tt.entry), ErrMalformed)
				assert.Zero(t, tb.Seq(tt.entry.Vendor))
			}
		})
	}
}

func TestRoundTripStrings(t *testing.T) {
	for _, s := range []string{"", "plain", "café", "日本", "\x00", "\x00abc", "a\x00b", "\xe9t\xe9", "\xff", "\u0000" + "AAAA", "trailing\xc3"} {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			h := pool.Holder{Handle: 1, Feature: s, PoolKey: s, PoolVersion: s, Version: s, User: s, Host: s,
				Display: s, HostIDs: []string{s, s}, VendorDef: s}
			p := licfile.Pool{Key: s, Name: s, Vendor: s, Version: s, ExpiryText: s, HostID: s,
				VendorString: s, DupGroup: s, Lines: []licfile.Pos{{File: s, Line: 1}}}
			vendor := s
			if vendor == "" {
				vendor = "v"
			}
			roundTrip(t, Entry{Vendor: vendor, Deltas: []pool.Delta{
				{Seq: 1, Kind: pool.Reload, Pools: []licfile.Pool{p}, Moves: []pool.Move{{Handle: 1, PoolKey: s, PoolVersion: s}}},
				{Seq: 2, Kind: pool.Grant, Holder: h},
			}})
			b, err := EncodeSnapshot(pool.Snapshot{Seq: 2, NextHandle: 2, Pools: []licfile.Pool{p}, Holders: []pool.Holder{h}})
			require.NoError(t, err)
			assert.True(t, json.Valid(b[2:]))
			snap, err := DecodeSnapshot(b)
			require.NoError(t, err)
			assert.Equal(t, s, snap.Holders[0].User)
			assert.Equal(t, s, snap.Pools[0].Lines[0].File)
		})
	}
}

// fill sets every field of v, recursively, to a non-zero value, so that a
// field added to a pool or licfile type later and not mapped by the codec
// makes the round trip fail.
func fill(t *testing.T, v reflect.Value, n *int) {
	*n++
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(t0.Add(time.Duration(*n) * time.Millisecond).In(time.FixedZone("", 3600*(*n%5)))))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d-é", *n))
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*n))
	case reflect.Uint64, reflect.Uint32, reflect.Uint:
		v.SetUint(uint64(*n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Struct:
		for i := range v.NumField() {
			require.True(t, v.Type().Field(i).IsExported(), "%s.%s", v.Type(), v.Type().Field(i).Name)
			fill(t, v.Field(i), n)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(t, v.Index(0), n)
		fill(t, v.Index(1), n)
	default:
		t.Fatalf("fill: no rule for %s (%s): teach the codec and this test about it", v.Type(), v.Kind())
	}
}

func TestEveryFieldCovered(t *testing.T) {
	n := 0
	var d pool.Delta
	fill(t, reflect.ValueOf(&d).Elem(), &n)
	d.Kind, d.Reason = pool.Release, pool.Timeout
	require.False(t, reflect.ValueOf(d.Holder).IsZero())
	roundTrip(t, Entry{Proposer: 1, Vendor: "v", Gen: 1, Deltas: []pool.Delta{d}})
	d.Kind, d.Reason = pool.Linger, pool.SessionClosed
	roundTrip(t, Entry{Proposer: 1, Vendor: "v", Gen: 1, Deltas: []pool.Delta{d}})
	d.Kind, d.Reason = pool.Release, pool.LingerEnd
	roundTrip(t, Entry{Proposer: 1, Vendor: "v", Gen: 1, Deltas: []pool.Delta{d}})
	d.Kind, d.Reason = pool.Enqueue, pool.NoReason
	roundTrip(t, Entry{Proposer: 1, Vendor: "v", Gen: 1, Deltas: []pool.Delta{d}})
	d.Kind, d.Reason, d.Code = pool.Dequeue, pool.Reread, pool.CodeNoFeature
	roundTrip(t, Entry{Proposer: 1, Vendor: "v", Gen: 1, Deltas: []pool.Delta{d}})

	d.Kind, d.Reason = pool.NamedUse, pool.NoReason
	roundTrip(t, Entry{Proposer: 1, Vendor: "v", Gen: 1, Deltas: []pool.Delta{d}})
	d.Kind = pool.Recycle
	roundTrip(t, Entry{Proposer: 1, Vendor: "v", Gen: 1, Deltas: []pool.Delta{d}})
	for _, r := range []pool.ReleaseReason{pool.BorrowEnd, pool.Returned} {
		d.Kind, d.Reason = pool.Release, r
		roundTrip(t, Entry{Proposer: 1, Vendor: "v", Gen: 1, Deltas: []pool.Delta{d}})
	}

	var s pool.Snapshot
	fill(t, reflect.ValueOf(&s).Elem(), &n)
	require.NotEmpty(t, s.Named)
	b, err := EncodeSnapshot(s)
	require.NoError(t, err)
	got, err := DecodeSnapshot(b)
	require.NoError(t, err)
	requireSame(t, s, got)

	var e Entry
	fill(t, reflect.ValueOf(&e).Elem(), &n)
	for i := range e.Deltas {
		e.Deltas[i].Kind, e.Deltas[i].Reason = pool.Grant, pool.NoReason
	}
	roundTrip(t, e)
}

func TestSnapshotRoundTrip(t *testing.T) {
	m := scenario(t, "demo")
	for _, snap := range []pool.Snapshot{m.s.Snapshot(), pool.New(nil, demoOpts).Snapshot(), {}} {
		b, err := EncodeSnapshot(snap)
		require.NoError(t, err)
		require.Equal(t, []byte{formatSnapshot, snapshotVersion}, b[:2])
		got, err := DecodeSnapshot(b)
		require.NoError(t, err)
		requireSame(t, snap, got)
		assert.NotNil(t, got.Pools)
		assert.NotNil(t, got.Holders)
		// The vendor daemon restores from it.
		r, err := pool.Restore(got, demoOpts)
		require.NoError(t, err)
		requireSame(t, snap.Holders, r.Snapshot().Holders)
	}
}

func TestDecodeMalformed(t *testing.T) {
	entry, err := encodeEntryV1(Entry{Proposer: 1, Vendor: "demo", Deltas: scenario(t, "demo").deltas})
	require.NoError(t, err)
	entry2, err := EncodeEntry(Entry{Proposer: 1, Vendor: "demo", Deltas: scenario(t, "demo").deltas})
	require.NoError(t, err)
	tables := New(demoOpts)
	require.NoError(t, tables.Apply(scenario(t, "demo").entries(100)[0]))
	tablesBlob, err := tables.Marshal()
	require.NoError(t, err)
	snap, err := EncodeSnapshot(tables.Snapshot("demo"))
	require.NoError(t, err)

	hdr := func(f, v byte, js string) []byte { return append([]byte{f, v}, js...) }
	e := func(js string) []byte { return hdr(formatEntry, entryVersion1, js) }
	tests := []struct {
		name string
		blob []byte
		want string // in the error text
	}{
		{"nil", nil, "too short"},
		{"one byte", []byte{formatEntry}, "too short"},
		{"header only", []byte{formatEntry, entryVersion1}, "EOF"},
		{"unknown format", hdr(9, 1, `{}`), "unknown format 9"},
		{"tables as entry", tablesBlob, "got tables (format 2)"},
		{"snapshot as entry", snap, "got snapshot (format 3)"},
		{"version 3", hdr(formatEntry, 3, `{"vnd":"v"}`), "entry version 3 unknown (this build reads versions 1 and 2)"},
		{"JSON as version 2", hdr(formatEntry, 2, `{"vnd":"v"}`), "more than the"},
		{"version 0", hdr(formatEntry, 0, `{"vnd":"v"}`), "entry version 0 unknown"},
		{"JSON without header", []byte(`{"vnd":"v"}`), "unknown format 123"},
		{"garbage", e("\xff\xfe\x00garbage"), "invalid"},
		{"null", e(`null`), "null"},
		{"array", e(`[]`), "cannot unmarshal"},
		{"no vendor", e(`{"prop":1}`), "without a vendor"},
		{"negative proposer", e(`{"vnd":"v","prop":-1}`), "proposer -1"},
		{"unknown field", e(`{"vnd":"v","extra":1}`), "unknown field"},
		{"Go field name", e(`{"Vendor":"v"}`), "unknown field"},
		{"trailing data", e(`{"vnd":"v"} {}`), "trailing data"},
		{"trailing garbage", e(`{"vnd":"v"}x`), "trailing data"},
		{"unknown kind", e(`{"vnd":"v","d":[{"seq":1,"k":10}]}`), "unknown delta kind 10"},
		{"missing kind", e(`{"vnd":"v","d":[{"seq":1}]}`), "unknown delta kind 0"},
		{"unknown reason", e(`{"vnd":"v","d":[{"seq":1,"k":3,"r":7}]}`), "unknown release reason 7"},
		{"negative seq", e(`{"vnd":"v","d":[{"seq":-1,"k":1}]}`), "cannot unmarshal"},
		{"seq overflow", e(`{"vnd":"v","d":[{"seq":18446744073709551616,"k":1}]}`), "cannot unmarshal"},
		{"float count", e(`{"vnd":"v","d":[{"seq":1,"k":1,"h":{"n":1.5}}]}`), "cannot unmarshal"},
		{"bad time", e(`{"vnd":"v","d":[{"seq":1,"k":1,"t":"yesterday"}]}`), "time \"yesterday\""},
		{"time without zone", e(`{"vnd":"v","d":[{"seq":1,"k":1,"t":"2025-06-01T12:00:00"}]}`), "time"},
		{"written zero time", e(`{"vnd":"v","d":[{"seq":1,"k":1,"t":"0001-01-01T00:00:00Z"}]}`), "zero time"},
		{"bad start", e(`{"vnd":"v","d":[{"seq":1,"k":1,"h":{"start":"x"}}]}`), "start"},
		{"short date", e(`{"vnd":"v","d":[{"seq":1,"k":4,"pools":[{"exp":[2030,12]}]}]}`), "want [year, month, day]"},
		{"empty date", e(`{"vnd":"v","d":[{"seq":1,"k":4,"pools":[{"start":[]}]}]}`), "want [year, month, day]"},
		{"bad raw string", e(`{"vnd":"\u0000%%%"}`), "raw string"},
		{"raw plain string", e(`{"vnd":"\u0000YWJj"}`), "holds plain text"},
		{"raw empty string", e(`{"vnd":"\u0000"}`), "holds plain text"},
		{"raw host id", e(`{"vnd":"v","d":[{"seq":1,"k":1,"h":{"ids":["\u0000!"]}}]}`), "raw string"},
		{"truncated", entry[:len(entry)/2], "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeEntry(tt.blob)
			require.ErrorIs(t, err, ErrMalformed)
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	// Every prefix of a valid blob of each kind is refused.
	for _, b := range [][]byte{entry, entry2, tablesBlob, snap} {
		for n := range len(b) {
			_, err1 := DecodeEntry(b[:n])
			_, err2 := Unmarshal(b[:n], demoOpts)
			_, err3 := DecodeSnapshot(b[:n])
			for _, err := range []error{err1, err2, err3} {
				require.ErrorIs(t, err, ErrMalformed, "prefix of %d bytes", n)
			}
		}
	}

	// Each decoder names the blob it found and an unknown version.
	_, err = DecodeSnapshot(entry)
	assert.ErrorContains(t, err, "want snapshot (format 3), got entry (format 1)")
	_, err = DecodeSnapshot(entry2)
	assert.ErrorContains(t, err, "want snapshot (format 3), got entry (format 1)")
	_, err = Unmarshal(entry2, demoOpts)
	assert.ErrorContains(t, err, "want tables (format 2), got entry (format 1)")
	_, err = Unmarshal(snap, demoOpts)
	assert.ErrorContains(t, err, "want tables (format 2), got snapshot (format 3)")
	_, err = Unmarshal(hdr(formatTables, 7, `{}`), demoOpts)
	assert.ErrorContains(t, err, "tables version 7 unknown")
	_, err = DecodeSnapshot(hdr(formatSnapshot, 200, `{}`))
	assert.ErrorContains(t, err, "snapshot version 200 unknown")
	_, err = DecodeSnapshot(hdr(formatSnapshot, snapshotVersion, `null`))
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = Unmarshal(hdr(formatTables, tablesVersion, `null`), demoOpts)
	assert.ErrorIs(t, err, ErrMalformed)
}

// stableEntry is the entry whose encodings are pinned.
func stableEntry() Entry {
	loc := time.FixedZone("CEST", 2*3600)
	return Entry{Proposer: 2, Vendor: "demo", Gen: 5, Deltas: []pool.Delta{
		{Seq: 1, Kind: pool.Reload, Time: t0, Pools: []licfile.Pool{{
			Key: "k", Name: "f", Vendor: "demo", Version: "1.0", Expiry: licfile.Date{Year: 2030, Month: 12, Day: 31},
			ExpiryText: "31-dec-2030", Count: 2, Overdraft: 1, DupGroup: "UH", Lines: []licfile.Pos{{File: "a.lic", Line: 3}},
		}}},
		{Seq: 2, Kind: pool.Grant, Time: t0.In(loc).Add(time.Millisecond), Holder: pool.Holder{
			Handle: 1, Feature: "f", PoolKey: "k", PoolVersion: "1.0", Count: 1, Session: 9, User: "r\xe9mi",
			Host: "h", PID: 42, HostIDs: []string{"10.0.0.1"}, Start: t0.In(loc).Add(time.Millisecond),
		}},
		{Seq: 3, Kind: pool.Release, Time: t0.Add(time.Second), Reason: pool.Checkin, Holder: pool.Holder{Handle: 1, PoolKey: "k"}},
	}}
}

// TestEncodingIsStable pins the v1 bytes of a small entry: a change here is
// a new format version, not an edit. Version 1 is no longer written, but
// logs hold it: DecodeEntry must still read these bytes the same.
func TestEncodingIsStable(t *testing.T) {
	e := stableEntry()
	b, err := encodeEntryV1(e)
	require.NoError(t, err)
	want := "\x01\x01" + `{"prop":2,"vnd":"demo","gen":5,"d":[` +
		`{"seq":1,"k":4,"t":"2025-06-01T12:00:00Z","pools":[{"key":"k","name":"f","vnd":"demo","ver":"1.0","exp":[2030,12,31],"expt":"31-dec-2030","n":2,"dup":"UH","od":1,"lines":[{"file":"a.lic","line":3}]}]},` +
		`{"seq":2,"k":1,"t":"2025-06-01T14:00:00.001+02:00","h":{"hnd":1,"feat":"f","pk":"k","pv":"1.0","n":1,"sess":9,"user":"\u0000cultaQ==","host":"h","pid":42,"ids":["10.0.0.1"],"start":"2025-06-01T14:00:00.001+02:00"}},` +
		`{"seq":3,"k":3,"t":"2025-06-01T12:00:01Z","h":{"hnd":1,"pk":"k"},"r":1}]}`
	assert.Equal(t, want, string(b))
	got, err := DecodeEntry([]byte(want))
	require.NoError(t, err)
	requireSame(t, e, got)
	assert.Equal(t, "r\xe9mi", got.Deltas[1].Holder.User)
}

func TestErrorsAreDistinct(t *testing.T) {
	assert.False(t, errors.Is(ErrMalformed, ErrNotContinuation))
	assert.True(t, strings.HasPrefix(ErrMalformed.Error(), "table: "))
	assert.True(t, bytes.HasPrefix([]byte(ErrNotContinuation.Error()), []byte("table: ")))
}

// TestRoundTripPolicyFields: the holder fields of the options-file policy
// (IP, Project, LingerUntil, Linger), alone or with a secret, the Linger
// delta kind and the LingerEnd reason survive both entry versions and the
// snapshot; a holder without them encodes as before (TestEncodingIsStable*).
func TestRoundTripPolicyFields(t *testing.T) {
	base := pool.Holder{Handle: 7, Feature: "f", PoolKey: "k", Count: 1, User: "u", Start: t0}
	with := func(mod func(h *pool.Holder)) pool.Holder { h := base; mod(&h); return h }
	until := t0.Add(90 * time.Second).In(time.FixedZone("", 3600))
	holders := map[string]pool.Holder{
		"ip only":      with(func(h *pool.Holder) { h.IP = "10.1.2.3" }),
		"project only": with(func(h *pool.Holder) { h.Project = "apollo" }),
		"linger only":  with(func(h *pool.Holder) { h.LingerUntil, h.Linger = until, 90*time.Second }),
		"secret and all": with(func(h *pool.Holder) {
			h.Secret, h.IP, h.Project, h.LingerUntil, h.Linger = "s", "::ffff:10.0.0.1", "p", until, time.Minute
		}),
		"secret only":       with(func(h *pool.Holder) { h.Secret = "s" }),
		"borrow only":       with(func(h *pool.Holder) { h.BorrowUntil = until }),
		"secret and borrow": with(func(h *pool.Holder) { h.Secret, h.BorrowUntil = "s", until }),
		"negative duration": with(func(h *pool.Holder) { h.Linger = -1 }),
	}
	for name, h := range holders {
		t.Run(name, func(t *testing.T) {
			for _, d := range []pool.Delta{
				{Seq: 1, Kind: pool.Grant, Time: t0, Holder: h},
				{Seq: 2, Kind: pool.Linger, Time: t0, Holder: h, Reason: pool.Checkin},
				{Seq: 3, Kind: pool.Release, Time: t0, Holder: h, Reason: pool.LingerEnd},
			} {
				roundTrip(t, Entry{Vendor: "v", Deltas: []pool.Delta{d}})
			}
			snap := pool.Snapshot{Seq: 3, NextHandle: 8, Pools: []licfile.Pool{}, Holders: []pool.Holder{h}}
			b, err := EncodeSnapshot(snap)
			require.NoError(t, err)
			got, err := DecodeSnapshot(b)
			require.NoError(t, err)
			requireSame(t, snap, got)
		})
	}
}

// TestNamedUserWireForm pins the kind numbers of the named-user deltas (7
// NamedUse, 8 Recycle) in both entry versions, and that a snapshot without
// named users encodes as before (no "named" field).
func TestNamedUserWireForm(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for kind, wire := range map[pool.DeltaKind]byte{pool.NamedUse: 7, pool.Recycle: 8} {
		e := Entry{Vendor: "v", Deltas: []pool.Delta{{Seq: 1, Kind: kind, Time: at, Holder: pool.Holder{PoolKey: "k", Feature: "f", User: "ann"}}}}
		b := roundTrip(t, e)
		require.Equal(t, wire, b[8], "v2 kind byte after the header, prop, vnd, gen, count and seq")
		b1, err := encodeEntryV1(e)
		require.NoError(t, err)
		require.Contains(t, string(b1), fmt.Sprintf(`"k":%d`, wire))
	}
	b, err := EncodeSnapshot(pool.Snapshot{Seq: 1, NextHandle: 1})
	require.NoError(t, err)
	require.NotContains(t, string(b), "named")
	snap := pool.Snapshot{Seq: 1, NextHandle: 1, Named: []pool.NamedUser{{PoolKey: "k", User: "ann", LastUsed: at}}}
	b, err = EncodeSnapshot(snap)
	require.NoError(t, err)
	require.Contains(t, string(b), `"named":[{"pk":"k","user":"ann","lu":"2026-01-02T03:04:05Z"}]`)
	got, err := DecodeSnapshot(b)
	require.NoError(t, err)
	requireSame(t, snap.Named, got.Named)
}

// A pool that is not borrowable and a holder that is not borrowed encode
// byte for byte as before borrowing; the new fields round-trip in both
// versions.
func TestBorrowFieldsOptional(t *testing.T) {
	p := licfile.Pool{Key: "k", Name: "f", Vendor: "v", Version: "1.0", Count: 2}
	h := pool.Holder{Handle: 1, Feature: "f", PoolKey: "k", Count: 1, Start: t0, Secret: "s"}
	e := Entry{Vendor: "v", Deltas: []pool.Delta{{Seq: 1, Kind: pool.Reload, Time: t0, Pools: []licfile.Pool{p}},
		{Seq: 2, Kind: pool.Grant, Time: t0, Holder: h}}}
	plain, err := EncodeEntry(e)
	require.NoError(t, err)
	plain1, err := encodeEntryV1(e)
	require.NoError(t, err)
	assert.NotContains(t, string(plain1), `"bor"`)
	assert.NotContains(t, string(plain1), `"bu"`)

	e.Deltas[0].Pools[0].Borrow, e.Deltas[1].Holder.BorrowUntil = 168, t0.Add(time.Hour)
	borrowed, err := EncodeEntry(e)
	require.NoError(t, err)
	assert.Greater(t, len(borrowed), len(plain))
	roundTrip(t, e)
	b1, err := encodeEntryV1(e)
	require.NoError(t, err)
	got, err := DecodeEntry(b1)
	require.NoError(t, err)
	requireSame(t, e, got)
}

package table

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// interleave merges the entries of several vendors, round robin.
func interleave(lists ...[]Entry) []Entry {
	var out []Entry
	for i := 0; ; i++ {
		more := false
		for _, l := range lists {
			if i < len(l) {
				out = append(out, l[i])
				more = true
			}
		}
		if !more {
			return out
		}
	}
}

// viaCodec returns the entries as another member sees them: encoded by the
// proposer, decoded from the raft log.
func viaCodec(t *testing.T, es []Entry) []Entry {
	t.Helper()
	out := make([]Entry, len(es))
	for i, e := range es {
		b, err := EncodeEntry(e)
		require.NoError(t, err)
		out[i], err = DecodeEntry(b)
		require.NoError(t, err)
	}
	return out
}

func applyAll(t *testing.T, tb *Tables, es []Entry) {
	t.Helper()
	for _, e := range es {
		require.NoError(t, tb.Apply(e), "entry of %s at seq %d", e.Vendor, e.Deltas[0].Seq)
	}
}

func marshal(t *testing.T, tb *Tables) []byte {
	t.Helper()
	b, err := tb.Marshal()
	require.NoError(t, err)
	return b
}

func TestApplyDeterministic(t *testing.T) {
	demo, other := scenario(t, "demo"), scenario(t, "other")
	entries := interleave(demo.entries(3), other.entries(5))

	members := []struct {
		name    string
		entries []Entry
	}{
		{"direct", entries},
		{"decoded", viaCodec(t, entries)},
		{"decoded again", viaCodec(t, entries)},
	}
	var blobs [][]byte
	for _, mb := range members {
		tb := New(demoOpts)
		applyAll(t, tb, mb.entries)
		for _, m := range []*master{demo, other} {
			assert.Equal(t, m.s.Seq(), tb.Seq(m.vendor), mb.name)
			assert.Equal(t, m.s.Holders(), tb.Holders(m.vendor), mb.name)
			requireMasterState(t, m, tb.Snapshot(m.vendor))
		}
		blobs = append(blobs, marshal(t, tb))
	}
	for i := 1; i < len(blobs); i++ {
		assert.Equal(t, string(blobs[0]), string(blobs[i]), "member %q", members[i].name)
	}
	// Batching does not matter either.
	one := New(demoOpts)
	applyAll(t, one, interleave(other.entries(1), demo.entries(1)))
	assert.Equal(t, string(blobs[0]), string(marshal(t, one)))
}

func TestApplyNotContinuation(t *testing.T) {
	m := scenario(t, "demo")
	ds := m.deltas
	const applied = 5 // the table is at Seq 5 before each bad entry
	tests := []struct {
		name   string
		deltas []pool.Delta
	}{
		{"skips the next", ds[applied+1 : applied+3]},
		{"repeats the last", ds[applied-1 : applied+1]},
		{"starts over", ds[0:2]},
		{"repeats inside", []pool.Delta{ds[applied], ds[applied], ds[applied+1]}},
		{"skips inside", []pool.Delta{ds[applied], ds[applied+2]}},
		{"goes back inside", []pool.Delta{ds[applied], ds[applied+1], ds[applied]}},
		{"seq 0", []pool.Delta{{Seq: 0, Kind: pool.Grant}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := New(demoOpts)
			require.NoError(t, tb.Apply(Entry{Vendor: "demo", Deltas: ds[:applied]}))
			before := marshal(t, tb)
			err := tb.Apply(Entry{Vendor: "demo", Deltas: tt.deltas})
			require.ErrorIs(t, err, ErrNotContinuation)
			assert.Contains(t, err.Error(), `vendor "demo" at seq 5`)
			assert.Equal(t, uint64(applied), tb.Seq("demo"))
			assert.Equal(t, string(before), string(marshal(t, tb)), "table changed")
			// The right entry still applies.
			require.NoError(t, tb.Apply(Entry{Vendor: "demo", Deltas: ds[applied:]}))
			requireMasterState(t, m, tb.Snapshot("demo"))
		})
	}
	// On a vendor never seen, the first delta must be Seq 1.
	tb := New(demoOpts)
	require.ErrorIs(t, tb.Apply(Entry{Vendor: "demo", Deltas: ds[1:3]}), ErrNotContinuation)
	assert.Zero(t, tb.Seq("demo"))
	assert.Equal(t, string(marshal(t, New(demoOpts))), string(marshal(t, tb)))
}

func TestApplyStopsAtADeltaThatDoesNotFit(t *testing.T) {
	m := scenario(t, "demo")
	grant := m.deltas[1]
	require.Equal(t, pool.Grant, grant.Kind)
	bad := pool.Delta{Seq: 3, Kind: pool.Release, Time: at(time.Minute), Reason: pool.Checkin, Holder: pool.Holder{Handle: 999}}
	after := pool.Delta{Seq: 4, Kind: pool.Grant, Time: at(time.Minute), Holder: pool.Holder{Handle: 50, PoolKey: grant.Holder.PoolKey, Count: 1}}
	entry := Entry{Vendor: "demo", Deltas: []pool.Delta{m.deltas[0], grant, bad, after}}

	var blobs []string
	for _, e := range []Entry{entry, viaCodec(t, []Entry{entry})[0], entry} {
		tb := New(demoOpts)
		err := tb.Apply(e)
		require.ErrorIs(t, err, pool.ErrDiverged)
		assert.NotErrorIs(t, err, ErrNotContinuation)
		assert.Contains(t, err.Error(), "delta 2 of 4 (seq 3, Release) not applied, 2 applied")
		assert.Equal(t, uint64(2), tb.Seq("demo"), "the prefix stays applied")
		assert.Equal(t, 1, tb.Holders("demo"))
		blobs = append(blobs, string(marshal(t, tb)))
		// The next entry continues after the prefix.
		require.ErrorIs(t, tb.Apply(Entry{Vendor: "demo", Deltas: []pool.Delta{after}}), ErrNotContinuation)
	}
	assert.Equal(t, blobs[0], blobs[1])
	assert.Equal(t, blobs[0], blobs[2])

	// A first delta that does not fit leaves a new vendor unknown.
	tb := New(demoOpts)
	require.ErrorIs(t, tb.Apply(Entry{Vendor: "new", Deltas: []pool.Delta{{Seq: 1, Kind: pool.Grant, Holder: pool.Holder{Handle: 1, PoolKey: "nope"}}}}), pool.ErrDiverged)
	assert.Equal(t, string(marshal(t, New(demoOpts))), string(marshal(t, tb)))
}

func TestApplyBadEntriesDoNotPanic(t *testing.T) {
	ps := pools(t, "a.lic", licenseA)
	tests := []struct {
		name   string
		deltas []pool.Delta
	}{
		{"rebind unknown", []pool.Delta{{Seq: 1, Kind: pool.Rebind, Holder: pool.Holder{Handle: 1}}}},
		{"release unknown", []pool.Delta{{Seq: 1, Kind: pool.Release, Reason: pool.Timeout, Holder: pool.Holder{Handle: 1}}}},
		{"grant twice", []pool.Delta{
			{Seq: 1, Kind: pool.Reload, Pools: ps},
			{Seq: 2, Kind: pool.Grant, Holder: pool.Holder{Handle: 1, PoolKey: ps[0].Key, Session: 1}},
			{Seq: 3, Kind: pool.Grant, Holder: pool.Holder{Handle: 1, PoolKey: ps[0].Key, Session: 1}},
		}},
		{"reload orphans a holder", []pool.Delta{
			{Seq: 1, Kind: pool.Reload, Pools: ps},
			{Seq: 2, Kind: pool.Grant, Holder: pool.Holder{Handle: 1, PoolKey: ps[0].Key}},
			{Seq: 3, Kind: pool.Reload},
		}},
		{"odd values", []pool.Delta{
			{Seq: 1, Kind: pool.Reload, Pools: []licfile.Pool{
				{Key: "k", Name: "f", Version: "x.y.z", Count: -5, Overdraft: -3, HostID: `" = INTERNET=*.*`, DupGroup: "ZZZ",
					Expiry: licfile.Date{Year: -7, Month: 99, Day: -1}, Start: licfile.Date{Year: 1 << 40, Month: -1}},
				{Key: "k", Name: "dup key"},
			}},
			{Seq: 2, Kind: pool.Grant, Holder: pool.Holder{Handle: ^uint64(0), PoolKey: "k", Count: -1 << 62}},
			{Seq: 3, Kind: pool.Grant, Holder: pool.Holder{Handle: 0, PoolKey: "k", Count: 1 << 62}},
			{Seq: 4, Kind: pool.Rebind, Holder: pool.Holder{Handle: 0, Session: ^uint64(0)}},
			{Seq: 5, Kind: pool.Release, Holder: pool.Holder{Handle: ^uint64(0)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var blobs []string
			for range 3 {
				tb := New(demoOpts)
				_ = tb.Apply(Entry{Vendor: "v", Deltas: tt.deltas})
				b := marshal(t, tb)
				_, err := Unmarshal(b, demoOpts)
				require.NoError(t, err)
				blobs = append(blobs, string(b))
			}
			assert.Equal(t, blobs[0], blobs[1])
			assert.Equal(t, blobs[0], blobs[2])
		})
	}
}

func TestEmptyEntryAndUnknownVendor(t *testing.T) {
	tb := New(pool.Options{FirstHandle: 100})
	require.NoError(t, tb.Apply(Entry{Vendor: "demo"}))
	assert.Zero(t, tb.Seq("demo"))
	assert.Zero(t, tb.Holders("demo"))
	snap := tb.Snapshot("demo")
	assert.Zero(t, snap.Seq)
	assert.Empty(t, snap.Pools)
	assert.Empty(t, snap.Holders)
	assert.Equal(t, uint64(100), snap.NextHandle, "an empty table as pool.New makes it")
	assert.Equal(t, "\x02\x01{}", string(marshal(t, tb)))
}

func TestMarshalRoundTrip(t *testing.T) {
	demo, other := scenario(t, "demo"), scenario(t, "zz\xff vendor")
	de, oe := demo.entries(4), other.entries(4)
	head := interleave(de[:3], oe[:2])
	tail := interleave(de[3:], oe[2:])

	tb := New(demoOpts)
	applyAll(t, tb, head)
	require.Positive(t, tb.Holders("demo"))
	b := marshal(t, tb)
	require.Equal(t, []byte{formatTables, tablesVersion}, b[:2])

	back, err := Unmarshal(b, demoOpts)
	require.NoError(t, err)
	assert.Equal(t, string(b), string(marshal(t, back)))
	for _, v := range []string{"demo", other.vendor} {
		assert.Equal(t, tb.Seq(v), back.Seq(v))
		assert.Equal(t, tb.Holders(v), back.Holders(v))
		requireSame(t, tb.Snapshot(v), back.Snapshot(v))
	}

	// A member restored from the raft snapshot carries on like the others.
	applyAll(t, tb, tail)
	applyAll(t, back, tail)
	assert.Equal(t, string(marshal(t, tb)), string(marshal(t, back)))
	requireMasterState(t, demo, back.Snapshot("demo"))
	requireMasterState(t, other, back.Snapshot(other.vendor))

	// And the vendor daemon gets its table.
	sb, err := EncodeSnapshot(back.Snapshot("demo"))
	require.NoError(t, err)
	snap, err := DecodeSnapshot(sb)
	require.NoError(t, err)
	st, err := pool.Restore(snap, demoOpts)
	require.NoError(t, err)
	requireMasterState(t, demo, st.Snapshot())
	require.Positive(t, st.Holders())
}

func TestUnmarshalMalformed(t *testing.T) {
	tables := func(js string) []byte { return append([]byte{formatTables, tablesVersion}, js...) }
	tests := []struct {
		name string
		blob []byte
		want string
	}{
		{"unnamed vendor", tables(`{"vendors":[{"tbl":{"seq":1}}]}`), "has no name"},
		{"twice", tables(`{"vendors":[{"vnd":"a","tbl":{"seq":1}},{"vnd":"a","tbl":{"seq":1}}]}`), "ascending"},
		{"unordered", tables(`{"vendors":[{"vnd":"b","tbl":{"seq":1}},{"vnd":"a","tbl":{"seq":1}}]}`), "ascending"},
		{"seq 0", tables(`{"vendors":[{"vnd":"a","tbl":{}}]}`), "seq 0"},
		{"holder in unknown pool", tables(`{"vendors":[{"vnd":"a","tbl":{"seq":1,"holders":[{"hnd":1,"pk":"x"}]}}]}`), "unknown pool"},
		{"duplicate handle", tables(`{"vendors":[{"vnd":"a","tbl":{"seq":1,"pools":[{"key":"x"}],"holders":[{"hnd":1,"pk":"x"},{"hnd":1,"pk":"x"}]}}]}`), "duplicate handle"},
		{"unknown field in table", tables(`{"vendors":[{"vnd":"a","tbl":{"seq":1,"Seq":2,"x":1}}]}`), "unknown field"},
		{"bad holder time", tables(`{"vendors":[{"vnd":"a","tbl":{"seq":1,"holders":[{"seen":"now"}]}}]}`), "last seen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Unmarshal(tt.blob, demoOpts)
			require.ErrorIs(t, err, ErrMalformed)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := Unmarshal(tables(`{"vendors":[{"vnd":"a","tbl":{"seq":1,"holders":[{"hnd":1,"pk":"x"}]}}]}`), demoOpts)
	assert.ErrorIs(t, err, pool.ErrDiverged)
}

func TestConcurrentReaders(t *testing.T) {
	m := scenario(t, "demo")
	tb := New(demoOpts)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = tb.Seq("demo") + uint64(tb.Holders("demo"))
				_ = tb.Snapshot("demo")
				if i == 0 {
					_, err := tb.Marshal()
					assert.NoError(t, err)
				}
			}
		})
	}
	for _, e := range m.entries(1) {
		require.NoError(t, tb.Apply(e))
	}
	close(stop)
	wg.Wait()
	requireMasterState(t, m, tb.Snapshot("demo"))
}

func ExampleTables_Apply() {
	pools := []licfile.Pool{{Key: "solver", Name: "solver", Vendor: "demo", Version: "1.0", Count: 2}}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

	// The master's vendor daemon: a Reload gives a new table its pools.
	master := pool.New(nil, pool.Options{})
	deltas := master.Reload(pools, now)
	_, ds, _ := master.Checkout(pool.CheckoutRequest{Client: pool.Client{Session: 1, User: "alice"}, Feature: "solver"}, now)
	deltas = append(deltas, ds...)
	b, _ := EncodeEntry(Entry{Proposer: 0, Vendor: "demo", Gen: 1, Deltas: deltas})

	// Every member, for each committed raft entry.
	tables := New(pool.Options{})
	e, err := DecodeEntry(b)
	if err == nil {
		err = tables.Apply(e)
	}
	fmt.Println(err, tables.Seq("demo"), tables.Holders("demo"))
	// Output: <nil> 2 1
}

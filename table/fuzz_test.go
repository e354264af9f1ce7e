package table

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/stretchr/testify/require"
)

// fuzzPrefix is how many deltas of the scenario a fuzzed entry's vendor
// table holds before the entry, so that entries can grant, rebind, release
// and reload against real holders.
const fuzzPrefix = 8

// fuzzTables returns tables holding the first fuzzPrefix deltas of the
// scenario under vendor.
func fuzzTables(t testing.TB, prefix []pool.Delta, vendor string) *Tables {
	tb := New(demoOpts)
	require.NoError(t, tb.Apply(Entry{Vendor: vendor, Deltas: prefix}))
	return tb
}

func FuzzDecodeEntry(f *testing.F) {
	m := scenario(f, "demo")
	prefix := m.deltas[:fuzzPrefix]
	for _, b := range [][]byte{nil, {formatEntry}, {formatEntry, entryVersion1}, {formatEntry, entryVersion1, '{', '}'},
		{formatEntry, entryVersion}, {formatEntry, entryVersion, 0, 1, 'v', 0, 0}, {formatEntry, 3}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEntry(b)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		// What decodes encodes again, to the same entry, and from then on
		// to the same bytes.
		b2, err := EncodeEntry(e)
		require.NoError(t, err)
		e2, err := DecodeEntry(b2)
		require.NoError(t, err)
		requireSameExactly(t, e, e2)
		b3, err := EncodeEntry(e2)
		require.NoError(t, err)
		require.Equal(t, b2, b3)
		// Both versions say the same: version 1 encodes it too, to the
		// same entry, time offsets included.
		v1, err := encodeEntryV1(e)
		require.NoError(t, err)
		e1, err := DecodeEntry(v1)
		require.NoError(t, err)
		requireSameExactly(t, e, e1)

		// Apply never panics, is deterministic, and leaves tables that
		// marshal and unmarshal.
		for _, mk := range []func() *Tables{
			func() *Tables { return New(demoOpts) },
			func() *Tables { return fuzzTables(t, prefix, e.Vendor) },
		} {
			t1, t2 := mk(), mk()
			err1, err2 := t1.Apply(e), t2.Apply(e2)
			require.Equal(t, err1 == nil, err2 == nil, "%v / %v", err1, err2)
			m1, err := t1.Marshal()
			require.NoError(t, err)
			m2, err := t2.Marshal()
			require.NoError(t, err)
			require.Equal(t, m1, m2)
			back, err := Unmarshal(m1, demoOpts)
			require.NoError(t, err)
			m3, err := back.Marshal()
			require.NoError(t, err)
			require.Equal(t, m1, m3)
		}
	})
}

func FuzzUnmarshal(f *testing.F) {
	for _, b := range [][]byte{nil, {formatTables}, {formatTables, tablesVersion}, {formatTables, tablesVersion, '{', '}'}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tb, err := Unmarshal(b, demoOpts)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		b2, err := tb.Marshal()
		require.NoError(t, err)
		tb2, err := Unmarshal(b2, demoOpts)
		require.NoError(t, err)
		b3, err := tb2.Marshal()
		require.NoError(t, err)
		require.Equal(t, b2, b3)
		// Each vendor's table goes to its vendor daemon and restores there.
		var w *wireTables
		require.NoError(t, decode(b2, formatTables, tablesVersion, &w))
		for _, v := range w.Vendors {
			name, err := decStr(v.Vendor)
			require.NoError(t, err)
			snap := tb.Snapshot(name)
			sb, err := EncodeSnapshot(snap)
			require.NoError(t, err)
			got, err := DecodeSnapshot(sb)
			require.NoError(t, err)
			requireSame(t, snap, got)
			_, err = pool.Restore(got, demoOpts)
			require.NoError(t, err)
		}
	})
}

// fuzzSeeds are the real blobs of the seed corpora in testdata/fuzz. Entry
// seeds come in both versions: version 1 (JSON, still read) under their
// plain names, version 2 (binary) under v2-names.
func fuzzSeeds(t *testing.T) map[string]map[string][]byte {
	m := scenario(t, "demo")
	entryCases := map[string]Entry{
		"whole-scenario": {Proposer: 0, Vendor: "demo", Gen: 1, Deltas: m.deltas},
		"continuation":   {Proposer: 1, Vendor: "demo", Gen: 2, Deltas: m.deltas[fuzzPrefix:]},
		"reload-pools":   {Proposer: 0, Vendor: "demo", Deltas: m.deltas[:1]},
		"raw-strings": {Vendor: "d\xe9mo", Deltas: []pool.Delta{{Seq: 1, Kind: pool.Grant, Time: at(0),
			Holder: pool.Holder{Handle: 1, User: "r\xe9mi", Host: "\x00h", HostIDs: []string{"\xff"}}}}},
	}
	for _, d := range m.deltas[fuzzPrefix:] {
		name := strings.ToLower(d.Kind.String()) + "-" + strconv.FormatUint(d.Seq, 10)
		entryCases[name] = Entry{Proposer: 1, Vendor: "demo", Gen: 3, Deltas: []pool.Delta{d}}
	}
	// Version 2 only: times in offsets, a pool of every field set.
	east := time.FixedZone("", 5*3600+1800)
	entryCases["offsets"] = Entry{Vendor: "demo", Deltas: []pool.Delta{{Seq: 1, Kind: pool.Rebind,
		Time: at(time.Second).In(east), Holder: pool.Holder{Handle: 1, Start: at(1).In(time.FixedZone("", -7*3600)),
			LastSeen: at(time.Minute).In(east)}}}}
	full := m.deltas[0]
	full.Pools = append([]licfile.Pool(nil), full.Pools...)
	full.Pools[0].UserBased, full.Pools[0].HostBased, full.Pools[0].Uncounted = true, true, true
	full.Pools[0].HostID, full.Pools[0].Count, full.Pools[0].Overdraft = "ANY", -1, 3
	full.Moves = []pool.Move{{Handle: 1, PoolKey: "k", PoolVersion: "2.0"}}
	entryCases["reload-full"] = Entry{Proposer: 2, Vendor: "demo", Gen: 1 << 40, Deltas: []pool.Delta{full}}
	entries := map[string][]byte{}
	for name, e := range entryCases {
		b, err := EncodeEntry(e)
		require.NoError(t, err)
		entries["v2-"+name] = b
		if name == "offsets" || name == "reload-full" {
			continue
		}
		if entries[name], err = encodeEntryV1(e); err != nil {
			t.Fatal(err)
		}
	}

	tables := map[string][]byte{}
	two := New(demoOpts)
	applyAll(t, two, interleave(m.entries(4), scenario(t, "other").entries(4)))
	tables["two-vendors"] = marshal(t, two)
	one := fuzzTables(t, m.deltas[:fuzzPrefix], "demo")
	tables["one-vendor"] = marshal(t, one)
	tables["empty"] = marshal(t, New(demoOpts))
	return map[string]map[string][]byte{"FuzzDecodeEntry": entries, "FuzzUnmarshal": tables}
}

// TestFuzzSeeds checks that the seed corpora are today's real blobs; with
// TABLE_WRITE_SEEDS=1 it writes them.
func TestFuzzSeeds(t *testing.T) {
	write := os.Getenv("TABLE_WRITE_SEEDS") == "1"
	for target, seeds := range fuzzSeeds(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		if write {
			require.NoError(t, os.RemoveAll(dir))
		}
		for name, b := range seeds {
			path := filepath.Join(dir, name)
			text := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
			if write {
				require.NoError(t, os.MkdirAll(dir, 0o755))
				require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
				continue
			}
			got, err := os.ReadFile(path)
			require.NoError(t, err, "run with TABLE_WRITE_SEEDS=1 to write the seeds")
			lines := bytes.SplitN(got, []byte("\n"), 3)
			require.Len(t, lines, 3, path)
			lit := strings.TrimSuffix(strings.TrimPrefix(string(lines[1]), "[]byte("), ")")
			blob, err := strconv.Unquote(lit)
			require.NoError(t, err, path)
			require.Equal(t, string(b), blob, "%s is stale: run with TABLE_WRITE_SEEDS=1", path)
		}
	}
}

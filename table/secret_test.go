package table

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/pool"
)

// A holder's secret survives both entry encodings and snapshots.
func TestSecretRoundTrip(t *testing.T) {
	e := stableEntry()
	e.Deltas[1].Holder.Secret = "0123456789abcdef0123456789abcdef"
	b, err := EncodeEntry(e)
	require.NoError(t, err)
	got, err := DecodeEntry(b)
	require.NoError(t, err)
	requireSame(t, e, got)
	assert.Equal(t, e.Deltas[1].Holder.Secret, got.Deltas[1].Holder.Secret)

	v1, err := encodeEntryV1(e)
	require.NoError(t, err)
	got1, err := DecodeEntry(v1)
	require.NoError(t, err)
	assert.Equal(t, e.Deltas[1].Holder.Secret, got1.Deltas[1].Holder.Secret)

	snap := pool.Snapshot{Seq: 2, NextHandle: 2, Pools: e.Deltas[0].Pools, Holders: []pool.Holder{e.Deltas[1].Holder}}
	sb, err := EncodeSnapshot(snap)
	require.NoError(t, err)
	gs, err := DecodeSnapshot(sb)
	require.NoError(t, err)
	assert.Equal(t, snap.Holders[0].Secret, gs.Holders[0].Secret)
}

// Entries and snapshots written before secrets still decode: their holders
// have none.
func TestEncodingsWithoutSecretStillDecode(t *testing.T) {
	// The pinned v2 bytes of TestEncodingIsStableV2 (no secret field).
	e := stableEntry()
	b, err := EncodeEntry(e)
	require.NoError(t, err)
	got, err := DecodeEntry(b)
	require.NoError(t, err)
	assert.Empty(t, got.Deltas[1].Holder.Secret)

	old := "\x01\x01" + `{"prop":2,"vnd":"demo","gen":5,"d":[` +
		`{"seq":1,"k":4,"t":"2025-06-01T12:00:00Z","pools":[{"key":"k","name":"f","vnd":"demo","ver":"1.0","n":2}]},` +
		`{"seq":2,"k":1,"t":"2025-06-01T12:00:00Z","h":{"hnd":1,"feat":"f","pk":"k","pv":"1.0","n":1,"sess":9,"user":"u","host":"h","pid":42,"start":"2025-06-01T12:00:00Z"}}]}`
	got, err = DecodeEntry([]byte(old))
	require.NoError(t, err)
	assert.Equal(t, "u", got.Deltas[1].Holder.User)
	assert.Empty(t, got.Deltas[1].Holder.Secret)

	snap := "\x03\x01" + `{"seq":2,"next":2,"pools":[{"key":"k","name":"f","vnd":"demo","ver":"1.0","n":2}],` +
		`"holders":[{"hnd":1,"feat":"f","pk":"k","pv":"1.0","n":1,"sess":9,"user":"u","host":"h","pid":42,"start":"2025-06-01T12:00:00Z"}]}`
	s, err := DecodeSnapshot([]byte(snap))
	require.NoError(t, err)
	require.Len(t, s.Holders, 1)
	assert.Empty(t, s.Holders[0].Secret)
	_, err = pool.Restore(s, demoOpts)
	require.NoError(t, err)
}

// A holder without a secret encodes byte for byte as before; one with a
// secret adds exactly the secret string at the end of its record.
func TestSecretIsTheLastHolderField(t *testing.T) {
	e := stableEntry()
	plain, err := EncodeEntry(e)
	require.NoError(t, err)
	e.Deltas[1].Holder.Secret = "s"
	withSecret, err := EncodeEntry(e)
	require.NoError(t, err)
	assert.Equal(t, len(plain)+2, len(withSecret))
	// start (ends "\xc0p"), seen (zero), the secret, then the delta's has
	assert.Contains(t, string(withSecret), "\xc0p\x00\x01s\x00")
}

package quorum

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClockSkew steps envelopes with wall clocks into a node, one after the
// other: a skew beyond the limit refuses the envelope and logs once per
// change, coming back logs once, and a node or peer that does not say its
// wall clock checks nothing.
func TestClockSkew(t *testing.T) {
	const now = int64(1_767_225_600_000)
	n, err := New(Config{Self: Primary, Hosts: testHosts, MaxClockSkew: 0}, nil)
	require.NoError(t, err)
	require.Equal(t, time.Hour, n.Config().MaxClockSkew, "0 means the default")
	d := n.Config().ServerDigest
	for _, tc := range []struct {
		name       string
		ours, peer int64 // Unix ms; 0 unknown
		skew       time.Duration
		over       bool
		event      string // "" none
	}{
		{name: "neither says", skew: 0},
		{name: "within", ours: now, peer: now + (59*time.Minute + 59*time.Second).Milliseconds(), skew: 59*time.Minute + 59*time.Second},
		{name: "beyond, ahead", ours: now, peer: now + (time.Hour + 5*time.Second).Milliseconds(), skew: time.Hour + 5*time.Second, over: true,
			event: "Clock of host1 differs from this server's by 1h0m5s (limit 1h0m0s): kept out of the triad until it is fixed"},
		{name: "still beyond: no second event", ours: now, peer: now + (2 * time.Hour).Milliseconds(), skew: 2 * time.Hour, over: true},
		{name: "beyond, behind", ours: now, peer: now - (3 * time.Hour).Milliseconds(), skew: -3 * time.Hour, over: true},
		{name: "back", ours: now, peer: now + 1500, skew: 1500 * time.Millisecond,
			event: "Clock of host1 back within the limit"},
		{name: "peer does not say: accepted", ours: now, peer: 0, skew: 1500 * time.Millisecond},
		{name: "we do not know ours: accepted", ours: 0, peer: now + (5 * time.Hour).Milliseconds(), skew: 1500 * time.Millisecond},
	} {
		n.SetWallClock(tc.ours)
		n.Tick()
		require.NoError(t, n.Step(Envelope{From: Secondary, To: Primary, ServerDigest: d, WallClock: tc.peer}), tc.name)
		rd, err := n.Ready()
		require.NoError(t, err, tc.name)
		n.Advance()
		assertEventText(t, rd, EventClockSkew, tc.event, tc.name)
		st := n.Status()
		assert.Equal(t, tc.skew, st.Skew[Secondary], tc.name)
		assert.Equal(t, tc.over, st.SkewOver[Secondary], tc.name)
		assert.Equal(t, !tc.over, n.heard[Secondary] == n.now, "%s: the envelope is taken iff within the limit", tc.name)
		if tc.ours != 0 {
			for _, e := range rd.Messages {
				assert.Equal(t, tc.ours, e.WallClock, "%s: envelopes carry our wall clock", tc.name)
			}
		}
	}
	_, err = New(Config{Self: Primary, Hosts: testHosts, MaxClockSkew: -time.Second}, nil)
	assert.ErrorIs(t, err, ErrConfig)
}

// TestLicenseDigestIsInformation: a peer that serves other licenses is
// taken (its envelope reaches raft, it counts as live), recorded in
// Status.PeerLicenseDigest and logged once per change; SetLicenseDigest
// (after lmreread) re-evaluates every peer heard.
func TestLicenseDigestIsInformation(t *testing.T) {
	n, err := New(Config{Self: Primary, Hosts: testHosts, LicenseDigest: "a"}, nil)
	require.NoError(t, err)
	d := n.Config().ServerDigest
	for _, tc := range []struct {
		name   string
		ours   string // SetLicenseDigest before the envelope; "" keeps it
		peer   string
		event  string
		inSync bool
	}{
		{name: "same", peer: "a", inSync: true},
		{name: "other", peer: "b", event: "Licenses of host1 differ from this server's (it stays in the triad)"},
		{name: "still other: no second event", peer: "b"},
		{name: "we reread to the same", ours: "b", peer: "b", event: "Licenses of host1 match this server's", inSync: true},
	} {
		if tc.ours != "" {
			n.SetLicenseDigest(tc.ours)
		}
		n.Tick()
		require.NoError(t, n.Step(Envelope{From: Secondary, To: Primary, ServerDigest: d, LicenseDigest: tc.peer}), tc.name)
		rd, err := n.Ready()
		require.NoError(t, err)
		n.Advance()
		assertEventText(t, rd, EventLicenseMismatch, tc.event, tc.name)
		st := n.Status()
		assert.True(t, st.Live[Secondary], tc.name)
		assert.False(t, st.Rejected[Secondary], tc.name)
		assert.Equal(t, tc.peer, st.PeerLicenseDigest[Secondary], tc.name)
		assert.Equal(t, n.Config().LicenseDigest, st.PeerLicenseDigest[Primary], tc.name)
		assert.Equal(t, tc.inSync, st.LicensesInSync(), tc.name)
	}
}

// assertEventText checks that rd holds exactly one event of kind with text
// want, or none when want is empty.
func assertEventText(t *testing.T, rd Ready, kind EventKind, want, name string) {
	t.Helper()
	var texts []string
	for _, e := range rd.Events {
		if e.Kind == kind {
			texts = append(texts, e.Text)
		}
	}
	if want == "" {
		assert.Empty(t, texts, name)
	} else {
		assert.Equal(t, []string{want}, texts, name)
	}
}

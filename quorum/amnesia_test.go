package quorum

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"
)

// TestAmnesiacVoteRule checks mayVoteAmnesiac case by case, for the
// primary (self) asked by the secondary (candidate); the tertiary is the
// third member.
func TestAmnesiacVoteRule(t *testing.T) {
	type peer struct {
		heard      bool
		term       uint64 // lowest term it reported since the start
		rebuilding bool
	}
	const full, empty = 5, 1 // the candidate's last index
	for _, tc := range []struct {
		name      string
		rebuilt   bool
		caughtUp  bool
		third     peer
		term      uint64 // the vote's term
		lastIndex uint64
		want      bool
	}{
		{name: "first start, third unheard", term: 2, lastIndex: empty, want: true},
		{name: "first start, third rebuilding too", third: peer{heard: true, term: 1, rebuilding: true}, term: 2, lastIndex: empty, want: true},
		{name: "empty candidate, third holds a log", third: peer{heard: true, term: 1}, term: 2, lastIndex: empty, want: false},
		{name: "empty candidate, Config.Rebuilt", rebuilt: true, term: 2, lastIndex: empty, want: false},
		{name: "third reported the vote's term", caughtUp: true, third: peer{heard: true, term: 4}, term: 4, lastIndex: full, want: false},
		{name: "third reported a later term", caughtUp: true, third: peer{heard: true, term: 6}, term: 4, lastIndex: full, want: false},
		{name: "third unheard", caughtUp: true, term: 4, lastIndex: full, want: false},
		{name: "not caught up", third: peer{heard: true, term: 3}, term: 4, lastIndex: full, want: false},
		{name: "caught up, third below the term", caughtUp: true, third: peer{heard: true, term: 3}, term: 4, lastIndex: full, want: true},
		{name: "third rebuilding too", third: peer{heard: true, term: 3, rebuilding: true}, term: 4, lastIndex: full, want: true},
		{name: "Config.Rebuilt, caught up", rebuilt: true, caughtUp: true, third: peer{heard: true, term: 3}, term: 4, lastIndex: full, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := New(Config{Self: Primary, Hosts: testHosts, Rebuilt: tc.rebuilt}, nil)
			require.NoError(t, err)
			require.True(t, n.amnesiac)
			n.caughtUp = tc.caughtUp
			if tc.third.heard {
				n.heard[Tertiary], n.peerTerm[Tertiary], n.peerRebuilding[Tertiary] = 0, tc.third.term, tc.third.rebuilding
			}
			lastTerm := uint64(1)
			if tc.lastIndex > empty {
				lastTerm = 3
			}
			assert.Equal(t, tc.want, n.mayVoteAmnesiac(Secondary, tc.term, tc.lastIndex, lastTerm))
		})
	}
}

// TestAmnesiaIsAnEmptyStore: New treats a store with nothing but the
// bootstrap as possibly lost (Status.Rebuilding until a leader's commit
// index is applied), a store with a hard state or entries as not, and
// Config.Rebuilt as lost whatever it holds.
func TestAmnesiaIsAnEmptyStore(t *testing.T) {
	withTerm := NewMemoryStorage()
	require.NoError(t, withTerm.Save(raftpb.HardState{Term: 2, Vote: 1, Commit: 1}, nil, true))
	withEntry := NewMemoryStorage()
	require.NoError(t, withEntry.Save(raftpb.HardState{}, []raftpb.Entry{{Index: 2, Term: 2}}, true))
	bolt, err := OpenBoltStorage(filepath.Join(t.TempDir(), "raft.db"))
	require.NoError(t, err)
	defer bolt.Close()
	for _, tc := range []struct {
		name    string
		store   Storage
		rebuilt bool
		want    bool
	}{
		{"nil", nil, false, true},
		{"new bolt file", bolt, false, true},
		{"hard state", withTerm, false, false},
		{"entries", withEntry, false, false},
		{"hard state, Config.Rebuilt", withTerm, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := New(Config{Self: Secondary, Hosts: testHosts, Rebuilt: tc.rebuilt}, tc.store)
			require.NoError(t, err)
			assert.Equal(t, tc.want, n.Status().Rebuilding)
		})
	}
}

// TestUnmarshalEnvelopeNamesTheVersion: an envelope of another version is
// refused with both versions in the error.
func TestUnmarshalEnvelopeNamesTheVersion(t *testing.T) {
	for _, v := range []byte{1, 2, envelopeVersion + 1} {
		_, err := UnmarshalEnvelope([]byte{v, 0, 1, 7, 0, 0, 0, 0, 0})
		require.True(t, errors.Is(err, ErrMalformed), "version %d: %v", v, err)
		assert.Contains(t, err.Error(), "envelope version "+string('0'+v))
		assert.Contains(t, err.Error(), "speaks version "+string('0'+envelopeVersion))
	}
}

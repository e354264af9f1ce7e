package quorum

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"
)

func TestBoltStorageKeepsLogHardStateAndSnapshotAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "raft.db")
	s, err := OpenBoltStorage(path)
	require.NoError(t, err)
	first, _ := s.FirstIndex()
	assert.Equal(t, uint64(2), first, "a new store starts at the bootstrap snapshot")
	ents := []raftpb.Entry{{Index: 2, Term: 2, Data: []byte("a")}, {Index: 3, Term: 2, Data: []byte("b")}, {Index: 4, Term: 2, Data: []byte("c")}}
	require.NoError(t, s.Save(raftpb.HardState{Term: 2, Vote: 1, Commit: 3}, ents, true))
	// A new leader's entries replace the tail from index 4 on.
	require.NoError(t, s.Save(raftpb.HardState{Term: 3, Vote: 2, Commit: 3}, []raftpb.Entry{{Index: 4, Term: 3, Data: []byte("d")}}, true))
	_, err = s.CreateSnapshot(3, &raftpb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("tables@3"))
	require.NoError(t, err)
	require.NoError(t, s.Compact(3))
	require.NoError(t, s.Close())

	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	di, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), di.Mode().Perm())

	s, err = OpenBoltStorage(path)
	require.NoError(t, err)
	defer s.Close()
	hs, _, err := s.InitialState()
	require.NoError(t, err)
	assert.Equal(t, raftpb.HardState{Term: 3, Vote: 2, Commit: 3}, hs)
	snap, err := s.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, uint64(3), snap.Metadata.Index)
	assert.Equal(t, []byte("tables@3"), snap.Data)
	last, _ := s.LastIndex()
	assert.Equal(t, uint64(4), last)
	got, err := s.Entries(4, 5, 1<<20)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, []byte("d"), got[0].Data, "the replaced tail is gone")
}

func TestBoltStorageIsLockedAgainstASecondLmgrd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := OpenBoltStorage(path)
	require.NoError(t, err)
	defer s.Close()
	_, err = OpenBoltStorage(path)
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), path)
}

func TestBoltStorageReportsDamageWithTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	require.NoError(t, os.WriteFile(path, []byte("this is not a bbolt file, just text of some length........"), 0o600))
	_, err := OpenBoltStorage(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
}

func TestNodeRestartsFromItsDurableLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := OpenBoltStorage(path)
	require.NoError(t, err)
	cfg := Config{Self: Primary, Hosts: [Size]string{"h0", "h1", "h2"}}
	n, err := New(cfg, s)
	require.NoError(t, err)
	require.NoError(t, s.Save(raftpb.HardState{Term: 5, Vote: 1, Commit: 2},
		[]raftpb.Entry{{Index: 2, Term: 5, Data: []byte("grant")}}, true))
	_ = n
	require.NoError(t, s.Close())

	s, err = OpenBoltStorage(path)
	require.NoError(t, err)
	defer s.Close()
	n, err = New(cfg, s)
	require.NoError(t, err)
	rd, err := n.Ready()
	require.NoError(t, err)
	require.Len(t, rd.CommittedEntries, 1, "a restarted member applies its committed entries again")
	assert.Equal(t, []byte("grant"), rd.CommittedEntries[0].Data)
	n.Advance()
	assert.Equal(t, uint64(5), n.Status().Term)
}

func TestBoltStorageWritesACommitIndexAloneWithTheNextWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := OpenBoltStorage(path)
	require.NoError(t, err)
	require.NoError(t, s.Save(raftpb.HardState{Term: 2, Vote: 1, Commit: 1},
		[]raftpb.Entry{{Index: 2, Term: 2, Data: []byte("a")}, {Index: 3, Term: 2, Data: []byte("b")}}, true))
	// The commit index alone: raft says no sync is needed; memory has it.
	require.NoError(t, s.Save(raftpb.HardState{Term: 2, Vote: 1, Commit: 3}, nil, false))
	hs, _, _ := s.InitialState()
	assert.Equal(t, uint64(3), hs.Commit)
	require.NoError(t, s.Close())
	s, err = OpenBoltStorage(path)
	require.NoError(t, err)
	hs, _, _ = s.InitialState()
	assert.Equal(t, raftpb.HardState{Term: 2, Vote: 1, Commit: 1}, hs, "term and vote are on disk, the commit index is relearnt")
	// With the next write it goes to disk.
	require.NoError(t, s.Save(raftpb.HardState{Term: 2, Vote: 1, Commit: 3}, nil, false))
	require.NoError(t, s.Save(raftpb.HardState{}, []raftpb.Entry{{Index: 4, Term: 2, Data: []byte("c")}}, true))
	require.NoError(t, s.Close())
	s, err = OpenBoltStorage(path)
	require.NoError(t, err)
	defer s.Close()
	hs, _, _ = s.InitialState()
	assert.Equal(t, uint64(3), hs.Commit)
	last, _ := s.LastIndex()
	assert.Equal(t, uint64(4), last)
}

// boltState is everything a BoltStorage serves raft.
type boltState struct {
	hs          raftpb.HardState
	first, last uint64
	snap        raftpb.Snapshot
	ents        []raftpb.Entry
}

func readBoltState(t *testing.T, s *BoltStorage) boltState {
	t.Helper()
	var st boltState
	var err error
	st.hs, _, err = s.InitialState()
	require.NoError(t, err)
	st.first, _ = s.FirstIndex()
	st.last, _ = s.LastIndex()
	st.snap, err = s.Snapshot()
	require.NoError(t, err)
	if st.last >= st.first {
		st.ents, err = s.Entries(st.first, st.last+1, 1<<30)
		require.NoError(t, err)
	}
	return st
}

// TestBoltStorageFailedWriteChangesNothing: when a write transaction fails
// (a full disk), the store serves exactly what it served before, the file
// holds the same (reopened), and the next write succeeds; a commit index
// waiting to be written (lazyHS) is neither lost nor written early.
func TestBoltStorageFailedWriteChangesNothing(t *testing.T) {
	enospc := fmt.Errorf("write raft.db: %w", syscall.ENOSPC)
	cs := &raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	for _, tc := range []struct {
		name  string
		setup func(s *BoltStorage) error
		write func(s *BoltStorage) error
	}{
		{name: "Save entries", write: func(s *BoltStorage) error {
			return s.Save(raftpb.HardState{Term: 3, Vote: 2, Commit: 4}, []raftpb.Entry{{Index: 4, Term: 3, Data: []byte("x")}, {Index: 5, Term: 3}}, true)
		}},
		{name: "Save a new term alone", write: func(s *BoltStorage) error { return s.Save(raftpb.HardState{Term: 4, Vote: 3, Commit: 4}, nil, true) }},
		{name: "Save without sync", write: func(s *BoltStorage) error {
			return s.Save(raftpb.HardState{}, []raftpb.Entry{{Index: 5, Term: 2}}, false)
		}},
		{name: "ApplySnapshot", write: func(s *BoltStorage) error {
			return s.ApplySnapshot(raftpb.Snapshot{Data: []byte("t@9"), Metadata: raftpb.SnapshotMetadata{Index: 9, Term: 3, ConfState: *cs}})
		}},
		{name: "CreateSnapshot", write: func(s *BoltStorage) error { _, err := s.CreateSnapshot(3, cs, []byte("t@3")); return err }},
		{name: "Compact", setup: func(s *BoltStorage) error { _, err := s.CreateSnapshot(3, cs, []byte("t@3")); return err },
			write: func(s *BoltStorage) error { return s.Compact(3) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "raft.db")
			s, err := OpenBoltStorage(path)
			require.NoError(t, err)
			require.NoError(t, s.Save(raftpb.HardState{Term: 2, Vote: 1, Commit: 2},
				[]raftpb.Entry{{Index: 2, Term: 2, Data: []byte("a")}, {Index: 3, Term: 2, Data: []byte("b")}, {Index: 4, Term: 2, Data: []byte("c")}}, true))
			require.NoError(t, s.Save(raftpb.HardState{Term: 2, Vote: 1, Commit: 4}, nil, false)) // lazy
			if tc.setup != nil {
				require.NoError(t, tc.setup(s))
			}
			before := readBoltState(t, s)
			require.Equal(t, uint64(4), before.hs.Commit)

			s.failWrites = enospc
			err = tc.write(s)
			require.ErrorIs(t, err, syscall.ENOSPC)
			assert.Contains(t, err.Error(), path)
			assert.Equal(t, before, readBoltState(t, s), "memory changed by a failed write")
			assert.Equal(t, raftpb.HardState{Term: 2, Vote: 1, Commit: 4}, s.lazyHS, "the pending commit index is kept")

			// A new Node on the same store starts from what it holds.
			n, err := New(Config{Self: Primary, Hosts: testHosts}, s)
			require.NoError(t, err)
			assert.Equal(t, uint64(2), n.Status().Term)

			s.failWrites = nil
			require.NoError(t, tc.write(s), "the same write once the disk has room")
			after := readBoltState(t, s)
			require.NoError(t, s.Close())
			s, err = OpenBoltStorage(path)
			require.NoError(t, err)
			defer s.Close()
			reopened := readBoltState(t, s)
			assert.Equal(t, after.last, reopened.last)
			assert.Equal(t, after.snap.Metadata.Index, reopened.snap.Metadata.Index)
			assert.Equal(t, after.hs.Term, reopened.hs.Term)
			assert.Equal(t, after.hs.Vote, reopened.hs.Vote)
		})
	}
}

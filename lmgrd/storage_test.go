package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/quorum"
)

// The state directory without processes: the lock, the checks of a
// damaged raft.db and its move aside (state.go).

// logEntries is how many entries writeLog puts into a log: enough for the
// file to span many pages.
const logEntries = 3000

// writeLog writes a raft log of logEntries entries into dir/raft.db the way
// a member does, and returns the file's path.
func writeLog(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, stateLogName)
	st, err := quorum.OpenBoltStorage(path)
	require.NoError(t, err)
	defer st.Close()
	data := bytes.Repeat([]byte("grant user@ws solver "), 7)
	for i := uint64(2); i < logEntries+2; i += 100 {
		var ents []raftpb.Entry
		for j := i; j < i+100; j++ {
			ents = append(ents, raftpb.Entry{Term: 2, Index: j, Type: raftpb.EntryNormal, Data: data})
		}
		require.NoError(t, st.Save(raftpb.HardState{Term: 2, Vote: 1, Commit: i + 99}, ents, true))
	}
	return path
}

func testLogger() (*logrus.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return flexlog.New(buf, "lmgrd"), buf
}

// openTestState opens dir as lmgrd does, with an empty snapshot decoder.
func openTestState(t *testing.T, dir string) (*memberState, *syncBuffer, error) {
	t.Helper()
	log, buf := testLogger()
	ms, err := openState(log, dir, false, func([]byte) error { return nil })
	if err == nil {
		t.Cleanup(ms.Close)
	}
	return ms, buf, err
}

func lastIndex(t *testing.T, ms *memberState) uint64 {
	t.Helper()
	i, err := ms.store.LastIndex()
	require.NoError(t, err)
	return i
}

func TestStateIntactLogIsKept(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir)
	ms, buf, err := openTestState(t, dir)
	require.NoError(t, err)
	assert.Equal(t, uint64(logEntries+1), lastIndex(t, ms))
	assert.False(t, ms.rebuilding)
	assert.NotContains(t, buf.String(), "damaged")
	assert.Empty(t, asideFiles(t, dir))
}

func TestStateSecondOpenRefusedNamingTheLock(t *testing.T) {
	dir := t.TempDir()
	first, _, err := openTestState(t, dir)
	require.NoError(t, err)
	_, _, err = openTestState(t, dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "state directory "+dir+" is in use by another lmgrd")
	assert.Contains(t, err.Error(), filepath.Join(dir, stateLockName)+" is locked")
	first.Close()
	_, _, err = openTestState(t, dir)
	assert.NoError(t, err, "the lock goes with the process that held it")
}

// asideFiles lists the damaged logs kept in dir.
func asideFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, stateLogName+".damaged-*"))
	require.NoError(t, err)
	return m
}

func TestStateDamagedLogIsMovedAsideAndRebuilt(t *testing.T) {
	garble := func(from, to int64) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			require.NoError(t, err)
			defer f.Close()
			fi, err := f.Stat()
			require.NoError(t, err)
			if to <= 0 {
				to += fi.Size()
			}
			b := make([]byte, to-from)
			r := rand.New(rand.NewPCG(uint64(from), uint64(to)))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			_, err = f.WriteAt(b, from)
			require.NoError(t, err)
		}
	}
	page := int64(os.Getpagesize())
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
		says   string
	}{
		{"truncated to half", func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(path, fi.Size()/2))
		}, "cut off?"},
		{"truncated to three pages", func(t *testing.T, path string) { require.NoError(t, os.Truncate(path, 3*page)) }, "cut off?"},
		{"emptied", func(t *testing.T, path string) { require.NoError(t, os.Truncate(path, 0)) }, "the file is empty"},
		{"meta pages overwritten", garble(0, 2*page), "both bbolt meta pages are invalid"},
		{"every page after the meta pages overwritten", garble(2*page, 0), ""},
		{"not a bbolt file", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("not a raft log\n", 1000)), 0o600))
		}, "both bbolt meta pages are invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeLog(t, dir)
			tc.damage(t, path)
			damaged, err := os.ReadFile(path)
			require.NoError(t, err)

			ms, buf, err := openTestState(t, dir)
			require.NoError(t, err, "a damaged log is no reason not to start")
			assert.True(t, ms.rebuilding)
			assert.Equal(t, uint64(1), lastIndex(t, ms), "the member starts with an empty log")
			log := buf.String()
			assert.Contains(t, log, "Triad state "+path+" is damaged: ")
			assert.Contains(t, log, tc.says)
			aside := asideFiles(t, dir)
			require.Len(t, aside, 1)
			assert.Contains(t, log, "the damaged log is kept as "+aside[0])
			kept, err := os.ReadFile(aside[0])
			require.NoError(t, err)
			assert.True(t, bytes.Equal(damaged, kept), "the damaged file is kept as found")
			t.Logf("%s", strings.TrimSpace(log))

			// The new log is a good one: it is kept at the next start.
			ms.Close()
			ms, buf, err = openTestState(t, dir)
			require.NoError(t, err)
			assert.NotContains(t, buf.String(), "damaged")
			assert.Len(t, asideFiles(t, dir), 1)
		})
	}
}

func TestStateUnreadableSnapshotIsDamage(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir)
	log, buf := testLogger()
	calls := 0
	ms, err := openState(log, dir, false, func(data []byte) error {
		calls++
		if calls == 1 {
			return assert.AnError
		}
		return nil
	})
	require.NoError(t, err)
	defer ms.Close()
	assert.Equal(t, 2, calls)
	assert.Contains(t, buf.String(), "is damaged: its snapshot: "+assert.AnError.Error())
	assert.Len(t, asideFiles(t, dir), 1)
	assert.True(t, ms.rebuilding)
}

func TestStateMissingLogRebuilds(t *testing.T) {
	dir := t.TempDir()
	ms, buf, err := openTestState(t, dir)
	require.NoError(t, err)
	assert.False(t, ms.rebuilding, "a new directory is a new member, not a lost log")
	assert.NotContains(t, buf.String(), "missing")
	ms.Close()

	require.NoError(t, os.Remove(filepath.Join(dir, stateLogName)))
	ms, buf, err = openTestState(t, dir)
	require.NoError(t, err)
	assert.True(t, ms.rebuilding)
	assert.Contains(t, buf.String(), "Triad state "+filepath.Join(dir, stateLogName)+" is missing")
}

// TestStateRandomDamageNeverCrashes overwrites one random page (or a few
// bytes) of a log many times: whatever is hit, lmgrd starts, with the log
// as it was or with an empty one and the damaged file kept. A bbolt page
// holds no checksum, so damage inside a value that still decodes is not
// found here (docs/triad.md §6).
func TestStateRandomDamageNeverCrashes(t *testing.T) {
	base := t.TempDir()
	orig, err := os.ReadFile(writeLog(t, base))
	require.NoError(t, err)
	page := os.Getpagesize()
	r := rand.New(rand.NewPCG(1, 2))
	found := 0
	const trials = 60
	for trial := range trials {
		dir := t.TempDir()
		b := append([]byte(nil), orig...)
		at := r.IntN(len(b))
		n := 1 + r.IntN(16)
		if trial%2 == 0 {
			at, n = r.IntN(len(b)/page)*page, page
		}
		for i := at; i < at+n && i < len(b); i++ {
			b[i] = byte(r.Uint32())
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, stateLogName), b, 0o600))
		ms, buf, err := openTestState(t, dir)
		require.NoError(t, err, "trial %d", trial)
		if strings.Contains(buf.String(), "is damaged") {
			found++
			assert.Equal(t, uint64(1), lastIndex(t, ms))
			assert.Len(t, asideFiles(t, dir), 1)
		}
		ms.Close()
	}
	t.Logf("%d of %d random damages found at start", found, trials)
}

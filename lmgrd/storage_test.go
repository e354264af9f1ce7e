package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
			defer ms.Close()
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

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts
// it at the end of the test (after the processes that use it are stopped:
// cleanups run last-registered first). The test is skipped where mounting
// is not permitted.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	require.NoError(t, os.Mkdir(dir, 0o700))
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)+",mode=0700"); err != nil {
		t.Skipf("a full state directory needs a small tmpfs, and mounting one is not permitted here: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fill writes a file into dir until the file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	block := make([]byte, 64<<10)
	for i := 0; ; i++ {
		require.Less(t, i, 1<<16, "the file system never filled up")
		if _, err := f.Write(block); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			break
		}
	}
	for _, n := range []int{4096, 512, 1} { // the last pages too
		for {
			if _, err := f.Write(block[:n]); err != nil {
				break
			}
		}
	}
	return path
}

// memberNotes reports whether lmstat prints the members' paragraph, where
// a member's notes (such as "state directory full") appear; until lmgrd's
// INFO sends MEMBER records it does not, and the test says so.
func memberNotes(t *testing.T, out string) bool {
	t.Helper()
	if strings.Contains(out, "Enrolled license files: ") {
		return true
	}
	t.Log("lmstat shows no member notes yet (no MEMBER records in INFO): not checked")
	return false
}

func TestTriadFullStateDirectoryStopsAcknowledging(t *testing.T) {
	needBinaries(t)
	mnt := mountTmpfs(t, 8<<20)
	const count = 300
	port := freePort(t, triadHosts[:]...)
	lic := filepath.Join(t.TempDir(), "triad.lic")
	require.NoError(t, writeSigned(lic, []byte(fmt.Sprintf("SERVER 127.0.0.1 ANY %d\nSERVER 127.0.0.2 ANY %d\nSERVER 127.0.0.3 ANY %d\n"+
		"VENDOR demo\nFEATURE solver demo 1.0 permanent %d SIGN=0\n", port, port, port, count)), 0o644))
	tc := &triadCluster{port: port, lic: lic}
	// The primary's state directory is on the small tmpfs.
	tc.procs[0] = startLmgrd(t, "-c", lic, "-self", "127.0.0.1", "-state", mnt)
	tc.start(t, 1)
	tc.start(t, 2)
	tc.waitMaster(t, "127.0.0.1")
	holders := holdAll(t, tc, 20)

	// The primary, master, can no longer write its log: it stops
	// acknowledging, says so, and the secondary takes over. Every checkout
	// that was granted counts, wherever it was granted.
	filler := fill(t, mnt)
	primary := tc.procs[0]
	for i := len(holders); !strings.Contains(primary.log.String(), "no space left on device"); i++ {
		require.Less(t, i, count, "the primary never said its state directory is full")
		holders = append(holders, holdOne(t, tc, i))
	}
	primary.waitLog(t, mnt)
	t.Logf("the primary's log filled up after %d holders", len(holders))
	out := tc.waitMaster(t, "127.0.0.2")
	if memberNotes(t, out) {
		line := fmt.Sprintf("    %d@127.0.0.1: ", port)
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, line) {
				t.Logf("lmstat: %s", l)
			}
		}
		assert.Contains(t, out, "state directory full (no space left on device)", "lmstat says why the primary does not count")
	}
	for i, h := range holders {
		require.Eventually(t, h.lic.Held, 15*time.Second, 20*time.Millisecond, "holder %d lost its license", i)
		assert.Equal(t, h.handle, h.lic.Handle(), "holder %d kept its own handle", i)
	}
	inUse := fmt.Sprintf("Users of solver:  (Total of %d licenses issued;  Total of %d licenses in use)", count, len(holders))
	require.Eventually(t, func() bool { return strings.Contains(tc.lmstat(t), inUse) }, 10*time.Second, 100*time.Millisecond,
		"every acknowledged holder counts on the new master")

	// Space again: the primary writes its log, rejoins and catches up.
	require.NoError(t, os.Remove(filler))
	primary.waitLog(t, "Triad: the raft log in "+mnt+" can be written again")
	if memberNotes(t, out) {
		require.Eventually(t, func() bool { return !strings.Contains(tc.lmstat(t), "state directory full") },
			10*time.Second, 100*time.Millisecond, "lmstat still says the state directory is full")
	}

	// It holds every holder: with the secondary gone it is master again.
	tc.killMembers(t, 1)
	primary.waitLog(t, fmt.Sprintf("Took over as master: %d license holder(s) kept", len(holders)))
	require.Eventually(t, func() bool { return strings.Contains(tc.lmstat(t), inUse) }, 10*time.Second, 100*time.Millisecond)
	if os.Getenv("LMTRIAD_SHOW_LOGS") != "" {
		t.Logf("primary's log:\n%s", primary.log.String())
	}
}

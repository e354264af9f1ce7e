package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/client"
	"github.com/lmtriad/lmtriad/wire"
)

// holding is one client holding one license, and the handle it got.
type holding struct {
	c      *client.Client
	lic    *client.License
	handle uint64
}

// startCountedTriad starts a triad serving FEATURE solver with count
// licenses and waits for the primary to be master.
func startCountedTriad(t *testing.T, count int) *triadCluster {
	t.Helper()
	needBinaries(t)
	port := freePort(t, triadHosts[:]...)
	body := fmt.Sprintf("SERVER 127.0.0.1 ANY %d\nSERVER 127.0.0.2 ANY %d\nSERVER 127.0.0.3 ANY %d\nVENDOR demo\n"+
		"FEATURE solver demo 1.0 permanent %d SIGN=0\n", port, port, port, count)
	lic := filepath.Join(t.TempDir(), "triad.lic")
	require.NoError(t, writeSigned(lic, []byte(body), 0o644))
	tc := &triadCluster{port: port, lic: lic}
	for i := range triadHosts {
		tc.start(t, i)
	}
	tc.waitMaster(t, "127.0.0.1")
	return tc
}

// holdAll checks out one solver license for each of n users, each its own
// client (user0, user1, ...).
func holdAll(t *testing.T, tc *triadCluster, n int) []holding {
	t.Helper()
	holders := make([]holding, n)
	for i := range holders {
		holders[i] = holdOne(t, tc, i)
	}
	return holders
}

// holdOne checks out one solver license for user i with a client of its own.
func holdOne(t *testing.T, tc *triadCluster, i int) holding {
	t.Helper()
	opts := client.NewOptions()
	opts.LicensePath = tc.path()
	opts.User, opts.Host = "user"+strconv.Itoa(i), "ws"
	opts.HeartbeatInterval = time.Second
	c, err := client.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	lic := checkoutReady(t, c, "solver", 1)
	return holding{c, lic, lic.Handle()}
}

// killMembers SIGKILLs the lmgrds of members and their vendor daemons at
// once, as a power cut would, and waits until none of them runs.
func (tc *triadCluster) killMembers(t *testing.T, members ...int) {
	t.Helper()
	var vendords []int
	for _, i := range members {
		pids := tc.vendordsOf(t, i)
		require.NotEmpty(t, pids, "member %d runs no vendor daemon", i)
		vendords = append(vendords, pids...)
	}
	for _, pid := range vendords {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, i := range members {
		require.NoError(t, tc.procs[i].cmd.Process.Signal(syscall.SIGKILL))
	}
	for _, i := range members {
		<-tc.procs[i].done
	}
	waitGone(t, vendords)
}

// vendordsOf lists the vendor daemons of member i (by their -server-host).
func (tc *triadCluster) vendordsOf(t *testing.T, i int) []int {
	t.Helper()
	var pids []int
	for _, pid := range vendordPids(t, tc.lic) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), "\x00-server-host\x00"+triadHosts[i]+"\x00") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitGone waits until none of pids is a running process.
func waitGone(t *testing.T, pids []int) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, pid := range pids {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err == nil && !strings.Contains(string(stat), ") Z ") {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "processes %v still running", pids)
}

func TestTriadFullRestartLosesNothing(t *testing.T) {
	const n = 100
	tc := startCountedTriad(t, n)
	holders := holdAll(t, tc, n)
	_, err := triadClient(t, tc, "late").Checkout(ctx(t), "solver", "", 1)
	require.ErrorIs(t, err, wire.ErrMaxUsers)

	tc.killMembers(t, 0, 1, 2)
	for _, h := range holders {
		waitEvent(t, h.lic, client.Lost)
	}
	restarted := time.Now()
	for i := range triadHosts {
		tc.start(t, i)
	}
	// The tables come back from the logs: the new master's vendor daemon
	// takes over with every holder before any of them has reattached.
	tc.procs[0].waitLog(t, fmt.Sprintf("Took over as master: %d license holder(s) kept", n))
	for i, h := range holders {
		waitEvent(t, h.lic, client.Regained)
		assert.Equal(t, h.handle, h.lic.Handle(), "holder %d reattached to its own handle", i)
	}
	t.Logf("all %d holders regained their licenses %v after the restart", n, time.Since(restarted))
	out := tc.lmstat(t)
	assert.Contains(t, out, fmt.Sprintf("Users of solver:  (Total of %d licenses issued;  Total of %d licenses in use)", n, n), out)
	_, err = triadClient(t, tc, "late2").Checkout(ctx(t), "solver", "", 1)
	assert.ErrorIs(t, err, wire.ErrMaxUsers, "nobody got a license twice")
}

func TestSecondLmgrdOnOneStateDirectoryRefused(t *testing.T) {
	tc := startTriad(t, false)
	tc.waitMaster(t, "127.0.0.1")
	dir := filepath.Join(filepath.Dir(tc.lic), "state-127.0.0.1")

	// Another triad (its own port) pointed at member 0's state directory.
	port := freePort(t, triadHosts[:]...)
	other := filepath.Join(t.TempDir(), "other.lic")
	require.NoError(t, writeSigned(other, []byte(fmt.Sprintf("SERVER 127.0.0.1 ANY %d\nSERVER 127.0.0.2 ANY %d\nSERVER 127.0.0.3 ANY %d\n"+
		"VENDOR demo\nFEATURE solver demo 1.0 permanent 3 SIGN=0\n", port, port, port)), 0o644))
	second := startLmgrd(t, "-c", other, "-self", "127.0.0.1", "-state", dir)
	select {
	case <-second.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the second lmgrd is still running on a state directory in use")
	}
	require.Error(t, second.err, "it exits with an error")
	want := fmt.Sprintf("state directory %s is in use by another lmgrd (pid %d): %s is locked", dir,
		tc.procs[0].cmd.Process.Pid, filepath.Join(dir, "lock"))
	assert.Contains(t, second.log.String(), want)
	assert.Empty(t, vendordPids(t, other), "it started no vendor daemon")

	// The first is undisturbed.
	c := triadClient(t, tc, "alice")
	checkoutReady(t, c, "solver", 1)
	assert.Equal(t, "127.0.0.1", masterIn(tc.lmstat(t)))
}

// waitRebuilt waits until a member whose log was lost or damaged says it
// has rebuilt it from its peers.
func waitRebuilt(t *testing.T, p *proc) {
	t.Helper()
	p.waitLog(t, "Triad: log rebuilt from the peers")
}

// damageLog damages a member's raft.db as found after a crash or a bad
// disk: cut to its first pages, every page after the meta pages
// overwritten, or gone.
func damageLog(t *testing.T, path, how string) {
	t.Helper()
	page := int64(os.Getpagesize())
	switch how {
	case "truncated":
		require.NoError(t, os.Truncate(path, 3*page))
	case "garbled":
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		require.NoError(t, err)
		defer f.Close()
		fi, err := f.Stat()
		require.NoError(t, err)
		junk := bytes.Repeat([]byte{0xA5, 0x5A, 0x00, 0xFF, 0x13}, int(fi.Size()/5))
		_, err = f.WriteAt(junk[:fi.Size()-2*page], 2*page)
		require.NoError(t, err)
	case "deleted":
		require.NoError(t, os.Remove(path))
	default:
		t.Fatalf("no damage %q", how)
	}
}

func TestTriadDamagedStoreRebuildsFromPeers(t *testing.T) {
	for _, how := range []string{"truncated", "garbled", "deleted"} {
		t.Run(how, func(t *testing.T) {
			const n, count = 30, 40
			tc := startCountedTriad(t, count)
			for _, p := range tc.procs {
				p.waitLog(t, "Triad: license file(s) triad.lic enrolled from 127.0.0.1")
			}
			holders := holdAll(t, tc, n)

			// Stop the secondary, a standby, and damage its log.
			tc.procs[1].stop(t)
			path := filepath.Join(filepath.Dir(tc.lic), "state-127.0.0.2", "raft.db")
			damageLog(t, path, how)
			tc.start(t, 1)
			standby := tc.procs[1]
			if how == "deleted" {
				standby.waitLog(t, "Triad state "+path+" is missing")
			} else {
				standby.waitLog(t, "Triad state "+path+" is damaged: ")
				standby.waitLog(t, "the damaged log is kept as "+path+".damaged-")
				aside, err := filepath.Glob(path + ".damaged-*")
				require.NoError(t, err)
				assert.Len(t, aside, 1, "the damaged file is kept beside")
			}
			waitRebuilt(t, standby)

			// Every holder is in its rebuilt log: with the primary gone it
			// is the master, and counts all of them.
			tc.killMembers(t, 0)
			standby.waitLog(t, fmt.Sprintf("Took over as master: %d license holder(s) kept", n))
			for i, h := range holders {
				waitEvent(t, h.lic, client.Regained)
				assert.Equal(t, h.handle, h.lic.Handle(), "holder %d reattached to its own handle", i)
				assert.Equal(t, fmt.Sprintf("%d@127.0.0.2", tc.port), h.lic.Server())
			}
			out := tc.lmstat(t)
			assert.Contains(t, out, fmt.Sprintf("Users of solver:  (Total of %d licenses issued;  Total of %d licenses in use)", count, n), out)
			if os.Getenv("LMTRIAD_SHOW_LOGS") != "" {
				t.Logf("rebuilt member's log:\n%s", standby.log.String())
			}
		})
	}
}

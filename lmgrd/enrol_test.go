package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/client"
	"github.com/lmtriad/lmtriad/wire"
)

// enrolTriad is a triad whose members each have their own license
// directory (-c DIR), each holding the same triad.lic.
func enrolTriad(t *testing.T) (*triadCluster, [3]string) {
	t.Helper()
	needBinaries(t)
	port := freePort(t, triadHosts[:]...)
	tc := &triadCluster{port: port}
	var dirs [3]string
	for i := range dirs {
		dirs[i] = filepath.Join(t.TempDir(), "licenses-"+triadHosts[i])
		require.NoError(t, os.MkdirAll(dirs[i], 0o755))
		require.NoError(t, writeSigned(filepath.Join(dirs[i], "triad.lic"), []byte(tc.serverLines()+
			"VENDOR demo\nFEATURE solver demo 1.0 permanent 3 SIGN=0\n"), 0o644))
		tc.lics[i] = dirs[i]
	}
	for i := range triadHosts {
		tc.start(t, i)
	}
	tc.waitMaster(t, "127.0.0.1")
	for _, p := range tc.procs {
		p.waitLog(t, "license file(s) triad.lic enrolled from 127.0.0.1")
	}
	return tc, dirs
}

func (tc *triadCluster) serverLines() string {
	return fmt.Sprintf("SERVER 127.0.0.1 ANY %d\nSERVER 127.0.0.2 ANY %d\nSERVER 127.0.0.3 ANY %d\n", tc.port, tc.port, tc.port)
}

// waitFile waits until path holds want as writeSigned writes it (or, with
// want "", is gone).
func waitFile(t *testing.T, path, want string) {
	t.Helper()
	want = signedText(want)
	ok := assert.Eventually(t, func() bool {
		b, err := os.ReadFile(path)
		if want == "" {
			return os.IsNotExist(err)
		}
		return err == nil && string(b) == want
	}, 10*time.Second, 20*time.Millisecond)
	if !ok {
		got, _ := os.ReadFile(path)
		t.Fatalf("%s never held the enrolled content; it holds:\n%s", path, got)
	}
}

// waitCheckout waits until a checkout of feature through the triad answers
// as want says (nil: granted), and returns how long that took.
func waitCheckout(t *testing.T, c *client.Client, feature string, granted bool) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for deadline := start.Add(10 * time.Second); time.Now().Before(deadline); <-time.After(20 * time.Millisecond) {
		var lic *client.License
		lic, err = c.Checkout(ctx(t), feature, "", 1)
		if err == nil {
			_ = lic.Checkin()
		}
		if (err == nil) == granted {
			return time.Since(start)
		}
	}
	t.Fatalf("checkout of %s: want granted=%v, last error %v", feature, granted, err)
	return 0
}

func asides(t *testing.T, dir, name string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, name+".local-*"))
	require.NoError(t, err)
	return m
}

func TestEnrolFileDroppedOnStandbyIsServedByAllThree(t *testing.T) {
	tc, dirs := enrolTriad(t)
	c := triadClient(t, tc, "alice")
	_ = checkoutReady(t, c, "solver", 1).Checkin()

	extra := "VENDOR demo\nFEATURE viewer demo 1.0 permanent 2 SIGN=0\n"
	dropped := time.Now()
	require.NoError(t, writeSigned(filepath.Join(dirs[1], "extra.lic"), []byte(extra), 0o644))
	took := waitCheckout(t, c, "viewer", true)
	t.Logf("a file dropped on the secondary was served by the master %v after it was written", time.Since(dropped).Round(time.Millisecond))
	assert.Less(t, took, 2*time.Second, "served within 2 s")
	for i := range dirs {
		waitFile(t, filepath.Join(dirs[i], "extra.lic"), extra)
	}
	tc.procs[1].waitLog(t, "extra.lic changed on this server: enrolling it in the triad")
	out := tc.waitMaster(t, "127.0.0.1")
	assert.Contains(t, out, "Users of viewer:  (Total of 2 licenses issued;")

	// Removed on the tertiary: gone from all three (kept aside, never
	// deleted) and no longer served.
	require.NoError(t, os.Remove(filepath.Join(dirs[2], "extra.lic")))
	for i := range dirs {
		waitFile(t, filepath.Join(dirs[i], "extra.lic"), "")
	}
	waitCheckout(t, c, "viewer", false)
	_, err := c.Checkout(ctx(t), "viewer", "", 1)
	assert.ErrorIs(t, err, wire.ErrNoFeature)
	for _, i := range []int{0, 1} {
		assert.Len(t, asides(t, dirs[i], "extra.lic"), 1, "member %d keeps the removed file aside", i)
	}
}

func TestEnrolBrokenFileChangesNothingAnywhere(t *testing.T) {
	tc, dirs := enrolTriad(t)
	c := triadClient(t, tc, "alice")
	_ = checkoutReady(t, c, "solver", 1).Checkin()

	bad := "VENDOR demo\nFEATURE viewer demo 1.0 permanent 2 SIGN=0\nFEATURE broken demo 1.0 notadate 2 SIGN=0\n"
	require.NoError(t, writeSigned(filepath.Join(dirs[1], "bad.lic"), []byte(bad), 0o644))
	tc.procs[1].waitLog(t, "bad.lic:3:")
	tc.procs[1].waitLog(t, "bad.lic not enrolled")
	// A wrong SERVER line is refused with the reason.
	other := strings.Replace(tc.serverLines(), "127.0.0.3", "127.0.0.9", 1) + "VENDOR demo\nFEATURE other demo 1.0 permanent 2 SIGN=0\n"
	require.NoError(t, writeSigned(filepath.Join(dirs[1], "other.lic"), []byte(other), 0o644))
	tc.procs[1].waitLog(t, "differ from the triad's")

	// Nothing reached the others, and the triad serves what it did.
	for _, i := range []int{0, 2} {
		for _, name := range []string{"bad.lic", "other.lic"} {
			_, err := os.Stat(filepath.Join(dirs[i], name))
			assert.True(t, os.IsNotExist(err), "member %d got %s", i, name)
		}
		assert.NotContains(t, tc.procs[i].log.String(), "enrolled from 127.0.0.2")
	}
	_, err := c.Checkout(ctx(t), "viewer", "", 1)
	assert.ErrorIs(t, err, wire.ErrNoFeature)
	waitCheckout(t, c, "solver", true)
}

func TestEnrolMemberDownWhileAFileChangedCatchesUp(t *testing.T) {
	tc, dirs := enrolTriad(t)
	tc.kill(t, 2)
	extra := "VENDOR demo\nFEATURE viewer demo 1.0 permanent 2 SIGN=0\n"
	require.NoError(t, writeSigned(filepath.Join(dirs[0], "extra.lic"), []byte(extra), 0o644))
	waitFile(t, filepath.Join(dirs[1], "extra.lic"), extra)

	// Edited by hand on the stopped tertiary: brought in line when it
	// rejoins, its copy kept aside, the event logged on every member.
	own := filepath.Join(dirs[2], "triad.lic")
	enrolled, err := os.ReadFile(own)
	require.NoError(t, err)
	require.NoError(t, writeSigned(own, append(enrolled, "FEATURE solver demo 1.0 permanent 300 SIGN=0\n"...), 0o644))
	tc.start(t, 2)
	waitFile(t, filepath.Join(dirs[2], "extra.lic"), extra)
	waitFile(t, own, string(enrolled))
	require.Len(t, asides(t, dirs[2], "triad.lic"), 1)
	kept, err := os.ReadFile(asides(t, dirs[2], "triad.lic")[0])
	require.NoError(t, err)
	assert.Contains(t, string(kept), "permanent 300", "the differing copy is kept, not deleted")
	for _, p := range tc.procs {
		p.waitLog(t, "127.0.0.3: kept its differing copy of triad.lic as triad.lic.local-")
	}
	out := tc.waitMaster(t, "127.0.0.1")
	assert.Contains(t, out, "Users of solver:  (Total of 3 licenses issued;", "the hand edit is not served")
}

func TestEnrolTwoMembersEditedAtOnceConverge(t *testing.T) {
	tc, dirs := enrolTriad(t)
	body := func(n int) string {
		return signedText(fmt.Sprintf("VENDOR demo\nFEATURE viewer demo 1.0 permanent %d SIGN=0\n", n))
	}
	require.NoError(t, writeSigned(filepath.Join(dirs[0], "extra.lic"), []byte(body(4)), 0o644))
	require.NoError(t, writeSigned(filepath.Join(dirs[1], "extra.lic"), []byte(body(5)), 0o644))
	var final string
	require.Eventually(t, func() bool {
		var got [3]string
		for i := range dirs {
			b, _ := os.ReadFile(filepath.Join(dirs[i], "extra.lic"))
			got[i] = string(b)
		}
		final = got[0]
		return (got[0] == body(4) || got[0] == body(5)) && got[1] == got[0] && got[2] == got[0]
	}, 10*time.Second, 20*time.Millisecond, "the three members never agreed on extra.lic")
	want := "Total of 4 licenses"
	if final == body(5) {
		want = "Total of 5 licenses"
	}
	require.Eventually(t, func() bool {
		return strings.Contains(tc.lmstat(t), "Users of viewer:  ("+want)
	}, 10*time.Second, 50*time.Millisecond)
}

func TestLmenrollFromAnAdminsMachineReachesAllThree(t *testing.T) {
	tc, dirs := enrolTriad(t)
	c := triadClient(t, tc, "alice")
	_ = checkoutReady(t, c, "solver", 1).Checkin()
	src := filepath.Join(t.TempDir(), "viewer.lic")
	body := "VENDOR demo\nFEATURE viewer demo 1.0 permanent 2 SIGN=0\n"
	require.NoError(t, writeSigned(src, []byte(body), 0o644))
	// Through the tertiary, which forwards to the master.
	out, code := lmutil(t, nil, "lmenroll", "-c", fmt.Sprintf("%d@127.0.0.3", tc.port), src)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "viewer.lic enrolled in the triad through")
	for i := range dirs {
		waitFile(t, filepath.Join(dirs[i], "viewer.lic"), body)
	}
	waitCheckout(t, c, "viewer", true)
	tc.procs[2].waitLog(t, "lmenroll of viewer.lic by ")

	bad := filepath.Join(t.TempDir(), "bad.lic")
	require.NoError(t, writeSigned(bad, []byte("VENDOR demo\nFEATURE broken demo 1.0 notadate 2 SIGN=0\n"), 0o644))
	out, code = lmutil(t, nil, "lmenroll", "-c", tc.path(), bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "bad.lic:2:")
	for i := range dirs {
		_, err := os.Stat(filepath.Join(dirs[i], "bad.lic"))
		assert.True(t, os.IsNotExist(err), "member %d got the broken file", i)
	}
}

// A member cut off (here: stopped) while the others enrol a change, whose
// copy is edited by hand meanwhile: when it is back, its edit (made from
// the old copy) is refused, not written over the newer one; it keeps its
// copy aside and takes the triad's.
func TestEnrolEditOnACutOffMemberDoesNotOverwriteTheMajority(t *testing.T) {
	tc, dirs := enrolTriad(t)
	base := "VENDOR demo\nFEATURE viewer demo 1.0 permanent 2 SIGN=0\n"
	require.NoError(t, writeSigned(filepath.Join(dirs[0], "extra.lic"), []byte(base), 0o644))
	for i := range dirs {
		waitFile(t, filepath.Join(dirs[i], "extra.lic"), base)
	}

	require.NoError(t, tc.procs[2].cmd.Process.Signal(syscall.SIGSTOP))
	stopped := true
	t.Cleanup(func() {
		if stopped {
			_ = tc.procs[2].cmd.Process.Signal(syscall.SIGCONT)
		}
	})
	majority := strings.Replace(base, "permanent 2", "permanent 4", 1)
	require.NoError(t, writeSigned(filepath.Join(dirs[1], "extra.lic"), []byte(majority), 0o644))
	waitFile(t, filepath.Join(dirs[0], "extra.lic"), majority)
	hand := strings.Replace(base, "permanent 2", "permanent 90", 1)
	require.NoError(t, writeSigned(filepath.Join(dirs[2], "extra.lic"), []byte(hand), 0o644))
	require.NoError(t, tc.procs[2].cmd.Process.Signal(syscall.SIGCONT))
	stopped = false

	tc.procs[2].waitLog(t, "127.0.0.3: kept its differing copy of extra.lic as extra.lic.local-")
	for i := range dirs {
		waitFile(t, filepath.Join(dirs[i], "extra.lic"), majority)
	}
	tc.procs[0].waitLog(t, "127.0.0.3's change of extra.lic not enrolled")
	kept := asides(t, dirs[2], "extra.lic")
	require.Len(t, kept, 1)
	got, err := os.ReadFile(kept[0])
	require.NoError(t, err)
	assert.Equal(t, signedText(hand), string(got))
}

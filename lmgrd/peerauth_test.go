package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newClusterKey makes a key file of its own with lmutil lmkeygen -cluster.
func newClusterKey(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "other.key")
	out, code := lmutil(t, nil, "lmkeygen", "-cluster", path)
	require.Equal(t, 0, code, out)
	return path
}

func TestTriadImpostorWithAnotherKeyGetsNothing(t *testing.T) {
	tc := startTriad(t, false)
	tc.waitMaster(t, "127.0.0.1")
	checkoutReady(t, triadClient(t, tc, "alice"), "solver", 1)

	// The primary and the secondary go down; the tertiary alone serves nothing.
	tc.kill(t, 0)
	tc.kill(t, 1)
	require.Eventually(t, func() bool { return masterIn(tc.lmstat(t)) == "" }, 15*time.Second, 100*time.Millisecond)

	// An impostor takes the primary's address with the same license file
	// but another cluster key.
	impostor := startLmgrd(t, "-c", tc.lic, "-self", "127.0.0.1", "-cluster-key", newClusterKey(t),
		"-state", filepath.Join(t.TempDir(), "impostor"))
	tc.procs[2].waitLog(t, "Refused triad peer 127.0.0.1")
	impostor.waitLog(t, "Refused triad peer 127.0.0.3")
	assert.Contains(t, tc.procs[2].log.String(), "does not hold this triad's cluster key")

	// With the right key the primary would be master again within about
	// 1.5 s (the restart below shows it); for twice that, nobody is.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		out := tc.lmstat(t)
		require.Empty(t, masterIn(out), "the tertiary and an impostor formed a quorum:\n%s", out)
	}
	assert.NotContains(t, impostor.log.String(), "CONNECTED, master is")
	// lmstat says why the link is down.
	assert.Contains(t, tc.lmstat(t), fmt.Sprintf("%d@127.0.0.1 <-> %d@127.0.0.3: down, authentication refused: ", tc.port, tc.port))
	after := tc.procs[2].log.String()
	after = after[strings.LastIndex(after, "Lost connection to 127.0.0.2"):]
	assert.NotContains(t, after, "CONNECTED, master is", "the tertiary followed nobody")
	_, err := triadClient(t, tc, "mallory").Checkout(ctx(t), "solver", "", 1)
	require.Error(t, err, "nothing is served")

	// The real primary comes back with the triad's key and its own log:
	// master again, and alice's license is still held.
	impostor.stop(t)
	tc.start(t, 0)
	out := tc.waitMaster(t, "127.0.0.1")
	assert.Contains(t, out, "Total of 1 license in use", "the holder survived")
}

func TestTriadMemberWithoutUsableKeyRefusesToStart(t *testing.T) {
	needBinaries(t)
	port := freePort(t, triadHosts[:]...)
	lic := writeTriadLicense(t, port)

	none := startLmgrd(t, "-c", lic, "-self", "127.0.0.1", "-cluster-key", "")
	require.Eventually(t, none.exited, 10*time.Second, 20*time.Millisecond)
	assert.Contains(t, none.log.String(), `make one with "lmutil lmkeygen -cluster FILE"`)

	loose := newClusterKey(t)
	require.NoError(t, os.Chmod(loose, 0o644))
	p := startLmgrd(t, "-c", lic, "-self", "127.0.0.1", "-cluster-key", loose)
	require.Eventually(t, p.exited, 10*time.Second, 20*time.Millisecond)
	assert.Contains(t, p.log.String(), "chmod 600")
	assert.NotContains(t, p.log.String(), "Started with redundant configuration")
}

func writeTriadLicense(t *testing.T, port int) string {
	t.Helper()
	lic := filepath.Join(t.TempDir(), "triad.lic")
	body := fmt.Sprintf("SERVER 127.0.0.1 ANY %d\nSERVER 127.0.0.2 ANY %d\nSERVER 127.0.0.3 ANY %d\nVENDOR demo\n"+
		"FEATURE solver demo 1.0 permanent 3 SIGN=0\n", port, port, port)
	require.NoError(t, writeSigned(lic, []byte(body), 0o644))
	return lic
}

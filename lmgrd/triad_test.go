package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/client"
	"github.com/lmtriad/lmtriad/clusterkey"
	"github.com/lmtriad/lmtriad/wire"
)

var triadHosts = [3]string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}

// triadCluster is three lmgrds on 127.0.0.1-3 sharing one port.
type triadCluster struct {
	port  int
	lic   string
	lics  [3]string // per member -c, when not empty (each its own license directory)
	extra [3][]string
	procs [3]*proc
}

func startTriad(t *testing.T, primaryIsMaster bool) *triadCluster {
	t.Helper()
	needBinaries(t)
	port := freePort(t, triadHosts[:]...)
	pim := ""
	if primaryIsMaster {
		pim = " PRIMARY_IS_MASTER"
	}
	body := fmt.Sprintf("SERVER 127.0.0.1 ANY %d%s\nSERVER 127.0.0.2 ANY %d\nSERVER 127.0.0.3 ANY %d\nVENDOR demo\n"+
		"FEATURE solver demo 1.0 permanent 3 SIGN=0\n", port, pim, port, port)
	lic := filepath.Join(t.TempDir(), "triad.lic")
	require.NoError(t, writeSigned(lic, []byte(body), 0o644))
	tc := &triadCluster{port: port, lic: lic}
	for i := range triadHosts {
		tc.start(t, i)
	}
	return tc
}

func (tc *triadCluster) start(t *testing.T, i int) {
	lic := tc.lic
	if tc.lics[i] != "" {
		lic = tc.lics[i]
	}
	tc.procs[i] = startLmgrd(t, append([]string{"-c", lic, "-self", triadHosts[i]}, tc.extra[i]...)...)
}

func (tc *triadCluster) path() string {
	parts := make([]string, 3)
	for i, h := range triadHosts {
		parts[i] = fmt.Sprintf("%d@%s", tc.port, h)
	}
	return strings.Join(parts, ",")
}

func (tc *triadCluster) kill(t *testing.T, i int) {
	require.NoError(t, tc.procs[i].cmd.Process.Signal(syscall.SIGKILL))
	<-tc.procs[i].done
}

// masterOf asks lmstat which server is (MASTER); "" when none.
func (tc *triadCluster) lmstat(t *testing.T) string {
	out, _ := lmutil(t, nil, "lmstat", "-a", "-c", tc.path())
	return out
}

func masterIn(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasSuffix(strings.TrimSpace(l), "(MASTER) v0.1") {
			return strings.TrimSpace(strings.SplitN(l, ":", 2)[0])
		}
	}
	return ""
}

// waitMaster waits for lmstat to name want as master. The bound is generous:
// a new triad's first election was once seen to take over 15 s under the
// race detector with the chaos suite running beside it (go test -count=2).
func (tc *triadCluster) waitMaster(t *testing.T, want string) string {
	t.Helper()
	var out string
	require.Eventually(t, func() bool {
		out = tc.lmstat(t)
		return masterIn(out) == want
	}, 30*time.Second, 100*time.Millisecond, "master never became %q; last lmstat:\n%s", want, out)
	return out
}

// waitSomeMaster waits until lmstat shows a master, whichever it is, and
// returns its host.
func (tc *triadCluster) waitSomeMaster(t *testing.T) string {
	t.Helper()
	var out string
	require.Eventually(t, func() bool {
		out = tc.lmstat(t)
		return masterIn(out) != ""
	}, 30*time.Second, 100*time.Millisecond, "no master; last lmstat:\n%s", out)
	return masterIn(out)
}

// checkoutReady is the first checkout on a master just elected: its vendor
// daemon answers -23 (new server connecting) until it holds the committed
// table, as FlexLM's does, so a server-away error is retried, for a while.
func checkoutReady(t *testing.T, c *client.Client, feature string, count int) *client.License {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lic, err := c.Checkout(ctx(t), feature, "", count)
		if err == nil {
			return lic
		}
		if !client.ServerAway(err) || time.Now().After(deadline) { // a denial ends the wait
			require.NoError(t, err, "the master never served")
		}
		<-time.After(50 * time.Millisecond) // poll, as a client that waits does
	}
}

func triadClient(t *testing.T, tc *triadCluster, user string) *client.Client {
	opts := client.NewOptions()
	opts.LicensePath = tc.path()
	opts.User, opts.Host = user, "ws"
	opts.HeartbeatInterval = 200 * time.Millisecond
	c, err := client.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTriadElectsPrimaryAndServesThroughAnyMember(t *testing.T) {
	tc := startTriad(t, false)
	out := tc.waitMaster(t, "127.0.0.1")
	assert.Contains(t, out, fmt.Sprintf("License server status: %d@127.0.0.1,%d@127.0.0.2,%d@127.0.0.3", tc.port, tc.port, tc.port))
	assert.Contains(t, out, "127.0.0.2: license server UP v0.1")
	assert.Contains(t, out, "127.0.0.3: license server UP v0.1")
	assert.Contains(t, out, "Cluster status: operational")

	// A client that knows only the tertiary is pointed to the master.
	opts := client.NewOptions()
	opts.LicensePath = fmt.Sprintf("%d@127.0.0.3", tc.port)
	c, err := client.New(opts)
	require.NoError(t, err)
	defer c.Close()
	lic := checkoutReady(t, c, "solver", 1)
	assert.Equal(t, fmt.Sprintf("%d@127.0.0.1", tc.port), lic.Server())
	tc.procs[0].waitLog(t, `OUT: "solver"`)
	assert.NotContains(t, tc.procs[2].log.String(), "OUT:", "the tertiary never serves")
}

func TestTriadFailoverToSecondaryAndClientRecovers(t *testing.T) {
	tc := startTriad(t, false)
	tc.waitMaster(t, "127.0.0.1")
	c := triadClient(t, tc, "alice")
	lic := checkoutReady(t, c, "solver", 1)
	require.Equal(t, fmt.Sprintf("%d@127.0.0.1", tc.port), lic.Server())

	killed := time.Now()
	tc.kill(t, 0)
	ev := waitEvent(t, lic, client.Lost)
	assert.NotNil(t, ev.Err)
	waitEvent(t, lic, client.Regained)
	t.Logf("license regained %v after the master's SIGKILL", time.Since(killed))
	assert.Equal(t, fmt.Sprintf("%d@127.0.0.2", tc.port), lic.Server())
	out := tc.waitMaster(t, "127.0.0.2")
	assert.Contains(t, out, "127.0.0.1: Cannot connect to license server system.")
	assert.Contains(t, out, "Cluster status: partially operational")
	assert.Contains(t, out, "Total of 1 license in use")

	// Without PRIMARY_IS_MASTER the secondary keeps the role when the primary returns.
	tc.start(t, 0)
	tc.procs[0].waitLog(t, "CONNECTED, master is 127.0.0.2")
	out = tc.waitMaster(t, "127.0.0.2")
	assert.Contains(t, out, "127.0.0.1: license server UP v0.1")
	assert.NotContains(t, tc.procs[2].log.String(), "OUT:", "the tertiary never serves")
}

func TestTriadPrimaryIsMasterTakesRoleBack(t *testing.T) {
	tc := startTriad(t, true)
	tc.waitMaster(t, "127.0.0.1")
	tc.kill(t, 0)
	tc.waitMaster(t, "127.0.0.2")
	tc.start(t, 0)
	tc.waitMaster(t, "127.0.0.1")
	_, err := triadClient(t, tc, "bob").Checkout(ctx(t), "solver", "", 1)
	require.NoError(t, err)
	tc.procs[0].waitLog(t, `OUT: "solver" bob@ws`)
}

func TestTriadWithoutPrimaryAndSecondaryServesNothing(t *testing.T) {
	tc := startTriad(t, false)
	tc.waitMaster(t, "127.0.0.1")
	tc.kill(t, 0)
	tc.kill(t, 1)
	var out string
	require.Eventually(t, func() bool {
		out = tc.lmstat(t)
		return strings.Contains(out, "Cluster status: not operational")
	}, 10*time.Second, 100*time.Millisecond, "lmstat:\n%s", out)
	assert.Empty(t, masterIn(out))

	opts := client.NewOptions()
	opts.LicensePath = tc.path()
	c, err := client.New(opts)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Checkout(ctx(t), "solver", "", 1)
	assert.ErrorIs(t, err, wire.ErrServBusy, "a lone tertiary answers -20, it never serves")
	assert.NotContains(t, tc.procs[2].log.String(), "OUT:")
	tc.procs[2].waitLog(t, "Lost quorum")
}

func TestTriadLmdownStopsAllThree(t *testing.T) {
	tc := startTriad(t, false)
	tc.waitMaster(t, "127.0.0.1")
	out, code := lmutil(t, nil, "lmdown", "-q", "-c", fmt.Sprintf("%d@127.0.0.2", tc.port))
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "3 FlexNet-compatible License Server(s) shut down")
	for i, p := range tc.procs {
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("member %d still running after lmdown", i)
		}
	}
	assert.Empty(t, pidsOf(t, tc.lic), "no vendor daemon left")
}

func TestTriadLmdownSelfStopsOneMember(t *testing.T) {
	tc := startTriad(t, false)
	tc.waitMaster(t, "127.0.0.1")
	out, code := lmutil(t, nil, "lmdown", "-q", "-self", "-c", fmt.Sprintf("%d@127.0.0.3", tc.port))
	require.Equal(t, 0, code, out)
	select {
	case <-tc.procs[2].done:
	case <-time.After(10 * time.Second):
		t.Fatal("tertiary still running")
	}
	assert.False(t, tc.procs[0].exited())
	assert.False(t, tc.procs[1].exited())
}

func TestTriadRejectsPeerWithDifferentServerLines(t *testing.T) {
	needBinaries(t)
	port := freePort(t, triadHosts[:]...)
	dir := t.TempDir()
	write := func(name, order string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, writeSigned(p, []byte(order+"VENDOR demo\nFEATURE solver demo 1.0 permanent 3 SIGN=0\n"), 0o644))
		return p
	}
	line := func(h string) string { return fmt.Sprintf("SERVER %s ANY %d\n", h, port) }
	good := write("good.lic", line("127.0.0.1")+line("127.0.0.2")+line("127.0.0.3"))
	swapped := write("swapped.lic", line("127.0.0.2")+line("127.0.0.1")+line("127.0.0.3"))
	a := startLmgrd(t, "-c", good, "-self", "127.0.0.1")
	b := startLmgrd(t, "-c", swapped, "-self", "127.0.0.2")
	a.waitLog(t, "Refused triad peer 127.0.0.2")
	b.waitLog(t, "Refused triad peer 127.0.0.1")
	b.waitLog(t, "do the SERVER lines differ?")
	assert.NotContains(t, a.log.String(), "CONNECTED, master is")
	assert.NotContains(t, b.log.String(), "CONNECTED, master is")
}

func waitEvent(t *testing.T, lic *client.License, kind client.EventKind) client.Event {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-lic.Events():
			require.True(t, ok, "events closed")
			if ev.Kind == kind {
				return ev
			}
			require.NotEqual(t, client.Failed, ev.Kind, "license failed: %v", ev.Err)
		case <-timeout:
			t.Fatalf("no %v event", kind)
		}
	}
}

func TestTriadMemberServingDifferentLicensesIsBroughtInLine(t *testing.T) {
	// Licenses are enrolled through the triad: a member that starts with
	// another copy of the license file is not kept out, it is brought in
	// line, and its copy kept aside.
	needBinaries(t)
	port := freePort(t, triadHosts[:]...)
	servers := fmt.Sprintf("SERVER 127.0.0.1 ANY %d\nSERVER 127.0.0.2 ANY %d\nSERVER 127.0.0.3 ANY %d\nVENDOR demo\n", port, port, port)
	write := func(dir, features string) string {
		dir = filepath.Join(t.TempDir(), dir)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		p := filepath.Join(dir, "triad.lic")
		require.NoError(t, writeSigned(p, []byte(servers+features), 0o644))
		return p
	}
	a := startLmgrd(t, "-c", write("a", "FEATURE solver demo 1.0 permanent 3 SIGN=0\n"), "-self", "127.0.0.1")
	bLic := write("b", "FEATURE solver demo 1.0 permanent 30 SIGN=0\n")
	b := startLmgrd(t, "-c", bLic, "-self", "127.0.0.2")
	b.waitLog(t, "CONNECTED, master is 127.0.0.1") // the first enrolment is the master's
	a.waitLog(t, "127.0.0.2: kept its differing copy of triad.lic as triad.lic.local-")
	b.waitLog(t, "Rereading license file(s): done")
	got, err := os.ReadFile(bLic)
	require.NoError(t, err)
	assert.Contains(t, string(got), "permanent 3 ")
	kept, err := filepath.Glob(bLic + ".local-*")
	require.NoError(t, err)
	require.Len(t, kept, 1)
	old, err := os.ReadFile(kept[0])
	require.NoError(t, err)
	assert.Contains(t, string(old), "permanent 30 ")
}

func TestTriadMemberRestartedAfterLicenseChangeRejoins(t *testing.T) {
	// The same new license file reaches all three (fsnotify rereads it);
	// a member restarted afterwards reads it at start and must still match
	// the two that reread it while running.
	tc := startTriad(t, false)
	tc.waitMaster(t, "127.0.0.1")
	body, err := os.ReadFile(tc.lic)
	require.NoError(t, err)
	require.NoError(t, writeSigned(tc.lic, append(body, []byte("FEATURE viewer demo 1.0 permanent 2 SIGN=0\n")...), 0o644))
	for _, p := range tc.procs {
		p.waitLog(t, "Rereading license file(s): done")
	}
	tc.kill(t, 2)
	tc.start(t, 2)
	tc.procs[2].waitLog(t, "CONNECTED, master is 127.0.0.1")
	assert.NotContains(t, tc.procs[2].log.String(), "mismatch")
	out := tc.waitMaster(t, "127.0.0.1")
	assert.Contains(t, out, "Cluster status: operational")
	assert.Contains(t, out, "Users of viewer:  (Total of 2 licenses issued;")
}

// A member passes lmdown on to its peers signed with the cluster key, so
// it works whatever address the request comes from (-remote-admin,
// -local); a DOWN claiming to come from a peer without a valid signature
// is refused and the member keeps running.
func TestTriadPeerLmdownMustBeSignedWithTheClusterKey(t *testing.T) {
	tc := startTriad(t, false)
	tc.waitMaster(t, "127.0.0.1")
	addr := fmt.Sprintf("127.0.0.3:%d", tc.port)
	var d net.Dialer
	c, hello, err := wire.Dial(ctx(t), &d, addr, wire.Hello("role", "admin", "user", "mallory", "host", "evil"), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NotEmpty(t, hello.Get("nonce"), "a triad member's admin greeting carries a challenge")
	other, err := clusterkey.FromBytes(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	forged := base64.RawURLEncoding.EncodeToString(other.Sign(peerDownProof(hello.Get("nonce"), addr)))
	_, _, err = c.Call(ctx(t), wire.New("DOWN", "scope", "self", "peer", forged))
	require.ErrorIs(t, err, wire.ErrNotLicAdmin)
	tc.procs[2].waitLog(t, "lmdown refused for mallory at evil")
	assert.False(t, tc.procs[2].exited())

	// The real thing: this triad's key, this session's challenge.
	key, err := clusterkey.Load(clusterKeyFile)
	require.NoError(t, err)
	_, _, err = c.Call(ctx(t), wire.New("DOWN", "scope", "self", "peer",
		base64.RawURLEncoding.EncodeToString(key.Sign(peerDownProof(hello.Get("nonce"), addr)))))
	require.NoError(t, err)
	select {
	case <-tc.procs[2].done:
	case <-time.After(10 * time.Second):
		t.Fatal("the member did not stop on its peer's signed lmdown")
	}
	tc.procs[2].waitLog(t, "SHUTDOWN request from triad peer mallory at evil")
}

// lmstat -c port@standby answers as FlexLM: all three servers, the master
// marked, the vendor daemons' status from the master, exit 0.
func TestLmstatThroughAStandbyShowsTheMaster(t *testing.T) {
	tc := startTriad(t, true)
	tc.waitMaster(t, "127.0.0.1")
	out, code := lmutil(t, nil, "lmstat", "-a", "-c", fmt.Sprintf("%d@127.0.0.2", tc.port))
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, fmt.Sprintf("License server status: %d@127.0.0.1,%d@127.0.0.2,%d@127.0.0.3", tc.port, tc.port, tc.port))
	assert.Contains(t, out, "127.0.0.1: license server UP (MASTER) v")
	assert.Contains(t, out, "Vendor daemon status (on 127.0.0.1):")
	assert.Contains(t, out, "demo: UP v")
	assert.Contains(t, out, "Users of solver:  (Total of 3 licenses issued;")
}

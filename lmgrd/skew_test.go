package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A member whose wall clock is two hours off is kept out of the quorum,
// logged on both sides and shown in lmstat; the other two serve. Its
// clock is shifted with lmgrd's hidden -clock-offset (the machine's clock
// is everyone's).
func TestTriadMemberWithSkewedClockIsKeptOut(t *testing.T) {
	needBinaries(t)
	port := freePort(t, triadHosts[:]...)
	tc := &triadCluster{port: port}
	tc.lic = filepath.Join(t.TempDir(), "triad.lic")
	require.NoError(t, writeSigned(tc.lic, []byte(tc.serverLines()+"VENDOR demo\nFEATURE solver demo 1.0 permanent 3 SIGN=0\n"), 0o644))
	tc.extra[2] = []string{"-clock-offset", "2h"}
	for i := range triadHosts {
		tc.start(t, i)
	}
	tc.waitMaster(t, "127.0.0.1")
	tc.procs[0].waitLog(t, "Clock of 127.0.0.3 differs from this server's by 2h0m0s (limit 1h0m0s): kept out of the triad until it is fixed")
	tc.procs[2].waitLog(t, "Clock of 127.0.0.1 differs from this server's by")

	link := fmt.Sprintf("%d@127.0.0.1 <-> %d@127.0.0.3: down, clock skew", port, port)
	var out string
	if !assert.Eventually(t, func() bool {
		out, _ = lmutil(t, nil, "lmstat", "-c", tc.path())
		return strings.Contains(out, link)
	}, 10*time.Second, 100*time.Millisecond) {
		t.Fatalf("lmstat does not say why the link is down:\n%s", out)
	}
	assert.Contains(t, out, "Cluster status: partially operational")
	member := fmt.Sprintf("    %d@127.0.0.3: ", port)
	require.Contains(t, out, member)
	line := out[strings.Index(out, member):]
	line = line[:strings.IndexByte(line, '\n')]
	assert.Contains(t, line, ", clock 2h0m0s ahead, over the limit of 1h0m0s", "the member's line in lmstat")
	c := triadClient(t, tc, "alice")
	_ = checkoutReady(t, c, "solver", 1).Checkin()
}

package main

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

// TestSeatOnlyItsHolderCanUse: an attacker who read the victim's user,
// host, display and pid (lmstat -a shows them) greets with them and asks
// for the victim's handle, then checks it in: both are refused, the victim
// keeps its seat, and neither lmstat nor the log shows the secret.
func TestSeatOnlyItsHolderCanUse(t *testing.T) {
	needBinaries(t)
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, t.TempDir(), "demo.lic", port, "FEATURE solver demo 1.0 permanent 1 SIGN=0\n")
	p := startLmgrd(t, "-c", lic)
	p.waitLog(t, "Serving features for the following vendor: demo")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	server := fmt.Sprintf("%d@127.0.0.1", port)

	greet := wire.Hello("vendor", "demo", "user", "victim", "host", "wkst7", "display", "/dev/pts/3", "pid", "4242")
	victim, _, err := wire.Dial(ctx(t), &net.Dialer{}, addr, greet, 10*time.Second)
	require.NoError(t, err)
	defer victim.Close()
	resp, _, err := victim.Call(ctx(t), wire.New("CHECKOUT", "feature", "solver"))
	require.NoError(t, err)
	handle, secret := resp.Get("handle"), resp.Get("secret")
	require.Len(t, secret, 32)

	out, _ := lmutil(t, nil, "lmstat", "-a", "-c", server)
	require.Contains(t, out, "victim wkst7 /dev/pts/3", out)

	attacker, _, err := wire.Dial(ctx(t), &net.Dialer{}, addr, greet, 10*time.Second)
	require.NoError(t, err)
	defer attacker.Close()
	_, _, err = attacker.Call(ctx(t), wire.New("CHECKOUT", "feature", "solver", "handle", handle))
	assert.ErrorIs(t, err, wire.ErrNeverCheckout, "reattach without the secret")
	_, _, err = attacker.Call(ctx(t), wire.New("CHECKOUT", "feature", "solver", "handle", handle, "secret", strings.Repeat("0", 32)))
	assert.ErrorIs(t, err, wire.ErrNeverCheckout, "reattach with a wrong secret")
	_, _, err = attacker.Call(ctx(t), wire.New("CHECKIN", "handle", handle))
	assert.ErrorIs(t, err, wire.ErrNeverCheckout, "checkin of another connection's handle")

	// The victim still holds it, over its own connection.
	resp, _, err = victim.Call(ctx(t), wire.New("HEARTBEAT"))
	require.NoError(t, err)
	assert.Equal(t, "1", resp.Get("held"))
	out, _ = lmutil(t, nil, "lmstat", "-a", "-c", server)
	assert.Contains(t, out, "victim wkst7 /dev/pts/3", out)
	assert.Contains(t, out, "Total of 1 license in use", out)
	assert.NotContains(t, out, secret)

	// The vendor daemon's lines reach lmgrd's log a little later.
	require.Eventually(t, func() bool {
		return strings.Contains(p.log.String(), "Refused checkin of handle "+handle)
	}, 10*time.Second, 20*time.Millisecond, "the refusals are logged")
	log := p.log.String()
	assert.Contains(t, log, "Refused reattach of handle "+handle)
	assert.Contains(t, log, "Refused checkin of handle "+handle)
	assert.Contains(t, log, "peer: 127.0.0.1:")
	assert.NotContains(t, log, secret)
}

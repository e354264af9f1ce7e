package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

// A client greeting with another's identity can neither reattach nor check
// in that client's handle without its secret; the holder can.
func TestSeatNeedsItsSecret(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", nil)
	victim := h.dial(t, "alice")
	resp, _, err := call(t, victim, "CHECKOUT", "feature", "f")
	require.NoError(t, err)
	handle, secret := resp.Get("handle"), resp.Get("secret")
	require.Len(t, secret, 32, "128 bits in hex")

	thief := h.dial(t, "alice") // same user, host, display and pid
	for _, kv := range [][]string{{}, {"secret", "00000000000000000000000000000000"}, {"secret", secret[:31]}} {
		_, _, err := call(t, thief, "CHECKOUT", append([]string{"feature", "f", "handle", handle}, kv...)...)
		require.ErrorIs(t, err, wire.ErrNeverCheckout, "reattach with %v", kv)
		assert.Contains(t, err.Error(), "wrong or missing secret")
	}
	_, _, err = call(t, thief, "CHECKIN", "handle", handle)
	require.ErrorIs(t, err, wire.ErrNeverCheckout)
	assert.Equal(t, "1", h.inUse(t, "f"))
	_, _, err = call(t, victim, "HEARTBEAT")
	require.NoError(t, err)

	_, recs, err := call(t, h.dial(t, "admin"), "STATUS")
	require.NoError(t, err)
	for _, r := range recs {
		assert.NotContains(t, r.String(), secret)
	}
	log := h.log.String()
	assert.Contains(t, log, "Refused reattach of handle "+handle)
	assert.Contains(t, log, "Refused checkin of handle "+handle)
	assert.Contains(t, log, "peer: 127.0.0.1:")
	assert.NotContains(t, log, secret)

	// The holder, over a new connection (a reconnect), with its secret.
	back := h.dial(t, "alice")
	resp, _, err = call(t, back, "CHECKOUT", "feature", "f", "handle", handle, "secret", secret)
	require.NoError(t, err)
	assert.Equal(t, handle, resp.Get("handle"))
	assert.Equal(t, secret, resp.Get("secret"))
	_, _, err = call(t, back, "CHECKIN", "handle", handle)
	require.NoError(t, err)
	assert.Equal(t, "0", h.inUse(t, "f"))
}

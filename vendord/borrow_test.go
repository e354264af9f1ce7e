package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

// A borrowed license outlives its connection, shows in STATUS (borrowed=,
// borrowed_until=), comes back by RETURN with its secret, or at its end.
func TestBorrowOutlivesTheConnection(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 2 BORROW=48 SIGN=0\n", withOptionsFile(t, "MAX_BORROW_HOURS f 24\n"))
	until := h.clock.Now().Add(12 * time.Hour).Unix()
	a := h.dial(t, "alice")
	_, _, err := call(t, a, "BORROW", "feature", "f", "until", strconv.FormatInt(h.clock.Now().Add(25*time.Hour).Unix(), 10))
	assert.ErrorIs(t, err, wire.ErrBorrowTooLong, "MAX_BORROW_HOURS lowers the line's 48")
	resp, _, err := call(t, a, "BORROW", "feature", "f", "until", strconv.FormatInt(until, 10))
	require.NoError(t, err)
	assert.Equal(t, strconv.FormatInt(until, 10), resp.Get("until"))
	handle, secret := resp.Get("handle"), resp.Get("secret")
	require.NotEmpty(t, secret)
	require.NoError(t, a.Close())

	time.Sleep(50 * time.Millisecond) // the session's close is handled
	c := h.dial(t, "admin")
	st, recs, err := call(t, c, "STATUS", "feature", "f")
	require.NoError(t, err)
	assert.Equal(t, "1", st.Get("borrowed"))
	assert.Equal(t, "1", recs[0].Get("inuse"))
	var holder wire.Message
	for _, r := range recs {
		if r.Verb == "HOLDER" {
			holder = r
		}
	}
	assert.Equal(t, strconv.FormatInt(until, 10), holder.Get("borrowed_until"))

	b := h.dial(t, "alice")
	_, _, err = call(t, b, "RETURN", "feature", "f", "handle", handle, "secret", "nope")
	assert.ErrorIs(t, err, wire.ErrNeverCheckout)
	_, _, err = call(t, b, "RETURN", "feature", "f", "handle", handle, "secret", secret)
	require.NoError(t, err)
	assert.Equal(t, "0", h.inUse(t, "f"))

	// Borrowed again, it comes back by itself at its end.
	_, _, err = call(t, b, "BORROW", "feature", "f", "until", strconv.FormatInt(until, 10))
	require.NoError(t, err)
	h.clock.Advance(12 * time.Hour)
	require.Eventually(t, func() bool { return h.inUse(t, "f") == "0" }, 5*time.Second, 5*time.Millisecond)
}

func TestBorrowDenials(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 2 SIGN=0\nFEATURE g demo 1.0 permanent 4 BORROW SIGN=0\n",
		withOptionsFile(t, "EXCLUDE_BORROW g USER bob\nBORROW_LOWWATER g 3\n"))
	until := strconv.FormatInt(h.clock.Now().Add(time.Hour).Unix(), 10)
	a := h.dial(t, "alice")
	_, _, err := call(t, a, "BORROW", "feature", "f", "until", until)
	assert.ErrorIs(t, err, wire.ErrNoneToBorrow, "f has no BORROW")
	_, _, err = call(t, h.dial(t, "bob"), "BORROW", "feature", "g", "until", until)
	assert.ErrorIs(t, err, wire.ErrFeatExclude)
	_, _, err = call(t, a, "BORROW", "feature", "g", "until", until)
	require.NoError(t, err)
	_, _, err = call(t, a, "BORROW", "feature", "g", "until", until)
	assert.ErrorIs(t, err, wire.ErrNoneToBorrow, "BORROW_LOWWATER keeps 3 of 4")
	_, _, err = call(t, a, "BORROW", "feature", "g")
	assert.ErrorIs(t, err, wire.ErrBadComm)
}

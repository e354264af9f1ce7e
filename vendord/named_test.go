package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

func TestPackageComponentsAreFeaturesAndThePackageIsNot(t *testing.T) {
	h := startDaemon(t, "FEATURE suite demo 2.0 permanent 1 SIGN=0\n"+
		`PACKAGE suite demo 2.0 COMPONENTS="solver viewer::2" SIGN=0`+"\n", nil)
	a := h.dial(t, "alice")
	resp, _, err := call(t, a, "CHECKOUT", "feature", "solver")
	require.NoError(t, err, "a component checks out as a feature")
	assert.Equal(t, "2.0", resp.Get("version"), "the component takes the package's version")
	_, _, err = call(t, h.dial(t, "bob"), "CHECKOUT", "feature", "solver")
	assert.ErrorIs(t, err, wire.ErrMaxUsers, "count 1 from the enabling line")
	for range 2 {
		_, _, err = call(t, a, "CHECKOUT", "feature", "viewer")
		require.NoError(t, err, "viewer::2 doubles the count")
	}
	_, _, err = call(t, a, "CHECKOUT", "feature", "suite")
	assert.ErrorIs(t, err, wire.ErrCantCheckoutJustPackage)
	_, _, err = call(t, a, "CHECKOUT", "feature", "nothing")
	assert.ErrorIs(t, err, wire.ErrNoFeature)
}

func TestUserBasedNamedUsersAndRecycle(t *testing.T) {
	h := startDaemon(t, "FEATURE cad demo 1.0 permanent 2 USER_BASED SIGN=0\n",
		withOptionsFile(t, "INCLUDE cad USER ann\nINCLUDE cad USER bob\nINCLUDE cad USER cid\n"))
	ann := h.dial(t, "ann")
	_, _, err := call(t, ann, "CHECKOUT", "feature", "cad")
	require.NoError(t, err)
	_, _, err = call(t, h.dial(t, "ann"), "CHECKOUT", "feature", "cad")
	require.NoError(t, err, "a named user's second session takes no second seat")
	bob := h.dial(t, "bob")
	resp, _, err := call(t, bob, "CHECKOUT", "feature", "cad")
	require.NoError(t, err)
	_, _, err = call(t, h.dial(t, "cid"), "CHECKOUT", "feature", "cad")
	assert.ErrorIs(t, err, wire.ErrMaxUsers, "two named users already")
	_, _, err = call(t, h.dial(t, "eve"), "CHECKOUT", "feature", "cad")
	assert.ErrorIs(t, err, wire.ErrFeatNotInclude)

	_, _, err = call(t, bob, "CHECKIN", "handle", resp.Get("handle"))
	require.NoError(t, err)
	admin := h.dial(t, "admin")
	_, _, err = call(t, admin, "RECYCLE", "feature", "cad", "user", "bob")
	assert.ErrorIs(t, err, wire.ErrRemoveTooSoon)
	assert.ErrorContains(t, err, "last used Fri 1/2/2026 03:04")
	_, _, err = call(t, admin, "RECYCLE", "feature", "cad", "user", "ann")
	assert.ErrorIs(t, err, wire.ErrRemoveTooSoon)
	assert.ErrorContains(t, err, "holds a license")
	_, _, err = call(t, admin, "RECYCLE", "feature", "cad", "user", "cid")
	assert.ErrorIs(t, err, wire.ErrNeverCheckout)

	h.clock.Advance(30 * 24 * time.Hour)
	_, _, err = call(t, admin, "RECYCLE", "feature", "cad", "user", "bob")
	require.NoError(t, err)
	assert.Contains(t, h.log.String(), "RECYCLE request from admin at h1")
	assert.Contains(t, h.log.String(), "RECYCLED named user bob of cad")
	_, _, err = call(t, h.dial(t, "cid"), "CHECKOUT", "feature", "cad")
	require.NoError(t, err, "bob's seat went to cid")

	_, recs, err := call(t, admin, "STATUS", "feature", "cad")
	require.NoError(t, err)
	var named []string
	for _, r := range recs {
		if r.Verb == "NAMED" {
			named = append(named, r.Get("user")+" "+r.Get("last_used"))
		}
	}
	start := h.clock.Now().Add(-30 * 24 * time.Hour)
	assert.Equal(t, []string{fmt.Sprintf("ann %d", start.Unix()), fmt.Sprintf("cid %d", h.clock.Now().Unix())}, named)
}

func TestAutoRecycleAtMidnightUTC(t *testing.T) {
	h := startDaemon(t, "FEATURE cad demo 1.0 permanent 1 USER_BASED SIGN=0\n", func(o *Options) {
		withOptionsFile(t, "INCLUDEALL USER ann\nINCLUDEALL USER bob\n")(o)
		o.AutoRecycle = true
	})
	ann := h.dial(t, "ann")
	resp, _, err := call(t, ann, "CHECKOUT", "feature", "cad")
	require.NoError(t, err)
	_, _, err = call(t, ann, "CHECKIN", "handle", resp.Get("handle"))
	require.NoError(t, err)
	time.Sleep(10 * h.expireEvery) // the loop has seen the start time

	// ann was last used at 03:04 on 2 January: eligible from 03:04 on
	// 1 February, recycled at the next 00:00 UTC (2 February), not before.
	for _, step := range []time.Duration{29*24*time.Hour + 20*time.Hour, time.Hour, 23 * time.Hour} {
		h.clock.Advance(step)
		time.Sleep(10 * h.expireEvery)
		_, _, err = call(t, h.dial(t, "bob"), "CHECKOUT", "feature", "cad")
		require.ErrorIs(t, err, wire.ErrMaxUsers, "at %v", h.clock.Now())
	}
	h.clock.Advance(time.Hour) // past 00:00 UTC
	require.Eventually(t, func() bool { return strings.Contains(h.log.String(), "RECYCLED (automatic) named user ann of cad") },
		5*time.Second, 5*time.Millisecond)
	_, _, err = call(t, h.dial(t, "bob"), "CHECKOUT", "feature", "cad")
	require.NoError(t, err)
}

func TestNextMidnightUTC(t *testing.T) {
	for _, tt := range []struct{ in, want time.Time }{
		{time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 2, 1, 1, 0, 0, 0, time.FixedZone("", 2*3600)), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if got := nextMidnightUTC(tt.in); !got.Equal(tt.want) {
			t.Errorf("nextMidnightUTC(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

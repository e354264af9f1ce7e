package main

import (
	"testing"

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

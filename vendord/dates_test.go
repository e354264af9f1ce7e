package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/wire"
)

// A feature whose every line is expired, or starts later, is answered with
// FlexLM's own code (-10, -31), not -5 as if it did not exist; a feature
// with a serving line beside an expired one is served.
func TestOutOfDateFeaturesGetTheirOwnCodes(t *testing.T) {
	// The harness's clock stands at 2-jan-2026.
	h := startDaemon(t, "FEATURE old demo 1.0 1-jan-2025 2 SIGN=0\n"+
		"FEATURE soon demo 1.0 permanent 2 START=1-feb-2026 SIGN=0\n"+
		"INCREMENT both demo 1.0 1-jan-2025 5 SIGN=0\n"+
		"INCREMENT both demo 1.0 permanent 1 SIGN=0\n", nil)
	c := h.dial(t, "alice")
	tests := []struct {
		feature string
		code    int
	}{
		{"old", wire.CodeLongGone},
		{"soon", wire.CodeTooEarly},
		{"nosuch", wire.CodeNoFeature},
	}
	for _, tt := range tests {
		_, _, err := call(t, c, "CHECKOUT", "feature", tt.feature)
		var we *wire.Error
		require.ErrorAs(t, err, &we, tt.feature)
		assert.Equal(t, tt.code, we.Code, "%s: %v", tt.feature, err)
	}
	_, _, err := call(t, c, "CHECKOUT", "feature", "both")
	require.NoError(t, err, "the serving line of both is granted")
	_, _, err = call(t, h.dial(t, "bob"), "CHECKOUT", "feature", "both")
	assert.ErrorIs(t, err, wire.ErrMaxUsers, "the expired line's 5 licenses do not count")
}

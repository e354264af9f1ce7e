package flexlog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestThrottleLetsOneThroughPerIntervalAndCountsTheRest(t *testing.T) {
	var th Throttle
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		at   time.Duration
		ok   bool
		held int
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{4 * time.Second, false, 0},
		{5 * time.Second, true, 2},
		{6 * time.Second, false, 0},
		{20 * time.Second, true, 1},
	} {
		ok, held := th.Allow(t0.Add(step.at), 5*time.Second)
		assert.Equal(t, step.ok, ok, "at %v", step.at)
		assert.Equal(t, step.held, held, "at %v", step.at)
	}
}

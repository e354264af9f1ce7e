package flexlog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNextTimestamp(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	tests := []struct{ now, want time.Time }{
		{time.Date(2026, 11, 28, 0, 0, 0, 0, loc), time.Date(2026, 11, 28, 6, 0, 0, 0, loc)},
		{time.Date(2026, 11, 28, 5, 59, 59, 0, loc), time.Date(2026, 11, 28, 6, 0, 0, 0, loc)},
		{time.Date(2026, 11, 28, 6, 0, 0, 0, loc), time.Date(2026, 11, 28, 12, 0, 0, 0, loc)},
		{time.Date(2026, 11, 28, 17, 3, 0, 0, loc), time.Date(2026, 11, 28, 18, 0, 0, 0, loc)},
		{time.Date(2026, 11, 28, 23, 59, 0, 0, loc), time.Date(2026, 11, 29, 0, 0, 0, 0, loc)},
		{time.Date(2026, 12, 31, 18, 0, 0, 1, loc), time.Date(2027, 1, 1, 0, 0, 0, 0, loc)},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, NextTimestamp(tt.now), "%v", tt.now)
	}
	assert.Equal(t, "TIMESTAMP 1/2/2027", Timestamp(time.Date(2027, 1, 2, 3, 4, 5, 0, loc)))
}

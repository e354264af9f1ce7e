package main

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// However many scrapes arrive at once, the vendor daemons are asked at
// most once per snapshotMaxAge.
func TestSnapshotCacheAsksOncePerAge(t *testing.T) {
	var c snapshotCache
	var asked atomic.Int32
	var mu sync.Mutex
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	fetch := func() []vendorSnapshot {
		asked.Add(1)
		return []vendorSnapshot{{name: "demo", up: true}}
	}
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := c.get(clock, fetch)
			assert.Equal(t, "demo", got[0].name)
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), asked.Load(), "a flood of requests asks once")

	mu.Lock()
	now = now.Add(snapshotMaxAge - time.Millisecond)
	mu.Unlock()
	c.get(clock, fetch)
	assert.Equal(t, int32(1), asked.Load())
	mu.Lock()
	now = now.Add(time.Millisecond)
	mu.Unlock()
	c.get(clock, fetch)
	assert.Equal(t, int32(2), asked.Load(), "asked again once the round is old")
}

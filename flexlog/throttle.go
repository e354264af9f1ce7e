package flexlog

import (
	"sync"
	"time"
)

// Throttle lets a repeated log line through at most once per interval and
// counts the ones it held back, so a flood (refused peers, connections past
// the limit, accept failures) cannot fill the debug log.
type Throttle struct {
	mu   sync.Mutex
	last time.Time // when an event was last let through
	held int       // events held back since
	seen bool      // one was let through already
}

// Allow reports whether the event at now may be logged and how many were
// held back since the last one that was.
func (t *Throttle) Allow(now time.Time, every time.Duration) (bool, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen && now.Sub(t.last) < every {
		t.held++
		return false, 0
	}
	held := t.held
	t.last, t.held, t.seen = now, 0, true
	return true, held
}

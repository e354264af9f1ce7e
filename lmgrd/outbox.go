package main

import (
	"sync"

	"github.com/lmtriad/lmtriad/vendorctl"
)

// outbox carries the triad's messages to one vendor daemon (its table,
// role, committed and rejected changes) in order, from a goroutine of its
// own: the raft loop never waits on a daemon. A daemon busy with a flood of
// reconnecting clients (or lmgrd's own handoffs of them, which share the
// channel) once held the loop past the election timeout, and the master
// lost its role under the load its takeover had caused.
type outbox struct {
	mu     sync.Mutex
	wake   chan struct{}
	queue  []outMsg
	closed bool
}

// outMsg is one message: exactly one of its fields is set.
type outMsg struct {
	table     *vendorctl.Table
	role      *vendorctl.Role
	committed *vendorctl.Committed
	rejected  *vendorctl.Rejected
}

func newOutbox() *outbox { return &outbox{wake: make(chan struct{}, 1)} }

// push queues m. Consecutive Committed messages of one generation become
// the last one ("changes up to Seq"), so the queue stays short however
// slowly the daemon reads.
func (o *outbox) push(m outMsg) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	if n := len(o.queue); n > 0 && m.committed != nil {
		if last := o.queue[n-1].committed; last != nil && last.Gen == m.committed.Gen && last.Seq <= m.committed.Seq {
			*last = *m.committed
			o.mu.Unlock()
			return
		}
	}
	o.queue = append(o.queue, m)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// close drops what is queued; the daemon is gone.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed, o.queue = true, nil
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// run sends what is queued until close. A send error means the daemon's
// channel is gone; the supervisor closes the outbox then.
func (o *outbox) run(ctl *vendorctl.Channel) {
	for range o.wake {
		for {
			o.mu.Lock()
			if o.closed {
				o.mu.Unlock()
				return
			}
			if len(o.queue) == 0 {
				o.mu.Unlock()
				break
			}
			m := o.queue[0]
			o.queue[0] = outMsg{}
			o.queue = o.queue[1:]
			o.mu.Unlock()
			var err error
			switch {
			case m.table != nil:
				err = ctl.SendTable(*m.table)
			case m.role != nil:
				err = ctl.SendRole(*m.role)
			case m.committed != nil:
				err = ctl.SendCommitted(*m.committed)
			case m.rejected != nil:
				err = ctl.SendRejected(*m.rejected)
			}
			if err != nil {
				o.close()
				return
			}
		}
	}
}

package main

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/table"
	"github.com/lmtriad/lmtriad/vendorctl"
	"github.com/lmtriad/lmtriad/wire"
)

// commitTimeout bounds how long a client waits for the triad to commit its
// change; past it the client gets -23 and retries.
const commitTimeout = 2 * time.Second

// committer sends a triad master's changes to lmgrd, which proposes them to
// the triad's raft log, and wakes the clients waiting for them once lmgrd
// says they are committed. Changes queued while a batch is on its way go
// together in the next one (group commit). Waiting clients sit in a heap
// ordered by the Seq they need, so a commit wakes exactly those it satisfies.
type committer struct {
	gen    uint64 // the table generation the changes are made on
	vendor string
	ctl    *vendorctl.Channel

	mu        sync.Mutex
	queue     []pool.Delta
	committed uint64
	waiters   waiterHeap
	failed    bool
	wake      chan struct{}
	done      chan struct{} // closed by fail
}

func newCommitter(gen, seq uint64, vendor string, ctl *vendorctl.Channel) *committer {
	return &committer{gen: gen, vendor: vendor, ctl: ctl, committed: seq,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// append queues deltas; the caller holds d.mu, so they are in Seq order.
func (c *committer) append(deltas []pool.Delta) {
	if len(deltas) == 0 {
		return
	}
	c.mu.Lock()
	c.queue = append(c.queue, deltas...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run sends the queued changes until ctx ends or the committer fails.
func (c *committer) run(ctx context.Context) {
	var batch []pool.Delta
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-c.wake:
		}
		c.mu.Lock()
		batch, c.queue = c.queue, batch[:0]
		c.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		entry, err := table.EncodeEntry(table.Entry{Vendor: c.vendor, Gen: c.gen, Deltas: batch})
		if err == nil {
			err = c.ctl.SendPropose(vendorctl.Propose{Gen: c.gen, Seq: batch[len(batch)-1].Seq, Entry: entry})
		}
		if err != nil {
			// The changes are lost to the log: the daemon's table is ahead
			// of the triad's. Fail, and wait for lmgrd's table.
			c.fail()
			return
		}
		clear(batch)
	}
}

// ack records that the log holds every change up to seq.
func (c *committer) ack(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.committed = max(c.committed, seq)
	for c.waiters.Len() > 0 && c.waiters[0].seq <= c.committed {
		close(heap.Pop(&c.waiters).(waiter).ch)
	}
}

// fail wakes every waiter without a commit: these changes will not be
// committed as made.
func (c *committer) fail() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.failed {
		c.failed = true
		close(c.done)
	}
}

// wait waits until the log holds every change up to seq, or the committer
// fails, or timeout passes.
func (c *committer) wait(seq uint64, timeout time.Duration) bool {
	c.mu.Lock()
	if c.committed >= seq {
		c.mu.Unlock()
		return true
	}
	if c.failed {
		c.mu.Unlock()
		return false
	}
	ch := make(chan struct{})
	heap.Push(&c.waiters, waiter{seq: seq, ch: ch})
	c.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-c.done:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.committed >= seq && !c.failed
}

type waiter struct {
	seq uint64
	ch  chan struct{}
}

// waiterHeap is a min-heap of waiters by seq (container/heap).
type waiterHeap []waiter

func (h waiterHeap) Len() int           { return len(h) }
func (h waiterHeap) Less(i, j int) bool { return h[i].seq < h[j].seq }
func (h waiterHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *waiterHeap) Push(x any)        { *h = append(*h, x.(waiter)) }
func (h *waiterHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	*h = old[:len(old)-1]
	return w
}

// setRole applies lmgrd's Role. A triad member's daemon grants once lmgrd
// says it serves generation gen and it holds that generation's table.
func (d *daemon) setRole(m vendorctl.Role) {
	r := &role{serving: m.Serving, lease: m.Lease, master: m.Master, code: wire.CodeServBusy, gen: m.Gen}
	if m.Code != 0 {
		r.code = m.Code
	}
	old := d.role.Swap(r)
	if d.opts.Triad {
		if r.serving {
			d.maybeServe()
		} else {
			d.stepDown()
		}
	}
	if old.serving != r.serving || old.code != r.code {
		if r.serving {
			d.log.Info("Serving licenses (this server is the master)")
		} else {
			d.log.Info("Not serving licenses (no quorum or not the master)")
		}
	}
}

// maybeServe starts granting when lmgrd says to serve the generation whose
// table this daemon holds and that table is ready.
func (d *daemon) maybeServe() {
	d.mu.Lock()
	r := d.role.Load()
	if d.master.Load() || !r.serving || r.gen != d.gen || !d.ready {
		d.mu.Unlock()
		return
	}
	d.master.Store(true)
	holders := d.pool.Holders()
	d.mu.Unlock()
	d.log.Infof("Took over as master: %d license holder(s) kept", holders)
}

// takeTable adopts the committed license table lmgrd hands over. A table
// without pools is a triad's first: this daemon's pools go into the log
// first.
func (d *daemon) takeTable(t vendorctl.Table) {
	snap, err := table.DecodeSnapshot(t.Snapshot)
	var st *pool.State
	if err == nil {
		st, err = pool.Restore(snap, d.poolOptions())
	}
	if err != nil {
		d.log.WithError(err).Error("Cannot read the license table lmgrd handed over; not serving")
		return
	}
	d.stepDown()
	d.mu.Lock()
	if d.commit != nil {
		d.commit.fail()
	}
	d.pool, d.gen, d.ready = st, t.Gen, false
	d.pool.TouchAll(d.now()) // holders get a full heartbeat timeout to reattach
	c := newCommitter(t.Gen, st.Seq(), d.opts.Vendor, d.ctl)
	d.commit = c
	var first []pool.Delta
	if len(snap.Pools) == 0 {
		first = d.pool.Reload(d.pools, d.now())
		c.append(first)
	} else {
		d.ready = true
	}
	seq := d.pool.Seq()
	d.mu.Unlock()
	d.wg.Add(1)
	go func() { defer d.wg.Done(); c.run(d.ctx) }()
	if len(first) == 0 {
		d.maybeServe()
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for !c.wait(seq, commitTimeout) {
			if d.ctx.Err() != nil || c.isFailed() {
				return
			}
		}
		d.mu.Lock()
		if d.commit == c {
			d.ready = true
		}
		d.mu.Unlock()
		d.maybeServe()
	}()
}

func (c *committer) isFailed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// rejected: lmgrd will not commit this generation's changes as made. Stop
// granting; lmgrd hands over the committed table next.
func (d *daemon) rejected(m vendorctl.Rejected) {
	d.mu.Lock()
	c := d.commit
	if c == nil || c.gen != m.Gen {
		d.mu.Unlock()
		return
	}
	c.fail()
	d.ready = false
	d.master.Store(false) // clients stay connected: they get -23 until the table is back
	d.mu.Unlock()
	d.log.Warnf("The triad did not commit this daemon's changes (%s); taking its table again", m.Reason)
}

// stepDown stops granting; clients served here are disconnected, so they
// reattach on the master.
func (d *daemon) stepDown() {
	if !d.master.CompareAndSwap(true, false) {
		return
	}
	d.log.Info("No longer the master: disconnecting clients")
	d.closeClients()
}

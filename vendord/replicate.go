package main

import (
	"bufio"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/pool"
	"github.com/lmtriad/lmtriad/wire"
)

// Replication keeps the license table of a triad's master on its peers, so
// that a new master takes over every holder (issue: checkouts survive
// failover). The master's vendor daemon streams each pool delta to the
// vendor daemons of both peers and answers a checkout or checkin only once
// at least one peer has acknowledged it: with the master, a quorum holds
// every answered change. A new master first adopts the newest state held in
// its quorum (highest epoch, then sequence), then serves under a new epoch.
//
// Stream, on a connection the peer's lmgrd hands to its vendor daemon:
//
//	→ HELLO proto=1 role=replica vendor=V rank=R servers=... epoch=E
//	← OK epoch=E' seq=S'                  the replica's state
//	→ SNAP epoch=E seq=S records=N        when E' != E or S' is too old,
//	  POOL json=... / HOLDER json=...     then the pools and holders
//	→ DELTA epoch=E json=...              every delta, in seq order
//	← ACK seq=S                           after each burst applied
//
// A new master asks its peers first: HELLO role=fetch → OK epoch= seq=,
// then FETCH → a SNAP as above when the peer's state is newer.

const (
	// replLogWindow is how many recent deltas (at least) the master keeps
	// for a peer that reconnects; one further behind gets a snapshot.
	replLogWindow = 1 << 16
	// replMaxLine bounds one replication line (a Reload delta carries pools).
	replMaxLine = 64 << 20
	// ackTimeout bounds how long a client waits for a peer to hold its change.
	ackTimeout = 2 * time.Second
)

// replication is the master's side: the delta log and the peers' acks.
// Waiting clients sit in a heap ordered by the sequence they need, so an
// ack wakes exactly those it satisfies; each peer's sender has its own
// wake-up channel. (A shared sync.Cond woke every waiter on every ack: with
// a thousand clients that was most of the master's CPU.)
type replication struct {
	d     *daemon
	epoch uint64

	mu       sync.Mutex
	log      []pool.Delta
	logBase  uint64 // seq of the delta before log[0]
	acked    map[int]uint64
	ackedMax uint64
	waiters  waiterHeap
	wake     map[int]chan struct{} // per peer: new deltas in the log
	done     chan struct{}         // closed by close
	closed   bool
}

func newReplication(d *daemon, epoch, seq uint64) *replication {
	return &replication{d: d, epoch: epoch, logBase: seq, acked: map[int]uint64{},
		wake: map[int]chan struct{}{}, done: make(chan struct{})}
}

// append queues deltas for the peers. The caller holds d.mu, so the log is
// in seq order.
func (r *replication) append(deltas []pool.Delta) {
	if len(deltas) == 0 {
		return
	}
	r.mu.Lock()
	r.log = append(r.log, deltas...)
	// Trim to the window only once it has doubled, so the copy is paid
	// once per window of appends, not on every append.
	if len(r.log) > 2*replLogWindow {
		over := len(r.log) - replLogWindow
		r.logBase += uint64(over)
		r.log = append(make([]pool.Delta, 0, 2*replLogWindow), r.log[over:]...)
	}
	for _, ch := range r.wake {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	r.mu.Unlock()
}

// waitAcked waits until a peer holds every delta up to seq.
func (r *replication) waitAcked(seq uint64, timeout time.Duration) bool {
	r.mu.Lock()
	if r.ackedMax >= seq {
		r.mu.Unlock()
		return true
	}
	if r.closed {
		r.mu.Unlock()
		return false
	}
	ch := make(chan struct{})
	heap.Push(&r.waiters, waiter{seq: seq, ch: ch})
	r.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-r.done:
	}
	// A late ack may have come in meanwhile.
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ackedMax >= seq
}

// ack records that peer rank holds everything up to seq.
func (r *replication) ack(rank int, seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acked[rank] = max(r.acked[rank], seq)
	r.ackedMax = max(r.ackedMax, seq)
	for r.waiters.Len() > 0 && r.waiters[0].seq <= r.ackedMax {
		close(heap.Pop(&r.waiters).(waiter).ch)
	}
}

func (r *replication) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.done)
	}
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

// run keeps a stream open to every peer until ctx ends.
func (r *replication) run(ctx context.Context) {
	var wg sync.WaitGroup
	for rank, addr := range r.d.opts.Servers {
		if rank == r.d.opts.Rank {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); r.feed(ctx, rank, addr) }()
	}
	<-ctx.Done()
	r.close()
	wg.Wait()
}

// feed streams the log to one peer, reconnecting as needed.
func (r *replication) feed(ctx context.Context, rank int, addr string) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := r.stream(ctx, rank, addr)
		if ctx.Err() != nil {
			return
		}
		r.d.log.WithError(err).Debugf("Replication to %s interrupted", addr)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (r *replication) stream(ctx context.Context, rank int, addr string) error {
	conn, reply, err := r.d.dialPeer(ctx, addr, "replica", "epoch", strconv.FormatUint(r.epoch, 10))
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	theirEpoch, _ := reply.Uint64("epoch")
	theirSeq, _ := reply.Uint64("seq")

	w := bufio.NewWriterSize(conn, 64<<10)
	r.mu.Lock()
	last := r.logBase + uint64(len(r.log))
	resume := theirEpoch == r.epoch && theirSeq >= r.logBase && theirSeq <= last
	r.mu.Unlock()
	next := theirSeq + 1
	if !resume {
		seq, err := r.sendSnapshot(w)
		if err != nil {
			return err
		}
		next = seq + 1
	}
	go r.readAcks(conn, rank)

	r.mu.Lock()
	wake := make(chan struct{}, 1)
	r.wake[rank] = wake
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.wake, rank)
		r.mu.Unlock()
	}()
	var batch []pool.Delta
	for {
		r.mu.Lock()
		if r.logBase+uint64(len(r.log)) < next {
			r.mu.Unlock()
			select {
			case <-wake:
			case <-r.done:
				return nil
			}
			continue
		}
		if next <= r.logBase {
			r.mu.Unlock()
			return errors.New("peer fell behind the replication window")
		}
		batch = append(batch[:0], r.log[next-r.logBase-1:]...)
		r.mu.Unlock()
		for i := range batch {
			line, err := deltaLine(r.epoch, &batch[i])
			if err != nil {
				return err
			}
			w.WriteString(line)
			w.WriteByte('\n')
		}
		_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := w.Flush(); err != nil {
			return err
		}
		next += uint64(len(batch))
	}
}

func deltaLine(epoch uint64, d *pool.Delta) (string, error) {
	js, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	m := wire.New("DELTA", "epoch", strconv.FormatUint(epoch, 10), "json", string(js))
	return m.String(), nil
}

// sendSnapshot writes the pool as it is now; the log holds every delta
// after it, since both are taken under d.mu.
func (r *replication) sendSnapshot(w *bufio.Writer) (uint64, error) {
	r.d.mu.Lock()
	snap := r.d.pool.Snapshot()
	r.d.mu.Unlock()
	if err := writeSnapshot(w, r.epoch, snap); err != nil {
		return 0, err
	}
	return snap.Seq, nil
}

func writeSnapshot(w *bufio.Writer, epoch uint64, snap pool.Snapshot) error {
	head := wire.New("SNAP", "epoch", strconv.FormatUint(epoch, 10), "seq", strconv.FormatUint(snap.Seq, 10),
		"next_handle", strconv.FormatUint(snap.NextHandle, 10),
		"records", strconv.Itoa(len(snap.Pools)+len(snap.Holders)))
	w.WriteString(head.String())
	w.WriteByte('\n')
	for i := range snap.Pools {
		js, err := json.Marshal(&snap.Pools[i])
		if err != nil {
			return err
		}
		w.WriteString(wire.New("POOL", "json", string(js)).String())
		w.WriteByte('\n')
	}
	for i := range snap.Holders {
		js, err := json.Marshal(&snap.Holders[i])
		if err != nil {
			return err
		}
		w.WriteString(wire.New("HOLDER", "json", string(js)).String())
		w.WriteByte('\n')
	}
	return w.Flush()
}

func readSnapshot(r *wire.Reader, head wire.Message) (uint64, pool.Snapshot, error) {
	var snap pool.Snapshot
	epoch, err1 := head.Uint64("epoch")
	seq, err2 := head.Uint64("seq")
	next, err3 := head.Uint64("next_handle")
	n, err4 := head.Int("records")
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return 0, snap, err
	}
	snap.Seq, snap.NextHandle = seq, next
	for i := 0; i < n; i++ {
		rec, err := r.ReadMessage()
		if err != nil {
			return 0, snap, err
		}
		switch rec.Verb {
		case "POOL":
			snap.Pools = append(snap.Pools, licfile.Pool{})
			if err := json.Unmarshal([]byte(rec.Get("json")), &snap.Pools[len(snap.Pools)-1]); err != nil {
				return 0, snap, fmt.Errorf("snapshot pool: %w", err)
			}
		case "HOLDER":
			var h pool.Holder
			if err := json.Unmarshal([]byte(rec.Get("json")), &h); err != nil {
				return 0, snap, fmt.Errorf("snapshot holder: %w", err)
			}
			snap.Holders = append(snap.Holders, h)
		default:
			return 0, snap, fmt.Errorf("snapshot: unexpected %s", rec.Verb)
		}
	}
	return epoch, snap, nil
}

func (r *replication) readAcks(conn net.Conn, rank int) {
	rd := wire.NewReader(conn)
	for {
		m, err := rd.ReadMessage()
		if err != nil || m.Verb != "ACK" {
			conn.Close()
			return
		}
		seq, err := m.Uint64("seq")
		if err != nil {
			conn.Close()
			return
		}
		r.ack(rank, seq)
	}
}

// dialPeer connects to a peer's lmgrd, which hands the connection to its
// vendor daemon for this vendor, and greets it with role. It dials from
// this server's own SERVER host, which the peer checks.
func (d *daemon) dialPeer(ctx context.Context, addr, role string, kv ...string) (net.Conn, wire.Message, error) {
	var dl net.Dialer
	if ip := net.ParseIP(d.opts.ServerHost); ip != nil {
		dl.LocalAddr = &net.TCPAddr{IP: ip}
	}
	hello := wire.Hello(append([]string{"role", role, "vendor", d.opts.Vendor, "rank", strconv.Itoa(d.opts.Rank),
		"servers", strings.Join(d.opts.Servers, ",")}, kv...)...)
	c, reply, err := wire.Dial(ctx, &dl, addr, hello, 2*time.Second)
	if err != nil {
		return nil, reply, err
	}
	return c.Raw(), reply, nil
}

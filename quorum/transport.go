package quorum

import (
	"errors"
	"math/rand/v2"
	"sync"
)

// Transport carries Messages between the three servers. Delivery is best effort:
// messages may be lost, delayed, duplicated or reordered without harming safety
// (the protocol only loses liveness while that lasts).
type Transport interface {
	// Send queues m for the server of rank m.To. It does not block on the network;
	// an error means m was not queued (e.g. the transport is closed).
	Send(m Message) error
	// Recv delivers messages addressed to this server. The transport sets From
	// from the connection's identity. The channel is closed by Close.
	Recv() <-chan Message
	// Close releases the transport; Send fails afterwards.
	Close() error
}

// ErrClosed is returned by Send on a closed transport.
var ErrClosed = errors.New("quorum: transport closed")

// inmemBuffer is the capacity of an in-memory endpoint; messages beyond it are
// dropped, like a congested network would.
const inmemBuffer = 4096

// InmemNetwork connects three in-memory transports and lets tests break the
// network: cut links, isolate servers, drop messages. It is safe for
// concurrent use. Links are cut in both directions unless CutOneWay is used.
type InmemNetwork struct {
	mu   sync.Mutex
	eps  [Size]*InmemTransport
	cut  [Size][Size]bool // cut[from][to]
	drop func(Message) bool
}

// NewInmemNetwork returns a network with all links up and no drops.
func NewInmemNetwork() *InmemNetwork {
	n := &InmemNetwork{}
	for r := range n.eps {
		n.eps[r] = &InmemTransport{net: n, rank: r, ch: make(chan Message, inmemBuffer)}
	}
	return n
}

// Transport returns the endpoint of server rank.
func (n *InmemNetwork) Transport(rank int) *InmemTransport { return n.eps[rank] }

// Cut breaks the link between a and b in both directions.
func (n *InmemNetwork) Cut(a, b int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[a][b], n.cut[b][a] = true, true
}

// CutOneWay drops messages from `from` to `to` only.
func (n *InmemNetwork) CutOneWay(from, to int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[from][to] = true
}

// Heal restores the link between a and b in both directions.
func (n *InmemNetwork) Heal(a, b int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[a][b], n.cut[b][a] = false, false
}

// Isolate cuts every link of rank.
func (n *InmemNetwork) Isolate(rank int) {
	for r := range Size {
		if r != rank {
			n.Cut(rank, r)
		}
	}
}

// Partition cuts every link between servers of different groups and heals the
// links inside each group; a server in no group is isolated.
func (n *InmemNetwork) Partition(groups ...[]int) {
	group := [Size]int{-1, -2, -3}
	for g, members := range groups {
		for _, r := range members {
			group[r] = g
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for a := range Size {
		for b := range Size {
			n.cut[a][b] = a != b && group[a] != group[b]
		}
	}
}

// HealAll restores every link. It does not remove a Drop predicate.
func (n *InmemNetwork) HealAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut = [Size][Size]bool{}
}

// Drop installs a predicate that drops the messages it returns true for
// (nil drops nothing). See DropRandomly.
func (n *InmemNetwork) Drop(pred func(Message) bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.drop = pred
}

// Connected reports whether messages from a reach b.
func (n *InmemNetwork) Connected(a, b int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.cut[a][b]
}

// DropRandomly returns a Drop predicate that drops each message with
// probability p, drawing from rng (seed it for a reproducible test). The
// predicate serializes its use of rng.
func DropRandomly(p float64, rng *rand.Rand) func(Message) bool {
	var mu sync.Mutex
	return func(Message) bool {
		mu.Lock()
		defer mu.Unlock()
		return rng.Float64() < p
	}
}

func (n *InmemNetwork) deliver(m Message) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	src := n.eps[m.From]
	if src.closed {
		return ErrClosed
	}
	if m.To < 0 || m.To >= Size || m.To == m.From {
		return ErrBadMessage
	}
	dst := n.eps[m.To]
	if dst.closed || n.cut[m.From][m.To] || (n.drop != nil && n.drop(m)) {
		return nil // lost on the way, as on a real network
	}
	select {
	case dst.ch <- m:
	default: // receiver's buffer full: lost
	}
	return nil
}

// InmemTransport is one server's endpoint on an InmemNetwork.
type InmemTransport struct {
	net    *InmemNetwork
	rank   int
	ch     chan Message
	closed bool // guarded by net.mu
}

var _ Transport = (*InmemTransport)(nil)

// Send implements Transport. It sets m.From to this endpoint's rank.
func (t *InmemTransport) Send(m Message) error {
	m.From = t.rank
	return t.net.deliver(m)
}

// Recv implements Transport.
func (t *InmemTransport) Recv() <-chan Message { return t.ch }

// Close implements Transport. Closing twice is harmless.
func (t *InmemTransport) Close() error {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	if !t.closed {
		t.closed = true
		close(t.ch)
	}
	return nil
}

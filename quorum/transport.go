package quorum

import (
	"math/rand/v2"
	"sync"
)

// Transport carries envelopes between members. Delivery is best effort:
// raft resends what is lost.
type Transport interface {
	// Send queues e for e.To without blocking; it may be dropped.
	Send(e Envelope)
	// Recv delivers envelopes from peers.
	Recv() <-chan Envelope
	// Close stops the transport.
	Close() error
}

// InmemNetwork connects in-process members, for tests: links can be cut in
// either direction, and messages lost or reordered. Every envelope goes
// through Marshal and UnmarshalEnvelope, as on the wire.
type InmemNetwork struct {
	mu      sync.Mutex
	inbox   [Size]chan Envelope
	cut     [Size][Size]bool // cut[a][b]: a's envelopes do not reach b
	down    [Size]bool
	loss    float64
	reorder float64
	held    [Size][]Envelope // per recipient: envelopes kept back to be delivered after a later one
	rng     *rand.Rand
}

// NewInmemNetwork returns a network of three members; seed drives loss and
// reordering.
func NewInmemNetwork(seed uint64) *InmemNetwork {
	n := &InmemNetwork{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for r := range Size {
		n.inbox[r] = make(chan Envelope, 4096)
	}
	return n
}

// Transport is member rank's end of the network.
func (n *InmemNetwork) Transport(rank int) Transport { return &inmemTransport{net: n, rank: rank} }

// Partition cuts every link between groups and heals every link inside them.
func (n *InmemNetwork) Partition(groups ...[]int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	group := [Size]int{}
	for g, members := range groups {
		for _, r := range members {
			group[r] = g
		}
	}
	for a := range Size {
		for b := range Size {
			n.cut[a][b] = group[a] != group[b]
		}
	}
}

// Cut cuts the link from a to b (one way).
func (n *InmemNetwork) Cut(a, b int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[a][b] = true
}

// Heal restores every link.
func (n *InmemNetwork) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut = [Size][Size]bool{}
}

// SetDown makes member r unreachable and silent (a crashed process), or back.
func (n *InmemNetwork) SetDown(r int, down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down[r] = down
	if down {
		n.held[r] = nil
		for {
			select {
			case <-n.inbox[r]:
				continue
			default:
			}
			break
		}
	}
}

// SetFaults sets the probability that an envelope is lost, and that it is
// held back and delivered after the next one to the same member.
func (n *InmemNetwork) SetFaults(loss, reorder float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.loss, n.reorder = loss, reorder
}

func (n *InmemNetwork) send(e Envelope) {
	b, err := e.Marshal()
	if err != nil {
		return
	}
	e, err = UnmarshalEnvelope(b)
	if err != nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down[e.From] || n.down[e.To] || n.cut[e.From][e.To] || (n.loss > 0 && n.rng.Float64() < n.loss) {
		return
	}
	if n.reorder > 0 && n.rng.Float64() < n.reorder {
		n.held[e.To] = append(n.held[e.To], e)
		return
	}
	n.deliver(e)
	held := n.held[e.To]
	n.held[e.To] = nil
	for _, h := range held {
		n.deliver(h)
	}
}

func (n *InmemNetwork) deliver(e Envelope) {
	select {
	case n.inbox[e.To] <- e:
	default: // a full inbox loses the envelope, as a congested link would
	}
}

type inmemTransport struct {
	net  *InmemNetwork
	rank int
}

func (t *inmemTransport) Send(e Envelope)       { t.net.send(e) }
func (t *inmemTransport) Recv() <-chan Envelope { return t.net.inbox[t.rank] }
func (t *inmemTransport) Close() error          { return nil }

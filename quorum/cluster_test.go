package quorum

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// The cluster harness runs three Nodes on one simulated real-time axis. Real
// time advances in steps of stepUnits; unitsPerTick units are one nominal tick.
// Node r ticks every unitsPerTick/rate[r] units, so clock-rate drift is exact
// and reproducible. Messages go through an InmemNetwork (cuts, drops) and then
// wait latency() units in an in-flight queue. After every step the harness
// checks the invariant: at most one node is Serving, and a serving node hears
// a peer.
const (
	unitsPerTick = 1000
	stepUnits    = 50
)

type clusterOpts struct {
	pim     bool
	timing  Timing
	down    []int // ranks that start crashed
	rates   [Size]float64
	latency func() int64 // in units; nil means 0 (delivery at the next step)
	license string
}

type inflight struct {
	at, seq int64
	m       Message
}

type cluster struct {
	tb       testing.TB
	net      *InmemNetwork
	cfg      [Size]Config
	nodes    [Size]*Node // nil while crashed
	rate     [Size]float64
	nextTick [Size]float64 // in units
	now      int64         // in units
	latency  func() int64
	queue    []inflight
	seq      int64

	incarnation uint64
	serving     [Size]bool
	log         []string // harness and node log lines since the last takeLog
	violations  []string

	lastViolation   string
	lastViolationAt int64
}

var testHosts = [Size]string{"host0", "host1", "host2"}

func newCluster(tb testing.TB, o clusterOpts) *cluster {
	tb.Helper()
	if o.timing == (Timing{}) {
		o.timing = FastTiming()
	}
	c := &cluster{tb: tb, net: NewInmemNetwork(), latency: o.latency}
	if c.latency == nil {
		c.latency = func() int64 { return 0 }
	}
	for r := range Size {
		c.cfg[r] = Config{
			Self:            r,
			Hosts:           testHosts,
			PrimaryIsMaster: o.pim,
			Timing:          o.timing,
			LicenseDigest:   o.license,
		}
		c.rate[r] = o.rates[r]
		if c.rate[r] == 0 {
			c.rate[r] = 1
		}
	}
	for r := range Size {
		down := false
		for _, d := range o.down {
			down = down || d == r
		}
		if !down {
			c.start(r)
		}
	}
	return c
}

func hostIndex(hosts [Size]string, h string) int {
	for i, x := range hosts {
		if x == h {
			return i
		}
	}
	return -1
}

// start starts the server of slot r (host testHosts[r]). Its rank is the
// position of its host in its own file, which a reordered file changes.
func (c *cluster) start(r int) {
	c.tb.Helper()
	c.incarnation++
	c.cfg[r].Incarnation = c.incarnation
	if c.cfg[r].Self = hostIndex(c.cfg[r].Hosts, testHosts[r]); c.cfg[r].Self < 0 {
		c.tb.Fatalf("%s is not on its own SERVER lines %v", testHosts[r], c.cfg[r].Hosts)
	}
	n, err := New(c.cfg[r])
	if err != nil {
		c.tb.Fatalf("New(%d): %v", r, err)
	}
	c.nodes[r] = n
	c.nextTick[r] = float64(c.now) + unitsPerTick/c.rate[r]
}

func (c *cluster) crash(r int) {
	if c.nodes[r] == nil {
		return
	}
	c.nodes[r] = nil
	c.serving[r] = false
	c.logf(r, ">> crashed")
}

func (c *cluster) restart(r int) {
	if c.nodes[r] != nil {
		return
	}
	c.start(r)
	c.logf(r, ">> restarted")
}

func (c *cluster) setRate(r int, rate float64) {
	// Keep the next tick where it is; later ticks follow the new rate.
	c.rate[r] = rate
}

// timeStr is the simulated real time in nominal ticks.
func (c *cluster) timeStr() string { return fmt.Sprintf("%7.2f", float64(c.now)/unitsPerTick) }

func (c *cluster) logf(r int, format string, args ...any) {
	c.log = append(c.log, fmt.Sprintf("[%s] %s: %s", c.timeStr(), testHosts[r], fmt.Sprintf(format, args...)))
}

func (c *cluster) takeLog() []string {
	l := c.log
	c.log = nil
	return l
}

// step advances real time by one step.
func (c *cluster) step() {
	c.now += stepUnits
	for r, n := range c.nodes {
		if n == nil {
			continue
		}
		for c.nextTick[r] <= float64(c.now) {
			n.Tick()
			c.nextTick[r] += unitsPerTick / c.rate[r]
		}
	}
	c.pull()
	c.deliverDue(false)
	for r := range c.nodes {
		c.flush(r)
	}
	c.check()
}

// pull moves sent messages from the network into the in-flight queue.
func (c *cluster) pull() {
	for r := range Size {
		ch := c.net.Transport(r).Recv()
		for more := true; more; {
			select {
			case m := <-ch:
				if c.nodes[r] != nil {
					c.seq++
					c.queue = append(c.queue, inflight{at: c.now + c.latency(), seq: c.seq, m: m})
				}
			default:
				more = false
			}
		}
	}
}

// deliverDue steps due messages (all of them if all) into their nodes.
func (c *cluster) deliverDue(all bool) {
	sort.Slice(c.queue, func(i, j int) bool {
		if c.queue[i].at != c.queue[j].at {
			return c.queue[i].at < c.queue[j].at
		}
		return c.queue[i].seq < c.queue[j].seq
	})
	k := 0
	for _, f := range c.queue {
		if !all && f.at > c.now {
			break
		}
		k++
		// Like a real transport, name the sender by its rank in the receiver's
		// own file; a host that is not in it is not let in.
		dst, m := f.m.To, f.m
		n := c.nodes[dst]
		if n == nil {
			continue
		}
		if m.From = hostIndex(c.cfg[dst].Hosts, testHosts[f.m.From]); m.From < 0 {
			continue
		}
		m.To = c.cfg[dst].Self
		if err := n.Step(m); err != nil {
			c.tb.Errorf("Step(%+v): %v", m, err)
		}
	}
	c.queue = c.queue[k:]
}

// flush applies node r's Ready the way the glue would: state, events, messages.
func (c *cluster) flush(r int) {
	n := c.nodes[r]
	if n == nil {
		return
	}
	rd := n.Ready()
	if s := n.Serving(); s != c.serving[r] {
		c.serving[r] = s
		if s {
			c.logf(r, ">> starts serving")
		} else {
			c.logf(r, ">> stops serving")
		}
	}
	for _, e := range rd.Events {
		c.logf(r, "%s", e)
	}
	for _, m := range rd.Messages {
		// m.To is a rank in r's own file: find that host's endpoint.
		if m.To = hostIndex(testHosts, c.cfg[r].Hosts[m.To]); m.To < 0 {
			continue // a host that does not exist
		}
		if err := c.net.Transport(r).Send(m); err != nil {
			c.tb.Errorf("Send: %v", err)
		}
	}
}

// deliver settles the network without advancing time: every message in flight
// is delivered, and replies too, until nothing is left.
func (c *cluster) deliver() {
	for range 10 {
		c.pull()
		if len(c.queue) == 0 {
			return
		}
		c.deliverDue(true)
		for r := range c.nodes {
			c.flush(r)
		}
		c.check()
	}
}

func (c *cluster) check() {
	var serving []string
	for r, n := range c.nodes {
		if n == nil || !n.Serving() {
			continue
		}
		serving = append(serving, testHosts[r])
		if st := n.Status(); !st.Live[(r+1)%Size] && !st.Live[(r+2)%Size] {
			c.violate("%s serves alone", testHosts[r])
		}
	}
	if len(serving) > 1 {
		c.violate("two masters serving: %s", strings.Join(serving, ", "))
	}
}

// violate records a violation once per distinct message in a row, so that one
// long overlap is reported once.

func (c *cluster) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if c.lastViolation == msg && c.lastViolationAt >= c.now-stepUnits {
		c.lastViolationAt = c.now
		return
	}
	c.lastViolation, c.lastViolationAt = msg, c.now
	v := fmt.Sprintf("[%s] INVARIANT VIOLATED: %s", c.timeStr(), msg)
	c.violations = append(c.violations, v)
	c.log = append(c.log, v)
}

// run advances real time by ticks nominal ticks.
func (c *cluster) run(ticks int) {
	for range ticks * unitsPerTick / stepUnits {
		c.step()
	}
}

// runUntil advances until cond holds or maxTicks pass; it returns the nominal
// ticks elapsed and whether cond held.
func (c *cluster) runUntil(maxTicks int, cond func() bool) (float64, bool) {
	start := c.now
	for c.now-start < int64(maxTicks)*unitsPerTick {
		c.step()
		if cond() {
			return float64(c.now-start) / unitsPerTick, true
		}
	}
	return float64(c.now-start) / unitsPerTick, false
}

// servingRanks lists the ranks that serve now.
func (c *cluster) servingRanks() []int {
	var s []int
	for r, n := range c.nodes {
		if n != nil && n.Serving() {
			s = append(s, r)
		}
	}
	return s
}

func (c *cluster) status() []string {
	var out []string
	for r, n := range c.nodes {
		if n == nil {
			out = append(out, testHosts[r]+": down")
			continue
		}
		out = append(out, testHosts[r]+": "+n.Status().String())
	}
	return out
}

// TestClusterHarnessStartup is a smoke test of the harness itself.
func TestClusterHarnessStartup(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	c.run(40)
	if got := c.servingRanks(); len(got) != 1 || got[0] != Primary {
		t.Fatalf("serving = %v, want [0]\n%s", got, strings.Join(c.takeLog(), "\n"))
	}
	if len(c.violations) > 0 {
		t.Fatal(c.violations)
	}
}

func TestLicenseDigestChangeAfterReread(t *testing.T) {
	c := newCluster(t, clusterOpts{license: "v1"})
	if _, ok := c.runUntil(200, func() bool { return len(c.servingRanks()) == 1 }); !ok {
		t.Fatal("no master at start")
	}
	// The tertiary rereads a different license file first: the others
	// keep their quorum without it and it is reported.
	c.nodes[2].SetLicenseDigest("v2")
	c.run(60)
	if got := c.nodes[0].Status().Rejected[2]; !got {
		t.Errorf("primary does not reject the tertiary serving other licenses")
	}
	if got := c.servingRanks(); len(got) != 1 || got[0] != 0 {
		t.Errorf("serving %v, want the primary alone", got)
	}
	// Once all have reread the same file the tertiary is a member again.
	c.nodes[0].SetLicenseDigest("v2")
	c.nodes[1].SetLicenseDigest("v2")
	c.run(60)
	for r := range Size {
		if st := c.nodes[r].Status(); st.Rejected != [Size]bool{} || st.Cluster != ClusterOperational {
			t.Errorf("node %d after all reread: rejected %v, cluster %v", r, st.Rejected, st.Cluster)
		}
	}
	c.check()
	if len(c.violations) > 0 {
		t.Fatalf("violations: %v", c.violations)
	}
}

package quorum

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testConfig(self int) Config {
	return Config{Self: self, Hosts: testHosts, Incarnation: 1}
}

func TestNewRejectsBadConfig(t *testing.T) {
	short := FastTiming()
	short.ElectionTicks = MinElectionTicks(short.LeaseTicks, short.MaxDrift) - 1
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"self out of range", func(c *Config) { c.Self = 3 }},
		{"negative self", func(c *Config) { c.Self = -1 }},
		{"empty host", func(c *Config) { c.Hosts[1] = "" }},
		{"host with comma", func(c *Config) { c.Hosts[1] = "a,b" }},
		{"duplicate host", func(c *Config) { c.Hosts[2] = c.Hosts[0] }},
		{"digest with space", func(c *Config) { c.LicenseDigest = "a b" }},
		{"election shorter than drift-adjusted lease", func(c *Config) { c.Timing = short }},
		{"lease not longer than heartbeat", func(c *Config) {
			c.Timing = FastTiming()
			c.Timing.LeaseTicks = c.Timing.HeartbeatTicks
		}},
		{"drift out of range", func(c *Config) { c.Timing = FastTiming(); c.Timing.MaxDrift = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(0)
			tt.mod(&cfg)
			if _, err := New(cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("New: got %v, want ErrConfig", err)
			}
		})
	}
	if _, err := New(testConfig(2)); err != nil {
		t.Errorf("New(valid): %v", err)
	}
}

func TestTimingPresets(t *testing.T) {
	tests := []struct {
		name                                string
		got                                 Timing
		tick                                time.Duration
		heartbeat, timeout, lease, election int
	}{
		{"FastTiming", FastTiming(), 50 * time.Millisecond, 4, 20, 20, 25},
		{"FlexLMTiming(20)", FlexLMTiming(20), 250 * time.Millisecond, 80, 316, 316, 351},
		{"FlexLMTiming(0) is the default 20", FlexLMTiming(0), 250 * time.Millisecond, 80, 316, 316, 351},
		{"FlexLMTiming(1)", FlexLMTiming(1), 250 * time.Millisecond, 4, 12, 12, 17},
		{"FlexLMTiming(120)", FlexLMTiming(120), 250 * time.Millisecond, 480, 1916, 1916, 2111},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.got
			if g.Tick != tt.tick || g.HeartbeatTicks != tt.heartbeat || g.PeerTimeoutTicks != tt.timeout ||
				g.LeaseTicks != tt.lease || g.ElectionTicks != tt.election || g.MaxDrift != DefaultMaxDrift {
				t.Errorf("got %+v, want tick %v heartbeat %d timeout %d lease %d election %d",
					g, tt.tick, tt.heartbeat, tt.timeout, tt.lease, tt.election)
			}
			if err := g.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
	// FlexLM's formula: timeout = 3*s + (s-1) seconds; 79 s by default.
	if got := time.Duration(FlexLMTiming(20).PeerTimeoutTicks) * FlexLMTiming(20).Tick; got != 79*time.Second {
		t.Errorf("default FlexLM timeout = %v, want 79s", got)
	}
	// FastTiming: worst-case failover (promise + a tick to claim and a tick to
	// be granted) fits in 2 s.
	ft := FastTiming()
	if got := time.Duration(ft.ElectionTicks+2) * ft.Tick; got > 2*time.Second {
		t.Errorf("FastTiming failover bound %v > 2s", got)
	}
}

func TestMinElectionTicks(t *testing.T) {
	tests := []struct {
		lease int
		drift float64
		want  int
	}{
		{20, 0.1, 23}, // 20*1.1 = 22 exactly: no rounding up from float error
		{20, 0, 21},
		{316, 0.1, 349},
		{10, 0.05, 12},
	}
	for _, tt := range tests {
		if got := MinElectionTicks(tt.lease, tt.drift); got != tt.want {
			t.Errorf("MinElectionTicks(%d, %v) = %d, want %d", tt.lease, tt.drift, got, tt.want)
		}
	}
}

func TestMessageFieldsRoundTrip(t *testing.T) {
	msgs := []Message{
		{Type: MsgHeartbeat, From: 0, To: 2, SentAt: 42, Incarnation: 7, Master: 0, Serving: true,
			Links: [Size]bool{true, false, true}, Hosts: testHosts, ServerDigest: "abc", LicenseDigest: "def"},
		{Type: MsgHeartbeatResp, From: 2, To: 0, SentAt: 43, Incarnation: 9, Echo: 42, EchoIncarnation: 7,
			Granted: true, Master: None, Links: [Size]bool{false, false, true}, Hosts: testHosts},
	}
	for _, m := range msgs {
		line := strings.Join(m.Fields(), " ")
		got, err := MessageFromFields(strings.Fields(line))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip of %q:\n got %+v\nwant %+v", line, got, m)
		}
	}
	want := "PING from=0 to=2 at=42 inc=7 master=0 serving=1 links=101 hosts=host0,host1,host2 sd=abc ld=def"
	if got := strings.Join(msgs[0].Fields(), " "); got != want {
		t.Errorf("Fields:\n got %s\nwant %s", got, want)
	}
}

func TestMessageFromFieldsErrors(t *testing.T) {
	for _, line := range []string{
		"",
		"HELLO from=0 to=1 at=1",
		"PING from=0 to=1",
		"PING from=x to=1 at=1",
		"PING from=0 to=1 at=1 links=10",
		"PING from=0 to=1 at=1 hosts=a,b",
		"PING from=0 from=0 to=1 at=1",
		"PING from=0 to=1 at=1 serving=yes",
		"PING from=0 to=1 at=1 novalue",
	} {
		if _, err := MessageFromFields(strings.Fields(line)); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%q: got %v, want ErrBadMessage", line, err)
		}
	}
	// Unknown keys are ignored, for forward compatibility.
	if _, err := MessageFromFields(strings.Fields("PING from=0 to=1 at=1 future=x")); err != nil {
		t.Errorf("unknown key: %v", err)
	}
}

func TestStepRejectsMalformed(t *testing.T) {
	n, err := New(testConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	good := Message{Type: MsgHeartbeat, From: 0, To: 1, Master: None, Hosts: testHosts,
		ServerDigest: n.Config().ServerDigest}
	tests := []struct {
		name string
		mod  func(*Message)
	}{
		{"from self", func(m *Message) { m.From = 1 }},
		{"from out of range", func(m *Message) { m.From = 5 }},
		{"to someone else", func(m *Message) { m.To = 2 }},
		{"no type", func(m *Message) { m.Type = 0 }},
		{"master out of range", func(m *Message) { m.Master = 3 }},
	}
	for _, tt := range tests {
		m := good
		tt.mod(&m)
		if err := n.Step(m); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: got %v, want ErrBadMessage", tt.name, err)
		}
	}
	if err := n.Step(good); err != nil {
		t.Errorf("good message: %v", err)
	}
}

// pair drives node 0 with hand-made messages from node 1; it returns node 0
// after its startup promise, claiming the role.
func claimingPrimary(t *testing.T) *Node {
	t.Helper()
	n, err := New(testConfig(0))
	if err != nil {
		t.Fatal(err)
	}
	hb := Message{Type: MsgHeartbeat, From: 1, To: 0, Master: None, Hosts: testHosts, ServerDigest: n.Config().ServerDigest}
	for range n.Config().Timing.ElectionTicks + 1 {
		n.Tick()
		if err := n.Step(hb); err != nil {
			t.Fatal(err)
		}
	}
	if st := n.Status(); st.Role != RoleMaster || st.Serving {
		t.Fatalf("status %v, want a claiming, not serving master", st)
	}
	n.Ready()
	return n
}

func grant(n *Node, echo int64, inc uint64) Message {
	return Message{Type: MsgHeartbeatResp, From: 1, To: 0, Master: 0, Hosts: testHosts,
		ServerDigest: n.Config().ServerDigest, Echo: echo, EchoIncarnation: inc, Granted: true}
}

func TestLeaseRunsFromSendTime(t *testing.T) {
	n := claimingPrimary(t)
	sent := n.Now()
	n.Tick()
	n.Tick()
	if err := n.Step(grant(n, sent, 1)); err != nil {
		t.Fatal(err)
	}
	if !n.Serving() {
		t.Fatal("not serving after a grant")
	}
	if got, want := n.Status().LeaseLeft, sent+int64(n.Config().Timing.LeaseTicks)-n.Now(); got != want {
		t.Errorf("LeaseLeft = %d, want %d (lease runs from the send time)", got, want)
	}
}

func TestStaleRepliesDoNotExtendTheLease(t *testing.T) {
	tests := []struct {
		name string
		echo func(n *Node) int64
		inc  uint64
	}{
		{"previous incarnation", func(n *Node) int64 { return n.Now() }, 0},
		{"sent before the claim", func(n *Node) int64 { return n.reignStart - 1 }, 1},
		{"sent in the future", func(n *Node) int64 { return n.Now() + 1 }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := claimingPrimary(t)
			if err := n.Step(grant(n, tt.echo(n), tt.inc)); err != nil {
				t.Fatal(err)
			}
			if n.Serving() {
				t.Error("a stale reply made the master serve")
			}
		})
	}
}

func TestTertiaryIsNeverMaster(t *testing.T) {
	n, err := New(testConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		n.Tick()
	}
	n.Ready()
	claim := Message{Type: MsgHeartbeat, From: 2, To: 1, Master: 2, SentAt: 5, Hosts: testHosts,
		ServerDigest: n.Config().ServerDigest}
	if err := n.Step(claim); err != nil {
		t.Fatal(err)
	}
	for _, m := range n.Ready().Messages {
		if m.Type == MsgHeartbeatResp && m.Granted {
			t.Fatalf("granted the tertiary's claim: %+v", m)
		}
	}
	// The tertiary itself never claims, whatever it hears.
	c := newCluster(t, clusterOpts{down: []int{Primary, Secondary}})
	c.run(100)
	if st := c.nodes[Tertiary].Status(); st.Role == RoleMaster {
		t.Errorf("tertiary status %v", st)
	}
}

// TestRestartedServerKeepsItsPromise: promises are not persisted, so a server
// that restarts supports nobody for ElectionTicks. Without that, a tertiary
// restarting while the primary still holds a lease it granted could at once
// grant the secondary, which cannot hear the primary.
func TestRestartedServerKeepsItsPromise(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	c.net.Cut(Primary, Secondary)
	c.run(60)
	if got := c.servingRanks(); len(got) != 1 || got[0] != Primary {
		t.Fatalf("serving = %v, want [0]", got)
	}
	for i := range 8 { // restart at every phase of the master's heartbeat
		c.crash(Tertiary)
		c.restart(Tertiary)
		c.run(5 + i)
	}
	c.run(60)
	if len(c.violations) > 0 {
		t.Fatalf("%v\n%s", c.violations, strings.Join(c.takeLog(), "\n"))
	}
}

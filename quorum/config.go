package quorum

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Ranks of the three SERVER lines. The tertiary is never eligible to be master.
const (
	Primary   = 0
	Secondary = 1
	Tertiary  = 2

	// None is the rank used when there is no master (Status.Master, Message.Master).
	None = -1
)

// Size is the number of servers in a triad. FlexLM fixes it at three.
const Size = 3

// DefaultMaxDrift is the largest clock-rate ratio the presets assume between any two
// servers, minus one: 0.10 means one server's clock may run up to 10% faster than another's.
const DefaultMaxDrift = 0.10

// DefaultHeartbeatInterval is FlexLM's HEARTBEAT_INTERVAL default, in seconds.
const DefaultHeartbeatInterval = 20

// Timing holds every duration of the protocol, in logical ticks. The glue calls
// Node.Tick once per Tick of real (monotonic) time.
type Timing struct {
	// Tick is the real duration of one tick. The Node never reads it; it is
	// here so the glue and the docs agree on how often Tick is called.
	Tick time.Duration
	// HeartbeatTicks is how often a server sends a heartbeat to each peer.
	HeartbeatTicks int
	// PeerTimeoutTicks is how long a peer stays live after its last message.
	PeerTimeoutTicks int
	// LeaseTicks is how long a master may serve after SENDING a heartbeat that a
	// peer answered with a grant, measured on the master's own clock.
	LeaseTicks int
	// ElectionTicks is how long a server's promise to a master lasts after it
	// granted that master's heartbeat, on the promising server's own clock. While
	// a promise runs, the server supports no other master and does not claim the
	// role itself. It must be at least MinElectionTicks(LeaseTicks, MaxDrift).
	ElectionTicks int
	// MaxDrift bounds the clock-rate ratio of any two servers: rate(a)/rate(b) <= 1+MaxDrift.
	MaxDrift float64
}

// MinElectionTicks returns the smallest ElectionTicks that keeps two masters from
// serving at once when clock rates differ by at most maxDrift: ceil(lease*(1+maxDrift)) + 1.
// The +1 covers tick granularity (a promise can start up to one tick late); see docs/triad.md.
func MinElectionTicks(leaseTicks int, maxDrift float64) int {
	return int(math.Ceil(float64(leaseTicks)*(1+maxDrift)-1e-9)) + 1
}

// FastTiming is the default timing: 50 ms ticks, a heartbeat every 200 ms, a peer
// is lost after 1 s, a master's lease is 1 s and a promise 1.25 s (the minimum for
// 10% drift is 1.15 s). A dead master is replaced in about 1.3 s.
func FastTiming() Timing {
	return Timing{
		Tick:             50 * time.Millisecond,
		HeartbeatTicks:   4,
		PeerTimeoutTicks: 20,
		LeaseTicks:       20,
		ElectionTicks:    MinElectionTicks(20, DefaultMaxDrift) + 2,
		MaxDrift:         DefaultMaxDrift,
	}
}

// FlexLMTiming follows HEARTBEAT_INTERVAL=seconds from the first SERVER line:
// a heartbeat every `seconds`, and a peer (and a master's lease) times out after
// FlexLM's 3*seconds + (seconds-1). Ticks are 250 ms. seconds <= 0 means the
// FlexLM default of 20 (a heartbeat every 20 s, timeout 79 s, promise 87.75 s).
func FlexLMTiming(seconds int) Timing {
	if seconds <= 0 {
		seconds = DefaultHeartbeatInterval
	}
	const perSecond = 4
	timeout := (3*seconds + (seconds - 1)) * perSecond
	return Timing{
		Tick:             time.Second / perSecond,
		HeartbeatTicks:   seconds * perSecond,
		PeerTimeoutTicks: timeout,
		LeaseTicks:       timeout,
		ElectionTicks:    MinElectionTicks(timeout, DefaultMaxDrift) + 2,
		MaxDrift:         DefaultMaxDrift,
	}
}

// Validate reports the first inconsistency in t.
func (t Timing) Validate() error {
	switch {
	case t.HeartbeatTicks < 1:
		return fmt.Errorf("%w: HeartbeatTicks %d < 1", ErrConfig, t.HeartbeatTicks)
	case t.PeerTimeoutTicks <= t.HeartbeatTicks:
		return fmt.Errorf("%w: PeerTimeoutTicks %d must exceed HeartbeatTicks %d", ErrConfig, t.PeerTimeoutTicks, t.HeartbeatTicks)
	case t.LeaseTicks <= t.HeartbeatTicks:
		return fmt.Errorf("%w: LeaseTicks %d must exceed HeartbeatTicks %d, or the lease lapses between heartbeats", ErrConfig, t.LeaseTicks, t.HeartbeatTicks)
	case t.MaxDrift < 0 || t.MaxDrift >= 1:
		return fmt.Errorf("%w: MaxDrift %v outside [0, 1)", ErrConfig, t.MaxDrift)
	case t.ElectionTicks < MinElectionTicks(t.LeaseTicks, t.MaxDrift):
		return fmt.Errorf("%w: ElectionTicks %d < %d = ceil(LeaseTicks*(1+MaxDrift))+1; two masters could serve at once",
			ErrConfig, t.ElectionTicks, MinElectionTicks(t.LeaseTicks, t.MaxDrift))
	}
	return nil
}

// Config describes one server of the triad.
type Config struct {
	// Self is this server's rank: its SERVER line's index (0 primary, 1 secondary, 2 tertiary).
	Self int
	// Hosts are the SERVER line host names in file order. They name peers in log
	// events and are sent to peers so a mismatch can be described on both sides.
	Hosts [Size]string
	// PrimaryIsMaster is PRIMARY_IS_MASTER on the first SERVER line: a returning
	// primary takes the master role back from the secondary.
	PrimaryIsMaster bool
	// Timing is FastTiming() when left zero.
	Timing Timing
	// ServerDigest identifies the three SERVER lines (hosts, hostids, ports, order).
	// When empty, New uses Digest of the Hosts in order.
	ServerDigest string
	// LicenseDigest identifies the served license content (FEATURE/INCREMENT/...
	// lines). Peers whose digest differs are rejected. Empty is a valid value that
	// only matches empty.
	LicenseDigest string
	// Incarnation distinguishes restarts of this server (e.g. process start time in
	// nanoseconds). Replies echo it, so a late reply to a previous incarnation never
	// counts toward the lease. Leave it 0 only if the transport guarantees that no
	// message outlives the process that was sent it (TCP connections do).
	Incarnation uint64
}

// ErrConfig is wrapped by every configuration error from New and Timing.Validate.
var ErrConfig = errors.New("quorum: invalid config")

// Validate reports the first problem in c (after New's defaults are applied).
func (c Config) Validate() error {
	if c.Self < 0 || c.Self >= Size {
		return fmt.Errorf("%w: Self %d is not a rank in 0..2", ErrConfig, c.Self)
	}
	seen := map[string]bool{}
	for i, h := range c.Hosts {
		if h == "" || strings.ContainsAny(h, ", \t\r\n=") {
			return fmt.Errorf("%w: Hosts[%d] %q is empty or contains a space, comma or '='", ErrConfig, i, h)
		}
		if seen[h] {
			return fmt.Errorf("%w: host %q listed twice", ErrConfig, h)
		}
		seen[h] = true
	}
	for _, d := range []string{c.ServerDigest, c.LicenseDigest} {
		if strings.ContainsAny(d, " \t\r\n") {
			return fmt.Errorf("%w: digest %q contains white space", ErrConfig, d)
		}
	}
	return c.Timing.Validate()
}

// Digest returns a short hex SHA-256 of parts, each length-prefixed so that
// ("ab","c") and ("a","bc") differ. Use it for ServerDigest (one part per SERVER
// line, normalized) and LicenseDigest (the served lines, normalized).
func Digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

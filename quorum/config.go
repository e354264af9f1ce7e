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

// Ranks of the three SERVER lines. The tertiary is never master.
const (
	Primary   = 0
	Secondary = 1
	Tertiary  = 2

	// None is the rank used when there is no master.
	None = -1
)

// Size is the number of servers in a triad. FlexLM fixes it at three.
const Size = 3

// DefaultMaxDrift is the largest clock-rate ratio the presets assume between
// any two servers, minus one: 0.10 means one server's clock may run up to 10%
// faster than another's.
const DefaultMaxDrift = 0.10

// DefaultHeartbeatInterval is FlexLM's HEARTBEAT_INTERVAL default, in seconds.
const DefaultHeartbeatInterval = 20

// Timing holds every duration of the protocol, in logical ticks. The glue
// calls Node.Tick once per Tick of real (monotonic) time.
type Timing struct {
	// Tick is the real duration of one tick. The Node never reads it; it is
	// here so the glue and the docs agree on how often Tick is called.
	Tick time.Duration
	// HeartbeatTicks is how often the leader sends raft heartbeats, renews its
	// lease, and every member sends a keepalive to each peer (link status).
	HeartbeatTicks int
	// ElectionTicks is raft's election timeout of the primary and the tertiary:
	// a follower that heard the leader less than this long ago refuses to vote
	// for anyone else (CheckQuorum's lease), and a leader that does not hear a
	// quorum for this long steps down. A peer is live while it was heard
	// within ElectionTicks.
	ElectionTicks int
	// SecondaryElectionTicks is the secondary's election timeout. It is longer
	// than the primary's, so that when both start together the primary is
	// elected first, as FlexLM's master is the primary when it is up.
	SecondaryElectionTicks int
	// LeaseTicks is how long a leader serves after SENDING a heartbeat round
	// (a raft ReadIndex) that a quorum acknowledged. It must be at most
	// MaxLeaseTicks(ElectionTicks, MaxDrift).
	LeaseTicks int
	// MaxDrift bounds the clock-rate ratio of any two servers:
	// rate(a)/rate(b) <= 1+MaxDrift.
	MaxDrift float64
}

// MaxLeaseTicks is the longest lease that ends, on any clock within maxDrift,
// before the follower that acknowledged it may vote for another leader:
// floor((election-1)/(1+maxDrift)). docs/triad.md has the argument.
func MaxLeaseTicks(electionTicks int, maxDrift float64) int {
	return int(math.Floor(float64(electionTicks-1)/(1+maxDrift) + 1e-9))
}

// FastTiming is the default: 50 ms ticks, heartbeats every 100 ms, a peer
// silent for 500 ms is down, failover within about 1.5 s.
func FastTiming() Timing {
	const election = 10
	return Timing{
		Tick:                   50 * time.Millisecond,
		HeartbeatTicks:         2,
		ElectionTicks:          election,
		SecondaryElectionTicks: election + election/5,
		LeaseTicks:             MaxLeaseTicks(election, DefaultMaxDrift) - 1, // one tick of margin for timer jitter
		MaxDrift:               DefaultMaxDrift,
	}
}

// FlexLMTiming follows HEARTBEAT_INTERVAL=seconds: heartbeats every seconds,
// a peer is down after FlexLM's 3*seconds + (seconds-1). Ticks are 250 ms.
// seconds <= 0 means the FlexLM default of 20.
func FlexLMTiming(seconds int) Timing {
	if seconds <= 0 {
		seconds = DefaultHeartbeatInterval
	}
	const perSecond = 4
	election := perSecond * (3*seconds + seconds - 1)
	return Timing{
		Tick:                   time.Second / perSecond,
		HeartbeatTicks:         seconds * perSecond,
		ElectionTicks:          election,
		SecondaryElectionTicks: election + election/5,
		LeaseTicks:             MaxLeaseTicks(election, DefaultMaxDrift) - 1,
		MaxDrift:               DefaultMaxDrift,
	}
}

// electionTicks is rank's election timeout.
func (t Timing) electionTicks(rank int) int {
	if rank == Secondary {
		return t.SecondaryElectionTicks
	}
	return t.ElectionTicks
}

// Validate reports the first setting that breaks safety or liveness.
func (t Timing) Validate() error {
	switch {
	case t.HeartbeatTicks < 1:
		return fmt.Errorf("%w: HeartbeatTicks %d < 1", ErrConfig, t.HeartbeatTicks)
	case t.ElectionTicks <= 2*t.HeartbeatTicks:
		return fmt.Errorf("%w: ElectionTicks %d must exceed twice HeartbeatTicks %d", ErrConfig, t.ElectionTicks, t.HeartbeatTicks)
	case t.SecondaryElectionTicks < t.ElectionTicks:
		return fmt.Errorf("%w: SecondaryElectionTicks %d below ElectionTicks %d", ErrConfig, t.SecondaryElectionTicks, t.ElectionTicks)
	case t.MaxDrift < 0 || t.MaxDrift >= 1:
		return fmt.Errorf("%w: MaxDrift %v outside [0, 1)", ErrConfig, t.MaxDrift)
	case t.LeaseTicks <= t.HeartbeatTicks:
		return fmt.Errorf("%w: LeaseTicks %d must exceed HeartbeatTicks %d, or the lease lapses between renewals", ErrConfig, t.LeaseTicks, t.HeartbeatTicks)
	case t.LeaseTicks > MaxLeaseTicks(t.ElectionTicks, t.MaxDrift):
		return fmt.Errorf("%w: LeaseTicks %d exceeds %d, the most that ElectionTicks %d keeps safe with drift %v",
			ErrConfig, t.LeaseTicks, MaxLeaseTicks(t.ElectionTicks, t.MaxDrift), t.ElectionTicks, t.MaxDrift)
	}
	return nil
}

// Config describes one server of the triad.
type Config struct {
	// Self is this server's rank: its SERVER line's index (0 primary, 1
	// secondary, 2 tertiary).
	Self int
	// Hosts are the SERVER line host names in file order, for log events.
	Hosts [Size]string
	// PrimaryIsMaster is PRIMARY_IS_MASTER on the first SERVER line: the
	// leadership is handed back to a returning primary once it has caught up.
	PrimaryIsMaster bool
	// Timing is FastTiming() when left zero.
	Timing Timing
	// ServerDigest identifies the three SERVER lines (hosts, ports, order).
	// When empty, New uses Digest of the Hosts in order.
	ServerDigest string
	// LicenseDigest identifies the served license content. It travels in
	// every envelope; a peer whose digest differs stays in the triad and
	// is shown in Status.PeerLicenseDigest.
	LicenseDigest string
	// Forwardable reports whether a member may forward an entry with this
	// data to the leader (ProposeForwarded), and whether the leader takes
	// such an entry from a peer. Nil: nothing is forwarded. The license
	// tables' own entries never are: only a serving master proposes them.
	Forwardable func(data []byte) bool
	// Rebuilt says the store was lost or damaged and made anew (the glue
	// knows, e.g. from a damaged raft.db it moved aside). New treats any
	// store that holds nothing as possibly lost already; Rebuilt also
	// withholds this member's vote from a candidate with an empty log, which
	// an empty store otherwise grants so that a brand-new triad can elect
	// its first master (docs/triad.md, "A member that lost its store").
	Rebuilt bool
	// MaxClockSkew is how far a peer's wall clock may be from this
	// server's: a peer further off is refused like one with other SERVER
	// lines (EventClockSkew) until its clock is fixed. 0 means
	// DefaultMaxClockSkew. Only envelopes of members whose glue calls
	// Node.SetWallClock are checked.
	MaxClockSkew time.Duration
}

// DefaultMaxClockSkew is the largest wall-clock difference a triad accepts
// between members unless Config.MaxClockSkew says otherwise: one hour, the
// limit of the DSLS license servers.
const DefaultMaxClockSkew = time.Hour

// ErrConfig is wrapped by every configuration error from New and Validate.
var ErrConfig = errors.New("quorum: invalid config")

// Validate reports the first problem in c (after New's defaults are applied).
func (c Config) Validate() error {
	if c.Self < 0 || c.Self >= Size {
		return fmt.Errorf("%w: Self %d is not a rank in 0..2", ErrConfig, c.Self)
	}
	if c.MaxClockSkew < 0 {
		return fmt.Errorf("%w: MaxClockSkew %v is negative", ErrConfig, c.MaxClockSkew)
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
	return c.Timing.Validate()
}

// Digest returns a short hex SHA-256 of parts, each length-prefixed so that
// ("ab","c") and ("a","bc") differ.
func Digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/lmtriad/lmtriad/quorum"
	"github.com/lmtriad/lmtriad/wire"
)

func TestRogueFrameIsAWellFormedEnvelope(t *testing.T) {
	frame, err := RogueFrame(2, 0)
	require.NoError(t, err)
	require.Greater(t, len(frame), 4)
	assert.Equal(t, len(frame)-4, int(binary.BigEndian.Uint32(frame)))
	env, err := quorum.UnmarshalEnvelope(frame[4:])
	require.NoError(t, err, "a member that got it through TLS would decode it")
	assert.Equal(t, 2, env.From)
	assert.Equal(t, 0, env.To)
	require.Len(t, env.Msgs, 2)
	assert.Equal(t, raftpb.MsgVote, env.Msgs[0].Type)
	assert.Equal(t, raftpb.MsgApp, env.Msgs[1].Type)
	assert.Equal(t, uint64(RogueTerm), env.Msgs[0].Term)
	assert.Equal(t, uint64(3), env.Msgs[0].From, "raft ID of rank 2")
	assert.Equal(t, uint64(1), env.Msgs[0].To, "raft ID of rank 0")
	require.Len(t, env.Msgs[1].Entries, 1)
	assert.NotEmpty(t, env.Msgs[1].Entries[0].Data)
}

func TestJudgeAttempt(t *testing.T) {
	frame, err := RogueFrame(1, 0)
	require.NoError(t, err)
	tests := []struct {
		name string
		a    RogueAttempt
		bad  bool
	}{
		{"peer: nothing back", RogueAttempt{Try: TryPeerRaw}, false},
		{"peer: a TLS alert", RogueAttempt{Try: TryPeerRaw, Got: []byte{21, 3, 3, 0, 2, 2, 42}}, false},
		{"peer: an ERR line", RogueAttempt{Try: TryPeerRaw, Got: []byte("ERR code=-15 minor=33\n")}, false},
		{"peer: an envelope frame", RogueAttempt{Try: TryPeerRaw, Got: frame}, true},
		{"peer: a torn alert", RogueAttempt{Try: TryPeerRaw, Got: []byte{21, 3, 3, 0, 2}}, true},
		{"peer through TLS: any data", RogueAttempt{Try: TryPeerTLS, Handshake: true, Got: []byte("x")}, true},
		{"peer through TLS: refused after the handshake", RogueAttempt{Try: TryPeerTLS, Handshake: true, Err: "read: remote error: tls: bad certificate"}, false},
		{"fetch: what any client gets", RogueAttempt{Try: TryFetch,
			Got: []byte("OK proto=1 server=vendord/v0.1.0 vendor=demo host=10.0.0.1 port=27000\nERR code=-12 minor=2 text=\"Invalid returned data from license server system.\"\n")}, false},
		{"fetch: a standby's redirect", RogueAttempt{Try: TryFetch, Got: []byte("ERR code=-20 minor=1 master=27000@10.0.0.1\n")}, false},
		{"fetch: a snapshot", RogueAttempt{Try: TryFetch, Got: []byte("OK epoch=3 seq=140\nSNAP epoch=3 seq=140 records=1\n")}, true},
		{"fetch: records", RogueAttempt{Try: TryFetch, Got: []byte("OK records=1\nFEATURE name=chaos\n")}, true},
		{"replica: a holder's name", RogueAttempt{Try: TryReplica, Got: []byte(`ERR text="u042 holds it"` + "\n")}, true},
		{"peer: a holder's name", RogueAttempt{Try: TryPeerRaw, Got: []byte("\x00\x00u117")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := JudgeAttempt(tt.a)
			assert.Equal(t, tt.bad, v != "", "verdict %q", v)
		})
	}
}

func TestCheckRoguePeers(t *testing.T) {
	const addr = "10.213.9.2"
	refused := func(member string) LogWindow {
		return LogWindow{Member: member, Lines: []string{"17:00:01 (lmgrd) Refused triad peer " + addr + ":41234: claiming to be " + addr + ": does not hold this triad's cluster key"}}
	}
	server := func(up string) string {
		return wire.New("SERVER", "host", addr, "port", "27000", "rank", "1", "up", up, "master", "0").String()
	}
	nokey := func() RogueEpisode {
		return RogueEpisode{Fault: FaultRogueNoKey, At: ms(1000), Addr: addr,
			Windows:  []LogWindow{refused("10.213.9.1"), refused("10.213.9.3")},
			Attempts: []RogueAttempt{{Try: TryPeerRaw}, {Try: TryFetch, Got: []byte("ERR code=-20 minor=1\n")}}}
	}
	stale := func() RogueEpisode {
		return RogueEpisode{Fault: FaultRogueStaleKey, At: ms(1000), Addr: addr,
			Windows:     []LogWindow{refused("10.213.9.1"), refused("10.213.9.3")},
			ImpostorRan: true,
			Probes:      []Probe{{Member: "10.213.9.1", Lines: []string{server("0")}}, {Member: "10.213.9.3", Err: "timeout"}}}
	}
	tests := []struct {
		name string
		ep   func() RogueEpisode
		want int
	}{
		{"refused, got nothing", nokey, 0},
		{"the impostor refused and kept out", stale, 0},
		{"a target logged no refusal", func() RogueEpisode { e := nokey(); e.Windows[1].Lines = nil; return e }, 1},
		{"a refusal of another address does not count", func() RogueEpisode { e := nokey(); e.Addr = "10.213.9.20"; return e }, 2},
		{"cut short by the end of the run: refusals not required", func() RogueEpisode {
			e := nokey()
			e.Windows[0].Lines, e.Attempts, e.Short = nil, nil, true
			return e
		}, 0},
		{"the rogue made no attempt", func() RogueEpisode { e := nokey(); e.Attempts = nil; return e }, 1},
		{"the rogue read a holder", func() RogueEpisode {
			e := nokey()
			e.Attempts = append(e.Attempts, RogueAttempt{Try: TryFetch, Got: []byte("OK\nHOLDER user=u001\n")})
			return e
		}, 1},
		{"the impostor connected to a master", func() RogueEpisode {
			e := stale()
			e.ImpostorLog = []string{"17:00:02 (lmgrd) CONNECTED, master is 10.213.9.1"}
			return e
		}, 1},
		{"the impostor took over", func() RogueEpisode {
			e := stale()
			e.ImpostorLog = []string{"17:00:02 (demo) Took over as master: 0 license holder(s) kept"}
			return e
		}, 1},
		{"a member took the impostor for the master", func() RogueEpisode {
			e := stale()
			e.Windows[0].Lines = append(e.Windows[0].Lines, "17:00:03 (lmgrd) CONNECTED, master is "+addr)
			return e
		}, 1},
		{"a member counts the impostor up", func() RogueEpisode { e := stale(); e.Probes[0].Lines = []string{server("1")}; return e }, 1},
		{"the impostor never ran", func() RogueEpisode { e := stale(); e.ImpostorRan = false; return e }, 1},
		{"a harness problem", func() RogueEpisode { e := nokey(); e.Problems = []string{"rogue: exit status 2"}; return e }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Violations: map[string][]Violation{}}
			CheckRoguePeers(r, []RogueEpisode{tt.ep()})
			assert.Equal(t, tt.want, r.Count(CheckRogue), "violations: %v", r.Violations[CheckRogue])
		})
	}

	r := &Report{Violations: map[string][]Violation{}}
	CheckRoguePeers(r, []RogueEpisode{nokey(), stale()})
	assert.Equal(t, map[string]int{FaultRogueNoKey: 1, FaultRogueStaleKey: 1}, r.Rogue.Episodes)
	assert.Equal(t, 4, r.Rogue.Refusals)
	assert.Equal(t, 1, r.Rogue.Probes)
	assert.Equal(t, 1, r.Rogue.Unprobed)
	var text strings.Builder
	r.Print(&text, 5)
	assert.Contains(t, text.String(), "rogue peers: rogue-nokey 1, rogue-stalekey 1; attempts peer-raw 1, peer-tls 0, fetch 1, replica 0")
	assert.Regexp(t, `violations d: rogue peers get nothing: +0\n`, text.String())
}

// TestRunRogue runs the rogue against a listener that answers like a
// member: the greeting of an old role gets an ERR, a peer greeting nothing.
func TestRunRogue(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var mu sync.Mutex
	greetings := map[string]int{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				m, err := wire.ParseMessage(strings.TrimSpace(line))
				if err != nil {
					return
				}
				mu.Lock()
				greetings[m.Get("role")]++
				mu.Unlock()
				if m.Get("role") != "peer" {
					_, _ = c.Write([]byte("ERR code=-20 minor=1\n"))
				}
			}()
		}
	}()

	var out bytes.Buffer
	o := RogueOptions{Rank: 1, Targets: []RogueTarget{{Rank: 0, Addr: ln.Addr().String()}},
		Servers: []string{"a:1", "b:1", "c:1"}, Vendor: "demo", Feature: Feature, Count: 500,
		For: 400 * time.Millisecond, Every: 50 * time.Millisecond, MaxAttempts: 3, Timeout: 200 * time.Millisecond}
	require.NoError(t, RunRogue(context.Background(), o, &out))
	as, err := ReadRogueAttempts(&out)
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, a := range as {
		kinds[a.Try]++
		assert.Empty(t, JudgeAttempt(a), "attempt %+v", a)
		assert.Positive(t, a.Sent, "attempt %+v", a)
	}
	assert.Equal(t, map[string]int{TryPeerRaw: 3, TryPeerTLS: 3, TryFetch: 3, TryReplica: 3}, kinds, "MaxAttempts bounds each kind")
	ln.Close()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 6, greetings["peer"])
	assert.Equal(t, 3, greetings["fetch"])
	assert.Equal(t, 3, greetings["replica"])
}

func TestPlanFirst(t *testing.T) {
	first := []string{FaultRogueNoKey, FaultRogueStaleKey}
	p := PlanFirst(7, 45*time.Second, first, AllFaults, 2500*time.Millisecond)
	require.GreaterOrEqual(t, len(p), 2)
	assert.Equal(t, FaultRogueNoKey, p[0].Fault)
	assert.Equal(t, FaultRogueStaleKey, p[1].Fault)
	assert.Equal(t, p, PlanFirst(7, 45*time.Second, first, AllFaults, 2500*time.Millisecond))
	assert.Equal(t, Plan(7, time.Minute, AllFaults, time.Second), PlanFirst(7, time.Minute, nil, AllFaults, time.Second))
	assert.True(t, KnownFault(FaultRogueStaleKey))
	assert.False(t, KnownFault("rogue"))
}

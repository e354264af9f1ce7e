package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lmtriad/lmtriad/handoff"
	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/quorum"
	"github.com/lmtriad/lmtriad/wire"
)

// triad drives this server's quorum.Node from a real clock and TCP links to
// the two peers, and tells the vendor daemons whether to serve.
type triad struct {
	s      *server
	timing quorum.Timing
	start  int64 // handoff.BootTimeNow at start: ticks count suspended time too

	mu   sync.Mutex // guards node
	node *quorum.Node

	tr *quorum.TCPTransport
}

func newTriad(s *server, files []*licfile.File) (*triad, error) {
	first := s.servers[0]
	timing := quorum.FastTiming()
	if first.HeartbeatInterval > 0 {
		timing = quorum.FlexLMTiming(first.HeartbeatInterval)
	}
	var hosts [quorum.Size]string
	for i, sv := range s.servers {
		hosts[i] = sv.Host
	}
	start := time.Now()
	node, err := quorum.New(quorum.Config{
		Self:            s.self,
		Hosts:           hosts,
		PrimaryIsMaster: first.PrimaryIsMaster,
		Timing:          timing,
		ServerDigest:    quorum.Digest(serverList(s.servers)),
		LicenseDigest:   licenseDigest(files, start),
		Incarnation:     uint64(start.UnixNano()),
	})
	if err != nil {
		return nil, fmt.Errorf("triad: %w", err)
	}
	var addrs [quorum.Size]string
	for i := range s.servers {
		addrs[i] = net.JoinHostPort(s.servers[i].Host, strconv.Itoa(s.portOf(i)))
	}
	tr := quorum.NewTCPTransport(quorum.TCPConfig{Self: s.self, Addrs: addrs, Log: s.log,
		ReadTimeout: 3 * time.Duration(timing.PeerTimeoutTicks) * timing.Tick})
	return &triad{s: s, timing: timing, start: handoff.BootTimeNow(), node: node, tr: tr}, nil
}

// serverList is the SERVER lines as host:port in file order: what peers
// must agree on to be members of one triad.
func serverList(servers []licfile.Server) string {
	parts := make([]string, len(servers))
	for i, sv := range servers {
		port := sv.Port
		if port == 0 {
			port = licfile.DefaultPort
		}
		parts[i] = net.JoinHostPort(sv.Host, strconv.Itoa(port))
	}
	return strings.Join(parts, ",")
}

// licenseDigest summarizes the licenses served: every pool's key and count.
// Members that would serve different licenses must not form a quorum.
func licenseDigest(files []*licfile.File, now time.Time) string {
	pools, _ := licfile.Pools(files, now)
	parts := make([]string, 0, len(pools))
	for _, p := range pools {
		parts = append(parts, p.Key+"="+strconv.Itoa(p.Count))
	}
	return quorum.Digest(parts...)
}

func (t *triad) run(ctx context.Context) {
	defer t.tr.Close()
	ticker := time.NewTicker(t.timing.Tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			t.mu.Lock()
			t.catchUp()
		case m := <-t.tr.Recv():
			t.mu.Lock()
			t.catchUp()
			if err := t.node.Step(m); err != nil {
				t.s.log.WithError(err).Warnf("Bad message from %s", t.s.servers[m.From].Host)
			}
		}
		rd := t.node.Ready()
		st := t.node.Status()
		t.mu.Unlock()
		t.apply(rd, st)
	}
}

// catchUp runs the ticks owed since start, so a stalled (or suspended)
// process acts on the time that really passed. t.mu is held.
func (t *triad) catchUp() {
	want := (handoff.BootTimeNow() - t.start) / int64(t.timing.Tick)
	for t.node.Now() < want {
		t.node.Tick()
	}
}

// apply tells the vendor daemons what to do first (stop serving before
// anything else), then logs, then sends.
func (t *triad) apply(rd quorum.Ready, st quorum.Status) {
	t.s.setRole(t.roleMessage(st))
	for _, e := range rd.Events {
		if e.Detail != "" {
			t.s.log.WithField("detail", e.Detail).Info(e.Text)
		} else {
			t.s.log.Info(e.Text)
		}
	}
	for _, m := range rd.Messages {
		_ = t.tr.Send(m) // best effort: heartbeats are resent anyway
	}
}

// roleMessage is the ROLE control line for the vendor daemons: serving with
// a lease deadline on the machine's boot-time clock, or the error clients
// get and the master to try instead.
func (t *triad) roleMessage(st quorum.Status) wire.Message {
	if st.Serving {
		lease := handoff.BootTimeNow() + st.LeaseLeft*int64(t.timing.Tick)
		var live []string
		for r, up := range st.Live {
			if up {
				live = append(live, strconv.Itoa(r))
			}
		}
		return wire.New("ROLE", "serving", "1", "lease", strconv.FormatInt(lease, 10), "live", strings.Join(live, ","))
	}
	m := wire.New("ROLE", "serving", "0")
	switch st.Role {
	case quorum.RoleMaster:
		m.Set("code", strconv.Itoa(wire.CodeBusyNewServ))
	case quorum.RoleStandby:
		m.Set("code", strconv.Itoa(wire.CodeServBusy))
		if st.Master >= 0 {
			m.Set("master", t.s.portAtHost(st.Master))
		}
	default:
		m.Set("code", strconv.Itoa(wire.CodeServBusy))
	}
	return m
}

func (t *triad) setLicenseDigest(d string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.node.Config().LicenseDigest != d {
		t.s.log.Info("Licenses changed: peers must reread the same license file to stay in the quorum")
		t.node.SetLicenseDigest(d)
	}
}

func (t *triad) status() quorum.Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.catchUp()
	return t.node.Status()
}

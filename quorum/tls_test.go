package quorum

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"go.uber.org/goleak"

	"github.com/lmtriad/lmtriad/clusterkey"
	"github.com/lmtriad/lmtriad/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// loopbackHosts are the members' hosts: three loopback addresses, so that a
// member is told apart by the address it connects from, as on a network.
var loopbackHosts = [Size]string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}

func testKey(t *testing.T, b byte) *clusterkey.Key {
	t.Helper()
	k, err := clusterkey.FromBytes(bytes.Repeat([]byte{b}, clusterkey.SecretSize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tlsMember is one member's transport, listener and log.
type tlsMember struct {
	tr   *TLSTransport
	ln   net.Listener
	log  *logtest.Hook
	addr string
}

// tlsTriad starts three TLSTransports on 127.0.0.1-3, each behind a
// listener that routes a connection as lmgrd does: read the one greeting
// line, then hand the connection to Serve. keys[r] is member r's key.
func tlsTriad(t *testing.T, keys [Size]*clusterkey.Key) [Size]*tlsMember {
	t.Helper()
	var ms [Size]*tlsMember
	var addrs [Size]string
	for r, h := range loopbackHosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(h, "0"))
		if err != nil {
			t.Skipf("no loopback address %s: %v", h, err)
		}
		ms[r] = &tlsMember{ln: ln, addr: ln.Addr().String()}
		addrs[r] = ms[r].addr
		t.Cleanup(func() { ln.Close() })
	}
	var wg sync.WaitGroup
	for r := range Size {
		logger, hook := logtest.NewNullLogger()
		logger.SetLevel(logrus.DebugLevel)
		ms[r].log = hook
		ms[r].tr = NewTLSTransport(TLSConfig{Self: r, Hosts: loopbackHosts, Addrs: addrs, Key: keys[r],
			Log: logger, LocalIP: net.ParseIP(loopbackHosts[r]), HandshakeTimeout: 5 * time.Second})
		wg.Add(1)
		go func() { defer wg.Done(); routePeers(ms[r].ln, ms[r].tr, &wg) }()
	}
	t.Cleanup(func() {
		for _, m := range ms {
			m.ln.Close()
		}
		for _, m := range ms {
			m.tr.Close()
		}
		wg.Wait()
	})
	return ms
}

// routePeers is lmgrd's routing of a SERVER port, reduced to peers.
func routePeers(ln net.Listener, tr *TLSTransport, wg *sync.WaitGroup) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			hello, err := wire.NewReader(br).ReadMessage()
			if err != nil || hello.Verb != wire.VerbHello || hello.Get("role") != "peer" {
				c.Close()
				return
			}
			_ = c.SetReadDeadline(time.Time{})
			// The dialer starts its TLS handshake right after the greeting:
			// what the reader buffered past the line belongs to Serve.
			tr.Serve(&greetedConn{Conn: c, r: br}, hello)
		}()
	}
}

// greetedConn is a connection whose first bytes are in a bufio.Reader.
type greetedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *greetedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// logHas reports whether a log entry contains every one of parts.
func logHas(h *logtest.Hook, parts ...string) bool {
	for _, e := range h.AllEntries() {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(e.Message, p)
		}
		if ok {
			return true
		}
	}
	return false
}

func logText(h *logtest.Hook) string {
	var b strings.Builder
	for _, e := range h.AllEntries() {
		b.WriteString(e.Level.String() + ": " + e.Message + "\n")
	}
	return b.String()
}

// marked is an envelope from a to b whose license digest names the pair.
func marked(a, b int) Envelope {
	e := Envelope{From: a, To: b, ServerDigest: "sd", LicenseDigest: "from" + strconv.Itoa(a) + "to" + strconv.Itoa(b)}
	e.Links[a] = true
	return e
}

// deliverMarked sends marked envelopes from a to b until one arrives, or d
// passes; other envelopes received meanwhile go to got.
func deliverMarked(ms [Size]*tlsMember, a, b int, d time.Duration, got map[int][]Envelope) bool {
	want := marked(a, b)
	return waitFor(d, func() bool {
		ms[a].tr.Send(want)
		for {
			select {
			case e := <-ms[b].tr.Recv():
				got[e.From] = append(got[e.From], e)
				if e.From == a && e.LicenseDigest == want.LicenseDigest {
					return true
				}
			default:
				return false
			}
		}
	})
}

func TestTLSTransportCarriesEnvelopesBothWays(t *testing.T) {
	k := testKey(t, 1)
	ms := tlsTriad(t, [Size]*clusterkey.Key{k, k, k})
	for a := range Size {
		for b := range Size {
			if a == b {
				continue
			}
			got := map[int][]Envelope{}
			if !deliverMarked(ms, a, b, 10*time.Second, got) {
				t.Fatalf("no envelope from %d reached %d\nlog of %d:\n%s", a, b, b, logText(ms[b].log))
			}
			for from, es := range got {
				for _, e := range es {
					if e.From != from || e.To != b {
						t.Errorf("%d received an envelope from %d to %d", b, e.From, e.To)
					}
				}
			}
		}
	}
	for r, m := range ms {
		if logHas(m.log, "Refused") {
			t.Errorf("member %d refused a peer:\n%s", r, logText(m.log))
		}
	}
}

func TestTLSTransportRefusesAnotherClusterKey(t *testing.T) {
	k := testKey(t, 1)
	ms := tlsTriad(t, [Size]*clusterkey.Key{k, k, testKey(t, 2)})
	// The tertiary holds another key: the primary refuses its links both
	// ways and says so, with its address.
	if !waitFor(10*time.Second, func() bool {
		ms[Tertiary].tr.Send(marked(Tertiary, Primary))
		return logHas(ms[Primary].log, "127.0.0.3", "cluster key")
	}) {
		t.Fatalf("the primary did not log a refusal of 127.0.0.3 for its cluster key:\n%s", logText(ms[Primary].log))
	}
	if !waitFor(10*time.Second, func() bool { return logHas(ms[Tertiary].log, "127.0.0.1", "cluster key") }) {
		t.Errorf("the tertiary did not log a refusal of 127.0.0.1 for its cluster key:\n%s", logText(ms[Tertiary].log))
	}
	// The glue can show why each link is down.
	if why, at := ms[Primary].tr.LastRefusal(Tertiary); !strings.Contains(why, "cluster key") || at.IsZero() || time.Since(at) > time.Minute {
		t.Errorf("the primary's last refusal of the tertiary: %q at %v", why, at)
	}
	if why, at := ms[Primary].tr.LastRefusal(Secondary); why != "" || !at.IsZero() {
		t.Errorf("the primary's last refusal of the secondary, which it never refused: %q at %v", why, at)
	}
	if why, _ := ms[Primary].tr.LastRefusal(7); why != "" {
		t.Errorf("LastRefusal(7) = %q", why)
	}
	// The secondary's envelopes still arrive; the tertiary's never did.
	got := map[int][]Envelope{}
	if !deliverMarked(ms, Secondary, Primary, 10*time.Second, got) {
		t.Fatalf("the secondary's envelopes do not reach the primary:\n%s", logText(ms[Primary].log))
	}
	ms[Tertiary].tr.Send(marked(Tertiary, Primary))
	ms[Tertiary].tr.Send(marked(Tertiary, Secondary))
	if !deliverMarked(ms, Secondary, Primary, 10*time.Second, got) || !deliverMarked(ms, Primary, Secondary, 10*time.Second, got) {
		t.Fatal("the primary and the secondary stopped talking")
	}
	if n := len(got[Tertiary]); n > 0 {
		t.Fatalf("%d envelopes of the member with another key were delivered", n)
	}
	for _, m := range ms[:Tertiary] {
		select {
		case e := <-m.tr.Recv():
			if e.From == Tertiary {
				t.Fatalf("an envelope of the member with another key was delivered: %+v", e)
			}
		default:
		}
	}
}

func TestTLSTransportRefusesWrongRankOrAddress(t *testing.T) {
	k := testKey(t, 1)
	tests := []struct {
		name string
		from string // local address of the connection
		rank string
		says string // also in the refusal
	}{
		{"rank of another address", "127.0.0.3", "1", "127.0.0.2"}, // 127.0.0.3 claims the secondary's rank
		{"own rank", "127.0.0.2", "0", ""},
		{"no rank", "127.0.0.2", "x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := tlsTriad(t, [Size]*clusterkey.Key{k, k, k})
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tt.from)}, Timeout: 5 * time.Second}
			c, err := d.DialContext(t.Context(), "tcp", ms[Primary].addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			local := c.LocalAddr().String()
			if err := wire.NewWriter(c).WriteMessage(wire.Hello("role", "peer", "rank", tt.rank)); err != nil {
				t.Fatal(err)
			}
			// The primary hangs up without a word: no TLS, nothing of the triad.
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := io.Copy(io.Discard, c)
			if err != nil || n != 0 {
				t.Fatalf("read %d bytes, err %v; want a hang-up without a word", n, err)
			}
			if !waitFor(5*time.Second, func() bool { return logHas(ms[Primary].log, "Refused", local, tt.says) }) {
				t.Fatalf("no refusal of %s in the log:\n%s", local, logText(ms[Primary].log))
			}
			if rank, err := strconv.Atoi(tt.rank); err == nil {
				if why, at := ms[Primary].tr.LastRefusal(rank); why == "" || at.IsZero() {
					t.Errorf("no last refusal recorded for rank %d", rank)
				}
			}
			// The real members are unaffected.
			got := map[int][]Envelope{}
			if !deliverMarked(ms, Secondary, Primary, 10*time.Second, got) ||
				!deliverMarked(ms, Tertiary, Primary, 10*time.Second, got) {
				t.Fatalf("the members no longer reach the primary:\n%s", logText(ms[Primary].log))
			}
		})
	}
}

// TestTLSTransportDrivesAnElection runs three Nodes over TLS on a real
// clock: one of the primary and the secondary serves, never two at once.
func TestTLSTransportDrivesAnElection(t *testing.T) {
	if testing.Short() {
		t.Skip("real time: about 2.5 s")
	}
	k := testKey(t, 7)
	ms := tlsTriad(t, [Size]*clusterkey.Key{k, k, k})
	timing := FastTiming()
	var nodes [Size]*Node
	for r := range Size {
		n, err := New(Config{Self: r, Hosts: loopbackHosts, Timing: timing}, nil)
		if err != nil {
			t.Fatal(err)
		}
		nodes[r] = n
	}
	// One goroutine per node would be the real glue; here one loop steps
	// all three in turn on a real clock, for at most 200 ticks (10 s).
	ticker := time.NewTicker(timing.Tick)
	defer ticker.Stop()
	for tick := 0; tick < 200; tick++ {
		<-ticker.C
		serving := 0
		for r, n := range nodes {
			n.Tick()
		drain:
			for {
				select {
				case e := <-ms[r].tr.Recv():
					if err := n.Step(e); err != nil {
						t.Errorf("member %d: Step: %v", r, err)
					}
				default:
					break drain
				}
			}
			rd, err := n.Ready()
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range rd.Messages {
				ms[r].tr.Send(e)
			}
			n.Advance()
			if n.Serving() {
				serving++
			}
		}
		if serving > 1 {
			t.Fatalf("%d members serve at once", serving)
		}
		if nodes[Primary].Serving() || nodes[Secondary].Serving() {
			t.Logf("a master serves after %d ticks", tick+1)
			return
		}
	}
	t.Fatalf("no master over TLS; statuses:\n%v\n%v\n%v", nodes[0].Status(), nodes[1].Status(), nodes[2].Status())
}

package quorum

import (
	"bufio"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/wire"
)

var loopbackHosts = [Size]string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}

// tcpTriad runs three TCPTransports on 127.0.0.1-3, each behind a listener
// that reads the greeting and hands the link to Serve, as lmgrd does.
func tcpTriad(t *testing.T) ([Size]*TCPTransport, [Size]string) {
	t.Helper()
	var lns [Size]net.Listener
	var addrs [Size]string
	for attempt := 0; ; attempt++ {
		port := strconv.Itoa(20000 + rand.IntN(12000))
		ok := true
		for r, h := range loopbackHosts {
			ln, err := net.Listen("tcp", net.JoinHostPort(h, port))
			if err != nil {
				ok = false
				break
			}
			lns[r], addrs[r] = ln, ln.Addr().String()
		}
		if ok {
			break
		}
		for _, ln := range lns {
			if ln != nil {
				ln.Close()
			}
		}
		if attempt == 100 {
			t.Fatal("no free port on 127.0.0.1-3")
		}
	}
	var trs [Size]*TCPTransport
	for r := range Size {
		trs[r] = NewTCPTransport(TCPConfig{Self: r, Addrs: addrs})
		go acceptPeers(lns[r], trs[r])
	}
	t.Cleanup(func() {
		for r := range Size {
			lns[r].Close()
			trs[r].Close()
		}
	})
	return trs, addrs
}

func acceptPeers(ln net.Listener, tr *TCPTransport) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			line, err := bufio.NewReader(c).ReadString('\n') // the peer sends nothing more before our answer
			if err != nil {
				c.Close()
				return
			}
			hello, err := wire.ParseMessage(strings.TrimSpace(line))
			if err != nil {
				c.Close()
				return
			}
			tr.Serve(c, hello)
		}()
	}
}

func recvWithin(t *testing.T, tr *TCPTransport, d time.Duration) Message {
	t.Helper()
	select {
	case m := <-tr.Recv():
		return m
	case <-time.After(d):
		t.Fatal("no message")
	}
	return Message{}
}

func TestTCPTransportDeliversWithTheSendersRank(t *testing.T) {
	trs, _ := tcpTriad(t)
	// The sender claims rank 2 inside the message; the link proves rank 0.
	m := Message{Type: MsgHeartbeat, From: 2, To: 1, SentAt: 7, Master: 0, Hosts: loopbackHosts}
	deadline := time.Now().Add(10 * time.Second)
	var got Message
	for time.Now().Before(deadline) { // the first sends may precede the link
		if err := trs[0].Send(m); err != nil {
			t.Fatal(err)
		}
		select {
		case got = <-trs[1].Recv():
		case <-time.After(50 * time.Millisecond):
			continue
		}
		break
	}
	if got.From != 0 || got.SentAt != 7 || got.Type != MsgHeartbeat {
		t.Fatalf("got %+v, want a heartbeat from rank 0 sent at 7", got)
	}
}

func TestTCPTransportRefusesStrangers(t *testing.T) {
	_, addrs := tcpTriad(t)
	tests := []struct {
		name   string
		from   string
		hello  wire.Message
		detail string
	}{
		{"other SERVER lines", "127.0.0.2", wire.Hello("role", "peer", "rank", "1", "servers", "h1:1,h2:2,h3:3"), "SERVER lines differ"},
		{"own rank", "127.0.0.1", wire.Hello("role", "peer", "rank", "0", "servers", strings.Join(addrs[:], ",")), "bad peer rank"},
		{"wrong address", "127.0.0.3", wire.Hello("role", "peer", "rank", "1", "servers", strings.Join(addrs[:], ",")), "not connecting from 127.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tt.from)}}
			_, reply, err := wire.Dial(t.Context(), &d, addrs[0], tt.hello, 5*time.Second)
			if err == nil {
				t.Fatalf("admitted: %v", reply)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("refusal %v does not say %q", err, tt.detail)
			}
		})
	}
}

func TestTCPTransportDrivesAnElection(t *testing.T) {
	trs, addrs := tcpTriad(t)
	timing := FastTiming()
	var nodes [Size]*Node
	for r := range Size {
		n, err := New(Config{Self: r, Hosts: loopbackHosts, Timing: timing, Incarnation: uint64(r + 1),
			ServerDigest: Digest(addrs[:]...)})
		if err != nil {
			t.Fatal(err)
		}
		nodes[r] = n
	}
	// One goroutine per node would be the real glue; here one loop steps
	// all three in turn on a real clock, bounded to 200 ticks (10 s).
	ticker := time.NewTicker(timing.Tick)
	defer ticker.Stop()
	for tick := 0; tick < 200; tick++ {
		<-ticker.C
		for r, n := range nodes {
			n.Tick()
		drain:
			for {
				select {
				case m := <-trs[r].Recv():
					_ = n.Step(m)
				default:
					break drain
				}
			}
			for _, m := range n.Ready().Messages {
				_ = trs[r].Send(m)
			}
		}
		if nodes[0].Serving() {
			for r := 1; r < Size; r++ {
				if nodes[r].Serving() {
					t.Fatalf("rank %d serves beside the primary", r)
				}
			}
			return
		}
	}
	t.Fatalf("no master over TCP; primary status %v", nodes[0].Status())
}

package client

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lmtriad/lmtriad/wire"
)

// scriptServer is a raw vendor daemon for REVOKED: it grants handle 7 and,
// when a HEARTBEAT comes, writes a REVOKED line for it just before the
// heartbeat's reply. Connections it accepts after the first are counted and
// answered the same way.
type scriptServer struct {
	ln net.Listener
	wg sync.WaitGroup

	mu        sync.Mutex
	checkouts int
	conns     []net.Conn
}

const revokedLine = `REVOKED handle=7 feature=f count=1 reason=removed code=-16 minor=601 text="Cannot read data from license server system." detail="license removed by lmremove"`

func startScript(t *testing.T) *scriptServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.dropConns()
		s.wg.Wait()
	})
	return s
}

func (s *scriptServer) dropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

func (s *scriptServer) portAtHost() string {
	return strconv.Itoa(s.ln.Addr().(*net.TCPAddr).Port) + "@127.0.0.1"
}

func (s *scriptServer) serve(c net.Conn) {
	defer c.Close()
	r := wire.NewReader(bufio.NewReader(c))
	w := bufio.NewWriter(c)
	for {
		req, err := r.ReadMessage()
		if err != nil {
			return
		}
		switch req.Verb {
		case "HELLO":
			w.WriteString("OK proto=1 vendor=demo\n")
		case "CHECKOUT":
			s.mu.Lock()
			s.checkouts++
			s.mu.Unlock()
			w.WriteString("OK handle=7 version=1.0 count=1\n")
		case "HEARTBEAT":
			// Between the replies of CHECKOUT and HEARTBEAT, in the same
			// write as the latter: the reader must take it up first.
			w.WriteString(revokedLine + "\n")
			w.WriteString("OK held=0\n")
		case "STATUS":
			w.WriteString("OK records=1\nFEATURE name=f issued=2 inuse=0 uncounted=0\n")
		case "CHECKIN":
			w.WriteString("ERR code=-41 minor=1 text=\"Feature was never checked out.\"\n")
		default:
			w.WriteString("ERR code=-12 minor=2 text=x\n")
		}
		if w.Flush() != nil {
			return
		}
	}
}

func (s *scriptServer) checkoutCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkouts
}

func TestRevokedBetweenReplies(t *testing.T) {
	s := startScript(t)
	c := newClient(t, testOptions(t, s.portAtHost()))
	lic := checkout(t, c, "f", 1)
	if lic.Handle() != 7 {
		t.Fatalf("handle %d, want 7", lic.Handle())
	}
	l := c.liveLink("demo")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, _, err := l.do(ctx, wire.New("HEARTBEAT"))
	if err != nil || resp.Get("held") != "0" {
		t.Fatalf("HEARTBEAT after a REVOKED: %v %v, want OK held=0 (replies still matched)", resp, err)
	}
	ev := nextEvent(t, lic)
	if ev.Kind != Revoked {
		t.Fatalf("event %v, want revoked", ev.Kind)
	}
	var we *wire.Error
	if !errors.As(ev.Err, &we) || we.Code != wire.CodeCantRead || we.Minor != 601 || we.Detail != "license removed by lmremove" {
		t.Fatalf("event error %#v, want -16,601 with the server's detail", ev.Err)
	}
	if lic.Held() {
		t.Fatal("a revoked license is still held")
	}
	if !errors.Is(lic.Err(), ev.Err) && lic.Err() != ev.Err {
		t.Fatalf("Err() = %v, want %v", lic.Err(), ev.Err)
	}
	// The link stays in step: a reply with records is matched too.
	_, recs, err := l.do(ctx, wire.New("STATUS"))
	if err != nil || len(recs) != 1 {
		t.Fatalf("STATUS after a REVOKED: %v %v", recs, err)
	}
	// A revoked license is not checked out again when the connection is
	// lost and the client reconnects.
	s.dropConns()
	waitFor(t, "the link to die", func() bool { return !l.alive() })
	time.Sleep(100 * time.Millisecond) // many RetryIntervals
	if n := s.checkoutCount(); n != 1 {
		t.Fatalf("%d CHECKOUTs, want 1: a revoked license was checked out again", n)
	}
	select {
	case ev, ok := <-lic.Events():
		if ok {
			t.Fatalf("unexpected event %v after the revocation", ev.Kind)
		}
	default:
	}
	if err := lic.Checkin(); err != nil {
		t.Fatalf("Checkin of a revoked license: %v", err)
	}
}

// A REVOKED that overtakes the taking up of its checkout's reply (an
// lmremove right after the grant) fails that checkout rather than being
// lost.
func TestRevokedBeforeHold(t *testing.T) {
	s := startScript(t)
	c := newClient(t, testOptions(t, s.portAtHost()))
	lic := checkout(t, c, "f", 1)
	l := c.liveLink("demo")
	l.revoke(mustParse(t, `REVOKED handle=9 reason=reread code=-92 minor=603 text=x`))
	other := &License{c: c, Feature: "f", Count: 1, events: make(chan Event, 1)}
	err := l.hold(9, other)
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeServerRemoved {
		t.Fatalf("hold after REVOKED: %v, want -92", err)
	}
	if !lic.Held() {
		t.Fatal("another handle's REVOKED took the license")
	}
}

func mustParse(t *testing.T, line string) wire.Message {
	t.Helper()
	m, err := wire.ParseMessage(line)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

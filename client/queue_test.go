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

// queueServer is a raw vendor daemon for CHECKOUT queue=1: it queues every
// checkout under handle 9 (ERR -35) and, when release is closed, writes
// the GRANTED line (or, with dropCode, a REVOKED reason=dequeued line). It
// records the requests it got.
type queueServer struct {
	ln       net.Listener
	wg       sync.WaitGroup
	release  chan struct{}
	dropCode int

	mu   sync.Mutex
	reqs []wire.Message
}

func startQueueServer(t *testing.T, dropCode int) *queueServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &queueServer{ln: ln, release: make(chan struct{}), dropCode: dropCode}
	done := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c, done) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(done)
		s.wg.Wait()
	})
	return s
}

func (s *queueServer) serve(c net.Conn, done chan struct{}) {
	defer c.Close()
	go func() { <-done; c.Close() }()
	r := wire.NewReader(bufio.NewReader(c))
	var wmu sync.Mutex
	write := func(line string) {
		wmu.Lock()
		defer wmu.Unlock()
		c.Write([]byte(line + "\n"))
	}
	for {
		req, err := r.ReadMessage()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, req.Clone())
		s.mu.Unlock()
		switch req.Verb {
		case "HELLO":
			write("OK proto=1 vendor=demo")
		case "CHECKOUT":
			write(`ERR code=-35 minor=350 text="In the queue for this feature." handle=9 secret=s9`)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				select {
				case <-s.release:
				case <-done:
					return
				}
				if s.dropCode != 0 {
					write(`REVOKED handle=9 feature=f count=1 reason=dequeued code=` + strconv.Itoa(s.dropCode) + ` minor=604 text="No such feature exists."`)
					return
				}
				write("GRANTED handle=9 feature=f version=1.0 count=1 secret=s9")
			}()
		case "HEARTBEAT":
			write("OK held=0")
		default:
			write("OK")
		}
	}
}

func (s *queueServer) requests(verb string) []wire.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wire.Message
	for _, r := range s.reqs {
		if r.Verb == verb {
			out = append(out, r)
		}
	}
	return out
}

func (s *queueServer) portAtHost() string {
	return strconv.Itoa(s.ln.Addr().(*net.TCPAddr).Port) + "@127.0.0.1"
}

func TestCheckoutQueuedWaitsForGranted(t *testing.T) {
	s := startQueueServer(t, 0)
	opts := testOptions(t, s.portAtHost())
	queuedAs := make(chan uint64, 1)
	opts.OnQueued = func(feature string, handle uint64) { queuedAs <- handle }
	c := newClient(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make(chan *License, 1)
	go func() {
		lic, err := c.CheckoutQueued(ctx, "f", "1.0", 1)
		if err != nil {
			t.Error(err)
		}
		got <- lic
	}()
	if h := <-queuedAs; h != 9 {
		t.Fatalf("queued as %d, want 9", h)
	}
	hello := s.requests("HELLO")[0]
	if hello.Get("notify") != "revoked,granted" {
		t.Fatalf("HELLO notify=%q", hello.Get("notify"))
	}
	if co := s.requests("CHECKOUT")[0]; co.Get("queue") != "1" {
		t.Fatalf("CHECKOUT without queue=1: %v", co)
	}
	close(s.release)
	lic := <-got
	if lic == nil || !lic.Held() || lic.Handle() != 9 || lic.GrantedVersion() != "1.0" {
		t.Fatalf("granted license %+v", lic)
	}
	if err := lic.Checkin(); err != nil {
		t.Fatal(err)
	}
	if n := len(s.requests("CHECKIN")); n != 1 {
		t.Fatalf("%d CHECKINs, want 1", n)
	}
}

func TestCheckoutQueuedCancelledChecksTheHandleIn(t *testing.T) {
	s := startQueueServer(t, 0)
	c := newClient(t, testOptions(t, s.portAtHost()))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.CheckoutQueued(ctx, "f", "1.0", 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline", err)
	}
	ci := s.requests("CHECKIN")
	if len(ci) != 1 || ci[0].Get("handle") != "9" {
		t.Fatalf("CHECKINs %v, want one of handle 9", ci)
	}
}

func TestCheckoutQueuedDropped(t *testing.T) {
	s := startQueueServer(t, wire.CodeNoFeature)
	close(s.release)
	c := newClient(t, testOptions(t, s.portAtHost()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.CheckoutQueued(ctx, "f", "1.0", 1)
	if !errors.Is(err, wire.ErrNoFeature) {
		t.Fatalf("got %v, want -5", err)
	}
}

package wire

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// testHandler answers a small test vocabulary:
//
//	HELLO proto=N      OK proto=1 server=test/1, or the CheckProto error
//	ECHO ...           OK with the same arguments
//	STATUS n=N         OK records=N, then N POOL records
//	FAIL               ERR -4 with master=
//	BLOCK              waits until block is closed, then OK
//	PANIC              panics
//	BADREPLY           a reply with an invalid key
//	BYE                OK, then closes the connection
type testHandler struct {
	block   chan struct{} // BLOCK waits for it
	blocked chan struct{} // BLOCK signals it has started, if not nil
}

func (h *testHandler) Handle(req Message) (Message, []Message, bool) {
	switch req.Verb {
	case VerbHello:
		if err := CheckProto(req); err != nil {
			return ErrorReply(err), nil, false
		}
		return OK("proto", "1", "server", "test/1"), nil, false
	case "ECHO":
		return Message{Verb: VerbOK, Args: req.Args}, nil, false
	case VerbStatus:
		n, err := req.Int("n")
		if err != nil {
			return ErrorReply(err), nil, false
		}
		var recs []Message
		for i := range n {
			recs = append(recs, New(RecPool, "feature", "f"+strconv.Itoa(i), "vendor_string", "a b"))
		}
		return OK(), recs, false
	case "FAIL":
		m := NewError(CodeServBusy, 12).Message()
		m.Set("master", "27100@127.0.0.2")
		return m, nil, false
	case "BLOCK":
		if h.blocked != nil {
			h.blocked <- struct{}{}
		}
		<-h.block
		return OK(), nil, false
	case "PANIC":
		panic("test panic")
	case "BADREPLY":
		return New("OK", "Bad Key", "1"), nil, false
	case "BYE":
		return OK(), nil, true
	}
	return NewError(CodeNoServSupp, MinorUnknownVerb).Message(), nil, false
}

// testServer serves testHandler on 127.0.0.1:0 until the test ends.
func testServer(t *testing.T, opts ServeOptions, h *testHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { Serve(ctx, c, opts, h) })
		}
	})
	t.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) *Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn := NewConn(c)
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestConnCall(t *testing.T) {
	addr := testServer(t, ServeOptions{}, &testHandler{})
	c := dial(t, addr)
	ctx := context.Background()

	resp, recs, err := c.Call(ctx, Hello("vendor", "demo", "role", RoleClient))
	if err != nil || resp.String() != "OK proto=1 server=test/1" || recs != nil {
		t.Fatalf("HELLO: %v %v %v", resp, recs, err)
	}

	resp, recs, err = c.Call(ctx, New(VerbStatus, "n", "3"))
	if err != nil || resp.String() != "OK records=3" || len(recs) != 3 {
		t.Fatalf("STATUS: %v %v %v", resp, recs, err)
	}
	for i, r := range recs {
		if r.Verb != RecPool || r.Get("feature") != "f"+strconv.Itoa(i) || r.Get("vendor_string") != "a b" {
			t.Errorf("record %d = %v", i, r)
		}
	}

	resp, recs, err = c.Call(ctx, New(VerbStatus, "n", "0"))
	if err != nil || resp.String() != "OK" || len(recs) != 0 {
		t.Fatalf("STATUS n=0: %v %v %v", resp, recs, err)
	}

	resp, _, err = c.Call(ctx, New("FAIL"))
	if !errors.Is(err, ErrServBusy) || resp.Get("master") != "27100@127.0.0.2" {
		t.Fatalf("FAIL: %v, %v; want ErrServBusy and master=", resp, err)
	}
	if got, want := err.Error(), "License server system busy (no majority). (-20,12)"; got != want {
		t.Errorf("FAIL error = %q, want %q", got, want)
	}

	// An ERR leaves the connection usable.
	if _, _, err := c.Call(ctx, New("ECHO", "a", "1")); err != nil {
		t.Fatalf("ECHO after ERR: %v", err)
	}
	// So does an invalid request, which is never sent.
	if _, _, err := c.Call(ctx, New("bad")); err == nil {
		t.Fatal("Call with an invalid verb succeeded")
	}
	if _, _, err := c.Call(ctx, New("ECHO", "a", "1")); err != nil {
		t.Fatalf("ECHO after invalid request: %v", err)
	}
}

func TestConnCallDeadline(t *testing.T) {
	h := &testHandler{block: make(chan struct{})}
	defer close(h.block)
	addr := testServer(t, ServeOptions{}, h)
	c := dial(t, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := c.Call(ctx, New("BLOCK"))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Call past its deadline: %v, want context.DeadlineExceeded", err)
	}
	// The reply to BLOCK may still come: the Conn refuses to go on.
	_, _, err2 := c.Call(context.Background(), New("ECHO"))
	if err2 == nil || !errors.Is(err2, context.DeadlineExceeded) {
		t.Fatalf("Call after a timed out call: %v, want the earlier error", err2)
	}
}

func TestConnCallCancel(t *testing.T) {
	h := &testHandler{block: make(chan struct{}), blocked: make(chan struct{})}
	defer close(h.block)
	addr := testServer(t, ServeOptions{}, h)
	c := dial(t, addr)

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-h.blocked // the request reached the handler
		cancel()
	}()
	_, _, err := c.Call(ctx, New("BLOCK"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Call: %v, want context.Canceled", err)
	}
	// Already cancelled: fails before sending.
	if _, _, err := c.Call(ctx, New("ECHO")); err == nil {
		t.Fatal("Call with a cancelled context succeeded")
	}
}

func TestConnCallPeerGone(t *testing.T) {
	addr := testServer(t, ServeOptions{}, &testHandler{})
	c := dial(t, addr)
	if _, _, err := c.Call(context.Background(), New("BYE")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Call(context.Background(), New("ECHO")); err == nil {
		t.Fatal("Call on a closed connection succeeded")
	}
}

func TestConnConcurrentCalls(t *testing.T) {
	addr := testServer(t, ServeOptions{}, &testHandler{})
	c := dial(t, addr)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				id := strconv.Itoa(g*1000 + i)
				resp, _, err := c.Call(context.Background(), New("ECHO", "id", id))
				if err != nil || resp.Get("id") != id {
					t.Errorf("ECHO id=%s: %v, %v", id, resp, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestConnBadRecords(t *testing.T) {
	tests := []struct {
		name  string
		reply string
	}{
		{"negative", "OK records=-1\n"},
		{"not a number", "OK records=x\n"},
		{"huge", "OK records=99999999999\n"},
		{"bad record", "OK records=2\nPOOL a=1\npool\n"},
		{"short", "OK records=2\nPOOL a=1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer server.Close()
			c := NewConn(client)
			defer c.Close()
			go func() {
				NewReader(server).ReadLine()
				server.Write([]byte(tt.reply))
				server.Close()
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if resp, recs, err := c.Call(ctx, New(VerbStatus)); err == nil {
				t.Fatalf("Call = %v, %v, nil; want an error", resp, recs)
			}
		})
	}
}

func TestConnSendReceive(t *testing.T) {
	a, b := net.Pipe()
	ca, cb := NewConn(a), NewConn(b)
	defer ca.Close()
	defer cb.Close()
	if ca.Raw() != a {
		t.Error("Raw() is not the wrapped conn")
	}
	go func() {
		m, err := cb.Receive()
		if err != nil {
			return
		}
		cb.SendReply(OK("echo", m.Verb), New("POOL", "n", "1"), New("POOL", "n", "2"))
		cb.Send(New("PONG"))
	}()
	resp, recs, err := ca.Call(context.Background(), New("PING"))
	if err != nil || resp.String() != "OK echo=PING records=2" || len(recs) != 2 || recs[1].Get("n") != "2" {
		t.Fatalf("Call = %v %v %v", resp, recs, err)
	}
	if m, err := ca.Receive(); err != nil || m.Verb != "PONG" || ca.Buffered() != 0 {
		t.Fatalf("Receive = %v, %v", m, err)
	}
}

package wire

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// pipeServe runs Serve on one end of a net.Pipe and returns the other end
// (with a Reader for the replies) and a function that waits for Serve's
// result.
func pipeServe(t *testing.T, ctx context.Context, opts ServeOptions, h Handler) (net.Conn, *Reader, func() error) {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, server, opts, h) }()
	t.Cleanup(func() { client.Close() })
	var once sync.Once
	var err error
	wait := func() error {
		once.Do(func() {
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return")
			}
		})
		return err
	}
	t.Cleanup(func() { client.Close(); wait() })
	return client, NewReader(client), wait
}

// exchange writes raw request text and checks the reply lines that follow.
func exchange(t *testing.T, c net.Conn, r *Reader, send string, want ...string) {
	t.Helper()
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatalf("writing %q: %v", send, err)
		}
	}
	for _, w := range want {
		got, err := r.ReadLine()
		if err != nil {
			t.Fatalf("after %q: reading the reply: %v (want %s)", send, err, w)
		}
		if got != w {
			t.Fatalf("after %q: got %s, want %s", send, got, w)
		}
	}
}

func expectEOF(t *testing.T, r *Reader) {
	t.Helper()
	if l, err := r.ReadLine(); err != io.EOF {
		t.Fatalf("got %q, %v; want the connection closed", l, err)
	}
}

const badComm = `ERR code=-12 minor=`
const badText = ` text="Invalid returned data from license server system."`

func TestServeRequests(t *testing.T) {
	c, r, wait := pipeServe(t, context.Background(), ServeOptions{}, &testHandler{})
	exchange(t, c, r, "HELLO proto=1\n", "OK proto=1 server=test/1")
	exchange(t, c, r, "STATUS n=2\r\n", "OK records=2", `POOL feature=f0 vendor_string="a b"`, `POOL feature=f1 vendor_string="a b"`)
	exchange(t, c, r, "NOPE\n", `ERR code=-18 minor=904 text="License server system does not support this feature."`)
	exchange(t, c, r, "STATUS\n", badComm+"905"+badText+` detail="STATUS: missing argument n="`)
	exchange(t, c, r, "BYE\n", "OK")
	expectEOF(t, r)
	if err := wait(); err != nil {
		t.Errorf("Serve after BYE = %v, want nil", err)
	}
}

func TestServeFirst(t *testing.T) {
	first, _ := ParseMessage("HELLO proto=2 vendor=demo")
	c, r, wait := pipeServe(t, context.Background(), ServeOptions{First: &first}, &testHandler{})
	// The reply to First comes without anything being sent.
	exchange(t, c, r, "", `ERR code=-83 minor=903 text="Version of vendor daemon is too old." detail="client proto=2, server proto=1"`)
	exchange(t, c, r, "ECHO a=1\n", "OK a=1")
	c.Close()
	if err := wait(); err != nil {
		t.Errorf("Serve after the peer closed = %v, want nil", err)
	}
}

func TestServeBadLines(t *testing.T) {
	c, r, _ := pipeServe(t, context.Background(), ServeOptions{MaxLine: 64}, &testHandler{})
	exchange(t, c, r, "hello\n", badComm+"901"+badText+` detail="column 1: verb must start with an upper-case letter, found 'h'"`)
	exchange(t, c, r, "ECHO a=\"x\n", badComm+"901"+badText+` detail="column 8: unterminated quoted value"`)
	exchange(t, c, r, "ECHO a="+strings.Repeat("x", 100)+"\n", badComm+"902"+badText+` detail="line too long"`)
	exchange(t, c, r, "\n", badComm+"901"+badText+` detail="column 1: empty line"`)
	exchange(t, c, r, "ECHO a=1\n", "OK a=1")
}

func TestServeTooManyBadLines(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	c, r, wait := pipeServe(t, context.Background(), ServeOptions{MaxBadLines: 3, Log: log}, &testHandler{})
	exchange(t, c, r, "x\n", badComm+"901"+badText+` detail="column 1: verb must start with an upper-case letter, found 'x'"`)
	exchange(t, c, r, "ECHO a=1\n", "OK a=1") // resets the count
	exchange(t, c, r, "x\n", badComm+"901"+badText+` detail="column 1: verb must start with an upper-case letter, found 'x'"`)
	exchange(t, c, r, "x\n", badComm+"901"+badText+` detail="column 1: verb must start with an upper-case letter, found 'x'"`)
	exchange(t, c, r, "x\n", badComm+"907"+badText+` detail="3 bad lines in a row, closing; last: column 1: verb must start with an upper-case letter, found 'x'"`)
	expectEOF(t, r)
	if err := wait(); !errors.Is(err, ErrTooManyBadLines) {
		t.Errorf("Serve = %v, want ErrTooManyBadLines", err)
	}
	warns := 0
	for _, e := range hook.AllEntries() {
		if e.Message == "wire: bad request line" && e.Level == logrus.WarnLevel {
			warns++
		}
	}
	if warns != 4 {
		t.Errorf("logged %d bad lines, want 4", warns)
	}
}

func TestServeHandlerPanic(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	c, r, wait := pipeServe(t, context.Background(), ServeOptions{Log: log}, &testHandler{})
	exchange(t, c, r, "PANIC\n", badComm+"908"+badText+` detail="internal error"`)
	expectEOF(t, r)
	if err := wait(); !errors.Is(err, ErrHandlerPanic) {
		t.Errorf("Serve = %v, want ErrHandlerPanic", err)
	}
	e := hook.LastEntry()
	if e == nil || e.Level != logrus.ErrorLevel || e.Data["panic"] != "test panic" || !strings.Contains(e.Data["stack"].(string), "testHandler") {
		t.Errorf("last log entry %+v, want the panic with its stack", e)
	}
}

func TestServeUnwritableReply(t *testing.T) {
	log, _ := logtest.NewNullLogger()
	c, r, _ := pipeServe(t, context.Background(), ServeOptions{Log: log}, &testHandler{})
	exchange(t, c, r, "BADREPLY\n", badComm+"908"+badText+` detail="internal error"`)
	exchange(t, c, r, "ECHO\n", "OK")
}

func TestServeIdleTimeout(t *testing.T) {
	c, r, wait := pipeServe(t, context.Background(), ServeOptions{IdleTimeout: 30 * time.Millisecond, ReadTimeout: time.Hour}, &testHandler{})
	exchange(t, c, r, "ECHO\n", "OK")
	// Nothing more is sent.
	if err := wait(); !errors.Is(err, ErrIdleTimeout) {
		t.Errorf("Serve = %v, want ErrIdleTimeout", err)
	}
	expectEOF(t, r)
}

func TestServeReadTimeout(t *testing.T) {
	c, _, wait := pipeServe(t, context.Background(), ServeOptions{IdleTimeout: time.Hour, ReadTimeout: 30 * time.Millisecond}, &testHandler{})
	io.WriteString(c, "ECH") // a line starts and never ends
	err := wait()
	if !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ErrIdleTimeout) {
		t.Errorf("Serve = %v, want a read timeout", err)
	}
}

func TestServeWriteTimeout(t *testing.T) {
	c, _, wait := pipeServe(t, context.Background(), ServeOptions{WriteTimeout: 30 * time.Millisecond}, &testHandler{})
	io.WriteString(c, "ECHO\n") // the reply is never read
	if err := wait(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Serve = %v, want a write timeout", err)
	}
}

func TestServeContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, r, wait := pipeServe(t, ctx, ServeOptions{}, &testHandler{})
	exchange(t, c, r, "ECHO\n", "OK")
	cancel()
	if err := wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("Serve = %v, want context.Canceled", err)
	}
	expectEOF(t, r)
}

func TestServeContextAlreadyDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	first := New("ECHO")
	_, r, wait := pipeServe(t, ctx, ServeOptions{First: &first}, &testHandler{})
	if err := wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("Serve = %v, want context.Canceled", err)
	}
	expectEOF(t, r)
}

func TestServePeerClosesMidLine(t *testing.T) {
	c, _, wait := pipeServe(t, context.Background(), ServeOptions{}, &testHandler{})
	io.WriteString(c, "ECH")
	c.Close()
	if err := wait(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Serve = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestServeNoBadLineLimit(t *testing.T) {
	c, r, _ := pipeServe(t, context.Background(), ServeOptions{MaxBadLines: -1}, &testHandler{})
	for range 3 * DefaultMaxBadLines {
		exchange(t, c, r, "?\n", badComm+"901"+badText+` detail="column 1: verb must start with an upper-case letter, found '?'"`)
	}
	exchange(t, c, r, "ECHO\n", "OK")
}

func TestServePipelined(t *testing.T) {
	c, r, _ := pipeServe(t, context.Background(), ServeOptions{IdleTimeout: time.Hour}, &testHandler{})
	go io.WriteString(c, "ECHO a=1\nECHO a=2\nbad\nECHO a=3\n")
	exchange(t, c, r, "", "OK a=1", "OK a=2", badComm+"901"+badText+` detail="column 1: verb must start with an upper-case letter, found 'b'"`, "OK a=3")
}

// TestServeGarbageIsolated: one client's garbage, up to being disconnected,
// does not disturb another client served at the same time.
func TestServeGarbageIsolated(t *testing.T) {
	addr := testServer(t, ServeOptions{IdleTimeout: 10 * time.Second}, &testHandler{})
	good := dial(t, addr)

	bad, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()

	var wg sync.WaitGroup
	wg.Go(func() {
		br := bufio.NewReader(bad)
		for range DefaultMaxBadLines {
			if _, err := io.WriteString(bad, "\x00garbage \"\n"); err != nil {
				t.Errorf("writing garbage: %v", err)
				return
			}
			if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, badComm) {
				t.Errorf("reply to garbage: %q, %v", l, err)
				return
			}
		}
		if l, err := br.ReadString('\n'); err != io.EOF {
			t.Errorf("garbage client not disconnected: %q, %v", l, err)
		}
	})
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := range 200 {
			resp, recs, err := good.Call(ctx, New(VerbStatus, "n", "2"))
			if err != nil || len(recs) != 2 || resp.Get("records") != "2" {
				t.Errorf("good client call %d: %v %v %v", i, resp, recs, err)
				return
			}
		}
	})
	wg.Wait()
}

// TestServeReadTimeoutOnlyWithinLine: with no idle timeout, a read timeout
// does not limit the wait between requests.
func TestServeReadTimeoutOnlyWithinLine(t *testing.T) {
	const rt = 20 * time.Millisecond
	c, r, _ := pipeServe(t, context.Background(), ServeOptions{ReadTimeout: rt}, &testHandler{})
	exchange(t, c, r, "ECHO a=1\n", "OK a=1")
	<-time.After(3 * rt) // the idle gap under test
	exchange(t, c, r, "ECHO a=2\n", "OK a=2")
}

func TestServeHandlerFunc(t *testing.T) {
	h := HandlerFunc(func(req Message) (Message, []Message, bool) {
		return OK("verb", req.Verb), []Message{New(RecLink, "from", "0", "to", "1", "up", "1")}, true
	})
	c, r, wait := pipeServe(t, context.Background(), ServeOptions{}, h)
	exchange(t, c, r, "INFO\n", "OK verb=INFO records=1", "LINK from=0 to=1 up=1")
	expectEOF(t, r)
	if err := wait(); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

// TestServeBuffers: Serve keeps a small read buffer and borrows its write
// buffer per reply (docs/performance.md). Lines longer than the read
// buffer, replies with more records than fit one write buffer, and
// requests arriving a byte at a time must all come through whole.
func TestServeBuffers(t *testing.T) {
	c, r, _ := pipeServe(t, context.Background(), ServeOptions{IdleTimeout: time.Hour, ReadTimeout: time.Hour}, &testHandler{})
	long := strings.Repeat("x", 5*serveReadBuffer)
	exchange(t, c, r, "ECHO a="+long+" b=1\n", "OK a="+long+" b=1")

	n := 3 * serveBulkBuffer / 30 // well over one bulk buffer of records
	want := []string{"OK records=" + strconv.Itoa(n)}
	for i := range n {
		want = append(want, `POOL feature=f`+strconv.Itoa(i)+` vendor_string="a b"`)
	}
	exchange(t, c, r, "STATUS n="+strconv.Itoa(n)+"\n", want...)
	exchange(t, c, r, "STATUS n=3\n", "OK records=3", `POOL feature=f0 vendor_string="a b"`, `POOL feature=f1 vendor_string="a b"`, `POOL feature=f2 vendor_string="a b"`)

	go func() {
		for _, b := range []byte("ECHO a=slow\n") {
			c.Write([]byte{b})
		}
	}()
	exchange(t, c, r, "", "OK a=slow")
	exchange(t, c, r, "ECHO a=1\n", "OK a=1")
}

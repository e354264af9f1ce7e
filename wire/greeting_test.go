package wire

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestServeGreetingTimeoutSilent: a connection that never says its first
// line is closed at GreetingTimeout, however long IdleTimeout is.
func TestServeGreetingTimeoutSilent(t *testing.T) {
	start := time.Now()
	_, r, wait := pipeServe(t, context.Background(), ServeOptions{GreetingTimeout: 50 * time.Millisecond, IdleTimeout: time.Hour}, &testHandler{})
	if err := wait(); !errors.Is(err, ErrGreetingTimeout) {
		t.Errorf("Serve = %v, want ErrGreetingTimeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("cut after %v", took)
	}
	expectEOF(t, r)
}

// TestServeGreetingTimeoutTrickle: a greeting sent a little at a time, each
// piece well within ReadTimeout, is cut when the greeting's time is up.
func TestServeGreetingTimeoutTrickle(t *testing.T) {
	c, _, wait := pipeServe(t, context.Background(), ServeOptions{GreetingTimeout: 100 * time.Millisecond, IdleTimeout: time.Hour, ReadTimeout: time.Hour}, &testHandler{})
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 200; i++ { // bounded: 200 × 10 ms, far past the deadline
			if _, err := io.WriteString(c, "E"); err != nil {
				done <- err
				return
			}
			<-time.After(10 * time.Millisecond) // the trickle under test
		}
		done <- nil
	}()
	if err := wait(); !errors.Is(err, ErrGreetingTimeout) {
		t.Errorf("Serve = %v, want ErrGreetingTimeout", err)
	}
	if err := <-done; err == nil {
		t.Error("the trickle was read to its end")
	}
}

// TestServeGreetingTimeoutBadLines: bad lines are answered but do not
// stretch the time a greeting may take.
func TestServeGreetingTimeoutBadLines(t *testing.T) {
	c, r, wait := pipeServe(t, context.Background(), ServeOptions{GreetingTimeout: 100 * time.Millisecond, MaxBadLines: -1}, &testHandler{})
	var err error
	for i := 0; i < 1000 && err == nil; i++ { // bounded; the deadline ends it first
		if _, err = io.WriteString(c, "=\n"); err == nil {
			var l string
			if l, err = r.ReadLine(); err == nil && !strings.HasPrefix(l, "ERR ") {
				t.Fatalf("a bad line got %q", l)
			}
		}
		<-time.After(5 * time.Millisecond) // the pace under test
	}
	if err == nil {
		t.Fatal("bad lines kept the connection open")
	}
	if err := wait(); !errors.Is(err, ErrGreetingTimeout) {
		t.Errorf("Serve = %v, want ErrGreetingTimeout", err)
	}
}

// TestServeGreetingTimeoutOnlyTheFirstLine: once greeted, a client may be
// idle longer than GreetingTimeout (IdleTimeout governs then), and a
// connection handed over with its greeting (First) has none.
func TestServeGreetingTimeoutOnlyTheFirstLine(t *testing.T) {
	const gt = 20 * time.Millisecond
	c, r, _ := pipeServe(t, context.Background(), ServeOptions{GreetingTimeout: gt}, &testHandler{})
	exchange(t, c, r, "ECHO a=1\n", "OK a=1")
	<-time.After(5 * gt) // the idle gap under test
	exchange(t, c, r, "ECHO a=2\n", "OK a=2")

	first, _ := ParseMessage("ECHO a=0")
	c, r, _ = pipeServe(t, context.Background(), ServeOptions{GreetingTimeout: gt, First: &first}, &testHandler{})
	exchange(t, c, r, "", "OK a=0")
	<-time.After(5 * gt) // the idle gap under test
	exchange(t, c, r, "ECHO a=2\n", "OK a=2")
}

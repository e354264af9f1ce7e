package client

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lmtriad/lmtriad/licfile"
	"github.com/lmtriad/lmtriad/wire"
)

func TestHeartbeat(t *testing.T) {
	f := startFake(t, fakeConfig{})
	opts := testOptions(t, f.portAtHost())
	opts.HeartbeatInterval = 10 * time.Millisecond
	c := newClient(t, opts)
	start := time.Now()
	lic := checkout(t, c, "f", 1)
	defer lic.Checkin()
	waitFor(t, "3 heartbeats", func() bool { return f.count("HEARTBEAT") >= 3 })
	// A ticker never fires early: three beats take three intervals. This
	// catches a client that beats faster than it was told.
	if elapsed := time.Since(start); elapsed < 3*opts.HeartbeatInterval {
		t.Errorf("3 heartbeats after %v, want no sooner than %v", elapsed, 3*opts.HeartbeatInterval)
	}
	if got := f.count("HELLO"); got != 1 {
		t.Errorf("%d HELLOs, want 1: heartbeats go over the checkout's connection", got)
	}
}

func TestOneConnectionPerVendor(t *testing.T) {
	for _, noVendor := range []bool{false, true} {
		t.Run("reply without vendor="+strconv.FormatBool(noVendor), func(t *testing.T) {
			f := startFake(t, fakeConfig{NoVendor: noVendor})
			c := newClient(t, testOptions(t, f.portAtHost()))
			l1 := checkout(t, c, "f", 1)
			l2 := checkout(t, c, "f", 1)
			if got := f.count("HELLO"); got != 1 {
				t.Errorf("two checkouts made %d connections, want 1", got)
			}
			if l1.Handle() == l2.Handle() {
				t.Errorf("both checkouts have handle %d", l1.Handle())
			}
			for _, l := range []*License{l1, l2} {
				if err := l.Checkin(); err != nil {
					t.Errorf("Checkin: %v", err)
				}
			}
			if got := f.holders(); got != 0 {
				t.Errorf("server holds %d after Checkin, want 0", got)
			}
		})
	}
}

// TestRecover: when the connection is lost the license reports Lost, is
// checked out again offering its handle, and reports Regained; the server
// never holds it twice.
func TestRecover(t *testing.T) {
	tests := []struct {
		name       string
		keepOnDrop bool // the server keeps the handle across the reconnect
		restart    bool // the server goes away for a while, else it drops the connection
	}{
		{"connection dropped, server keeps the handle", true, false},
		{"connection dropped, server freed it", false, false},
		{"server restarted, keeps the handle", true, true},
		{"server restarted, freed it", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, fakeConfig{KeepOnDrop: tt.keepOnDrop})
			c := newClient(t, testOptions(t, f.portAtHost()))
			lic := checkout(t, c, "f", 1)
			old := lic.Handle()

			if tt.restart {
				f.stop()
			} else {
				f.dropConns()
			}
			// Heartbeats are an hour apart: the reader notices at once.
			if ev := nextEvent(t, lic); ev.Kind != Lost || ev.Err == nil {
				t.Fatalf("first event %v (%v), want lost with its cause", ev.Kind, ev.Err)
			}
			if tt.restart {
				if lic.Held() {
					t.Error("Held() = true while the server is down")
				}
				f.restart()
			}
			if ev := nextEvent(t, lic); ev.Kind != Regained || ev.Err != nil {
				t.Fatalf("second event %v (%v), want regained", ev.Kind, ev.Err)
			}
			if !lic.Held() {
				t.Error("Held() = false after Regained")
			}
			cos := f.requests("CHECKOUT")
			if len(cos) != 2 {
				t.Fatalf("server got %d CHECKOUTs, want 2", len(cos))
			}
			if got, want := cos[1].Get("handle"), strconv.FormatUint(old, 10); got != want {
				t.Errorf("CHECKOUT after the loss had handle=%q, want %s", got, want)
			}
			if got := cos[1].Get("secret"); got != "secret1" {
				t.Errorf("CHECKOUT after the loss had secret=%q, want the first reply's secret1", got)
			}
			if tt.keepOnDrop && lic.Handle() != old {
				t.Errorf("Handle() = %d after reattach, want %d", lic.Handle(), old)
			}
			if got := f.holders(); got != 1 {
				t.Errorf("server holds %d licenses, want 1", got)
			}
			if err := lic.Checkin(); err != nil {
				t.Errorf("Checkin: %v", err)
			}
			waitFor(t, "the checkin", func() bool { return f.holders() == 0 })
		})
	}
}

// TestRecoverDenied: a license that the server refuses on recovery (the
// feature was removed meanwhile) reports Failed and is not held.
func TestRecoverDenied(t *testing.T) {
	f := startFake(t, fakeConfig{})
	c := newClient(t, testOptions(t, f.portAtHost()))
	lic := checkout(t, c, "f", 1)
	f.reload(nil)
	f.dropConns()
	if ev := nextEvent(t, lic); ev.Kind != Lost {
		t.Fatalf("first event %v, want lost", ev.Kind)
	}
	ev := nextEvent(t, lic)
	if ev.Kind != Failed || !errors.Is(ev.Err, wire.ErrNoFeature) {
		t.Fatalf("second event %v (%v), want failed with %v", ev.Kind, ev.Err, wire.ErrNoFeature)
	}
	if lic.Held() {
		t.Error("Held() = true after Failed")
	}
	if err := lic.Checkin(); err != nil {
		t.Errorf("Checkin after Failed: %v", err)
	}
	if got := f.count("CHECKIN"); got != 0 {
		t.Errorf("%d CHECKINs for a license the server refused, want 0", got)
	}
}

func TestCheckin(t *testing.T) {
	f := startFake(t, fakeConfig{})
	c := newClient(t, testOptions(t, f.portAtHost()))
	lic := checkout(t, c, "f", 2)
	if got := f.holders(); got != 1 {
		t.Fatalf("server holds %d, want 1", got)
	}
	for i := range 2 {
		if err := lic.Checkin(); err != nil {
			t.Fatalf("Checkin #%d: %v", i+1, err)
		}
	}
	cis := f.requests("CHECKIN")
	if len(cis) != 1 {
		t.Fatalf("server got %d CHECKINs, want 1", len(cis))
	}
	if got, want := cis[0].Get("handle"), strconv.FormatUint(lic.Handle(), 10); got != want {
		t.Errorf("CHECKIN handle=%s, want %s", got, want)
	}
	if got := f.holders(); got != 0 {
		t.Errorf("server holds %d after Checkin, want 0", got)
	}
	if lic.Held() {
		t.Error("Held() = true after Checkin")
	}
	if _, ok := <-lic.Events(); ok {
		t.Error("Events not closed by Checkin")
	}
}

func TestClose(t *testing.T) {
	f := startFake(t, fakeConfig{})
	ignore := goleak.IgnoreCurrent() // the fake server's goroutines
	c, err := New(testOptions(t, f.portAtHost()))
	if err != nil {
		t.Fatal(err)
	}
	l1 := checkout(t, c, "f", 1)
	l2 := checkout(t, c, "f", 1)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	var got []string
	for _, r := range f.requests("CHECKIN") {
		got = append(got, r.Get("handle"))
	}
	want := map[string]bool{strconv.FormatUint(l1.Handle(), 10): true, strconv.FormatUint(l2.Handle(), 10): true}
	if len(got) != 2 || !want[got[0]] || !want[got[1]] || got[0] == got[1] {
		t.Errorf("CHECKIN handles %q, want %d and %d", got, l1.Handle(), l2.Handle())
	}
	if f.holders() != 0 {
		t.Errorf("server holds %d after Close, want 0", f.holders())
	}
	if err := l1.Checkin(); err != nil {
		t.Errorf("Checkin after Close: %v", err)
	}
	if _, err := c.Checkout(context.Background(), "f", "1.0", 1); err == nil {
		t.Error("Checkout after Close succeeded")
	}
	waitFor(t, "the server to see the connection closed", func() bool { return f.openConns() == 0 })
	goleak.VerifyNone(t, ignore)
}

// TestCloseWhileRecovering: Close ends a reconnect loop at once.
func TestCloseWhileRecovering(t *testing.T) {
	f := startFake(t, fakeConfig{})
	ignore := goleak.IgnoreCurrent()
	opts := testOptions(t, f.portAtHost())
	var dials atomic.Int32
	var d net.Dialer
	opts.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	lic := checkout(t, c, "f", 1)
	f.stop()
	if ev := nextEvent(t, lic); ev.Kind != Lost {
		t.Fatalf("event %v, want lost", ev.Kind)
	}
	waitFor(t, "reconnect attempts", func() bool { return dials.Load() >= 3 })
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	goleak.VerifyNone(t, ignore)
}

// TestCheckoutDeadline: a server that never answers costs the caller its
// deadline, not RequestTimeout, and the connection is abandoned.
func TestCheckoutDeadline(t *testing.T) {
	tests := []struct {
		name        string
		answerHello bool
		later       bool // another (refusing) entry follows
	}{
		{"HELLO never answered", false, false},
		{"CHECKOUT never answered", true, false},
		{"HELLO never answered, more entries", false, true},
		{"CHECKOUT never answered, more entries", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSilent(t, tt.answerHello)
			path := s.portAtHost()
			if tt.later {
				path += ":" + closedPort(t)
			}
			opts := testOptions(t, path)
			opts.RequestTimeout = time.Minute
			c := newClient(t, opts)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := c.Checkout(ctx, "f", "1.0", 1)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Checkout: got error %v, want one wrapping %v", err, context.DeadlineExceeded)
			}
			// Generous: the point is "not RequestTimeout (a minute)".
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Checkout returned after %v", elapsed)
			}
			select {
			case <-s.closed:
			case <-time.After(5 * time.Second):
				t.Fatal("the client kept the connection to the silent server")
			}
			c.mu.Lock()
			n := len(c.links)
			c.mu.Unlock()
			if n != 0 {
				t.Errorf("client keeps %d links, want 0", n)
			}
		})
	}
}

func TestFeaturesOfOneVendorShareAConnectionWithoutVendorOption(t *testing.T) {
	// Without Options.Vendor the client learns the vendor from the
	// greeting; a second feature of that vendor must reuse the connection,
	// or the first license would be checked in over the wrong one (-41).
	f := startFake(t, fakeConfig{Pools: []licfile.Pool{
		{Key: "f", Name: "f", Vendor: "demo", Version: "1.0", Count: 2},
		{Key: "g", Name: "g", Vendor: "demo", Version: "1.0", Count: 2},
	}})
	opts := testOptions(t, f.portAtHost())
	opts.Vendor = ""
	c := newClient(t, opts)
	lf := checkout(t, c, "f", 1)
	lg := checkout(t, c, "g", 1)
	for _, l := range []*License{lf, lg} {
		if err := l.Checkin(); err != nil {
			t.Errorf("Checkin %s: %v", l.Feature, err)
		}
	}
	if got := f.holders(); got != 0 {
		t.Errorf("server holds %d after both Checkins, want 0", got)
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/handoff"
	"github.com/lmtriad/lmtriad/licsign"
	"github.com/lmtriad/lmtriad/vendorctl"
	"github.com/lmtriad/lmtriad/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKey is the demo vendor key of this test binary, made once: startDaemon
// signs its license with it (signedLicense) and gives the daemon its public
// half as -vendor-keys, as lmgrd does.
var testKey = sync.OnceValues(func() (*licsign.PrivateKey, error) { return licsign.GenerateKey("demo") })

// signedLicense writes text to dir/v.lic with the lines of vendor demo
// signed with testKey, and returns its path and that of a directory with
// the public key.
func signedLicense(t *testing.T, dir, text string) (lic, keys string) {
	t.Helper()
	k, err := testKey()
	require.NoError(t, err)
	signed, _, err := licsign.SignText("v.lic", []byte(text), k)
	require.NoError(t, err)
	lic, keys = filepath.Join(dir, "v.lic"), filepath.Join(dir, "keys")
	require.NoError(t, os.WriteFile(lic, signed, 0o644))
	require.NoError(t, os.Mkdir(keys, 0o755))
	pub, err := k.Public().MarshalText()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(keys, "demo.pub"), pub, 0o644))
	return lic, keys
}

// fakeClock is the daemon's injected wall and monotonic clocks; tests move
// them forward together (Advance) or step the wall clock alone (Step).
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	mono time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Mono() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.mono += d
}

// Step moves the wall clock alone, as NTP or a resumed VM does.
func (c *fakeClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type harness struct {
	port  int
	clock *fakeClock
	log   *lockedBuffer
	ctl   *vendorctl.Channel // lmgrd's end
	// rawParent is the same end, for sending packets vendorctl would not.
	rawParent   *handoff.Channel
	licensePath string
	expireEvery time.Duration // the daemon's ExpireEvery
	done        chan error
}

// startDaemon runs a vendor daemon in-process on a direct port, with lmgrd's
// end of a handoff channel kept by the test.
func startDaemon(t *testing.T, features string, tweak func(*Options)) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	lic, keys := signedLicense(t, t.TempDir(), "SERVER 127.0.0.1 ANY 27000\nVENDOR demo\n"+features)

	h := &harness{port: port, clock: &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, log: &lockedBuffer{}, done: make(chan error, 1)}
	parent, child, err := handoff.Pair()
	require.NoError(t, err)
	h.ctl, h.rawParent, h.licensePath = vendorctl.New(parent), parent, lic
	opts := NewOptions()
	opts.Vendor, opts.LicensePath, opts.DirectPort = "demo", lic, port
	opts.VendorKeys = keys
	opts.ServerHost, opts.ServerPort = "127.0.0.1", 27000
	opts.Handoff = child
	opts.Logger = flexlog.New(h.log, "demo")
	opts.Logger.(*logrus.Logger).SetLevel(logrus.DebugLevel)
	opts.Now = h.clock.Now
	opts.Monotonic = h.clock.Mono
	opts.ExpireEvery = 5 * time.Millisecond
	opts.ReportFlushEvery = 5 * time.Millisecond
	opts.HeartbeatTimeout = time.Minute
	if tweak != nil {
		tweak(&opts)
	}
	h.expireEvery = opts.ExpireEvery
	ctx, cancel := context.WithCancel(context.Background())
	go func() { h.done <- Run(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		parent.Close()
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
			t.Error("vendor daemon did not stop")
		}
	})
	require.Eventually(t, func() bool { return strings.Contains(h.log.String(), "Listening on direct port") },
		5*time.Second, 5*time.Millisecond)
	return h
}

func (h *harness) dial(t *testing.T, user string) *wire.Conn {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", h.port))
	require.NoError(t, err)
	wc := wire.NewConn(c)
	t.Cleanup(func() { wc.Close() })
	_, _, err = wc.Call(context.Background(), wire.New("HELLO", "proto", "1", "user", user, "host", "h1", "display", "d"))
	require.NoError(t, err)
	return wc
}

func call(t *testing.T, c *wire.Conn, verb string, kv ...string) (wire.Message, []wire.Message, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Call(ctx, wire.New(verb, kv...))
}

func (h *harness) inUse(t *testing.T, feature string) string {
	t.Helper()
	c := h.dial(t, "admin")
	_, recs, err := call(t, c, "STATUS", "feature", feature)
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	return recs[0].Get("inuse")
}

func TestDirectPortCheckoutCheckin(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", nil)
	a := h.dial(t, "alice")
	resp, _, err := call(t, a, "CHECKOUT", "feature", "f")
	require.NoError(t, err)
	handle := resp.Get("handle")
	_, _, err = call(t, h.dial(t, "bob"), "CHECKOUT", "feature", "f")
	assert.ErrorIs(t, err, wire.ErrMaxUsers)
	assert.Equal(t, "1", h.inUse(t, "f"))
	_, _, err = call(t, a, "CHECKIN", "handle", handle)
	require.NoError(t, err)
	assert.Equal(t, "0", h.inUse(t, "f"))
	assert.Contains(t, h.log.String(), `(demo) OUT: "f" alice@h1`)
	assert.Contains(t, h.log.String(), `(demo) IN: "f" alice@h1`)
}

func TestSilentClientFreedAfterHeartbeatTimeout(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", nil)
	a := h.dial(t, "alice")
	_, _, err := call(t, a, "CHECKOUT", "feature", "f")
	require.NoError(t, err)

	h.clock.Advance(59 * time.Second)
	beat, _, err := call(t, a, "HEARTBEAT")
	require.NoError(t, err)
	assert.Equal(t, "1", beat.Get("held"), "the heartbeat says how many handles this connection holds")
	h.clock.Advance(59 * time.Second)
	assert.Equal(t, "1", h.inUse(t, "f"), "a heartbeat within the timeout keeps the license")

	h.clock.Advance(2 * time.Second)
	require.Eventually(t, func() bool { return h.inUse(t, "f") == "0" }, 5*time.Second, 5*time.Millisecond)
	// The IN line is written just after the pool frees the license.
	require.Eventually(t, func() bool { return strings.Contains(h.log.String(), `IN: "f" alice@h1  (INACTIVE)`) },
		5*time.Second, 5*time.Millisecond)
}

func TestWallClockStepFreesNobody(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", nil)
	a := h.dial(t, "alice")
	_, _, err := call(t, a, "CHECKOUT", "feature", "f")
	require.NoError(t, err)

	for _, step := range []time.Duration{time.Hour, -2 * time.Hour} {
		h.clock.Advance(30 * time.Second)
		_, _, err = call(t, a, "HEARTBEAT")
		require.NoError(t, err)
		h.clock.Step(step)
		time.Sleep(20 * h.expireEvery) // many expiry rounds
		assert.Equal(t, "1", h.inUse(t, "f"), "a wall-clock step of %v frees nobody", step)
	}
	assert.NotContains(t, h.log.String(), "INACTIVE")

	// Real silence past the timeout still frees, wherever the wall clock is.
	h.clock.Advance(time.Minute + time.Second)
	require.Eventually(t, func() bool { return h.inUse(t, "f") == "0" }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return strings.Contains(h.log.String(), `IN: "f" alice@h1  (INACTIVE)`) },
		5*time.Second, 5*time.Millisecond)
}

func TestClosedConnectionFreesLicenses(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 3 SIGN=0\n", nil)
	a := h.dial(t, "alice")
	_, _, err := call(t, a, "CHECKOUT", "feature", "f", "count", "2")
	require.NoError(t, err)
	assert.Equal(t, "2", h.inUse(t, "f"))
	a.Close()
	require.Eventually(t, func() bool { return h.inUse(t, "f") == "0" }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		return strings.Contains(h.log.String(), `IN: "f" alice@h1 (2 licenses)  (client exited)`)
	}, 5*time.Second, 5*time.Millisecond)
}

func TestHandedOffConnectionIsServed(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	server, err := ln.Accept()
	require.NoError(t, err)
	// lmgrd read the greeting; the daemon answers it and serves the rest.
	require.NoError(t, h.ctl.SendClient("HELLO proto=1 vendor=demo user=carol host=h2", server.(*net.TCPConn)))
	server.Close()
	wc := wire.NewConn(client)
	r := wire.NewReader(client)
	hello, err := r.ReadMessage()
	require.NoError(t, err)
	assert.True(t, wire.IsOK(hello), "greeting answered: %v", hello)
	_, _, err = call(t, wc, "CHECKOUT", "feature", "f")
	require.NoError(t, err)
	assert.Equal(t, "1", h.inUse(t, "f"))
}

func TestNoFeaturesExitsWith36(t *testing.T) {
	lic := filepath.Join(t.TempDir(), "v.lic")
	require.NoError(t, os.WriteFile(lic, []byte("VENDOR other\nFEATURE f other 1.0 permanent 1 SIGN=0\n"), 0o644))
	opts := NewOptions()
	opts.Vendor, opts.LicensePath = "demo", lic
	opts.Logger = flexlog.New(&lockedBuffer{}, "demo")
	err := Run(context.Background(), opts)
	require.Error(t, err)
	assert.Equal(t, vendorctl.ExitNoFeatures, exitCode(err))
}

func TestLmgrdGoneStopsDaemon(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", nil)
	h.ctl.Close()
	select {
	case err := <-h.done:
		assert.NoError(t, err)
		h.done <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("vendor daemon kept running after lmgrd went away")
	}
}

func TestConnectionLimitKeepsAdminReserve(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 5 SIGN=0\n", func(o *Options) {
		o.MaxConnections, o.AdminReserve = 2, 1
		o.MaxConnectionsPerHost = -1 // every client is 127.0.0.1 here
	})
	h.dial(t, "a")
	h.dial(t, "b")
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", h.port))
	require.NoError(t, err)
	third := wire.NewConn(c)
	defer third.Close()
	_, _, err = call(t, third, "HELLO", "proto", "1", "user", "c")
	assert.ErrorIs(t, err, wire.ErrServerMaxedOut, "a client over MAX_CONNECTIONS gets -106")
	assert.Contains(t, h.log.String(), "Maximum connections to the server has reached")

	require.Eventually(t, func() bool { // the refused connection is closed and uncounted
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", h.port))
		if err != nil {
			return false
		}
		admin := wire.NewConn(c)
		defer admin.Close()
		_, _, err = call(t, admin, "HELLO", "proto", "1", "role", "admin")
		return err == nil
	}, 5*time.Second, 10*time.Millisecond, "an administrator gets in through the reserve")
}

func TestConnectionBudget(t *testing.T) {
	assert.Equal(t, 1024-descriptorsKept-16, connectionBudget(1024, 16))
	assert.Equal(t, 1, connectionBudget(10, 16))
	assert.Greater(t, raiseFileLimit(), uint64(0))
}

func TestStatusIsExactUnderChurn(t *testing.T) {
	// lmstat's totals and its user lines come from one STATUS taken under
	// the pool's lock: they agree with each other even while clients check
	// out and in as fast as they can.
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 8 SIGN=0\n", nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		c := h.dial(t, fmt.Sprintf("w%d", w))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, _, err := call(t, c, "CHECKOUT", "feature", "f")
				if err != nil {
					continue
				}
				_, _, _ = call(t, c, "CHECKIN", "handle", resp.Get("handle"))
			}
		}()
	}
	admin := h.dial(t, "admin")
	for i := 0; i < 200; i++ {
		_, recs, err := call(t, admin, "STATUS", "feature", "f")
		require.NoError(t, err)
		inUse, _ := recs[0].Int("inuse")
		held := 0
		for _, r := range recs[1:] {
			if r.Verb == "HOLDER" {
				n, _ := r.Int("count")
				held += n
			}
		}
		require.Equal(t, inUse, held, "snapshot %d: total in use and user lines disagree", i)
	}
	close(stop)
	wg.Wait()
}

func TestShutdownAndRereadOnlyFromLmgrd(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", nil)
	admin := h.dial(t, "admin")
	for _, verb := range []string{"SHUTDOWN", "REREAD"} {
		_, _, err := call(t, admin, verb)
		require.ErrorIs(t, err, wire.ErrNotLicAdmin, "%s on a connection", verb)
	}
	_, _, err := call(t, admin, "CHECKOUT", "feature", "f")
	require.NoError(t, err, "the daemon is still up and serving")
	assert.NotContains(t, h.log.String(), "SERVER shutdown requested")
	assert.NotContains(t, h.log.String(), "Rereading license file")

	// From lmgrd, over the handoff channel, they work.
	require.NoError(t, h.ctl.SendReread())
	require.Eventually(t, func() bool { return strings.Contains(h.log.String(), "Rereading license file: done") },
		5*time.Second, 5*time.Millisecond)
	require.NoError(t, h.ctl.SendShutdown())
	select {
	case err := <-h.done:
		require.NoError(t, err)
		h.done <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("the daemon did not shut down on lmgrd's word")
	}
}

// The last line says why the daemon stopped: lmgrd gone is not a signal.
func TestExitLineSaysWhy(t *testing.T) {
	h := startDaemon(t, "FEATURE f demo 1.0 permanent 1 SIGN=0\n", nil)
	h.ctl.Close() // lmgrd dies
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("the daemon outlived lmgrd")
	}
	assert.Contains(t, h.log.String(), "EXITING: lmgrd has gone away")
	assert.NotContains(t, h.log.String(), "SIGNAL 15")
}

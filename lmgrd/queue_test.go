package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/client"
)

// waiter is a client waiting in the server's queue (CheckoutQueued) in a
// goroutine: handles gets each handle it is queued under, got its result.
type waiter struct {
	user    string
	c       *client.Client
	cancel  context.CancelFunc
	handles chan uint64
	got     chan queuedResult
}

type queuedResult struct {
	lic *client.License
	err error
}

func startWaiter(t *testing.T, path, user, feature string, count int) *waiter {
	t.Helper()
	w := &waiter{user: user, handles: make(chan uint64, 4), got: make(chan queuedResult, 1)}
	opts := client.NewOptions()
	opts.LicensePath = path
	opts.User, opts.Host, opts.Display = user, "ws-"+user, "/dev/pts/1"
	opts.HeartbeatInterval = 200 * time.Millisecond
	opts.OnQueued = func(_ string, handle uint64) { w.handles <- handle }
	c, err := client.New(opts)
	require.NoError(t, err)
	w.c = c
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	w.cancel = cancel
	t.Cleanup(cancel)
	go func() {
		lic, err := c.CheckoutQueued(ctx, feature, "", count)
		w.got <- queuedResult{lic, err}
	}()
	return w
}

// queued waits until w is queued and returns its handle.
func (w *waiter) queued(t *testing.T) uint64 {
	t.Helper()
	select {
	case h := <-w.handles:
		return h
	case r := <-w.got:
		t.Fatalf("%s: not queued: %v", w.user, r.err)
	case <-time.After(15 * time.Second):
		t.Fatalf("%s never queued", w.user)
	}
	return 0
}

// granted waits until w's request is granted.
func (w *waiter) granted(t *testing.T) *client.License {
	t.Helper()
	select {
	case r := <-w.got:
		require.NoError(t, r.err, w.user)
		return r.lic
	case <-time.After(15 * time.Second):
		t.Fatalf("%s never granted", w.user)
	}
	return nil
}

// notGranted checks that w is still waiting.
func (w *waiter) notGranted(t *testing.T) {
	t.Helper()
	select {
	case r := <-w.got:
		t.Fatalf("%s granted out of turn (%v)", w.user, r.err)
	case <-time.After(300 * time.Millisecond):
	}
}

// On a lone server three clients queue for the one mesher license and are
// granted in FIFO order as the holder checks in; one that goes away while
// queued is skipped; lmstat shows the queue.
func TestQueuedCheckoutsGrantedInOrder(t *testing.T) {
	port, _, p := startDemo(t)
	server := fmt.Sprintf("%d@127.0.0.1", port)
	held, err := newClient(t, port).Checkout(ctx(t), "mesher", "", 1)
	require.NoError(t, err)

	bob := startWaiter(t, server, "bob", "mesher", 1)
	hb := bob.queued(t)
	carol := startWaiter(t, server, "carol", "mesher", 1)
	hc := carol.queued(t)
	dan := startWaiter(t, server, "dan", "mesher", 1)
	hd := dan.queued(t)
	assert.Less(t, hb, hc)
	assert.Less(t, hc, hd)

	out, code := lmutil(t, nil, "lmstat", "-a", "-c", server)
	require.Equal(t, 0, code, out)
	for _, u := range []string{"bob", "carol", "dan"} {
		assert.Regexp(t, regexp.MustCompile(`(?m)^    `+u+` ws-`+u+` /dev/pts/1 2\.0 \(v2\.0\) \(127\.0\.0\.1/\d+ \d+\) queued for 1 license$`), out)
	}
	assert.Less(t, strings.Index(out, "    bob "), strings.Index(out, "    carol "), out)
	assert.Less(t, strings.Index(out, "    alice "), strings.Index(out, "    bob "), "queued after the holders: %s", out)

	// carol goes away while queued: her request is dropped.
	carol.cancel()
	require.Error(t, (<-carol.got).err)
	p.waitLog(t, `DEQUEUED: "mesher" carol@ws-carol`)

	require.NoError(t, held.Checkin())
	lb := bob.granted(t)
	assert.Equal(t, hb, lb.Handle())
	dan.notGranted(t)
	require.NoError(t, lb.Checkin())
	ld := dan.granted(t)
	assert.Equal(t, hd, ld.Handle())
	p.waitLog(t, `QUEUED: "mesher" dan@ws-dan`)
	out, _ = lmutil(t, nil, "lmstat", "-f", "mesher", "-c", server)
	assert.NotContains(t, out, "queued for", out)
	assert.Contains(t, out, "    dan ws-dan", out)
}

// `lmutil checkout -queue -- cmd` waits in the queue, says so, and runs its
// command once granted.
func TestCheckoutQueueRunsCommandOnceGranted(t *testing.T) {
	// lmutil heartbeats every 30 s: a client timeout longer than the test.
	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, t.TempDir(), "demo.lic", port, demoFeatures)
	p := startLmgrdVia(t, nil, "60s", "-c", lic)
	p.waitLog(t, "Serving features for the following vendor: demo")
	server := fmt.Sprintf("%d@127.0.0.1", port)
	held, err := newClient(t, port).Checkout(ctx(t), "mesher", "", 1)
	require.NoError(t, err)

	marker := filepath.Join(t.TempDir(), "ran")
	cmd := exec.Command(filepath.Join(binDir, "lmutil"), "checkout", "-c", server, "-queue", "mesher", "--",
		"sh", "-c", `: > "$0"`, marker)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	r := bufio.NewReader(stderr)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Regexp(t, `queued for mesher \(handle \d+\)`, line)
	p.waitLog(t, `QUEUED: "mesher"`)
	out, _ := lmutil(t, nil, "lmstat", "-f", "mesher", "-c", server)
	assert.Contains(t, out, "queued for 1 license", out)
	assert.NoFileExists(t, marker, "the command ran before its license was granted")

	require.NoError(t, held.Checkin())
	done := make(chan error, 1)
	go func() { _, _ = r.WriteTo(new(strings.Builder)); done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("lmutil checkout -queue never ran its command")
	}
	assert.FileExists(t, marker)
}

// On a triad a queued request is replicated: after the master's SIGKILL the
// client sends it again with its handle and secret to the new master, which
// keeps its place, and grants it when the holder checks in there.
func TestTriadQueuedRequestSurvivesFailover(t *testing.T) {
	tc := startTriad(t, false)
	tc.waitMaster(t, "127.0.0.1")
	holder := checkoutReady(t, triadClient(t, tc, "alice"), "solver", 3) // all of them

	bob := startWaiter(t, tc.path(), "bob", "solver", 1)
	h := bob.queued(t)
	tc.procs[0].waitLog(t, `QUEUED: "solver" bob@ws-bob`)

	tc.kill(t, 0)
	waitEvent(t, holder, client.Regained)
	tc.waitMaster(t, "127.0.0.2")
	require.Eventually(t, func() bool { return strings.Contains(tc.lmstat(t), "queued for 1 license") },
		15*time.Second, 100*time.Millisecond, "the queued request is not on the new master")
	bob.notGranted(t)
	select {
	case again := <-bob.handles:
		t.Fatalf("re-queued under handle %d, want its place kept (handle %d)", again, h)
	default:
	}

	require.NoError(t, holder.Checkin())
	lic := bob.granted(t)
	assert.Equal(t, h, lic.Handle(), "granted under its queued handle")
	assert.Equal(t, fmt.Sprintf("%d@127.0.0.2", tc.port), lic.Server())
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/flexlog"
	"github.com/lmtriad/lmtriad/wire"
)

// The open-files limit lmgrd and its vendor daemon run under in
// TestFDLimitFloodKeepsEveryHolder, the clients holding a license through
// it, and the connects that flood them at once.
const (
	fdTestLimit   = 512
	fdTestHolders = 300
	fdTestFlood   = 800
)

// TestFDLimitFloodKeepsEveryHolder drives lmgrd and its vendor daemon past
// a small open-files limit with concurrent connects. Nothing is lost: the
// daemon is not restarted and does not take lmgrd for dead, every holder
// keeps its license, the clients past the limit are answered -106 (none is
// dropped unanswered, none hangs), an administrator still gets in, and
// once the flood is gone clients check out again.
func TestFDLimitFloodKeepsEveryHolder(t *testing.T) {
	needBinaries(t)
	wrapper := limitWrapper(t, fdTestLimit)
	raiseOwnFileLimit(t, fdTestHolders+fdTestFlood+256)

	port := freePort(t, "127.0.0.1")
	lic := writeLicense(t, t.TempDir(), "demo.lic", port, "FEATURE solver demo 1.0 permanent 5000 SIGN=0\n")
	// Every client here is 127.0.0.1: no share per host.
	p := startLmgrdVia(t, wrapper, "2m", "-c", lic, "-max-connections-per-host", "-1") // a client timeout the test does not reach
	p.waitLog(t, "Serving features for the following vendor: demo")
	server := fmt.Sprintf("%d@127.0.0.1", port)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	pids := vendordPids(t, lic)
	require.Len(t, pids, 1)
	vendord := pids[0]
	for _, pid := range []int{p.cmd.Process.Pid, vendord} {
		if got := openFilesLimit(t, pid); got != fdTestLimit {
			t.Skipf("pid %d runs with an open-files limit of %d, not %d: the limit could not be imposed here", pid, got, fdTestLimit)
		}
	}
	budget, reserve := clientBudget(t, p)
	require.Less(t, fdTestHolders, budget, "the holders fit in the daemon's client limit")
	require.Less(t, budget-fdTestHolders, fdTestFlood, "the flood goes past the daemon's client limit")
	free := budget - fdTestHolders
	t.Logf("limit %d descriptors: the daemon takes %d clients (+%d admins); %d holders, %d free slots, %d connects",
		fdTestLimit, budget, reserve, fdTestHolders, free, fdTestFlood)

	// The holders check out one license each and keep their connections.
	holders := make([]*fdHolder, fdTestHolders)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, fdTestHolders)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < fdTestHolders; i = int(next.Add(1) - 1) {
				h, err := dialHolder(addr, fmt.Sprintf("holder%d", i))
				if err != nil {
					errs <- fmt.Errorf("holder %d: %w", i, err)
					return
				}
				holders[i] = h
			}
		}()
	}
	wg.Wait()
	close(errs)
	t.Cleanup(func() {
		for _, h := range holders {
			if h != nil {
				h.conn.Close()
			}
		}
	})
	for err := range errs {
		require.NoError(t, err)
	}
	requireInUse(t, server, fdTestHolders)

	// The flood: every connect at once. A client let in checks out and
	// keeps its connection until every connect has had its answer, so
	// that the daemon is full while the others come.
	var (
		admitted, refused, closed, hung atomic.Int64
		answered                        sync.WaitGroup
		flood                           sync.WaitGroup
		mu                              sync.Mutex
		closedErrs                      []string
	)
	start, release := make(chan struct{}), make(chan struct{})
	startFlood, releaseFlood := sync.OnceFunc(func() { close(start) }), sync.OnceFunc(func() { close(release) })
	floodCtx, cancelFlood := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelFlood()
	answered.Add(fdTestFlood)
	for i := 0; i < fdTestFlood; i++ {
		flood.Add(1)
		go func() {
			defer flood.Done()
			<-start
			conn, _, err := dialer(floodCtx, addr, fmt.Sprintf("flood%d", i))
			if err == nil {
				defer conn.Close()
				_, _, err = conn.Call(floodCtx, wire.New("CHECKOUT", "feature", "solver"))
			}
			switch {
			case err == nil:
				admitted.Add(1)
			case errors.Is(err, wire.ErrServerMaxedOut):
				refused.Add(1)
			case floodCtx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
				hung.Add(1)
			default:
				closed.Add(1)
				mu.Lock()
				closedErrs = append(closedErrs, err.Error())
				mu.Unlock()
			}
			answered.Done()
			select {
			case <-release:
			case <-floodCtx.Done():
			}
		}()
	}
	stopFlood := func() {
		startFlood() // should the test have stopped before the flood
		releaseFlood()
		flood.Wait()
	}
	t.Cleanup(stopFlood)

	// An administrator's lmstat, right in the flood.
	statDone := make(chan string, 1)
	startFlood()
	go func() {
		out, code := lmutilOut(floodCtx, "lmstat", "-a", "-c", server)
		statDone <- fmt.Sprintf("exit %d\n%s", code, out)
	}()
	require.True(t, waitGroupWithin(&answered, floodCtx), "connects unanswered after 20 s: %d admitted, %d refused, %d closed",
		admitted.Load(), refused.Load(), closed.Load())
	during := <-statDone
	assert.Contains(t, during, "Users of solver:", "lmstat -a during the flood:\n%s", during)
	assert.True(t, strings.HasPrefix(during, "exit 0\n"), "lmstat -a during the flood:\n%s", during)

	t.Logf("flood of %d: %d admitted, %d refused with -106, %d closed, %d hung", fdTestFlood,
		admitted.Load(), refused.Load(), closed.Load(), hung.Load())
	assert.Zero(t, hung.Load(), "every connect is answered in time")
	assert.Zero(t, closed.Load(), "no client past the limit loses its connection unanswered: %v", closedErrs)
	assert.LessOrEqual(t, admitted.Load(), int64(free), "no more clients than the limit")
	// The lmstat above may have held a client slot for a moment.
	assert.GreaterOrEqual(t, admitted.Load(), int64(free-1), "the free slots are all taken")
	assert.Equal(t, int64(fdTestFlood), admitted.Load()+refused.Load()+closed.Load()+hung.Load())

	// Full now: a client gets -106 at once, an administrator still gets in.
	_, _, err := dialer(ctx(t), addr, "late")
	assert.ErrorIs(t, err, wire.ErrServerMaxedOut, "a client over the limit")
	full := fmt.Sprintf("Total of %d licenses in use", fdTestHolders+int(admitted.Load()))
	out, code := lmutil(t, nil, "lmstat", "-a", "-c", server)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, full, "an administrator's lmstat with the daemon full")

	// The flood goes; the holders are still there and clients get in again.
	stopFlood()
	requireInUse(t, server, fdTestHolders)
	late, _, err := dialer(ctx(t), addr, "after")
	require.NoError(t, err, "a client after the flood")
	resp, _, err := late.Call(ctx(t), wire.New("CHECKOUT", "feature", "solver"))
	require.NoError(t, err)
	_, _, err = late.Call(ctx(t), wire.New("CHECKIN", "handle", resp.Get("handle")))
	require.NoError(t, err)
	late.Close()

	for i, h := range holders {
		beat, _, err := h.conn.Call(ctx(t), wire.New("HEARTBEAT"))
		require.NoError(t, err, "holder %d", i)
		require.Equal(t, "1", beat.Get("held"), "holder %d still holds its license", i)
	}
	for i, h := range holders {
		_, _, err := h.conn.Call(ctx(t), wire.New("CHECKIN", "handle", h.handle))
		require.NoError(t, err, "holder %d checks its own license in", i)
	}
	requireInUse(t, server, 0)

	// One lmgrd, one vendor daemon throughout, neither taking the
	// descriptor limit for a death.
	require.False(t, p.exited(), "lmgrd is running")
	assert.Equal(t, []int{vendord}, vendordPids(t, lic), "the same vendor daemon")
	log := p.log.String()
	for _, bad := range []string{"lmgrd has gone away", "exited with status", "Restarting demo", "Lost one message"} {
		assert.NotContains(t, log, bad, "the log says %q", bad)
	}
	t.Logf("log: %d accept failures, %d full-route-budget and %d -106 warnings",
		strings.Count(log, "Accept failed"), strings.Count(log, "new connections wait"),
		strings.Count(log, "Maximum connections to the server has reached"))
	assert.LessOrEqual(t, strings.Count(log, "Accept failed"), 5, "accept failures are logged a few times at most")
	assert.LessOrEqual(t, strings.Count(log, "Maximum connections to the server has reached"), 5,
		"the -106 warnings are a few lines, not one per client")
}

// fdHolder is a client holding one license on its own connection.
type fdHolder struct {
	conn   *wire.Conn
	handle string
}

func dialHolder(addr, user string) (*fdHolder, error) {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := dialer(c, addr, user)
	if err != nil {
		return nil, err
	}
	resp, _, err := conn.Call(c, wire.New("CHECKOUT", "feature", "solver"))
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &fdHolder{conn: conn, handle: resp.Get("handle")}, nil
}

// dialer connects and greets lmgrd as a client of vendor demo; an ERR
// greeting's *wire.Error is returned (the connection closed).
func dialer(c context.Context, addr, user string) (*wire.Conn, wire.Message, error) {
	var d net.Dialer
	return wire.Dial(c, &d, addr, wire.Hello("vendor", "demo", "user", user, "host", "fdhost", "display", "/dev/null"), 10*time.Second)
}

// requireInUse waits until lmstat -a counts n solver licenses in use.
func requireInUse(t *testing.T, server string, n int) {
	t.Helper()
	want := fmt.Sprintf("Total of %d license", n)
	var out string
	require.Eventually(t, func() bool {
		out, _ = lmutil(t, nil, "lmstat", "-f", "solver", "-c", server)
		return strings.Contains(out, want+"s in use") || strings.Contains(out, want+" in use")
	}, 15*time.Second, 100*time.Millisecond, "lmstat never counted %d in use; last:\n%s", n, &out)
}

// clientBudget reads the vendor daemon's client limit and admin reserve
// from its log.
func clientBudget(t *testing.T, p *proc) (int, int) {
	t.Helper()
	re := regexp.MustCompile(`Accepting up to (\d+) client connections \((\d+) more for administrators\)`)
	var m []string
	require.Eventually(t, func() bool { m = re.FindStringSubmatch(p.log.String()); return m != nil },
		10*time.Second, 20*time.Millisecond, "the vendor daemon never said its client limit")
	budget, _ := strconv.Atoi(m[1])
	reserve, _ := strconv.Atoi(m[2])
	return budget, reserve
}

// limitWrapper is the command line that runs lmgrd under an open-files
// limit of n, hard and soft, for it and its vendor daemons: prlimit, and
// setpriv dropping CAP_SYS_RESOURCE when this test has it (a vendor daemon
// with it would raise its hard limit).
func limitWrapper(t *testing.T, n int) []string {
	t.Helper()
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed: cannot run lmgrd under a small open-files limit")
	}
	wrapper := []string{prlimit, fmt.Sprintf("--nofile=%d:%d", n, n), "--"}
	if hasCapability(t, 24) { // CAP_SYS_RESOURCE
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Skip("this test runs with CAP_SYS_RESOURCE, which lets the vendor daemon raise its limit, and setpriv (util-linux) is not installed to drop it")
		}
		wrapper = append([]string{setpriv, "--bounding-set=-sys_resource", "--"}, wrapper...)
	}
	return wrapper
}

// hasCapability reports whether this process has capability bit in its
// effective set.
func hasCapability(t *testing.T, bit uint) bool {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			require.NoError(t, err)
			return caps&(1<<bit) != 0
		}
	}
	return false
}

// raiseOwnFileLimit lifts this test process's soft open-files limit to its
// hard one: it holds every client connection of the test.
func raiseOwnFileLimit(t *testing.T, need int) {
	t.Helper()
	var rl syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl))
	if rl.Max < uint64(need) {
		t.Skipf("the test needs %d open files; its hard limit is %d", need, rl.Max)
	}
	if rl.Cur < rl.Max {
		raised := syscall.Rlimit{Cur: rl.Max, Max: rl.Max}
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised))
	}
}

// openFilesLimit reads the soft open-files limit of process pid.
func openFilesLimit(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			require.NotEmpty(t, f)
			n, err := strconv.Atoi(f[0])
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no open-files limit for pid %d", pid)
	return 0
}

// lmutilOut is lmutil for a goroutine: no testing.T, bounded by c.
func lmutilOut(c context.Context, args ...string) (string, int) {
	cmd := exec.CommandContext(c, filepath.Join(binDir, "lmutil"), args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		return fmt.Sprintf("%s\n%v", out, err), -1
	}
	return string(out), 0
}

// waitGroupWithin waits for wg until c is done; it reports whether wg did.
func waitGroupWithin(wg *sync.WaitGroup, c context.Context) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-c.Done():
		return false
	}
}

// emfileListener fails its first accepts as a process out of descriptors
// does, then accepts for real.
type emfileListener struct {
	net.Listener
	failures atomic.Int64
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestAcceptLoopSurvivesDescriptorExhaustion: accepts failing with EMFILE
// leave the connection waiting in the backlog; lmgrd pauses briefly, says
// so once, and takes it when a descriptor is free again.
func TestAcceptLoopSurvivesDescriptorExhaustion(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := &emfileListener{Listener: tcp}
	ln.failures.Store(12)
	logs := &syncBuffer{}
	s := &server{opts: NewOptions(), log: flexlog.New(logs, "lmgrd"), ln: ln}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer s.cancel()
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); s.acceptLoop() }()

	c, err := net.Dial("tcp", tcp.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	wc := wire.NewConn(c)
	_, _, err = wc.Call(ctx(t), wire.Hello("vendor", "nosuch"))
	assert.ErrorIs(t, err, wire.ErrVendorDown, "the connection is served once accepts work again")
	assert.Negative(t, ln.failures.Load(), "every failure was retried")
	assert.Equal(t, 1, strings.Count(logs.String(), "Accept failed"), "a burst of failures is one warning:\n%s", logs.String())

	tcp.Close()
	select {
	case <-loopDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the accept loop did not end with its listener")
	}
	s.wg.Wait()
}

func TestRouteBudgetKeepsDescriptorsForLmgrd(t *testing.T) {
	assert.Equal(t, 512-descriptorsKept, routeBudget(512))
	assert.Equal(t, 20000-descriptorsKept, routeBudget(20000))
	assert.Equal(t, 8, routeBudget(16), "a tiny limit still routes")
	assert.Equal(t, 1<<20, routeBudget(1<<62), "an unlimited limit is a bounded channel")
	assert.Greater(t, fileLimit(), uint64(0))
}

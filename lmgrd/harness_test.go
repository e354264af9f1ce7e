package main

// Integration tests run the real lmgrd, vendord and lmutil binaries on
// 127.0.0.x with free ports. TestMain builds them once into a temp dir.

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lmtriad/lmtriad/licsign"
)

var binDir string

// clusterKeyFile is the cluster key the tests' triads share (-cluster-key,
// given through LMTRIAD_CLUSTER_KEY; an explicit -cluster-key wins).
var clusterKeyFile string

// The vendor key of the tests: demoKey signs every license file they write
// (writeSigned, writeLicense), and demoKeys, the directory of its public
// half, is every lmgrd's -vendor-keys (startLmgrd), so that the tests run
// on signed licenses as a real site does.
var (
	demoKey  *licsign.PrivateKey
	demoKeys string
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	flag.Parse()
	dir, err := os.MkdirTemp("", "lmtriad-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if !testing.Short() {
		cmd := exec.Command("go", "build", "-o", dir, "./lmgrd", "./vendord", "./lmutil")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building binaries: %v\n%s", err, out)
			return 1
		}
		binDir = dir
		if err := makeDemoKey(filepath.Join(dir, "keys")); err != nil {
			fmt.Fprintf(os.Stderr, "making the demo vendor key: %v\n", err)
			return 1
		}
		// The triad's cluster key for every lmgrd the tests start.
		clusterKeyFile = filepath.Join(dir, "cluster.key")
		gen := exec.Command(filepath.Join(dir, "lmutil"), "lmkeygen", "-cluster", clusterKeyFile)
		if out, err := gen.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "making a cluster key: %v\n%s", err, out)
			return 1
		}
	}
	return m.Run()
}

// makeDemoKey makes the tests' demo vendor key and writes its public half
// into dir (demoKeys).
func makeDemoKey(dir string) error {
	k, err := licsign.GenerateKey("demo")
	if err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if _, _, err := licsign.WriteKeyPair(dir, k); err != nil {
		return err
	}
	// Only the public key is where lmgrd reads keys.
	if err := os.Remove(filepath.Join(dir, "demo.key")); err != nil {
		return err
	}
	demoKey, demoKeys = k, dir
	return nil
}

// writeSigned is os.WriteFile for license files: the lines of vendor demo
// are signed with demoKey first (as lmutil lmcrypt does). A text that does
// not parse is written as it is: the tests of broken files need it so.
// Tests that edit a license file write it again through writeSigned.
func writeSigned(path string, data []byte, perm os.FileMode) error {
	return os.WriteFile(path, []byte(signedText(string(data))), perm)
}

// signedText is text with the lines of vendor demo signed with demoKey, as
// writeSigned writes it (signatures are deterministic: the same text signs
// the same); a text that does not parse is returned as it is.
func signedText(text string) string {
	if demoKey == nil {
		return text
	}
	signed, _, err := licsign.SignText("license", []byte(text), demoKey)
	if err != nil {
		return text
	}
	return string(signed)
}

func needBinaries(t *testing.T) {
	t.Helper()
	if binDir == "" {
		t.Skip("integration test: binaries are not built with -short")
	}
}

// freePort returns a TCP port that was free on every one of hosts a moment
// ago. It is taken below Linux's ephemeral range (32768-60999), so that no
// outgoing connection of another test grabs it before lmgrd binds it.
func freePort(t *testing.T, hosts ...string) int {
	t.Helper()
	for attempt := 0; attempt < 200; attempt++ {
		port := 20000 + rand.IntN(12000)
		var lns []net.Listener
		ok := true
		for _, h := range hosts {
			ln, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// vendordPids lists the vendor daemons started on license file lic.
func vendordPids(t *testing.T, lic string) []int {
	t.Helper()
	var pids []int
	for _, pid := range pidsOf(t, lic) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), "-vendor\x00") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// syncBuffer collects a process's output for assertions while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a running lmgrd started by a test; t.Cleanup stops it.
type proc struct {
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	err  error
}

// startLmgrd starts lmgrd with args, and -vendor-keys demoKeys unless args
// give -vendor-keys or -unsigned.
func startLmgrd(t *testing.T, args ...string) *proc {
	t.Helper()
	return startLmgrdVia(t, nil, "3s", args...)
}

// startLmgrdVia starts lmgrd through wrapper (a command that execs it, so
// the pid is lmgrd's; nil for none) with -client-timeout clientTimeout,
// and -vendor-keys demoKeys unless args give -vendor-keys or -unsigned.
func startLmgrdVia(t *testing.T, wrapper []string, clientTimeout string, args ...string) *proc {
	t.Helper()
	if !slices.Contains(args, "-vendor-keys") && !slices.Contains(args, "-unsigned") {
		args = append(args, "-vendor-keys", demoKeys)
	}
	return startLmgrdArgs(t, wrapper, clientTimeout, args...)
}

// startLmgrdArgs starts lmgrd with exactly args (and -z, -client-timeout
// and -state): no -vendor-keys is added.
func startLmgrdArgs(t *testing.T, wrapper []string, clientTimeout string, args ...string) *proc {
	t.Helper()
	needBinaries(t)
	p := &proc{log: &syncBuffer{}, done: make(chan struct{})}
	args = withStateDir(args)
	argv := append([]string{filepath.Join(binDir, "lmgrd"), "-z", "-client-timeout", clientTimeout}, args...)
	if len(wrapper) > 0 {
		argv = append(append([]string{}, wrapper...), argv...)
	}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.Env = append(os.Environ(), "LMTRIAD_CLUSTER_KEY="+clusterKeyFile)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("lmgrd %v log:\n%s", args, p.log.String())
		}
	})
	return p
}

// withStateDir adds -state beside the license file, one per -self, so
// that a member restarted in a test finds its own log again.
func withStateDir(args []string) []string {
	var lic, self string
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-state":
			return args
		case "-c":
			lic = args[i+1]
		case "-self":
			self = args[i+1]
		}
	}
	if lic == "" {
		return args
	}
	dir := filepath.Dir(strings.SplitN(lic, ":", 2)[0])
	return append(args, "-state", filepath.Join(dir, "state-"+self))
}

// stop sends SIGTERM and waits; the whole process group is killed if lmgrd
// does not exit in time, so no test leaves processes behind.
func (p *proc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("lmgrd did not stop on SIGTERM; killing its process group")
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitLog waits until lmgrd's log contains s.
func (p *proc) waitLog(t *testing.T, s string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(p.log.String(), s) },
		10*time.Second, 20*time.Millisecond, "lmgrd log never said %q", s) // the cleanup prints the log
}

// lmutil runs lmutil with args and returns its output and exit code.
func lmutil(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	return lmutilWith(t, "", env, "", args...)
}

// lmutilWith runs lmutil (inside namespace ns, when not empty) with extra
// environment and standard input.
func lmutilWith(t *testing.T, ns string, env []string, stdin string, args ...string) (string, int) {
	t.Helper()
	needBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	argv := append([]string{filepath.Join(binDir, "lmutil")}, args...)
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("lmutil %v: %v", args, err)
	}
	return string(out), code
}

// writeLicense writes a license file for one server on 127.0.0.1:port,
// signed (writeSigned).
func writeLicense(t *testing.T, dir, name string, port int, features string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	body := fmt.Sprintf("SERVER 127.0.0.1 ANY %d\nVENDOR demo\n%s", port, features)
	require.NoError(t, writeSigned(path, []byte(body), 0o644))
	return path
}

// writeUnsignedLicense is writeLicense without signing: for the tests of
// unsigned licenses.
func writeUnsignedLicense(t *testing.T, dir, name string, port int, features string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	body := fmt.Sprintf("SERVER 127.0.0.1 ANY %d\nVENDOR demo\n%s", port, features)
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
	return path
}

// pidsOf lists the running processes whose command line mentions marker.
func pidsOf(t *testing.T, marker string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if strings.Contains(string(stat), ") Z ") {
			continue // a zombie is dead already
		}
		if strings.Contains(string(cmdline), marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}

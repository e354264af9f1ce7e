package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lmtriad/lmtriad/clusterkey"
	"github.com/lmtriad/lmtriad/licsign"
	"github.com/lmtriad/lmtriad/wire"
)

// Feature is the feature the workload contends for.
const Feature = "chaos"

// Port is the SERVER port of the triad; the namespaces are ours, so any
// fixed port is free.
const Port = 27000

// Cluster is the three lmgrd members, each in its namespace.
type Cluster struct {
	Bin      string // holds lmgrd, vendord, lmutil
	Dir      string // one subdirectory per member: license directory, logs, state
	Net      *Network
	Licenses int

	procs [3]*exec.Cmd
	done  [3]chan struct{}
}

// LicensePath is the triad as clients name it.
func (c *Cluster) LicensePath() string {
	parts := make([]string, 3)
	for i := range parts {
		parts[i] = fmt.Sprintf("%d@%s", Port, c.Net.Addr(i))
	}
	return strings.Join(parts, ",")
}

// memberDir is member i's directory; its path is also the marker that
// finds the member's processes (lmgrd and vendord both name the license
// directory inside it on their command lines).
func (c *Cluster) memberDir(i int) string { return filepath.Join(c.Dir, "member-"+memberNames[i]) }

// LicenseDir is member i's license directory (lmgrd -c DIR): every *.lic
// in it is served, and enrolled through the triad (docs/enrolment.md).
func (c *Cluster) LicenseDir(i int) string { return filepath.Join(c.memberDir(i), "licenses") }

// LogPath is member i's lmgrd debug log.
func (c *Cluster) LogPath(i int) string { return filepath.Join(c.memberDir(i), "lmgrd.log") }

// KeyPath is the triad's cluster key, shared by the three members.
func (c *Cluster) KeyPath() string { return filepath.Join(c.Dir, "cluster.key") }

// VendorKeysDir holds the demo vendor's key pair (lmutil lmkeygen demo
// DIR): every member's -vendor-keys, and the key Sign signs with.
func (c *Cluster) VendorKeysDir() string { return filepath.Join(c.Dir, "vendor-keys") }

// Sign returns text, a license file's text, with its lines of vendor demo
// signed with the cluster's vendor key (as lmutil lmcrypt does). Signing is
// deterministic: the same text always signs the same.
func (c *Cluster) Sign(text string) (string, error) {
	k, err := licsign.LoadPrivateKey(filepath.Join(c.VendorKeysDir(), "demo.key"))
	if err != nil {
		return "", err
	}
	signed, _, err := licsign.SignText("license", []byte(text), k)
	return string(signed), err
}

// WriteLicenses writes each member's license directory its copy of the
// license file chaos.lic, signed: three SERVER lines with the members'
// addresses, hostid ANY, one port; the triad's cluster key; and the demo
// vendor's key pair.
func (c *Cluster) WriteLicenses() error {
	if _, err := os.Stat(c.KeyPath()); os.IsNotExist(err) {
		if err := clusterkey.Generate(c.KeyPath()); err != nil {
			return err
		}
	}
	if _, err := os.Stat(c.VendorKeysDir()); os.IsNotExist(err) {
		k, err := licsign.GenerateKey("demo")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(c.VendorKeysDir(), 0o755); err != nil {
			return err
		}
		if _, _, err := licsign.WriteKeyPair(c.VendorKeysDir(), k); err != nil {
			return err
		}
	}
	var b strings.Builder
	for i := range 3 {
		fmt.Fprintf(&b, "SERVER %s ANY %d\n", c.Net.Addr(i), Port)
	}
	fmt.Fprintf(&b, "VENDOR demo\nFEATURE %s demo 1.0 permanent %d SIGN=0\n", Feature, c.Licenses)
	text, err := c.Sign(b.String())
	if err != nil {
		return err
	}
	for i := range 3 {
		if err := os.MkdirAll(c.LicenseDir(i), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(c.LicenseDir(i), "chaos.lic"), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Start runs member i: ip netns exec NS lmgrd -z -c DIR -self ADDR -l +LOG.
// ip execs lmgrd in place, so the process is lmgrd itself; it gets SIGKILL
// if this process dies, and its vendord follows (Pdeathsig).
func (c *Cluster) Start(i int) error {
	cmd, done, err := c.startLmgrd(i, c.memberDir(i), c.LicenseDir(i), c.KeyPath())
	if err != nil {
		return err
	}
	c.procs[i], c.done[i] = cmd, done
	return nil
}

// startLmgrd runs an lmgrd on member i's address, in its namespace, with
// its log, stdout and state directory in dir, the license directory lics
// (inside dir) and the cluster key in key.
func (c *Cluster) startLmgrd(i int, dir, lics, key string) (*exec.Cmd, chan struct{}, error) {
	out, err := os.OpenFile(filepath.Join(dir, "stdout.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, err
	}
	defer out.Close()
	cmd := exec.Command("ip", "netns", "exec", c.Net.MemberNS(i), filepath.Join(c.Bin, "lmgrd"),
		"-z", "-c", lics, "-self", c.Net.Addr(i),
		"-l", "+"+filepath.Join(dir, "lmgrd.log"), "-client-timeout", "5s",
		"-cluster-key", key, "-state", filepath.Join(dir, "state"),
		"-vendor-keys", c.VendorKeysDir(),
		// The nemesis administers from the clients' namespace (lmenroll):
		// a remote host, which the default -remote-admin restricted refuses.
		"-remote-admin", "full")
	cmd.Env = append(os.Environ(), "LMTRIAD_VENDORD="+filepath.Join(c.Bin, "vendord"))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return cmd, done, nil
}

// StaleKeyPath is a cluster key that is not the triad's: the impostor's
// (rogue-stalekey), written on first use.
func (c *Cluster) StaleKeyPath() string { return filepath.Join(c.Dir, "stale.key") }

// Impostor is an lmgrd on a member's address with the triad's license files
// but another cluster key and a state directory of its own.
type Impostor struct {
	Dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// LogPath is the impostor's debug log.
func (im *Impostor) LogPath() string { return filepath.Join(im.Dir, "lmgrd.log") }

// StartImpostor runs an impostor of member i (which must be down) with its
// files in dir: a copy of member i's license files (dir/licenses), an
// empty state directory, the stale key.
func (c *Cluster) StartImpostor(i int, dir string) (*Impostor, error) {
	if _, err := os.Stat(c.StaleKeyPath()); errors.Is(err, os.ErrNotExist) {
		if err := clusterkey.Generate(c.StaleKeyPath()); err != nil {
			return nil, err
		}
	}
	lics := filepath.Join(dir, "licenses")
	if err := os.MkdirAll(lics, 0o755); err != nil {
		return nil, err
	}
	paths, err := filepath.Glob(filepath.Join(c.LicenseDir(i), "*.lic"))
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		lic, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(lics, filepath.Base(p)), lic, 0o644); err != nil {
			return nil, err
		}
	}
	cmd, done, err := c.startLmgrd(i, dir, lics, c.StaleKeyPath())
	if err != nil {
		return nil, err
	}
	return &Impostor{Dir: dir, cmd: cmd, done: done}, nil
}

// Stop ends the impostor: SIGTERM, so that its lmgrd and vendord flush
// their logs, then SIGKILL to whatever of it is left after 3 s.
func (im *Impostor) Stop() {
	_ = im.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-im.done:
	case <-time.After(3 * time.Second):
	}
	for _, pid := range pidsWith(im.Dir + "/") {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	select {
	case <-im.done:
	case <-time.After(5 * time.Second):
	}
}

// Rogue is an "lmchaos rogue" process in a member's namespace.
type Rogue struct {
	Out  string // its JSON lines (RogueAttempt)
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRogue runs "lmchaos rogue" in member i's namespace against the two
// other members, for at most limit, writing its attempts to out.
func (c *Cluster) StartRogue(i int, out string, limit time.Duration) (*Rogue, error) {
	var targets, servers []string
	for j := range 3 {
		addr := fmt.Sprintf("%s:%d", c.Net.Addr(j), Port)
		servers = append(servers, addr)
		if j != i {
			targets = append(targets, fmt.Sprintf("%d=%s", j, addr))
		}
	}
	f, err := os.Create(out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	errf, err := os.Create(strings.TrimSuffix(out, ".jsonl") + ".log")
	if err != nil {
		return nil, err
	}
	defer errf.Close()
	cmd := exec.Command("ip", "netns", "exec", c.Net.MemberNS(i), filepath.Join(c.Bin, "lmchaos"), "rogue",
		"-rank", strconv.Itoa(i), "-targets", strings.Join(targets, ","), "-servers", strings.Join(servers, ","),
		"-feature", Feature, "-count", strconv.Itoa(1000*max(1, c.Licenses)), "-for", limit.String())
	cmd.Stdout, cmd.Stderr = f, errf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return &Rogue{Out: out, cmd: cmd, done: done}, nil
}

// Stop ends the rogue (SIGTERM: it finishes its attempts, bounded) and
// reports how it exited.
func (r *Rogue) Stop() error {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
		return errors.New("rogue did not stop within 3s of SIGTERM")
	}
	if !r.cmd.ProcessState.Success() {
		return fmt.Errorf("rogue: %v", r.cmd.ProcessState)
	}
	return nil
}

// Probe asks member j's lmgrd for its INFO, from the clients' namespace.
func (c *Cluster) Probe(ctx context.Context, j int) Probe {
	p := Probe{Member: c.Net.Addr(j)}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", c.Net.ClientNS(), filepath.Join(c.Bin, "lmchaos"),
		"info", "-addr", fmt.Sprintf("%s:%d", c.Net.Addr(j), Port)).CombinedOutput()
	if err != nil {
		p.Err = strings.TrimSpace(err.Error() + ": " + string(out))
		return p
	}
	for _, l := range strings.Split(string(out), "\n") {
		if _, err := wire.ParseMessage(l); err == nil {
			p.Lines = append(p.Lines, l)
		}
	}
	return p
}

// Running reports whether member i's lmgrd is running.
func (c *Cluster) Running(i int) bool {
	if c.done[i] == nil {
		return false
	}
	select {
	case <-c.done[i]:
		return false
	default:
		return true
	}
}

// Kill SIGKILLs member i: its lmgrd and its vendor daemon, as a crash of
// the machine's processes would (the kernel still closes their sockets).
func (c *Cluster) Kill(i int) {
	for _, pid := range pidsWith(c.memberDir(i) + "/") {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if c.done[i] != nil {
		select {
		case <-c.done[i]:
		case <-time.After(10 * time.Second):
		}
	}
}

// KillAll SIGKILLs the three members at once, as a power cut would: every
// process of every member is found first, then all are signalled in one
// loop, so none of them outlives another by more than the loop (the
// kernel still closes their sockets, and what they wrote is in its cache).
// It returns once they are gone.
func (c *Cluster) KillAll() {
	var pids []int
	for i := range 3 {
		pids = append(pids, pidsWith(c.memberDir(i)+"/")...)
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for i := range 3 {
		c.Kill(i) // waits for member i's lmgrd; kills what was not found above
	}
}

// Stop kills every member (the end of a run).
func (c *Cluster) Stop() {
	for i := range 3 {
		c.Kill(i)
	}
	for _, pid := range pidsWith(c.Dir + "/") {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// Master asks lmstat, from the clients' namespace, which member is the
// master; -1 when none is.
func (c *Cluster) Master(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "ip", "netns", "exec", c.Net.ClientNS(),
		filepath.Join(c.Bin, "lmutil"), "lmstat", "-c", c.LicensePath()).CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if !strings.Contains(l, "(MASTER)") {
			continue
		}
		host := strings.TrimSpace(strings.SplitN(l, ":", 2)[0])
		for i := range 3 {
			if host == c.Net.Addr(i) {
				return i
			}
		}
	}
	return -1
}

// pidsWith lists running processes whose command line contains marker.
func pidsWith(marker string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(cmdline), marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}

package chaos

import (
	"context"
	"fmt"
	"github.com/lmtriad/lmtriad/clusterkey"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Feature is the feature the workload contends for.
const Feature = "chaos"

// Port is the SERVER port of the triad; the namespaces are ours, so any
// fixed port is free.
const Port = 27000

// Cluster is the three lmgrd members, each in its namespace.
type Cluster struct {
	Bin      string // holds lmgrd, vendord, lmutil
	Dir      string // one subdirectory per member: license copy, logs
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
// file inside it on their command lines).
func (c *Cluster) memberDir(i int) string { return filepath.Join(c.Dir, "member-"+memberNames[i]) }

// LogPath is member i's lmgrd debug log.
func (c *Cluster) LogPath(i int) string { return filepath.Join(c.memberDir(i), "lmgrd.log") }

// KeyPath is the triad's cluster key, shared by the three members.
func (c *Cluster) KeyPath() string { return filepath.Join(c.Dir, "cluster.key") }

// WriteLicenses writes each member its copy of the license file: three
// SERVER lines with the members' addresses, hostid ANY, one port; and the
// triad's cluster key.
func (c *Cluster) WriteLicenses() error {
	if _, err := os.Stat(c.KeyPath()); os.IsNotExist(err) {
		if err := clusterkey.Generate(c.KeyPath()); err != nil {
			return err
		}
	}
	var b strings.Builder
	for i := range 3 {
		fmt.Fprintf(&b, "SERVER %s ANY %d\n", c.Net.Addr(i), Port)
	}
	fmt.Fprintf(&b, "VENDOR demo\nFEATURE %s demo 1.0 permanent %d SIGN=0\n", Feature, c.Licenses)
	for i := range 3 {
		if err := os.MkdirAll(c.memberDir(i), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(c.memberDir(i), "chaos.lic"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Start runs member i: ip netns exec NS lmgrd -z -c FILE -self ADDR -l +LOG.
// ip execs lmgrd in place, so the process is lmgrd itself; it gets SIGKILL
// if this process dies, and its vendord follows (Pdeathsig).
func (c *Cluster) Start(i int) error {
	out, err := os.OpenFile(filepath.Join(c.memberDir(i), "stdout.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command("ip", "netns", "exec", c.Net.MemberNS(i), filepath.Join(c.Bin, "lmgrd"),
		"-z", "-c", filepath.Join(c.memberDir(i), "chaos.lic"), "-self", c.Net.Addr(i),
		"-l", "+"+c.LogPath(i), "-client-timeout", "5s",
		"-cluster-key", c.KeyPath(), "-state", filepath.Join(c.memberDir(i), "state"))
	cmd.Env = append(os.Environ(), "LMTRIAD_VENDORD="+filepath.Join(c.Bin, "vendord"))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	c.procs[i], c.done[i] = cmd, done
	return nil
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

package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The private network of one run. Everything lives in namespaces the run
// creates, so nothing touches the host's interfaces, routes or firewall:
//
//	lmc-<pid>-br   bridge br0, and one veth end per other namespace: va vb vc vcl
//	lmc-<pid>-a    eth0 10.213.N.1/24   member 0 (primary)
//	lmc-<pid>-b    eth0 10.213.N.2/24   member 1 (secondary)
//	lmc-<pid>-c    eth0 10.213.N.3/24   member 2 (tertiary)
//	lmc-<pid>-cl   eth0 10.213.N.10/24  the clients (the workload process)
//
// Faults: a member is isolated by taking its veth down on the bridge side
// (nobody reaches it, clients included); two members are cut apart by
// blackhole routes in both of their namespaces (clients still reach both).

// NamespacePrefix is the prefix of every namespace this process creates.
const NamespacePrefix = "lmc-"

var memberNames = [3]string{"a", "b", "c"}

// Network is the namespaces and links of one run.
type Network struct {
	Prefix string // lmc-<pid>
	Subnet string // 10.213.N
}

// HaveNetns reports why namespaces cannot be used here ("" if they can).
func HaveNetns() string {
	if os.Geteuid() != 0 {
		return "not root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "no ip command (iproute2)"
	}
	probe := fmt.Sprintf("%s%d-probe", NamespacePrefix, os.Getpid())
	if out, err := ipCmd("netns", "add", probe); err != nil {
		return "ip netns add failed: " + out
	}
	defer ipCmd("netns", "del", probe)
	if out, err := ipCmd("-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1"); err != nil {
		return "veth unavailable: " + out
	}
	if out, err := ipCmd("-n", probe, "link", "add", "b0", "type", "bridge"); err != nil {
		return "bridge unavailable: " + out
	}
	return ""
}

// ipCmd runs ip with args and returns its combined output.
func ipCmd(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return strings.TrimSpace(string(out)), fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// CleanupStale removes what earlier runs that died (SIGKILL, a test
// timeout) left behind: namespaces named lmc-<pid>-* whose pid is no longer
// running, and every process still inside them.
func CleanupStale(logf func(string, ...any)) {
	out, err := ipCmd("netns", "list")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], NamespacePrefix) {
			continue
		}
		name := f[0]
		rest := strings.TrimPrefix(name, NamespacePrefix)
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // that run is still going
		}
		logf("removing namespace %s left by an earlier run (pid %d)", name, pid)
		deleteNamespace(name)
	}
}

// RemoveOwn deletes whatever namespaces of this process are still there
// (a safety net after Run, which tears its network down itself).
func RemoveOwn() {
	out, err := ipCmd("netns", "list")
	if err != nil {
		return
	}
	own := fmt.Sprintf("%s%d-", NamespacePrefix, os.Getpid())
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], own) {
			deleteNamespace(f[0])
		}
	}
}

// deleteNamespace kills every process inside ns, then deletes it; its
// veths and bridge go with it.
func deleteNamespace(ns string) {
	for range 3 {
		out, err := ipCmd("netns", "pids", ns)
		if err != nil || strings.TrimSpace(out) == "" {
			break
		}
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, _ = ipCmd("netns", "del", ns)
}

// SetupNetwork creates the namespaces, bridge and veths of this process,
// with addresses in 10.213.octet.0/24.
func SetupNetwork(octet int) (n *Network, err error) {
	n = &Network{Prefix: fmt.Sprintf("%s%d", NamespacePrefix, os.Getpid()), Subnet: fmt.Sprintf("10.213.%d", octet)}
	defer func() {
		if err != nil {
			n.Teardown()
		}
	}()
	for _, s := range []string{"br", "a", "b", "c", "cl"} {
		ns := n.Prefix + "-" + s
		if _, err := ipCmd("netns", "add", ns); err != nil {
			return n, err
		}
		if _, err := ipCmd("-n", ns, "link", "set", "lo", "up"); err != nil {
			return n, err
		}
	}
	br := n.Prefix + "-br"
	cmds := [][]string{
		{"-n", br, "link", "add", "br0", "type", "bridge"},
		{"-n", br, "link", "set", "br0", "up"},
	}
	for i, s := range []string{"a", "b", "c", "cl"} {
		ns := n.Prefix + "-" + s
		host := strconv.Itoa(i + 1)
		if s == "cl" {
			host = "10"
		}
		cmds = append(cmds,
			[]string{"-n", br, "link", "add", "v" + s, "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"-n", br, "link", "set", "v" + s, "master", "br0", "up"},
			[]string{"-n", ns, "addr", "add", n.Subnet + "." + host + "/24", "dev", "eth0"},
			[]string{"-n", ns, "link", "set", "eth0", "up"},
		)
	}
	for _, c := range cmds {
		if _, err := ipCmd(c...); err != nil {
			return n, err
		}
	}
	return n, nil
}

// MemberNS is the namespace of member i (0-2).
func (n *Network) MemberNS(i int) string { return n.Prefix + "-" + memberNames[i] }

// ClientNS is the namespace of the clients.
func (n *Network) ClientNS() string { return n.Prefix + "-cl" }

// Addr is member i's address.
func (n *Network) Addr(i int) string { return fmt.Sprintf("%s.%d", n.Subnet, i+1) }

// Isolate takes member i's link to the bridge down (or up again).
func (n *Network) Isolate(i int, isolated bool) error {
	state := "up"
	if isolated {
		state = "down"
	}
	_, err := ipCmd("-n", n.Prefix+"-br", "link", "set", "v"+memberNames[i], state)
	return err
}

// Cut stops (or restores) traffic between members i and j with blackhole
// routes on both sides; the clients still reach both.
func (n *Network) Cut(i, j int, cut bool) error {
	verb := "add"
	if !cut {
		verb = "del"
	}
	for _, p := range [][2]int{{i, j}, {j, i}} {
		if _, err := ipCmd("-n", n.MemberNS(p[0]), "route", verb, "blackhole", n.Addr(p[1])+"/32"); err != nil && cut {
			return err
		}
	}
	return nil
}

// Teardown kills every process left in the namespaces and deletes them.
func (n *Network) Teardown() {
	for _, s := range []string{"cl", "a", "b", "c", "br"} {
		ns := n.Prefix + "-" + s
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			continue
		}
		deleteNamespace(ns)
	}
}
